//! [`Router`]: dispatches requests to handler functions by method and path pattern.

use modhost_path::PathPattern;

use crate::bindings::modhost::module::types as wit;
use crate::{Error, Method, Request, Response, Result, TenantContext};

/// A handler: a plain function from a request to a response.
pub type Handler = fn(&Request) -> Result<Response>;

struct Route {
    method: Method,
    pattern: PathPattern,
    handler: Handler,
}

/// Routes `METHOD /path/{param}` to handlers; the first matching route wins.
///
/// Patterns use the syntax of [`modhost_path`]: literal segments, `{name}` for
/// one segment, `{*rest}` for the remainder. A path that matches a route but
/// not its method is answered `405` with an `allow` header; a path that matches
/// nothing is a `not-found` error.
#[derive(Default)]
pub struct Router {
    routes: Vec<Route>,
    invalid_patterns: Vec<String>,
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a route for `method` and `pattern`. An invalid pattern is recorded
    /// and reported by [`Router::check`] (the default self-test) and by every
    /// request, rather than panicking.
    pub fn route(mut self, method: Method, pattern: &str, handler: Handler) -> Self {
        match PathPattern::parse(pattern) {
            Ok(pattern) => self.routes.push(Route {
                method,
                pattern,
                handler,
            }),
            Err(error) => self.invalid_patterns.push(error.to_string()),
        }
        self
    }

    /// Adds a `GET` route.
    pub fn get(self, pattern: &str, handler: Handler) -> Self {
        self.route(Method::Get, pattern, handler)
    }

    /// Adds a `POST` route.
    pub fn post(self, pattern: &str, handler: Handler) -> Self {
        self.route(Method::Post, pattern, handler)
    }

    /// Adds a `PUT` route.
    pub fn put(self, pattern: &str, handler: Handler) -> Self {
        self.route(Method::Put, pattern, handler)
    }

    /// Adds a `PATCH` route.
    pub fn patch(self, pattern: &str, handler: Handler) -> Self {
        self.route(Method::Patch, pattern, handler)
    }

    /// Adds a `DELETE` route.
    pub fn delete(self, pattern: &str, handler: Handler) -> Self {
        self.route(Method::Delete, pattern, handler)
    }

    /// `Ok` when every route pattern parsed; otherwise every problem, one per line.
    pub fn check(&self) -> core::result::Result<(), String> {
        if self.invalid_patterns.is_empty() {
            Ok(())
        } else {
            Err(self.invalid_patterns.join("\n"))
        }
    }

    /// Dispatches a request from the host.
    pub fn handle(&self, context: TenantContext, request: wit::Request) -> Result<Response> {
        self.check()
            .map_err(|problems| Error::internal(format!("the module's routes are invalid: {problems}")))?;
        let request = Request::new(context, request, Default::default());
        self.dispatch(request)
    }

    /// Dispatches a request built with [`Request::for_test`]; for unit tests.
    pub fn dispatch(&self, request: Request) -> Result<Response> {
        let mut allowed = Vec::new();
        for route in &self.routes {
            let Some(params) = route.pattern.matches(request.path()) else {
                continue;
            };
            if route.method == request.method() {
                return (route.handler)(&request.with_params(params));
            }
            allowed.push(method_name(route.method));
        }
        if allowed.is_empty() {
            return Err(Error::not_found(format!(
                "no endpoint {} {}",
                method_name(request.method()),
                request.path()
            )));
        }
        allowed.dedup();
        let allow = allowed.join(", ");
        let message = format!(
            "method {} is not allowed on {}; use {allow}",
            method_name(request.method()),
            request.path()
        );
        Ok(Response::json(
            405,
            &serde_json::json!({"error": {"code": "method-not-allowed", "message": message}}),
        )?
        .with_header("allow", allow))
    }
}

/// The upper-case HTTP name of a method.
pub(crate) fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
        Method::Options => "OPTIONS",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo_sku(request: &Request) -> Result<Response> {
        Ok(Response::text(200, request.param("sku")?))
    }

    fn created(_: &Request) -> Result<Response> {
        Ok(Response::new(201))
    }

    fn router() -> Router {
        Router::new()
            .get("/items/{sku}", echo_sku)
            .post("/items/{sku}", created)
            .delete("/items/{sku}", created)
    }

    #[test]
    fn dispatches_by_method_and_pattern() {
        let response = router()
            .dispatch(Request::for_test(Method::Get, "/items/TS%2001", ""))
            .expect("routed");
        assert_eq!(response.body(), b"TS 01");
        let response = router()
            .dispatch(Request::for_test(Method::Post, "/items/a", ""))
            .expect("routed");
        assert_eq!(response.status(), 201);
    }

    #[test]
    fn unknown_path_is_not_found() {
        let error = router()
            .dispatch(Request::for_test(Method::Get, "/nope", ""))
            .expect_err("no route");
        assert_eq!(error, Error::not_found("no endpoint GET /nope"));
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        let response = router()
            .dispatch(Request::for_test(Method::Put, "/items/a", ""))
            .expect("405 response");
        assert_eq!(response.status(), 405);
        assert!(
            response
                .headers()
                .contains(&("allow".to_owned(), "GET, POST, DELETE".to_owned()))
        );
        let body: serde_json::Value = response.body_json().expect("json");
        assert_eq!(
            body["error"]["message"],
            "method PUT is not allowed on /items/a; use GET, POST, DELETE"
        );
    }

    #[test]
    fn invalid_patterns_are_reported_not_panicked() {
        let router = Router::new().get("items", created).get("/ok", created);
        assert_eq!(router.check(), Err("path `items` must start with `/`".to_owned()));
        let context = Request::for_test(Method::Get, "/ok", "").context().clone();
        let request = wit::Request {
            method: Method::Get,
            path: "/ok".into(),
            query: String::new(),
            headers: vec![],
            body: vec![],
        };
        let error = router.handle(context, request).expect_err("invalid routes");
        assert_eq!(
            error,
            Error::internal("the module's routes are invalid: path `items` must start with `/`")
        );
    }

    /// The cost of building a router like the template's (four routes) and
    /// dispatching one request with it, natively; a guest builds one per
    /// call (each call is a fresh instance). Prints, asserts no time.
    #[test]
    #[ignore = "a measurement: run by hand with --ignored --nocapture"]
    #[allow(clippy::print_stdout, reason = "the figures are the output")]
    fn measure_router_build_per_call() {
        fn template() -> Router {
            Router::new()
                .get("/hello/{name}", echo_sku)
                .get("/ping", created)
                .get("/notes/{id}", echo_sku)
                .put("/notes/{id}", created)
        }
        let rounds = 200_000_u32;
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            std::hint::black_box(template());
        }
        let build = started.elapsed() / rounds;
        let router = template();
        let started = std::time::Instant::now();
        for _ in 0..rounds {
            let request = Request::for_test(Method::Get, "/ping", "");
            std::hint::black_box(router.dispatch(request).map(|response| response.status()).ok());
        }
        let dispatch = started.elapsed() / rounds;
        println!("router: build {build:?} per call, dispatch of GET /ping {dispatch:?} (native)");
    }
}
