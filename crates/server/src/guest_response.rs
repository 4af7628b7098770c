//! What of a module's response reaches the client: every tenant's modules and the admin API share one origin, so a module may not speak for the origin.
//!
//! The policy, applied to every successful module answer:
//!
//! - **Status.** 200 to 599 pass. A 1xx (e.g. `101 Switching Protocols`) or
//!   anything from 600 up is refused: the client gets `502
//!   invalid-response` naming the status, and the module's body is dropped.
//! - **Dropped headers** (the rest of the response passes):
//!   - hop-by-hop and framing headers, which only the host may set:
//!     `connection`, `keep-alive`, `proxy-connection`, `transfer-encoding`,
//!     `te`, `trailer`, `upgrade`, `content-length`;
//!   - headers that would act for the whole origin: `set-cookie` (a cookie
//!     for every tenant and the admin API), `www-authenticate` (a browser
//!     login prompt), `clear-site-data`, `alt-svc`,
//!     `strict-transport-security`, and every `proxy-*` header;
//!   - `location`, except on a 3xx answer;
//!   - the headers the host sets itself: `x-request-id`,
//!     `x-modhost-version`, `x-content-type-options`,
//!     `content-security-policy`.
//! - **Added headers.** `x-content-type-options: nosniff` and
//!   [`CONTENT_SECURITY_POLICY`], so even a module answering
//!   `content-type: text/html` with a `<script>` cannot run it in a browser
//!   on this origin. (Serving modules' pages needs an origin per tenant,
//!   which modhost does not have yet.)
//!
//! Dropped header names are logged at debug level, never their values.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;

use crate::error::ApiError;

/// The policy set on every module response: nothing may load, run or frame.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; sandbox";

/// Headers of a module's response that never reach the client.
const DROPPED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
    "set-cookie",
    "www-authenticate",
    "clear-site-data",
    "alt-svc",
    "strict-transport-security",
    "x-request-id",
    "x-modhost-version",
    "x-content-type-options",
    "content-security-policy",
];

/// Whether the header `name` (lower case) of an answer with `status` is dropped.
fn dropped(name: &str, status: StatusCode) -> bool {
    DROPPED.contains(&name) || name.starts_with("proxy-") || (name == "location" && !status.is_redirection())
}

/// The HTTP response for a module's answer, or why it is refused.
pub(crate) fn to_http(answer: modhost_runtime::Response) -> Result<Response, ApiError> {
    let status = StatusCode::from_u16(answer.status)
        .ok()
        .filter(|status| (200..=599).contains(&status.as_u16()))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "invalid-response",
                format!(
                    "the module answered status {}; the host passes on 200 to 599 only",
                    answer.status
                ),
            )
        })?;
    let mut response = Response::new(Body::from(answer.body));
    *response.status_mut() = status;
    let mut refused: Vec<String> = Vec::new();
    for (name, value) in &answer.headers {
        let lower = name.to_ascii_lowercase();
        if dropped(&lower, status) {
            refused.push(crate::text::bounded(&lower));
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(lower.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        } else {
            refused.push(crate::text::bounded(&lower));
        }
    }
    if !refused.is_empty() {
        tracing::debug!(headers = ?refused, "dropped module response headers");
    }
    let headers = response.headers_mut();
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)]) -> modhost_runtime::Response {
        modhost_runtime::Response {
            status,
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
            body: b"<script>alert(1)</script>".to_vec(),
        }
    }

    fn names(response: &Response) -> Vec<String> {
        let mut names: Vec<String> = response
            .headers()
            .keys()
            .map(|name| name.as_str().to_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn headers_that_act_for_the_origin_are_dropped_and_the_safety_headers_added() {
        let response = to_http(answer(
            200,
            &[
                ("Content-Type", "text/html"),
                ("Set-Cookie", "session=stolen; Path=/"),
                ("Location", "https://evil.example/"),
                ("WWW-Authenticate", "Basic realm=x"),
                ("Proxy-Authenticate", "Basic"),
                ("Connection", "upgrade"),
                ("Upgrade", "websocket"),
                ("Clear-Site-Data", "\"*\""),
                ("Content-Security-Policy", "script-src *"),
                ("X-Custom", "kept"),
            ],
        ))
        .expect("a 200 passes");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            names(&response),
            [
                "content-security-policy",
                "content-type",
                "x-content-type-options",
                "x-custom"
            ]
        );
        assert_eq!(
            response.headers()["content-security-policy"],
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        assert_eq!(response.headers()["x-custom"], "kept");
    }

    #[test]
    fn location_passes_on_redirects_only() {
        let response = to_http(answer(302, &[("location", "/t/acme/shop/items")])).expect("a 302 passes");
        assert_eq!(response.headers()["location"], "/t/acme/shop/items");
        let response = to_http(answer(201, &[("location", "/t/acme/shop/items/1")])).expect("a 201 passes");
        assert!(!response.headers().contains_key("location"));
    }

    #[test]
    fn informational_and_out_of_range_statuses_are_refused() {
        for status in [0, 99, 100, 101, 199, 600, 999, 65535] {
            let error = to_http(answer(status, &[])).expect_err("refused");
            assert_eq!(error.status, StatusCode::BAD_GATEWAY);
            assert_eq!(error.code, "invalid-response");
            assert_eq!(
                error.message,
                format!("the module answered status {status}; the host passes on 200 to 599 only")
            );
        }
        for status in [200, 204, 304, 404, 599] {
            assert_eq!(
                to_http(answer(status, &[])).expect("passes").status().as_u16(),
                status
            );
        }
    }
}
