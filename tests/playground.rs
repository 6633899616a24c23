//! `/playground`: served or not by `DVT_CDS_PLAYGROUND` and the authentication mode, security
//! headers, scenarios, and the page itself driven in a real headless Chromium (Debian's
//! `chromium` package) against the real server on 127.0.0.1:0.
//!
//! The browser tests load `/playground?scenario=…&autorun=1` with `--dump-dom` and a virtual
//! time budget (the page fetches the scenario, posts it to the hook and renders the cards
//! before the DOM is printed), then assert on the rendered cards; one run takes a screenshot.
//! `PLAYGROUND_SCREENSHOT=docs/playground.png cargo test --test playground` refreshes the
//! screenshot committed as documentation. Chromium is looked for as `$CHROMIUM`, `chromium`,
//! `chromium-browser`; without it the browser tests fail and say how to install it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use distal_dvt_cds::config::Config;
use distal_dvt_cds::http::Application;
use distal_dvt_cds::settings::{AuthMode, PlaygroundMode, Settings};
use serde_json::Value;
use time::macros::datetime;

/// Start the application (fixtures' clock: 2026-11-20T12:00:00Z) and return its base URL.
fn spawn(adjust: impl FnOnce(&mut Settings)) -> String {
    let mut settings = Settings {
        bind: "127.0.0.1:0".to_owned(),
        config_dir: Config::default_dir(),
        workers: Some(1),
        shutdown_timeout: Duration::from_secs(1),
        fixed_now: Some(datetime!(2026-11-20 12:00:00 UTC)),
        ..Settings::default()
    };
    adjust(&mut settings);
    let application = Application::build(settings).expect("the application builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    address
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.expect("GET")
}

async fn assert_json_404(url: &str) {
    let response = get(url).await;
    assert_eq!(response.status().as_u16(), 404, "{url}");
    let body: Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["error"]["code"], "not-found", "{body}");
}

#[tokio::test]
async fn served_on_loopback_with_a_strict_content_security_policy() {
    let base = spawn(|_| {});
    for (path, content_type) in [
        ("/playground", "text/html"),
        ("/playground/app.js", "text/javascript"),
        ("/playground/edit.js", "text/javascript"),
        ("/playground/cards.js", "text/javascript"),
        ("/playground/markdown.js", "text/javascript"),
        ("/playground/style.css", "text/css"),
        ("/playground/scenarios", "application/json"),
    ] {
        let response = get(&format!("{base}{path}")).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(header("content-type").starts_with(content_type), "{path}");
        let csp = header("content-security-policy");
        assert!(csp.starts_with("default-src 'self'"), "{path}: {csp}");
        assert!(
            csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        let text = response.text().await.unwrap();
        // Nothing from elsewhere: no absolute URL in the page or the stylesheet, and the
        // scripts fetch and import only same-origin paths (their `http://loinc.org`-style
        // strings are FHIR code system identifiers, never fetched).
        if path == "/playground" || path.ends_with(".css") {
            for needle in ["http://", "https://", "//fonts.", "@import", "url("] {
                assert!(!text.contains(needle), "{path} mentions {needle}");
            }
        }
        if path.ends_with(".js") {
            for (at, _) in text.match_indices("fetch(") {
                let argument = &text[at + "fetch(".len()..];
                assert!(
                    argument.starts_with("\"/") || argument.starts_with("`/"),
                    "{path}: fetch of something else than a same-origin path: {}",
                    &argument[..argument.len().min(40)]
                );
            }
            for (at, _) in text.match_indices(" from \"") {
                let module = &text[at + " from \"".len()..];
                assert!(module.starts_with("./"), "{path}: import from elsewhere");
            }
        }
        if path.ends_with(".js") {
            for sink in [
                "innerHTML",
                "outerHTML",
                "insertAdjacentHTML",
                "document.write",
                "eval(",
                "new Function",
            ] {
                assert!(!text.contains(sink), "{path} uses {sink}");
            }
        }
    }
}

#[tokio::test]
async fn scenarios_are_listed_and_served_by_name_only() {
    let base = spawn(|_| {});
    let catalogue: Value = get(&format!("{base}/playground/scenarios"))
        .await
        .json()
        .await
        .unwrap();
    // `cargo test` runs in the package root, which has fhir-fixtures/.
    assert_eq!(catalogue["source"], "fhir-fixtures");
    let scenarios = catalogue["scenarios"].as_array().unwrap();
    assert!(scenarios.len() >= 100, "{}", scenarios.len());
    let first = &scenarios[0];
    assert!(first["story"].as_str().is_some_and(|s| !s.is_empty()));
    let id = "recommendation/anticoagulate-order-select-unprovoked";
    let served: Value = get(&format!("{base}/playground/scenarios/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let on_disk: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("fhir-fixtures/{id}.request.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(served, on_disk);
    for bad in [
        "/playground/scenarios/_tools/check",
        "/playground/scenarios/..%2F..%2Fcds-services/services",
        "/playground/scenarios/recommendation/..",
        "/playground/scenarios/recommendation/no-such-story",
    ] {
        assert_json_404(&format!("{base}{bad}")).await;
    }
}

#[tokio::test]
async fn off_when_authentication_is_required_unless_enabled() {
    // `required` needs a trusted client to start (its JWKS is fetched only on a call); the
    // playground follows the mode, not --insecure.
    let required = |s: &mut Settings| {
        s.auth = Some(AuthMode::Required);
        s.insecure = true;
        s.trusted_issuers = vec![(
            "https://ehr.example".to_owned(),
            "https://ehr.example/jwks.json".to_owned(),
        )];
    };
    let base = spawn(required);
    for path in ["/playground", "/playground/app.js", "/playground/scenarios"] {
        assert_json_404(&format!("{base}{path}")).await;
    }
    let base = spawn(|s| {
        required(s);
        s.playground = PlaygroundMode::On;
    });
    assert_eq!(get(&format!("{base}/playground")).await.status(), 200);
    let base = spawn(|s| s.playground = PlaygroundMode::Off);
    assert_json_404(&format!("{base}/playground")).await;
}

// ---- In a real browser ----------------------------------------------------------------

/// One Chromium at a time (2 cores; each run is short).
static BROWSER: Mutex<()> = Mutex::new(());

const INSTALL_HINT: &str = "headless Chromium is needed for the playground browser tests. \
     Install Debian's package: `sudo apt-get install -y chromium` (CI's .ci/run does this), \
     or point $CHROMIUM at a Chromium/Chrome binary.";

fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("{INSTALL_HINT}");
}

struct BrowserRun {
    stdout: String,
    /// Console messages the page logged (`:CONSOLE` lines of Chromium's log).
    console: Vec<String>,
}

/// Run headless Chromium on `url` with `extra` arguments; kill it after 90 s.
fn run_chromium(url: &str, extra: &[&str]) -> BrowserRun {
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let profile = tempfile::tempdir().expect("a profile directory");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=20000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start Chromium ({e}): {INSTALL_HINT}"));
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for Chromium") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("Chromium did not finish within 90 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    assert!(status.success(), "Chromium failed ({status}): {stderr}");
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_owned)
        .collect();
    BrowserRun { stdout, console }
}

/// `--dump-dom` of the playground after it ran `query`, on a blocking thread (the server
/// keeps serving on the test's runtime).
async fn dump_dom(base: &str, query: &str) -> BrowserRun {
    let url = format!("{base}/playground?{query}&autorun=1&redate=0");
    tokio::task::spawn_blocking(move || run_chromium(&url, &["--dump-dom"]))
        .await
        .unwrap()
}

fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// The text of every element opened by `open` (up to the next `<`), unescaped.
fn texts_after(dom: &str, open: &str) -> Vec<String> {
    dom.match_indices(open)
        .filter_map(|(at, _)| {
            let rest = &dom[at..];
            let start = rest.find('>')? + 1;
            let end = rest[start..].find('<')? + start;
            Some(unescape(&rest[start..end]))
        })
        .collect()
}

/// `(indicator, summary)` of each rendered card, in page order.
fn rendered_cards(dom: &str) -> Vec<(String, String)> {
    let indicators: Vec<String> = dom
        .match_indices("<article class=\"card ")
        .filter_map(|(at, _)| {
            let rest = &dom[at..dom[at..].find('>')? + at];
            let start = rest.find("data-indicator=\"")? + "data-indicator=\"".len();
            Some(rest[start..start + rest[start..].find('"')?].to_owned())
        })
        .collect();
    let summaries = texts_after(dom, "<h3 class=\"card-summary\"");
    assert_eq!(
        indicators.len(),
        summaries.len(),
        "cards: {indicators:?} {summaries:?}"
    );
    indicators.into_iter().zip(summaries).collect()
}

fn assert_clean_console(run: &BrowserRun) {
    let bad: Vec<&String> = run
        .console
        .iter()
        .filter(|l| {
            [
                "Content Security Policy",
                "Refused",
                "Uncaught",
                "Failed to load",
                "Error",
            ]
            .iter()
            .any(|w| l.contains(w))
        })
        .collect();
    assert!(bad.is_empty(), "the page logged errors: {bad:#?}");
}

/// What the API answers for a fixture at the fixtures' clock (the page must show the same).
async fn api_cards(base: &str, id: &str, service: &str) -> Vec<(String, String)> {
    let request = std::fs::read_to_string(format!("fhir-fixtures/{id}.request.json")).unwrap();
    let response: Value = reqwest::Client::new()
        .post(format!("{base}/cds-services/{service}"))
        .header("Content-Type", "application/json")
        .body(request)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let order = |i: &str| ["critical", "warning", "info"].iter().position(|x| *x == i);
    let mut cards: Vec<(String, String)> = response["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["indicator"].as_str().unwrap().to_owned(),
                c["summary"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    cards.sort_by_key(|(indicator, _)| order(indicator));
    cards
}

#[tokio::test]
async fn the_page_runs_a_scenario_and_renders_its_cards_in_chromium() {
    let base = spawn(|_| {});
    let id = "recommendation/anticoagulate-order-select-unprovoked";
    let run = dump_dom(&base, &format!("scenario={id}")).await;
    let dom = &run.stdout;
    assert!(
        dom.contains("data-status=\"done\""),
        "the page did not finish: {dom}"
    );
    let cards = rendered_cards(dom);
    assert_eq!(
        cards,
        [(
            "warning".to_owned(),
            "Calf DVT: anticoagulate 3 months (positive D-dimer, unprovoked)".to_owned()
        )]
    );
    assert_eq!(cards, api_cards(&base, id, "dvt-order-select").await);
    // The detail is Markdown rendered to elements, the suggestions are buttons.
    assert!(
        dom.contains("<h5 class=\"md-h3\">Extension risk factors</h5>"),
        "{dom}"
    );
    assert!(
        dom.contains("<strong>Anticoagulate for 3 months</strong>"),
        "{dom}"
    );
    let recommended = dom
        .find("class=\"suggestion-button recommended\"")
        .expect("a recommended suggestion button");
    assert!(
        dom[recommended..]
            .starts_with("class=\"suggestion-button recommended\" aria-expanded=\"false\"")
    );
    assert!(texts_after(&dom[recommended..], "<span")[0].starts_with("Apixaban"));
    assert!(
        texts_after(dom, "<summary")
            .iter()
            .any(|t| t.starts_with("Would create MedicationRequest"))
    );
    assert_clean_console(&run);
}

#[tokio::test]
async fn form_edits_change_the_request_and_the_recommendation_in_chromium() {
    let base = spawn(|_| {});
    let id = "recommendation/serial-imaging-order-select-ankle-sprain";
    assert_eq!(api_cards(&base, id, "dvt-order-select").await[0].0, "info");
    let run = dump_dom(&base, &format!("scenario={id}&length=6&lengthUnit=cm")).await;
    let dom = &run.stdout;
    assert!(dom.contains("data-status=\"done\""), "{dom}");
    assert!(
        texts_after(dom, "<li").contains(&"Thrombus length 6 cm".to_owned()),
        "{dom}"
    );
    assert_eq!(
        rendered_cards(dom),
        [(
            "warning".to_owned(),
            "Calf DVT: anticoagulate 3 months (thrombus > 5 cm)".to_owned()
        )]
    );
    assert_clean_console(&run);
}

/// The critical pregnancy card, a screenshot of it (saved under the target directory, and to
/// `$PLAYGROUND_SCREENSHOT` when set), checked to be a real PNG of the window's size.
#[tokio::test]
async fn a_critical_card_and_a_screenshot_in_chromium() {
    let base = spawn(|_| {});
    let id = "order-safety/pregnancy-rivaroxaban-critical";
    let run = dump_dom(&base, &format!("scenario={id}")).await;
    let cards = rendered_cards(&run.stdout);
    assert_eq!(cards, api_cards(&base, id, "dvt-order-select").await);
    assert_eq!(cards[0].0, "critical");
    assert!(
        cards[0].1.starts_with("Pregnant: replace rivaroxaban"),
        "{cards:?}"
    );
    assert_clean_console(&run);

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let shot = dir.join("playground.png");
    let _ = std::fs::remove_file(&shot);
    let url = format!(
        "{base}/playground?scenario=recommendation/anticoagulate-order-select-unprovoked&autorun=1&redate=0&expand=1"
    );
    let arg = format!("--screenshot={}", shot.display());
    tokio::task::spawn_blocking(move || run_chromium(&url, &["--window-size=1400,1600", &arg]))
        .await
        .unwrap();
    check_png(&shot, 1400, 1600);
    if let Some(copy) = std::env::var_os("PLAYGROUND_SCREENSHOT") {
        std::fs::copy(&shot, &copy).expect("copy the screenshot");
    }
}

fn check_png(path: &Path, width: u32, height: u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("no screenshot at {path:?}: {e}"));
    assert!(
        bytes.len() > 30_000,
        "screenshot too small: {} bytes",
        bytes.len()
    );
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (width, height));
}

/// `encodeURIComponent` (the page decodes the `#request=` fragment with `decodeURIComponent`).
fn uri_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Request text that reaches a card's Markdown detail (a draft's medication text, the index
/// Condition's display) is shown as text: no element, no handler, no `javascript:` link.
#[tokio::test]
async fn html_and_markdown_in_request_text_stay_text_in_chromium() {
    let base = spawn(|_| {});
    let id = "order-safety/pregnancy-rivaroxaban-critical";
    let mut request: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("fhir-fixtures/{id}.request.json")).unwrap(),
    )
    .unwrap();
    let evil = "<img src=x onerror=\"document.body.dataset.pwned=1\"> **not bold** \
                [x](javascript:document.body.dataset.pwned=3) \
                <script>document.body.dataset.pwned=2</script>";
    request["context"]["draftOrders"]["entry"][0]["resource"]["medicationCodeableConcept"]["text"] =
        Value::from(evil);
    let url = format!(
        "{base}/playground?autorun=1&redate=0#request={}",
        uri_component(&request.to_string())
    );
    let run = tokio::task::spawn_blocking(move || run_chromium(&url, &["--dump-dom"]))
        .await
        .unwrap();
    let dom = &run.stdout;
    assert!(dom.contains("data-status=\"done\""), "{dom}");
    let results = &dom[dom.find("id=\"results\"").expect("the results region")..];
    let results = &results[..results.find("id=\"raw-request\"").unwrap()];
    assert!(
        results
            .contains("&lt;img src=x onerror=\"document.body.dataset.pwned=1\"&gt; **not bold**"),
        "the text is not shown as text: {results}"
    );
    for forbidden in [
        "<img",
        "<script",
        "href=\"javascript:",
        "<strong>not bold",
        "pwned=\"",
    ] {
        assert!(!results.contains(forbidden), "{forbidden} in {results}");
    }
    assert!(!dom.contains("data-pwned"), "a handler ran");
    assert_eq!(rendered_cards(dom)[0].0, "critical");
    assert_clean_console(&run);
}
