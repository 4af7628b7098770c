//! Helpers over the host's `modules` capability: calling another module of the same tenant.
//!
//! The callee must be declared in this module's `[dependencies]` and the
//! `modules` capability granted. The host also checks the request against the
//! callee's `[[endpoints]]` and the original caller's token: a path the callee
//! does not serve is `not-found`, a permission the caller lacks `forbidden`. Errors convert to [`Error`] so `?` works in
//! handlers: the callee's own error keeps its code; a refused or failed call
//! becomes `unavailable` (or `internal` for an undeclared dependency, a bug).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::modhost::module::modules as wit;
use crate::bindings::modhost::module::types as types_wit;
use crate::{Error, Method, Response, Result};

pub use wit::CallError;

impl From<CallError> for Error {
    fn from(error: CallError) -> Self {
        match error {
            CallError::Module(error) => Error::from_wit(error),
            CallError::NotDeclared(module) => {
                Error::internal(format!("module `{module}` is not declared in [dependencies]"))
            }
            CallError::NotActive(reason) => Error::unavailable(reason),
            CallError::DepthExceeded => Error::unavailable("too many nested module calls"),
            CallError::Failed(reason) => Error::unavailable(reason),
        }
    }
}

/// Calls `module` with a request; `path` may carry a query string.
pub fn call(module: &str, method: Method, path: &str, body: Vec<u8>) -> Result<Response> {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let request = types_wit::Request {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        body,
    };
    let response = Response::from_wit(wit::call(module, &request)?);
    if response.status() >= 400 {
        return Err(Error::unavailable(format!(
            "module `{module}` answered {} to {path}",
            response.status()
        )));
    }
    Ok(response)
}

/// `GET`s `path` from `module` and parses its JSON answer.
pub fn get_json<T: DeserializeOwned>(module: &str, path: &str) -> Result<T> {
    call(module, Method::Get, path, Vec::new())?.body_json()
}

/// `POST`s `body` as JSON to `path` of `module` and parses its JSON answer.
pub fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
    module: &str,
    path: &str,
    body: &B,
) -> Result<T> {
    let body = serde_json::to_vec(body)
        .map_err(|error| Error::internal(format!("could not serialise request: {error}")))?;
    call(module, Method::Post, path, body)?.body_json()
}
