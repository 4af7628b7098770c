//! `CliError`: every way a command fails, how it is shown on stderr and which exit code it gives.

use std::fmt::Write as _;

use serde_json::Value;

/// Why a command failed.
#[derive(Debug)]
pub enum CliError {
    /// The arguments or the input the user gave cannot work (exit code 2).
    Usage(String),
    /// The server answered with an error status.
    Api(Box<ApiError>),
    /// No connection to the server could be made.
    Unreachable {
        /// The server's base URL.
        server: String,
        /// What went wrong, from the HTTP client.
        reason: String,
    },
    /// Anything else: local files, broken connections, unexpected answers.
    Failed {
        /// One line, lower case.
        message: String,
        /// Further lines, each shown indented.
        details: Vec<String>,
    },
}

impl CliError {
    /// A failure with just a message.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed {
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// The process exit code: 2 for usage errors, 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Api(_) | Self::Unreachable { .. } | Self::Failed { .. } => 1,
        }
    }

    /// The text for stderr: `error: <message>`, then one indented line per detail.
    pub fn render(&self) -> String {
        match self {
            Self::Usage(message) => format!("error: {message}"),
            Self::Api(error) => error.render(),
            Self::Unreachable { server, reason } => format!(
                "error: could not reach the modhost server at {server}: {reason}\n\
                 hint: start one with `modhost serve`, or point --server (or MODHOST_URL) at a running one"
            ),
            Self::Failed { message, details } => {
                let mut text = format!("error: {message}");
                for detail in details {
                    let _ = write!(text, "\n  {detail}");
                }
                text
            }
        }
    }
}

/// An error answer from the server, decoded from `{"error": {"code", "message", "problems"?}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The machine-readable code, e.g. `upload-rejected`; `None` if the body was not a modhost error.
    pub code: Option<String>,
    /// The server's message (or a description of the status when the body had none).
    pub message: String,
    /// Each problem, rendered as one line.
    pub problems: Vec<String>,
    /// A suggestion of ours, shown last.
    pub hint: Option<String>,
    /// The body as JSON, when it was JSON (printed on stdout with `--json`).
    pub body: Option<Value>,
}

impl ApiError {
    /// Decodes an error answer. `reason` is the status's canonical reason, used
    /// when the body is not a modhost JSON error.
    pub fn from_response(status: u16, reason: &str, body: &[u8]) -> Self {
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let error = json.as_ref().and_then(|json| json.get("error"));
        let code = error
            .and_then(|error| error.get("code"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let message = error
            .and_then(|error| error.get("message"))
            .and_then(Value::as_str);
        let message = match message {
            Some(message) => message.to_owned(),
            None => {
                let text = String::from_utf8_lossy(body);
                let text = text.trim();
                let status_text = format!("the server answered {status} {reason}")
                    .trim_end()
                    .to_owned();
                if text.is_empty() || json.is_some() {
                    status_text
                } else {
                    format!("{status_text}: {}", shorten(text, 200))
                }
            }
        };
        let problems = error
            .and_then(|error| error.get("problems"))
            .and_then(Value::as_array)
            .map(|problems| problems.iter().flat_map(problem_lines).collect())
            .unwrap_or_default();
        Self {
            status,
            code,
            message,
            problems,
            hint: None,
            body: json,
        }
    }

    /// `error: <message>`, one indented line per problem, then the hint.
    pub fn render(&self) -> String {
        let mut text = format!("error: {}", self.message);
        for problem in &self.problems {
            let _ = write!(text, "\n  {problem}");
        }
        if let Some(hint) = &self.hint {
            let _ = write!(text, "\nhint: {hint}");
        }
        text
    }
}

/// Renders one entry of `problems` as lines. Upload problems are
/// `{"check","message"}`, config problems `{"field","message"}`, deployment
/// problems `{"kind", ...fields}`; anything else is shown as compact JSON.
pub fn problem_lines(problem: &Value) -> Vec<String> {
    let Some(object) = problem.as_object() else {
        return vec![plain(problem)];
    };
    let label = ["check", "field", "kind"]
        .iter()
        .find_map(|key| object.get(*key).and_then(Value::as_str));
    let mut lines = Vec::new();
    let head = match object.get("message").and_then(Value::as_str) {
        Some(message) => message.to_owned(),
        None => object
            .iter()
            .filter(|(key, value)| {
                let labelled = matches!(key.as_str(), "check" | "field" | "kind");
                let nested = key.as_str() == "problems" && value.is_array();
                !labelled && !nested
            })
            .map(|(key, value)| format!("{key} {}", plain(value)))
            .collect::<Vec<_>>()
            .join(", "),
    };
    lines.push(match (label, head.is_empty()) {
        (Some(label), false) => format!("{label}: {head}"),
        (Some(label), true) => label.to_owned(),
        (None, _) => head,
    });
    if let Some(nested) = object.get("problems").and_then(Value::as_array) {
        lines.extend(
            nested
                .iter()
                .flat_map(problem_lines)
                .map(|line| format!("  {line}")),
        );
    }
    lines
}

/// A JSON value as a person reads it: strings bare, `null` as `none`, the rest compact JSON.
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "none".to_owned(),
        other => other.to_string(),
    }
}

/// At most `max` characters of `text`, with `…` when cut.
fn shorten(text: &str, max: usize) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(max).collect();
    if chars.next().is_some() {
        format!("{head}…")
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_message_and_each_upload_problem() {
        let body = br#"{"error":{"code":"upload-rejected","message":"the upload failed 2 checks","problems":[
            {"check":"sha256","message":"the manifest says abc, the component is def"},
            {"check":"interface","message":"the component does not export `handler`"}]}}"#;
        let error = ApiError::from_response(422, "Unprocessable Entity", body);
        assert_eq!(error.code.as_deref(), Some("upload-rejected"));
        assert_eq!(
            CliError::Api(Box::new(error)).render(),
            "error: the upload failed 2 checks\n  \
             sha256: the manifest says abc, the component is def\n  \
             interface: the component does not export `handler`"
        );
    }

    #[test]
    fn renders_config_and_deployment_problems() {
        let body = br#"{"error":{"code":"deployment-blocked","message":"the promotion is blocked","problems":[
            {"kind":"dependency-missing","dependency":"analytics","requirement":"^1.0","active":null},
            {"kind":"config-invalid","problems":[{"field":"config.threshold","message":"must be at least 0"}]},
            "a plain string"]}}"#;
        let error = ApiError::from_response(409, "Conflict", body);
        assert_eq!(
            error.problems,
            vec![
                "dependency-missing: active none, dependency analytics, requirement ^1.0",
                "config-invalid",
                "  config.threshold: must be at least 0",
                "a plain string",
            ]
        );
    }

    #[test]
    fn error_without_problems_is_one_line() {
        let body = br#"{"error":{"code":"not-found","message":"tenant `acme` does not exist"}}"#;
        let error = ApiError::from_response(404, "Not Found", body);
        assert_eq!(error.render(), "error: tenant `acme` does not exist");
        assert!(error.problems.is_empty());
    }

    #[test]
    fn non_json_body_names_the_status() {
        let error = ApiError::from_response(502, "Bad Gateway", b"<html>upstream down</html>\n");
        assert_eq!(error.code, None);
        assert_eq!(
            error.render(),
            "error: the server answered 502 Bad Gateway: <html>upstream down</html>"
        );
        let empty = ApiError::from_response(500, "Internal Server Error", b"");
        assert_eq!(
            empty.render(),
            "error: the server answered 500 Internal Server Error"
        );
        let other_json = ApiError::from_response(400, "Bad Request", br#"{"detail":"x"}"#);
        assert_eq!(other_json.render(), "error: the server answered 400 Bad Request");
        assert!(other_json.body.is_some());
    }

    #[test]
    fn hint_comes_last() {
        let mut error = ApiError::from_response(
            401,
            "Unauthorized",
            br#"{"error":{"code":"unauthorized","message":"a valid token is required"}}"#,
        );
        error.hint = Some("pass --token or set MODHOST_TOKEN".into());
        assert_eq!(
            error.render(),
            "error: a valid token is required\nhint: pass --token or set MODHOST_TOKEN"
        );
    }

    #[test]
    fn exit_codes() {
        assert_eq!(CliError::Usage("x".into()).exit_code(), 2);
        assert_eq!(CliError::failed("x").exit_code(), 1);
        let unreachable = CliError::Unreachable {
            server: "http://127.0.0.1:8080".into(),
            reason: "connection refused".into(),
        };
        assert_eq!(unreachable.exit_code(), 1);
        let text = unreachable.render();
        assert!(text.starts_with("error: could not reach the modhost server at http://127.0.0.1:8080"));
        assert!(text.contains("modhost serve"));
        assert!(text.contains("--server"));
    }
}
