//! The template module: a greeting that counts visits, and notes.
//!
//! The smallest complete modhost module, to copy from. Two features, each showing one host capability with the tenant's config, and a no-op:
//!
//! - `GET /ping` answers `{"ok": true}` and touches nothing (a liveness
//!   check; the benchmark's trivial route);
//! - `GET /hello/{name}` greets with the tenant's configured `greeting` and
//!   counts visits per name in kv;
//! - `PUT /notes/{id}` stores a note in kv, refusing ones longer than the
//!   tenant's `max_note_length`; `GET /notes/{id}` reads it back.
//!
//! The logic that decides things lives in plain functions (`greeting_message`,
//! `check_note`) so it is unit tested on the host with `cargo test`; the
//! handlers only move data between the request, kv and the response.

use modhost_sdk::{Error, Module, Request, Response, Result, Router, config, kv, log};
use serde::{Deserialize, Serialize};

/// The module; see the crate docs.
pub struct Template;

impl Module for Template {
    fn router() -> Router {
        Router::new()
            .get("/hello/{name}", hello)
            .get("/ping", ping)
            .get("/notes/{id}", get_note)
            .put("/notes/{id}", put_note)
    }
}

modhost_sdk::export_module!(Template);

const DEFAULT_GREETING: &str = "hello";
const DEFAULT_MAX_NOTE_LENGTH: i64 = 280;

/// A stored note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    /// The note's text.
    pub text: String,
}

/// The greeting for `name`.
pub fn greeting_message(greeting: &str, name: &str) -> String {
    format!("{greeting}, {name}")
}

/// Checks a note against the tenant's maximum length (in characters).
pub fn check_note(note: &Note, max_length: i64) -> Result<()> {
    let length = note.text.chars().count();
    if length == 0 {
        return Err(Error::unprocessable("a note needs some text"));
    }
    if i64::try_from(length).unwrap_or(i64::MAX) > max_length {
        return Err(Error::unprocessable(format!(
            "the note has {length} characters; this tenant allows at most {max_length}"
        )));
    }
    Ok(())
}

fn hello(request: &Request) -> Result<Response> {
    let name = request.param("name")?;
    let greeting = config::text("greeting").unwrap_or_else(|| DEFAULT_GREETING.to_owned());
    let key = format!("visits/{name}");
    let visits = kv::get_json::<u64>(&key)?.unwrap_or(0) + 1;
    kv::set_json(&key, &visits)?;
    Response::ok(&serde_json::json!({ "message": greeting_message(&greeting, name), "visits": visits }))
}

fn ping(_request: &Request) -> Result<Response> {
    Response::ok(&serde_json::json!({ "ok": true }))
}

fn get_note(request: &Request) -> Result<Response> {
    let id = request.param("id")?;
    let note: Note =
        kv::get_json(&format!("notes/{id}"))?.ok_or_else(|| Error::not_found(format!("no note `{id}`")))?;
    Response::ok(&note)
}

fn put_note(request: &Request) -> Result<Response> {
    let id = request.param("id")?;
    let note: Note = request.json()?;
    check_note(
        &note,
        config::int("max_note_length").unwrap_or(DEFAULT_MAX_NOTE_LENGTH),
    )?;
    kv::set_json(&format!("notes/{id}"), &note)?;
    log::log(log::Level::Info, "note stored", &[("id", id)]);
    Response::ok(&note)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_uses_the_configured_word() {
        assert_eq!(greeting_message("olá", "ana"), "olá, ana");
    }

    #[test]
    fn notes_must_be_non_empty_and_within_the_limit() {
        let note = |text: &str| Note {
            text: text.to_owned(),
        };
        assert_eq!(check_note(&note("hi"), 280), Ok(()));
        assert_eq!(
            check_note(&note(""), 280),
            Err(Error::unprocessable("a note needs some text"))
        );
        assert_eq!(
            check_note(&note("ção!"), 3),
            Err(Error::unprocessable(
                "the note has 4 characters; this tenant allows at most 3"
            ))
        );
    }

    #[test]
    fn routes_are_valid() {
        assert_eq!(Template::self_test(), Ok(()));
    }
}
