//! Checks `[config.fields.*]`: names, types, the constraints each type allows, and defaults.

use std::fmt::Display;

use super::{FirstSeen, all, description, in_range, listed_twice, optional};
use crate::config::expected;
use crate::error::Problems;
use crate::json::toml_to_json;
use crate::keywords::{keyword_enum, parse_keyword};
use crate::names::check_config_field_name;
use crate::raw::{RawConfig, RawConfigField};
use crate::text::{alternatives, field_index, field_key};
use crate::{ConfigField, ConfigSchema, ConfigType, ConfigValue};

keyword_enum! {
    /// The types a field may declare, before their constraints are read.
    enum TypeName {
        /// `string`.
        String = "string",
        /// `int`.
        Int = "int",
        /// `float`.
        Float = "float",
        /// `bool`.
        Bool = "bool",
        /// `enum`.
        Enum = "enum",
    }
}

pub(super) fn schema(raw: &RawConfig, problems: &mut Problems) -> Option<ConfigSchema> {
    let checked = raw
        .fields
        .iter()
        .map(|(name, raw_field)| Some((name.clone(), field(name, raw_field, problems)?)))
        .collect();
    all(checked).map(|fields| ConfigSchema {
        fields: fields.into_iter().collect(),
    })
}

fn field(name: &str, raw: &RawConfigField, problems: &mut Problems) -> Option<ConfigField> {
    let prefix = field_key("config.fields", name);
    let named = problems.check(&prefix, check_config_field_name(name));
    let kind = config_type(&prefix, raw, problems);
    let default = kind.as_ref().and_then(|kind| {
        optional(
            problems,
            &format!("{prefix}.default"),
            raw.default.as_ref(),
            |value| default_value(kind, value),
        )
    });
    let required = problems.check(&format!("{prefix}.required"), required(raw));
    let description = description(
        problems,
        &format!("{prefix}.description"),
        raw.description.as_deref(),
    );
    named?;
    Some(ConfigField {
        kind: kind?,
        default: default?,
        required: required?,
        description: description?,
    })
}

fn default_value(kind: &ConfigType, value: &toml::Value) -> Result<ConfigValue, String> {
    kind.check(&toml_to_json(value)?)
}

fn required(raw: &RawConfigField) -> Result<bool, String> {
    if raw.required && raw.default.is_some() {
        Err("a required field with a default is never missing; drop `required` or the `default`".to_owned())
    } else {
        Ok(raw.required)
    }
}

fn config_type(prefix: &str, raw: &RawConfigField, problems: &mut Problems) -> Option<ConfigType> {
    let type_name = problems.check(
        &format!("{prefix}.type"),
        parse_keyword(&raw.kind, "a config type"),
    )?;
    let fits = refuse_foreign_constraints(prefix, raw, type_name, problems);
    let (min, max) = (("min", raw.min.as_ref()), ("max", raw.max.as_ref()));
    let lengths = (("min_length", raw.min_length), ("max_length", raw.max_length));
    let kind = match type_name {
        TypeName::String => {
            bounds(prefix, lengths, length, problems).map(|(min_length, max_length)| ConfigType::String {
                min_length,
                max_length,
            })
        }
        TypeName::Int => {
            bounds(prefix, (min, max), int_bound, problems).map(|(min, max)| ConfigType::Int { min, max })
        }
        TypeName::Float => {
            bounds(prefix, (min, max), float_bound, problems).map(|(min, max)| ConfigType::Float { min, max })
        }
        TypeName::Enum => {
            enum_values(prefix, raw.values.as_deref(), problems).map(|values| ConfigType::Enum { values })
        }
        TypeName::Bool => Some(ConfigType::Bool),
    };
    kind.filter(|_| fits)
}

/// Refuses constraints the field's type has no use for; `true` when there are none.
fn refuse_foreign_constraints(
    prefix: &str,
    raw: &RawConfigField,
    type_name: TypeName,
    problems: &mut Problems,
) -> bool {
    let constraints: [(&str, bool, &[TypeName]); 5] = [
        ("min", raw.min.is_some(), &[TypeName::Int, TypeName::Float]),
        ("max", raw.max.is_some(), &[TypeName::Int, TypeName::Float]),
        ("min_length", raw.min_length.is_some(), &[TypeName::String]),
        ("max_length", raw.max_length.is_some(), &[TypeName::String]),
        ("values", raw.values.is_some(), &[TypeName::Enum]),
    ];
    let mut fits = true;
    for (name, given, applies_to) in constraints {
        if given && !applies_to.contains(&type_name) {
            let hint = match name {
                "min" | "max" if type_name == TypeName::String => {
                    format!("; for a length use `{name}_length`")
                }
                _ => String::new(),
            };
            problems.add(
                format!("{prefix}.{name}"),
                format!(
                    "`{name}` applies only to fields of type {}, not `{type_name}`{hint}",
                    alternatives(applies_to.iter().map(|name| name.name()))
                ),
            );
            fits = false;
        }
    }
    fits
}

/// A bound's field name and its value as written, if it was.
type NamedBound<'a, R> = (&'a str, Option<R>);

/// Reads a pair of inclusive bounds with `read`, and checks that the lower is not above the upper.
fn bounds<R, T: PartialOrd + Display>(
    prefix: &str,
    ((min_name, min), (max_name, max)): (NamedBound<'_, R>, NamedBound<'_, R>),
    read: impl Fn(R) -> Result<T, String>,
    problems: &mut Problems,
) -> Option<(Option<T>, Option<T>)> {
    let min_field = format!("{prefix}.{min_name}");
    let min = optional(problems, &min_field, min, &read);
    let max = optional(problems, &format!("{prefix}.{max_name}"), max, &read);
    let (min, max) = (min?, max?);
    if let (Some(low), Some(high)) = (&min, &max)
        && low > high
    {
        problems.add(
            min_field,
            format!("{min_name} {low} is greater than {max_name} {high}; swap them or fix one"),
        );
        return None;
    }
    Some((min, max))
}

fn length(value: i64) -> Result<u64, String> {
    in_range(value, 0..=i64::MAX, "a length is 0 or more")
}

fn int_bound(value: &toml::Value) -> Result<i64, String> {
    let json = toml_to_json(value)?;
    json.as_i64().ok_or_else(|| expected("an integer", &json))
}

fn float_bound(value: &toml::Value) -> Result<f64, String> {
    let json = toml_to_json(value)?;
    json.as_f64().ok_or_else(|| expected("a number", &json))
}

fn enum_values(prefix: &str, values: Option<&[String]>, problems: &mut Problems) -> Option<Vec<String>> {
    let field = format!("{prefix}.values");
    let Some(values) = values else {
        problems.add(
            field,
            "missing; an `enum` field lists its allowed values, like `values = [\"fast\", \"safe\"]`",
        );
        return None;
    };
    if values.is_empty() {
        problems.add(field, "is empty; list at least one allowed value");
        return None;
    }
    let mut first_seen = FirstSeen::new();
    let mut unique = true;
    for (index, value) in values.iter().enumerate() {
        if first_seen.earlier(value.as_str(), index).is_some() {
            problems.add(field_index(&field, index), listed_twice(value, "value"));
            unique = false;
        }
    }
    unique.then(|| values.to_vec())
}
