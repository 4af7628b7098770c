//! The live tokens recently presented, by the SHA-256 of their secret, so a request skips the store read.
//!
//! Only tokens found live in the store are kept (a miss is never cached, so
//! random secrets cannot fill it), at most [`MAX_CACHED_TOKENS`]; when full
//! it is emptied and refills from the requests that follow. Every change to
//! the `tokens` tree (a revoke, a tenant's delete) calls [`TokenCache::invalidate`]
//! after its write is applied and before it returns, so the next request
//! reads the store. A lookup that read the store before such a change and
//! would insert after it is refused by the generation count.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::model::Token;

/// The most tokens kept.
pub const MAX_CACHED_TOKENS: usize = 10_000;

/// The SHA-256 of a presented secret.
pub(crate) type SecretHash = [u8; 32];

#[derive(Debug, Default)]
struct Entries {
    /// Bumped by every invalidation.
    generation: u64,
    tokens: HashMap<SecretHash, Token>,
}

/// Live tokens by the hash of their secret.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    entries: RwLock<Entries>,
}

impl TokenCache {
    /// The cached token for `hash`, if any.
    pub(crate) fn get(&self, hash: &SecretHash) -> Option<Token> {
        self.read().tokens.get(hash).cloned()
    }

    /// The generation to pass to [`TokenCache::insert`]: read it before reading the store.
    pub(crate) fn generation(&self) -> u64 {
        self.read().generation
    }

    /// Keeps a token found live in the store, unless an invalidation came
    /// after `generation` was read (the store read may predate it).
    pub(crate) fn insert(&self, hash: SecretHash, token: Token, generation: u64) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.generation != generation || token.revoked_at_ms.is_some() {
            return;
        }
        if entries.tokens.len() >= MAX_CACHED_TOKENS && !entries.tokens.contains_key(&hash) {
            entries.tokens.clear();
        }
        entries.tokens.insert(hash, token);
    }

    /// Forgets every token; called after any change to the `tokens` tree.
    pub(crate) fn invalidate(&self) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.generation = entries.generation.wrapping_add(1);
        entries.tokens.clear();
    }

    /// How many tokens are kept.
    pub(crate) fn len(&self) -> usize {
        self.read().tokens.len()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Role;

    fn token(id: &str) -> Token {
        Token {
            id: id.into(),
            name: id.into(),
            role: Role::Invoker,
            tenant: Some("acme".into()),
            permissions: vec!["*".into()],
            created_at_ms: 0,
            created_by: "test".into(),
            revoked_at_ms: None,
        }
    }

    fn hash(index: usize) -> SecretHash {
        let mut hash = [0_u8; 32];
        hash[..8].copy_from_slice(&(index as u64).to_le_bytes());
        hash
    }

    #[test]
    fn an_insert_after_an_invalidation_it_did_not_see_is_dropped() {
        let cache = TokenCache::default();
        let generation = cache.generation();
        cache.invalidate();
        cache.insert(hash(1), token("tok_a"), generation);
        assert_eq!(cache.get(&hash(1)), None);
        cache.insert(hash(1), token("tok_a"), cache.generation());
        assert_eq!(
            cache.get(&hash(1)).map(|token| token.id),
            Some("tok_a".to_owned())
        );
    }

    #[test]
    fn a_full_cache_is_emptied_before_it_grows_past_its_cap() {
        let cache = TokenCache::default();
        for index in 0..MAX_CACHED_TOKENS + 5 {
            cache.insert(hash(index), token("tok_a"), cache.generation());
            assert!(cache.len() <= MAX_CACHED_TOKENS);
        }
        assert_eq!(cache.len(), 5);
        let mut revoked = token("tok_b");
        revoked.revoked_at_ms = Some(1);
        cache.insert(hash(0), revoked, cache.generation());
        assert_eq!(cache.get(&hash(0)), None, "a revoked token is never kept");
    }
}
