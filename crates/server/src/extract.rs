//! Request extractors that answer the API's JSON errors: bodies read under size and time limits, queries, path parameters.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use std::sync::Arc;
use std::time::Duration;

use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt as _;
use serde::de::DeserializeOwned;
use tokio::time::Instant;

use crate::app::App;
use crate::config::ServerConfig;
use crate::error::ApiError;

/// The most an admin JSON body may be.
pub(crate) const MAX_JSON_BODY_BYTES: usize = 1024 * 1024;

/// How a request body is read: at most `max_bytes`, pausing at most `idle`
/// between chunks, done within `total`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyRules {
    pub(crate) max_bytes: usize,
    pub(crate) idle: Duration,
    pub(crate) total: Duration,
}

impl BodyRules {
    /// The server's body timeouts with a size cap of `max_bytes`.
    pub(crate) fn new(config: &ServerConfig, max_bytes: usize) -> Self {
        Self {
            max_bytes,
            idle: Duration::from_millis(config.body_idle_timeout_ms),
            total: Duration::from_millis(config.body_read_timeout_ms),
        }
    }
}

/// A request body read chunk by chunk under [`BodyRules`]: a body declared
/// larger than the cap is refused before a byte is read, one that grows
/// past it as soon as it does, and one that stalls or drags gets `408`. Each
/// refusal closes the connection (the rest of the body is never read).
pub(crate) struct BodyChunks {
    body: Body,
    rules: BodyRules,
    deadline: Instant,
    read: usize,
}

impl BodyChunks {
    /// Starts reading `body`; refuses it at once if `headers` declare it too large.
    pub(crate) fn new(headers: &HeaderMap, body: Body, rules: BodyRules) -> Result<Self, ApiError> {
        let declared = headers
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > rules.max_bytes as u64) {
            return Err(ApiError::too_large(rules.max_bytes).closing());
        }
        Ok(Self {
            body,
            rules,
            deadline: Instant::now() + rules.total,
            read: 0,
        })
    }

    /// The next chunk of data, `None` at the end.
    pub(crate) async fn next(&mut self) -> Result<Option<Bytes>, ApiError> {
        loop {
            let left = self.deadline.saturating_duration_since(Instant::now());
            let wait = left.min(self.rules.idle);
            let frame = match tokio::time::timeout(wait, self.body.frame()).await {
                Ok(frame) => frame,
                Err(_elapsed) if wait < self.rules.idle => {
                    return Err(timed_out(format!(
                        "the request body took longer than {} ms to arrive",
                        self.rules.total.as_millis()
                    )));
                }
                Err(_elapsed) => {
                    return Err(timed_out(format!(
                        "the request body stalled for {} ms",
                        self.rules.idle.as_millis()
                    )));
                }
            };
            let frame = match frame {
                None => return Ok(None),
                Some(Ok(frame)) => frame,
                Some(Err(error)) => {
                    return Err(
                        ApiError::bad_request(format!("could not read the request body: {error}")).closing(),
                    );
                }
            };
            if let Ok(data) = frame.into_data() {
                self.read = self.read.saturating_add(data.len());
                if self.read > self.rules.max_bytes {
                    return Err(ApiError::too_large(self.rules.max_bytes).closing());
                }
                return Ok(Some(data));
            }
        }
    }
}

fn timed_out(message: String) -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request-timeout",
        format!("{message}; send it faster"),
    )
    .closing()
}

/// Reads a whole body under `rules` (see [`BodyChunks`]).
pub(crate) async fn read_body(headers: &HeaderMap, body: Body, rules: BodyRules) -> Result<Bytes, ApiError> {
    let mut chunks = BodyChunks::new(headers, body, rules)?;
    let mut collected = BytesMut::new();
    while let Some(chunk) = chunks.next().await? {
        collected.extend_from_slice(&chunk);
    }
    Ok(collected.freeze())
}

/// The rules for an admin JSON body: [`MAX_JSON_BODY_BYTES`] and the
/// server's timeouts (the defaults if the request carries no server state).
fn json_rules(parts: &Parts) -> BodyRules {
    let defaults = ServerConfig::default();
    let config = parts
        .extensions
        .get::<Arc<App>>()
        .map_or(&defaults, |app| &app.config);
    BodyRules::new(config, MAX_JSON_BODY_BYTES)
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|error| {
        ApiError::bad_request(format!(
            "the request body is not valid JSON for this operation: {error}"
        ))
    })
}

/// A JSON body of at most [`MAX_JSON_BODY_BYTES`]; any content type is read as JSON.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let bytes = read_body(&parts.headers, body, json_rules(&parts)).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Like [`JsonBody`], but an empty body means the type's default.
pub(crate) struct JsonOrEmpty<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for JsonOrEmpty<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let bytes = read_body(&parts.headers, body, json_rules(&parts)).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonOrEmpty(T::default()));
        }
        parse_json(&bytes).map(JsonOrEmpty)
    }
}

/// The query string, via axum's [`Query`], refused as `400 bad-request`.
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| {
                ApiError::bad_request(format!(
                    "the query string is not valid for this operation: {}",
                    rejection.body_text()
                ))
            })
    }
}

/// The path parameters, via axum's [`Path`], refused as `400 bad-request`.
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|rejection| {
                ApiError::bad_request(format!(
                    "the path is not valid for this operation: {}",
                    rejection.body_text()
                ))
            })
    }
}

/// A tenant-scoped route's `{tenant}` and `{module}`.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct TenantModule {
    pub(crate) tenant: String,
    pub(crate) module: String,
}

/// Parses a semver version from the wire.
pub(crate) fn parse_version(text: &str) -> Result<semver::Version, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request(format!("`{text}` is not a semver version like 1.2.0")))
}
