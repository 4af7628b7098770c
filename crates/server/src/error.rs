//! [`ApiError`]: every error the HTTP API answers, as `{"error": {"code", "message"}}` with a status.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use modhost_api::{ErrorBody, ErrorDetail};
use modhost_deploy::{DeployError, ServeError};
use modhost_registry::RegistryError;
use serde_json::json;

/// An error answer.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable kebab-case code.
    pub code: &'static str,
    /// What was wrong and what to do, lower case.
    pub message: String,
    /// Individual problems, when several checks failed.
    pub problems: Option<serde_json::Value>,
    /// Extra headers (e.g. `allow` for a 405).
    pub headers: Vec<(&'static str, String)>,
    /// Whether this is a failure of the host itself (see [`ApiError::host_failure`]).
    pub host_failure: bool,
}

/// What a host failure's answer carries for the server's request loop: the
/// detail the body leaves out. The loop logs it with the request id and
/// shows it to operators only; other callers get the request id to report.
#[derive(Debug, Clone)]
pub(crate) struct HostFailure {
    /// The code of the answer.
    pub(crate) code: &'static str,
    /// What failed, possibly naming host paths or storage errors.
    pub(crate) detail: String,
}

/// The message a non-operator gets for a host failure.
pub(crate) fn host_failure_message(request_id: &str) -> String {
    format!(
        "the host could not serve this request; if it persists, give the operator the request id `{request_id}`"
    )
}

impl ApiError {
    /// An error with no problem list.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            problems: None,
            headers: Vec::new(),
            host_failure: false,
        }
    }

    /// A failure of the host itself (storage, blobs, instantiation, a
    /// failed task). Its detail may name host paths or storage errors, so
    /// it is logged with the request id and shown to operators only.
    pub fn host_failure(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            host_failure: true,
            ..Self::new(status, code, detail)
        }
    }

    /// `400 bad-request`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", message)
    }

    /// `404 not-found`.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", message)
    }

    /// `401 unauthorized`.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid token is required: send `authorization: Bearer mh_…`",
        )
    }

    /// `403 forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// `413 payload-too-large`.
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            format!("the body is larger than {limit} bytes"),
        )
    }

    /// `500 internal`, a [host failure](Self::host_failure).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::host_failure(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// Adds the problem list.
    pub fn with_problems(mut self, problems: serde_json::Value) -> Self {
        self.problems = Some(problems);
        self
    }

    /// Closes the connection after the answer: for refusals sent before the
    /// request body was read, which is then never read.
    pub fn closing(mut self) -> Self {
        self.headers.push(("connection", "close".to_owned()));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (message, failure) = if self.host_failure {
            let failure = HostFailure {
                code: self.code,
                detail: self.message,
            };
            (
                "the host could not serve this request; see the server log".to_owned(),
                Some(failure),
            )
        } else {
            (self.message, None)
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message,
                problems: self.problems,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(failure) = failure {
            response.extensions_mut().insert(failure);
        }
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> Self {
        let message = error.to_string();
        match error {
            RegistryError::InvalidInput { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "invalid-input", message)
            }
            RegistryError::TenantNotFound(_)
            | RegistryError::ModuleNotFound(_)
            | RegistryError::VersionNotFound { .. } => Self::not_found(message),
            RegistryError::ConfigVersionNotFound { .. } => Self::not_found(message),
            RegistryError::NotFound(_) => Self::not_found(message),
            RegistryError::Conflict(_) => Self::new(StatusCode::CONFLICT, "conflict", message),
            RegistryError::TenantExists(_) => Self::new(StatusCode::CONFLICT, "already-exists", message),
            RegistryError::UploadRejected { problems } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "upload-rejected",
                format!(
                    "the upload was refused and nothing was stored; fix the {} problem(s) listed",
                    problems.len()
                ),
            )
            .with_problems(json!(problems)),
            RegistryError::DeploymentBlocked { problems, .. } => {
                let problems: Vec<serde_json::Value> = problems
                    .iter()
                    .map(|problem| json!({"kind": problem, "message": problem.to_string()}))
                    .collect();
                Self::new(StatusCode::CONFLICT, "deployment-blocked", message).with_problems(json!(problems))
            }
            RegistryError::NotEnabled { .. } => Self::new(StatusCode::CONFLICT, "not-enabled", message),
            RegistryError::NothingToRollBack { .. } => {
                Self::new(StatusCode::CONFLICT, "nothing-to-roll-back", message)
            }
            RegistryError::NeverActive { .. } => Self::new(StatusCode::CONFLICT, "never-active", message),
            RegistryError::ConfigInvalid { module, problems } => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "config-invalid",
                format!(
                    "the config for {module} was refused and nothing changed; fix the {} problem(s) listed",
                    problems.len()
                ),
            )
            .with_problems(json!(problems)),
            RegistryError::QuotaExceeded { .. } => {
                Self::new(StatusCode::INSUFFICIENT_STORAGE, "kv-quota-exceeded", message)
            }
            RegistryError::Backup(error) => backup_error(error, message),
            RegistryError::Blob(_) | RegistryError::Storage(_) => {
                Self::host_failure(StatusCode::INTERNAL_SERVER_ERROR, "storage", message)
            }
        }
    }
}

/// A refused backup or restore: what is wrong with the file, or what this host lacks.
fn backup_error(error: modhost_registry::BackupError, message: String) -> ApiError {
    use modhost_registry::BackupError;
    match error {
        BackupError::NotABackup(_) => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "not-a-backup", message)
        }
        BackupError::Truncated => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "backup-truncated", message)
        }
        BackupError::Damaged(_) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "backup-damaged", message),
        BackupError::NewerFormat { .. } => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "backup-newer-format", message)
        }
        BackupError::MissingVersions(missing) => {
            ApiError::new(StatusCode::CONFLICT, "backup-missing-versions", message)
                .with_problems(json!(missing))
        }
        BackupError::Conflict(_) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
        BackupError::Io(_) => ApiError::host_failure(StatusCode::INTERNAL_SERVER_ERROR, "storage", message),
    }
}

impl From<DeployError> for ApiError {
    fn from(error: DeployError) -> Self {
        let message = error.to_string();
        match error {
            DeployError::Registry(error) => error.into(),
            DeployError::NotReady { .. } => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "not-ready", message),
            DeployError::SmokeTestFailed { .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "smoke-test-failed", message)
            }
            DeployError::MigrationFailed { .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "migration-failed", message)
            }
            DeployError::CanaryNeedsMigration { .. } => {
                Self::new(StatusCode::CONFLICT, "canary-needs-migration", message)
            }
        }
    }
}

impl From<ServeError> for ApiError {
    fn from(error: ServeError) -> Self {
        let message = error.to_string();
        match error {
            ServeError::UnknownTenant(_) | ServeError::NotEnabled { .. } => Self::not_found(message),
            ServeError::PinNotServed { .. } => Self::new(StatusCode::CONFLICT, "pin-not-served", message),
            ServeError::NoReadyVersion { .. } => {
                Self::host_failure(StatusCode::SERVICE_UNAVAILABLE, "no-ready-version", message)
            }
        }
    }
}
