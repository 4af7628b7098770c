//! Tenant backup and restore through the registry's API: round trip field by field, another host, damaged files, one point in time.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "test code: a failed expectation is a failed test"
)]

mod support;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use modhost_registry::{
    BackupError, ConfigHistory, DataQuota, DataUsage, DataWrite, Deployment, Implementation,
    NewImplementation, NewMilestone, Publisher, Registry, RegistryError, RollbackTarget, Tenant, TenantKind,
    TenantUpdate,
};
use serde_json::json;
use support::*;

const LOW_STOCK_FIELD: &str = "[config.fields.low_stock]\ntype = \"int\"\ndefault = 5\nmin = 0\n";

/// Everything a backup promises to bring back, read through the public API.
#[derive(Debug, PartialEq)]
struct TenantState {
    tenant: Tenant,
    deployments: Vec<Deployment>,
    configs: BTreeMap<String, ConfigHistory>,
    data: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    usage: BTreeMap<String, DataUsage>,
    implementation: Option<Implementation>,
}

/// An implementation project of `milestones` (id, due date, status).
fn project(name: &str, milestones: &[(&str, &str, &str)]) -> NewImplementation {
    NewImplementation {
        name: name.to_owned(),
        milestones: milestones
            .iter()
            .map(|(id, due_date, status)| NewMilestone {
                id: (*id).to_owned(),
                title: format!("the {id} step"),
                due_date: (*due_date).to_owned(),
                status: (*status).to_owned(),
                assignee: Some("ana".to_owned()),
                ..NewMilestone::default()
            })
            .collect(),
    }
}

fn data_of(registry: &Registry, tenant: &str, module: &str) -> BTreeMap<String, Vec<u8>> {
    let mut data = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let keys = registry
            .kv_list(tenant, module, "", after.as_deref(), 500)
            .unwrap();
        let Some(last) = keys.last().cloned() else {
            return data;
        };
        for key in keys {
            let value = registry.kv_get(tenant, module, &key).unwrap().unwrap();
            data.insert(key, value);
        }
        after = Some(last);
    }
}

fn state_of(registry: &Registry, tenant: &str) -> TenantState {
    // Snapshot ids are the host's own: a restore gives them fresh ones, so
    // only whether there is one is compared (and a rollback uses it).
    let mut deployments = registry.deployments_of(tenant).unwrap();
    for event in deployments
        .iter_mut()
        .flat_map(|deployment| deployment.history.iter_mut())
    {
        event.snapshot = event.snapshot.map(|_| 0);
        event.restored_snapshot = event.restored_snapshot.map(|_| 0);
    }
    let modules: Vec<String> = ["inventory", "grid"].map(str::to_owned).to_vec();
    TenantState {
        tenant: registry.tenant(tenant).unwrap(),
        configs: modules
            .iter()
            .map(|module| (module.clone(), registry.config(tenant, module).unwrap()))
            .collect(),
        data: modules
            .iter()
            .map(|module| (module.clone(), data_of(registry, tenant, module)))
            .collect(),
        usage: modules
            .iter()
            .map(|module| (module.clone(), registry.kv_usage(tenant, module).unwrap()))
            .collect(),
        deployments,
        implementation: registry.implementation(tenant).unwrap(),
    }
}

fn write(registry: &Registry, tenant: &str, module: &str, key: &str, value: &str) {
    registry.kv_set(tenant, module, key, value.as_bytes()).unwrap();
}

/// inventory 1.0.0 and 1.1.0 (standard), grid 1.0.0 (banban's own); banban
/// runs inventory 1.1.0 (migrated from 1.0.0, with a snapshot) and grid, with
/// config and data; acme runs inventory 1.0.0 with its own data.
fn catalogue(registry: &Registry) {
    tenant(registry, "banban", TenantKind::Custom);
    tenant(registry, "acme", TenantKind::Standard);
    publish_standard(registry);
    let owner = Publisher::Tenant("banban".into());
    publish(
        registry,
        "grid",
        "1.0.0",
        "custom",
        &[("inventory", "^1")],
        "",
        &owner,
    );
    registry
        .promote("banban", "inventory", &version("1.0.0"), OPERATOR)
        .unwrap();
    for index in 0..50 {
        write(
            registry,
            "banban",
            "inventory",
            &format!("sku-{index:03}"),
            &format!("{index} units"),
        );
    }
    let snapshot = registry.kv_snapshot("banban", "inventory").unwrap();
    write(registry, "banban", "inventory", "schema", "v2");
    registry
        .promote_migrated("banban", "inventory", &version("1.1.0"), OPERATOR, Some(snapshot))
        .unwrap();
    registry
        .set_config(
            "banban",
            "inventory",
            json!({"low_stock": 7}).as_object().unwrap().clone(),
            OPERATOR,
        )
        .unwrap();
    registry
        .promote("banban", "grid", &version("1.0.0"), OPERATOR)
        .unwrap();
    write(registry, "banban", "grid", "layout", "3x3");
    registry
        .promote("acme", "inventory", &version("1.0.0"), OPERATOR)
        .unwrap();
    write(registry, "acme", "inventory", "sku-001", "acme's own");
    let plan = TenantUpdate {
        plan: Some(Some("enterprise".to_owned())),
        monthly_value_cents: Some(Some(250_000)),
        ..TenantUpdate::default()
    };
    registry.update_tenant("banban", plan, OPERATOR).unwrap();
    let milestones = [
        ("kickoff", "2020-01-15", "done"),
        ("go-live", "2999-12-31", "in-progress"),
    ];
    registry
        .put_implementation("banban", project("BanBan onboarding", &milestones), OPERATOR)
        .unwrap();
    registry
        .put_implementation("acme", project("Acme onboarding", &milestones[..1]), OPERATOR)
        .unwrap();
}

fn publish_standard(registry: &Registry) {
    for version in ["1.0.0", "1.1.0"] {
        publish(
            registry,
            "inventory",
            version,
            "standard",
            &[],
            LOW_STOCK_FIELD,
            &operator(),
        );
    }
}

fn backup(registry: &Registry, tenant: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    registry.backup_tenant(tenant, &mut bytes).unwrap();
    bytes
}

fn restore(
    registry: &Registry,
    bytes: &[u8],
    as_id: Option<&str>,
) -> Result<modhost_registry::RestoreReport, RegistryError> {
    registry.restore_tenant(|| Ok(Cursor::new(bytes.to_vec())), as_id, OPERATOR)
}

#[test]
fn a_restore_brings_back_exactly_what_the_backup_holds() {
    let (_dir, registry) = registry();
    catalogue(&registry);
    let before = state_of(&registry, "banban");
    let acme = state_of(&registry, "acme");
    let bytes = backup(&registry, "banban");
    let manifest = modhost_registry::verify_backup(bytes.as_slice()).unwrap();
    assert_eq!(manifest.header.tenant, "banban");
    assert_eq!(manifest.counts.kv_entries, 52);
    assert_eq!(manifest.counts.module_versions, 1);
    assert_eq!(manifest.counts.snapshot_entries, 50);

    // Change data, config and active versions after the backup.
    write(&registry, "banban", "inventory", "sku-000", "changed");
    registry.kv_delete("banban", "inventory", "sku-001").unwrap();
    write(&registry, "banban", "inventory", "new-key", "added");
    registry
        .set_config(
            "banban",
            "inventory",
            json!({"low_stock": 9}).as_object().unwrap().clone(),
            OPERATOR,
        )
        .unwrap();
    registry.disable("banban", "grid", OPERATOR).unwrap();
    registry
        .rollback("banban", "inventory", &RollbackTarget::Previous, OPERATOR)
        .unwrap();
    let cleared = TenantUpdate {
        plan: Some(None),
        monthly_value_cents: Some(Some(1)),
        ..TenantUpdate::default()
    };
    registry.update_tenant("banban", cleared, OPERATOR).unwrap();
    registry.remove_implementation("banban", OPERATOR).unwrap();
    assert_ne!(state_of(&registry, "banban"), before);

    let report = restore(&registry, &bytes, None).unwrap();
    assert!(report.replaced);
    assert_eq!(report.tenant, "banban");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(state_of(&registry, "banban"), before);
    let restored = registry.tenant("banban").unwrap();
    assert_eq!(
        (restored.plan.as_deref(), restored.monthly_value_cents),
        (Some("enterprise"), Some(250_000))
    );
    let project = registry
        .implementation("banban")
        .unwrap()
        .expect("the project came back");
    assert_eq!(
        (project.name.as_str(), project.milestones.len()),
        ("BanBan onboarding", 2)
    );
    assert_eq!(state_of(&registry, "acme"), acme, "another tenant was touched");

    // The migration snapshot came back under a fresh id and still works.
    registry
        .rollback("banban", "inventory", &RollbackTarget::Previous, OPERATOR)
        .unwrap();
    let data = data_of(&registry, "banban", "inventory");
    assert_eq!(data.len(), 50, "the rollback restored the pre-migration data");
    assert!(!data.contains_key("schema"));
}

#[test]
fn a_tenant_moves_to_another_host_with_its_custom_module() {
    let (_dir, source) = registry();
    catalogue(&source);
    let before = state_of(&source, "banban");
    let bytes = backup(&source, "banban");

    // A host that lacks a standard version the tenant runs: refused, naming it, nothing changed.
    let (_other_dir, lacking) = registry();
    publish(
        &lacking,
        "inventory",
        "1.0.0",
        "standard",
        &[],
        LOW_STOCK_FIELD,
        &operator(),
    );
    let error = restore(&lacking, &bytes, None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "this host lacks standard module versions the backup's tenant runs: inventory@1.1.0; publish them here first; nothing was changed"
    );
    assert!(lacking.tenants().unwrap().is_empty());

    let (_target_dir, target) = registry();
    publish_standard(&target);
    let report = restore(&target, &bytes, None).unwrap();
    assert!(!report.replaced);
    assert_eq!(state_of(&target, "banban"), before);
    let grid = target.version("grid", &version("1.0.0"), Some("banban")).unwrap();
    assert_eq!(grid.owner.as_deref(), Some("banban"));
    assert_eq!(
        target.component(&grid).unwrap(),
        source
            .component(&source.version("grid", &version("1.0.0"), None).unwrap())
            .unwrap()
    );

    // --as a new id on the same host: refused while banban's custom module has its owner here.
    let error = restore(&source, &bytes, Some("banban-copy")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "module `grid` on this host belongs to tenant `banban`; a custom module has one owner; nothing was changed"
    );
    // --as onto an existing tenant: refused.
    let error = restore(&target, &bytes, Some("acme")).unwrap_err();
    assert!(
        matches!(error, RegistryError::Backup(BackupError::Conflict(_))),
        "{error}"
    );
    assert!(target.tenant("acme").is_err() || state_of(&target, "acme").deployments.is_empty());
}

#[test]
fn a_tenant_without_custom_modules_can_be_copied_under_another_id() {
    let (_dir, registry) = registry();
    catalogue(&registry);
    let acme = state_of(&registry, "acme");
    let bytes = backup(&registry, "acme");
    let report = restore(&registry, &bytes, Some("acme-copy")).unwrap();
    assert_eq!(
        (report.tenant.as_str(), report.from_tenant.as_str()),
        ("acme-copy", "acme")
    );
    let copy = state_of(&registry, "acme-copy");
    assert_eq!(copy.tenant.id, "acme-copy");
    assert_eq!(copy.data, acme.data);
    assert_eq!(copy.usage, acme.usage);
    assert_eq!(copy.deployments[0].tenant, "acme-copy");
    assert_eq!(copy.deployments[0].active, acme.deployments[0].active);
    let copied = copy.implementation.expect("the project was copied");
    let original = acme.implementation.clone().expect("acme's project");
    assert_eq!(copied.tenant, "acme-copy");
    assert_eq!(
        (copied.name, copied.milestones),
        (original.name, original.milestones)
    );
    assert_eq!(state_of(&registry, "acme"), acme);
    let error = restore(&registry, &bytes, Some("Not An Id")).unwrap_err();
    assert!(matches!(error, RegistryError::InvalidInput { .. }), "{error}");
}

#[test]
fn a_truncated_or_bit_flipped_file_is_refused_and_nothing_changes() {
    let (_dir, registry) = registry();
    catalogue(&registry);
    let bytes = backup(&registry, "banban");
    write(
        &registry,
        "banban",
        "inventory",
        "sku-000",
        "changed after the backup",
    );
    let current = state_of(&registry, "banban");

    let error = restore(&registry, &bytes[..bytes.len() / 2], None).unwrap_err();
    assert!(
        matches!(
            error,
            RegistryError::Backup(BackupError::Truncated | BackupError::Damaged(_))
        ),
        "{error}"
    );
    assert!(error.to_string().ends_with("nothing was changed"), "{error}");
    assert_eq!(state_of(&registry, "banban"), current);

    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    let error = restore(&registry, &flipped, None).unwrap_err();
    assert!(
        matches!(error, RegistryError::Backup(BackupError::Damaged(_))),
        "{error}"
    );
    assert_eq!(state_of(&registry, "banban"), current);

    let error = restore(&registry, b"PK\x03\x04 not a backup", None).unwrap_err();
    assert!(
        matches!(error, RegistryError::Backup(BackupError::NotABackup(_))),
        "{error}"
    );
    assert_eq!(state_of(&registry, "banban"), current);
}

/// Takes backups of acme while `write_round` runs in a loop on another
/// thread (writers keep the two keys `a-N` and `z-N` of each pair equal, one
/// call writing both), until `enough(rounds written, backups checked)`. Each
/// backup is restored on another host: no pair may be half-written (a copy
/// mixing moments would catch one), and every key is in it once. Returns
/// the rounds written.
fn back_up_while_writing(
    registry: &Registry,
    pairs: u64,
    write_round: impl Fn(&Registry, u64) + Send + 'static,
    enough: impl Fn(u64, usize) -> bool,
) -> u64 {
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let writer = {
        let (registry, stop, rounds) = (registry.clone(), stop.clone(), rounds.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                write_round(&registry, rounds.load(Ordering::Relaxed) + 1);
                rounds.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let mut checked = 0;
    while !enough(rounds.load(Ordering::Relaxed), checked) {
        let mut bytes = Vec::new();
        let summary = registry.backup_tenant("acme", &mut bytes).unwrap();
        let (_copy_dir, copy) = registry_with_standard();
        restore(&copy, &bytes, None).unwrap();
        let data = data_of(&copy, "acme", "grid");
        for pair in 0..pairs {
            let first = data.get(&format!("a-{pair:05}"));
            let second = data.get(&format!("z-{pair:05}"));
            assert_eq!(
                first, second,
                "pair {pair} was copied half-written (backup {checked})"
            );
        }
        let grid_entries = u64::try_from(data.len()).unwrap();
        let inventory_entries = u64::try_from(data_of(&copy, "acme", "inventory").len()).unwrap();
        assert_eq!(
            summary.counts.kv_entries,
            grid_entries + inventory_entries,
            "every copied key is in the backup once (backup {checked})"
        );
        checked += 1;
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    rounds.load(Ordering::Relaxed)
}

/// Sets both keys of `pair` to `generation`.
fn pair_set(pair: u64, generation: u64) -> Vec<DataWrite> {
    ["a", "z"]
        .map(|side| DataWrite::Set {
            key: format!("{side}-{pair:05}"),
            value: generation.to_string().into_bytes(),
        })
        .to_vec()
}

/// Deletes both keys of `pair`.
fn pair_delete(pair: u64) -> Vec<DataWrite> {
    ["a", "z"]
        .map(|side| DataWrite::Delete {
            key: format!("{side}-{pair:05}"),
        })
        .to_vec()
}

/// acme's grid holding `pairs` pairs, each at generation 0.
fn write_pairs(registry: &Registry, pairs: u64) {
    for pair in 0..pairs {
        registry
            .kv_apply("acme", "grid", &pair_set(pair, 0), DataQuota::UNLIMITED)
            .unwrap();
    }
}

/// Each round rewrites every 97th pair and deletes one pair: a key the scan
/// passed may change or vanish before the backup ends.
#[test]
fn a_backup_is_one_point_in_time_while_the_tenant_keeps_writing() {
    let (_dir, registry) = registry();
    catalogue(&registry);
    let pairs = 2_000;
    write_pairs(&registry, pairs);
    let rounds = back_up_while_writing(
        &registry,
        pairs,
        move |registry, generation| {
            let mut writes: Vec<DataWrite> = (0..pairs)
                .step_by(97)
                .flat_map(|pair| pair_set(pair, generation))
                .collect();
            writes.extend(pair_delete(generation % pairs));
            registry
                .kv_apply("acme", "grid", &writes, DataQuota::UNLIMITED)
                .unwrap();
        },
        |rounds, checked| rounds >= 50 && checked >= 5,
    );
    assert!(rounds >= 50, "the writer kept writing during the backups");
}

fn registry_with_standard() -> (tempfile::TempDir, Registry) {
    let (dir, registry) = registry();
    publish_standard(&registry);
    (dir, registry)
}

#[test]
fn a_second_backup_of_the_same_tenant_waits_for_none_and_an_unknown_tenant_is_refused() {
    let (_dir, registry) = registry();
    catalogue(&registry);
    let error = registry.backup_tenant("nobody", &mut Vec::new()).unwrap_err();
    assert_eq!(error.to_string(), "tenant `nobody` does not exist");
    // Sequential backups each start their own capture and leave none behind.
    let first = backup(&registry, "banban");
    let second = backup(&registry, "banban");
    let manifests = [first, second].map(|bytes| modhost_registry::verify_backup(bytes.as_slice()).unwrap());
    assert_eq!(manifests[0].counts, manifests[1].counts);
}

/// Keys deleted and created again while a backup runs: the scan may list a
/// page while a key is gone, and find it back by the time it looks at what
/// was deleted. Each is copied exactly once, with its value at the start.
#[test]
fn a_key_deleted_and_created_again_during_a_backup_is_copied_once_with_its_value_at_the_start() {
    let (_dir, registry) = registry();
    catalogue(&registry);
    let pairs: u64 = 2_000;
    write_pairs(&registry, pairs);
    // Each round deletes every pair, 25 at a time, and creates it again at once.
    back_up_while_writing(
        &registry,
        pairs,
        move |registry, round| {
            for chunk in (0..pairs).collect::<Vec<_>>().chunks(25) {
                let deletes: Vec<DataWrite> = chunk.iter().flat_map(|pair| pair_delete(*pair)).collect();
                registry
                    .kv_apply("acme", "grid", &deletes, DataQuota::UNLIMITED)
                    .unwrap();
                let sets: Vec<DataWrite> = chunk.iter().flat_map(|pair| pair_set(*pair, round)).collect();
                registry
                    .kv_apply("acme", "grid", &sets, DataQuota::UNLIMITED)
                    .unwrap();
            }
        },
        |rounds, checked| rounds >= 2 && checked >= 20,
    );
}
