//! Smoke tests (`[[tests]]`): the requests the deploy pipeline sends before promotion, and how responses are judged.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::Method;
use crate::config::describe;
use crate::text::quoted;

/// One `[[tests]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmokeTest {
    /// A name unique among the manifest's tests.
    pub name: String,
    /// The request to send.
    pub request: SmokeRequest,
    /// What the response must look like.
    pub expect: SmokeExpect,
}

/// The request a smoke test sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmokeRequest {
    /// The HTTP method.
    pub method: Method,
    /// The path, starting with `/`, possibly with a query string.
    pub path: String,
    /// Request headers, names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The body, if any; serialised as a `body` (text) or `json` key.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub body: Option<SmokeBody>,
}

/// A smoke test's request body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum SmokeBody {
    /// `body = "..."`: sent as is.
    #[serde(rename = "body")]
    Text(String),
    /// `json = ...`: the TOML value, sent as JSON.
    #[serde(rename = "json")]
    Json(Value),
}

impl SmokeBody {
    /// The bytes to send.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Text(text) => text.clone().into_bytes(),
            Self::Json(json) => json.to_string().into_bytes(),
        }
    }
}

/// What a smoke test's response must look like.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SmokeExpect {
    /// The exact status code.
    pub status: u16,
    /// Text the body must contain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// JSON the body must contain, in the sense of [`SmokeExpect::check`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json: Option<Value>,
}

impl SmokeExpect {
    /// Judges a response; the error says, in lower case, the first thing that differs.
    ///
    /// The status must be equal; the body, read as UTF-8 (invalid bytes
    /// replaced), must contain `body_contains`; and the body, parsed as JSON,
    /// must *contain* `json`:
    ///
    /// - an expected object matches an object holding at least its keys, each
    ///   value matching in turn (extra keys in the response are ignored);
    /// - an expected array matches an array of the same length whose elements
    ///   match in order;
    /// - numbers match when numerically equal (`1` matches `1.0`);
    /// - any other value must be equal.
    pub fn check(&self, status: u16, body: &[u8]) -> Result<(), String> {
        if status != self.status {
            return Err(format!("expected status {}, got {status}", self.status));
        }
        if let Some(needle) = &self.body_contains
            && !String::from_utf8_lossy(body).contains(needle.as_str())
        {
            return Err(format!("the response body does not contain {}", quoted(needle)));
        }
        if let Some(expected) = &self.json {
            let actual: Value = serde_json::from_slice(body)
                .map_err(|error| format!("the response body is not JSON: {error}"))?;
            if let Some(mismatch) = first_mismatch(expected, &actual, "$") {
                return Err(format!("the response JSON differs at {mismatch}"));
            }
        }
        Ok(())
    }
}

/// Where `actual` first fails to contain `expected`, as `` `$.a[0]`: ... ``, or `None` if it contains it.
fn first_mismatch(expected: &Value, actual: &Value, at: &str) -> Option<String> {
    match (expected, actual) {
        (Value::Object(wanted), Value::Object(found)) => wanted.iter().find_map(|(key, value)| {
            let at = format!("{at}.{key}");
            match found.get(key) {
                Some(found) => first_mismatch(value, found, &at),
                None => Some(format!("`{at}`: the key is missing")),
            }
        }),
        (Value::Array(wanted), Value::Array(found)) if wanted.len() == found.len() => wanted
            .iter()
            .zip(found)
            .enumerate()
            .find_map(|(index, (value, found))| first_mismatch(value, found, &format!("{at}[{index}]"))),
        (Value::Number(wanted), Value::Number(found)) if wanted.as_f64() == found.as_f64() => None,
        _ if expected == actual => None,
        _ => Some(format!("`{at}`: expected {expected}, found {}", describe(actual))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn expect(json: Option<Value>) -> SmokeExpect {
        SmokeExpect {
            status: 200,
            body_contains: Some("ok".to_owned()),
            json,
        }
    }

    #[test]
    fn status_and_text_are_checked() {
        assert_eq!(expect(None).check(200, b"it is ok"), Ok(()));
        assert_eq!(
            expect(None).check(500, b"ok"),
            Err("expected status 200, got 500".to_owned())
        );
        assert_eq!(
            expect(None).check(200, b"fine"),
            Err("the response body does not contain `ok`".to_owned())
        );
    }

    #[test]
    fn json_is_matched_as_a_subset() {
        let wanted = expect(Some(json!({ "ok": true, "items": [{ "n": 1 }] })));
        let body = json!({ "ok": true, "extra": 1, "items": [{ "n": 1.0, "more": "x" }] }).to_string();
        assert_eq!(wanted.check(200, body.as_bytes()), Ok(()));
        let missing = json!({ "ok": true, "items": [{ "m": 1 }] }).to_string();
        assert_eq!(
            wanted.check(200, missing.as_bytes()),
            Err("the response JSON differs at `$.items[0].n`: the key is missing".to_owned())
        );
        let longer = json!({ "ok": true, "items": [{ "n": 1 }, { "n": 2 }] }).to_string();
        assert!(
            wanted
                .check(200, longer.as_bytes())
                .unwrap_err()
                .contains("`$.items`: expected")
        );
        let wrong = json!({ "ok": "ok", "items": [{ "n": 1 }] }).to_string();
        assert_eq!(
            wanted.check(200, wrong.as_bytes()),
            Err("the response JSON differs at `$.ok`: expected true, found a string".to_owned())
        );
        assert!(
            wanted
                .check(200, b"ok, not json")
                .unwrap_err()
                .starts_with("the response body is not JSON")
        );
    }

    #[test]
    fn bodies_become_bytes() {
        assert_eq!(SmokeBody::Text("hi".to_owned()).to_bytes(), b"hi");
        assert_eq!(SmokeBody::Json(json!({ "a": 1 })).to_bytes(), br#"{"a":1}"#);
    }
}
