//! [`Response`]: what a handler answers, with JSON and text constructors.

use serde::Serialize;

use crate::bindings::modhost::module::types as wit;
use crate::{Error, Result};

/// An HTTP-shaped response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A JSON response; fails only if `value` cannot be serialised.
    pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Result<Self> {
        let body = serde_json::to_vec(value)
            .map_err(|error| Error::internal(format!("could not serialise the response: {error}")))?;
        Ok(Self::new(status)
            .with_header("content-type", "application/json")
            .with_body(body))
    }

    /// `200 OK` with a JSON body.
    pub fn ok<T: Serialize + ?Sized>(value: &T) -> Result<Self> {
        Self::json(200, value)
    }

    /// `201 Created` with a JSON body.
    pub fn created<T: Serialize + ?Sized>(value: &T) -> Result<Self> {
        Self::json(201, value)
    }

    /// `204 No Content`.
    pub fn no_content() -> Self {
        Self::new(204)
    }

    /// A plain-text response.
    pub fn text(status: u16, text: impl Into<String>) -> Self {
        Self::new(status)
            .with_header("content-type", "text/plain; charset=utf-8")
            .with_body(text.into())
    }

    /// Adds a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers
            .push((name.into().to_ascii_lowercase(), value.into()));
        self
    }

    /// Replaces the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body parsed as JSON, for tests and for responses of other modules.
    pub fn body_json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|error| Error::internal(format!("the response body is not the expected JSON: {error}")))
    }

    pub(crate) fn into_wit(self) -> wit::Response {
        wit::Response {
            status: self.status,
            headers: self.headers,
            body: self.body,
        }
    }

    pub(crate) fn from_wit(response: wit::Response) -> Self {
        Self {
            status: response.status,
            headers: response.headers,
            body: response.body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_sets_content_type_and_body() {
        let response = Response::created(&serde_json::json!({"sku": "a"})).expect("serialisable");
        assert_eq!(response.status(), 201);
        assert_eq!(
            response.headers(),
            [("content-type".to_owned(), "application/json".to_owned())]
        );
        assert_eq!(response.body(), br#"{"sku":"a"}"#);
        let round_trip: serde_json::Value = response.body_json().expect("json");
        assert_eq!(round_trip["sku"], "a");
    }
}
