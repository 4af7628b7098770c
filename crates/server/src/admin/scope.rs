//! Which tenant a listing shows: a tenant-scoped caller's own, or the one an operator asks for.

use crate::access::Principal;
use crate::error::ApiError;

/// The tenant a tenant-scoped caller is limited to, or the query's tenant for
/// operators. Asking for another tenant answers `404`, as if it did not exist.
pub(crate) fn scoped_tenant(
    principal: &Principal,
    requested: Option<String>,
) -> Result<Option<String>, ApiError> {
    match (principal.tenant(), requested) {
        (None, requested) => Ok(requested),
        (Some(own), Some(requested)) if requested != own => Err(ApiError::not_found(format!(
            "tenant `{requested}` does not exist"
        ))),
        (Some(own), _) => Ok(Some(own.to_owned())),
    }
}

/// Refuses callers that are neither operators nor tenant admins.
pub(crate) fn operator_or_tenant_admin(principal: &Principal, what: &str) -> Result<(), ApiError> {
    if principal.is_operator() || principal.token.role == modhost_registry::Role::TenantAdmin {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "only operators and tenant admins {what}"
        )))
    }
}
