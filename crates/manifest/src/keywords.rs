//! The closed sets of keywords the host shares: module and tenant kinds, capabilities and HTTP methods.

use crate::text::{alternatives, quoted};

/// Declares a fieldless enum whose values are written as fixed keywords in
/// `module.toml`, with `ALL`, `name`, `from_name`, `Display`, `Serialize` and `Deserialize`.
macro_rules! keyword_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $keyword:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        $vis enum $name {
            $( $(#[$variant_meta])* #[serde(rename = $keyword)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The keyword as written in `module.toml`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $keyword,)+
                }
            }

            /// The value written as `keyword` (case-sensitive), if there is one.
            #[allow(dead_code, reason = "a crate-private keyword enum is read with `parse_keyword` instead")]
            pub fn from_name(keyword: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|value| value.name() == keyword)
            }
        }

        impl $crate::keywords::Keyword for $name {
            fn all() -> &'static [Self] {
                Self::ALL
            }

            fn keyword(self) -> &'static str {
                self.name()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

pub(crate) use keyword_enum;

/// What [`parse_keyword`] needs of a keyword enum; implemented by `keyword_enum!`.
pub(crate) trait Keyword: Copy + 'static {
    /// Every value.
    fn all() -> &'static [Self];
    /// The keyword as written.
    fn keyword(self) -> &'static str;
}

/// Reads a keyword of type `K`; when `text` is none, the error calls what was
/// expected `what` (like "a module kind") and lists the keywords.
pub(crate) fn parse_keyword<K: Keyword>(text: &str, what: &str) -> Result<K, String> {
    let keywords = || K::all().iter().map(|value| value.keyword());
    K::all()
        .iter()
        .copied()
        .find(|value| value.keyword() == text)
        .ok_or_else(|| format!("{} is not {what}; use {}", quoted(text), alternatives(keywords())))
}

keyword_enum! {
    /// Who publishes a module and who may use it.
    pub enum ModuleKind {
        /// Published by operators, available to every tenant.
        Standard = "standard",
        /// Uploaded by one tenant, visible to that tenant only.
        Custom = "custom",
    }
}

keyword_enum! {
    /// Whether a tenant is a standard client or one with custom modules too.
    ///
    /// The host's one tenant kind: the registry stores it, the API returns it
    /// and a module sees it in its tenant context.
    pub enum TenantKind {
        /// Uses standard modules only.
        Standard = "standard",
        /// May own custom modules too.
        Custom = "custom",
    }
}

impl std::str::FromStr for TenantKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_keyword(text, "a tenant kind")
    }
}

keyword_enum! {
    /// A host interface a module may import, granted by `module.capabilities`.
    ///
    /// Variants are in alphabetical order, so sorting capabilities sorts them by name.
    pub enum Capability {
        /// `modhost:module/config`: the tenant's validated configuration.
        Config = "config",
        /// `modhost:module/kv`: key-value storage scoped to (tenant, module).
        Kv = "kv",
        /// `modhost:module/log`: structured logging.
        Log = "log",
        /// `modhost:module/metrics`: counters and gauges.
        Metrics = "metrics",
        /// `modhost:module/modules`: calls into the modules named in `[dependencies]`.
        Modules = "modules",
    }
}

impl Capability {
    /// The unversioned WIT interface this capability grants, like `modhost:module/kv`.
    pub const fn wit_interface(self) -> &'static str {
        match self {
            Self::Config => "modhost:module/config",
            Self::Kv => "modhost:module/kv",
            Self::Log => "modhost:module/log",
            Self::Metrics => "modhost:module/metrics",
            Self::Modules => "modhost:module/modules",
        }
    }
}

keyword_enum! {
    /// An HTTP method an endpoint or a smoke test uses, written in upper case.
    pub enum Method {
        /// `GET`.
        Get = "GET",
        /// `HEAD`.
        Head = "HEAD",
        /// `POST`.
        Post = "POST",
        /// `PUT`.
        Put = "PUT",
        /// `PATCH`.
        Patch = "PATCH",
        /// `DELETE`.
        Delete = "DELETE",
        /// `OPTIONS`.
        Options = "OPTIONS",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_round_trip() {
        for capability in Capability::ALL {
            assert_eq!(Capability::from_name(capability.name()), Some(*capability));
            assert_eq!(capability.wit_interface(), format!("modhost:module/{capability}"));
        }
        assert_eq!(Method::from_name("GET"), Some(Method::Get));
        assert_eq!(Method::from_name("get"), None);
        assert_eq!(ModuleKind::from_name("custom"), Some(ModuleKind::Custom));
    }

    #[test]
    fn capabilities_sort_by_name() {
        let mut names: Vec<&str> = Capability::ALL.iter().map(|c| c.name()).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            Capability::ALL.iter().map(|c| c.name()).collect::<Vec<_>>()
        );
    }
}
