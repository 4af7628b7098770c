//! [`Request`]: one call to a module, with its route parameters and helpers to read it.

use serde::de::DeserializeOwned;

use crate::bindings::modhost::module::types as wit;
use crate::{Error, Method, Params, Result, TenantContext};

/// A request as a handler sees it: the WIT request, the tenant context, and
/// the parameters captured by the matched route.
#[derive(Debug, Clone)]
pub struct Request {
    context: TenantContext,
    inner: wit::Request,
    params: Params,
}

impl Request {
    pub(crate) fn new(context: TenantContext, inner: wit::Request, params: Params) -> Self {
        Self {
            context,
            inner,
            params,
        }
    }

    /// Builds a request by hand, for unit tests of handlers.
    pub fn for_test(method: Method, path: &str, body: impl Into<Vec<u8>>) -> Self {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let inner = wit::Request {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers: Vec::new(),
            body: body.into(),
        };
        let context = TenantContext {
            tenant_id: "test-tenant".to_owned(),
            tenant_kind: crate::TenantKind::Standard,
            module_id: "test-module".to_owned(),
            module_version: "0.0.0".to_owned(),
            request_id: "test-request".to_owned(),
            permissions: Vec::new(),
            features: Vec::new(),
        };
        Self {
            context,
            inner,
            params: Params::default(),
        }
    }

    /// Who is calling, for which tenant, as established by the host.
    pub fn context(&self) -> &TenantContext {
        &self.context
    }

    /// The HTTP method.
    pub fn method(&self) -> Method {
        self.inner.method
    }

    /// The path inside the module, e.g. `/items/42`.
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The raw query string, without `?`.
    pub fn raw_query(&self) -> &str {
        &self.inner.query
    }

    /// The route parameter `name`, or a `bad-request` error naming it.
    pub fn param(&self, name: &str) -> Result<&str> {
        self.params
            .get(name)
            .ok_or_else(|| Error::bad_request(format!("missing path parameter `{name}`")))
    }

    /// All route parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Every query parameter in order, decoded (`+` is a space), repeated names
    /// kept. A pair that is not valid percent-encoded UTF-8 is a `bad-request`
    /// naming it, so filters built from the query never silently drop a term.
    pub fn query_pairs(&self) -> Result<Vec<(String, String)>> {
        self.inner
            .query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                match (decode_query_component(key), decode_query_component(value)) {
                    (Some(key), Some(value)) => Ok((key, value)),
                    _ => Err(Error::bad_request(format!(
                        "query parameter `{pair}` is not valid percent-encoded utf-8"
                    ))),
                }
            })
            .collect()
    }

    /// The first value of query parameter `name`, decoded (`+` is a space).
    /// `None` when absent or not valid percent-encoded UTF-8.
    pub fn query(&self, name: &str) -> Option<String> {
        self.inner.query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_query_component(key)? == name)
                .then(|| decode_query_component(value))
                .flatten()
        })
    }

    /// Query parameter `name` parsed as `T`; `Ok(None)` when absent, `bad-request` when unparsable.
    pub fn query_as<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>> {
        self.query(name)
            .map(|value| {
                value.parse().map_err(|_| {
                    Error::bad_request(format!("query parameter `{name}` has an invalid value `{value}`"))
                })
            })
            .transpose()
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.inner
            .headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The raw body.
    pub fn body(&self) -> &[u8] {
        &self.inner.body
    }

    /// The body parsed as JSON into `T`, or a `bad-request` error saying what is wrong.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T> {
        if self.inner.body.is_empty() {
            return Err(Error::bad_request(
                "the request body is empty; send a JSON document",
            ));
        }
        serde_json::from_slice(&self.inner.body).map_err(|error| {
            Error::bad_request(format!(
                "the request body is not valid JSON for this endpoint: {error}"
            ))
        })
    }

    /// Whether the host granted the caller `permission`.
    pub fn has_permission(&self, permission: &str) -> bool {
        self.context
            .permissions
            .iter()
            .any(|granted| granted == permission)
    }

    /// Whether the tenant has feature flag `feature` enabled.
    pub fn has_feature(&self, feature: &str) -> bool {
        self.context.features.iter().any(|enabled| enabled == feature)
    }

    pub(crate) fn with_params(mut self, params: Params) -> Self {
        self.params = params;
        self
    }
}

fn decode_query_component(component: &str) -> Option<String> {
    modhost_path::percent_decode(&component.replace('+', " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_decoded() {
        let request = Request::for_test(Method::Get, "/items?name=t+shirt&size=M%2FL&empty&limit=x", "");
        assert_eq!(request.path(), "/items");
        assert_eq!(request.query("name").as_deref(), Some("t shirt"));
        assert_eq!(request.query("size").as_deref(), Some("M/L"));
        assert_eq!(request.query("empty").as_deref(), Some(""));
        assert_eq!(request.query("missing"), None);
        assert_eq!(
            request.query_pairs().expect("valid pairs"),
            [
                ("name", "t shirt"),
                ("size", "M/L"),
                ("empty", ""),
                ("limit", "x")
            ]
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
        );
        assert_eq!(
            Request::for_test(Method::Get, "/items?a=%FF", "").query_pairs(),
            Err(Error::bad_request(
                "query parameter `a=%FF` is not valid percent-encoded utf-8"
            ))
        );
        assert_eq!(request.query_as::<u32>("missing"), Ok(None));
        assert_eq!(
            request.query_as::<u32>("limit"),
            Err(Error::bad_request(
                "query parameter `limit` has an invalid value `x`"
            ))
        );
    }

    #[test]
    fn json_body_errors_are_bad_requests() {
        let empty = Request::for_test(Method::Post, "/items", "");
        assert_eq!(
            empty.json::<serde_json::Value>(),
            Err(Error::bad_request(
                "the request body is empty; send a JSON document"
            ))
        );
        let broken = Request::for_test(Method::Post, "/items", "{");
        let error = broken.json::<serde_json::Value>().expect_err("invalid json");
        assert_eq!(error.code(), crate::ErrorCode::BadRequest);
        assert!(
            error.message().starts_with("the request body is not valid JSON"),
            "{error}"
        );
    }

    #[test]
    fn missing_param_is_named() {
        let request = Request::for_test(Method::Get, "/", "");
        assert_eq!(
            request.param("sku"),
            Err(Error::bad_request("missing path parameter `sku`"))
        );
    }
}
