//! Graceful shutdown of the real binary: SIGTERM while hook requests are in flight (held by a
//! slow FHIR server during their fallback fetch). The in-flight requests complete with 200,
//! new connections are refused, and the process exits 0 within the configured grace period
//! (`DVT_CDS_SHUTDOWN_TIMEOUT_SECS`).

use std::time::{Duration, Instant};

use crate::fallback::{absent, fixture};
use crate::fhir_stub::{Behaviour, StubFhir};
use crate::helpers::ServerProcess;

const FIXTURE: &str = "recommendation/anticoagulate-order-select-unprovoked";
const GRACE_SECS: u64 = 15;
const IN_FLIGHT: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish_refuses_new_ones_and_exits_0() {
    let (request, _) = fixture(FIXTURE);
    let stub = StubFhir::start(
        &request,
        Behaviour {
            delay: Some(Duration::from_millis(1500)),
            ..Behaviour::default()
        },
    );
    let grace = GRACE_SECS.to_string();
    let server = ServerProcess::start(
        &["--bind", "127.0.0.1:0", "--shutdown-timeout-secs", &grace],
        &[
            ("DVT_CDS_FHIR_BUDGET_MS", "10000"),
            ("DVT_CDS_FHIR_REQUEST_TIMEOUT_MS", "10000"),
        ],
    );
    let url = format!("{}/cds-services/dvt-order-select", server.address);
    let body = absent(&request, &["observations"], &stub.base, None).to_string();
    let mut in_flight = Vec::new();
    for _ in 0..IN_FLIGHT {
        // One client (one connection) per request.
        let client = reqwest::Client::new();
        let (url, body) = (url.clone(), body.clone());
        in_flight.push(tokio::spawn(async move {
            let response = client
                .post(url)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
                .await
                .expect("an in-flight request is answered");
            let status = response.status().as_u16();
            let cards: serde_json::Value = response.json().await.expect("JSON");
            (status, cards)
        }));
    }
    tokio::time::timeout(Duration::from_secs(60), async {
        while stub.seen().len() < IN_FLIGHT {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("every request is in flight (waiting on the FHIR server)");

    let signalled = Instant::now();
    server.terminate();
    let address = server.address.trim_start_matches("http://").to_owned();
    let waiting = tokio::task::spawn_blocking(move || {
        server.wait_for_exit(Duration::from_secs(GRACE_SECS + 30))
    });

    // New connections are refused once the listener is closed (polled: the signal is
    // handled asynchronously).
    let refused = tokio::time::timeout(Duration::from_secs(GRACE_SECS), async {
        loop {
            match tokio::net::TcpStream::connect(&address).await {
                Err(e) => break e.kind(),
                Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await
    .expect("new connections are refused before the grace period ends");
    // Refused (listener closed) or reset (a SYN that raced the close, left in the old
    // listener's backlog): either way the new connection is turned away, not served.
    assert!(
        matches!(
            refused,
            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset
        ),
        "a new connection after SIGTERM: {refused:?}"
    );

    for request in in_flight {
        let (status, cards) = request.await.unwrap();
        assert_eq!(status, 200, "{cards}");
        assert!(cards["cards"].is_array(), "{cards}");
    }
    let (status, logs) = waiting.await.unwrap();
    let took = signalled.elapsed();
    let status = status.expect("the process exited");
    assert!(status.success(), "exit status {status:?}; logs {logs:#?}");
    assert!(
        took < Duration::from_secs(GRACE_SECS),
        "exited after {took:?}, grace {GRACE_SECS}s"
    );
    assert!(
        logs.iter()
            .any(|l| l.contains("finishing in-flight requests")),
        "{logs:#?}"
    );
    assert!(logs.iter().any(|l| l.contains("\"stopped\"")), "{logs:#?}");
    println!(
        "graceful shutdown: {IN_FLIGHT} in-flight requests answered 200; exit 0 {:.0} ms after SIGTERM (grace {GRACE_SECS} s)",
        took.as_secs_f64() * 1000.0
    );
}
