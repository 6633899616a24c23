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
    fn syntax_errors_name_the_position() {
        let e = parse_json(b"{\n  \"hook\": ,\n}").unwrap_err();
        match e {
            ApiError::MalformedJson { line, column, .. } => assert_eq!((line, column), (2, 11)),
            other => panic!("{other:?}"),
        }
    }
}
