//! Reading a JSON request body: media type (415), size limit (413), syntax (400 with position).

use actix_web::HttpRequest;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::web::{self, Bytes, BytesMut};
use futures_util::StreamExt;
use serde_json::Value;

use super::errors::ApiError;

/// `application/json` or `application/fhir+json`, with any parameters (`; charset=utf-8`).
pub fn is_json_media_type(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence.eq_ignore_ascii_case("application/fhir+json")
}

/// Check the media type and read at most `limit` bytes of body.
pub async fn read(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !is_json_media_type(content_type) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let mut body = BytesMut::with_capacity(declared.map_or(8 * 1024, |n| n as usize));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::MalformedJson {
            message: "the request body could not be read".to_owned(),
            line: 1,
            column: 0,
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The deepest nesting serde_json parses (its recursion limit is 128: 128 levels and more are
/// refused): `DVT_CDS_MAX_JSON_DEPTH` can be at most this.
pub const SERDE_JSON_MAX_DEPTH: usize = 127;

/// Refuse a body whose arrays/objects nest deeper than `max_depth` (400 `json-too-deep`)
/// before it is parsed: one pass over the buffered bytes, skipping the contents of strings
/// (escapes included), so `"[[["` inside a string does not count. Unbalanced or otherwise
/// broken JSON is left to the parser (which names the position).
pub fn check_depth(bytes: &[u8], max_depth: usize) -> Result<(), ApiError> {
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        i += 1;
        match b {
            // Strings are most of a FHIR body: jump to their closing quote (memchr is SIMD),
            // stepping over escapes. An unterminated string is left to the parser.
            b'"' => loop {
                let Some(at) = bytes
                    .get(i..)
                    .and_then(|rest| memchr::memchr2(b'"', b'\\', rest))
                else {
                    return Ok(());
                };
                i += at + 1;
                if bytes[i - 1] == b'"' {
                    break;
                }
                // A backslash: the next byte is escaped, whatever it is.
                i += 1;
            },
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(ApiError::JsonTooDeep { limit: max_depth });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Parse the body as JSON (any value; the schema checks the shape).
pub fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::malformed_json(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_media_types() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=utf-8"));
        assert!(is_json_media_type("application/fhir+json;charset=UTF-8"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type(""));
        assert!(!is_json_media_type("application/jsonx"));
    }

    #[test]
    fn depth_counts_arrays_and_objects_outside_strings() {
        assert!(check_depth(b"{}", 1).is_ok());
        assert!(check_depth(b"[[]]", 1).is_err());
        assert!(check_depth(br#"{"a":[{"b":1}]}"#, 3).is_ok());
        assert!(check_depth(br#"{"a":[{"b":[1]}]}"#, 3).is_err());
        // Brackets in strings, escaped quotes and backslashes do not count.
        assert!(check_depth(br#"{"a":"[[[[{{{{"}"#, 1).is_ok());
        assert!(check_depth(br#"{"a":"\"[[[[","b":"\\"}"#, 1).is_ok());
        assert!(check_depth(br#"{"a":"\\",  "b":[[]]}"#, 2).is_err());
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        match check_depth(deep.as_bytes(), 64) {
            Err(ApiError::JsonTooDeep { limit: 64 }) => {}
            other => panic!("{other:?}"),
        }
        assert!(check_depth(deep.as_bytes(), 65).is_ok());
        // Unbalanced closers never underflow; the parser reports them.
        assert!(check_depth(b"]]]]{", 1).is_ok());
    }

    #[test]
    fn the_depth_limit_agrees_with_serde_json() {
        let at = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let limit = SERDE_JSON_MAX_DEPTH;
        assert!(serde_json::from_str::<Value>(&at(limit)).is_ok());
        assert!(serde_json::from_str::<Value>(&at(limit + 1)).is_err());
        assert!(check_depth(at(limit + 1).as_bytes(), limit).is_err());
    }

    #[test]
    fn syntax_errors_name_the_position() {
        let e = parse_json(b"{\n  \"hook\": ,\n}").unwrap_err();
        match e {
            ApiError::MalformedJson { line, column, .. } => assert_eq!((line, column), (2, 11)),
            other => panic!("{other:?}"),
        }
    }
}
