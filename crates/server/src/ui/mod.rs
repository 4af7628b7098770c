//! The browser dashboard at `/ui`: static assets compiled into the binary, served with a strict CSP.
//!
//! The dashboard is a small single-page application written in plain
//! JavaScript modules (no framework, no build step, no CDN): `index.html`,
//! `app.css` and the `*.js` modules under `assets/` are embedded with
//! `include_str!`, so `modhost serve` needs nothing on disk or on the
//! network to serve them. Everything the dashboard shows comes from the
//! admin API, called with the signed-in token (kept in the tab's session
//! storage, sent as `authorization: Bearer`, never put in a URL), so what a
//! role sees is exactly what the API lets it read.
//!
//! The assets themselves are public and hold no data. They are answered
//! with a content security policy that allows only this origin's scripts,
//! styles and connections, no framing, and no inline script.

use axum::Router;
use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;

/// The content security policy of every dashboard asset.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One embedded file: its name under `/ui/`, its media type and its text.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    text: &'static str,
}

/// Every file of the dashboard.
const ASSETS: &[Asset] = &[
    asset(
        "index.html",
        "text/html; charset=utf-8",
        include_str!("assets/index.html"),
    ),
    asset(
        "app.css",
        "text/css; charset=utf-8",
        include_str!("assets/app.css"),
    ),
    asset("app.js", JS, include_str!("assets/app.js")),
    asset("api.js", JS, include_str!("assets/api.js")),
    asset("dom.js", JS, include_str!("assets/dom.js")),
    asset("charts.js", JS, include_str!("assets/charts.js")),
    asset("pages-overview.js", JS, include_str!("assets/pages-overview.js")),
    asset("pages-tenants.js", JS, include_str!("assets/pages-tenants.js")),
    asset("pages-config.js", JS, include_str!("assets/pages-config.js")),
    asset(
        "pages-implementation.js",
        JS,
        include_str!("assets/pages-implementation.js"),
    ),
    asset("pages-modules.js", JS, include_str!("assets/pages-modules.js")),
    asset("pages-metrics.js", JS, include_str!("assets/pages-metrics.js")),
    asset("pages-logs.js", JS, include_str!("assets/pages-logs.js")),
    asset("pages-audit.js", JS, include_str!("assets/pages-audit.js")),
    asset("pages-debug.js", JS, include_str!("assets/pages-debug.js")),
    asset("pages-business.js", JS, include_str!("assets/pages-business.js")),
];

/// The media type of the JavaScript modules.
const JS: &str = "text/javascript; charset=utf-8";

const fn asset(name: &'static str, media_type: &'static str, text: &'static str) -> Asset {
    Asset {
        name,
        media_type,
        text,
    }
}

/// The dashboard's routes, merged into the server's router before the fallback.
pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/ui", get(|| async { redirect_to_index() }))
        .route("/ui/", get(|| async { serve("index.html") }))
        .route(
            "/ui/{name}",
            get(|Path(name): Path<String>| async move { serve(&name) }),
        )
}

/// `/ui` → `/ui/`, so the modules' relative imports resolve under `/ui/`.
fn redirect_to_index() -> Response {
    (StatusCode::PERMANENT_REDIRECT, [(LOCATION, "/ui/")]).into_response()
}

/// One asset with its headers, or the API's `404`.
fn serve(name: &str) -> Response {
    let Some(asset) = ASSETS.iter().find(|asset| asset.name == name) else {
        return ApiError::not_found(format!("no dashboard file `{name}`; open /ui/")).into_response();
    };
    let mut response = asset.text.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.media_type));
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        HeaderName::from_static("referrer-policy"),
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_is_served_with_its_type_and_the_policy() {
        for asset in ASSETS {
            let response = serve(asset.name);
            assert_eq!(response.status(), StatusCode::OK, "{}", asset.name);
            assert_eq!(response.headers()[CONTENT_TYPE], asset.media_type);
            assert_eq!(response.headers()[CONTENT_SECURITY_POLICY], POLICY);
        }
    }

    #[test]
    fn an_unknown_or_path_like_name_is_not_found() {
        for name in ["nope.js", "../Cargo.toml", "", "index.html/"] {
            assert_eq!(serve(name).status(), StatusCode::NOT_FOUND, "{name}");
        }
    }

    #[test]
    fn every_module_import_names_an_embedded_asset() {
        for asset in ASSETS.iter().filter(|asset| asset.media_type == JS) {
            for line in asset.text.lines().filter(|line| line.starts_with("import ")) {
                let Some(name) = line.split("'./").nth(1).and_then(|rest| rest.split('\'').next()) else {
                    panic!("{}: an import without a relative path: {line}", asset.name);
                };
                assert!(
                    ASSETS.iter().any(|other| other.name == name),
                    "{} imports {name}, which is not embedded",
                    asset.name
                );
            }
        }
    }
}
