//! [`Error`]: a module error with a code the host maps to an HTTP status.

use std::fmt;

use crate::ErrorCode;
use crate::bindings::modhost::module::types::ModuleError;

/// The result type of handlers and helpers.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// An error a module answers on purpose. The host renders it as
/// `{"error": {"code": "...", "message": "..."}}` with the code's HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    code: ErrorCode,
    message: String,
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $code:ident,)*) => {
        $(
            $(#[$doc])*
            pub fn $name(message: impl Into<String>) -> Self {
                Self::new(ErrorCode::$code, message)
            }
        )*
    };
}

impl Error {
    /// An error with an explicit code.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    constructors! {
        /// The request is malformed (400).
        bad_request => BadRequest,
        /// The caller may not do this (403).
        forbidden => Forbidden,
        /// The addressed thing does not exist (404).
        not_found => NotFound,
        /// The request conflicts with the current state (409).
        conflict => Conflict,
        /// The request breaks a rule of the module (422).
        unprocessable => Unprocessable,
        /// Something the module depends on is unavailable (503).
        unavailable => Unavailable,
        /// A bug or unexpected state (500).
        internal => Internal,
    }

    /// The error's code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The error's message.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn into_wit(self) -> ModuleError {
        ModuleError {
            code: self.code,
            message: self.message,
        }
    }

    pub(crate) fn from_wit(error: ModuleError) -> Self {
        Self {
            code: error.code,
            message: error.message,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", code_name(self.code), self.message)
    }
}

impl std::error::Error for Error {}

/// The wire name of a code, as the host writes it in error bodies.
pub(crate) fn code_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::BadRequest => "bad-request",
        ErrorCode::Forbidden => "forbidden",
        ErrorCode::NotFound => "not-found",
        ErrorCode::Conflict => "conflict",
        ErrorCode::Unprocessable => "unprocessable",
        ErrorCode::Unavailable => "unavailable",
        ErrorCode::Internal => "internal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_set_code_and_message() {
        let error = Error::not_found("no item with sku `x`");
        assert_eq!(error.code(), ErrorCode::NotFound);
        assert_eq!(error.message(), "no item with sku `x`");
        assert_eq!(error.to_string(), "not-found: no item with sku `x`");
        let wit = Error::unprocessable("stock would go negative").into_wit();
        assert_eq!(wit.code, ErrorCode::Unprocessable);
        assert_eq!(
            Error::from_wit(wit),
            Error::unprocessable("stock would go negative")
        );
    }
}
