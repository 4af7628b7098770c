//! `[alerts]` in `modhost.toml`: how often rules are judged, where notifications may go, how deliveries retry, the SMTP server.

use std::time::Duration;

use serde::Deserialize;

/// The alerting settings. Every field is optional in the file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// How often every rule is judged, in milliseconds.
    pub eval_interval_ms: u64,
    /// Write the default rules (see the README) on a host that never had them.
    pub default_rules: bool,
    /// Where webhook and Slack channels may send: origins such as
    /// `https://hooks.slack.com` or `http://127.0.0.1:9000`; a port of `*`
    /// allows every port of the host. Empty: no webhook or Slack channel can be added.
    pub allowed_targets: Vec<String>,
    /// Which email domains email channels may send to (`*`: any). Empty: no email channel can be added.
    pub allowed_email_domains: Vec<String>,
    /// The first retry of a failed delivery waits this long, in milliseconds;
    /// each later one twice as long (with ±20% jitter), up to `retry_max_ms`.
    pub retry_base_ms: u64,
    /// The longest wait between two attempts, in milliseconds.
    pub retry_max_ms: u64,
    /// A delivery still failing this long after it was made is given up (and audited), in seconds.
    pub give_up_secs: u64,
    /// How long one attempt may take, in milliseconds.
    pub attempt_timeout_ms: u64,
    /// Resolved alerts and finished deliveries are kept this many days.
    pub history_days: u64,
    /// The SMTP server email channels send through; without it no email channel can be added.
    pub smtp: Option<SmtpConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            eval_interval_ms: 5_000,
            default_rules: true,
            allowed_targets: Vec::new(),
            allowed_email_domains: Vec::new(),
            retry_base_ms: 1_000,
            retry_max_ms: 300_000,
            give_up_secs: 86_400,
            attempt_timeout_ms: 10_000,
            history_days: 30,
            smtp: None,
        }
    }
}

/// `[alerts.smtp]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The server's host name (also the name its certificate is checked against).
    pub host: String,
    /// Its port.
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    /// The sender address.
    pub from: String,
    /// `starttls` (the default: upgrade when the server offers it, with the
    /// certificate checked), `required` (refuse a server that does not
    /// offer it) or `none` (plain text; loopback test servers only).
    #[serde(default)]
    pub tls: SmtpTls,
    /// A user name, when the server wants one.
    pub username: Option<String>,
    /// Its password.
    pub password: Option<String>,
}

fn default_smtp_port() -> u16 {
    587
}

/// How email reaches the SMTP server.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SmtpTls {
    /// STARTTLS when offered.
    #[default]
    Starttls,
    /// STARTTLS or nothing.
    Required,
    /// Plain text.
    None,
}

impl AlertsConfig {
    /// How often rules are judged.
    pub fn eval_interval(&self) -> Duration {
        Duration::from_millis(self.eval_interval_ms.max(50))
    }

    /// Refuses values that parse but make no sense.
    pub fn check(&self) -> Result<(), String> {
        if self.retry_base_ms == 0 || self.retry_max_ms < self.retry_base_ms {
            return Err(
                "`alerts.retry_base_ms` must be at least 1 and at most `alerts.retry_max_ms`".to_owned(),
            );
        }
        if self.attempt_timeout_ms == 0 {
            return Err("`alerts.attempt_timeout_ms` must be at least 1".to_owned());
        }
        for origin in &self.allowed_targets {
            Origin::parse(origin).map_err(|problem| {
                format!("`alerts.allowed_targets` entry `{origin}` {problem}; write it as https://host or http://host:port")
            })?;
        }
        Ok(())
    }

    /// Refuses a webhook or Slack URL no allowed origin covers, saying why.
    pub fn check_url(&self, url: &str) -> Result<(), String> {
        let target = Origin::parse(url).map_err(|problem| format!("the url {problem}"))?;
        if self
            .allowed_targets
            .iter()
            .filter_map(|allowed| Origin::parse(allowed).ok())
            .any(|allowed| allowed.covers(&target))
        {
            Ok(())
        } else {
            Err(format!(
                "{}://{}:{} is not an allowed notification target; ask the operator to add it to `alerts.allowed_targets`",
                target.scheme,
                target.host,
                target.port.unwrap_or(0)
            ))
        }
    }

    /// Refuses an email recipient outside the allowed domains, or when no SMTP server is configured.
    pub fn check_recipient(&self, address: &str) -> Result<(), String> {
        if self.smtp.is_none() {
            return Err(
                "email is not configured on this host; ask the operator to set `[alerts.smtp]`".to_owned(),
            );
        }
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Err(format!("`{}` is not an email address", clip(address)));
        };
        if local.is_empty()
            || domain.is_empty()
            || address.len() > 254
            || address
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'))
        {
            return Err(format!("`{}` is not an email address", clip(address)));
        }
        let domain = domain.to_ascii_lowercase();
        if self
            .allowed_email_domains
            .iter()
            .any(|allowed| allowed == "*" || allowed.eq_ignore_ascii_case(&domain))
        {
            Ok(())
        } else {
            Err(format!(
                "{domain} is not an allowed email domain; ask the operator to add it to `alerts.allowed_email_domains`"
            ))
        }
    }
}

fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

/// A URL's scheme, host and port: what the allow list compares.
#[derive(Debug, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: String,
    /// `None`: any port (`*` in an allow-list entry).
    port: Option<u16>,
}

impl Origin {
    fn parse(url: &str) -> Result<Self, &'static str> {
        let (scheme, rest) = url.split_once("://").ok_or("has no scheme")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err("must start with http:// or https://"),
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err("must not carry a user name or password");
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, "*")) => (host, None),
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
                let port: u16 = port.parse().map_err(|_| "has an invalid port")?;
                (host, Some(port))
            }
            _ => (authority, Some(default_port)),
        };
        if host.is_empty() {
            return Err("has no host");
        }
        Ok(Self {
            scheme,
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    fn covers(&self, target: &Origin) -> bool {
        self.scheme == target.scheme
            && self.host == target.host
            && (self.port.is_none() || self.port == target.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowing(targets: &[&str]) -> AlertsConfig {
        AlertsConfig {
            allowed_targets: targets.iter().map(|target| (*target).to_owned()).collect(),
            ..AlertsConfig::default()
        }
    }

    #[test]
    fn only_allowed_origins_pass() {
        let config = allowing(&["https://hooks.slack.com", "http://127.0.0.1:*"]);
        assert_eq!(config.check(), Ok(()));
        assert_eq!(
            config.check_url("https://hooks.slack.com/services/T0/B0/x"),
            Ok(())
        );
        assert_eq!(config.check_url("http://127.0.0.1:9123/hook"), Ok(()));
        assert_eq!(
            config.check_url("http://hooks.slack.com/services"),
            Err("http://hooks.slack.com:80 is not an allowed notification target; ask the operator to add it to `alerts.allowed_targets`".to_owned())
        );
        assert_eq!(
            config.check_url("https://hooks.slack.com:8443/x").map_err(|_| ()),
            Err(())
        );
        assert_eq!(
            config.check_url("https://evil.example@hooks.slack.com/x"),
            Err("the url must not carry a user name or password".to_owned())
        );
        assert_eq!(
            config.check_url("file:///etc/passwd"),
            Err("the url must start with http:// or https://".to_owned())
        );
        assert_eq!(
            config.check_url("127.0.0.1:70/hook"),
            Err("the url has no scheme".to_owned())
        );
        assert_eq!(
            allowing(&[])
                .check_url("https://hooks.slack.com/x")
                .map_err(|_| ()),
            Err(())
        );
    }

    #[test]
    fn recipients_need_smtp_and_an_allowed_domain() {
        let mut config = AlertsConfig::default();
        assert_eq!(
            config.check_recipient("ops@example.com"),
            Err("email is not configured on this host; ask the operator to set `[alerts.smtp]`".to_owned())
        );
        config.smtp = Some(SmtpConfig {
            host: "localhost".into(),
            port: 25,
            from: "modhost@example.com".into(),
            tls: SmtpTls::None,
            username: None,
            password: None,
        });
        config.allowed_email_domains = vec!["example.com".into()];
        assert_eq!(config.check_recipient("ops@Example.com"), Ok(()));
        assert!(config.check_recipient("ops@elsewhere.org").is_err());
        assert_eq!(
            config.check_recipient("a@b.com>, x@example.com"),
            Err("`a@b.com>, x@example.com` is not an email address".to_owned())
        );
    }
}
