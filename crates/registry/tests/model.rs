//! Property test: random promote/rollback/disable sequences against an in-memory model of the rules.
//!
//! The model restates the deployment rules in the simplest possible code;
//! every case runs a random sequence of operations on a fresh tenant of one
//! real registry (the real on-disk store, real flushes) and on the model, and compares
//! each operation's outcome and the resulting state.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use modhost_registry::{DeploymentAction, Registry, RegistryError, RollbackTarget, TenantKind};
use proptest::prelude::*;
use semver::{Version, VersionReq};
use support::*;

/// (module, version) → dependencies, as published in the shared catalogue.
fn catalogue() -> BTreeMap<(&'static str, &'static str), Vec<(&'static str, &'static str)>> {
    BTreeMap::from([
        (("inventory", "1.0.0"), vec![]),
        (("inventory", "1.1.0"), vec![]),
        (("inventory", "2.0.0"), vec![]),
        (("grid", "1.0.0"), vec![("inventory", "^1")]),
        (("grid", "2.0.0"), vec![("inventory", "^2")]),
        (("report", "1.0.0"), vec![("grid", ">=1.0.0"), ("inventory", "*")]),
    ])
}

const MODULES: [&str; 3] = ["inventory", "grid", "report"];

fn shared_registry() -> &'static Registry {
    static REGISTRY: OnceLock<(tempfile::TempDir, Registry)> = OnceLock::new();
    &REGISTRY
        .get_or_init(|| {
            let (dir, registry) = registry();
            for ((module, version), dependencies) in catalogue() {
                publish(
                    &registry,
                    module,
                    version,
                    "standard",
                    &dependencies,
                    "",
                    &operator(),
                );
            }
            (dir, registry)
        })
        .1
}

#[derive(Debug, Clone)]
enum Operation {
    Promote(&'static str, &'static str),
    RollbackPrevious(&'static str),
    RollbackTo(&'static str, &'static str),
    Disable(&'static str),
}

fn operation() -> impl Strategy<Value = Operation> {
    let versions: Vec<(&str, &str)> = catalogue().keys().copied().collect();
    let module = proptest::sample::select(MODULES.to_vec());
    let version = proptest::sample::select(versions);
    prop_oneof![
        3 => version.clone().prop_map(|(module, version)| Operation::Promote(module, version)),
        2 => module.clone().prop_map(Operation::RollbackPrevious),
        1 => version.prop_map(|(module, version)| Operation::RollbackTo(module, version)),
        1 => module.prop_map(Operation::Disable),
    ]
}

/// What an operation did, comparable between model and registry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Moved,
    Unchanged,
    NotEnabled,
    NothingToRollBack,
    NeverActive,
    Blocked,
}

#[derive(Debug, Clone, Default)]
struct ModelDeployment {
    active: Option<Version>,
    history: Vec<(DeploymentAction, Option<Version>, Option<Version>)>,
}

#[derive(Debug, Default)]
struct Model {
    deployments: BTreeMap<&'static str, ModelDeployment>,
}

impl Model {
    fn blocked(&self, module: &str, target: Option<&Version>) -> bool {
        let catalogue = catalogue();
        let active_of = |name: &str| self.deployments.get(name).and_then(|d| d.active.clone());
        if let Some(target) = target {
            let target_text = target.to_string();
            let dependencies = &catalogue[&(module, target_text.as_str())];
            for (dependency, requirement) in dependencies {
                let requirement: VersionReq = requirement.parse().unwrap();
                if !active_of(dependency).is_some_and(|version| requirement.matches(&version)) {
                    return true;
                }
            }
        }
        for (other, deployment) in &self.deployments {
            let Some(other_version) = &deployment.active else {
                continue;
            };
            if *other == module {
                continue;
            }
            let other_text = other_version.to_string();
            for (dependency, requirement) in &catalogue[&(*other, other_text.as_str())] {
                let requirement: VersionReq = requirement.parse().unwrap();
                if *dependency == module && !target.is_some_and(|target| requirement.matches(target)) {
                    return true;
                }
            }
        }
        false
    }

    fn move_to(&mut self, module: &'static str, to: Option<Version>, action: DeploymentAction) -> Outcome {
        let deployment = self.deployments.get(module).cloned().unwrap_or_default();
        if to.is_none() && deployment.active.is_none() {
            return Outcome::NotEnabled;
        }
        if deployment.active == to {
            return Outcome::Unchanged;
        }
        if self.blocked(module, to.as_ref()) {
            return Outcome::Blocked;
        }
        let entry = self.deployments.entry(module).or_default();
        entry.history.push((action, entry.active.clone(), to.clone()));
        entry.active = to;
        Outcome::Moved
    }

    fn apply(&mut self, operation: &Operation) -> Outcome {
        let history = |model: &Self, module: &str| {
            model
                .deployments
                .get(module)
                .map(|d| d.history.clone())
                .unwrap_or_default()
        };
        match operation {
            Operation::Promote(module, version) => {
                self.move_to(module, Some(version.parse().unwrap()), DeploymentAction::Promote)
            }
            Operation::RollbackPrevious(module) => {
                let history = history(self, module);
                let Some((_, from, _)) = history.last() else {
                    return Outcome::NotEnabled;
                };
                match from.clone() {
                    None => Outcome::NothingToRollBack,
                    Some(previous) => self.move_to(module, Some(previous), DeploymentAction::Rollback),
                }
            }
            Operation::RollbackTo(module, version) => {
                let history = history(self, module);
                let version: Version = version.parse().unwrap();
                if history.is_empty() {
                    return Outcome::NotEnabled;
                }
                if !history.iter().any(|(_, _, to)| to.as_ref() == Some(&version)) {
                    return Outcome::NeverActive;
                }
                self.move_to(module, Some(version), DeploymentAction::Rollback)
            }
            Operation::Disable(module) => self.move_to(module, None, DeploymentAction::Disable),
        }
    }
}

fn run(registry: &Registry, tenant: &str, operation: &Operation) -> Outcome {
    let result = match operation {
        Operation::Promote(module, version) => {
            registry.promote(tenant, module, &version.parse().unwrap(), OPERATOR)
        }
        Operation::RollbackPrevious(module) => {
            registry.rollback(tenant, module, &RollbackTarget::Previous, OPERATOR)
        }
        Operation::RollbackTo(module, version) => registry.rollback(
            tenant,
            module,
            &RollbackTarget::To(version.parse().unwrap()),
            OPERATOR,
        ),
        Operation::Disable(module) => registry.disable(tenant, module, OPERATOR),
    };
    match result {
        Ok(change) if change.event.is_some() => Outcome::Moved,
        Ok(_) => Outcome::Unchanged,
        Err(RegistryError::NotEnabled { .. }) => Outcome::NotEnabled,
        Err(RegistryError::NothingToRollBack { .. }) => Outcome::NothingToRollBack,
        Err(RegistryError::NeverActive { .. }) => Outcome::NeverActive,
        Err(RegistryError::DeploymentBlocked { .. }) => Outcome::Blocked,
        Err(other) => panic!("unexpected error for {operation:?}: {other}"),
    }
}

fn next_tenant() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("tenant-{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn deployments_follow_the_model(operations in proptest::collection::vec(operation(), 1..10)) {
        let registry = shared_registry();
        let tenant = next_tenant();
        support::tenant(registry, &tenant, TenantKind::Standard);
        let mut model = Model::default();
        for operation in &operations {
            let expected = model.apply(operation);
            let actual = run(registry, &tenant, operation);
            prop_assert_eq!(&actual, &expected, "after {:?}", operation);
            for module in MODULES {
                let stored = registry.deployment(&tenant, module).expect("deployment");
                let modelled = model.deployments.get(module).cloned().unwrap_or_default();
                prop_assert_eq!(&stored.active, &modelled.active, "active {} after {:?}", module, operation);
                let history: Vec<_> = stored.history.iter().map(|e| (e.action, e.from.clone(), e.to.clone())).collect();
                prop_assert_eq!(history, modelled.history, "history of {}", module);
            }
        }
    }
}
