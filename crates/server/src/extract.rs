//! Request extractors that answer the API's JSON errors: bounded JSON bodies, queries, path parameters.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Limited};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// The most an admin JSON body may be.
pub(crate) const MAX_JSON_BODY_BYTES: usize = 1024 * 1024;

/// Reads a body of at most `limit` bytes; `413` past it (checked on
/// `content-length` before reading, and while reading for chunked bodies).
pub(crate) async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::too_large(limit).closing());
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(ApiError::too_large(limit)),
        Err(error) => Err(ApiError::bad_request(format!(
            "could not read the request body: {error}"
        ))),
    }
}

/// How much of a refused request's body is read and dropped after the
/// answer went out, and for how long at most.
pub(crate) const LINGER_BYTES: usize = 1024 * 1024;
/// See [`LINGER_BYTES`].
pub(crate) const LINGER_FOR: std::time::Duration = std::time::Duration::from_secs(1);

/// Lets the refusal go out at once while, in the background, up to
/// [`LINGER_BYTES`] of the unread body are read and dropped for at most
/// [`LINGER_FOR`]: a client writing its body right behind its head then
/// gets the answer instead of a reset connection. Nothing is kept; the rest
/// of a larger body is never read, and the connection closes after the
/// answer (send it with [`ApiError::closing`]).
pub(crate) fn linger_on(body: Body) {
    tokio::spawn(async move {
        let mut body = body;
        let mut read = 0usize;
        let drain = async {
            while let Some(Ok(frame)) = body.frame().await {
                read += frame.data_ref().map_or(0, Bytes::len);
                if read > LINGER_BYTES {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(LINGER_FOR, drain).await;
    });
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
        let bytes = read_body(&parts.headers, body, MAX_JSON_BODY_BYTES).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Like [`JsonBody`], but an empty body means the type's default.
pub(crate) struct JsonOrEmpty<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for JsonOrEmpty<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let bytes = read_body(&parts.headers, body, MAX_JSON_BODY_BYTES).await?;
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
