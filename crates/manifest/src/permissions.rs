//! The one rule for whether granted permission patterns cover an endpoint's permission.
//!
//! A token grants patterns: `*` (everything), an exact permission
//! (`inventory.read`), or a module's whole namespace (`inventory.*`, which
//! covers `inventory.read` but not `inventory-x.read`). The data plane checks
//! a request's endpoint with it, and the sandbox checks a nested
//! `modules.call`'s endpoint with the same rule, so a module can never reach
//! an endpoint its caller could not have called directly.

/// Whether any of `grants` covers `permission`.
pub fn permission_granted<S: AsRef<str>>(grants: &[S], permission: &str) -> bool {
    grants.iter().any(|granted| {
        let granted = granted.as_ref();
        granted == "*"
            || granted == permission
            || granted.strip_suffix(".*").is_some_and(|prefix| {
                permission
                    .strip_prefix(prefix)
                    .is_some_and(|rest| rest.starts_with('.'))
            })
    })
}

#[cfg(test)]
mod tests {
    use super::permission_granted;

    #[test]
    fn patterns_cover_exactly_what_they_name() {
        assert!(permission_granted(&["*"], "inventory.read"));
        assert!(permission_granted(&["inventory.*"], "inventory.read"));
        assert!(!permission_granted(&["inventory.*"], "inventory-x.read"));
        assert!(permission_granted(&["inventory.read"], "inventory.read"));
        assert!(!permission_granted(&["inventory.read"], "inventory.write"));
        assert!(!permission_granted::<&str>(&[], "inventory.read"));
    }
}
