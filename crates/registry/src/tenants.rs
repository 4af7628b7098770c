//! Tenant operations: create, update, get, list.

use crate::audit::AuditDraft;
use crate::error::RegistryError;
use crate::model::{NewTenant, Tenant, TenantUpdate, check_tenant_id, now_ms};
use crate::records::encode;
use crate::registry::{Registry, RegistryEvent};
use crate::store::Tree;

/// Tenants, by id.
pub(crate) const TENANTS: Tree = Tree::new("tenants");

const MAX_NAME_CHARS: usize = 128;
const MAX_FEATURES: usize = 64;

fn check_name(name: &str) -> Result<(), RegistryError> {
    let length = name.chars().count();
    if name.trim().is_empty() || length > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(RegistryError::InvalidInput {
            field: "name".into(),
            message: format!(
                "a tenant name must be 1 to {MAX_NAME_CHARS} characters without control characters"
            ),
        });
    }
    Ok(())
}

fn check_features<'a>(features: impl IntoIterator<Item = &'a String>) -> Result<(), RegistryError> {
    let features: Vec<&String> = features.into_iter().collect();
    if features.len() > MAX_FEATURES {
        return Err(RegistryError::InvalidInput {
            field: "features".into(),
            message: format!("at most {MAX_FEATURES} feature flags"),
        });
    }
    for feature in features {
        let valid = !feature.is_empty()
            && feature.len() <= 64
            && feature
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.');
        if !valid {
            return Err(RegistryError::InvalidInput {
                field: "features".into(),
                message: format!("feature `{feature}` must be 1 to 64 of a-z, 0-9, `-`, `_`, `.`"),
            });
        }
    }
    Ok(())
}

/// Tenant ids the host keeps for itself (the runtime's self-test tenant is
/// `modhost-self-test`): no tenant with such an id can be created.
pub const RESERVED_TENANT_PREFIX: &str = "modhost-";

impl Registry {
    /// Creates a tenant.
    pub fn create_tenant(&self, new: NewTenant, actor: &str) -> Result<Tenant, RegistryError> {
        check_tenant_id(&new.id)?;
        if new.id.starts_with(RESERVED_TENANT_PREFIX) {
            return Err(RegistryError::InvalidInput {
                field: "id".into(),
                message: format!(
                    "tenant ids starting with `{RESERVED_TENANT_PREFIX}` are reserved for the host (its self-tests run as `modhost-self-test`); choose another id"
                ),
            });
        }
        check_name(&new.name)?;
        check_features(&new.features)?;
        let now = now_ms();
        let tenant = Tenant {
            id: new.id,
            name: new.name,
            kind: new.kind,
            organisation: new.organisation,
            features: new.features,
            created_at_ms: now,
            updated_at_ms: now,
            suspended: None,
        };
        let lock = self.tenant_lock(&tenant.id);
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.inner.store.get(TENANTS, tenant.id.as_bytes())?.is_some() {
            return Err(RegistryError::TenantExists(tenant.id));
        }
        let draft = AuditDraft::ok(actor, "tenant.create", tenant.id.clone(), Some(&tenant.id));
        self.commit_with_audit(TENANTS, tenant.id.as_bytes(), &encode(&tenant)?, draft)?;
        self.notify(RegistryEvent::TenantChanged {
            tenant: tenant.id.clone(),
        });
        Ok(tenant)
    }

    /// Changes a tenant's name, organisation or features.
    pub fn update_tenant(
        &self,
        id: &str,
        update: TenantUpdate,
        actor: &str,
    ) -> Result<Tenant, RegistryError> {
        let lock = self.tenant_lock(id);
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut tenant = self.tenant(id)?;
        if let Some(name) = update.name {
            check_name(&name)?;
            tenant.name = name;
        }
        if let Some(organisation) = update.organisation {
            tenant.organisation = organisation;
        }
        if let Some(features) = update.features {
            check_features(&features)?;
            tenant.features = features;
        }
        tenant.updated_at_ms = now_ms();
        let draft = AuditDraft::ok(actor, "tenant.update", id, Some(id));
        self.commit_with_audit(TENANTS, id.as_bytes(), &encode(&tenant)?, draft)?;
        self.notify(RegistryEvent::TenantChanged {
            tenant: id.to_owned(),
        });
        Ok(tenant)
    }

    /// One tenant.
    pub fn tenant(&self, id: &str) -> Result<Tenant, RegistryError> {
        self.record(TENANTS, id.as_bytes())?
            .ok_or_else(|| RegistryError::TenantNotFound(id.to_owned()))
    }

    /// Every tenant, by id.
    pub fn tenants(&self) -> Result<Vec<Tenant>, RegistryError> {
        self.records(TENANTS, &[])
    }
}
