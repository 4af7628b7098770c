//! The host's own types for what crosses the sandbox: requests, responses, module errors, who a call is for.
//!
//! They are version-neutral: every WIT version the host implements converts
//! its generated types to and from these (in `bindings/`), so the deploy
//! layer, the server and the tests never see generated code, and a new
//! `wit/v1.x` sits beside the old one without touching them.

pub use modhost_manifest::{ConfigValue, Method, TenantKind};

/// A tenant's resolved configuration for one module, sorted by field name.
pub type ModuleConfig = Vec<(String, ConfigValue)>;

/// Converts a tenant's validated config into what the `config` capability serves.
pub fn module_config(resolved: &modhost_manifest::ResolvedConfig) -> ModuleConfig {
    resolved
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect()
}

/// An HTTP request as a module sees it (the host has already matched the endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path inside the module, starting with `/`.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// A module's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// The class of a module's own error; the data plane maps it to an HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// The request is malformed.
    BadRequest,
    /// The caller may not do this.
    Forbidden,
    /// No such thing.
    NotFound,
    /// It conflicts with the current state.
    Conflict,
    /// Well-formed, but not acceptable.
    Unprocessable,
    /// Try again later.
    Unavailable,
    /// The module failed.
    Internal,
}

impl ErrorCode {
    /// The wire name (`bad-request`, `not-found`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Self::BadRequest => "bad-request",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::Conflict => "conflict",
            Self::Unprocessable => "unprocessable",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }
}

/// The wire name of a module error code.
pub fn error_code_name(code: ErrorCode) -> &'static str {
    code.name()
}

/// An error a module answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleError {
    /// Its class.
    pub code: ErrorCode,
    /// What was wrong, for the caller (capped by the host).
    pub message: String,
}

/// The longest text a guest may hand the host as an error (a module error's
/// message, a refused migration or self-test); longer text is cut, marked `...`.
pub const MAX_GUEST_MESSAGE_BYTES: usize = 4096;

/// Who a call is for, as established by the host.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The tenant id.
    pub tenant_id: String,
    /// The tenant's kind.
    pub tenant_kind: TenantKind,
    /// A unique id for the request.
    pub request_id: String,
    /// The serving module's endpoint permissions the caller holds (what the
    /// module is told in its tenant context).
    pub permissions: Vec<String>,
    /// The permission patterns the caller's token grants (`*`, `inventory.*`,
    /// `inventory.read`): what a nested `modules.call` is checked against.
    pub grants: Vec<String>,
    /// The tenant's enabled features.
    pub features: Vec<String>,
}

/// What a module is told about the call it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantContext {
    /// The tenant id.
    pub tenant_id: String,
    /// The tenant's kind.
    pub tenant_kind: TenantKind,
    /// The module serving the call.
    pub module_id: String,
    /// Its version.
    pub module_version: String,
    /// The request id.
    pub request_id: String,
    /// The caller's permissions.
    pub permissions: Vec<String>,
    /// The tenant's features.
    pub features: Vec<String>,
}

/// Response limits from the WIT `types` interface.
pub mod response_limits {
    /// The largest response body, in bytes.
    pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
    /// The most headers.
    pub const MAX_HEADERS: usize = 64;
    /// The longest header (name plus value), in bytes.
    pub const MAX_HEADER_BYTES: usize = 8 * 1024;
}

/// Why `response` breaks the host's limits, if it does.
pub(crate) fn check_response(response: &Response) -> Result<(), String> {
    use response_limits::*;
    if !(100..=599).contains(&response.status) {
        return Err(format!("status {} is outside 100..=599", response.status));
    }
    if response.body.len() > MAX_BODY_BYTES {
        return Err(format!(
            "the body is {} bytes; the limit is {MAX_BODY_BYTES}",
            response.body.len()
        ));
    }
    if response.headers.len() > MAX_HEADERS {
        return Err(format!(
            "{} headers; the limit is {MAX_HEADERS}",
            response.headers.len()
        ));
    }
    if let Some((name, _)) = response
        .headers
        .iter()
        .find(|(name, value)| name.len() + value.len() > MAX_HEADER_BYTES)
    {
        let shown: String = name.chars().take(64).collect();
        return Err(format!(
            "header `{shown}` is longer than {MAX_HEADER_BYTES} bytes"
        ));
    }
    Ok(())
}
