//! BanBan's custom module (skeleton, being written).

use modhost_sdk::{Module, Request, Response, Result, Router};

/// The module; see the crate docs.
pub struct Banban;

impl Module for Banban {
    fn router() -> Router {
        Router::new().get("/health", health)
    }
}

modhost_sdk::export_module!(Banban);

fn health(_request: &Request) -> Result<Response> {
    Response::ok(&serde_json::json!({ "ok": true }))
}
