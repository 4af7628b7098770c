//! The blocking HTTP client for the modhost API: URLs, the bearer token, JSON in and out, error decoding.

use std::io::Read;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use ureq::http::{self, Request};

use crate::error::{ApiError, CliError};
use crate::multipart::Multipart;

/// The most of a response body read into memory.
const BODY_LIMIT: u64 = 64 * 1024 * 1024;

/// A connection to one modhost server, as one caller (token).
pub struct Client {
    agent: ureq::Agent,
    server: String,
    token: Option<String>,
}

/// A response as received, for the data plane where any status and body are the answer.
#[derive(Debug)]
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The status's canonical reason, e.g. `Not Found` (may be empty).
    pub reason: String,
    /// The headers, names in lower case, values that are not text left out.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

impl Client {
    /// A client for the server at `server` (`http://` or `https://`), sending `token` if any.
    pub fn new(server: &str, token: Option<String>) -> Result<Self, CliError> {
        let server = server.trim().trim_end_matches('/').to_owned();
        let rest = server
            .strip_prefix("http://")
            .or_else(|| server.strip_prefix("https://"));
        if rest.is_none_or(str::is_empty) {
            return Err(CliError::Usage(format!(
                "--server must be an http:// or https:// URL like http://127.0.0.1:8080, got {server:?}"
            )));
        }
        let token = token
            .map(|token| token.trim().to_owned())
            .filter(|token| !token.is_empty());
        if let Some(token) = &token
            && http::HeaderValue::from_str(&format!("Bearer {token}")).is_err()
        {
            return Err(CliError::Usage(
                "the token has characters that cannot be sent in a header; check --token / MODHOST_TOKEN"
                    .into(),
            ));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .allow_non_standard_methods(true)
            .timeout_connect(Some(Duration::from_secs(10)))
            .user_agent(concat!("modhost-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Self { agent, server, token })
    }

    /// `GET path` → the JSON body of a 2xx answer.
    pub fn get(&self, path: &str) -> Result<Value, CliError> {
        self.json_call("GET", path, None)
    }

    /// `POST path` with a JSON body → the JSON body of a 2xx answer.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.json_call("POST", path, Some(body))
    }

    /// `PUT path` with a JSON body → the JSON body of a 2xx answer.
    pub fn put(&self, path: &str, body: &Value) -> Result<Value, CliError> {
        self.json_call("PUT", path, Some(body))
    }

    /// `DELETE path` → the JSON body of a 2xx answer.
    pub fn delete(&self, path: &str) -> Result<Value, CliError> {
        self.json_call("DELETE", path, None)
    }

    /// `GET path` → the 2xx answer as the API type `T` (`modhost-api`).
    pub fn get_as<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        typed(path, self.get(path)?)
    }

    /// `POST path` with the API request `body` → the 2xx answer as `T`.
    pub fn post_as<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, CliError> {
        typed(path, self.post(path, &request_json(body)?)?)
    }

    /// `PUT path` with the API request `body` → the 2xx answer as `T`.
    pub fn put_as<T: DeserializeOwned>(&self, path: &str, body: &impl Serialize) -> Result<T, CliError> {
        typed(path, self.put(path, &request_json(body)?)?)
    }

    /// `DELETE path` → the 2xx answer as `T`.
    pub fn delete_as<T: DeserializeOwned>(&self, path: &str) -> Result<T, CliError> {
        typed(path, self.delete(path)?)
    }

    /// Sends a module upload: `POST path` with the multipart body, the
    /// component read from `component`. Asks for `100 Continue` first, so a
    /// server refusing the upload (too big, not allowed) answers before the
    /// component is sent. Returns the status and the JSON body of a 2xx answer.
    pub fn upload(
        &self,
        path: &str,
        multipart: Multipart,
        component: impl Read + 'static,
    ) -> Result<(u16, Value), CliError> {
        let url = self.url(path);
        let request = self
            .request("POST", &url)
            .header("content-type", multipart.content_type())
            .header("content-length", multipart.content_length())
            .header("expect", "100-continue")
            .body(ureq::SendBody::from_owned_reader(
                multipart.into_reader(component),
            ))
            .map_err(|error| CliError::failed(format!("cannot build the request to {url}: {error}")))?;
        let response = self.agent.run(request).map_err(|error| {
            let mut error = self.transport_error(&url, error);
            if let CliError::Failed { details, .. } = &mut error {
                details.push(
                    "the server may have refused the upload part-way, e.g. past its component size cap (16 MiB by default)"
                        .into(),
                );
            }
            error
        })?;
        let response = self.read(&url, response)?;
        let status = response.status;
        Ok((status, self.decode(&url, response)?))
    }

    /// POSTs a file's bytes (`application/octet-stream`, `length` bytes from
    /// `body`) and decodes the JSON answer.
    pub fn post_file<T: DeserializeOwned>(
        &self,
        path: &str,
        body: impl Read + Send + 'static,
        length: u64,
    ) -> Result<T, CliError> {
        let url = self.url(path);
        let request = self
            .request("POST", &url)
            .header("content-type", "application/octet-stream")
            .header("content-length", length)
            .header("expect", "100-continue")
            .body(ureq::SendBody::from_owned_reader(body))
            .map_err(|error| CliError::failed(format!("cannot build the request to {url}: {error}")))?;
        let response = self
            .agent
            .run(request)
            .map_err(|error| self.transport_error(&url, error))?;
        let response = self.read(&url, response)?;
        typed(path, self.decode(&url, response)?)
    }

    /// GETs `path` into `out` as it arrives (no size cap: the caller chose the destination).
    pub fn download(&self, path: &str, out: &mut dyn std::io::Write) -> Result<u64, CliError> {
        let url = self.url(path);
        let response = self
            .agent
            .run(self.build(&url, self.request("GET", &url), ())?)
            .map_err(|error| self.transport_error(&url, error))?;
        if !response.status().is_success() {
            let response = self.read(&url, response)?;
            return self.decode(&url, response).map(|_| 0);
        }
        let mut body = response.into_body();
        std::io::copy(&mut body.as_reader(), out)
            .map_err(|error| CliError::failed(format!("downloading {url} failed: {error}")))
    }

    /// GETs `path` as a stream of server-sent events and returns its lines
    /// as they arrive (without their line ends); the iterator ends when the
    /// server closes the stream. An answer other than 2xx is decoded as an error.
    pub fn stream_lines(
        &self,
        path: &str,
    ) -> Result<impl Iterator<Item = Result<String, CliError>> + use<>, CliError> {
        use std::io::BufRead as _;
        let url = self.url(path);
        let builder = self.request("GET", &url).header("accept", "text/event-stream");
        let response = self
            .agent
            .run(self.build(&url, builder, ())?)
            .map_err(|error| self.transport_error(&url, error))?;
        if !response.status().is_success() {
            let response = self.read(&url, response)?;
            self.decode(&url, response)?;
            return Err(CliError::failed(format!("{url} did not open a stream")));
        }
        let reader = std::io::BufReader::new(response.into_body().into_reader());
        Ok(reader.lines().map(move |line| {
            line.map(|line| line.trim_end_matches('\r').to_owned())
                .map_err(|error| CliError::failed(format!("reading the stream from {url} failed: {error}")))
        }))
    }

    /// Sends any request and returns the answer whatever its status: the data plane.
    pub fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: Option<Vec<u8>>,
    ) -> Result<RawResponse, CliError> {
        let url = self.url(path);
        let mut builder = self.request(method, &url);
        for (name, value) in headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let response = match body {
            Some(body) => self.agent.run(self.build(&url, builder, body)?),
            None => self.agent.run(self.build(&url, builder, ())?),
        }
        .map_err(|error| self.transport_error(&url, error))?;
        self.read(&url, response)
    }

    fn json_call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, CliError> {
        let url = self.url(path);
        let builder = self.request(method, &url);
        let response = match body {
            Some(body) => {
                let builder = builder.header("content-type", "application/json");
                self.agent.run(self.build(&url, builder, body.to_string())?)
            }
            None => self.agent.run(self.build(&url, builder, ())?),
        }
        .map_err(|error| self.transport_error(&url, error))?;
        let response = self.read(&url, response)?;
        self.decode(&url, response)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.server, path.trim_start_matches('/'))
    }

    fn request(&self, method: &str, url: &str) -> http::request::Builder {
        let mut builder = Request::builder()
            .method(method)
            .uri(url)
            .header("accept", "application/json");
        if let Some(token) = &self.token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        builder
    }

    fn build<B>(&self, url: &str, builder: http::request::Builder, body: B) -> Result<Request<B>, CliError> {
        builder
            .body(body)
            .map_err(|error| CliError::Usage(format!("cannot make a request to {url}: {error}")))
    }

    fn read(&self, url: &str, mut response: http::Response<ureq::Body>) -> Result<RawResponse, CliError> {
        let status = response.status();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned())))
            .collect();
        let body = response
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_vec()
            .map_err(|error| CliError::failed(format!("reading the answer from {url} failed: {error}")))?;
        Ok(RawResponse {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_owned(),
            headers,
            body,
        })
    }

    /// The JSON body of a 2xx answer, or the decoded error of any other.
    fn decode(&self, url: &str, response: RawResponse) -> Result<Value, CliError> {
        if !(200..300).contains(&response.status) {
            let mut error = ApiError::from_response(response.status, &response.reason, &response.body);
            if response.status == 401 {
                error.hint = Some(match self.token {
                    None => "this needs a token: pass --token or set MODHOST_TOKEN".into(),
                    Some(_) => "the token was refused: check --token / MODHOST_TOKEN".into(),
                });
            }
            return Err(CliError::Api(Box::new(error)));
        }
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&response.body).map_err(|error| {
            CliError::failed(format!(
                "{url} answered {} with a body that is not JSON ({error}); is --server a modhost server?",
                response.status
            ))
        })
    }

    fn transport_error(&self, url: &str, error: ureq::Error) -> CliError {
        use std::io::ErrorKind;
        let unreachable = match &error {
            ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => true,
            ureq::Error::Timeout(timeout) => {
                matches!(timeout, ureq::Timeout::Connect | ureq::Timeout::Resolve)
            }
            // Failures once connected (a dropped connection, our body reader
            // failing) are not about reaching the server; the rest (refused,
            // unreachable, name lookup) are.
            ureq::Error::Io(io) => !matches!(
                io.kind(),
                ErrorKind::ConnectionReset
                    | ErrorKind::ConnectionAborted
                    | ErrorKind::BrokenPipe
                    | ErrorKind::UnexpectedEof
                    | ErrorKind::InvalidData
                    | ErrorKind::WriteZero
                    | ErrorKind::TimedOut
                    | ErrorKind::NotFound
                    | ErrorKind::PermissionDenied
            ),
            _ => false,
        };
        if unreachable {
            let reason = match &error {
                ureq::Error::Io(io) => io.to_string().to_lowercase(),
                other => other.to_string(),
            };
            CliError::Unreachable {
                server: self.server.clone(),
                reason,
            }
        } else if matches!(error, ureq::Error::BadUri(_) | ureq::Error::Http(_)) {
            CliError::Usage(format!("cannot make a request to {url}: {error}"))
        } else {
            CliError::Failed {
                message: format!("the request to {url} failed: {error}"),
                details: Vec::new(),
            }
        }
    }
}

/// A 2xx answer decoded as the API type `T`.
pub fn typed<T: DeserializeOwned>(path: &str, value: Value) -> Result<T, CliError> {
    serde_json::from_value(value).map_err(|error| {
        CliError::failed(format!(
            "the answer to {path} is not what this modhost expects ({error}); use a CLI of the server's version"
        ))
    })
}

/// An API request type as JSON.
fn request_json(body: &impl Serialize) -> Result<Value, CliError> {
    serde_json::to_value(body)
        .map_err(|error| CliError::failed(format!("cannot encode the request body: {error}")))
}

/// A path from segments, each percent-encoded: `["v1", "tenants", id]` → `/v1/tenants/<id>`.
pub fn path(segments: &[&str]) -> String {
    segments.iter().fold(String::new(), |mut path, segment| {
        path.push('/');
        path.push_str(&encode(segment));
        path
    })
}

/// `path` followed by a query string of the pairs that have a value (none: no `?`).
pub fn with_query(path: &str, pairs: &[(&str, Option<String>)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter_map(|(key, value)| {
            value
                .as_ref()
                .map(|value| format!("{}={}", encode(key), encode(value)))
        })
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::thread;

    use super::*;

    #[test]
    fn paths_and_queries_are_encoded() {
        assert_eq!(path(&["v1", "tenants", "banban"]), "/v1/tenants/banban");
        assert_eq!(path(&["v1", "tenants", "a/b c?"]), "/v1/tenants/a%2Fb%20c%3F");
        assert_eq!(
            with_query("/v1/modules", &[("module", None), ("tenant", None)]),
            "/v1/modules"
        );
        assert_eq!(
            with_query(
                "/v1/audit",
                &[("tenant", Some("a&b".into())), ("limit", Some("5".into()))]
            ),
            "/v1/audit?tenant=a%26b&limit=5"
        );
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn server_urls_are_checked() {
        assert!(matches!(
            Client::new("localhost:8080", None),
            Err(CliError::Usage(_))
        ));
        assert!(matches!(Client::new("http://", None), Err(CliError::Usage(_))));
        assert!(matches!(
            Client::new("http://x", Some("a\nb".into())),
            Err(CliError::Usage(_))
        ));
        let client = Client::new("http://127.0.0.1:9/", Some("  ".into())).unwrap();
        assert_eq!(client.server, "http://127.0.0.1:9");
        assert_eq!(client.url("/v1/status"), "http://127.0.0.1:9/v1/status");
    }

    /// Serves one request on a loopback port with `answer`, returning the request's bytes.
    fn serve_once(answer: &'static str) -> (String, thread::JoinHandle<Vec<u8>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let handle = thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = Vec::new();
            let mut content_length = 0_usize;
            let mut expects_continue = false;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                head.extend_from_slice(line.as_bytes());
                let lower = line.to_ascii_lowercase();
                if let Some(value) = lower.strip_prefix("content-length:") {
                    content_length = value.trim().parse().unwrap();
                }
                if lower.starts_with("expect: 100-continue") {
                    expects_continue = true;
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut stream = stream;
            if expects_continue {
                stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap();
            }
            let mut body = vec![0; content_length];
            reader.read_exact(&mut body).unwrap();
            head.extend_from_slice(&body);
            stream.write_all(answer.as_bytes()).unwrap();
            head
        });
        (format!("http://{address}"), handle)
    }

    #[test]
    fn sends_the_token_and_decodes_json() {
        let (server, handle) = serve_once(
            "HTTP/1.1 201 Created\r\ncontent-type: application/json\r\ncontent-length: 11\r\nconnection: close\r\n\r\n{\"id\":\"t\"}\n",
        );
        let client = Client::new(&server, Some("mh_secret".into())).unwrap();
        let answer = client
            .post("/v1/tenants", &serde_json::json!({"id": "t"}))
            .unwrap();
        assert_eq!(answer, serde_json::json!({"id": "t"}));
        let request = String::from_utf8(handle.join().unwrap()).unwrap();
        assert!(request.starts_with("POST /v1/tenants HTTP/1.1\r\n"), "{request}");
        assert!(
            request.contains("authorization: Bearer mh_secret\r\n"),
            "{request}"
        );
        assert!(
            request.contains("content-type: application/json\r\n"),
            "{request}"
        );
        assert!(request.ends_with("{\"id\":\"t\"}"), "{request}");
    }

    #[test]
    fn error_answers_become_api_errors_with_a_token_hint() {
        let body = r#"{"error":{"code":"unauthorized","message":"a valid token is required"}}"#;
        let answer: &'static str = Box::leak(
            format!(
                "HTTP/1.1 401 Unauthorized\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        );
        let (server, handle) = serve_once(answer);
        let client = Client::new(&server, None).unwrap();
        let Err(CliError::Api(error)) = client.get("/v1/tenants") else {
            panic!("expected an API error");
        };
        handle.join().unwrap();
        assert_eq!(error.status, 401);
        assert_eq!(error.code.as_deref(), Some("unauthorized"));
        assert_eq!(
            error.render(),
            "error: a valid token is required\nhint: this needs a token: pass --token or set MODHOST_TOKEN"
        );
    }

    #[test]
    fn uploads_stream_a_multipart_body_with_its_length() {
        let (server, handle) = serve_once(
            "HTTP/1.1 201 Created\r\ncontent-length: 16\r\nconnection: close\r\n\r\n{\"created\":true}",
        );
        let client = Client::new(&server, None).unwrap();
        let multipart = Multipart::new("BOUND", "manifest_version = 1\n", "m.wasm", 4);
        let length = multipart.content_length();
        let (status, answer) = client
            .upload(
                "/v1/modules?owner=acme",
                multipart,
                std::io::Cursor::new(b"\0asm".to_vec()),
            )
            .unwrap();
        assert_eq!(status, 201);
        assert_eq!(answer["created"], true);
        let request = handle.join().unwrap();
        let text = String::from_utf8_lossy(&request);
        assert!(
            text.starts_with("POST /v1/modules?owner=acme HTTP/1.1\r\n"),
            "{text}"
        );
        assert!(
            text.contains("content-type: multipart/form-data; boundary=BOUND\r\n"),
            "{text}"
        );
        assert!(text.contains(&format!("content-length: {length}\r\n")), "{text}");
        assert!(!text.contains("transfer-encoding"), "{text}");
        assert!(text.ends_with("\0asm\r\n--BOUND--\r\n"), "{text}");
    }

    #[test]
    fn a_refused_connection_says_which_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        drop(listener);
        let client = Client::new(&format!("http://{address}"), None).unwrap();
        let error = client.get("/v1/status").unwrap_err();
        assert!(matches!(error, CliError::Unreachable { .. }), "{error:?}");
        assert!(error.render().contains(&format!("http://{address}")));
    }
}
