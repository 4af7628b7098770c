//! Checks `[[tests]]`: unique names, well-formed requests and expectations.

use std::collections::BTreeMap;

use super::{FirstSeen, all, in_range, method, optional};
use crate::error::Problems;
use crate::json::toml_to_json;
use crate::raw::{RawExpect, RawRequest, RawTest};
use crate::text::{field_index, field_key, has_control, quoted};
use crate::{SmokeBody, SmokeExpect, SmokeRequest, SmokeTest};

pub(super) fn tests(raw: &[RawTest], problems: &mut Problems) -> Option<Vec<SmokeTest>> {
    let mut first_seen = FirstSeen::new();
    let checked = raw
        .iter()
        .enumerate()
        .map(|(index, test)| {
            let prefix = field_index("tests", index);
            let name = problems.check(
                &format!("{prefix}.name"),
                name(&test.name, first_seen.earlier(&test.name, index)),
            );
            let request = request(&format!("{prefix}.request"), &test.request, problems);
            let expect = expect(&format!("{prefix}.expect"), &test.expect, problems);
            Some(SmokeTest {
                name: name?,
                request: request?,
                expect: expect?,
            })
        })
        .collect();
    all(checked)
}

fn name(name: &str, earlier: Option<usize>) -> Result<String, String> {
    if name.trim().is_empty() {
        Err("is empty; name the test, like `health`".to_owned())
    } else if let Some(earlier) = earlier {
        Err(format!(
            "{} is already the name of tests[{earlier}]; give each test its own name",
            quoted(name)
        ))
    } else {
        Ok(name.to_owned())
    }
}

fn request(prefix: &str, raw: &RawRequest, problems: &mut Problems) -> Option<SmokeRequest> {
    let method = problems.check(&format!("{prefix}.method"), method(&raw.method));
    let path = problems.check(&format!("{prefix}.path"), request_path(&raw.path));
    let headers = headers(&format!("{prefix}.headers"), &raw.headers, problems);
    let body = problems.check(prefix, body(raw));
    Some(SmokeRequest {
        method: method?,
        path: path?,
        headers: headers?,
        body: body?,
    })
}

fn request_path(path: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        Err(format!("{} must start with `/`", quoted(path)))
    } else if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err(format!(
            "{} holds a space or control character; percent-encode it",
            quoted(path)
        ))
    } else {
        Ok(path.to_owned())
    }
}

fn body(raw: &RawRequest) -> Result<Option<SmokeBody>, String> {
    match (&raw.body, &raw.json) {
        (Some(_), Some(_)) => {
            Err("`body` and `json` are mutually exclusive; send one or the other".to_owned())
        }
        (Some(text), None) => Ok(Some(SmokeBody::Text(text.clone()))),
        (None, Some(json)) => toml_to_json(json).map(|json| Some(SmokeBody::Json(json))),
        (None, None) => Ok(None),
    }
}

/// Checks header names and values; names are normalised to lower case and must stay unique.
fn headers(
    prefix: &str,
    raw: &BTreeMap<String, String>,
    problems: &mut Problems,
) -> Option<BTreeMap<String, String>> {
    let mut lower_names = FirstSeen::new();
    let checked = raw
        .iter()
        .enumerate()
        .map(|(index, (name, value))| {
            let lower = name.to_ascii_lowercase();
            let earlier = lower_names.earlier(lower.clone(), index);
            problems.check(&field_key(prefix, name), header(name, value, earlier.is_some()))?;
            Some((lower, value.clone()))
        })
        .collect();
    all(checked).map(BTreeMap::from_iter)
}

fn header(name: &str, value: &str, repeated: bool) -> Result<(), String> {
    let is_token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(is_token) {
        Err(format!(
            "{} is not a header name; use letters, digits and dashes",
            quoted(name)
        ))
    } else if repeated {
        Err(format!(
            "{} is given twice (header names ignore case); give it once",
            quoted(name)
        ))
    } else if has_control(value) {
        Err("the value holds a control character; use plain text on one line".to_owned())
    } else {
        Ok(())
    }
}

fn expect(prefix: &str, raw: &RawExpect, problems: &mut Problems) -> Option<SmokeExpect> {
    let status = problems.check(
        &format!("{prefix}.status"),
        in_range(raw.status, 100..=599, "an HTTP status is 100 to 599"),
    );
    let json = optional(
        problems,
        &format!("{prefix}.json"),
        raw.json.as_ref(),
        toml_to_json,
    );
    Some(SmokeExpect {
        status: status?,
        body_contains: raw.body_contains.clone(),
        json: json?,
    })
}
