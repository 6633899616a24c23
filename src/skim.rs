//! The hook request body, skimmed: the JSON as `serde_json::from_slice` gives it, less the
//! prefetch Bundle entries the rules provably never read, in one streaming pass that never
//! builds a tree for those.
//!
//! Arrow: HTTP request → **CDS Hooks request** (fast path, used by the hook handler). Each
//! prefetch Bundle entry's `resource` is first taken borrowed (`&RawValue`: nothing allocated)
//! and peeked (`resourceType`, `status`, `code.coding` only; every other element skipped by
//! serde as ignored). An entry is skipped only when it is an `Observation` whose `status` is an
//! R4 status code and whose every `code.coding` has a `system` and `code` that map to no lab
//! and no ultrasound-finding kind of the configured value sets (`Rules::labs`,
//! `Rules::findings`: the lookup `facts::extract::observation` makes before it drops such an
//! Observation unread), and whose `search.mode` is not `outcome`. Everything else —
//! OperationOutcome and `search.mode = outcome` entries (counted by `prefetch`), other
//! resource types, relevant Observations, anything that does not peek cleanly — is parsed
//! and kept exactly as sent, so an unreadable relevant resource is still reported unreadable.
//! One difference to the full read: an Observation of a code the rules do not read that is
//! malformed in an element other than `status`/`code` is no longer counted as unreadable.
//! When the body is not a JSON object of that shape (`prefetch` an object of objects/`null`,
//! `entry` an array of objects), [`skim`] returns `None` and the caller parses it whole: the
//! syntax and schema errors are then exactly those of the full path.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::config::Rules;
use crate::prefetch::{RawEntry, RawResource};

/// A skimmed request body.
#[derive(Debug)]
pub struct Skimmed {
    /// The body; each prefetch Bundle without its `entry` (those are in `entries`).
    pub body: Value,
    /// The entries kept of each prefetch Bundle, by key, resources as raw text
    /// (`HookRequest::prefetch_entries`).
    pub entries: BTreeMap<String, Vec<RawEntry>>,
    /// Entries of each prefetch Bundle as sent (before any was skipped), by prefetch key: the
    /// one place where a Bundle's entry count is known before its entries are parsed.
    pub bundle_entries: Vec<(String, usize)>,
    /// Observation entries left out.
    pub skipped_entries: usize,
}

/// Skim `bytes` (see the module docs); `None` = parse the body whole instead.
pub fn skim(bytes: &[u8], rules: &Rules) -> Option<Skimmed> {
    let mut out = Skimmed {
        body: Value::Null,
        entries: BTreeMap::new(),
        bundle_entries: Vec::new(),
        skipped_entries: 0,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let body = Top {
        rules,
        out: &mut out,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    out.body = body;
    Some(out)
}

fn parse(raw: &RawValue) -> Result<Value, serde_json::Error> {
    serde_json::from_str(raw.get())
}

/// The body: every member a `Value`, `prefetch` skimmed.
struct Top<'r> {
    rules: &'r Rules,
    out: &'r mut Skimmed,
}

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut body = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = if key == "prefetch" {
                // A repeated `prefetch` replaces the earlier one, as in a `Value`.
                self.out.bundle_entries.clear();
                self.out.entries.clear();
                map.next_value_seed(Prefetch {
                    rules: self.rules,
                    out: &mut *self.out,
                })?
            } else {
                map.next_value::<Value>()?
            };
            body.insert(key, value);
        }
        Ok(Value::Object(body))
    }
}

/// `prefetch`: an object of resources, Bundles and `null`s (anything else: not skimmed).
struct Prefetch<'r> {
    rules: &'r Rules,
    out: &'r mut Skimmed,
}

impl<'de> DeserializeSeed<'de> for Prefetch<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Prefetch<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of prefetch values")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut prefetch = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            // A repeated key replaces the earlier value, as in a `Value`.
            self.out.entries.remove(&key);
            let value = map.next_value_seed(PrefetchValue {
                key: &key,
                rules: self.rules,
                out: &mut *self.out,
            })?;
            prefetch.insert(key, value);
        }
        Ok(Value::Object(prefetch))
    }
}

/// One prefetch value: `null`, or an object (a Bundle's entries skimmed).
struct PrefetchValue<'k> {
    key: &'k str,
    rules: &'k Rules,
    out: &'k mut Skimmed,
}

impl<'de> DeserializeSeed<'de> for PrefetchValue<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for PrefetchValue<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a resource, a Bundle or null")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        let mut entries: Option<Vec<Entry<'de>>> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "entry" {
                entries = Some(map.next_value_seed(Entries { rules: self.rules })?);
            } else {
                members.insert(key, map.next_value::<Value>()?);
            }
        }
        let Some(entries) = entries else {
            return Ok(Value::Object(members));
        };
        let bundle = members.get("resourceType").and_then(Value::as_str) == Some("Bundle");
        if !bundle {
            // Not a Bundle (not read as one): as sent.
            let entries = entries
                .into_iter()
                .map(Entry::into_value)
                .collect::<Result<Vec<_>, _>>()
                .map_err(de::Error::custom)?;
            members.insert("entry".to_owned(), Value::Array(entries));
            return Ok(Value::Object(members));
        }
        self.out
            .bundle_entries
            .push((self.key.to_owned(), entries.len()));
        let mut kept = Vec::with_capacity(entries.len());
        for entry in entries {
            if entry.skippable() {
                self.out.skipped_entries += 1;
            } else {
                kept.push(entry.into_raw());
            }
        }
        self.out.entries.insert(self.key.to_owned(), kept);
        Ok(Value::Object(members))
    }
}

/// `Bundle.entry`: an array of entry objects (anything else: not skimmed).
struct Entries<'r> {
    rules: &'r Rules,
}

impl<'de> DeserializeSeed<'de> for Entries<'_> {
    type Value = Vec<Entry<'de>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Entries<'_> {
    type Value = Vec<Entry<'de>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of Bundle entries")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(seq.size_hint().unwrap_or(16));
        while let Some(members) = seq.next_element::<EntryMembers<'de>>()? {
            let peek = members.resource.map(|r| peek(r, self.rules));
            entries.push(Entry {
                members: members.members,
                resource: members.resource,
                resource_type: peek.as_ref().and_then(|p| p.resource_type.clone()),
                irrelevant: peek.is_some_and(|p| p.irrelevant),
            });
        }
        Ok(entries)
    }
}

/// One Bundle entry, its resource still unparsed.
struct Entry<'de> {
    members: Map<String, Value>,
    resource: Option<&'de RawValue>,
    /// The resource's `resourceType`, when a string.
    resource_type: Option<String>,
    /// The resource is an Observation the rules never read.
    irrelevant: bool,
}

impl Entry<'_> {
    /// Skipped: an irrelevant Observation whose entry is not a `search.mode = outcome` one
    /// (those are counted by `prefetch`); an entry with a `search` that has no string `mode`
    /// is kept.
    fn skippable(&self) -> bool {
        self.irrelevant
            && match self.members.get("search") {
                None | Some(Value::Null) => true,
                Some(search) => search
                    .get("mode")
                    .and_then(Value::as_str)
                    .is_some_and(|mode| mode != "outcome"),
            }
    }

    /// The entry as `prefetch` reads it (`collect_bundle`'s rules): `search.mode = outcome`,
    /// and the resource when it is an object.
    fn into_raw(self) -> RawEntry {
        let outcome_mode = self
            .members
            .get("search")
            .and_then(|s| s.get("mode"))
            .and_then(Value::as_str)
            == Some("outcome");
        let resource = self
            .resource
            .filter(|r| r.get().starts_with('{'))
            .map(|r| RawResource {
                resource_type: self.resource_type,
                json: r.to_owned(),
            });
        RawEntry {
            outcome_mode,
            resource,
        }
    }

    fn into_value(self) -> Result<Value, serde_json::Error> {
        let mut members = self.members;
        if let Some(resource) = self.resource {
            members.insert("resource".to_owned(), parse(resource)?);
        }
        Ok(Value::Object(members))
    }
}

/// An entry's members: `resource` borrowed, the others parsed.
struct EntryMembers<'de> {
    members: Map<String, Value>,
    resource: Option<&'de RawValue>,
}

impl<'de> Deserialize<'de> for EntryMembers<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = EntryMembers<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a Bundle entry object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = EntryMembers {
                    members: Map::new(),
                    resource: None,
                };
                while let Some(key) = map.next_key::<String>()? {
                    if key == "resource" {
                        out.resource = Some(map.next_value::<&'de RawValue>()?);
                    } else {
                        out.members.insert(key, map.next_value::<Value>()?);
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
struct ObservationPeek<'a> {
    #[serde(rename = "resourceType", borrow)]
    resource_type: Cow<'a, str>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow)]
    code: Option<ConceptPeek<'a>>,
}

#[derive(Deserialize)]
struct ConceptPeek<'a> {
    #[serde(borrow)]
    coding: Option<Vec<CodingPeek<'a>>>,
}

#[derive(Deserialize)]
struct CodingPeek<'a> {
    #[serde(borrow)]
    system: Option<Cow<'a, str>>,
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
}

/// R4 `ObservationStatus` (a required element: without a valid one the resource is unreadable).
const OBSERVATION_STATUS: [&str; 8] = [
    "registered",
    "preliminary",
    "final",
    "amended",
    "corrected",
    "cancelled",
    "entered-in-error",
    "unknown",
];

/// What [`peek`] learns of a resource.
struct Peek {
    resource_type: Option<String>,
    /// An Observation the rules provably never read (see the module docs).
    irrelevant: bool,
}

/// `resourceType`, and whether the resource is an Observation the rules never read.
fn peek(resource: &RawValue, rules: &Rules) -> Peek {
    match serde_json::from_str::<ObservationPeek<'_>>(resource.get()) {
        Ok(obs) => Peek {
            resource_type: Some(obs.resource_type.clone().into_owned()),
            irrelevant: irrelevant_observation(obs, rules),
        },
        // Not that shape (no string `resourceType`, an odd `status` or `code`, a repeated
        // member): read `resourceType` as a `Value` would (rare), and keep the resource.
        Err(_) => Peek {
            resource_type: serde_json::from_str::<Value>(resource.get())
                .ok()
                .and_then(|v| v.get("resourceType")?.as_str().map(str::to_owned)),
            irrelevant: false,
        },
    }
}

fn irrelevant_observation(obs: ObservationPeek<'_>, rules: &Rules) -> bool {
    let Some(codings) = obs.code.and_then(|c| c.coding) else {
        return false;
    };
    obs.resource_type == "Observation"
        && obs
            .status
            .is_some_and(|s| OBSERVATION_STATUS.contains(&s.as_ref()))
        && !codings.is_empty()
        && codings.iter().all(|c| match (&c.system, &c.code) {
            (Some(system), Some(code)) => {
                rules.labs.kind(system, code).is_none()
                    && rules.findings.kind(system, code).is_none()
            }
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::Config;

    fn rules() -> Rules {
        Config::load(&Config::default_dir()).expect("config").rules
    }

    fn obs(id: &str, code: &str) -> Value {
        json!({"resourceType": "Observation", "id": id, "status": "final",
               "code": {"coding": [{"system": "http://loinc.org", "code": code}]}})
    }

    fn skimmed(body: &Value) -> Skimmed {
        skim(&serde_json::to_vec(body).unwrap(), &rules()).expect("skimmed")
    }

    /// The ids of the resources kept raw for `key` (`-`: no resource).
    fn ids(s: &Skimmed, key: &str) -> Vec<String> {
        s.entries[key]
            .iter()
            .map(|e| match &e.resource {
                Some(r) => {
                    let v: Value = serde_json::from_str(r.json.get()).unwrap();
                    v["id"].as_str().unwrap_or("-").to_owned()
                }
                None => "-".to_owned(),
            })
            .collect()
    }

    #[test]
    fn only_observations_of_codes_the_rules_never_read_are_skipped() {
        let sodium = obs("sodium", "2951-2");
        let ddimer = obs("ddimer", "48065-7");
        let outcome = obs("outcome-mode", "2951-2");
        let mut no_status = obs("no-status", "2951-2");
        no_status.as_object_mut().unwrap().remove("status");
        let mut one_relevant = obs("mixed", "2951-2");
        one_relevant["code"]["coding"]
            .as_array_mut()
            .unwrap()
            .push(json!({"system": "http://loinc.org", "code": "718-7"}));
        let mut broken_relevant = obs("broken-hb", "718-7");
        broken_relevant["effectiveDateTime"] = json!(42);
        let body = json!({"hook": "order-sign", "prefetch": {
            "patient": {"resourceType": "Patient", "id": "p"},
            "conditions": null,
            "observations": {"resourceType": "Bundle", "type": "searchset", "entry": [
                {"resource": sodium, "search": {"mode": "match"}},
                {"resource": ddimer},
                {"resource": outcome, "search": {"mode": "outcome"}},
                {"resource": no_status},
                {"resource": one_relevant},
                {"resource": broken_relevant},
                {"fullUrl": "urn:uuid:no-resource"},
                {"resource": {"resourceType": "Condition", "id": "cond"}}
            ]}
        }});
        let s = skimmed(&body);
        assert_eq!(
            ids(&s, "observations"),
            [
                "ddimer",
                "outcome-mode",
                "no-status",
                "mixed",
                "broken-hb",
                "-",
                "cond"
            ]
        );
        assert_eq!(s.skipped_entries, 1);
        assert_eq!(s.bundle_entries, vec![("observations".to_owned(), 8)]);
        let kept = &s.entries["observations"];
        let types: Vec<Option<&str>> = kept
            .iter()
            .map(|e| e.resource.as_ref().and_then(|r| r.resource_type.as_deref()))
            .collect();
        assert_eq!(types[5], None);
        assert_eq!(types[6], Some("Condition"));
        assert!(types[..5].iter().all(|t| *t == Some("Observation")));
        let outcome: Vec<bool> = kept.iter().map(|e| e.outcome_mode).collect();
        assert_eq!(outcome, [false, true, false, false, false, false, false]);
        // Everything else is as sent; the Bundle's entries are in `entries`.
        let mut expected = body.clone();
        expected["prefetch"]["observations"]
            .as_object_mut()
            .unwrap()
            .remove("entry");
        assert_eq!(s.body, expected);
    }

    #[test]
    fn resource_types_are_read_as_a_value_would_read_them() {
        let body = json!({"prefetch": {"conditions": {"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Condition", "id": "plain"}},
            // Not the peeked shape (a numeric status, an odd code): still typed.
            {"resource": {"resourceType": "Condition", "status": 3, "code": "x"}},
            {"resource": {"resourceType": 7}},
            {"resource": {"id": "untyped"}},
            {"resource": "Condition/1"},
            {"resource": {"resourceType": "OperationOutcome"}, "search": {"mode": "match"}}
        ]}}});
        let s = skimmed(&body);
        let kept = &s.entries["conditions"];
        let types: Vec<Option<&str>> = kept
            .iter()
            .map(|e| e.resource.as_ref().and_then(|r| r.resource_type.as_deref()))
            .collect();
        assert_eq!(
            types,
            [
                Some("Condition"),
                Some("Condition"),
                None,
                None,
                None,
                Some("OperationOutcome")
            ]
        );
        // A string is not a resource.
        assert!(kept[4].resource.is_none());
        // Repeated text: `{"resourceType":"X","resourceType":"Condition"}` reads as the last.
        let text = r#"{"prefetch": {"conditions": {"resourceType": "Bundle", "entry": [
            {"resource": {"resourceType": "Basic", "resourceType": "Condition"}}]}}}"#;
        let s = skim(text.as_bytes(), &rules()).expect("skimmed");
        let r = s.entries["conditions"][0].resource.as_ref().unwrap();
        assert_eq!(r.resource_type.as_deref(), Some("Condition"));
    }

    #[test]
    fn a_repeated_prefetch_key_replaces_the_earlier_one() {
        let text = r#"{"prefetch": {
            "conditions": {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Condition"}}]},
            "conditions": {"resourceType": "Bundle"}}}"#;
        let s = skim(text.as_bytes(), &rules()).expect("skimmed");
        assert!(!s.entries.contains_key("conditions"));
        assert_eq!(
            s.body["prefetch"]["conditions"],
            json!({"resourceType": "Bundle"})
        );
    }

    #[test]
    fn a_bundle_without_irrelevant_entries_is_unchanged() {
        let body = json!({"hook": "order-select", "context": {"x": [1, 2.5, "\u{e9}\"", null]},
            "prefetch": {"medications": {"resourceType": "Bundle", "entry": [
                {"resource": {"resourceType": "MedicationRequest", "id": "m"}}]},
                "notABundle": {"resourceType": "Basic", "entry": [{"resource": obs("s", "2951-2")}]}}});
        let s = skimmed(&body);
        assert_eq!(ids(&s, "medications"), ["m"]);
        let mut expected = body.clone();
        expected["prefetch"]["medications"]
            .as_object_mut()
            .unwrap()
            .remove("entry");
        // A non-Bundle with `entry` is kept whole, as sent.
        assert_eq!(s.body, expected);
        assert_eq!(s.skipped_entries, 0);
    }

    #[test]
    fn what_does_not_skim_is_left_to_the_full_parse() {
        let r = rules();
        for text in [
            "[1]",
            "{\"hook\": }",
            "{\"prefetch\": 42}",
            "{\"prefetch\": {\"o\": {\"resourceType\": \"Bundle\", \"entry\": \"x\"}}}",
            "{\"prefetch\": {\"o\": {\"resourceType\": \"Bundle\", \"entry\": [1]}}}",
            "{} trailing",
        ] {
            assert!(skim(text.as_bytes(), &r).is_none(), "{text}");
        }
    }
}
