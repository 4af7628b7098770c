//! The real `modhost` binary as a server on a free port with a temp data dir, and its CLI pointed at it.

#![allow(dead_code, reason = "each test file uses part of the harness")]

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const BINARY: &str = env!("CARGO_BIN_EXE_modhost");

pub struct Host {
    child: Child,
    pub url: String,
    pub token: String,
    _dir: tempfile::TempDir,
}

impl Host {
    pub fn start() -> Self {
        Self::start_in(tempfile::tempdir().expect("temp dir"))
    }

    /// A server reading `config` as its `modhost.toml` (kept for restarts).
    pub fn start_with_config(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("modhost.toml"), config).expect("config");
        Self::start_in(dir)
    }

    /// Kills the server with SIGKILL (no shutdown at all) and starts a new one on the same data.
    pub fn kill_and_restart(mut self) -> Self {
        self.kill();
        self.restart()
    }

    /// Kills the server with SIGKILL.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }

    /// Starts a new server on the same data (after [`Host::kill`]).
    pub fn restart(mut self) -> Self {
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().expect("temp dir"));
        Self::start_in(dir)
    }

    pub fn start_in(dir: tempfile::TempDir) -> Self {
        Self::start_logging(dir, &[], "warn", Stdio::inherit())
    }

    /// A server whose log lines (at `rust_log`, in the format `serve_args` may
    /// choose) go to `stderr`.
    pub fn start_logging(dir: tempfile::TempDir, serve_args: &[&str], rust_log: &str, stderr: Stdio) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let token = format!("mh_{}", "e2e0".repeat(16));
        let mut serve = Command::new(BINARY);
        serve
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
            .arg(dir.path().join("data"))
            .args(serve_args);
        let config = dir.path().join("modhost.toml");
        if config.exists() {
            serve.arg("--config").arg(config);
        }
        let child = serve
            .env("MODHOST_ADMIN_TOKEN", &token)
            .env("RUST_LOG", rust_log)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("modhost serve starts");
        let host = Self {
            child,
            url,
            token,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if host.cli(&["status", "--json"]).status.success() {
                return host;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("modhost serve did not come up");
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(BINARY)
            .args(args)
            .env("MODHOST_URL", &self.url)
            .env("MODHOST_TOKEN", &self.token)
            .output()
            .expect("cli runs")
    }

    /// Runs a CLI command that must succeed and returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.cli(args);
        assert!(
            output.status.success(),
            "modhost {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("utf-8")
    }

    /// Pushes a module built into `target/modules` (`label` is `id@version`), for `owner` if given.
    pub fn push_built(&self, label: &str, owner: Option<&str>) {
        let dir = modhost_testkit::modules_dir().join(label);
        let mut args = vec!["module", "push", dir.to_str().expect("utf-8")];
        if let Some(owner) = owner {
            args.extend(["--owner", owner]);
        }
        assert_eq!(self.json(&args)["created"], true, "push {label}");
    }

    /// `modhost call ARGS…` that must succeed, its answer parsed as JSON.
    pub fn call_json(&self, args: &[&str]) -> serde_json::Value {
        let mut call = vec!["call"];
        call.extend_from_slice(args);
        serde_json::from_str(&self.ok(&call)).expect("a JSON answer")
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut with_json = vec!["--json"];
        with_json.extend_from_slice(args);
        serde_json::from_str(&self.ok(&with_json)).expect("json output")
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
