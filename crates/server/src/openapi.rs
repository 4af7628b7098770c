//! The OpenAPI 3.1 document of the admin API, generated from the route table.

use serde_json::{Map, Value, json};

use crate::auth::Access;
use crate::routes::ROUTES;

fn access_note(access: Option<Access>) -> &'static str {
    match access {
        None => "public",
        Some(Access::Operator) => "operator",
        Some(Access::TenantRead) => "operator, or tenant-admin / tenant-viewer of the tenant",
        Some(Access::Context) => "operator, or any token of the tenant",
        Some(Access::TenantAdmin) => "operator, or tenant-admin of the tenant",
        Some(Access::Invoke) => "operator, or tenant-admin / invoker of the tenant",
        Some(Access::Authenticated) => "any token; results are limited to what it may see",
    }
}

/// The document served at `/v1/openapi.json`.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES {
        let parameters: Vec<Value> = modhost_path::PathPattern::parse(route.path)
            .map(|pattern| {
                pattern
                    .param_names()
                    .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
                    .collect()
            })
            .unwrap_or_default();
        let mut operation = json!({
            "operationId": format!("{:?}", route.operation),
            "summary": route.summary,
            "description": format!("Access: {}.", access_note(route.access)),
            "parameters": parameters,
            "responses": {
                "200": {"description": "success"},
                "default": {"description": "an error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        });
        if route.access.is_some() {
            operation["security"] = json!([{"bearer": []}]);
        }
        let entry = paths.entry(route.path.to_owned()).or_insert_with(|| json!({}));
        entry[route.method.to_ascii_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "modhost admin API", "version": env!("CARGO_PKG_VERSION"), "description": "See docs/http-api.md for bodies and examples."},
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "problems": {"type": "array"}}}}}}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_documented_and_every_documented_path_is_routed() {
        let document = document();
        let paths = document["paths"].as_object().expect("paths");
        for route in ROUTES {
            let operation = &paths[route.path][route.method.to_ascii_lowercase()];
            assert_eq!(
                operation["operationId"],
                format!("{:?}", route.operation),
                "{} {}",
                route.method,
                route.path
            );
        }
        let documented: usize = paths
            .values()
            .map(|methods| methods.as_object().map_or(0, |m| m.len()))
            .sum();
        assert_eq!(documented, ROUTES.len(), "no extra operations in the document");
        let api_doc = include_str!("../../../docs/http-api.md");
        for route in ROUTES {
            assert!(
                api_doc.contains(route.path),
                "docs/http-api.md does not mention {}",
                route.path
            );
        }
    }
}
