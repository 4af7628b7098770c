//! The configuration schema a manifest declares, and checking a tenant's values against it.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::Problem;
use crate::text::{field_key, quoted, quoted_list};

/// `[config]`: the fields a tenant may set for this module.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ConfigSchema {
    /// The fields, by name.
    pub fields: BTreeMap<String, ConfigField>,
}

/// One `[config.fields.<name>]` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigField {
    /// The field's type and the constraints that go with it.
    #[serde(flatten)]
    pub kind: ConfigType,
    /// The value used when the tenant sets none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<ConfigValue>,
    /// Whether the tenant must set a value (never true when there is a default).
    pub required: bool,
    /// What the field is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A config field's type, with the constraints that apply to it. Bounds are inclusive.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ConfigType {
    /// Text, its length counted in characters.
    String {
        /// The fewest characters allowed.
        #[serde(skip_serializing_if = "Option::is_none")]
        min_length: Option<u64>,
        /// The most characters allowed.
        #[serde(skip_serializing_if = "Option::is_none")]
        max_length: Option<u64>,
    },
    /// A 64-bit signed integer.
    Int {
        /// The smallest value allowed.
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<i64>,
        /// The largest value allowed.
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<i64>,
    },
    /// A finite 64-bit float; integers are accepted too.
    Float {
        /// The smallest value allowed.
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// The largest value allowed.
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// `true` or `false`.
    Bool,
    /// One of a fixed list of strings.
    Enum {
        /// The allowed values: at least one, no duplicates.
        values: Vec<String>,
    },
}

/// A checked configuration value, serialised as a plain JSON value. Enum values are [`ConfigValue::Text`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ConfigValue {
    /// A `string` or `enum` value.
    Text(String),
    /// An `int` value.
    Integer(i64),
    /// A `float` value.
    Float(f64),
    /// A `bool` value.
    Boolean(bool),
}

/// A tenant's configuration after checking: every field that has a value, defaults included, by name.
pub type ResolvedConfig = BTreeMap<String, ConfigValue>;

impl ConfigSchema {
    /// Checks a tenant's `values` against the schema and fills in defaults.
    ///
    /// Refuses keys the schema does not declare, values of the wrong type or
    /// outside their constraints, and missing required fields; every problem is
    /// reported, each named `config.<field>`. Optional fields without a default
    /// and without a value are left out of the result.
    pub fn validate(&self, values: &Map<String, Value>) -> Result<ResolvedConfig, Vec<Problem>> {
        let mut problems: Vec<Problem> = values
            .keys()
            .filter(|key| !self.fields.contains_key(key.as_str()))
            .map(|key| Problem::new(field_key("config", key), self.unknown_key_message()))
            .collect();
        let mut resolved = ResolvedConfig::new();
        for (name, field) in &self.fields {
            match field.resolve(values.get(name)) {
                Ok(Some(value)) => {
                    resolved.insert(name.clone(), value);
                }
                Ok(None) => {}
                Err(message) => problems.push(Problem::new(field_key("config", name), message)),
            }
        }
        if problems.is_empty() {
            Ok(resolved)
        } else {
            Err(problems)
        }
    }

    fn unknown_key_message(&self) -> String {
        if self.fields.is_empty() {
            "unknown field; this module declares no config fields".to_owned()
        } else {
            format!(
                "unknown field; declared fields are {}",
                quoted_list(self.fields.keys().map(String::as_str))
            )
        }
    }
}

impl ConfigField {
    /// The value this field resolves to when `given` is what the tenant set.
    fn resolve(&self, given: Option<&Value>) -> Result<Option<ConfigValue>, String> {
        match given {
            Some(value) => self.kind.check(value).map(Some),
            None if self.required => Err("missing; this field is required".to_owned()),
            None => Ok(self.default.clone()),
        }
    }
}

impl ConfigType {
    /// The keyword that names this type in `module.toml`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::String { .. } => "string",
            Self::Int { .. } => "int",
            Self::Float { .. } => "float",
            Self::Bool => "bool",
            Self::Enum { .. } => "enum",
        }
    }

    /// Checks one JSON value against this type and its constraints.
    pub fn check(&self, value: &Value) -> Result<ConfigValue, String> {
        match self {
            Self::String {
                min_length,
                max_length,
            } => {
                let text = value.as_str().ok_or_else(|| expected("a string", value))?;
                let length = text.chars().count() as u64;
                within_bounds(
                    length,
                    *min_length,
                    *max_length,
                    &format!("length {length}"),
                    " length",
                )?;
                Ok(ConfigValue::Text(text.to_owned()))
            }
            Self::Int { min, max } => {
                let number = value.as_i64().ok_or_else(|| expected("an integer", value))?;
                within_bounds(number, *min, *max, &number.to_string(), "")?;
                Ok(ConfigValue::Integer(number))
            }
            Self::Float { min, max } => {
                let number = value.as_f64().ok_or_else(|| expected("a number", value))?;
                within_bounds(number, *min, *max, &number.to_string(), "")?;
                Ok(ConfigValue::Float(number))
            }
            Self::Bool => value
                .as_bool()
                .map(ConfigValue::Boolean)
                .ok_or_else(|| expected("true or false", value)),
            Self::Enum { values } => {
                let text = value.as_str().ok_or_else(|| expected("a string", value))?;
                if values.iter().any(|allowed| allowed == text) {
                    Ok(ConfigValue::Text(text.to_owned()))
                } else {
                    Err(format!(
                        "{} is not one of {}",
                        quoted(text),
                        quoted_list(values.iter().map(String::as_str))
                    ))
                }
            }
        }
    }
}

/// Checks `value` against inclusive bounds; `shown` is how the value reads in a
/// message and `bound_noun` qualifies "minimum"/"maximum" (like `" length"`).
pub(crate) fn within_bounds<T: PartialOrd + fmt::Display>(
    value: T,
    min: Option<T>,
    max: Option<T>,
    shown: &str,
    bound_noun: &str,
) -> Result<(), String> {
    if let Some(min) = min.filter(|min| value < *min) {
        return Err(format!("{shown} is below the minimum{bound_noun} {min}"));
    }
    if let Some(max) = max.filter(|max| value > *max) {
        return Err(format!("{shown} is above the maximum{bound_noun} {max}"));
    }
    Ok(())
}

/// Says which kind of value was expected and which was found.
pub(crate) fn expected(wanted: &str, found: &Value) -> String {
    format!("expected {wanted}, found {}", describe(found))
}

/// Names the kind of a JSON value for a message, showing numbers and booleans themselves.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => format!("`{flag}`"),
        Value::Number(number) => format!("the number {number}"),
        Value::String(_) => "a string".to_owned(),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn field(kind: ConfigType) -> ConfigField {
        ConfigField {
            kind,
            default: None,
            required: false,
            description: None,
        }
    }

    fn schema() -> ConfigSchema {
        let fields = BTreeMap::from([
            (
                "threshold".to_owned(),
                ConfigField {
                    default: Some(ConfigValue::Integer(5)),
                    ..field(ConfigType::Int {
                        min: Some(0),
                        max: Some(100),
                    })
                },
            ),
            (
                "ratio".to_owned(),
                field(ConfigType::Float {
                    min: Some(0.0),
                    max: Some(1.0),
                }),
            ),
            (
                "label".to_owned(),
                field(ConfigType::String {
                    min_length: Some(2),
                    max_length: Some(4),
                }),
            ),
            ("enabled".to_owned(), field(ConfigType::Bool)),
            (
                "mode".to_owned(),
                ConfigField {
                    required: true,
                    ..field(ConfigType::Enum {
                        values: vec!["fast".to_owned(), "safe".to_owned()],
                    })
                },
            ),
        ]);
        ConfigSchema { fields }
    }

    fn values(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn problems(value: Value) -> Vec<String> {
        schema()
            .validate(&values(value))
            .unwrap_err()
            .iter()
            .map(Problem::to_string)
            .collect()
    }

    #[test]
    fn defaults_are_applied_and_unset_optionals_left_out() {
        let resolved = schema().validate(&values(json!({ "mode": "fast" }))).unwrap();
        assert_eq!(
            resolved,
            BTreeMap::from([
                ("mode".to_owned(), ConfigValue::Text("fast".to_owned())),
                ("threshold".to_owned(), ConfigValue::Integer(5)),
            ])
        );
        assert_eq!(
            serde_json::to_value(&resolved).unwrap(),
            json!({ "mode": "fast", "threshold": 5 })
        );
    }

    #[test]
    fn given_values_override_defaults() {
        let given = json!({ "mode": "safe", "threshold": 7, "ratio": 1, "label": "abc", "enabled": true });
        let resolved = schema().validate(&values(given.clone())).unwrap();
        assert_eq!(resolved.get("ratio"), Some(&ConfigValue::Float(1.0)));
        assert_eq!(
            serde_json::to_value(&resolved).unwrap(),
            json!({
                "enabled": true, "label": "abc", "mode": "safe", "ratio": 1.0, "threshold": 7
            })
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert_eq!(
            problems(json!({ "mode": "fast", "colour": "red" })),
            [
                "config.colour: unknown field; declared fields are `enabled`, `label`, `mode`, `ratio`, `threshold`"
            ]
        );
        let empty = ConfigSchema::default();
        let refused = empty.validate(&values(json!({ "x": 1 }))).unwrap_err();
        assert_eq!(
            refused[0].to_string(),
            "config.x: unknown field; this module declares no config fields"
        );
    }

    #[test]
    fn wrong_types_are_refused() {
        assert_eq!(
            problems(json!({ "mode": 1, "threshold": 2.5, "ratio": "x", "label": 3, "enabled": "yes" })),
            [
                "config.enabled: expected true or false, found a string",
                "config.label: expected a string, found the number 3",
                "config.mode: expected a string, found the number 1",
                "config.ratio: expected a number, found a string",
                "config.threshold: expected an integer, found the number 2.5",
            ]
        );
        assert_eq!(
            problems(json!({ "mode": null })),
            ["config.mode: expected a string, found null"]
        );
    }

    #[test]
    fn bounds_are_enforced() {
        assert_eq!(
            problems(json!({ "mode": "fast", "threshold": -1, "ratio": 1.5 })),
            [
                "config.ratio: 1.5 is above the maximum 1",
                "config.threshold: -1 is below the minimum 0"
            ]
        );
        assert_eq!(
            problems(json!({ "mode": "fast", "threshold": 101 })),
            ["config.threshold: 101 is above the maximum 100"]
        );
        assert_eq!(
            problems(json!({ "mode": "fast", "ratio": -0.5 })),
            ["config.ratio: -0.5 is below the minimum 0"]
        );
    }

    #[test]
    fn lengths_count_characters() {
        assert_eq!(
            problems(json!({ "mode": "fast", "label": "a" })),
            ["config.label: length 1 is below the minimum length 2"]
        );
        assert_eq!(
            problems(json!({ "mode": "fast", "label": "abcde" })),
            ["config.label: length 5 is above the maximum length 4"]
        );
        assert!(
            schema()
                .validate(&values(json!({ "mode": "fast", "label": "ééé" })))
                .is_ok()
        );
    }

    #[test]
    fn enum_values_must_be_listed() {
        assert_eq!(
            problems(json!({ "mode": "slow" })),
            ["config.mode: `slow` is not one of `fast`, `safe`"]
        );
    }

    #[test]
    fn required_fields_must_be_present() {
        assert_eq!(
            problems(json!({})),
            ["config.mode: missing; this field is required"]
        );
    }
}
