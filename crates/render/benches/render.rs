//! Rendering cost per instance: the minimal sample and the Go operator's full sample.
//!
//! `cargo bench -p openclaw-render`. The full sample is read from `../shared/compat/samples`
//! beside the repository (or `$OPENCLAW_COMPAT_DIR/samples`); without it, that bench is skipped.

#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};

use openclaw_api::OpenClawInstance;
use openclaw_render::{Observed, render};

fn main() {
    divan::main();
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn load(path: &Path) -> Option<(OpenClawInstance, Observed)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut instance: OpenClawInstance = serde_saphyr::from_str(&text).expect("a valid sample");
    instance
        .metadata
        .namespace
        .get_or_insert_with(|| "bench".into());
    instance.metadata.uid = Some("00000000-0000-0000-0000-000000000001".into());
    let observed = Observed {
        gateway_token: Some("0".repeat(64)),
        secret_hash: "0123456789abcdef".into(),
        ..Default::default()
    };
    // Fail at set-up, not inside the measured loop.
    render(&instance, &observed).expect("the sample renders");
    Some((instance, observed))
}

fn full_sample() -> PathBuf {
    std::env::var_os("OPENCLAW_COMPAT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/compat"))
        .join("samples/openclaw_v1alpha1_openclawinstance_full.yaml")
}

#[divan::bench]
fn minimal(bencher: divan::Bencher) {
    let (instance, observed) =
        load(&repo().join("config/samples/openclawinstance-minimal.yaml")).expect("minimal sample");
    bencher.bench(|| render(divan::black_box(&instance), divan::black_box(&observed)));
}

#[divan::bench]
fn full(bencher: divan::Bencher) {
    let Some((instance, observed)) = load(&full_sample()) else {
        eprintln!("skipping `full`: {} not found", full_sample().display());
        return;
    };
    bencher.bench(|| render(divan::black_box(&instance), divan::black_box(&observed)));
}
