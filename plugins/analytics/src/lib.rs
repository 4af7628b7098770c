//! The analytics module (skeleton, being written).

use modhost_sdk::{Module, Request, Response, Result, Router};

/// The module; see the crate docs.
pub struct Analytics;

impl Module for Analytics {
    fn router() -> Router {
        Router::new().get("/health", health)
    }
}

modhost_sdk::export_module!(Analytics);

fn health(_request: &Request) -> Result<Response> {
    Response::ok(&serde_json::json!({ "ok": true }))
}
