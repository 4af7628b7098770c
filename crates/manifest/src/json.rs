//! Converts TOML values (config defaults, smoke-test JSON) to JSON values.

use serde_json::{Map, Number, Value};

/// The JSON form of a TOML value; TOML datetimes and non-finite floats have none.
pub(crate) fn toml_to_json(value: &toml::Value) -> Result<Value, String> {
    Ok(match value {
        toml::Value::String(text) => Value::String(text.clone()),
        toml::Value::Integer(number) => Value::from(*number),
        toml::Value::Float(number) => Number::from_f64(*number)
            .map(Value::Number)
            .ok_or_else(|| format!("`{number}` has no JSON form; use a finite number"))?,
        toml::Value::Boolean(flag) => Value::Bool(*flag),
        toml::Value::Datetime(datetime) => {
            return Err(format!(
                "the datetime `{datetime}` has no JSON form; write it as a string"
            ));
        }
        toml::Value::Array(items) => Value::Array(items.iter().map(toml_to_json).collect::<Result<_, _>>()?),
        toml::Value::Table(table) => Value::Object(
            table
                .iter()
                .map(|(key, value)| Ok((key.clone(), toml_to_json(value)?)))
                .collect::<Result<Map<_, _>, String>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn converts_every_json_shaped_value() {
        let value: toml::Table = toml::from_str("a = 1\nb = 1.5\nc = 'x'\nd = [true, { e = 2 }]").unwrap();
        assert_eq!(
            toml_to_json(&toml::Value::Table(value)),
            Ok(json!({ "a": 1, "b": 1.5, "c": "x", "d": [true, { "e": 2 }] }))
        );
    }

    #[test]
    fn refuses_what_json_cannot_hold() {
        let value: toml::Table = toml::from_str("a = 1979-05-27\nb = nan").unwrap();
        let date = value.get("a").unwrap();
        assert_eq!(
            toml_to_json(date),
            Err("the datetime `1979-05-27` has no JSON form; write it as a string".into())
        );
        assert_eq!(
            toml_to_json(value.get("b").unwrap()),
            Err("`NaN` has no JSON form; use a finite number".into())
        );
    }
}
