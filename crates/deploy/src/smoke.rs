//! Smoke tests: a manifest's `[[tests]]` run against a candidate version on a scratch store before it is promoted.
//!
//! The expectations are written in HTTP terms (a status and a body), so a
//! module's own error is compared as the data plane answers it:
//! [`module_error_reply`] is that one rendering, shared with the server.

use std::sync::Arc;

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

/// Runs `serving`'s smoke tests, in order, as `caller` with the tenant's
/// config, against an empty scratch store that is thrown away afterwards:
/// the tenant's data is never read or written. Calls the module makes to its
/// dependencies reach the tenant's active versions with the same scratch
/// store. Returns how many passed, or why the first failing one failed. The
/// tests' own calls are not counted in the request metrics (the nested calls
/// they make to dependencies are, as the dependencies' requests).
pub async fn run_smoke_tests(runtime: &Runtime, serving: &Serving, caller: &Caller) -> Result<usize, String> {
    let scratch: Arc<dyn KvStore> = Arc::new(MemoryKvStore::new());
    let tests = &serving.manifest.tests;
    for test in tests {
        let outcome = runtime
            .call_with_store(
                serving.ready.clone(),
                caller,
                serving.config.clone(),
                scratch.clone(),
                smoke_request(&test.request),
            )
            .await;
        let (status, body) = match outcome {
            Ok(response) => (response.status, response.body),
            Err(CallError::Module(error)) => {
                let (status, body) = module_error_reply(&error);
                (status, body.to_string().into_bytes())
            }
            Err(failure) => return Err(format!("smoke test `{}` failed: {failure}", test.name)),
        };
        test.expect
            .check(status, &body)
            .map_err(|reason| format!("smoke test `{}` failed: {reason}", test.name))?;
    }
    Ok(tests.len())
}
