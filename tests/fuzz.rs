//! Property-based fuzzing of the hook endpoint (proptest): generated hook requests and FHIR
//! resources — the 117 fixtures mutated (wrong types, missing members, unknown resource types
//! and codes, huge numbers, NaN-like strings, deep nesting, duplicate entries and ids,
//! dangling references, mixed and unknown units, absent or `null` prefetch keys), arbitrary
//! JSON and arbitrary bytes.
//!
//! Properties: never a panic, never a 5xx; an error is a 4xx whose body has `status`, `code`
//! and `message`; a 200 is a response valid against the CDS Hooks response schema; where the
//! generator made a fact-bearing value unreadable (the birth date, the D-dimer value), the
//! stratification card lists it in `missingData`.
//!
//! Most cases run in-process through the same steps as `POST /cds-services/{id}`
//! ([`evaluate`]: depth check → JSON → Bundle-size check → schema + parse → pipeline); a smaller
//! number go over real HTTP to the server (`spawn_app`). Case counts: `PROPTEST_CASES`
//! (default per property below); the totals are printed (`cargo test --test fuzz -- --nocapture`).

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::ResponseError;
use distal_dvt_cds::cds_schema::Schemas;
use distal_dvt_cds::config::Config;
use distal_dvt_cds::http::{ApiError, body, hooks};
use distal_dvt_cds::settings::Limits;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestRunner};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

#[allow(dead_code)]
#[path = "api/helpers.rs"]
mod helpers;

const NOW: OffsetDateTime = datetime!(2026-11-20 12:00 UTC);

struct Harness {
    config: Config,
    schemas: Schemas,
    limits: Limits,
    /// (name, request) of every fixture.
    fixtures: Vec<(String, Value)>,
}

fn fixture_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.path());
    for e in entries {
        let p = e.path();
        if p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('_') {
            fixture_files(&p, out);
        } else if p.to_string_lossy().ends_with(".request.json") {
            out.push(p);
        }
    }
}

static HARNESS: LazyLock<Harness> = LazyLock::new(|| {
    let mut files = Vec::new();
    fixture_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("fhir-fixtures"),
        &mut files,
    );
    let fixtures = files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect::<Vec<_>>();
    assert!(fixtures.len() >= 100, "fixtures: {}", fixtures.len());
    Harness {
        config: Config::load(&Config::default_dir()).unwrap(),
        schemas: Schemas::compile().unwrap(),
        limits: Limits::default(),
        fixtures,
    }
});

static CASES_RUN: AtomicUsize = AtomicUsize::new(0);

/// `PROPTEST_CASES` if set, else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runner(default_cases: u32) -> TestRunner {
    TestRunner::new(ProptestConfig {
        cases: cases(default_cases),
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

/// `POST /cds-services/{service}` in-process: the handler's steps without the HTTP plumbing.
/// No fallback fetch (no network): absent keys are 412, as without `fhirServer`.
fn evaluate(service_id: &str, bytes: &[u8], limits: &Limits) -> Result<Value, ApiError> {
    let h = &*HARNESS;
    let service = h
        .config
        .service(service_id)
        .ok_or(ApiError::NotFound)?
        .clone();
    // (The byte limit is read while the body streams in: tests/api/hooks.rs, limits.rs.)
    body::check_depth(bytes, limits.max_json_depth)?;
    let body = body::parse_json(bytes)?;
    distal_dvt_cds::bundle_limit::check_body(&body, limits.max_bundle_entries)?;
    let mut request = hooks::parse_request(&h.schemas, &body)?;
    request.fhir_server = None;
    let outcome = hooks::run(&h.config, &service, &request, NOW)?;
    Ok(serde_json::to_value(&outcome.response).unwrap())
}

/// What a case produced, checked: never a panic, never 5xx, a well-formed 4xx or a valid 200.
#[derive(Debug)]
enum Verdict {
    Ok(Value),
    ClientError(u16, String),
}

fn check(service_id: &str, bytes: &[u8], limits: &Limits) -> Result<Verdict, TestCaseError> {
    count_case();
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| evaluate(service_id, bytes, limits)))
        .map_err(|_| TestCaseError::fail("the evaluation panicked"))?;
    match result {
        Ok(response) => {
            HARNESS.schemas.check_response(&response).map_err(|v| {
                TestCaseError::fail(format!(
                    "200 breaks the response schema at {}: {}",
                    v.pointer, v.message
                ))
            })?;
            Ok(Verdict::Ok(response))
        }
        Err(error) => {
            let status = error.status_code().as_u16();
            prop_assert!(
                (400..500).contains(&status),
                "status {status} ({})",
                error.code()
            );
            let rendered = error.error_response();
            prop_assert_eq!(rendered.status().as_u16(), status);
            prop_assert!(!error.code().is_empty());
            prop_assert!(!error.client_message().is_empty());
            Ok(Verdict::ClientError(status, error.code().to_owned()))
        }
    }
}

// ---- generators ---------------------------------------------------------------------------

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter)
}

/// Values that trip parsers: wrong types, huge and tiny numbers, NaN-like strings, odd dates.
fn hostile_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop::sample::select(vec![
            json!(1e308),
            json!(-1e308),
            json!(5e-324),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(0),
            json!(-0.0),
            json!("NaN"),
            json!("nan"),
            json!("Infinity"),
            json!("-Infinity"),
            json!("1e999"),
            json!("-0"),
            json!("0x1F"),
            json!(""),
            json!("   "),
            json!("null"),
            json!("2026-13-45"),
            json!("1931-02-30"),
            json!("2026-11-20T25:61:00Z"),
            json!("99999-01-01"),
            json!("\u{0}"),
            json!("\u{202e}gnp.exe"),
            json!("😀".repeat(50)),
            json!("A".repeat(10_000)),
            json!([]),
            json!({}),
            json!([null]),
            json!({"resourceType": "Observation"}),
        ]),
        text().prop_map(Value::from),
    ]
}

/// Arbitrary JSON, up to a few levels deep.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    text(),
                    prop::sample::select(vec![
                        "hook".to_owned(),
                        "hookInstance".to_owned(),
                        "context".to_owned(),
                        "prefetch".to_owned(),
                        "patientId".to_owned(),
                        "resourceType".to_owned(),
                        "entry".to_owned(),
                    ])
                ],
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const RESOURCE_TYPES: [&str; 10] = [
    "Foo",
    "",
    "patient",
    "Observation ",
    "OperationOutcome",
    "Bundle",
    "DomainResource",
    "Medication",
    "MedicationStatement",
    "Basic",
];
const UNITS: [&str; 12] = [
    "mm", "cm", "m", "[in_i]", "furlong", "", "mg/L", "ng/mL", "ug/L", "mg/dL", "%", "10*9/L",
];
const CODES: [&str; 8] = [
    "",
    "00000-0",
    "48065-7",
    "unknown-code",
    "I82.4",
    "128053003",
    "N",
    "final ",
];
const REFERENCES: [&str; 8] = [
    "Condition/does-not-exist",
    "Patient/someone-else",
    "",
    "#",
    "urn:uuid:00000000-0000-0000-0000-000000000000",
    "MedicationRequest/",
    "http://elsewhere.example/fhir/Observation/1",
    "Observation/lab-ddimer/_history/9",
];
const KEYS: [&str; 7] = [
    "patient",
    "conditions",
    "observations",
    "medications",
    "encounters",
    "procedures",
    "serviceRequests",
];

/// One change to a fixture; `at` picks the node among the candidates (modulo their number).
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace any node with a hostile value.
    Replace(usize, Value),
    /// Remove a member of any object (required fields go missing).
    Remove(usize),
    ResourceType(usize, &'static str),
    Code(usize, &'static str),
    Unit(usize, &'static str),
    /// A number in a `value` member set to a hostile value.
    Number(usize, Value),
    /// Duplicate a Bundle entry (duplicate ids).
    DuplicateEntry(usize),
    Reference(usize, &'static str),
    /// Wrap a node in `depth` arrays.
    Deepen(usize, usize),
    RemoveKey(&'static str),
    NullKey(&'static str),
    /// A prefetch key holding something that is not a resource.
    GarbageKey(&'static str, Value),
    OtherHook,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = any::<usize>();
    prop_oneof![
        3 => (at, hostile_value()).prop_map(|(a, v)| Mutation::Replace(a, v)),
        2 => at.prop_map(Mutation::Remove),
        1 => (at, prop::sample::select(RESOURCE_TYPES.to_vec()))
            .prop_map(|(a, t)| Mutation::ResourceType(a, t)),
        1 => (at, prop::sample::select(CODES.to_vec())).prop_map(|(a, c)| Mutation::Code(a, c)),
        1 => (at, prop::sample::select(UNITS.to_vec())).prop_map(|(a, u)| Mutation::Unit(a, u)),
        1 => (at, hostile_value()).prop_map(|(a, v)| Mutation::Number(a, v)),
        1 => at.prop_map(Mutation::DuplicateEntry),
        1 => (at, prop::sample::select(REFERENCES.to_vec()))
            .prop_map(|(a, r)| Mutation::Reference(a, r)),
        1 => (at, 1usize..200).prop_map(|(a, d)| Mutation::Deepen(a, d)),
        1 => prop::sample::select(KEYS.to_vec()).prop_map(Mutation::RemoveKey),
        1 => prop::sample::select(KEYS.to_vec()).prop_map(Mutation::NullKey),
        1 => (prop::sample::select(KEYS.to_vec()), hostile_value())
            .prop_map(|(k, v)| Mutation::GarbageKey(k, v)),
        1 => Just(Mutation::OtherHook),
    ]
}

/// JSON pointers of every node, and of the nodes that are objects with member `member`.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                pointers(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn pick(candidates: &[String], at: usize) -> Option<String> {
    (!candidates.is_empty()).then(|| candidates[at % candidates.len()].clone())
}

/// Pointers to the value of member `member` (anywhere).
fn members(all: &[String], member: &str) -> Vec<String> {
    let suffix = format!("/{member}");
    all.iter()
        .filter(|p| p.ends_with(&suffix))
        .cloned()
        .collect()
}

fn apply(request: &mut Value, mutation: &Mutation) {
    let mut all = Vec::new();
    pointers(request, String::new(), &mut all);
    let set = |request: &mut Value, pointer: Option<String>, value: Value| {
        if let Some(p) = pointer
            && let Some(slot) = request.pointer_mut(&p)
        {
            *slot = value;
        }
    };
    match mutation {
        Mutation::Replace(at, v) => set(request, pick(&all, *at), v.clone()),
        Mutation::Remove(at) => {
            if let Some(p) = pick(&all[1..], *at)
                && let Some((parent, key)) = p.rsplit_once('/')
                && let Some(Value::Object(map)) = request.pointer_mut(parent)
            {
                map.remove(&key.replace("~1", "/").replace("~0", "~"));
            }
        }
        Mutation::ResourceType(at, t) => {
            set(request, pick(&members(&all, "resourceType"), *at), json!(t))
        }
        Mutation::Code(at, c) => set(request, pick(&members(&all, "code"), *at), json!(c)),
        Mutation::Unit(at, u) => {
            let p = pick(&members(&all, "valueQuantity"), *at);
            if let Some(p) = p
                && let Some(Value::Object(q)) = request.pointer_mut(&p)
            {
                q.insert("unit".into(), json!(u));
                q.insert("code".into(), json!(u));
            }
        }
        Mutation::Number(at, v) => set(request, pick(&members(&all, "value"), *at), v.clone()),
        Mutation::DuplicateEntry(at) => {
            let entries = members(&all, "entry");
            if let Some(p) = pick(&entries, *at)
                && let Some(Value::Array(items)) = request.pointer_mut(&p)
                && let Some(first) = items.first().cloned()
            {
                items.push(first);
            }
        }
        Mutation::Reference(at, r) => {
            set(request, pick(&members(&all, "reference"), *at), json!(r))
        }
        Mutation::Deepen(at, depth) => {
            if let Some(p) = pick(&all[1..], *at)
                && let Some(slot) = request.pointer_mut(&p)
            {
                let mut v = slot.take();
                for _ in 0..*depth {
                    v = json!([v]);
                }
                *slot = v;
            }
        }
        Mutation::RemoveKey(k) => {
            if let Some(p) = request["prefetch"].as_object_mut() {
                p.remove(*k);
            }
        }
        Mutation::NullKey(k) => request["prefetch"][*k] = Value::Null,
        Mutation::GarbageKey(k, v) => request["prefetch"][*k] = v.clone(),
        Mutation::OtherHook => {
            let other = match request["hook"].as_str() {
                Some("order-select") => "order-sign",
                _ => "order-select",
            };
            request["hook"] = json!(other);
        }
    }
}

fn service_for(request: &Value) -> &'static str {
    match request["hook"].as_str() {
        Some("order-sign") => "dvt-order-sign",
        _ => "dvt-order-select",
    }
}

thread_local! {
    /// Cases run by the property on this thread (the properties run in parallel).
    static LOCAL_CASES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn count_case() {
    CASES_RUN.fetch_add(1, Ordering::Relaxed);
    LOCAL_CASES.with(|c| c.set(c.get() + 1));
}

fn report(name: &str) {
    println!(
        "fuzz {name}: {} cases (all properties so far: {})",
        LOCAL_CASES.with(std::cell::Cell::get),
        CASES_RUN.load(Ordering::Relaxed)
    );
}

// ---- properties ---------------------------------------------------------------------------

#[test]
fn mutated_fixtures_never_panic_and_never_5xx() {
    let h = &*HARNESS;
    let strategy = (
        0..h.fixtures.len(),
        prop::collection::vec(mutation(), 1..5),
        any::<bool>(),
    );
    let ok = std::cell::Cell::new(0usize);
    let errors = std::cell::RefCell::new(std::collections::BTreeMap::<String, usize>::new());
    runner(400)
        .run(&strategy, |(index, mutations, wrong_service)| {
            let mut request = h.fixtures[index].1.clone();
            for m in &mutations {
                apply(&mut request, m);
            }
            // Sometimes the path's service is not the one the hook asks for (400).
            let service = if wrong_service {
                "dvt-order-sign"
            } else {
                service_for(&request)
            };
            let bytes = serde_json::to_vec(&request).unwrap();
            match check(service, &bytes, &h.limits)? {
                Verdict::Ok(_) => ok.set(ok.get() + 1),
                Verdict::ClientError(_, code) => {
                    *errors.borrow_mut().entry(code).or_default() += 1;
                }
            }
            Ok(())
        })
        .unwrap();
    println!(
        "mutated fixtures: {} answered 200, client errors by code: {:?}",
        ok.get(),
        errors.borrow()
    );
    report("mutated_fixtures");
}

#[test]
fn arbitrary_json_bodies_are_client_errors_or_valid_answers() {
    let h = &*HARNESS;
    runner(300)
        .run(&arb_json(), |body| {
            let bytes = serde_json::to_vec(&body).unwrap();
            check("dvt-order-select", &bytes, &h.limits)?;
            Ok(())
        })
        .unwrap();
    report("arbitrary_json");
}

#[test]
fn arbitrary_and_truncated_bytes_are_client_errors() {
    let h = &*HARNESS;
    let strategy = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512).prop_map(|b| (b, None)),
        (0..h.fixtures.len(), any::<prop::sample::Index>())
            .prop_map(|(i, cut)| (Vec::new(), Some((i, cut)))),
    ];
    runner(300)
        .run(&strategy, |(bytes, truncated)| {
            let bytes = match truncated {
                None => bytes,
                Some((i, cut)) => {
                    let full = serde_json::to_vec(&h.fixtures[i].1).unwrap();
                    let at = cut.index(full.len());
                    full[..at].to_vec()
                }
            };
            match check("dvt-order-select", &bytes, &h.limits)? {
                Verdict::ClientError(400, _) => Ok(()),
                other => Err(TestCaseError::fail(format!("{other:?}"))),
            }
        })
        .unwrap();
    report("arbitrary_bytes");
}

fn missing_data(response: &Value) -> Vec<String> {
    response["cards"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["extension"]["dvt-cds"]["kind"] == "stratification")
        .flat_map(|c| {
            c["extension"]["dvt-cds"]["missingData"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// A fact-bearing value made unreadable is named in `missingData`, never read as a value.
#[test]
fn an_unreadable_birth_date_or_d_dimer_is_listed_in_missing_data() {
    let h = &*HARNESS;
    let (_, base) = h
        .fixtures
        .iter()
        .find(|(name, _)| name == "anticoagulate-order-select-unprovoked.request.json")
        .expect("fixture");
    let unreadable_date = prop_oneof![
        prop::sample::select(vec![
            json!("1974-02-30"),
            json!("NaN"),
            json!(""),
            json!("19740923"),
            json!("yesterday"),
            json!(1974),
            json!(null),
            json!([]),
            json!({"value": "1974-09-23"}),
            json!("1974-13"),
        ]),
        text()
            .prop_filter("not a date", |s| !s.chars().any(|c| c.is_ascii_digit()))
            .prop_map(Value::from),
    ];
    let unreadable_quantity = prop_oneof![
        prop::sample::select(vec![
            json!({"value": "NaN", "unit": "mg/L"}),
            json!({"value": "1.9", "unit": "mg/L"}),
            json!({"value": null, "unit": "mg/L"}),
            json!({"unit": "mg/L"}),
            json!({"value": 1.9}),
            json!({"value": 1.9, "unit": "furlong", "code": "furlong"}),
            json!({"value": 1.9, "unit": "", "code": ""}),
            json!("1.9 mg/L"),
            json!([1.9]),
        ]),
        (
            text(),
            any::<f64>().prop_filter("finite", |f| f.is_finite())
        )
            .prop_map(|(unit, v)| {
                json!({"value": v, "unit": format!("x-{unit}"), "code": format!("x-{unit}"),
                   "system": "http://unitsofmeasure.org"})
            }),
    ];
    runner(150)
        .run(
            &(unreadable_date, unreadable_quantity, any::<bool>()),
            |(date, quantity, break_date)| {
                let mut request = base.clone();
                let expect = if break_date {
                    request["prefetch"]["patient"]["birthDate"] = date;
                    "age"
                } else {
                    let entries = request["prefetch"]["observations"]["entry"]
                        .as_array_mut()
                        .unwrap();
                    let ddimer = entries
                        .iter_mut()
                        .find(|e| e["resource"]["id"] == "lab-ddimer")
                        .unwrap();
                    let resource = ddimer["resource"].as_object_mut().unwrap();
                    resource.remove("interpretation");
                    resource.remove("referenceRange");
                    resource.insert("valueQuantity".into(), quantity);
                    "d-dimer"
                };
                let bytes = serde_json::to_vec(&request).unwrap();
                match check("dvt-order-select", &bytes, &h.limits)? {
                    Verdict::Ok(response) => {
                        let missing = missing_data(&response);
                        prop_assert!(
                            missing.iter().any(|m| m == expect),
                            "{expect} not in missingData {missing:?}"
                        );
                        Ok(())
                    }
                    // A value the request schema already refuses is a 400 naming it.
                    Verdict::ClientError(400, code) if code == "schema-violation" => Ok(()),
                    other => Err(TestCaseError::fail(format!("{other:?}"))),
                }
            },
        )
        .unwrap();
    report("unreadable_facts");
}

/// One targeted case each: a 100 000-entry Bundle (refused by the default limit; with the
/// limit raised it is evaluated without a panic) and JSON nested 100 000 levels deep.
#[test]
fn huge_bundles_and_deep_nesting() {
    let h = &*HARNESS;
    let mut request = helpers::order_select_request();
    let entry: Vec<Value> = (0..100_000)
        .map(|i| json!({"resource": {"resourceType": "Observation", "id": format!("o{}", i % 7),
            "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "48065-7"}]},
            "valueQuantity": {"value": i, "unit": "mg/L"}}}))
        .collect();
    request["prefetch"]["observations"] = json!({"resourceType": "Bundle", "entry": entry});
    let bytes = serde_json::to_vec(&request).unwrap();
    match check("dvt-order-select", &bytes, &h.limits).unwrap() {
        Verdict::ClientError(413, code) => assert_eq!(code, "too-many-bundle-entries"),
        other => panic!("{other:?}"),
    }
    // Over the default byte limit of `evaluate`: only the pipeline is exercised here.
    let verdict = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let body = body::parse_json(&bytes).unwrap();
        let request = hooks::parse_request(&h.schemas, &body).unwrap();
        let service = h.config.service("dvt-order-select").unwrap();
        hooks::run(&h.config, service, &request, NOW).map(|o| o.response.cards.len())
    }));
    assert!(
        matches!(verdict, Ok(Ok(_))),
        "the 100k-entry Bundle is evaluated"
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    match check("dvt-order-select", deep.as_bytes(), &h.limits).unwrap() {
        Verdict::ClientError(400, code) => assert_eq!(code, "json-too-deep"),
        other => panic!("{other:?}"),
    }
    count_case();
    report("huge_bundles_and_deep_nesting");
}

/// The same generators over real HTTP (fewer cases): no 5xx, JSON error bodies with
/// status/code/message, and 200s valid against the response schema.
#[test]
fn mutated_fixtures_over_http() {
    let h = &*HARNESS;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(helpers::spawn_app_with(|s| {
        s.fixed_now = Some(NOW);
    }));
    let strategy = (0..h.fixtures.len(), prop::collection::vec(mutation(), 1..4));
    let statuses = std::cell::RefCell::new(std::collections::BTreeMap::<u16, usize>::new());
    runner(40)
        .run(&strategy, |(index, mutations)| {
            count_case();
            let mut request = h.fixtures[index].1.clone();
            for m in &mutations {
                apply(&mut request, m);
            }
            // No fallback fetch to the fixtures' (unreachable) EHR: absent keys are 412.
            if let Some(o) = request.as_object_mut() {
                o.remove("fhirServer");
            }
            let path = format!("/cds-services/{}", service_for(&request));
            let (status, body) = runtime.block_on(async {
                let response = app.post_json(&path, &request).await;
                let status = response.status().as_u16();
                (status, response.json::<Value>().await)
            });
            *statuses.borrow_mut().entry(status).or_default() += 1;
            let body = body.map_err(|e| TestCaseError::fail(format!("{status}: not JSON: {e}")))?;
            prop_assert!(status < 500, "{status}: {body}");
            if status == 200 {
                prop_assert!(h.schemas.check_response(&body).is_ok(), "{body}");
            } else {
                prop_assert_eq!(&body["error"]["status"], &json!(status));
                prop_assert!(
                    body["error"]["code"]
                        .as_str()
                        .is_some_and(|c| !c.is_empty())
                );
                prop_assert!(
                    body["error"]["message"]
                        .as_str()
                        .is_some_and(|m| !m.is_empty())
                );
            }
            Ok(())
        })
        .unwrap();
    println!("over HTTP, statuses: {:?}", statuses.borrow());
    report("mutated_fixtures_over_http");
    let metrics = runtime.block_on(app.metrics());
    assert!(!metrics.contains("status=\"500\""), "{metrics}");
}
