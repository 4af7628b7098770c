//! Validated names: module ids, icons, permissions and config field names.

use std::borrow::Borrow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::text::quoted;

/// The longest module id, in bytes.
const MAX_MODULE_ID_BYTES: usize = 64;
/// The longest icon name, in bytes.
const MAX_ICON_BYTES: usize = 32;
/// The longest config field name, in bytes.
const MAX_CONFIG_FIELD_BYTES: usize = 64;

/// A module id: kebab-case (`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`), 1 to 64 bytes.
///
/// Ids name modules in URLs, storage keys and `[dependencies]`, so they are
/// kept to a form that needs no escaping anywhere.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ModuleId(String);

/// Why a string is not a [`ModuleId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ModuleIdError(String);

impl ModuleId {
    /// Checks that `id` is a valid module id.
    pub fn parse(id: &str) -> Result<Self, ModuleIdError> {
        if id.is_empty() {
            return Err(ModuleIdError(
                "is empty; give the module a kebab-case id like `inventory`".into(),
            ));
        }
        if id.len() > MAX_MODULE_ID_BYTES {
            return Err(ModuleIdError(format!(
                "{} is longer than {MAX_MODULE_ID_BYTES} bytes; choose a shorter id",
                quoted(id)
            )));
        }
        if !is_kebab_case(id) {
            return Err(ModuleIdError(format!(
                "{} is not kebab-case; use lower-case letters, digits and single dashes, starting with a letter",
                quoted(id)
            )));
        }
        Ok(Self(id.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_kebab_case(id: &str) -> bool {
    starts_lower(id)
        && id.split('-').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

impl fmt::Display for ModuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ModuleId {
    type Err = ModuleIdError;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        Self::parse(id)
    }
}

impl TryFrom<String> for ModuleId {
    type Error = ModuleIdError;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::parse(&id)
    }
}

impl From<ModuleId> for String {
    fn from(id: ModuleId) -> Self {
        id.0
    }
}

impl AsRef<str> for ModuleId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Lets maps keyed by [`ModuleId`] be searched with a plain `&str`.
impl Borrow<str> for ModuleId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// Checks an icon name: `^[a-z0-9-]{1,32}$`.
pub(crate) fn check_icon(icon: &str) -> Result<String, String> {
    let valid = (1..=MAX_ICON_BYTES).contains(&icon.len()) && lower_digits_or(icon, '-');
    require(
        valid,
        icon,
        "an icon name",
        &format!("1 to {MAX_ICON_BYTES} lower-case letters, digits or dashes, like `boxes`"),
    )
}

/// Checks a permission: dotted lower-case words, at least two, like `inventory.read`.
pub(crate) fn check_permission(permission: &str) -> Result<String, String> {
    let mut parts = permission.split('.');
    let valid =
        parts.clone().count() >= 2 && parts.all(|part| starts_lower(part) && lower_digits_or(part, '-'));
    require(
        valid,
        permission,
        "a permission",
        "two or more dotted lower-case words, like `inventory.read`",
    )
}

/// Checks a config field name: `^[a-z][a-z0-9_]*$`, 1 to 64 bytes.
pub(crate) fn check_config_field_name(name: &str) -> Result<String, String> {
    let valid = name.len() <= MAX_CONFIG_FIELD_BYTES && starts_lower(name) && lower_digits_or(name, '_');
    require(
        valid,
        name,
        "a config field name",
        &format!(
            "1 to {MAX_CONFIG_FIELD_BYTES} lower-case letters, digits and underscores, starting with a letter"
        ),
    )
}

/// `value` when `valid`; otherwise says that `value` is not `what`, and to use `how` instead.
fn require(valid: bool, value: &str, what: &str, how: &str) -> Result<String, String> {
    if valid {
        Ok(value.to_owned())
    } else {
        Err(format!("{} is not {what}; use {how}", quoted(value)))
    }
}

/// Whether `text` starts with an ASCII lower-case letter.
fn starts_lower(text: &str) -> bool {
    text.starts_with(|c: char| c.is_ascii_lowercase())
}

/// Whether `text` holds only ASCII lower-case letters, digits and `extra`.
fn lower_digits_or(text: &str, extra: char) -> bool {
    text.chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_ids_are_kebab_case() {
        for id in [
            "inventory",
            "a",
            "banban-inventory",
            "v2",
            "a1-b2-c3",
            &"a".repeat(64),
        ] {
            assert_eq!(
                ModuleId::parse(id).map(|id| id.as_str().to_owned()),
                Ok(id.to_owned())
            );
        }
        for id in [
            "",
            "Inventory",
            "1inventory",
            "-a",
            "a-",
            "a--b",
            "a_b",
            "a.b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(ModuleId::parse(id).is_err(), "`{id}` should be refused");
        }
    }

    #[test]
    fn module_id_errors_say_what_to_do() {
        let error = ModuleId::parse("Inventory").unwrap_err();
        assert_eq!(
            error.to_string(),
            "`Inventory` is not kebab-case; use lower-case letters, digits and single dashes, starting with a letter"
        );
        assert!(
            ModuleId::parse("")
                .unwrap_err()
                .to_string()
                .starts_with("is empty")
        );
        assert!(
            ModuleId::parse(&"a".repeat(65))
                .unwrap_err()
                .to_string()
                .contains("longer than 64 bytes")
        );
    }

    #[test]
    fn module_ids_convert_and_serialise_as_strings() {
        let id: ModuleId = "analytics".parse().unwrap();
        assert_eq!(id.to_string(), "analytics");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"analytics\"");
        assert_eq!(serde_json::from_str::<ModuleId>("\"analytics\"").unwrap(), id);
        assert!(serde_json::from_str::<ModuleId>("\"Analytics\"").is_err());
        let map = std::collections::BTreeMap::from([(id, 1)]);
        assert_eq!(map.get("analytics"), Some(&1));
    }

    #[test]
    fn permissions_icons_and_field_names() {
        assert!(check_permission("inventory.read").is_ok());
        assert!(check_permission("a.b-c.d9").is_ok());
        for bad in [
            "inventory",
            "inventory.",
            ".read",
            "Inventory.read",
            "inventory..read",
            "inventory.9",
        ] {
            assert!(check_permission(bad).is_err(), "`{bad}` should be refused");
        }
        assert!(check_icon("boxes").is_ok());
        assert!(check_icon("").is_err());
        assert!(check_icon("Boxes").is_err());
        assert!(check_icon(&"a".repeat(33)).is_err());
        assert!(check_config_field_name("low_stock_threshold").is_ok());
        for bad in ["", "Low", "_low", "low-stock", "9lives"] {
            assert!(check_config_field_name(bad).is_err(), "`{bad}` should be refused");
        }
    }
}
