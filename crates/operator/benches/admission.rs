//! Admission latency of the validating webhook for `OpenClawInstance`, in process: an
//! AdmissionReview body through the webhook's router (parse, every check including the config
//! against OpenClaw's own schema of the instance's version, the renderer's warnings, the
//! response), as the API server would send it. Prints p50 and p99 over many requests per case,
//! and the one-time cost of the first check of a version (decompressing and compiling its
//! schema). `cargo bench -p openclaw-operator --bench admission`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use axum::body::Body;
use http::Request;
use openclaw_operator::webhook::{VALIDATE_INSTANCE_PATH, router};
use serde_json::{Value, json};
use tower::ServiceExt as _;

const N: usize = 5_000;

fn body(spec: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "0b3f1c2a-1111-2222-3333-444455556666",
            "kind": {"group": "openclaw.rocks", "version": "v1alpha1", "kind": "OpenClawInstance"},
            "resource": {"group": "openclaw.rocks", "version": "v1alpha1", "resource": "openclawinstances"},
            "name": "demo",
            "namespace": "team",
            "operation": "CREATE",
            "userInfo": {"username": "alice"},
            "object": {
                "apiVersion": "openclaw.rocks/v1alpha1",
                "kind": "OpenClawInstance",
                "metadata": {"name": "demo", "namespace": "team"},
                "spec": spec,
            },
            "oldObject": null,
            "dryRun": false,
        }
    }))
    .unwrap()
}

fn config() -> Value {
    json!({
        "agents": {"defaults": {"model": {"primary": "anthropic/claude-sonnet-4-5"},
                                "workspace": "~/.openclaw/workspace"}},
        "channels": {"telegram": {"enabled": true, "botToken": "${TELEGRAM_BOT_TOKEN}"}},
        "skills": {"entries": {"weather": {"enabled": true}}},
        "logging": {"level": "info"},
        "session": {"scope": "per-sender"}
    })
}

async fn once(body: &[u8]) -> Duration {
    let request = Request::post(VALIDATE_INSTANCE_PATH)
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .unwrap();
    let start = Instant::now();
    let response = router().oneshot(request).await.unwrap();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let took = start.elapsed();
    assert!(bytes.len() > 10);
    took
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    // `cargo test --all-targets` runs this too (without `--bench`): one request per case then.
    let n = if std::env::args().any(|a| a == "--bench") {
        N
    } else {
        1
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pinned = |extra: Value| {
        let mut spec = json!({"image": {"tag": "2026.9.6"}});
        if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
            s.extend(e.clone());
        }
        spec
    };
    let cases = [
        ("no spec.config", pinned(json!({}))),
        (
            "spec.config.raw, 5 sections (allowed)",
            pinned(json!({"config": {"raw": config()}})),
        ),
        (
            "spec.config.raw with 2 nested errors (denied)",
            pinned(json!({"config": {"raw": {
                "agents": {"defaults": {"bogus": 1}}, "gateway": {"port": "x"}}}})),
        ),
    ];
    rt.block_on(async {
        // The first check of a version decompresses and compiles its schema.
        let first = once(&body(cases[1].1.clone())).await;
        println!("first admission with a config (schema compiled on first use): {first:?}");
        println!("{:<48} {:>10} {:>10}", "case", "p50", "p99");
        for (name, spec) in &cases {
            let b = body(spec.clone());
            let mut took = Vec::with_capacity(n);
            for _ in 0..n {
                took.push(once(&b).await);
            }
            took.sort();
            println!(
                "{name:<48} {:>10.1?} {:>10.1?}",
                percentile(&took, 0.50),
                percentile(&took, 0.99)
            );
        }
    });
}
