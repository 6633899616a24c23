//! The CDS Hooks 2.0 request, parsed from JSON that already passed the request schema.
//!
//! Arrow: HTTP request → **CDS Hooks request**. Prefetch keeps the spec's three states:
//! a key that is absent (not in the map), present with `null` ("the EHR has no such data"),
//! or present with a resource / Bundle.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::facts::FetchGap;
use crate::prefetch::RawEntry;

/// The hooks this service answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook {
    OrderSelect,
    OrderSign,
}

impl Hook {
    pub fn parse(s: &str) -> Option<Hook> {
        match s {
            "order-select" => Some(Hook::OrderSelect),
            "order-sign" => Some(Hook::OrderSign),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Hook::OrderSelect => "order-select",
            Hook::OrderSign => "order-sign",
        }
    }
}

/// `fhirAuthorization`: the token is used only for the fallback fetch, never logged.
#[derive(Clone, Deserialize)]
pub struct FhirAuthorization {
    pub access_token: String,
    pub token_type: String,
    /// Seconds; any JSON number the schema's `integer` admits (`300.0`, `1e300`), saturated.
    #[serde(default, deserialize_with = "seconds")]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub patient: Option<String>,
}

/// A JSON Schema `integer` is any number with a zero fraction (`300.0`, `1e300`): read it
/// saturated into an `i64` rather than refusing what the schema accepted.
fn seconds<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let n = Option::<serde_json::Number>::deserialize(d)?;
    Ok(n.map(|n| {
        n.as_i64().unwrap_or_else(|| {
            let f = n.as_f64().unwrap_or_default();
            // `as` saturates at the i64 bounds.
            f as i64
        })
    }))
}

impl std::fmt::Debug for FhirAuthorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FhirAuthorization { access_token: <redacted> }")
    }
}

/// `context` of order-select / order-sign.
#[derive(Debug, Clone)]
pub struct HookContext {
    pub user_id: String,
    pub patient_id: String,
    pub encounter_id: Option<String>,
    /// order-select only: references into `draftOrders` (`MedicationRequest/103`).
    pub selections: Vec<String>,
    /// The `draftOrders` Bundle as sent.
    pub draft_orders: Value,
}

#[derive(Debug, Clone)]
pub struct HookRequest {
    pub hook: Hook,
    pub hook_instance: String,
    pub fhir_server: Option<String>,
    pub fhir_authorization: Option<FhirAuthorization>,
    pub context: HookContext,
    /// Absent key = not in the map; `null` = `Value::Null`.
    pub prefetch: Map<String, Value>,
    /// The entries of prefetch Bundles the skim kept raw (`crate::skim`, HTTP fast path), by
    /// key; such a Bundle's `Value` in `prefetch` has no `entry`. Empty from [`HookRequest::parse`].
    pub prefetch_entries: BTreeMap<String, Vec<RawEntry>>,
    /// Set by the fallback fetch (`crate::fetch`), empty from [`HookRequest::parse`]: absent
    /// keys it could not fetch (or fetched in part; their data is in `prefetch`).
    pub fetch_gaps: Vec<FetchGap>,
}

/// What is wrong with a request, with the JSON pointer of the offending member.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {message}")]
pub struct RequestError {
    pub pointer: String,
    pub message: String,
}

impl RequestError {
    pub fn new(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        RequestError {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

fn string_member(
    obj: &Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<String>, RequestError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(RequestError::new(
            format!("{at}/{key}"),
            format!("`{key}` must be a non-empty string"),
        )),
    }
}

fn required_string(obj: &Map<String, Value>, key: &str, at: &str) -> Result<String, RequestError> {
    string_member(obj, key, at)?
        .ok_or_else(|| RequestError::new(format!("{at}/{key}"), format!("`{key}` is required")))
}

impl HookRequest {
    /// [`HookRequest::parse`] of a body it may take apart: the prefetch is moved, not copied
    /// (same checks, same errors).
    pub fn parse_owned(mut body: Value) -> Result<HookRequest, RequestError> {
        let prefetch = body.as_object_mut().and_then(|o| o.remove("prefetch"));
        let mut request = HookRequest::parse(&body)?;
        match prefetch {
            None => {}
            Some(Value::Object(m)) => request.prefetch = m,
            Some(_) => {
                return Err(RequestError::new(
                    "/prefetch",
                    "`prefetch` must be an object",
                ));
            }
        }
        Ok(request)
    }

    /// Parse a request body. Checks what the hook's context requires; the JSON Schema check
    /// (done before, by the caller) gives the same pointers for structural errors.
    pub fn parse(body: &Value) -> Result<HookRequest, RequestError> {
        let obj = body
            .as_object()
            .ok_or_else(|| RequestError::new("", "the request body must be a JSON object"))?;
        let hook_name = required_string(obj, "hook", "")?;
        let hook = Hook::parse(&hook_name).ok_or_else(|| {
            RequestError::new(
                "/hook",
                format!(
                    "hook `{hook_name}` is not supported (expected `order-select` or `order-sign`)"
                ),
            )
        })?;
        let hook_instance = required_string(obj, "hookInstance", "")?;
        let fhir_server = string_member(obj, "fhirServer", "")?;
        let fhir_authorization = match obj.get("fhirAuthorization") {
            None => None,
            Some(v) => Some(
                // The error names the member, never its value (serde's message would quote it).
                serde_path_to_error::deserialize::<_, FhirAuthorization>(v.clone()).map_err(|e| {
                    let member = e.path().to_string();
                    RequestError::new(
                        format!("/fhirAuthorization/{}", member.replace('.', "/")),
                        format!("invalid fhirAuthorization: `{member}` is missing or has the wrong type"),
                    )
                })?,
            ),
        };
        if fhir_authorization.is_some() && fhir_server.is_none() {
            return Err(RequestError::new(
                "/fhirServer",
                "`fhirServer` is required when `fhirAuthorization` is present",
            ));
        }
        let ctx = obj
            .get("context")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                RequestError::new("/context", "`context` is required and must be an object")
            })?;
        let user_id = required_string(ctx, "userId", "/context")?;
        let patient_id = required_string(ctx, "patientId", "/context")?;
        let encounter_id = string_member(ctx, "encounterId", "/context")?;
        let selections = match (hook, ctx.get("selections")) {
            (Hook::OrderSelect, None) => {
                return Err(RequestError::new(
                    "/context/selections",
                    "`selections` is required for order-select",
                ));
            }
            (_, None) => Vec::new(),
            (_, Some(Value::Array(items))) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        RequestError::new(
                            format!("/context/selections/{i}"),
                            "each selection must be a reference string such as `MedicationRequest/123`",
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
            (_, Some(_)) => {
                return Err(RequestError::new(
                    "/context/selections",
                    "`selections` must be an array of reference strings",
                ));
            }
        };
        let draft_orders = match ctx.get("draftOrders") {
            Some(v @ Value::Object(o))
                if o.get("resourceType").and_then(Value::as_str) == Some("Bundle") =>
            {
                v.clone()
            }
            Some(_) => {
                return Err(RequestError::new(
                    "/context/draftOrders",
                    "`draftOrders` must be a FHIR Bundle (resourceType `Bundle`)",
                ));
            }
            None => {
                return Err(RequestError::new(
                    "/context/draftOrders",
                    "`draftOrders` is required for order-select and order-sign",
                ));
            }
        };
        let prefetch = match obj.get("prefetch") {
            None => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                return Err(RequestError::new(
                    "/prefetch",
                    "`prefetch` must be an object",
                ));
            }
        };
        Ok(HookRequest {
            hook,
            hook_instance,
            fhir_server,
            fhir_authorization,
            context: HookContext {
                user_id,
                patient_id,
                encounter_id,
                selections,
                draft_orders,
            },
            prefetch,
            prefetch_entries: BTreeMap::new(),
            fetch_gaps: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal() -> Value {
        json!({
            "hook": "order-select",
            "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"userId": "Practitioner/1", "patientId": "p1", "selections": ["MedicationRequest/m1"],
                        "draftOrders": {"resourceType": "Bundle", "type": "collection", "entry": [
                            {"resource": {"resourceType": "MedicationRequest", "id": "m1", "status": "draft",
                             "intent": "order", "subject": {"reference": "Patient/p1"},
                             "medicationCodeableConcept": {"text": "apixaban"}}}]}},
            "prefetch": {"patient": null}
        })
    }

    #[test]
    fn keeps_null_prefetch_apart_from_absent() {
        let r = HookRequest::parse(&minimal()).unwrap();
        assert_eq!(r.prefetch.get("patient"), Some(&Value::Null));
        assert!(!r.prefetch.contains_key("conditions"));
    }

    #[test]
    fn parse_owned_is_parse() {
        let r = HookRequest::parse_owned(minimal()).unwrap();
        assert_eq!(r.prefetch, HookRequest::parse(&minimal()).unwrap().prefetch);
        let mut v = minimal();
        v["prefetch"] = json!([]);
        assert_eq!(
            HookRequest::parse_owned(v.clone()).unwrap_err(),
            HookRequest::parse(&v).unwrap_err()
        );
    }

    #[test]
    fn order_select_needs_selections() {
        let mut v = minimal();
        v["context"].as_object_mut().unwrap().remove("selections");
        let e = HookRequest::parse(&v).unwrap_err();
        assert_eq!(e.pointer, "/context/selections");
    }

    #[test]
    fn unknown_hook_is_named() {
        let mut v = minimal();
        v["hook"] = json!("patient-view");
        let e = HookRequest::parse(&v).unwrap_err();
        assert_eq!(e.pointer, "/hook");
        assert!(e.message.contains("patient-view"));
    }

    #[test]
    fn token_is_redacted_in_debug() {
        let mut v = minimal();
        v["fhirServer"] = json!("https://ehr.example/fhir");
        v["fhirAuthorization"] = json!({"access_token": "SECRET-TOKEN", "token_type": "Bearer",
            "expires_in": 300, "scope": "patient/*.read", "subject": "cds"});
        let r = HookRequest::parse(&v).unwrap();
        assert!(!format!("{r:?}").contains("SECRET-TOKEN"));
    }

    #[test]
    fn expires_in_takes_any_integral_number_and_errors_never_quote_values() {
        let mut v = minimal();
        v["fhirServer"] = json!("https://ehr.example/fhir");
        let auth = |expires_in: Value| {
            json!({"access_token": "SECRET-TOKEN", "token_type": "Bearer",
                "expires_in": expires_in, "scope": "patient/*.read", "subject": "cds"})
        };
        for (given, read) in [
            (json!(300), 300),
            (json!(281474976710656.0), 281474976710656),
            (json!(1e300), i64::MAX),
        ] {
            v["fhirAuthorization"] = auth(given);
            let r = HookRequest::parse(&v).unwrap();
            assert_eq!(r.fhir_authorization.unwrap().expires_in, Some(read));
        }
        v["fhirAuthorization"] = auth(json!("Zebediah-300"));
        let e = HookRequest::parse(&v).unwrap_err();
        assert_eq!(e.pointer, "/fhirAuthorization/expires_in");
        assert!(!e.message.contains("Zebediah"), "{}", e.message);
    }
}
