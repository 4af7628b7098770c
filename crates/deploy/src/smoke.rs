//! Smoke tests: a manifest's `[[tests]]` run against a candidate version on a scratch store before it is promoted.
//!
//! The expectations are written in HTTP terms (a status and a body), so a
//! module's own error is compared as the data plane answers it:
//! [`module_error_reply`] is that one rendering, shared with the server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use modhost_runtime::kv::{KvStore, MemoryKvStore};
use modhost_runtime::{CallError, Caller, ErrorCode, ModuleError, Request, Runtime};

use crate::table::Serving;

/// The HTTP status a module error code is answered with.
pub fn error_code_status(code: ErrorCode) -> u16 {
    match code {
        ErrorCode::BadRequest => 400,
        ErrorCode::Forbidden => 403,
        ErrorCode::NotFound => 404,
        ErrorCode::Conflict => 409,
        ErrorCode::Unprocessable => 422,
        ErrorCode::Unavailable => 503,
        ErrorCode::Internal => 500,
    }
}

/// The status and JSON body (`{"error": {"code", "message"}}`) the data
/// plane answers a module's own error with.
pub fn module_error_reply(error: &ModuleError) -> (u16, serde_json::Value) {
    let body = serde_json::json!({
        "error": { "code": error.code.name(), "message": error.message }
    });
    (error_code_status(error.code), body)
}

/// The request a smoke test sends.
fn smoke_request(request: &modhost_manifest::SmokeRequest) -> Request {
    let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    if matches!(request.body, Some(modhost_manifest::SmokeBody::Json(_)))
        && !request.headers.contains_key("content-type")
    {
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
    }
    Request {
        method: request.method,
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: request
            .body
            .as_ref()
            .map(modhost_manifest::SmokeBody::to_bytes)
            .unwrap_or_default(),
    }
}

/// How one smoke test went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmokeTestOutcome {
    /// The test's `name`.
    pub name: String,
    /// `None` when it passed; else what differed, or how the call failed.
    pub failure: Option<String>,
    /// How long its call took.
    pub took: Duration,
}

/// The smoke tests that ran, in order: every one, or up to and including the
/// first that failed (the later ones build on its state, and a promote stops there).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmokeReport {
    /// Each test that ran.
    pub tests: Vec<SmokeTestOutcome>,
}

impl SmokeReport {
    /// Whether every test passed (also when the manifest has none).
    pub fn passed(&self) -> bool {
        self.tests.iter().all(|test| test.failure.is_none())
    }

    /// Why the first failing test failed, as a promote's refusal says it:
    /// ``smoke test `name` failed: reason``.
    pub fn failure(&self) -> Option<String> {
        self.tests.iter().find_map(|test| {
            test.failure
                .as_ref()
                .map(|reason| format!("smoke test `{}` failed: {reason}", test.name))
        })
    }
}

/// Runs `serving`'s smoke tests, in order, as `caller` with the tenant's
/// config, against an empty scratch store that is thrown away afterwards:
/// the tenant's data is never read or written. Calls the module makes to its
/// dependencies reach the tenant's active versions with the same scratch
/// store. Stops at the first failing test. The tests' own calls are not
/// counted in the request metrics (the nested calls they make to
/// dependencies are, as the dependencies' requests).
pub async fn smoke_report(runtime: &Runtime, serving: &Serving, caller: &Caller) -> SmokeReport {
    let scratch: Arc<dyn KvStore> = Arc::new(MemoryKvStore::new());
    let mut report = SmokeReport::default();
    for test in &serving.manifest.tests {
        let started = Instant::now();
        let outcome = runtime
            .call_with_store(
                serving.ready.clone(),
                caller,
                serving.config.clone(),
                scratch.clone(),
                smoke_request(&test.request),
            )
            .await;
        let failure = match outcome {
            Ok(response) => test.expect.check(response.status, &response.body).err(),
            Err(CallError::Module(error)) => {
                let (status, body) = module_error_reply(&error);
                test.expect.check(status, body.to_string().as_bytes()).err()
            }
            Err(failure) => Some(failure.to_string()),
        };
        let failed = failure.is_some();
        report.tests.push(SmokeTestOutcome {
            name: test.name.clone(),
            failure,
            took: started.elapsed(),
        });
        if failed {
            break;
        }
    }
    report
}

/// [`smoke_report`] as a promote uses it: how many tests passed, or why the
/// first failing one failed (see [`SmokeReport::failure`]).
pub async fn run_smoke_tests(runtime: &Runtime, serving: &Serving, caller: &Caller) -> Result<usize, String> {
    let report = smoke_report(runtime, serving, caller).await;
    match report.failure() {
        Some(reason) => Err(reason),
        None => Ok(report.tests.len()),
    }
}
