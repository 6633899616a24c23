//! criterion micro-benchmarks of one hook call's stages on the generated payloads
//! (`benches/gen_payloads.py`, run if `benches/payloads/` is missing):
//! body → request (full `serde_json::Value` parse vs [`skim`]), schema check, facts
//! extraction, assessment, card rendering, and the whole pipeline.
//!
//!     cargo bench --bench pipeline [-- FILTER]

use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use distal_dvt_cds::cards::{self, CardContext};
use distal_dvt_cds::cds_schema::Schemas;
use distal_dvt_cds::clinical;
use distal_dvt_cds::config::Config;
use distal_dvt_cds::facts::{self, ExtractInput};
use distal_dvt_cds::hook_request::HookRequest;
use distal_dvt_cds::{pipeline, prefetch, skim};
use serde_json::Value;
use time::macros::datetime;

const SIZES: [&str; 3] = ["small", "typical", "large"];

fn payloads() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("benches/payloads");
    if !SIZES.iter().all(|s| dir.join(format!("{s}.json")).exists()) {
        let status = std::process::Command::new("python3")
            .arg(root.join("benches/gen_payloads.py"))
            .arg(&dir)
            .status()
            .expect("python3 benches/gen_payloads.py");
        assert!(status.success(), "gen_payloads.py failed");
    }
    dir
}

fn stages(c: &mut Criterion) {
    let config = Config::load(&Config::default_dir()).expect("config");
    let schemas = Schemas::compile().expect("schemas");
    let dir = payloads();
    let now = datetime!(2026-11-20 12:00 UTC);
    let service = &config.services[0];
    for size in SIZES {
        let bytes = std::fs::read(dir.join(format!("{size}.json"))).expect("payload");
        let full: Value = serde_json::from_slice(&bytes).expect("json");
        let skimmed = skim::skim(&bytes, &config.rules).expect("skim");
        let body = skimmed.body;
        let mut request = HookRequest::parse(&body).expect("request");
        request.prefetch_entries = skimmed.entries;
        let prefetched = prefetch::collect_after_fetch(
            &request.prefetch,
            &request.prefetch_entries,
            &request.fetch_gaps,
        )
        .expect("prefetch");
        let input = ExtractInput {
            prefetched: &prefetched,
            draft_orders: &request.context.draft_orders,
            selections: &request.context.selections,
            encounter_id: request.context.encounter_id.as_deref(),
        };
        let facts = facts::extract(&input, &config.rules);
        let moment = pipeline::moment(request.hook);
        let assessment = clinical::assess(&facts, &config.rules, moment, now);
        let ctx = CardContext {
            patient_id: &request.context.patient_id,
            draft_orders: &request.context.draft_orders,
            rules: &config.rules,
            now,
        };
        assert!(!cards::render(&assessment, &ctx).cards.is_empty());

        let mut g = c.benchmark_group(size);
        g.bench_function(BenchmarkId::new("parse", "value (floor)"), |b| {
            b.iter(|| serde_json::from_slice::<Value>(black_box(&bytes)).unwrap())
        });
        g.bench_function(BenchmarkId::new("parse", "skim"), |b| {
            b.iter(|| skim::skim(black_box(&bytes), &config.rules).unwrap())
        });
        g.bench_function("schema check (skimmed)", |b| {
            b.iter(|| schemas.check_request(black_box(&body)).unwrap())
        });
        g.bench_function("schema check (full)", |b| {
            b.iter(|| schemas.check_request(black_box(&full)).unwrap())
        });
        g.bench_function("request parse", |b| {
            b.iter(|| HookRequest::parse(black_box(&body)).unwrap())
        });
        g.bench_function("facts (skimmed)", |b| {
            b.iter(|| facts::extract(black_box(&input), &config.rules))
        });
        let full_request = HookRequest::parse(&full).expect("request");
        let full_prefetched = prefetch::collect(&full_request.prefetch).expect("prefetch");
        let full_input = ExtractInput {
            prefetched: &full_prefetched,
            ..input
        };
        g.bench_function("facts (full)", |b| {
            b.iter(|| facts::extract(black_box(&full_input), &config.rules))
        });
        g.bench_function("assessment", |b| {
            b.iter(|| clinical::assess(black_box(&facts), &config.rules, moment, now))
        });
        g.bench_function("cards", |b| {
            b.iter(|| cards::render(black_box(&assessment), &ctx))
        });
        g.bench_function("pipeline (skim → cards)", |b| {
            b.iter(|| {
                let skimmed = skim::skim(black_box(&bytes), &config.rules).unwrap();
                schemas.check_request(&skimmed.body).unwrap();
                let mut request = HookRequest::parse_owned(skimmed.body).unwrap();
                request.prefetch_entries = skimmed.entries;
                pipeline::run(&config, service, &request, now).unwrap()
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = stages
}
criterion_main!(benches);
