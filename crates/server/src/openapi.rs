//! The OpenAPI 3.1 document of the admin API, as the admin router's handlers declare it.

use modhost_api::ErrorBody;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{InfoBuilder, OpenApi};
use utoipa::{PartialSchema as _, ToSchema as _};

pub use crate::admin::table::AdminRoute;

/// The document served at `/v1/openapi.json`.
pub fn document() -> OpenApi {
    let (router, _) = crate::admin::build();
    let mut document = router.into_openapi();
    finish(&mut document);
    document
}

/// Every admin route with its access rule, as the router serves them.
pub fn routes() -> Vec<AdminRoute> {
    crate::admin::build().1
}

/// Adds what no handler declares: the title, the bearer scheme, the error schema.
pub(crate) fn finish(document: &mut OpenApi) {
    document.info = InfoBuilder::new()
        .title("modhost admin API")
        .version(env!("CARGO_PKG_VERSION"))
        .description(Some("See docs/http-api.md for the roles and examples."))
        .build();
    let components = document.components.get_or_insert_with(Default::default);
    components.security_schemes.insert(
        "bearer".to_owned(),
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    let mut schemas = Vec::new();
    ErrorBody::schemas(&mut schemas);
    schemas.push((ErrorBody::name().into_owned(), ErrorBody::schema()));
    components.schemas.extend(schemas);
}
