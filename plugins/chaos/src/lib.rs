//! The chaos module: a guest that misbehaves on purpose, to test the host's sandbox.
//!
//! Each endpoint breaks one rule the host must enforce, so tests in
//! `crates/runtime/tests/sandbox.rs` can check the protection against a real
//! component rather than a mock:
//!
//! - `GET /ok` behaves, for contrast;
//! - `GET /loop` never returns (the deadline must stop it);
//! - `GET /sleep?ms=N` blocks in WASI for N ms without running wasm (the
//!   deadline is wall-clock, so it must stop this too);
//! - `GET /alloc?mb=N` allocates and touches N MiB (the memory limit);
//! - `GET /recurse?depth=N` recurses N times with 1 KiB of frame data in linear
//!   memory (Rust's shadow stack), or with `&frame=none` only on the engine's
//!   wasm stack (the stack limits);
//! - `GET /huge?mb=N` answers an N MiB body (the response size limit);
//! - `GET /panic` panics (traps, with the message on stderr);
//! - `GET /call/{module}` calls another module (only declared dependencies);
//! - `GET /kv-escape` tries keys that look like escapes or break the key rules;
//! - `PUT /write-then/{ending}` writes, then succeeds, fails, traps or loops
//!   (only a successful call's writes may be kept);
//! - `PUT|GET /data/{key}`, `GET /data`, `PUT /control/{key}` and the
//!   `migrate` hook exercise data migration (upper-cases `data/*` values,
//!   refuses when `control/fail-migrate` is `yes`, loops when it is `loop`,
//!   sleeps a minute when it is `sleep`).
//!
//! The decisions that do not need a host (upper-casing, the migration, the
//! kv-escape report) are plain functions over the small [`KvAccess`] trait so
//! they are unit tested on the host with an in-memory map.

use std::collections::BTreeMap;
use std::hint::black_box;

use modhost_sdk::{Error, Method, Module, Request, Response, Result, Router, kv, log, modules};
use serde::Serialize;

/// The module; see the crate docs.
pub struct Chaos;

impl Module for Chaos {
    fn router() -> Router {
        Router::new()
            .get("/ok", ok)
            .get("/flaky", flaky)
            .get("/loop", spin_forever)
            .get("/sleep", sleep)
            .get("/alloc", allocate)
            .get("/recurse", recurse)
            .get("/huge", huge)
            .get("/panic", panic_on_purpose)
            .get("/call/{module}", call_module)
            .get("/kv-escape", kv_escape)
            .get("/data", list_data)
            .get("/data/{key}", get_data)
            .put("/data/{key}", put_data)
            .put("/control/{key}", put_control)
            .put("/write-then/{ending}", write_then)
            .put("/fill/{count}", fill)
            .get("/respond", respond)
            .delete("/fill/{count}", unfill)
    }

    fn migrate(from_version: Option<&str>) -> core::result::Result<(), String> {
        match HostKv.get(FAIL_MIGRATE_KEY).ok().flatten().as_deref() {
            Some(b"loop") => spin_forever_in_migrate(),
            Some(b"sleep") => std::thread::sleep(std::time::Duration::from_millis(DEFAULT_SLEEP_MS)),
            _ => {}
        }
        let outcome = migrate_data(&mut HostKv, from_version)?;
        if let MigrationOutcome::Rewrote { values } = outcome {
            log::log(
                log::Level::Info,
                "chaos data migrated",
                &[
                    ("from", from_version.unwrap_or_default()),
                    ("values", &values.to_string()),
                ],
            );
        }
        Ok(())
    }
}

modhost_sdk::export_module!(Chaos);

const MIB: usize = 1024 * 1024;
const TOUCH_STRIDE_BYTES: usize = 4096;
/// How long `/sleep` blocks when `ms` is not given: far past any deadline.
const DEFAULT_SLEEP_MS: u64 = 60_000;
const DEFAULT_ALLOC_MB: usize = 64;
const DEFAULT_RECURSION_DEPTH: u64 = 10_000_000;
const DEFAULT_HUGE_MB: usize = 5;
/// Where `PUT /data/{key}` stores values.
pub const DATA_PREFIX: &str = "data/";
/// Where `PUT /control/{key}` stores values.
pub const CONTROL_PREFIX: &str = "control/";
/// Set to `yes` to make `migrate` refuse.
pub const FAIL_MIGRATE_KEY: &str = "control/fail-migrate";
/// Where `migrate` records the version it migrated from.
pub const MIGRATED_FROM_KEY: &str = "control/migrated-from";
/// The most `data/` keys `GET /data` reads.
const MAX_LISTED_KEYS: usize = 1000;

/// The kv operations chaos needs; [`HostKv`] is the host's store, tests use a map.
pub trait KvAccess {
    /// The value under `key`.
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Stores `value` under `key`.
    fn set(&mut self, key: &str, value: &[u8]) -> Result<()>;
    /// One page of keys starting with `prefix`, strictly after `after`, and the cursor of the next page.
    fn list_page(&mut self, prefix: &str, after: Option<&str>) -> Result<(Vec<String>, Option<String>)>;
}

/// The host's kv capability.
pub struct HostKv;

impl KvAccess for HostKv {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        kv::get(key)
    }

    fn set(&mut self, key: &str, value: &[u8]) -> Result<()> {
        kv::set(key, value)
    }

    fn list_page(&mut self, prefix: &str, after: Option<&str>) -> Result<(Vec<String>, Option<String>)> {
        let page = kv::list(prefix, after, 0)?;
        Ok((page.keys, page.next))
    }
}

/// `value` with ASCII letters upper-cased; other bytes (including UTF-8) untouched.
pub fn upper_cased(value: &[u8]) -> Vec<u8> {
    value.to_ascii_uppercase()
}

/// What [`migrate_data`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MigrationOutcome {
    /// First activation for the tenant: nothing to migrate.
    Nothing,
    /// Every `data/*` value was upper-cased; `values` of them were rewritten.
    Rewrote {
        /// How many values changed.
        values: usize,
    },
}

/// The migration: refuses when `control/fail-migrate` is `yes`, does
/// nothing when it is `skip`; from a
/// previous version, upper-cases every `data/*` value and records the version
/// in `control/migrated-from`. Idempotent: a second run changes nothing more.
pub fn migrate_data(
    store: &mut impl KvAccess,
    from_version: Option<&str>,
) -> core::result::Result<MigrationOutcome, String> {
    let flag = store.get(FAIL_MIGRATE_KEY).map_err(|error| error.to_string())?;
    match flag.as_deref() {
        Some(b"yes") => return Err("migration refused: control/fail-migrate is set".to_owned()),
        Some(b"skip") => return Ok(MigrationOutcome::Nothing),
        _ => {}
    }
    let Some(from_version) = from_version else {
        return Ok(MigrationOutcome::Nothing);
    };
    let mut rewritten = 0;
    let mut after: Option<String> = None;
    loop {
        let (keys, next) = store
            .list_page(DATA_PREFIX, after.as_deref())
            .map_err(|error| error.to_string())?;
        for key in keys {
            let Some(value) = store.get(&key).map_err(|error| error.to_string())? else {
                continue;
            };
            let migrated = upper_cased(&value);
            if migrated != value {
                store.set(&key, &migrated).map_err(|error| error.to_string())?;
                rewritten += 1;
            }
        }
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    store
        .set(MIGRATED_FROM_KEY, from_version.as_bytes())
        .map_err(|error| error.to_string())?;
    Ok(MigrationOutcome::Rewrote { values: rewritten })
}

/// The keys `/kv-escape` tries: path-like names (allowed, but opaque inside
/// the scope) and keys the host must refuse (NUL, 513 bytes, empty).
pub fn escape_keys() -> Vec<String> {
    vec![
        "../other/secret".to_owned(),
        "/etc/passwd".to_owned(),
        "a\0b".to_owned(),
        "k".repeat(513),
        String::new(),
    ]
}

/// What happened to one key of `/kv-escape`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyAttempt {
    /// The key tried.
    pub key: String,
    /// What `get` found before this call wrote (another tenant's write must never show here).
    pub before: Option<String>,
    /// The error of that first `get`, in the SDK's words.
    pub get_error: Option<String>,
    /// Whether `set` succeeded.
    pub set_ok: bool,
    /// The error of `set`, in the SDK's words.
    pub set_error: Option<String>,
    /// What `get` found after the write.
    pub after: Option<String>,
}

/// Reads `key`, writes `value` to it and reads it again, recording every outcome.
pub fn attempt_key(store: &mut impl KvAccess, key: &str, value: &str) -> KeyAttempt {
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    let (before, get_error) = match store.get(key) {
        Ok(found) => (found.map(text), None),
        Err(error) => (None, Some(error.to_string())),
    };
    let set_error = store
        .set(key, value.as_bytes())
        .err()
        .map(|error| error.to_string());
    let after = store.get(key).ok().flatten().map(text);
    KeyAttempt {
        key: key.to_owned(),
        before,
        get_error,
        set_ok: set_error.is_none(),
        set_error,
        after,
    }
}

/// Every `data/` value as a JSON object keyed by the name after `data/`.
pub fn data_object(store: &mut impl KvAccess) -> Result<serde_json::Map<String, serde_json::Value>> {
    let mut values = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let (keys, next) = store.list_page(DATA_PREFIX, after.as_deref())?;
        for key in keys {
            if values.len() >= MAX_LISTED_KEYS {
                return Err(Error::unprocessable(format!(
                    "more than {MAX_LISTED_KEYS} data keys; this endpoint lists at most that many"
                )));
            }
            if let Some(value) = store.get(&key)? {
                let name = key.strip_prefix(DATA_PREFIX).unwrap_or(&key).to_owned();
                values.insert(name, String::from_utf8_lossy(&value).into_owned());
            }
        }
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(values
        .into_iter()
        .map(|(name, value)| (name, serde_json::Value::String(value)))
        .collect())
}

/// Allocates `mebibytes` MiB, writes every 4096th byte, and returns how many bytes it wrote.
pub fn touch_mebibytes(mebibytes: usize) -> Result<usize> {
    let bytes = mebibytes
        .checked_mul(MIB)
        .ok_or_else(|| Error::bad_request(format!("{mebibytes} MiB does not fit in memory addresses")))?;
    let mut block = vec![0_u8; bytes];
    for index in (0..block.len()).step_by(TOUCH_STRIDE_BYTES) {
        block[index] = 1;
    }
    let block = black_box(block);
    Ok(block
        .iter()
        .step_by(TOUCH_STRIDE_BYTES)
        .filter(|byte| **byte == 1)
        .count())
}

/// Recurses `depth` times, each frame keeping 1 KiB of data alive across the
/// (non-tail) recursive call; returns `depth` if it gets there.
pub fn recurse_with_frames(depth: u64) -> u64 {
    let mut frame = [0_u8; 1024];
    frame[0] = 1;
    black_box(&mut frame);
    if depth == 0 {
        return 0;
    }
    let below = recurse_with_frames(black_box(depth - 1));
    black_box(below + u64::from(frame[0]))
}

/// Recurses `depth` times keeping nothing in linear memory, so only the
/// engine's wasm stack grows (no shadow-stack frame data: no local has its
/// address taken, unlike with `black_box`); returns `depth`. The saturating
/// step after the call is no accumulator the optimiser could turn into a loop.
pub fn recurse_without_frames(depth: u64) -> u64 {
    if depth == 0 {
        return 0;
    }
    let below = recurse_without_frames(depth - 1);
    if below == u64::MAX { below } else { below + 1 }
}

fn ok(_: &Request) -> Result<Response> {
    Response::ok(&serde_json::json!({ "ok": true }))
}

fn flaky(_: &Request) -> Result<Response> {
    let status = modhost_sdk::config::int("flaky_status")
        .and_then(|status| u16::try_from(status).ok())
        .unwrap_or(200);
    Ok(Response::new(status).with_body(br#"{"ok": true}"#.to_vec()))
}

fn spin_forever(_: &Request) -> Result<Response> {
    let mut counter: u64 = 0;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// What `migrate` does when `control/fail-migrate` is `loop`: never return.
fn spin_forever_in_migrate() -> ! {
    let mut counter: u64 = 0;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

fn sleep(request: &Request) -> Result<Response> {
    let millis = request.query_as::<u64>("ms")?.unwrap_or(DEFAULT_SLEEP_MS);
    std::thread::sleep(std::time::Duration::from_millis(millis));
    Response::ok(&serde_json::json!({ "slept_ms": millis }))
}

fn allocate(request: &Request) -> Result<Response> {
    let mebibytes = request.query_as::<usize>("mb")?.unwrap_or(DEFAULT_ALLOC_MB);
    let pages_touched = touch_mebibytes(mebibytes)?;
    Response::ok(&serde_json::json!({ "mb": mebibytes, "pages_touched": pages_touched }))
}

fn recurse(request: &Request) -> Result<Response> {
    let depth = request
        .query_as::<u64>("depth")?
        .unwrap_or(DEFAULT_RECURSION_DEPTH);
    let reached = match request.query("frame").as_deref() {
        None | Some("kib") => recurse_with_frames(depth),
        Some("none") => recurse_without_frames(depth),
        Some(other) => {
            return Err(Error::bad_request(format!(
                "query parameter `frame` is `{other}`; use `kib` or `none`"
            )));
        }
    };
    Response::ok(&serde_json::json!({ "depth": reached }))
}

fn huge(request: &Request) -> Result<Response> {
    let mebibytes = request.query_as::<usize>("mb")?.unwrap_or(DEFAULT_HUGE_MB);
    let bytes = mebibytes
        .checked_mul(MIB)
        .ok_or_else(|| Error::bad_request(format!("{mebibytes} MiB does not fit in memory addresses")))?;
    Ok(Response::new(200)
        .with_header("content-type", "application/octet-stream")
        .with_body(vec![b'x'; bytes]))
}

fn panic_on_purpose(_: &Request) -> Result<Response> {
    panic!("chaos panic: deliberate");
}

fn call_module(request: &Request) -> Result<Response> {
    let module = request.param("module")?;
    let answer = modules::call(module, Method::Get, "/hello/chaos", Vec::new())?;
    let response = answer
        .headers()
        .iter()
        .fold(Response::new(answer.status()), |response, (name, value)| {
            response.with_header(name.as_str(), value.as_str())
        });
    Ok(response.with_body(answer.body().to_vec()))
}

fn kv_escape(request: &Request) -> Result<Response> {
    let value = format!("written by tenant {}", request.context().tenant_id);
    let attempts: Vec<KeyAttempt> = escape_keys()
        .iter()
        .map(|key| attempt_key(&mut HostKv, key, &value))
        .collect();
    Response::ok(&attempts)
}

fn list_data(_: &Request) -> Result<Response> {
    Response::ok(&data_object(&mut HostKv)?)
}

fn get_data(request: &Request) -> Result<Response> {
    let key = request.param("key")?;
    let value = kv::get(&format!("{DATA_PREFIX}{key}"))?
        .ok_or_else(|| Error::not_found(format!("no data `{key}`")))?;
    Ok(Response::new(200)
        .with_header("content-type", "application/octet-stream")
        .with_body(value))
}

fn put_data(request: &Request) -> Result<Response> {
    let key = request.param("key")?;
    kv::set(&format!("{DATA_PREFIX}{key}"), request.body())?;
    Ok(Response::no_content())
}

/// Writes `data/{ending}` = the body, then ends the call as `{ending}` says:
/// `ok`, `error` (a module error), `trap` (a panic) or `deadline` (a loop).
fn write_then(request: &Request) -> Result<Response> {
    let ending = request.param("ending")?;
    kv::set(&format!("{DATA_PREFIX}{ending}"), request.body())?;
    match ending {
        "ok" => Ok(Response::no_content()),
        "error" => Err(Error::conflict("chaos: refusing after writing, on purpose")),
        "trap" => panic!("chaos panic after writing: deliberate"),
        "deadline" => spin_forever(request),
        other => Err(Error::bad_request(format!(
            "ending `{other}` is not one of ok, error, trap, deadline"
        ))),
    }
}

/// Answers `?status=` (default 200) with headers that would act for the
/// whole origin and an HTML body with a script: what a hostile module would
/// send to a browser.
fn respond(request: &Request) -> Result<Response> {
    let status = request.query_as::<u16>("status")?.unwrap_or(200);
    Ok(Response::new(status)
        .with_header("content-type", "text/html")
        .with_header("set-cookie", "session=stolen; Path=/")
        .with_header("location", "https://evil.example/")
        .with_header("www-authenticate", "Basic realm=\"modhost\"")
        .with_header("proxy-authenticate", "Basic")
        .with_header("connection", "upgrade")
        .with_header("upgrade", "websocket")
        .with_header("content-security-policy", "script-src *")
        .with_header("x-chaos", "kept")
        .with_body(b"<script>document.title = 'owned'</script>".to_vec()))
}

/// The most keys one `/fill` call writes or deletes.
const MAX_FILL: u32 = 10_000;

/// The `{count}` of a `/fill` request: 1 to [`MAX_FILL`].
fn fill_count(request: &Request) -> Result<u32> {
    let count = request.param("count")?;
    count
        .parse::<u32>()
        .ok()
        .filter(|count| (1..=MAX_FILL).contains(count))
        .ok_or_else(|| Error::bad_request(format!("count `{count}` is not 1 to {MAX_FILL}")))
}

/// The keys a `/fill` request names: `fill/{prefix}{index}`, `?prefix=` a key part.
fn fill_key(request: &Request, index: u32) -> Result<String> {
    let prefix = request.query("prefix").unwrap_or_default();
    if !prefix.is_empty() {
        kv::check_key_part("prefix", &prefix)?;
    }
    Ok(format!("fill/{prefix}{index}"))
}

/// Stores the body under `fill/{prefix}0` … `fill/{prefix}{count - 1}`, then
/// sleeps `?hold_ms=` (default 0) before answering, so calls overlap; the
/// first write the host refuses (the quota) ends the call with that error,
/// keeping nothing.
fn fill(request: &Request) -> Result<Response> {
    let count = fill_count(request)?;
    for index in 0..count {
        kv::set(&fill_key(request, index)?, request.body())?;
    }
    let hold = request.query_as::<u64>("hold_ms")?.unwrap_or(0);
    std::thread::sleep(std::time::Duration::from_millis(hold));
    Response::ok(&serde_json::json!({ "written": count }))
}

/// Deletes `fill/{prefix}0` … `fill/{prefix}{count - 1}`.
fn unfill(request: &Request) -> Result<Response> {
    let count = fill_count(request)?;
    let mut deleted = 0;
    for index in 0..count {
        if kv::delete(&fill_key(request, index)?)? {
            deleted += 1;
        }
    }
    Response::ok(&serde_json::json!({ "deleted": deleted }))
}

fn put_control(request: &Request) -> Result<Response> {
    let key = request.param("key")?;
    kv::set(&format!("{CONTROL_PREFIX}{key}"), request.body())?;
    Ok(Response::no_content())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An in-memory [`KvAccess`] that pages two keys at a time, to exercise paging.
    #[derive(Default)]
    struct MapKv {
        entries: BTreeMap<String, Vec<u8>>,
    }

    impl MapKv {
        fn with(entries: &[(&str, &str)]) -> Self {
            Self {
                entries: entries
                    .iter()
                    .map(|(key, value)| ((*key).to_owned(), value.as_bytes().to_vec()))
                    .collect(),
            }
        }

        fn text(&self, key: &str) -> Option<&str> {
            self.entries
                .get(key)
                .map(|value| std::str::from_utf8(value).expect("utf-8"))
        }
    }

    impl KvAccess for MapKv {
        fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
            if key.is_empty() {
                return Err(Error::bad_request("invalid storage key: the key is empty"));
            }
            Ok(self.entries.get(key).cloned())
        }

        fn set(&mut self, key: &str, value: &[u8]) -> Result<()> {
            if key.is_empty() {
                return Err(Error::bad_request("invalid storage key: the key is empty"));
            }
            self.entries.insert(key.to_owned(), value.to_vec());
            Ok(())
        }

        fn list_page(&mut self, prefix: &str, after: Option<&str>) -> Result<(Vec<String>, Option<String>)> {
            let keys: Vec<String> = self
                .entries
                .keys()
                .filter(|key| key.starts_with(prefix) && after.is_none_or(|after| key.as_str() > after))
                .take(3)
                .cloned()
                .collect();
            let mut page = keys;
            let next = if page.len() == 3 {
                page.truncate(2);
                page.last().cloned()
            } else {
                None
            };
            Ok((page, next))
        }
    }

    #[test]
    fn upper_casing_touches_only_ascii_letters() {
        assert_eq!(upper_cased(b"restock friday 42"), b"RESTOCK FRIDAY 42");
        assert_eq!(upper_cased("ção é".as_bytes()), "çãO é".as_bytes());
        assert_eq!(upper_cased(b"ALREADY"), b"ALREADY");
    }

    #[test]
    fn migration_upper_cases_data_across_pages_and_is_idempotent() {
        let mut store = MapKv::with(&[
            ("data/a", "apple"),
            ("data/b", "Banana"),
            ("data/c", "CHERRY"),
            ("data/d", "date"),
            ("data/e", "elder"),
            ("other", "left alone"),
        ]);
        assert_eq!(
            migrate_data(&mut store, Some("0.9.0")),
            Ok(MigrationOutcome::Rewrote { values: 4 })
        );
        for (key, expected) in [
            ("data/a", "APPLE"),
            ("data/b", "BANANA"),
            ("data/c", "CHERRY"),
            ("data/d", "DATE"),
            ("data/e", "ELDER"),
            ("other", "left alone"),
            (MIGRATED_FROM_KEY, "0.9.0"),
        ] {
            assert_eq!(store.text(key), Some(expected), "{key}");
        }
        let after_first = store.entries.clone();
        assert_eq!(
            migrate_data(&mut store, Some("0.9.0")),
            Ok(MigrationOutcome::Rewrote { values: 0 })
        );
        assert_eq!(store.entries, after_first, "a second run changes nothing");
    }

    #[test]
    fn first_activation_migrates_nothing() {
        let mut store = MapKv::with(&[("data/a", "apple")]);
        assert_eq!(migrate_data(&mut store, None), Ok(MigrationOutcome::Nothing));
        assert_eq!(store.text("data/a"), Some("apple"));
        assert_eq!(store.text(MIGRATED_FROM_KEY), None);
    }

    #[test]
    fn migration_is_refused_only_when_the_flag_is_yes() {
        let mut refusing = MapKv::with(&[("data/a", "apple"), (FAIL_MIGRATE_KEY, "yes")]);
        assert_eq!(
            migrate_data(&mut refusing, Some("0.9.0")),
            Err("migration refused: control/fail-migrate is set".to_owned())
        );
        assert_eq!(refusing.text("data/a"), Some("apple"), "data untouched");
        assert_eq!(
            migrate_data(&mut refusing, None),
            Err("migration refused: control/fail-migrate is set".to_owned())
        );
        let mut not_refusing = MapKv::with(&[("data/a", "apple"), (FAIL_MIGRATE_KEY, "no")]);
        assert_eq!(
            migrate_data(&mut not_refusing, Some("0.9.0")),
            Ok(MigrationOutcome::Rewrote { values: 1 })
        );
    }

    #[test]
    fn key_attempts_record_each_step() {
        let mut store = MapKv::with(&[("taken", "earlier")]);
        assert_eq!(
            attempt_key(&mut store, "taken", "mine"),
            KeyAttempt {
                key: "taken".to_owned(),
                before: Some("earlier".to_owned()),
                get_error: None,
                set_ok: true,
                set_error: None,
                after: Some("mine".to_owned()),
            }
        );
        assert_eq!(
            attempt_key(&mut store, "", "mine"),
            KeyAttempt {
                key: String::new(),
                before: None,
                get_error: Some("bad-request: invalid storage key: the key is empty".to_owned()),
                set_ok: false,
                set_error: Some("bad-request: invalid storage key: the key is empty".to_owned()),
                after: None,
            }
        );
        let keys = escape_keys();
        assert_eq!(keys[3].len(), 513, "one byte over the host's limit");
    }

    #[test]
    fn data_listing_strips_the_prefix_and_follows_pages() {
        let mut store = MapKv::with(&[
            ("control/x", "no"),
            ("data/a", "1"),
            ("data/b", "2"),
            ("data/c", "3"),
            ("data/d", "4"),
        ]);
        let object = data_object(&mut store).expect("listed");
        assert_eq!(
            serde_json::Value::Object(object),
            serde_json::json!({"a": "1", "b": "2", "c": "3", "d": "4"})
        );
    }

    #[test]
    fn allocation_touches_every_page_and_recursion_counts_its_depth() {
        assert_eq!(touch_mebibytes(1), Ok(MIB / TOUCH_STRIDE_BYTES));
        assert_eq!(recurse_with_frames(100), 100);
        assert_eq!(recurse_without_frames(100), 100);
    }

    #[test]
    fn routes_are_valid() {
        assert_eq!(Chaos::self_test(), Ok(()));
    }
}
