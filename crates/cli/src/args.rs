//! Parsers for argument values clap cannot check alone: `module@version`, `key=value`, headers, `@file` bodies.

use std::fs;
use std::io::Read;

use serde_json::{Map, Value};

use crate::error::CliError;

/// `<module>@<version>`, as given to `promote`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRef {
    /// The module id.
    pub module: String,
    /// The version, checked to be semver.
    pub version: String,
}

/// Parses `inventory@1.1.0`.
pub fn parse_module_ref(text: &str) -> Result<ModuleRef, String> {
    let expected = || format!("expected <module>@<version>, got {text:?}");
    let (module, version) = text.split_once('@').ok_or_else(expected)?;
    if module.is_empty() || version.is_empty() || version.contains('@') {
        return Err(expected());
    }
    parse_version(version)?;
    Ok(ModuleRef {
        module: module.to_owned(),
        version: version.to_owned(),
    })
}

/// Checks a semver version such as `1.2.0`.
pub fn parse_version(text: &str) -> Result<String, String> {
    semver::Version::parse(text)
        .map(|_| text.to_owned())
        .map_err(|error| format!("{text:?} is not a version like 1.2.0: {error}"))
}

/// One `key=value` of `config set`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigPair {
    /// The config field.
    pub key: String,
    /// The value: JSON when the text parses as JSON, else the text as a string.
    pub value: Value,
}

/// Parses `key=value`; the value is JSON when it parses (`5`, `true`,
/// `"5"`, `[1,2]`), otherwise the text itself as a string.
pub fn parse_config_pair(text: &str) -> Result<ConfigPair, String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("expected <key>=<value>, got {text:?}"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("expected <key>=<value>, got {text:?}"));
    }
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_owned()));
    Ok(ConfigPair {
        key: key.to_owned(),
        value,
    })
}

/// Merges `pairs` over `current`: a `null` value removes the key (it falls
/// back to its default). A key given twice is a usage error.
pub fn merge_config(
    mut current: Map<String, Value>,
    pairs: &[ConfigPair],
) -> Result<Map<String, Value>, CliError> {
    let mut seen = std::collections::BTreeSet::new();
    for pair in pairs {
        if !seen.insert(pair.key.as_str()) {
            return Err(CliError::Usage(format!(
                "config key {:?} is given more than once",
                pair.key
            )));
        }
        if pair.value.is_null() {
            current.remove(&pair.key);
        } else {
            current.insert(pair.key.clone(), pair.value.clone());
        }
    }
    Ok(current)
}

/// Parses a request header `name: value`.
pub fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("expected <name>: <value>, got {text:?}"))?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    {
        return Err(format!("{name:?} is not a header name"));
    }
    Ok((name.to_ascii_lowercase(), value.trim().to_owned()))
}

/// The body given as `--data`: the text itself, `@path` for a file's
/// bytes, or `@-` for standard input.
pub fn read_data(data: &str) -> Result<Vec<u8>, CliError> {
    match data.strip_prefix('@') {
        Some("-") => {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).map_err(|error| {
                CliError::failed(format!("cannot read the body from standard input: {error}"))
            })?;
            Ok(bytes)
        }
        Some(path) => {
            fs::read(path).map_err(|error| CliError::failed(format!("cannot read {path}: {error}")))
        }
        None => Ok(data.as_bytes().to_vec()),
    }
}

/// Reads `--file values.json`: a JSON object of config values.
pub fn read_config_file(path: &str) -> Result<Map<String, Value>, CliError> {
    let text =
        fs::read_to_string(path).map_err(|error| CliError::failed(format!("cannot read {path}: {error}")))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(values)) => Ok(values),
        Ok(_) => Err(CliError::Usage(format!(
            "{path} must hold a JSON object of config values, like {{\"threshold\": 5}}"
        ))),
        Err(error) => Err(CliError::Usage(format!("{path} is not valid JSON: {error}"))),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn module_refs() {
        assert_eq!(
            parse_module_ref("inventory@1.1.0"),
            Ok(ModuleRef {
                module: "inventory".into(),
                version: "1.1.0".into()
            })
        );
        assert_eq!(
            parse_module_ref("inventory"),
            Err(r#"expected <module>@<version>, got "inventory""#.into())
        );
        assert_eq!(
            parse_module_ref("@1.0.0"),
            Err(r#"expected <module>@<version>, got "@1.0.0""#.into())
        );
        assert_eq!(
            parse_module_ref("inventory@"),
            Err(r#"expected <module>@<version>, got "inventory@""#.into())
        );
        assert_eq!(
            parse_module_ref("a@1.0.0@2"),
            Err(r#"expected <module>@<version>, got "a@1.0.0@2""#.into())
        );
        let error = parse_module_ref("inventory@latest").unwrap_err();
        assert!(
            error.starts_with(r#""latest" is not a version like 1.2.0"#),
            "{error}"
        );
        assert!(parse_module_ref("inventory@1.0.0-beta.1").is_ok());
    }

    #[test]
    fn config_pairs_are_json_when_they_parse() {
        let value = |text: &str| parse_config_pair(text).map(|pair| pair.value);
        assert_eq!(value("threshold=5"), Ok(json!(5)));
        assert_eq!(value("ratio=0.5"), Ok(json!(0.5)));
        assert_eq!(value("on=true"), Ok(json!(true)));
        assert_eq!(value("greeting=hello"), Ok(json!("hello")));
        assert_eq!(value("code=\"5\""), Ok(json!("5")));
        assert_eq!(value("list=[1,2]"), Ok(json!([1, 2])));
        assert_eq!(value("empty="), Ok(json!("")));
        assert_eq!(value("eq=a=b"), Ok(json!("a=b")));
        assert_eq!(value("gone=null"), Ok(Value::Null));
        assert_eq!(
            parse_config_pair(" key =1").map(|pair| pair.key),
            Ok("key".into())
        );
        assert_eq!(
            parse_config_pair("threshold"),
            Err(r#"expected <key>=<value>, got "threshold""#.into())
        );
        assert_eq!(
            parse_config_pair("=5"),
            Err(r#"expected <key>=<value>, got "=5""#.into())
        );
    }

    #[test]
    fn merging_config() {
        let current = json!({"a": 1, "b": "x"}).as_object().cloned().unwrap();
        let pairs = [
            parse_config_pair("a=2").unwrap(),
            parse_config_pair("b=null").unwrap(),
            parse_config_pair("c=hi").unwrap(),
        ];
        let merged = merge_config(current.clone(), &pairs).unwrap();
        assert_eq!(Value::Object(merged), json!({"a": 2, "c": "hi"}));
        let twice = [
            parse_config_pair("a=1").unwrap(),
            parse_config_pair("a=2").unwrap(),
        ];
        assert!(matches!(merge_config(current, &twice), Err(CliError::Usage(_))));
    }

    #[test]
    fn headers() {
        assert_eq!(
            parse_header("Accept: text/plain"),
            Ok(("accept".into(), "text/plain".into()))
        );
        assert_eq!(parse_header("x-a:b:c"), Ok(("x-a".into(), "b:c".into())));
        assert!(parse_header("no colon").is_err());
        assert!(parse_header("bad name: x").is_err());
    }

    #[test]
    fn data_bodies() {
        assert_eq!(read_data("{\"a\":1}").unwrap(), b"{\"a\":1}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("body.json");
        fs::write(&file, b"[1]").unwrap();
        assert_eq!(read_data(&format!("@{}", file.display())).unwrap(), b"[1]");
        let missing = read_data(&format!("@{}", dir.path().join("nope").display())).unwrap_err();
        assert!(
            missing.render().starts_with("error: cannot read "),
            "{}",
            missing.render()
        );
    }

    #[test]
    fn config_files() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.json");
        fs::write(&good, r#"{"threshold": 5}"#).unwrap();
        assert_eq!(
            Value::Object(read_config_file(&good.to_string_lossy()).unwrap()),
            json!({"threshold": 5})
        );
        let array = dir.path().join("array.json");
        fs::write(&array, "[1]").unwrap();
        assert!(matches!(
            read_config_file(&array.to_string_lossy()),
            Err(CliError::Usage(_))
        ));
        let broken = dir.path().join("broken.json");
        fs::write(&broken, "{").unwrap();
        assert!(matches!(
            read_config_file(&broken.to_string_lossy()),
            Err(CliError::Usage(_))
        ));
    }
}
