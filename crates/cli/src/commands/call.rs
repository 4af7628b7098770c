//! `modhost call`: one data-plane request to a tenant's module, its answer printed as received.

use std::io::{IsTerminal, Write};

use serde_json::Value;

use crate::args::read_data;
use crate::client::path;
use crate::commands::Context;
use crate::error::CliError;

/// What to send.
#[derive(Debug)]
pub struct CallRequest {
    /// The tenant.
    pub tenant: String,
    /// The module.
    pub module: String,
    /// The path inside the module, with any query string.
    pub path: String,
    /// The method; default GET, or POST with a body.
    pub method: Option<String>,
    /// `--data`: the body, `@file` or `@-`.
    pub data: Option<String>,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
}

/// The URL path of a data-plane call: `/t/{tenant}/{module}/{path}`, the
/// module path passed through as given (it may carry a query string).
fn call_path(tenant: &str, module: &str, module_path: &str) -> String {
    format!(
        "{}/{}",
        path(&["t", tenant, module]),
        module_path.trim_start_matches('/')
    )
}

/// The method to use: as given (upper-cased), else POST with a body and GET without.
fn method(given: Option<&str>, has_body: bool) -> Result<String, CliError> {
    let method = match given {
        Some(method) => method.trim().to_ascii_uppercase(),
        None if has_body => "POST".to_owned(),
        None => "GET".to_owned(),
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
        return Err(CliError::Usage(format!("{method:?} is not an HTTP method")));
    }
    Ok(method)
}

/// `ANY /t/{tenant}/{module}/{path}`: the body goes to stdout, and for a
/// non-2xx answer the status to stderr with exit code 1.
pub fn call(ctx: &Context, request: &CallRequest) -> Result<(), CliError> {
    let body = request.data.as_deref().map(read_data).transpose()?;
    let method = method(request.method.as_deref(), body.is_some())?;
    let mut headers = request.headers.clone();
    if let Some(body) = &body
        && !headers.iter().any(|(name, _)| name == "content-type")
        && serde_json::from_slice::<Value>(body).is_ok()
    {
        headers.push(("content-type".into(), "application/json".into()));
    }
    let url_path = call_path(&request.tenant, &request.module, &request.path);
    let response = ctx.client.raw(&method, &url_path, &headers, body)?;

    let stdout = std::io::stdout();
    let terminal = stdout.is_terminal();
    let mut out = stdout.lock();
    let _ = out.write_all(&response.body);
    if terminal && !response.body.is_empty() && !response.body.ends_with(b"\n") {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();

    if (200..300).contains(&response.status) {
        return Ok(());
    }
    let mut details = Vec::new();
    if let Some(version) = response.header("x-modhost-version") {
        details.push(format!("served by {version}"));
    }
    if let Some(request_id) = response.header("x-request-id") {
        details.push(format!("request id {request_id}"));
    }
    Err(CliError::Failed {
        message: format!(
            "{method} {url_path} answered {} {}",
            response.status, response.reason
        )
        .trim_end()
        .to_owned(),
        details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keep_the_module_path_as_given() {
        assert_eq!(
            call_path("banban", "inventory", "/items/TS-01?x=1"),
            "/t/banban/inventory/items/TS-01?x=1"
        );
        assert_eq!(
            call_path("banban", "inventory", "items"),
            "/t/banban/inventory/items"
        );
        assert_eq!(call_path("banban", "inventory", "/"), "/t/banban/inventory/");
        assert_eq!(call_path("a b", "inventory", "x"), "/t/a%20b/inventory/x");
    }

    #[test]
    fn methods() {
        assert_eq!(method(None, false).unwrap(), "GET");
        assert_eq!(method(None, true).unwrap(), "POST");
        assert_eq!(method(Some("put"), true).unwrap(), "PUT");
        assert!(matches!(method(Some("GE T"), false), Err(CliError::Usage(_))));
    }
}
