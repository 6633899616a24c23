//! `POST /bench/floor` (benchmarks only): absent unless `DVT_CDS_BENCH_FLOOR=on`; then it reads
//! the body like the hook (media type, JSON syntax) and answers a constant.

use serde_json::{Value, json};

use crate::helpers::{assert_error, order_select_request, spawn_app, spawn_app_with};
use distal_dvt_cds::settings::BenchFloor;

#[tokio::test]
async fn the_floor_is_not_served_by_default() {
    let app = spawn_app().await;
    let response = app.post_json("/bench/floor", &order_select_request()).await;
    assert_error(response, 404, "not-found").await;
}

#[tokio::test]
async fn the_floor_parses_the_body_and_answers_no_cards() {
    let app = spawn_app_with(|s| s.bench_floor = BenchFloor::On).await;
    let response = app.post_json("/bench/floor", &order_select_request()).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"cards": []})
    );
    let response = app
        .post_raw("/bench/floor", "application/json", b"{\"hook\": ".to_vec())
        .await;
    assert_error(response, 400, "malformed-json").await;
}
