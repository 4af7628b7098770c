//! API tokens: random, prefixed, shown once, stored only as SHA-256, revocable.
//!
//! A token is `mh_` followed by 32 random bytes in hex. The registry keeps
//! its SHA-256 (the key of the `tokens` tree) and metadata; the secret itself
//! is returned once by [`Registry::create_token`] and never stored or logged.
//! Looking a token up hashes the presented secret and reads that key, then
//! compares hashes in constant time.

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::audit::AuditDraft;
use crate::error::RegistryError;
use crate::model::{Role, Token, check_tenant_id, now_ms};
use crate::records::encode;
use crate::registry::Registry;
use crate::store::Tree;
use crate::token_cache::SecretHash;

/// Token metadata, by the SHA-256 of the secret.
pub(crate) const TOKENS: Tree = Tree::new("tokens");

/// The prefix of every token.
pub const TOKEN_PREFIX: &str = "mh_";

/// What creating a token takes.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// A human name.
    pub name: String,
    /// The role.
    pub role: Role,
    /// The tenant (required for every role but operator, forbidden for operator).
    #[serde(default)]
    pub tenant: Option<String>,
    /// Data-plane permissions; default `["*"]`.
    #[serde(default)]
    pub permissions: Option<Vec<String>>,
}

fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn random_hex(bytes: usize) -> Result<String, RegistryError> {
    let mut buffer = vec![0_u8; bytes];
    getrandom::fill(&mut buffer)
        .map_err(|error| RegistryError::Storage(format!("no randomness available: {error}")))?;
    Ok(hex::encode(buffer))
}

fn check_permission_pattern(pattern: &str) -> bool {
    pattern == "*"
        || pattern
            .strip_suffix(".*")
            .unwrap_or(pattern)
            .split('.')
            .all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            })
}

impl Registry {
    /// Creates a token; the returned secret is shown once and never stored.
    pub fn create_token(&self, new: NewToken, actor: &str) -> Result<(Token, String), RegistryError> {
        let invalid = |field: &str, message: &str| RegistryError::InvalidInput {
            field: field.into(),
            message: message.into(),
        };
        if new.name.trim().is_empty()
            || new.name.chars().count() > 64
            || new.name.chars().any(char::is_control)
        {
            return Err(invalid(
                "name",
                "a token name must be 1 to 64 characters without control characters",
            ));
        }
        match (&new.role, &new.tenant) {
            (Role::Operator, Some(_)) => {
                return Err(invalid(
                    "tenant",
                    "an operator token is not scoped to a tenant; leave tenant out",
                ));
            }
            (Role::Operator, None) => {}
            (_, None) => return Err(invalid("tenant", "this role is scoped to one tenant; name it")),
            (_, Some(tenant)) => {
                check_tenant_id(tenant)?;
                self.tenant(tenant)?;
            }
        }
        let permissions = new.permissions.unwrap_or_else(|| vec!["*".to_owned()]);
        if let Some(bad) = permissions
            .iter()
            .find(|pattern| !check_permission_pattern(pattern))
        {
            return Err(invalid(
                "permissions",
                &format!("`{bad}` is not a permission (`*`, `module.*` or `module.action`)"),
            ));
        }
        let secret = format!("{TOKEN_PREFIX}{}", random_hex(32)?);
        let token = Token {
            id: format!("tok_{}", random_hex(8)?),
            name: new.name,
            role: new.role,
            tenant: new.tenant,
            permissions,
            created_at_ms: now_ms(),
            created_by: actor.to_owned(),
            revoked_at_ms: None,
        };
        let draft = AuditDraft::ok(
            actor,
            "token.create",
            format!("{} ({})", token.id, token.role.name()),
            token.tenant.as_deref(),
        );
        self.commit_with_audit(TOKENS, &hash(&secret), &encode(&token)?, draft)?;
        Ok((token, secret))
    }

    /// The live token whose secret is `secret`, if any.
    ///
    /// A live token found in the store is kept in the token cache
    /// (`token_cache.rs`), so the next request with it reads no store; a
    /// miss or a revoked token is never kept. A revoke or a tenant's delete
    /// empties the cache before it returns.
    pub fn authenticate(&self, secret: &str) -> Result<Option<Token>, RegistryError> {
        if !secret.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let presented: SecretHash = Sha256::digest(secret.as_bytes()).into();
        if let Some(token) = self.inner.tokens.get(&presented) {
            return Ok(Some(token));
        }
        // Read before the store, so an invalidation in between refuses the insert.
        let generation = self.inner.tokens.generation();
        let Some(token) = self.record::<Token>(TOKENS, &presented)? else {
            return Ok(None);
        };
        let stored_key = presented;
        if !constant_time_eq(&stored_key, &presented) || token.revoked_at_ms.is_some() {
            return Ok(None);
        }
        self.inner.tokens.insert(presented, token.clone(), generation);
        Ok(Some(token))
    }

    /// How many live tokens the token cache holds (for tests of its bound).
    pub fn cached_tokens(&self) -> usize {
        self.inner.tokens.len()
    }

    /// Every token (optionally of one tenant), without secrets.
    pub fn tokens(&self, tenant: Option<&str>) -> Result<Vec<Token>, RegistryError> {
        let mut tokens = Vec::new();
        for token in self.records::<Token>(TOKENS, &[])? {
            if tenant.is_none_or(|tenant| token.tenant.as_deref() == Some(tenant)) {
                tokens.push(token);
            }
        }
        tokens.sort_by(|a, b| {
            a.created_at_ms
                .cmp(&b.created_at_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(tokens)
    }

    /// Revokes the token with public id `id`.
    pub fn revoke_token(&self, id: &str, actor: &str) -> Result<Token, RegistryError> {
        for entry in self.inner.store.scan_prefix(TOKENS, &[])? {
            let (key, bytes) = entry?;
            let mut token: Token = crate::records::decode(&bytes)?;
            if token.id != id {
                continue;
            }
            if token.revoked_at_ms.is_none() {
                token.revoked_at_ms = Some(now_ms());
                let draft = AuditDraft::ok(actor, "token.revoke", id, token.tenant.as_deref());
                let committed = self.commit_with_audit(TOKENS, &key, &encode(&token)?, draft);
                // Even when the flush failed: the write may be applied.
                self.inner.tokens.invalidate();
                committed?;
            }
            return Ok(token);
        }
        Err(RegistryError::InvalidInput {
            field: "id".into(),
            message: format!("no token has id `{id}`"),
        })
    }

    /// The token with public id `id`.
    pub fn token(&self, id: &str) -> Result<Option<Token>, RegistryError> {
        Ok(self.tokens(None)?.into_iter().find(|token| token.id == id))
    }

    /// Whether any operator token exists (the server creates the first one).
    pub fn has_operator_token(&self) -> Result<bool, RegistryError> {
        Ok(self
            .tokens(None)?
            .iter()
            .any(|token| token.role == Role::Operator && token.revoked_at_ms.is_none()))
    }

    /// Stores a given operator secret (from `MODHOST_ADMIN_TOKEN`) if it is not stored yet.
    pub fn ensure_operator_secret(&self, secret: &str, actor: &str) -> Result<Token, RegistryError> {
        if let Some(token) = self.authenticate(secret)? {
            return Ok(token);
        }
        if !secret.starts_with(TOKEN_PREFIX) || secret.len() < TOKEN_PREFIX.len() + 32 {
            return Err(RegistryError::InvalidInput {
                field: "MODHOST_ADMIN_TOKEN".into(),
                message: format!(
                    "an operator token must start with `{TOKEN_PREFIX}` and have at least 32 more characters"
                ),
            });
        }
        let existing: Option<Token> = self.record(TOKENS, &hash(secret))?;
        if existing.is_some() {
            return Err(RegistryError::InvalidInput {
                field: "MODHOST_ADMIN_TOKEN".into(),
                message: "this token was revoked".into(),
            });
        }
        let token = Token {
            id: format!("tok_{}", random_hex(8)?),
            name: "admin (from MODHOST_ADMIN_TOKEN)".into(),
            role: Role::Operator,
            tenant: None,
            permissions: vec!["*".into()],
            created_at_ms: now_ms(),
            created_by: actor.to_owned(),
            revoked_at_ms: None,
        };
        let draft = AuditDraft::ok(actor, "token.create", format!("{} (operator)", token.id), None);
        self.commit_with_audit(TOKENS, &hash(secret), &encode(&token)?, draft)?;
        Ok(token)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .fold(0_u8, |difference, (x, y)| difference | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(permissions: &[&str]) -> Token {
        Token {
            id: "tok_x".into(),
            name: "x".into(),
            role: Role::Invoker,
            tenant: Some("acme".into()),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            created_at_ms: 0,
            created_by: "test".into(),
            revoked_at_ms: None,
        }
    }

    #[test]
    fn permission_patterns_match_whole_segments() {
        assert!(token(&["*"]).grants_permission("inventory.read"));
        assert!(token(&["inventory.*"]).grants_permission("inventory.read"));
        assert!(!token(&["inventory.*"]).grants_permission("inventory-x.read"));
        assert!(token(&["inventory.read"]).grants_permission("inventory.read"));
        assert!(!token(&["inventory.read"]).grants_permission("inventory.write"));
        assert!(!token(&[]).grants_permission("inventory.read"));
        assert!(
            check_permission_pattern("inventory.*")
                && !check_permission_pattern("Inventory")
                && !check_permission_pattern("a..b")
        );
    }
}
