//! The CDS Hooks 2.0 JSON Schemas of `cds-services/schemas/` and the OpenAPI document,
//! embedded in the binary and compiled once at start-up.
//!
//! Violations are reported with the JSON pointer of the offending member and a message that
//! never repeats the offending value (request bodies carry patient data).

use jsonschema::Validator;
use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

/// `cds-services/schemas/cds-hooks-request.json`: generic request + order-select/order-sign context.
pub const REQUEST_SCHEMA: &str = include_str!("../cds-services/schemas/cds-hooks-request.json");
/// `cds-services/schemas/cds-hooks-response.json`: the responses this service sends.
pub const RESPONSE_SCHEMA: &str = include_str!("../cds-services/schemas/cds-hooks-response.json");
/// `cds-services/schemas/cds-hooks-discovery.json`.
pub const DISCOVERY_SCHEMA: &str = include_str!("../cds-services/schemas/cds-hooks-discovery.json");
/// `cds-services/schemas/cds-hooks-feedback.json`.
pub const FEEDBACK_SCHEMA: &str = include_str!("../cds-services/schemas/cds-hooks-feedback.json");
/// `cds-services/openapi.json`, served at `GET /openapi.json`.
pub const OPENAPI: &str = include_str!("../cds-services/openapi.json");

/// The embedded schemas, by file name (for tests and tooling).
pub const SCHEMA_FILES: [(&str, &str); 4] = [
    ("cds-hooks-request.json", REQUEST_SCHEMA),
    ("cds-hooks-response.json", RESPONSE_SCHEMA),
    ("cds-hooks-discovery.json", DISCOVERY_SCHEMA),
    ("cds-hooks-feedback.json", FEEDBACK_SCHEMA),
];

/// The first violation found: where (JSON pointer into the instance) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {message}")]
pub struct SchemaViolation {
    /// JSON pointer of the offending member (`""` = the document itself).
    pub pointer: String,
    pub message: String,
}

/// An embedded schema that does not parse or compile (a bug in this repository).
#[derive(Debug, thiserror::Error)]
#[error("embedded JSON Schema `{name}` is invalid: {message}")]
pub struct SchemaError {
    pub name: &'static str,
    pub message: String,
}

/// The four compiled validators. Compile once ([`Schemas::compile`]) and share.
pub struct Schemas {
    request: Validator,
    response: Validator,
    discovery: Validator,
    feedback: Validator,
}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Schemas { request, response, discovery, feedback }")
    }
}

fn compile(name: &'static str, text: &str) -> Result<Validator, SchemaError> {
    let schema: Value = serde_json::from_str(text).map_err(|e| SchemaError {
        name,
        message: e.to_string(),
    })?;
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| SchemaError {
            name,
            message: e.to_string(),
        })
}

/// Escape one JSON pointer reference token (RFC 6901).
fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

fn check(validator: &Validator, instance: &Value) -> Result<(), SchemaViolation> {
    let Some(error) = validator.iter_errors(instance).next() else {
        return Ok(());
    };
    let mut pointer = error.instance_path().as_str().to_owned();
    let message = match error.kind() {
        // Point at the missing member itself, not at its parent.
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            pointer.push('/');
            pointer.push_str(&escape_token(name));
            format!("`{name}` is required")
        }
        _ => {
            let member = pointer.rsplit('/').next().unwrap_or_default();
            let masked = error.masked().to_string();
            if member.is_empty() {
                masked
            } else {
                format!("`{member}`: {masked}")
            }
        }
    };
    Err(SchemaViolation { pointer, message })
}

impl Schemas {
    /// Parse and compile the embedded schemas (no remote references are resolved).
    pub fn compile() -> Result<Schemas, SchemaError> {
        Ok(Schemas {
            request: compile("cds-hooks-request.json", REQUEST_SCHEMA)?,
            response: compile("cds-hooks-response.json", RESPONSE_SCHEMA)?,
            discovery: compile("cds-hooks-discovery.json", DISCOVERY_SCHEMA)?,
            feedback: compile("cds-hooks-feedback.json", FEEDBACK_SCHEMA)?,
        })
    }

    /// A CDS Hooks service request (before [`crate::hook_request::HookRequest::parse`]).
    pub fn check_request(&self, instance: &Value) -> Result<(), SchemaViolation> {
        check(&self.request, instance)
    }

    /// A response of this service.
    pub fn check_response(&self, instance: &Value) -> Result<(), SchemaViolation> {
        check(&self.response, instance)
    }

    /// A discovery document.
    pub fn check_discovery(&self, instance: &Value) -> Result<(), SchemaViolation> {
        check(&self.discovery, instance)
    }

    /// A feedback request.
    pub fn check_feedback(&self, instance: &Value) -> Result<(), SchemaViolation> {
        check(&self.feedback, instance)
    }
}

/// The OpenAPI `components.schemas` derived from the schema files: each file under its
/// `title`, each `$defs` entry under its name, `#/$defs/X` references rewritten to
/// `#/components/schemas/X`. `cds-services/openapi.json` must contain exactly these
/// (checked by a test; `BLESS_OPENAPI=1 cargo test` rewrites them).
pub fn openapi_components() -> Result<serde_json::Map<String, Value>, String> {
    fn rewrite(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for (k, child) in m.iter_mut() {
                    if k == "$ref"
                        && let Value::String(s) = child
                        && let Some(name) = s.strip_prefix("#/$defs/")
                    {
                        *s = format!("#/components/schemas/{name}");
                    } else {
                        rewrite(child);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(rewrite),
            _ => {}
        }
    }
    let mut out = serde_json::Map::new();
    let mut add = |name: String, schema: Value, file: &str| -> Result<(), String> {
        match out.get(&name) {
            Some(existing) if *existing != schema => Err(format!(
                "{file}: `{name}` differs from a schema of the same name in another file"
            )),
            _ => {
                out.insert(name, schema);
                Ok(())
            }
        }
    };
    for (file, text) in SCHEMA_FILES {
        let mut schema: Value = serde_json::from_str(text).map_err(|e| format!("{file}: {e}"))?;
        rewrite(&mut schema);
        let obj = schema
            .as_object_mut()
            .ok_or_else(|| format!("{file}: not an object"))?;
        obj.remove("$schema");
        obj.remove("$id");
        if let Some(Value::Object(defs)) = obj.remove("$defs") {
            for (name, def) in defs {
                add(name, def, file)?;
            }
        }
        let title = obj
            .get("title")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{file}: no title"))?
            .to_owned();
        add(title, schema, file)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schemas() -> Schemas {
        Schemas::compile().expect("embedded schemas compile")
    }

    fn request() -> Value {
        json!({
            "hook": "order-select",
            "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "context": {"userId": "Practitioner/1", "patientId": "p1",
                        "selections": ["MedicationRequest/m1"],
                        "draftOrders": {"resourceType": "Bundle", "entry": []}},
            "prefetch": {"patient": null}
        })
    }

    #[test]
    fn a_minimal_request_passes() {
        assert_eq!(schemas().check_request(&request()), Ok(()));
    }

    #[test]
    fn a_missing_member_is_named_by_its_own_pointer() {
        let mut v = request();
        v["context"].as_object_mut().unwrap().remove("patientId");
        let e = schemas().check_request(&v).unwrap_err();
        assert_eq!(e.pointer, "/context/patientId");
    }

    #[test]
    fn order_select_needs_selections_but_order_sign_does_not() {
        let mut v = request();
        v["context"].as_object_mut().unwrap().remove("selections");
        assert_eq!(
            schemas().check_request(&v).unwrap_err().pointer,
            "/context/selections"
        );
        v["hook"] = json!("order-sign");
        assert_eq!(schemas().check_request(&v), Ok(()));
    }

    #[test]
    fn messages_do_not_repeat_the_value() {
        let mut v = request();
        v["context"]["patientId"] = json!(["Zebediah Quackenbush"]);
        let e = schemas().check_request(&v).unwrap_err();
        assert_eq!(e.pointer, "/context/patientId");
        assert!(!e.message.contains("Quackenbush"), "{}", e.message);
    }

    #[test]
    fn fhir_authorization_needs_fhir_server() {
        let mut v = request();
        v["fhirAuthorization"] = json!({"access_token": "t", "token_type": "Bearer",
            "expires_in": 300, "scope": "patient/*.read", "subject": "cds"});
        assert!(schemas().check_request(&v).is_err());
        v["fhirServer"] = json!("https://ehr.example/fhir");
        assert_eq!(schemas().check_request(&v), Ok(()));
    }

    #[test]
    fn an_empty_response_is_valid_and_a_card_needs_its_extension() {
        let s = schemas();
        assert_eq!(s.check_response(&json!({"cards": []})), Ok(()));
        let card = json!({"uuid": "0b6e0f4c-7a0e-4e0b-9d7e-6d1c1f1e2a3b", "summary": "s",
            "indicator": "info", "source": {"label": "l"}});
        let e = s.check_response(&json!({"cards": [card]})).unwrap_err();
        assert_eq!(e.pointer, "/cards/0/extension");
    }

    #[test]
    fn feedback_accepted_needs_suggestions() {
        let s = schemas();
        let ok = json!({"feedback": [{"card": "c", "outcome": "overridden",
            "outcomeTimestamp": "2026-01-02T03:04:05Z"}]});
        assert_eq!(s.check_feedback(&ok), Ok(()));
        let bad = json!({"feedback": [{"card": "c", "outcome": "accepted",
            "outcomeTimestamp": "2026-01-02T03:04:05Z"}]});
        assert_eq!(
            s.check_feedback(&bad).unwrap_err().pointer,
            "/feedback/0/acceptedSuggestions"
        );
        let bad_time = json!({"feedback": [{"card": "c", "outcome": "overridden",
            "outcomeTimestamp": "yesterday"}]});
        assert_eq!(
            s.check_feedback(&bad_time).unwrap_err().pointer,
            "/feedback/0/outcomeTimestamp"
        );
    }

    /// `cds-services/openapi.json` embeds exactly the schemas of `cds-services/schemas/`.
    #[test]
    fn openapi_components_match_the_schema_files() {
        let expected = openapi_components().unwrap();
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("cds-services/openapi.json");
        let mut doc: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if std::env::var_os("BLESS_OPENAPI").is_some() {
            let schemas = doc["components"]["schemas"].as_object_mut().unwrap();
            for (k, v) in &expected {
                schemas.insert(k.clone(), v.clone());
            }
            let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
            std::fs::write(&path, text).unwrap();
        }
        for (name, schema) in &expected {
            assert_eq!(
                doc["components"]["schemas"].get(name),
                Some(schema),
                "openapi.json components.schemas.{name} is out of date: run `BLESS_OPENAPI=1 cargo test --lib cds_schema`"
            );
        }
    }
}
