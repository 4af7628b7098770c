//! A real server on a free port, over a temp data dir, with a real HTTP client.

#![allow(dead_code, reason = "each test file uses a different subset")]

pub mod receivers;

use modhost_registry::{NewToken, Registry, RegistryConfig, Role};
use modhost_server::ServerConfig;

pub struct Server {
    pub url: String,
    pub operator: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Self {
        Self::start_with(|_| {})
    }

    /// A server whose config `configure` adjusts first.
    pub fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let operator = {
            let registry = Registry::open(
                dir.path().join("data").join("registry"),
                RegistryConfig::default(),
            )
            .expect("registry");
            let new = NewToken {
                name: "test operator".into(),
                role: Role::Operator,
                tenant: None,
                permissions: None,
            };
            registry.create_token(new, "test").expect("operator token").1
        };
        Self::start_in(dir, operator, configure)
    }

    /// Stops this server and starts a new one on the same data directory,
    /// with the default test config adjusted by `configure`.
    pub fn restart(mut self, configure: impl FnOnce(&mut ServerConfig)) -> Self {
        self.stop();
        let dir = tempfile::tempdir().expect("temp dir");
        let dir = std::mem::replace(&mut self._dir, dir);
        Self::start_in(dir, self.operator.clone(), configure)
    }

    fn start_in(dir: tempfile::TempDir, operator: String, configure: impl FnOnce(&mut ServerConfig)) -> Self {
        let data_dir = dir.path().join("data");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        listener.set_nonblocking(true).expect("nonblocking");
        let mut config = ServerConfig {
            data_dir,
            max_request_body_bytes: 64 * 1024,
            ..ServerConfig::default()
        };
        configure(&mut config);
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                modhost_server::serve_on(listener, config, async move {
                    let _ = stopped.await;
                })
                .await
                .expect("server");
            });
        });
        let server = Self {
            url,
            operator,
            shutdown: Some(shutdown),
            thread: Some(thread),
            _dir: dir,
        };
        for _ in 0..200 {
            if server.get("/healthz", None).0 == 200 {
                return server;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("the server did not come up");
    }

    fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self._dir.path().join("data")
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into()
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let (status, bytes) = self.raw(
            method,
            path,
            token,
            body.map(|body| {
                (
                    "application/json".to_owned(),
                    serde_json::to_vec(body).expect("json"),
                )
            }),
        );
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    pub fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(String, Vec<u8>)>,
    ) -> (u16, Vec<u8>) {
        let uri = format!("{}{path}", self.url);
        let mut request = ureq::http::Request::builder().method(method).uri(&uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some((content_type, bytes)) => request.header("content-type", content_type).body(bytes),
            None => request.body(Vec::new()),
        }
        .expect("request");
        let mut response = Self::agent()
            .run(request)
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"));
        let status = response.status().as_u16();
        let bytes = response.body_mut().read_to_vec().expect("body");
        (status, bytes)
    }

    /// A GET with `token` and extra `headers`: the status, the value of the
    /// answer's `header` (empty if absent) and the JSON body (null if none).
    pub fn get_with(
        &self,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        header: &str,
    ) -> (u16, String, serde_json::Value) {
        let mut request = Self::agent()
            .get(format!("{}{path}", self.url))
            .header("authorization", format!("Bearer {token}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = request
            .call()
            .unwrap_or_else(|error| panic!("GET {path}: {error}"));
        let value = response
            .headers()
            .get(header)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let status = response.status().as_u16();
        let body = serde_json::from_slice(&response.body_mut().read_to_vec().expect("body"))
            .unwrap_or(serde_json::Value::Null);
        (status, value, body)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
        self.request("GET", path, token, None)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.request("POST", path, token, Some(&body))
    }

    /// Uploads a module (multipart) and returns status and body.
    pub fn push(
        &self,
        token: &str,
        manifest: &str,
        component: &[u8],
        owner: Option<&str>,
    ) -> (u16, serde_json::Value) {
        let boundary = "modhost-test-boundary";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!("--{boundary}\r\ncontent-disposition: form-data; name=\"manifest\"\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(manifest.as_bytes());
        body.extend_from_slice(format!("\r\n--{boundary}\r\ncontent-disposition: form-data; name=\"component\"; filename=\"c.wasm\"\r\ncontent-type: application/wasm\r\n\r\n").as_bytes());
        body.extend_from_slice(component);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let path = owner.map_or_else(
            || "/v1/modules".to_owned(),
            |owner| format!("/v1/modules?owner={owner}"),
        );
        let (status, bytes) = self.raw(
            "POST",
            &path,
            Some(token),
            Some((format!("multipart/form-data; boundary={boundary}"), body)),
        );
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    pub fn token(&self, role: &str, tenant: Option<&str>) -> String {
        let (status, body) = self.post(
            "/v1/tokens",
            Some(&self.operator.clone()),
            serde_json::json!({"name": format!("{role} token"), "role": role, "tenant": tenant}),
        );
        assert_eq!(status, 201, "{body}");
        body["token"].as_str().expect("secret").to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

pub use modhost_testkit::built;

/// The template republished as `version` with distinct bytes.
pub fn template_version(version: &str) -> (String, Vec<u8>) {
    modhost_testkit::variant("template@0.1.0", version)
}

/// chaos republished as `version` whose `/flaky` answers `status` (the
/// manifest's default for `flaky_status`): a version that fails in traffic.
pub fn flaky_chaos(version: &str, status: u16) -> (String, Vec<u8>) {
    let (manifest, component) = modhost_testkit::variant("chaos@1.0.0", version);
    let field = "type = \"int\"\ndefault = 200";
    assert!(manifest.contains(field), "chaos declares flaky_status");
    (
        manifest.replacen(field, &format!("type = \"int\"\ndefault = {status}"), 1),
        component,
    )
}
