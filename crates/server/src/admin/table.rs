//! The admin route table: every route is added with its access rule, which one guard enforces.
//!
//! [`Routes::add`] takes a handler's `routes!(…)` (its `#[utoipa::path]`
//! operation and its axum method router) and an [`Access`]. It wraps the
//! method router in the guard, writes the rule into the operation (`x-access`,
//! `security`, the description) with the shared error response, and records
//! the route, so the router, the OpenAPI document and the route table come
//! from the same call.

use std::sync::Arc;

use axum::extract::{FromRequestParts as _, RawPathParams, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};

use crate::access::{Access, check};
use crate::app::App;
use crate::error::ApiError;

/// The state every admin handler gets.
pub(crate) type AppState = Arc<App>;

/// One admin route as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminRoute {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path pattern, e.g. `/v1/tenants/{tenant}`.
    pub path: String,
    /// Who may call it.
    pub access: Access,
    /// The OpenAPI operation id, e.g. `CreateTenant`.
    pub operation_id: String,
}

/// The admin router being built, with its route table.
pub(crate) struct Routes {
    router: OpenApiRouter<AppState>,
    table: Vec<AdminRoute>,
}

impl Routes {
    /// No routes yet.
    pub(crate) fn new() -> Self {
        Self {
            router: OpenApiRouter::default(),
            table: Vec::new(),
        }
    }

    /// Adds the handler(s) of `routes` behind a guard requiring `access`.
    pub(crate) fn add(mut self, access: Access, routes: UtoipaMethodRouter<AppState>) -> Self {
        let (schemas, mut paths, method_router) = routes;
        let mut action = String::from("api");
        for (path, item) in paths.paths.iter_mut() {
            for (method, operation) in operations(item) {
                annotate(operation, access);
                let operation_id = operation.operation_id.clone().unwrap_or_default();
                action = format!("api.{operation_id}");
                self.table.push(AdminRoute {
                    method: method.to_owned(),
                    path: path.clone(),
                    access,
                    operation_id,
                });
            }
        }
        let action: Arc<str> = action.into();
        let method_router =
            method_router.route_layer(axum::middleware::from_fn(move |request: Request, next: Next| {
                let action = action.clone();
                async move { guard(access, &action, request, next).await }
            }));
        self.router = self.router.routes((schemas, paths, method_router));
        self
    }

    /// The router (with its OpenAPI document) and the route table.
    pub(crate) fn finish(self) -> (OpenApiRouter<AppState>, Vec<AdminRoute>) {
        (self.router, self.table)
    }
}

/// Every operation of a path item, with its method.
fn operations(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("GET", item.get.as_mut()),
        ("PUT", item.put.as_mut()),
        ("POST", item.post.as_mut()),
        ("DELETE", item.delete.as_mut()),
        ("OPTIONS", item.options.as_mut()),
        ("HEAD", item.head.as_mut()),
        ("PATCH", item.patch.as_mut()),
        ("TRACE", item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| Some((method, operation?)))
    .collect()
}

/// Writes the access rule and the shared error answer into an operation.
fn annotate(operation: &mut Operation, access: Access) {
    let note = format!("Access: {}.", access.describe());
    operation.description = Some(match operation.description.take() {
        Some(description) if !description.is_empty() => format!("{description}\n\n{note}"),
        _ => note,
    });
    if access != Access::Public {
        operation.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
    }
    let extensions = operation.extensions.get_or_insert_with(Default::default);
    extensions.insert("x-access".to_owned(), serde_json::json!(access.name()));
    let error = ResponseBuilder::new()
        .description("an error: `{\"error\": {\"code\", \"message\", \"problems\"?}}`")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    operation
        .responses
        .responses
        .insert("default".to_owned(), RefOr::T(error));
}

/// Lets a request through when its caller passes `access`; otherwise answers
/// the refusal (audited by [`check`]) at once, without reading the body, and
/// closes the connection (which lingers briefly: see `edge::LingeringClose`).
async fn guard(access: Access, action: &str, request: Request, next: Next) -> Response {
    let Some(app) = request.extensions().get::<AppState>().cloned() else {
        return ApiError::internal("the server state is missing from the request; this is a bug")
            .into_response();
    };
    let (mut parts, body) = request.into_parts();
    let tenant = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .ok()
        .and_then(|params| {
            params
                .iter()
                .find(|(name, _)| *name == "tenant")
                .map(|(_, value)| value.to_owned())
        });
    match check(&app, &parts, access, tenant.as_deref(), action) {
        Ok(principal) => {
            if let Some(principal) = principal {
                parts.extensions.insert(principal);
            }
            next.run(Request::from_parts(parts, body)).await
        }
        Err(error) => {
            drop(body);
            error.closing().into_response()
        }
    }
}
