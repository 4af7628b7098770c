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

/// The most a tenant's monthly value may be, in cents (a billion in the currency's unit).
pub const MAX_MONTHLY_VALUE_CENTS: u64 = 100_000_000_000;

/// Checks a plan label: kebab-case, 1 to 64 bytes.
fn check_plan(plan: Option<&str>) -> Result<(), RegistryError> {
    let Some(plan) = plan else { return Ok(()) };
    let valid = !plan.is_empty()
        && plan.len() <= 64
        && plan
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && plan.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && !plan.ends_with('-')
        && !plan.contains("--");
    if !valid {
        return Err(RegistryError::InvalidInput {
            field: "plan".into(),
            message: format!(
                "plan `{}` must be kebab-case: 1 to 64 bytes of a-z, 0-9 and single dashes, not starting or ending with a dash, e.g. `growth`; send null to clear it",
                plan.chars().take(64).collect::<String>()
            ),
        });
    }
    Ok(())
}

/// Checks a monthly value: at most [`MAX_MONTHLY_VALUE_CENTS`].
fn check_monthly_value(cents: Option<u64>) -> Result<(), RegistryError> {
    match cents {
        Some(cents) if cents > MAX_MONTHLY_VALUE_CENTS => Err(RegistryError::InvalidInput {
            field: "monthly_value_cents".into(),
            message: format!(
                "{cents} is more than {MAX_MONTHLY_VALUE_CENTS} cents; give the value per month in cents, or null to clear it"
            ),
        }),
        _ => Ok(()),
    }
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
        check_plan(new.plan.as_deref())?;
        check_monthly_value(new.monthly_value_cents)?;
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
            plan: new.plan,
            monthly_value_cents: new.monthly_value_cents,
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

    /// Changes a tenant's name, organisation, features, plan or monthly
    /// value. Every field given is checked before any is changed.
    pub fn update_tenant(
        &self,
        id: &str,
        update: TenantUpdate,
        actor: &str,
    ) -> Result<Tenant, RegistryError> {
        let lock = self.tenant_lock(id);
        let _guard = lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut tenant = self.tenant(id)?;
        if let Some(name) = &update.name {
            check_name(name)?;
        }
        if let Some(features) = &update.features {
            check_features(features)?;
        }
        if let Some(plan) = &update.plan {
            check_plan(plan.as_deref())?;
        }
        if let Some(cents) = update.monthly_value_cents {
            check_monthly_value(cents)?;
        }
        if let Some(name) = update.name {
            tenant.name = name;
        }
        if let Some(organisation) = update.organisation {
            tenant.organisation = organisation;
        }
        if let Some(features) = update.features {
            tenant.features = features;
        }
        if let Some(plan) = update.plan {
            tenant.plan = plan;
        }
        if let Some(cents) = update.monthly_value_cents {
            tenant.monthly_value_cents = cents;
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
