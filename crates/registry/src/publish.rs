//! Publishing module versions: every upload check, then an immutable, durable record.
//!
//! Checks (all run; every failure is reported together, nothing is stored
//! unless all pass): size cap; manifest valid; `component.sha256` present and
//! matching the bytes; the bytes are a valid component; it exports the world at
//! a `modhost:module` version this host implements and the manifest's `api`
//! accepts; it imports only what the host provides and the manifest grants;
//! ownership (standard modules by operators; a custom module belongs to
//! exactly one custom tenant, and a module id keeps its kind and owner across
//! versions); the version is new — the same id@version with the same bytes
//! and manifest again is an idempotent success, with anything different a
//! conflict.

use modhost_manifest::{Manifest, ModuleKind};

use crate::audit::AuditDraft;
use crate::blobs::sha256_hex;
use crate::component::{check_against_manifest, inspect};
use crate::error::RegistryError;
use crate::error::UploadProblem;
use crate::model::{ModuleVersion, TenantKind, now_ms};
use crate::records::encode;
use crate::registry::{Registry, RegistryEvent, pair_key};
use crate::store::{Batch, Tree};

/// Module versions, by `module\0version`.
pub(crate) const MODULES: Tree = Tree::new("modules");

/// Who is publishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Publisher {
    /// An operator: publishes standard modules, or a custom module for the named owner.
    Operator {
        /// The owner tenant of a custom module.
        owner: Option<String>,
    },
    /// A tenant publishing its own custom module.
    Tenant(String),
}

/// An upload: a manifest and its component.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    /// The `module.toml` text, with `component.sha256` filled in.
    pub manifest_text: &'a str,
    /// The component bytes.
    pub component: &'a [u8],
    /// Who publishes it.
    pub publisher: &'a Publisher,
    /// The actor for the audit log.
    pub actor: &'a str,
}

/// A successful publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOutcome {
    /// The stored version.
    pub version: ModuleVersion,
    /// `false` when the identical version was already stored (idempotent retry).
    pub created: bool,
}

fn problem(check: &'static str, message: impl Into<String>) -> UploadProblem {
    UploadProblem {
        check,
        message: message.into(),
    }
}

/// Why a stored version with the same id@version is not the same upload.
enum Existing {
    Identical(ModuleVersion),
    Different,
}

impl Registry {
    /// Checks and stores a module version.
    pub fn publish(&self, upload: Upload<'_>) -> Result<PublishOutcome, RegistryError> {
        let result = self.publish_checked(upload);
        if let Err(error) = &result {
            let draft = AuditDraft::ok(
                upload.actor,
                "module.publish",
                "upload",
                publisher_tenant(upload.publisher),
            );
            self.audit_refusal(draft, error);
        }
        result
    }

    /// The checks an upload can fail on its manifest alone, before its
    /// component is read: the manifest parses and names a `component.sha256`,
    /// the publisher may publish it, and the id@version is free or holds this
    /// very manifest. A streamed upload runs them first so a refused one is
    /// never read further; [`Registry::publish`] runs them all again. A
    /// refusal is audited as a failed `module.publish`.
    pub fn check_upload_manifest(
        &self,
        manifest_text: &str,
        publisher: &Publisher,
        actor: &str,
    ) -> Result<(), RegistryError> {
        let result = self.manifest_problems(manifest_text, publisher);
        if let Err(error) = &result {
            let draft = AuditDraft::ok(actor, "module.publish", "upload", publisher_tenant(publisher));
            self.audit_refusal(draft, error);
        }
        result
    }

    fn manifest_problems(&self, manifest_text: &str, publisher: &Publisher) -> Result<(), RegistryError> {
        let manifest =
            modhost_manifest::parse(manifest_text).map_err(|error| RegistryError::UploadRejected {
                problems: error
                    .to_string()
                    .lines()
                    .map(|line| problem("manifest", line))
                    .collect(),
            })?;
        let mut problems = Vec::new();
        if manifest.component.sha256.is_none() {
            problems.push(missing_sha256());
        }
        self.check_owner(&manifest, publisher, &mut problems)?;
        let key = pair_key(manifest.module.id.as_str(), &manifest.module.version.to_string());
        let stored: Option<ModuleVersion> = self.record(MODULES, &key)?;
        if stored.is_some_and(|stored| stored.manifest_text != manifest_text) {
            problems.push(already_published(&manifest));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(RegistryError::UploadRejected { problems })
        }
    }

    fn publish_checked(&self, upload: Upload<'_>) -> Result<PublishOutcome, RegistryError> {
        let mut problems = Vec::new();
        let max = self.inner.config.max_component_bytes;
        let size_ok = upload.component.len() <= max;
        if !size_ok {
            problems.push(problem(
                "size",
                format!(
                    "the component is {} bytes; the limit is {max}",
                    upload.component.len()
                ),
            ));
        }
        let manifest = match modhost_manifest::parse(upload.manifest_text) {
            Ok(manifest) => Some(manifest),
            Err(error) => {
                problems.extend(error.to_string().lines().map(|line| problem("manifest", line)));
                None
            }
        };
        let sha256 = sha256_hex(upload.component);
        let interface = if size_ok {
            match inspect(upload.component) {
                Ok(interface) => Some(interface),
                Err(message) => {
                    problems.push(problem("component", message));
                    None
                }
            }
        } else {
            None
        };
        let Some(manifest) = manifest else {
            return Err(RegistryError::UploadRejected { problems });
        };
        match manifest.component.sha256.as_deref() {
            None => problems.push(missing_sha256()),
            Some(declared) if declared != sha256 => problems.push(problem(
                "sha256",
                format!("component.sha256 is {declared} but the uploaded component's is {sha256}; upload the matching pair"),
            )),
            Some(_) => {}
        }
        if let Some(interface) = &interface {
            problems.extend(
                check_against_manifest(&manifest, interface)
                    .into_iter()
                    .map(|p| problem("interface", p)),
            );
        }
        let owner = self.check_owner(&manifest, upload.publisher, &mut problems)?;
        let module = manifest.module.id.as_str();
        let key = pair_key(module, &manifest.module.version.to_string());
        let existing = self.existing(&key, &sha256, upload.manifest_text)?;
        if let Some(Existing::Different) = existing {
            problems.push(already_published(&manifest));
        }
        if !problems.is_empty() {
            return Err(RegistryError::UploadRejected { problems });
        }
        if let Some(Existing::Identical(version)) = existing {
            return Ok(PublishOutcome {
                version,
                created: false,
            });
        }
        let record = ModuleVersion {
            module: module.to_owned(),
            version: manifest.module.version.clone(),
            kind: manifest.module.kind,
            owner,
            sha256: sha256.clone(),
            size_bytes: upload.component.len() as u64,
            manifest_text: upload.manifest_text.to_owned(),
            published_by: upload.actor.to_owned(),
            published_at_ms: now_ms(),
        };
        self.inner.blobs.put(upload.component)?;
        let target = format!("{module}@{}", record.version);
        let draft = AuditDraft::ok(upload.actor, "module.publish", target, record.owner.as_deref());
        match self.insert_new_version(&key, &record, draft)? {
            true => {}
            false => {
                // Another upload of the same id@version won the race; judge against it.
                return match self.existing(&key, &sha256, upload.manifest_text)? {
                    Some(Existing::Identical(version)) => Ok(PublishOutcome {
                        version,
                        created: false,
                    }),
                    _ => Err(RegistryError::UploadRejected {
                        problems: vec![problem(
                            "version",
                            format!(
                                "{module}@{} was just published with different contents",
                                record.version
                            ),
                        )],
                    }),
                };
            }
        }
        tracing::info!(module, version = %record.version, sha256 = %record.sha256, "module version published");
        self.notify(RegistryEvent::VersionPublished {
            module: record.module.clone(),
            version: record.version.clone(),
        });
        Ok(PublishOutcome {
            version: record,
            created: true,
        })
    }

    /// Checks who may publish this manifest and returns the owner tenant.
    fn check_owner(
        &self,
        manifest: &Manifest,
        publisher: &Publisher,
        problems: &mut Vec<UploadProblem>,
    ) -> Result<Option<String>, RegistryError> {
        let module = manifest.module.id.as_str();
        let owner = match (manifest.module.kind, publisher) {
            (ModuleKind::Standard, Publisher::Operator { owner: None }) => None,
            (ModuleKind::Standard, Publisher::Operator { owner: Some(_) }) => {
                problems.push(problem(
                    "owner",
                    "a standard module has no owner tenant; publish it without one",
                ));
                None
            }
            (ModuleKind::Standard, Publisher::Tenant(_)) => {
                problems.push(problem(
                    "owner",
                    "standard modules are published by operators; publish yours with kind = \"custom\"",
                ));
                None
            }
            (ModuleKind::Custom, Publisher::Operator { owner: None }) => {
                problems.push(problem(
                    "owner",
                    "a custom module needs an owner tenant; name one",
                ));
                None
            }
            (ModuleKind::Custom, Publisher::Operator { owner: Some(owner) } | Publisher::Tenant(owner)) => {
                match self.tenant(owner) {
                    Ok(tenant) if tenant.kind == TenantKind::Custom => Some(owner.clone()),
                    Ok(_) => {
                        problems.push(problem(
                            "owner",
                            format!("tenant `{owner}` is a standard client; only custom tenants own custom modules"),
                        ));
                        None
                    }
                    Err(RegistryError::TenantNotFound(_)) => {
                        problems.push(problem("owner", format!("tenant `{owner}` does not exist")));
                        None
                    }
                    Err(error) => return Err(error),
                }
            }
        };
        if let Some(first) = self
            .inner
            .store
            .scan_prefix(MODULES, &pair_key(module, ""))?
            .next()
        {
            let (_, bytes) = first?;
            let claimed: ModuleVersion = crate::records::decode(&bytes)?;
            if claimed.kind != manifest.module.kind {
                problems.push(problem(
                    "owner",
                    format!(
                        "module `{module}` is published as a {} module; keep its kind or choose another id",
                        claimed.kind.name()
                    ),
                ));
            } else if owner.is_some() && claimed.owner != owner {
                problems.push(problem(
                    "owner",
                    format!("module id `{module}` belongs to another tenant; choose another id"),
                ));
            }
        }
        Ok(owner)
    }

    fn existing(
        &self,
        key: &[u8],
        sha256: &str,
        manifest_text: &str,
    ) -> Result<Option<Existing>, RegistryError> {
        let stored: Option<ModuleVersion> = self.record(MODULES, key)?;
        Ok(stored.map(|stored| {
            if stored.sha256 == sha256 && stored.manifest_text == manifest_text {
                Existing::Identical(stored)
            } else {
                Existing::Different
            }
        }))
    }

    /// Inserts the record and its audit entry if the key is still free; `false` if it was taken.
    fn insert_new_version(
        &self,
        key: &[u8],
        record: &ModuleVersion,
        draft: AuditDraft,
    ) -> Result<bool, RegistryError> {
        let mut batch = Batch::new();
        batch
            .require_absent(MODULES, key)
            .put(MODULES, key, encode(record)?);
        Ok(self.commit_audited(batch, draft)?.is_some())
    }

    /// One version, if `tenant` (when given) may see it.
    pub fn version(
        &self,
        module: &str,
        version: &semver::Version,
        tenant: Option<&str>,
    ) -> Result<ModuleVersion, RegistryError> {
        let record: Option<ModuleVersion> = self.record(MODULES, &pair_key(module, &version.to_string()))?;
        record
            .filter(|record| tenant.is_none_or(|tenant| record.visible_to(tenant)))
            .ok_or_else(|| RegistryError::VersionNotFound {
                module: module.to_owned(),
                version: version.clone(),
            })
    }

    /// Versions, optionally of one module and only those `tenant` may see;
    /// sorted by module id then semver.
    pub fn versions(
        &self,
        module: Option<&str>,
        tenant: Option<&str>,
    ) -> Result<Vec<ModuleVersion>, RegistryError> {
        let prefix = module.map(|module| pair_key(module, "")).unwrap_or_default();
        let mut versions = Vec::new();
        for record in self.records::<ModuleVersion>(MODULES, &prefix)? {
            if tenant.is_none_or(|tenant| record.visible_to(tenant)) {
                versions.push(record);
            }
        }
        versions.sort_by(|a, b| (&a.module, &a.version).cmp(&(&b.module, &b.version)));
        Ok(versions)
    }

    /// The component bytes of a version, verified against their sha256.
    pub fn component(&self, version: &ModuleVersion) -> Result<Vec<u8>, RegistryError> {
        Ok(self.inner.blobs.get(&version.sha256)?)
    }

    /// The artifact store (for operators' tools and tests).
    pub fn blobs(&self) -> &crate::blobs::BlobStore {
        &self.inner.blobs
    }
}

fn missing_sha256() -> UploadProblem {
    problem(
        "sha256",
        "component.sha256 is missing; fill in the component's sha256 (cargo xtask build-plugins does)",
    )
}

fn already_published(manifest: &Manifest) -> UploadProblem {
    problem(
        "version",
        format!(
            "{}@{} is already published with different contents; versions are immutable, publish a new version",
            manifest.module.id, manifest.module.version
        ),
    )
}

fn publisher_tenant(publisher: &Publisher) -> Option<&str> {
    match publisher {
        Publisher::Operator { owner } => owner.as_deref(),
        Publisher::Tenant(tenant) => Some(tenant),
    }
}
