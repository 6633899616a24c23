//! `/playground`: a static page that sends fixture scenarios (or a pasted request) to the hook
//! endpoints and renders the cards as an EHR would. For clinicians reviewing the rules and for
//! integrators without an EHR at hand.
//!
//! - The page, its script modules and its stylesheet are embedded in the binary
//!   (`playground/` in the repository), so `cargo run --release` needs nothing else.
//! - Every response carries a strict `Content-Security-Policy`: everything from this origin,
//!   nothing inline, nothing from anywhere else.
//! - Scenarios: `GET /playground/scenarios` lists `fhir-fixtures/<category>/*.request.json`
//!   when the current directory has a `fhir-fixtures/` directory (a checkout: all fixtures,
//!   edits show up without a rebuild); otherwise a curated set embedded at build time, so an
//!   installed binary still has examples. `GET /playground/scenarios/{category}/{name}` returns
//!   one request; only names of the listing are served.
//! - Served only when [`crate::settings::Settings::playground_enabled`] (`DVT_CDS_PLAYGROUND`);
//!   otherwise the routes do not exist and `/playground` answers the usual JSON 404.

use std::path::{Path, PathBuf};

use actix_web::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::errors::ApiError;
use super::routes::get_resource;

/// The page may load and call only its own origin; no inline script or style, no plugins, no
/// framing, no `<base>`, forms post nowhere else.
pub const CONTENT_SECURITY_POLICY_VALUE: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const INDEX_HTML: &str = include_str!("../../playground/index.html");
const APP_JS: &str = include_str!("../../playground/app.js");
const EDIT_JS: &str = include_str!("../../playground/edit.js");
const MARKDOWN_JS: &str = include_str!("../../playground/markdown.js");
const CARDS_JS: &str = include_str!("../../playground/cards.js");
const STYLE_CSS: &str = include_str!("../../playground/style.css");

/// The fixtures directory looked for in the current directory.
pub const FIXTURES_DIR: &str = "fhir-fixtures";

/// `(category/name, request, expected)` of the scenarios embedded in the binary.
macro_rules! embedded {
    ($($id:literal),* $(,)?) => {
        &[$((
            $id,
            include_str!(concat!("../../fhir-fixtures/", $id, ".request.json")),
            include_str!(concat!("../../fhir-fixtures/", $id, ".expected.json")),
        )),*]
    };
}

/// The curated set served when there is no `fhir-fixtures/` directory: one story per
/// recommendation and per order-safety check, special populations, silencing, missing data.
pub const EMBEDDED_SCENARIOS: &[(&str, &str, &str)] = embedded![
    "recommendation/anticoagulate-order-select-unprovoked",
    "recommendation/serial-imaging-order-select-ankle-sprain",
    "recommendation/individualize-order-select-age-78-two-veins",
    "recommendation/anticoagulate-order-sign-long-thrombus-near-popliteal",
    "special-populations/active-cancer-enoxaparin-first",
    "special-populations/pregnancy-anticoagulate-enoxaparin-only",
    "special-populations/renal-egfr-12-warfarin-only",
    "order-safety/pregnancy-rivaroxaban-critical",
    "order-safety/renal-doac-rivaroxaban-egfr-22",
    "order-safety/duplicate-two-doac-drafts",
    "drafts/select-apixaban-silences-anticoagulate",
    "missing-data/no-d-dimer-serial-imaging",
];

/// Register the playground routes (only when enabled: otherwise `/playground` falls through
/// to the JSON 404 of [`super::routes::not_found`]).
pub fn configure(cfg: &mut web::ServiceConfig, enabled: bool) {
    if !enabled {
        return;
    }
    cfg.service(get_resource("/playground", index))
        .service(get_resource("/playground/", index))
        .service(get_resource("/playground/app.js", app_js))
        .service(get_resource("/playground/edit.js", edit_js))
        .service(get_resource("/playground/markdown.js", markdown_js))
        .service(get_resource("/playground/cards.js", cards_js))
        .service(get_resource("/playground/style.css", style_css))
        .service(get_resource("/playground/scenarios", scenarios))
        .service(get_resource(
            "/playground/scenarios/{category}/{name}",
            scenario,
        ));
}

/// A playground response: the security headers on everything.
fn asset(
    content_type: &'static str,
    body: impl actix_web::body::MessageBody + 'static,
) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, content_type))
        .insert_header((CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_VALUE))
        .insert_header((X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((X_FRAME_OPTIONS, "DENY"))
        .insert_header((REFERRER_POLICY, "no-referrer"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(body)
}

async fn index() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn app_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn edit_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", EDIT_JS)
}

async fn markdown_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", MARKDOWN_JS)
}

async fn cards_js() -> HttpResponse {
    asset("text/javascript; charset=utf-8", CARDS_JS)
}

async fn style_css() -> HttpResponse {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

/// One entry of `GET /playground/scenarios`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Scenario {
    /// `category/name`, the path under `/playground/scenarios/`.
    pub id: String,
    pub category: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    /// The fixture's one-paragraph story (`*.expected.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub story: Option<String>,
    /// The instant the fixture is written for (`now` of `*.expected.json`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub now: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Catalogue {
    /// `fhir-fixtures` (read from the current directory) or `embedded`.
    pub source: &'static str,
    pub scenarios: Vec<Scenario>,
}

#[derive(Deserialize)]
struct RequestHead {
    hook: Option<String>,
}

#[derive(Deserialize)]
struct ExpectedHead {
    story: Option<String>,
    now: Option<String>,
}

fn scenario_entry(id: &str, request: &str, expected: Option<&str>) -> Option<Scenario> {
    let (category, name) = id.split_once('/')?;
    let hook = serde_json::from_str::<RequestHead>(request)
        .ok()
        .and_then(|h| h.hook);
    let expected = expected.and_then(|e| serde_json::from_str::<ExpectedHead>(e).ok());
    let (story, now) = expected.map_or((None, None), |e| (e.story, e.now));
    Some(Scenario {
        id: id.to_owned(),
        category: category.to_owned(),
        name: name.to_owned(),
        hook,
        story,
        now,
    })
}

/// A fixture path segment: letters, digits, `.`, `_`, `-`; not starting with `.` or `_`
/// (`_tools/`, hidden files).
fn is_plain_segment(segment: &str) -> bool {
    !segment.is_empty()
        && !segment.starts_with(['.', '_'])
        && segment
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The catalogue from `dir` (`<category>/<name>.request.json`, one level deep), sorted by id.
pub fn read_catalogue(dir: &Path) -> std::io::Result<Vec<Scenario>> {
    let mut scenarios = Vec::new();
    for category in std::fs::read_dir(dir)? {
        let category = category?;
        let category_name = category.file_name().to_string_lossy().into_owned();
        if !category.file_type()?.is_dir() || !is_plain_segment(&category_name) {
            continue;
        }
        for file in std::fs::read_dir(category.path())? {
            let file = file?;
            let file_name = file.file_name().to_string_lossy().into_owned();
            let Some(name) = file_name.strip_suffix(".request.json") else {
                continue;
            };
            if !is_plain_segment(name) || !file.file_type()?.is_file() {
                continue;
            }
            let request = std::fs::read_to_string(file.path())?;
            let expected =
                std::fs::read_to_string(category.path().join(format!("{name}.expected.json"))).ok();
            let id = format!("{category_name}/{name}");
            scenarios.extend(scenario_entry(&id, &request, expected.as_deref()));
        }
    }
    scenarios.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(scenarios)
}

/// The embedded catalogue, in its curated order.
pub fn embedded_catalogue() -> Vec<Scenario> {
    EMBEDDED_SCENARIOS
        .iter()
        .filter_map(|(id, request, expected)| scenario_entry(id, request, Some(expected)))
        .collect()
}

/// `fhir-fixtures/` in the current directory, if it is a directory.
fn fixtures_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(FIXTURES_DIR);
    dir.is_dir().then_some(dir)
}

/// The catalogue the page sees: the fixtures directory if present, else the embedded set.
pub fn catalogue() -> Catalogue {
    if let Some(dir) = fixtures_dir() {
        match read_catalogue(&dir) {
            Ok(scenarios) if !scenarios.is_empty() => {
                return Catalogue {
                    source: "fhir-fixtures",
                    scenarios,
                };
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "playground: cannot read fhir-fixtures/; serving the embedded scenarios")
            }
        }
    }
    Catalogue {
        source: "embedded",
        scenarios: embedded_catalogue(),
    }
}

/// The request of scenario `category/name`: from `fhir-fixtures/` if the file is there, else
/// from the embedded set.
pub fn scenario_request(category: &str, name: &str) -> Option<String> {
    if !is_plain_segment(category) || !is_plain_segment(name) {
        return None;
    }
    let id = format!("{category}/{name}");
    let on_disk = fixtures_dir()
        .map(|dir| dir.join(category).join(format!("{name}.request.json")))
        .filter(|path| path.is_file())
        .and_then(|path| std::fs::read_to_string(path).ok());
    on_disk.or_else(|| {
        EMBEDDED_SCENARIOS
            .iter()
            .find(|(embedded, _, _)| *embedded == id)
            .map(|(_, request, _)| (*request).to_owned())
    })
}

/// `GET /playground/scenarios`.
async fn scenarios() -> Result<HttpResponse, ApiError> {
    let catalogue = web::block(catalogue)
        .await
        .map_err(|_| ApiError::Internal("playground catalogue panicked"))?;
    let body = serde_json::to_string(&catalogue)
        .map_err(|_| ApiError::Internal("playground catalogue serialisation"))?;
    Ok(asset("application/json", body))
}

/// `GET /playground/scenarios/{category}/{name}`: the hook request.
async fn scenario(path: web::Path<(String, String)>) -> Result<HttpResponse, ApiError> {
    let (category, name) = path.into_inner();
    let request = web::block(move || scenario_request(&category, &name))
        .await
        .map_err(|_| ApiError::Internal("playground scenario panicked"))?
        .ok_or(ApiError::NotFound)?;
    Ok(asset("application/json", request))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{AuthMode, PlaygroundMode, Settings};

    fn settings(bind: &str, auth: Option<AuthMode>, playground: PlaygroundMode) -> Settings {
        Settings {
            bind: bind.to_owned(),
            auth,
            playground,
            ..Settings::default()
        }
    }

    #[test]
    fn auto_follows_authentication() {
        use PlaygroundMode::*;
        let loopback = "127.0.0.1:8080";
        let public = "0.0.0.0:8080";
        assert!(settings(loopback, None, Auto).playground_enabled());
        assert!(settings(loopback, Some(AuthMode::Off), Auto).playground_enabled());
        assert!(!settings(loopback, Some(AuthMode::Required), Auto).playground_enabled());
        // A non-loopback bind defaults to required (even with --insecure).
        assert!(!settings(public, None, Auto).playground_enabled());
        let insecure = Settings {
            insecure: true,
            ..settings(public, None, Auto)
        };
        assert!(!insecure.playground_enabled());
        assert!(settings(public, Some(AuthMode::Off), Auto).playground_enabled());
        // Explicit settings win.
        assert!(settings(public, None, On).playground_enabled());
        assert!(settings(loopback, Some(AuthMode::Required), On).playground_enabled());
        assert!(!settings(loopback, None, Off).playground_enabled());
    }

    #[test]
    fn embedded_scenarios_are_complete_requests_with_stories() {
        let catalogue = embedded_catalogue();
        assert_eq!(catalogue.len(), EMBEDDED_SCENARIOS.len());
        for scenario in &catalogue {
            assert!(scenario.hook.is_some(), "{}", scenario.id);
            assert!(scenario.story.is_some(), "{}", scenario.id);
            assert_eq!(scenario.now.as_deref(), Some("2026-11-20T12:00:00Z"));
        }
        let (category, name) = catalogue[0].id.split_once('/').unwrap();
        let request: serde_json::Value =
            serde_json::from_str(&scenario_request(category, name).unwrap()).unwrap();
        assert_eq!(request["hook"], "order-select");
    }

    #[test]
    fn the_fixture_directory_lists_every_request_and_nothing_else() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(FIXTURES_DIR);
        let catalogue = read_catalogue(&dir).unwrap();
        assert!(catalogue.len() >= 100, "{}", catalogue.len());
        assert!(catalogue.iter().all(|s| !s.category.starts_with('_')));
        for (id, _, _) in EMBEDDED_SCENARIOS {
            assert!(catalogue.iter().any(|s| s.id == *id), "{id}");
        }
    }

    #[test]
    fn only_plain_names_are_served() {
        for bad in [
            "", "..", ".hidden", "_tools", "a/b", "a\\b", "x y", "%2e%2e",
        ] {
            assert!(!is_plain_segment(bad), "{bad:?}");
            assert!(scenario_request(bad, "x").is_none(), "{bad:?}");
            assert!(scenario_request("recommendation", bad).is_none(), "{bad:?}");
        }
        assert!(is_plain_segment("d-dimer-0.50-mg-l-feu-positive"));
        assert!(scenario_request("recommendation", "no-such-story").is_none());
    }

    #[test]
    fn the_policy_allows_nothing_from_elsewhere() {
        for directive in CONTENT_SECURITY_POLICY_VALUE.split(';') {
            let directive = directive.trim();
            assert!(
                !directive.contains("unsafe")
                    && !directive.contains("http")
                    && !directive.contains('*')
                    && !directive.contains("data:"),
                "{directive}"
            );
        }
        assert!(CONTENT_SECURITY_POLICY_VALUE.starts_with("default-src 'self'"));
        assert!(CONTENT_SECURITY_POLICY_VALUE.contains("connect-src 'self'"));
        for html_line in INDEX_HTML.lines() {
            assert!(
                !html_line.contains("<script>") && !html_line.contains("style="),
                "inline script or style in index.html: {html_line}"
            );
            assert!(
                !html_line.contains("http://") && !html_line.contains("https://"),
                "external URL in index.html: {html_line}"
            );
        }
    }
}
