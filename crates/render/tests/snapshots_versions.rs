//! What differs by OpenClaw version (the instance's image tag): one snapshot per supported
//! version of everything version-dependent the renderer produces for the minimal sample with the
//! Chromium sidecar: `openclaw.json` (the browser profiles need an accent `color` up to 2026.7
//! and must not have one since 2026.9), the startup probe (`/startupz` since 2026.8.1) and the
//! warnings (a tag that is not exactly a supported version says what it is treated as).
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{Value, json};

fn view(tag: &str) -> Value {
    let r = render_ok(
        &minimal_with(json!({"image": {"tag": tag}, "chromium": {"enabled": true}})),
        &observed(),
    );
    let sts = statefulset(&r);
    let main = container(sts, "openclaw").expect("main container");
    let startup = main
        .startup_probe
        .as_ref()
        .and_then(|p| p.exec.as_ref())
        .and_then(|e| e.command.clone())
        .unwrap_or_default();
    json!({
        "tag": tag,
        "openclaw.json": openclaw_json(&r),
        "startupProbe": startup.iter().find(|a| a.starts_with("http://")),
        "warnings": r.warnings.iter().filter(|w| w.starts_with("spec.image.tag")).collect::<Vec<_>>(),
    })
}

#[test]
fn every_supported_version() {
    for s in openclaw_versions::supported() {
        insta::assert_json_snapshot!(format!("version_{}", s.as_str()), view(s.as_str()));
    }
}

#[test]
fn tags_that_are_not_exactly_a_supported_version() {
    let newest = openclaw_versions::newest().unwrap().as_str();
    let oldest = openclaw_versions::oldest().unwrap().as_str();
    for (tag, behaves_as) in [
        ("latest", newest),
        ("2099.1.1", newest),
        ("2026.8.2", "2026.7.35"),
        ("2026.2.3", oldest),
    ] {
        let v = view(tag);
        let want = view(behaves_as);
        assert_eq!(v["openclaw.json"], want["openclaw.json"], "{tag}");
        assert_eq!(v["startupProbe"], want["startupProbe"], "{tag}");
        let warnings = v["warnings"].as_array().unwrap();
        assert_eq!(warnings.len(), 1, "{tag}: {warnings:?}");
        assert!(
            warnings[0].as_str().unwrap().contains(behaves_as),
            "{tag}: {warnings:?}"
        );
    }
}
