//! The generated bindings of every `modhost:module` WIT version the host implements, private to the sandbox.
//!
//! Each version lives in its own file (`v1_0.rs`) with the conversions
//! between its generated types and the host's version-neutral ones
//! ([`crate::types`]). [`VersionedPre`] is the one place that knows which
//! versions exist: `prepare` picks the arm once, from the component's
//! exports, and every call dispatches on it.
//!
//! Adding `wit/v1.1.0`: a `v1_1.rs` with its `bindgen!`, an arm here, and
//! the capabilities' `Host` impls for the new interfaces; nothing outside
//! the sandbox changes.

pub(crate) mod v1_0;

use semver::Version;
use wasmtime::Store;
use wasmtime::component::{Component, InstancePre};

use crate::caps::CallState;
use crate::types::{ModuleError, Request, Response, TenantContext};

/// The WIT package every module world belongs to.
pub const WIT_PACKAGE: &str = "modhost:module";

/// The `modhost:module` versions this host implements, oldest first.
pub const HOST_WIT_VERSIONS: &[Version] = &[Version::new(1, 0, 0)];

/// A guest's refusal text, capped before it reaches logs, the audit or an operator.
fn capped(message: String) -> String {
    crate::logs::truncate(message, crate::types::MAX_GUEST_MESSAGE_BYTES)
}

/// A pre-instance for the WIT version the component was built against.
pub(crate) enum VersionedPre {
    /// `modhost:module@1.0.x`.
    V1_0(v1_0::ModulePre<CallState>),
}

/// The version of `modhost:module/handler` a component exports.
fn exported_world_version(component: &Component) -> Result<Version, String> {
    let engine = component.engine();
    let prefix = format!("{WIT_PACKAGE}/handler@");
    let exported = component
        .component_type()
        .exports(engine)
        .find_map(|(name, _)| name.strip_prefix(&prefix).map(str::to_owned));
    let Some(version) = exported else {
        return Err(format!("the component does not export `{WIT_PACKAGE}/handler`"));
    };
    Version::parse(&version).map_err(|error| {
        format!("the component exports `{prefix}{version}`, which is not a semver version: {error}")
    })
}

impl VersionedPre {
    /// Chooses the bindings for the component's exported WIT version: the
    /// newest host version with the same major whose minor is not older.
    pub(crate) fn new(instance_pre: InstancePre<CallState>) -> Result<Self, String> {
        let version = exported_world_version(instance_pre.component())?;
        let implemented = HOST_WIT_VERSIONS
            .iter()
            .rev()
            .find(|host| host.major == version.major && host.minor == version.minor);
        match implemented.map(|host| (host.major, host.minor)) {
            Some((1, 0)) => v1_0::ModulePre::new(instance_pre)
                .map(Self::V1_0)
                .map_err(|error| format!("{error:#}")),
            _ => Err(format!(
                "the component targets {WIT_PACKAGE}@{version}, which this host does not implement (it implements {})",
                HOST_WIT_VERSIONS
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// The compiled component these bindings instantiate.
    pub(crate) fn component(&self) -> &wasmtime::component::Component {
        match self {
            Self::V1_0(pre) => pre.instance_pre().component(),
        }
    }

    /// The WIT version of these bindings.
    pub(crate) fn wit_version(&self) -> Version {
        match self {
            Self::V1_0(_) => Version::new(1, 0, 0),
        }
    }

    /// Instantiates and calls `handler.handle`.
    pub(crate) async fn handle(
        &self,
        store: &mut Store<CallState>,
        context: &TenantContext,
        request: &Request,
    ) -> wasmtime::Result<Result<Response, ModuleError>> {
        match self {
            Self::V1_0(pre) => {
                let instance = pre.instantiate_async(&mut *store).await?;
                let outcome = instance
                    .modhost_module_handler()
                    .call_handle(&mut *store, &context.into(), &request.into())
                    .await?;
                Ok(outcome.map(Into::into).map_err(Into::into))
            }
        }
    }

    /// Instantiates and calls `lifecycle.migrate`.
    pub(crate) async fn migrate(
        &self,
        store: &mut Store<CallState>,
        from_version: Option<&str>,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Self::V1_0(pre) => {
                let instance = pre.instantiate_async(&mut *store).await?;
                let outcome = instance
                    .modhost_module_lifecycle()
                    .call_migrate(&mut *store, from_version)
                    .await?;
                Ok(outcome.map_err(capped))
            }
        }
    }

    /// Instantiates and calls `lifecycle.self-test`.
    pub(crate) async fn self_test(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Self::V1_0(pre) => {
                let instance = pre.instantiate_async(&mut *store).await?;
                let outcome = instance
                    .modhost_module_lifecycle()
                    .call_self_test(&mut *store)
                    .await?;
                Ok(outcome.map_err(capped))
            }
        }
    }
}
