"""python-hello: a modhost module written in Python, built with componentize-py.

The Python twin of plugins/template, and a worked example of a module in a
second language. It implements the `modhost:module@1.0.0` world
(wit/v1.0.0/world.wit):

- `GET /hello/{name}` answers `{"message": "<greeting>, <name>"}`, the
  greeting being the tenant's `greeting` config field (default `hello`);
- `PUT /notes/{id}` stores `{"text": "..."}` in kv and answers it back,
  refusing an empty text (422) or one longer than the tenant's
  `max_note_length` (422); `GET /notes/{id}` reads it back (404 if absent).

It behaves like a module built with the Rust SDK (crates/sdk): a path that
matches no endpoint is a `not-found` error, a known path with another method
is answered 405 with an `allow` header, a body that is not JSON is a
`bad-request`, JSON bodies are compact UTF-8 with `content-type:
application/json`, and kv errors map to the same codes. Errors are raised as
`Err(ModuleError(...))`, which the host answers as
`{"error": {"code": ..., "message": ...}}` with the code's status.

Build: see README.md (`cargo xtask build-plugins` does it for you).
"""

import json
from typing import Callable, Dict, List, Optional, Tuple

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import config, kv, log
from wit_world.imports.types import (
    ErrorCode,
    Method,
    ModuleError,
    Request,
    Response,
    TenantContext,
)

DEFAULT_GREETING = "hello"
DEFAULT_MAX_NOTE_LENGTH = 280
MAX_KEY_PART_BYTES = 64
KEY_PART_EXTRA = frozenset(b"._-")

# ---------------------------------------------------------------- errors


def error(code: ErrorCode, message: str) -> Err:
    """A module error to raise; the host maps `code` to an HTTP status."""
    return Err(ModuleError(code=code, message=message))


def bad_request(message: str) -> Err:
    return error(ErrorCode.BAD_REQUEST, message)


def not_found(message: str) -> Err:
    return error(ErrorCode.NOT_FOUND, message)


def unprocessable(message: str) -> Err:
    return error(ErrorCode.UNPROCESSABLE, message)


# ---------------------------------------------------------------- responses


def json_response(status: int, value: object) -> Response:
    """A JSON response, serialised like serde_json (compact, UTF-8)."""
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(
        status=status,
        headers=[("content-type", "application/json")],
        body=body,
    )


def ok(value: object) -> Response:
    return json_response(200, value)


def request_json(req: Request) -> object:
    """The body as JSON, or a `bad-request` error saying what is wrong."""
    if not req.body:
        raise bad_request("the request body is empty; send a JSON document")
    try:
        return json.loads(req.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as problem:
        raise bad_request(
            f"the request body is not valid JSON for this endpoint: {problem}"
        ) from None


# ---------------------------------------------------------------- routing

METHOD_NAMES = {
    Method.GET: "GET",
    Method.HEAD: "HEAD",
    Method.POST: "POST",
    Method.PUT: "PUT",
    Method.PATCH: "PATCH",
    Method.DELETE: "DELETE",
    Method.OPTIONS: "OPTIONS",
}


def percent_decode(text: str) -> Optional[str]:
    """Decodes `%XX` escapes; `None` if one is malformed or the result is not UTF-8.

    The same rule as modhost_path::percent_decode, so the host (which checks
    the endpoint's permission) and this module agree on every path.
    """
    raw = text.encode("utf-8")
    decoded = bytearray()
    index = 0
    while index < len(raw):
        if raw[index] == ord("%"):
            digits = raw[index + 1 : index + 3]
            if len(digits) != 2:
                return None
            try:
                decoded.append(int(digits.decode("ascii"), 16))
            except (UnicodeDecodeError, ValueError):
                return None
            index += 3
        else:
            decoded.append(raw[index])
            index += 1
    try:
        return decoded.decode("utf-8")
    except UnicodeDecodeError:
        return None


def match_pattern(pattern: str, path: str) -> Optional[Dict[str, str]]:
    """Matches `path` against a pattern of literal and `{name}` segments."""
    if not path.startswith("/"):
        return None
    wanted = pattern[1:].split("/")
    got = path[1:].split("/")
    if len(wanted) != len(got):
        return None
    params: Dict[str, str] = {}
    for segment, value in zip(wanted, got):
        if segment.startswith("{") and segment.endswith("}"):
            decoded = percent_decode(value) if value else None
            if decoded is None:
                return None
            params[segment[1:-1]] = decoded
        elif segment != value:
            return None
    return params


RouteFn = Callable[[Request, Dict[str, str]], Response]


def dispatch(routes: List[Tuple[Method, str, RouteFn]], req: Request) -> Response:
    """Runs the first route matching the request, like the Rust SDK's Router."""
    allowed: List[str] = []
    for method, pattern, handler in routes:
        params = match_pattern(pattern, req.path)
        if params is None:
            continue
        if method == req.method:
            return handler(req, params)
        if METHOD_NAMES[method] not in allowed:
            allowed.append(METHOD_NAMES[method])
    method_name = METHOD_NAMES[req.method]
    if not allowed:
        raise not_found(f"no endpoint {method_name} {req.path}")
    allow = ", ".join(allowed)
    response = json_response(
        405,
        {
            "error": {
                "code": "method-not-allowed",
                "message": f"method {method_name} is not allowed on {req.path}; use {allow}",
            }
        },
    )
    response.headers.append(("allow", allow))
    return response


# ---------------------------------------------------------------- capabilities


def config_text(key: str, default: str) -> str:
    value = config.get(key)
    return value.value if isinstance(value, config.Value_Text) else default


def config_int(key: str, default: int) -> int:
    value = config.get(key)
    return value.value if isinstance(value, config.Value_Integer) else default


def kv_error(problem: Err) -> Err:
    """Maps a kv error to a module error, as the Rust SDK does."""
    reason = problem.value
    if isinstance(reason, kv.KvError_InvalidKey):
        return bad_request(f"invalid storage key: {reason.value}")
    if isinstance(reason, kv.KvError_ValueTooLarge):
        return unprocessable(
            f"the value is larger than the storage limit of {reason.value} bytes"
        )
    detail = str(getattr(reason, "value", reason))
    if detail.startswith("quota exceeded: "):
        return error(
            ErrorCode.CONFLICT, "storage quota exceeded: " + detail[len("quota exceeded: ") :]
        )
    return error(ErrorCode.UNAVAILABLE, f"storage is unavailable: {detail}")


def kv_get_json(key: str) -> Optional[object]:
    try:
        raw = kv.get(key)
    except Err as problem:
        raise kv_error(problem) from None
    if raw is None:
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as problem:
        raise error(ErrorCode.INTERNAL, f"the value under `{key}` is not valid JSON: {problem}") from None


def kv_set_json(key: str, value: object) -> None:
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    try:
        kv.set(key, body)
    except Err as problem:
        raise kv_error(problem) from None


def check_key_part(what: str, part: str) -> None:
    """Refuses an id that could forge the key structure (no `/`), like the SDK."""
    raw = part.encode("utf-8")
    if 1 <= len(raw) <= MAX_KEY_PART_BYTES and all(
        (byte < 128 and chr(byte).isalnum()) or byte in KEY_PART_EXTRA for byte in raw
    ):
        return
    raise bad_request(
        f"{what} `{part}` is not valid; use 1 to {MAX_KEY_PART_BYTES} letters, digits, `.`, `_` or `-`"
    )


# ---------------------------------------------------------------- the module's logic


def greeting_message(greeting: str, name: str) -> str:
    return f"{greeting}, {name}"


def check_note(note: object, max_length: int) -> str:
    """The note's text, or an error if the note is not `{"text": "..."}` within the limit."""
    if not isinstance(note, dict) or not isinstance(note.get("text"), str):
        raise bad_request('the request body is not valid JSON for this endpoint: expected {"text": "..."}')
    text = note["text"]
    if len(text) == 0:
        raise unprocessable("a note needs some text")
    if len(text) > max_length:
        raise unprocessable(
            f"the note has {len(text)} characters; this tenant allows at most {max_length}"
        )
    return text


def hello(req: Request, params: Dict[str, str]) -> Response:
    greeting = config_text("greeting", DEFAULT_GREETING)
    return ok({"message": greeting_message(greeting, params["name"])})


def get_note(req: Request, params: Dict[str, str]) -> Response:
    note_id = params["id"]
    check_key_part("note id", note_id)
    note = kv_get_json(f"notes/{note_id}")
    if note is None:
        raise not_found(f"no note `{note_id}`")
    return ok(note)


def put_note(req: Request, params: Dict[str, str]) -> Response:
    note_id = params["id"]
    check_key_part("note id", note_id)
    text = check_note(request_json(req), config_int("max_note_length", DEFAULT_MAX_NOTE_LENGTH))
    note = {"text": text}
    kv_set_json(f"notes/{note_id}", note)
    log.log(log.Level.INFO, "note stored", [("id", note_id)])
    return ok(note)


ROUTES: List[Tuple[Method, str, RouteFn]] = [
    (Method.GET, "/hello/{name}", hello),
    (Method.GET, "/notes/{id}", get_note),
    (Method.PUT, "/notes/{id}", put_note),
]


# ---------------------------------------------------------------- the world's exports


class Handler(exports.Handler):
    def handle(self, ctx: TenantContext, req: Request) -> Response:
        try:
            return dispatch(ROUTES, req)
        except Err:
            raise
        except Exception as problem:  # a bug: answer `internal`, keep no kv writes
            raise error(ErrorCode.INTERNAL, f"unexpected {type(problem).__name__}: {problem}") from None


class Lifecycle(exports.Lifecycle):
    def migrate(self, from_version: Optional[str]) -> None:
        # Version 0.1.0 is the first shape of the data: nothing to migrate.
        return None

    def self_test(self) -> None:
        if greeting_message("hello", "world") != "hello, world":
            raise Err("greeting_message is broken")
        if match_pattern("/hello/{name}", "/hello/w%C3%B6rld") != {"name": "wörld"}:
            raise Err("the router does not decode path parameters")
