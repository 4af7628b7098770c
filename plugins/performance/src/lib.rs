//! The performance module (skeleton, being written).

use modhost_sdk::{Module, Request, Response, Result, Router};

/// The module; see the crate docs.
pub struct Performance;

impl Module for Performance {
    fn router() -> Router {
        Router::new().get("/health", health)
    }
}

modhost_sdk::export_module!(Performance);

fn health(_request: &Request) -> Result<Response> {
    Response::ok(&serde_json::json!({ "ok": true }))
}
