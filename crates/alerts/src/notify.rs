//! Notifications: what a delivery says (webhook JSON, Slack text, email) and sending it once, signed where the channel has a secret.
//!
//! A webhook receives `POST` with the JSON of [`payload`] and the headers
//! `x-modhost-event`, `x-modhost-idempotency-key` and
//! `x-modhost-signature: t=<unix seconds>,v1=<hex>`, where the hex is
//! HMAC-SHA256 with the channel's secret over `<t>.<body>`; [`verify`] is
//! the check a receiver makes (signature, and a timestamp no older than its
//! tolerance, against replays). Slack gets `{"text": …}`; email a plain-text
//! message whose `Message-ID` is the idempotency key. Redirects are not
//! followed (a redirect could leave the allow list); any 2xx is success.

use std::time::Duration;

use hmac::{Hmac, Mac as _};
use modhost_registry::{Channel, ChannelTarget, Delivery};
use serde_json::json;
use sha2::Sha256;

use crate::config::{AlertsConfig, SmtpTls};

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Worth trying again later (the receiver was down, slow or answered an error).
    Retry(String),
    /// Trying again cannot help (the channel is gone or no longer allowed).
    Permanent(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Retry(reason) | Self::Permanent(reason) => formatter.write_str(reason),
        }
    }
}

/// One line saying what happened.
pub fn text(delivery: &Delivery) -> String {
    match &delivery.alert {
        Some(alert) => format!(
            "{} [{}] {} on {}: {}",
            delivery.event.name().to_uppercase(),
            alert.severity.name(),
            alert.rule,
            alert.subject(),
            alert.summary
        ),
        None => format!(
            "TEST notification from modhost to channel `{}`: if you read this, the channel works",
            delivery.channel
        ),
    }
}

/// The JSON a webhook receives.
pub fn payload(delivery: &Delivery, sent_at_ms: u64) -> serde_json::Value {
    let alert = delivery.alert.as_ref().map(|alert| {
        json!({
            "id": alert.id,
            "rule": alert.rule,
            "rule_scope": alert.rule_tenant.as_deref().map_or("global", |_| "tenant"),
            "kind": alert.kind.name(),
            "tenant": alert.tenant,
            "module": alert.module,
            "subject": alert.subject(),
            "state": alert.state.name(),
            "severity": alert.severity.name(),
            "value": alert.value,
            "threshold": alert.threshold,
            "summary": alert.summary,
            "escalation": alert.escalation,
            "fired_at_ms": alert.fired_at_ms,
            "resolved_at_ms": alert.resolved_at_ms,
        })
    });
    json!({
        "idempotency_key": delivery.idempotency_key,
        "event": delivery.event.name(),
        "channel": delivery.channel,
        "sent_at_ms": sent_at_ms,
        "text": text(delivery),
        "alert": alert,
    })
}

/// The `x-modhost-signature` value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &str, timestamp: u64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", hex::encode(mac(secret, timestamp, body)))
}

fn mac(secret: &str, timestamp: u64, body: &[u8]) -> Vec<u8> {
    keyed(secret, timestamp, body).finalize().into_bytes().to_vec()
}

/// HMAC-SHA256 keyed with `secret`, fed `<timestamp>.<body>`.
fn keyed(secret: &str, timestamp: u64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length; the error case cannot happen.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| Hmac::<Sha256>::new(&Default::default()));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// A receiver's check of a signed body: the signature matches and was made
/// at most `tolerance` from `now_secs` (so an old captured request cannot be replayed).
pub fn verify(
    secret: &str,
    header: &str,
    body: &[u8],
    now_secs: u64,
    tolerance: Duration,
) -> Result<(), String> {
    let mut timestamp = None;
    let mut signature = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<u64>().ok(),
            Some(("v1", value)) => signature = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(timestamp), Some(signature)) = (timestamp, signature) else {
        return Err("the signature header is not `t=<seconds>,v1=<hex>`".to_owned());
    };
    if now_secs.abs_diff(timestamp) > tolerance.as_secs() {
        return Err(format!(
            "the signature was made at {timestamp}, too far from now ({now_secs})"
        ));
    }
    keyed(secret, timestamp, body)
        .verify_slice(&signature)
        .map_err(|_| "the signature does not match the body".to_owned())
}

/// Sends `delivery` through `channel` once.
pub fn send(
    delivery: &Delivery,
    channel: &Channel,
    config: &AlertsConfig,
    now_ms: u64,
) -> Result<(), SendError> {
    let timeout = Duration::from_millis(config.attempt_timeout_ms);
    match &channel.target {
        ChannelTarget::Webhook { url } => {
            config.check_url(url).map_err(SendError::Permanent)?;
            let body = serde_json::to_vec(&payload(delivery, now_ms))
                .map_err(|error| SendError::Permanent(format!("could not encode the payload: {error}")))?;
            let mut headers = vec![
                ("x-modhost-event", delivery.event.name().to_owned()),
                ("x-modhost-idempotency-key", delivery.idempotency_key.clone()),
            ];
            if let Some(secret) = &channel.secret {
                headers.push(("x-modhost-signature", sign(secret, now_ms / 1000, &body)));
            }
            post(url, &body, &headers, timeout)
        }
        ChannelTarget::Slack { url } => {
            config.check_url(url).map_err(SendError::Permanent)?;
            let body = serde_json::to_vec(&json!({ "text": text(delivery) }))
                .map_err(|error| SendError::Permanent(format!("could not encode the payload: {error}")))?;
            post(url, &body, &[], timeout)
        }
        ChannelTarget::Email { to } => {
            for address in to {
                config.check_recipient(address).map_err(SendError::Permanent)?;
            }
            email(delivery, to, config, timeout)
        }
    }
}

fn post(url: &str, body: &[u8], headers: &[(&str, String)], timeout: Duration) -> Result<(), SendError> {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .max_redirects(0)
        .http_status_as_error(false)
        .user_agent("modhost-alerts")
        .build()
        .new_agent();
    let mut request = agent.post(url).header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    match request.send(body) {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(SendError::Retry(format!(
            "the receiver answered {}",
            response.status()
        ))),
        Err(error) => Err(SendError::Retry(format!("could not reach the receiver: {error}"))),
    }
}

fn email(
    delivery: &Delivery,
    to: &[String],
    config: &AlertsConfig,
    timeout: Duration,
) -> Result<(), SendError> {
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Tls, TlsParameters};
    use lettre::{Message, SmtpTransport, Transport as _};

    let Some(smtp) = &config.smtp else {
        return Err(SendError::Permanent(
            "email is not configured on this host; ask the operator to set `[alerts.smtp]`".to_owned(),
        ));
    };
    let permanent =
        |what: &str, error: &dyn std::fmt::Display| SendError::Permanent(format!("{what}: {error}"));
    let from = smtp
        .from
        .parse()
        .map_err(|error| permanent("`alerts.smtp.from` is not an address", &error))?;
    let subject = match &delivery.alert {
        Some(alert) => format!(
            "[modhost] {} {}: {} on {}",
            delivery.event.name().to_uppercase(),
            alert.severity.name(),
            alert.rule,
            alert.subject()
        ),
        None => "[modhost] test notification".to_owned(),
    };
    let mut builder = Message::builder()
        .from(from)
        .subject(subject)
        .message_id(Some(format!("<{}@modhost>", delivery.idempotency_key)));
    for address in to {
        builder = builder.to(address
            .parse()
            .map_err(|error| permanent("a recipient is not an address", &error))?);
    }
    let body = format!(
        "{}\n\nevent: {}\nidempotency key: {}\n",
        text(delivery),
        delivery.event.name(),
        delivery.idempotency_key
    );
    let message = builder
        .body(body)
        .map_err(|error| permanent("could not build the email", &error))?;
    let tls = match smtp.tls {
        SmtpTls::None => Tls::None,
        SmtpTls::Starttls | SmtpTls::Required => {
            let parameters = TlsParameters::new(smtp.host.clone())
                .map_err(|error| permanent("could not set up TLS", &error))?;
            if smtp.tls == SmtpTls::Required {
                Tls::Required(parameters)
            } else {
                Tls::Opportunistic(parameters)
            }
        }
    };
    let mut transport = SmtpTransport::builder_dangerous(&smtp.host)
        .port(smtp.port)
        .tls(tls)
        .timeout(Some(timeout));
    if let (Some(username), Some(password)) = (&smtp.username, &smtp.password) {
        transport = transport.credentials(Credentials::new(username.clone(), password.clone()));
    }
    transport.build().send(&message).map(|_| ()).map_err(|error| {
        SendError::Retry(format!(
            "the SMTP server refused or could not be reached: {error}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_body_secret_and_time() {
        let body = br#"{"event":"firing"}"#;
        let header = sign("s3cret", 1_700_000_000, body);
        let tolerance = Duration::from_secs(300);
        assert_eq!(verify("s3cret", &header, body, 1_700_000_100, tolerance), Ok(()));
        assert_eq!(
            verify(
                "s3cret",
                &header,
                br#"{"event":"resolved"}"#,
                1_700_000_100,
                tolerance
            ),
            Err("the signature does not match the body".to_owned())
        );
        assert!(verify("other", &header, body, 1_700_000_100, tolerance).is_err());
        assert_eq!(
            verify("s3cret", &header, body, 1_700_000_400, tolerance),
            Err("the signature was made at 1700000000, too far from now (1700000400)".to_owned())
        );
        assert!(verify("s3cret", "v1=00", body, 1_700_000_000, tolerance).is_err());
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Computed independently: `printf '1.{}' | openssl dgst -sha256 -hmac key`.
        assert_eq!(
            sign("key", 1, b"{}"),
            "t=1,v1=1ba6b8171186efc613e8bcc0cbdab2748f24984d7c5a84faa2637afa0e40d224"
        );
    }
}
