//! Fallback fetch: absent prefetch keys → FHIR queries against the request's `fhirServer`.
//!
//! Arrow: CDS Hooks request → **fetch** → prefetch. Runs before the (synchronous) pipeline,
//! in the hook handler and in `evaluate`. For each absent key, the template the discovery
//! document declares for the service is filled from `context` and sent to `fhirServer` with
//! `Authorization: Bearer <fhirAuthorization.access_token>` (when present) and
//! `Accept: application/fhir+json`. All keys in parallel under one overall time budget, each
//! request under a per-request timeout; `Bundle.link[relation=next]` is followed up to a page
//! limit, only on the same scheme, host and port as `fhirServer` (never elsewhere: SSRF), and
//! the pages' entries are merged into one Bundle. Whatever goes wrong with one key makes that
//! key unavailable (a [`FetchGap`]); it never fails the hook.
//!
//! Token hygiene: the access token goes only into the `Authorization` header (marked
//! sensitive). Nothing here logs or returns a URL, a query, a token or a response body, and
//! `reqwest::Error`s (whose `Display` contains the URL) are classified, never formatted.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, HeaderValue};
use reqwest::{Client, StatusCode, Url, redirect};
use serde_json::{Map, Value};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::config::ServiceDefinition;
use crate::facts::{DataSource, FetchFailure, FetchGap, FetchProblem, FetchShortfall};
use crate::hook_request::{HookContext, HookRequest};

pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 2_000;
pub const DEFAULT_MAX_PAGES: usize = 5;
/// One page's body may not be larger (a bigger answer makes the key unavailable).
pub const MAX_PAGE_BYTES: usize = 16 * 1024 * 1024;
/// Redirects are followed only on the same origin, at most this many times.
const MAX_REDIRECTS: usize = 3;

/// Limits of one hook call's fallback fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchLimits {
    /// Overall time for all absent keys, pages included (`DVT_CDS_FHIR_BUDGET_MS`).
    pub budget: Duration,
    /// One HTTP request (`DVT_CDS_FHIR_REQUEST_TIMEOUT_MS`).
    pub request_timeout: Duration,
    /// Pages per key, the first included (`DVT_CDS_FHIR_MAX_PAGES`).
    pub max_pages: usize,
}

impl Default for FetchLimits {
    fn default() -> Self {
        FetchLimits {
            budget: Duration::from_millis(crate::settings::DEFAULT_FHIR_BUDGET_MS),
            request_timeout: Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS),
            max_pages: DEFAULT_MAX_PAGES,
        }
    }
}

/// The HTTP client (one per application: connection pooling) and the limits.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: Client,
    limits: FetchLimits,
}

/// How one key's fetch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOutcome {
    Fetched,
    Incomplete(FetchShortfall),
    Failed(FetchFailure),
}

impl KeyOutcome {
    /// Stable code (metrics label `outcome`).
    pub fn code(self) -> &'static str {
        match self {
            KeyOutcome::Fetched => "fetched",
            KeyOutcome::Incomplete(why) => why.code(),
            KeyOutcome::Failed(why) => why.code(),
        }
    }
}

/// One key's result: the outcome, the JSON to use (a resource, or a Bundle with the merged
/// entries of every page fetched), and the pages requested.
#[derive(Debug, Clone)]
pub struct KeyResult {
    pub source: DataSource,
    pub outcome: KeyOutcome,
    pub value: Option<Value>,
    pub pages: usize,
}

/// The result of one hook call's fallback fetch (no URL, no token, no patient data).
#[derive(Debug, Clone, Default)]
pub struct FetchReport {
    /// In contract key order.
    pub keys: Vec<KeyResult>,
    pub elapsed: Duration,
}

impl FetchReport {
    /// Move the fetched JSON into `request.prefetch` and the gaps into `request.fetch_gaps`.
    pub fn apply(&mut self, request: &mut HookRequest) {
        for key in &mut self.keys {
            if let Some(value) = key.value.take() {
                request.prefetch.insert(key.source.key().to_owned(), value);
            }
            let problem = match key.outcome {
                KeyOutcome::Fetched => continue,
                KeyOutcome::Incomplete(why) => FetchProblem::Incomplete(why),
                KeyOutcome::Failed(why) => FetchProblem::Failed(why),
            };
            request.fetch_gaps.push(FetchGap {
                source: key.source,
                problem,
            });
        }
    }
}

/// The contract keys absent from the request's prefetch.
pub fn absent_keys(request: &HookRequest) -> Vec<DataSource> {
    DataSource::ALL
        .into_iter()
        .filter(|s| !request.prefetch.contains_key(s.key()))
        .collect()
}

/// The origin of `url` (scheme, host, port) — what a followed link must share.
fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// Characters kept as they are in a filled token: RFC 3986 unreserved.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if is_unreserved(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A value fit to stand in a URL: percent-encoded, never a dot segment.
fn encoded(value: &str) -> Option<String> {
    if value.is_empty() || value.bytes().all(|b| b == b'.') {
        return None;
    }
    Some(percent_encode(value))
}

/// `context.userId` is a reference (`Practitioner/123`): kept as `Type/id`, each part encoded.
fn encoded_reference(value: &str) -> Option<String> {
    let (kind, id) = value.split_once('/')?;
    if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    Some(format!("{kind}/{}", encoded(id)?))
}

/// The value of one prefetch token (`context.patientId`, `userPractitionerId`, …), encoded.
fn token_value(token: &str, context: &HookContext) -> Option<String> {
    let user_id = |prefix: &str| {
        context
            .user_id
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('/'))
            .and_then(encoded)
    };
    match token {
        "context.patientId" => encoded(&context.patient_id),
        "context.encounterId" => context.encounter_id.as_deref().and_then(encoded),
        "context.userId" => encoded_reference(&context.user_id),
        "userPractitionerId" => user_id("Practitioner"),
        "userPractitionerRoleId" => user_id("PractitionerRole"),
        "userPatientId" => user_id("Patient"),
        "userRelatedPersonId" => user_id("RelatedPerson"),
        _ => None,
    }
}

/// Fill a prefetch template's `{{…}}` tokens from the hook context. `None` when a token is
/// unknown or has no value in this context (the key is then not fetched).
pub fn fill_template(template: &str, context: &HookContext) -> Option<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}")?;
        out.push_str(&token_value(after[..end].trim(), context)?);
        rest = &after[end + 2..];
    }
    if rest.contains("}}") {
        return None;
    }
    out.push_str(rest);
    Some(out)
}

/// `fhirServer` as a base URL ending with `/` (so relative queries append to its path).
fn base_url(fhir_server: &str) -> Option<Url> {
    let mut url = Url::parse(fhir_server).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return None;
    }
    url.set_query(None);
    url.set_fragment(None);
    // Credentials in the URL would be sent as Basic auth: never.
    url.set_username("").ok()?;
    url.set_password(None).ok()?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Some(url)
}

/// The query URL for a filled template, which must stay under `base`.
fn query_url(base: &Url, relative: &str) -> Option<Url> {
    let url = base.join(relative.trim_start_matches('/')).ok()?;
    (same_origin(base, &url) && url.path().starts_with(base.path())).then_some(url)
}

impl Fetcher {
    /// Build the shared client: rustls, no cookies, redirects only within one origin.
    pub fn new(limits: FetchLimits) -> Result<Fetcher, reqwest::Error> {
        let policy = redirect::Policy::custom(|attempt| {
            let stays = attempt
                .previous()
                .first()
                .is_some_and(|first| same_origin(first, attempt.url()));
            if stays && attempt.previous().len() <= MAX_REDIRECTS {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        let client = Client::builder()
            .redirect(policy)
            .connect_timeout(limits.request_timeout)
            .user_agent(concat!("distal-dvt-cds/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Fetcher { client, limits })
    }

    pub fn limits(&self) -> FetchLimits {
        self.limits
    }

    /// Fetch `keys` for `request` with the templates of `service`. Returns within the budget
    /// (plus scheduling noise); every key gets a result.
    pub async fn fetch(
        &self,
        service: &ServiceDefinition,
        request: &HookRequest,
        keys: &[DataSource],
    ) -> FetchReport {
        let started = Instant::now();
        let deadline = started + self.limits.budget;
        let base = request.fhir_server.as_deref().and_then(base_url);
        let token: Option<Arc<str>> = request
            .fhir_authorization
            .as_ref()
            .map(|a| Arc::from(a.access_token.as_str()));
        let mut results: Vec<KeyResult> = keys
            .iter()
            .map(|&source| KeyResult {
                source,
                outcome: KeyOutcome::Failed(FetchFailure::BudgetExhausted),
                value: None,
                pages: 0,
            })
            .collect();
        let mut tasks = JoinSet::new();
        let mut task_keys = Vec::new();
        for (index, result) in results.iter_mut().enumerate() {
            let Some(base) = base.clone() else {
                result.outcome = KeyOutcome::Failed(FetchFailure::InvalidServerUrl);
                continue;
            };
            let url = service
                .prefetch
                .get(result.source.key())
                .and_then(|template| fill_template(template, &request.context))
                .and_then(|relative| query_url(&base, &relative));
            let Some(url) = url else {
                result.outcome = KeyOutcome::Failed(FetchFailure::UnfillableTemplate);
                continue;
            };
            let page = PageFetch {
                client: self.client.clone(),
                token: token.clone(),
                limits: self.limits,
                deadline,
            };
            let handle = tasks.spawn(async move {
                match tokio::time::timeout_at(deadline, page.fetch_key(base, url)).await {
                    Ok(done) => done,
                    Err(_) => (KeyOutcome::Failed(FetchFailure::BudgetExhausted), None, 0),
                }
            });
            task_keys.push((handle.id(), index));
        }
        while let Some(joined) = tasks.join_next_with_id().await {
            // A panicked task keeps its default (budget-exhausted): the key is unavailable.
            if let Ok((id, (outcome, value, pages))) = joined
                && let Some(&(_, index)) = task_keys.iter().find(|(task, _)| *task == id)
            {
                results[index].outcome = outcome;
                results[index].value = value;
                results[index].pages = pages;
            }
        }
        for result in &results {
            if let KeyOutcome::Failed(_) | KeyOutcome::Incomplete(_) = result.outcome {
                tracing::warn!(
                    key = result.source.key(),
                    outcome = result.outcome.code(),
                    pages = result.pages,
                    "prefetch fallback: key not fetched in full"
                );
            }
        }
        FetchReport {
            keys: results,
            elapsed: started.elapsed(),
        }
    }
}

/// What one key's task needs (owned: it runs as its own task).
struct PageFetch {
    client: Client,
    token: Option<Arc<str>>,
    limits: FetchLimits,
    deadline: Instant,
}

impl PageFetch {
    /// Fetch one key: the first page, then `next` pages on the same origin up to the limit.
    async fn fetch_key(self, base: Url, first: Url) -> (KeyOutcome, Option<Value>, usize) {
        let mut url = first;
        let mut pages = 0;
        let mut bundle: Option<Map<String, Value>> = None;
        let mut entries: Vec<Value> = Vec::new();
        loop {
            pages += 1;
            let page = match self.get(url.clone()).await {
                Ok(page) => page,
                Err(failure) => return (KeyOutcome::Failed(failure), None, pages),
            };
            let is_bundle = page.get("resourceType").and_then(Value::as_str) == Some("Bundle");
            if !is_bundle {
                if bundle.is_some() {
                    // A `next` page that is not a Bundle: the key cannot be trusted.
                    return (KeyOutcome::Failed(FetchFailure::InvalidBody), None, pages);
                }
                // A read (`Patient/123`): the resource itself.
                return (KeyOutcome::Fetched, Some(Value::Object(page)), pages);
            }
            let mut page = page;
            if let Some(Value::Array(items)) = page.remove("entry") {
                entries.extend(items);
            }
            let next = next_link(&page).and_then(|href| url.join(href).ok());
            if bundle.is_none() {
                bundle = Some(page);
            }
            let outcome = match next {
                None => KeyOutcome::Fetched,
                Some(next) if !same_origin(&base, &next) => {
                    KeyOutcome::Incomplete(FetchShortfall::ForeignNextLink)
                }
                Some(_) if pages >= self.limits.max_pages => {
                    KeyOutcome::Incomplete(FetchShortfall::PageLimit)
                }
                Some(next) => {
                    url = next;
                    continue;
                }
            };
            let mut merged = bundle.unwrap_or_default();
            merged.remove("link");
            merged.insert("entry".to_owned(), Value::Array(entries));
            return (outcome, Some(Value::Object(merged)), pages);
        }
    }

    /// GET one page: a JSON object with a `resourceType` other than OperationOutcome.
    async fn get(&self, url: Url) -> Result<Map<String, Value>, FetchFailure> {
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(FetchFailure::BudgetExhausted);
        }
        let budget_bound = remaining < self.limits.request_timeout;
        let timeout = remaining.min(self.limits.request_timeout);
        let timed_out = if budget_bound {
            FetchFailure::BudgetExhausted
        } else {
            FetchFailure::Timeout
        };
        let mut builder = self
            .client
            .get(url)
            .header(ACCEPT, HeaderValue::from_static("application/fhir+json"))
            .timeout(timeout);
        if let Some(token) = &self.token {
            // `bearer_auth` marks the header sensitive (never printed by reqwest/hyper).
            builder = builder.bearer_auth(token);
        }
        let classify = |e: reqwest::Error| {
            if e.is_timeout() {
                timed_out
            } else if e.is_connect() || e.is_request() {
                FetchFailure::Unreachable
            } else {
                FetchFailure::InvalidBody
            }
        };
        let mut response = builder.send().await.map_err(classify)?;
        match response.status() {
            s if s.is_success() => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(FetchFailure::Unauthorized);
            }
            StatusCode::NOT_FOUND | StatusCode::GONE => return Err(FetchFailure::NotFound),
            _ => return Err(FetchFailure::HttpError),
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_PAGE_BYTES as u64)
        {
            return Err(FetchFailure::InvalidBody);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > MAX_PAGE_BYTES {
                return Err(FetchFailure::InvalidBody);
            }
            body.extend_from_slice(&chunk);
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(resource))
                if resource
                    .get("resourceType")
                    .and_then(Value::as_str)
                    .is_some_and(|t| !t.is_empty() && t != "OperationOutcome") =>
            {
                Ok(resource)
            }
            _ => Err(FetchFailure::InvalidBody),
        }
    }
}

/// `Bundle.link[relation = next].url`.
fn next_link(bundle: &Map<String, Value>) -> Option<&str> {
    bundle
        .get("link")?
        .as_array()?
        .iter()
        .find(|link| link.get("relation").and_then(Value::as_str) == Some("next"))?
        .get("url")?
        .as_str()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn context(user: &str, encounter: Option<&str>) -> HookContext {
        HookContext {
            user_id: user.to_owned(),
            patient_id: "p-1".to_owned(),
            encounter_id: encounter.map(str::to_owned),
            selections: vec![],
            draft_orders: json!({"resourceType": "Bundle"}),
        }
    }

    #[test]
    fn templates_are_filled_from_context() {
        let c = context("Practitioner/doc-7", Some("e 1"));
        assert_eq!(
            fill_template("Patient/{{context.patientId}}", &c).as_deref(),
            Some("Patient/p-1")
        );
        assert_eq!(
            fill_template(
                "Encounter?_id={{ context.encounterId }}&patient={{context.patientId}}",
                &c
            )
            .as_deref(),
            Some("Encounter?_id=e%201&patient=p-1")
        );
        assert_eq!(
            fill_template("{{context.userId}}", &c).as_deref(),
            Some("Practitioner/doc-7")
        );
        assert_eq!(
            fill_template("Practitioner/{{userPractitionerId}}", &c).as_deref(),
            Some("Practitioner/doc-7")
        );
        assert_eq!(fill_template("Condition", &c).as_deref(), Some("Condition"));
    }

    #[test]
    fn unfillable_templates_are_none() {
        let c = context("PractitionerRole/r1", None);
        for template in [
            "Encounter/{{context.encounterId}}",
            "Practitioner/{{userPractitionerId}}",
            "Patient/{{userPatientId}}",
            "X?{{context.draftOrders}}",
            "X?{{context.medication.id}}",
            "X?{{today()-90 days}}",
            "X?{{context.patientId",
            "X?context.patientId}}",
        ] {
            assert_eq!(fill_template(template, &c), None, "{template}");
        }
        assert_eq!(
            fill_template("PractitionerRole/{{userPractitionerRoleId}}", &c).as_deref(),
            Some("PractitionerRole/r1")
        );
    }

    #[test]
    fn filled_values_cannot_escape_the_query() {
        let mut c = context("Practitioner/x", None);
        c.patient_id = "../../admin?x=1#y".to_owned();
        assert_eq!(
            fill_template("Patient/{{context.patientId}}", &c).as_deref(),
            Some("Patient/..%2F..%2Fadmin%3Fx%3D1%23y")
        );
        c.patient_id = "..".to_owned();
        assert_eq!(fill_template("Patient/{{context.patientId}}", &c), None);
        let c = context("Practitioner/../../x", None);
        assert_eq!(
            fill_template("{{context.userId}}", &c).as_deref(),
            Some("Practitioner/..%2F..%2Fx")
        );
        let c = context("http://evil.example/x", None);
        assert_eq!(fill_template("{{context.userId}}", &c), None);
    }

    #[test]
    fn queries_stay_under_fhir_server() {
        let base = base_url("https://u:p@ehr.example/fhir/r4?secret=1#f").unwrap();
        assert_eq!(base.as_str(), "https://ehr.example/fhir/r4/");
        assert_eq!(
            query_url(&base, "Condition?patient=1").unwrap().as_str(),
            "https://ehr.example/fhir/r4/Condition?patient=1"
        );
        assert_eq!(
            query_url(&base, "/Condition").unwrap().as_str(),
            "https://ehr.example/fhir/r4/Condition"
        );
        assert!(query_url(&base, "https://other.example/x").is_none());
        // A leading `//` cannot make it another host: still a path under fhirServer.
        assert_eq!(
            query_url(&base, "//other.example/x").unwrap().as_str(),
            "https://ehr.example/fhir/r4/other.example/x"
        );
        assert!(query_url(&base, "../../x").is_none());
        for bad in ["ftp://ehr.example/fhir", "not a url", "file:///etc/passwd"] {
            assert!(base_url(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let a = Url::parse("http://127.0.0.1:8080/fhir").unwrap();
        assert!(same_origin(
            &a,
            &Url::parse("http://127.0.0.1:8080/other?x").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("http://127.0.0.1:8081/fhir").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("https://127.0.0.1:8080/fhir").unwrap()
        ));
        assert!(!same_origin(
            &a,
            &Url::parse("http://localhost:8080/fhir").unwrap()
        ));
        let b = Url::parse("https://ehr.example/fhir").unwrap();
        assert!(same_origin(
            &b,
            &Url::parse("https://ehr.example:443/x").unwrap()
        ));
    }

    #[test]
    fn a_report_fills_the_prefetch_and_the_gaps() {
        let body = json!({"hook": "order-sign", "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
            "fhirServer": "https://ehr.example/fhir",
            "context": {"userId": "Practitioner/1", "patientId": "p1",
                        "draftOrders": {"resourceType": "Bundle"}},
            "prefetch": {"patient": null}});
        let mut request = HookRequest::parse(&body).unwrap();
        assert_eq!(absent_keys(&request).len(), 6);
        let mut report = FetchReport {
            keys: vec![
                KeyResult {
                    source: DataSource::Conditions,
                    outcome: KeyOutcome::Fetched,
                    value: Some(json!({"resourceType": "Bundle", "entry": []})),
                    pages: 1,
                },
                KeyResult {
                    source: DataSource::Observations,
                    outcome: KeyOutcome::Incomplete(FetchShortfall::PageLimit),
                    value: Some(json!({"resourceType": "Bundle", "entry": []})),
                    pages: 5,
                },
                KeyResult {
                    source: DataSource::Medications,
                    outcome: KeyOutcome::Failed(FetchFailure::Timeout),
                    value: None,
                    pages: 1,
                },
            ],
            elapsed: Duration::ZERO,
        };
        report.apply(&mut request);
        assert!(request.prefetch["conditions"].is_object());
        assert!(request.prefetch["observations"].is_object());
        assert!(!request.prefetch.contains_key("medications"));
        assert_eq!(
            request.fetch_gaps,
            vec![
                FetchGap {
                    source: DataSource::Observations,
                    problem: FetchProblem::Incomplete(FetchShortfall::PageLimit)
                },
                FetchGap {
                    source: DataSource::Medications,
                    problem: FetchProblem::Failed(FetchFailure::Timeout)
                },
            ]
        );
        assert_eq!(
            absent_keys(&request),
            vec![
                DataSource::Medications,
                DataSource::Encounters,
                DataSource::Procedures,
                DataSource::ServiceRequests
            ]
        );
    }

    #[test]
    fn next_link_is_found() {
        let bundle = json!({"resourceType": "Bundle", "link": [
            {"relation": "self", "url": "a"}, {"relation": "next", "url": "b"}]});
        assert_eq!(next_link(bundle.as_object().unwrap()), Some("b"));
        let bundle = json!({"resourceType": "Bundle", "link": "garbage"});
        assert_eq!(next_link(bundle.as_object().unwrap()), None);
    }
}
