//! Tokens: roles, records (never the secret, except once at creation), creation body.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Everything, on every tenant.
    Operator,
    /// One tenant: upload custom modules, manage its deployments, config and tokens.
    TenantAdmin,
    /// One tenant: read it.
    TenantViewer,
    /// One tenant: call its modules (the data plane).
    Invoker,
}

impl Role {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Operator => "operator",
            Self::TenantAdmin => "tenant-admin",
            Self::TenantViewer => "tenant-viewer",
            Self::Invoker => "invoker",
        }
    }
}

/// A token's record (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Token {
    /// A public id, e.g. `tok_3f2a…`, for listing and revoking.
    pub id: String,
    /// A human name, e.g. `ci deploy`.
    pub name: String,
    /// The role.
    pub role: Role,
    /// The tenant it is scoped to; `null` only for operators.
    pub tenant: Option<String>,
    /// Data-plane permissions (`*`, `inventory.*`, `inventory.read`).
    pub permissions: Vec<String>,
    /// When it was created (ms since the Unix epoch).
    pub created_at_ms: u64,
    /// Who created it.
    pub created_by: String,
    /// When it was revoked, if it was.
    pub revoked_at_ms: Option<u64>,
}

/// `POST /v1/tokens`: the record and, this once, the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CreatedToken {
    /// The record.
    #[serde(flatten)]
    pub record: Token,
    /// The secret (`mh_…`); shown once, never stored in clear.
    pub token: String,
}

/// `POST /v1/tokens` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// A human name.
    pub name: String,
    /// The role.
    pub role: Role,
    /// The tenant (required for every role but operator, forbidden for operator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Data-plane permissions; default `["*"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
}

/// `GET /v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenList {
    /// The tokens the caller may manage.
    pub tokens: Vec<Token>,
}

/// `GET /v1/tokens` query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokensQuery {
    /// Only this tenant's tokens (operators; others always see their own tenant's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}
