//! Real notification receivers on loopback for tests: an HTTP receiver (webhook or Slack format) and an SMTP server (mailin-embedded).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request an HTTP receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Header names lower-cased, with their values.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The status the receiver answered.
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// An HTTP/1.1 server that records every request and answers `200`, or
/// `503` while it is set down.
pub struct HttpReceiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    up: Arc<AtomicBool>,
}

impl HttpReceiver {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("free port");
        Self::on(listener)
    }

    /// A receiver on `listener` (e.g. a port chosen before it was listening).
    pub fn on(listener: TcpListener) -> Self {
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let up = Arc::new(AtomicBool::new(true));
        let (log, state) = (received.clone(), up.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let (log, state) = (log.clone(), state.clone());
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut line = String::new();
                    if reader.read_line(&mut line).is_err() {
                        return;
                    }
                    let mut headers = Vec::new();
                    loop {
                        let mut header = String::new();
                        if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                            break;
                        }
                        if let Some((name, value)) = header.split_once(':') {
                            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
                        }
                    }
                    let length = headers
                        .iter()
                        .find(|(name, _)| name == "content-length")
                        .and_then(|(_, value)| value.parse::<usize>().ok())
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    let answered = if state.load(Ordering::SeqCst) { 200 } else { 503 };
                    log.lock().expect("log").push(Received {
                        headers,
                        body,
                        answered,
                    });
                    let reason = if answered == 200 {
                        "OK"
                    } else {
                        "Service Unavailable"
                    };
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {answered} {reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                });
            }
        });
        Self { url, received, up }
    }

    /// Answer `200` (up) or `503` (down) from now on.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::SeqCst);
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("log").clone()
    }

    /// The requests it accepted (answered `200`).
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|received| received.answered == 200)
            .collect()
    }

    /// Waits until `check` holds on the accepted requests (at most `limit`).
    pub fn wait_for(&self, limit: Duration, check: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let accepted = self.accepted();
            if check(&accepted) || started.elapsed() > limit {
                return accepted;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// One email the SMTP server received.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Clone)]
struct MailHandler {
    current: Mail,
    delivered: Arc<Mutex<Vec<Mail>>>,
}

impl mailin_embedded::Handler for MailHandler {
    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, from: &str) -> mailin_embedded::Response {
        self.current = Mail {
            from: from.to_owned(),
            ..Mail::default()
        };
        mailin_embedded::response::OK
    }

    fn rcpt(&mut self, to: &str) -> mailin_embedded::Response {
        self.current.to.push(to.to_owned());
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.data.push_str(&String::from_utf8_lossy(buf));
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        self.delivered
            .lock()
            .expect("mails")
            .push(std::mem::take(&mut self.current));
        mailin_embedded::response::OK
    }
}

/// A real SMTP server (mailin-embedded) on a free loopback port, without TLS.
pub struct SmtpReceiver {
    pub port: u16,
    delivered: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpReceiver {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("free port");
        let port = listener.local_addr().expect("address").port();
        let delivered = Arc::new(Mutex::new(Vec::new()));
        let handler = MailHandler {
            current: Mail::default(),
            delivered: delivered.clone(),
        };
        std::thread::spawn(move || {
            let mut server = mailin_embedded::Server::new(handler);
            server
                .with_name("receiver.test")
                .with_ssl(mailin_embedded::SslConfig::None)
                .expect("no tls")
                .with_tcp_listener(listener);
            let _ = server.serve();
        });
        Self { port, delivered }
    }

    /// Waits until `check` holds on the mail received (at most `limit`).
    pub fn wait_for(&self, limit: Duration, check: impl Fn(&[Mail]) -> bool) -> Vec<Mail> {
        let started = Instant::now();
        loop {
            let mails = self.delivered.lock().expect("mails").clone();
            if check(&mails) || started.elapsed() > limit {
                return mails;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
