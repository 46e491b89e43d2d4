//! The one place that refuses input no service should ever see: a NUL character in any text
//! that could reach Postgres (which cannot store it in `text` and answers an error that would
//! otherwise become a 500), and an oversized header.
//!
//! - [`guard`] (middleware, in every service's stack): a NUL in the path (after
//!   percent-decoding) or in a query parameter's name or value is a 422 naming it; a path or
//!   query that is not UTF-8 once percent-decoded is a 400 (as a JSON body that is not UTF-8
//!   is), so no handler sees U+FFFD where the client sent other bytes; a single header longer
//!   than [`MAX_HEADER_BYTES`] is a 431.
//! - The kit's body extractors ([`crate::extract::Json`], [`crate::extract::Form`],
//!   [`crate::extract::JsonOrForm`]) call [`json_nul_pointers`] and [`form_nul_fields`]: a
//!   NUL in any JSON string (a key or a value, at any depth) or in a form field is a 422 whose
//!   `errors` name each place by JSON pointer. A form body that is not UTF-8 once
//!   percent-decoded is a 400 ([`form_is_utf8`]).

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::Problem;
use crate::problem::FieldError;

/// The longest single header (name and value) a service accepts: 8 KiB, as common proxies do.
pub const MAX_HEADER_BYTES: usize = 8 * 1024;

const NUL_MESSAGE: &str = "must not contain NUL characters";

/// The refusal of NUL characters at `pointers`.
pub fn nul_problem(pointers: impl IntoIterator<Item = String>) -> Problem {
    Problem::validation(
        pointers
            .into_iter()
            .map(|pointer| FieldError::new(pointer, NUL_MESSAGE))
            .collect(),
    )
}

/// A name as it may appear in a pointer or a message: NUL shown as `\0`.
fn printable(name: &str) -> String {
    name.replace('\0', "\\0")
}

/// The JSON pointer of every string (object key or value) in `bytes` holding a NUL, when the
/// body is JSON at all; empty for anything else (its parser says what is wrong with it).
pub fn json_nul_pointers(bytes: &[u8]) -> Vec<String> {
    // A NUL can only be in valid JSON as the escape `\u0000`: look for it before parsing.
    let escaped = bytes
        .windows(6)
        .any(|w| w[0] == b'\\' && w[1] == b'u' && w[2..].eq_ignore_ascii_case(b"0000"));
    if !escaped {
        return Vec::new();
    }
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    walk(&value, String::new(), &mut found);
    found
}

fn escape_pointer(key: &str) -> String {
    printable(&key.replace('~', "~0").replace('/', "~1"))
}

fn walk(value: &Value, pointer: String, found: &mut Vec<String>) {
    match value {
        Value::String(s) if s.contains('\0') => found.push(if pointer.is_empty() { "/".into() } else { pointer }),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk(item, format!("{pointer}/{i}"), found);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let child = format!("{pointer}/{}", escape_pointer(key));
                if key.contains('\0') {
                    found.push(child.clone());
                }
                walk(item, child, found);
            }
        }
        _ => {}
    }
}

/// The name of every form field (or query parameter) whose name or value holds a NUL.
pub fn form_nul_fields(encoded: &[u8]) -> Vec<String> {
    url::form_urlencoded::parse(encoded)
        .filter(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| format!("/{}", escape_pointer(&k)))
        .collect()
}

/// Whether every name and value of a form (or query) is UTF-8 once percent-decoded (`+` as
/// space). `url`'s parser would quietly turn other bytes into U+FFFD.
pub fn form_is_utf8(encoded: &[u8]) -> bool {
    encoded
        .split(|b| *b == b'&')
        .flat_map(|pair| pair.splitn(2, |b| *b == b'='))
        .all(|part| {
            let decoded: Vec<u8> = percent_encoding::percent_decode(part).collect();
            std::str::from_utf8(&decoded).is_ok()
        })
}

/// The refusal of input that is not UTF-8; `place` says where ("the path", "the query", "the form").
pub fn not_utf8_problem(place: &str) -> Problem {
    Problem::bad_request(format!("{place} is not valid UTF-8 once percent-decoded"))
}

/// The middleware: refuses a path or query that is not UTF-8 (400), a NUL in either (422) and
/// an oversized header (431) before any handler runs.
pub async fn guard(req: Request, next: Next) -> Response {
    if let Some((name, value)) = req
        .headers()
        .iter()
        .find(|(name, value)| name.as_str().len() + value.len() > MAX_HEADER_BYTES)
    {
        return Problem::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "header-too-large",
            "Request header too large",
        )
        .detail(format!(
            "the header `{name}` is {} bytes; at most {MAX_HEADER_BYTES} are accepted",
            name.as_str().len() + value.len()
        ))
        .into_response();
    }
    let path: Vec<u8> = percent_encoding::percent_decode_str(req.uri().path()).collect();
    if std::str::from_utf8(&path).is_err() {
        return not_utf8_problem("the path").into_response();
    }
    if let Some(query) = req.uri().query()
        && !form_is_utf8(query.as_bytes())
    {
        return not_utf8_problem("the query").into_response();
    }
    if path.contains(&0) {
        return Problem::validation(vec![FieldError::new("path", NUL_MESSAGE)]).into_response();
    }
    if let Some(query) = req.uri().query() {
        let fields = form_nul_fields(query.as_bytes());
        if !fields.is_empty() {
            return nul_problem(fields).into_response();
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_is_found_in_json_keys_and_values_at_any_depth() {
        let body = br#"{"name": "a\u0000b", "attributes": {"si\u0000ze": "M", "ok": ["x", "y\u0000"]}, "n": 1}"#;
        let mut found = json_nul_pointers(body);
        found.sort();
        assert_eq!(found, ["/attributes/ok/1", "/attributes/si\\0ze", "/name"]);
        assert!(
            json_nul_pointers(br#"{"name": "a\\u0000b"}"#).is_empty(),
            "an escaped backslash is text"
        );
        assert!(json_nul_pointers(br#"{"name": "plain"}"#).is_empty());
        assert!(
            json_nul_pointers(b"not json \\u0000").is_empty(),
            "the parser reports that"
        );
        assert_eq!(json_nul_pointers(br#""\u0000""#), ["/"]);
        assert_eq!(json_nul_pointers(br#"{"a/b~": "\u0000"}"#), ["/a~1b~0"]);
    }

    #[test]
    fn forms_and_queries_must_be_utf8_once_decoded() {
        assert!(form_is_utf8(b"q=caf%C3%A9&page=2&flag"));
        assert!(form_is_utf8(b"q=100%25+sure"));
        assert!(!form_is_utf8(b"q=%FF"));
        assert!(!form_is_utf8(b"%C3=1"), "a name too");
        assert!(!form_is_utf8(b"a=1&b=%E2%82"), "a cut sequence");
    }

    #[test]
    fn nul_is_found_in_form_fields() {
        assert_eq!(form_nul_fields(b"email=a%00b&password=x"), ["/email"]);
        assert_eq!(form_nul_fields(b"a%00=1"), ["/a\\0"]);
        assert!(
            form_nul_fields(b"email=a%2500b").is_empty(),
            "an encoded percent is text"
        );
    }
}
