#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use super::*;

/// The `openclaw` lines of `hack/openclaw/versions`.
fn listed() -> Vec<String> {
    include_str!("../../../hack/openclaw/versions")
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("openclaw")).then(|| w.next().map(str::to_string))?
        })
        .collect()
}

#[test]
fn the_table_is_the_versions_file() {
    let table: Vec<String> = supported().iter().map(|s| s.as_str().to_string()).collect();
    assert_eq!(
        table,
        listed(),
        "run hack/openclaw/add-version.sh to regenerate src/supported.rs"
    );
    assert_eq!(
        supported::SUPPORTED.len(),
        table.len(),
        "an unparseable version in the table"
    );
}

#[test]
fn every_embedded_schema_compiles() {
    for s in supported() {
        let schema = s.schema().unwrap_or_else(|e| panic!("{e}"));
        let issues = schema.check(&json!({}));
        assert!(
            issues.is_empty(),
            "{}: {{}} is a valid config: {issues:?}",
            s.as_str()
        );
        assert!(schema.accepts(&["gateway", "mode"]), "{}", s.as_str());
    }
}

#[test]
fn versions_from_tags() {
    let v = Version::new(2026, 9, 6);
    for tag in [
        "2026.9.6",
        "v2026.9.6",
        "2026.9.6-slim",
        "2026.9.6+b1",
        " 2026.9.6 ",
    ] {
        assert_eq!(Version::parse(tag), Some(v), "{tag}");
    }
    assert_eq!(
        Version::parse("2026.9.1-beta.1"),
        Some(Version::new(2026, 9, 1))
    );
    for tag in [
        "latest",
        "stable",
        "2026.9",
        "2026.9.6.1",
        "2026.13.1",
        "x2026.9.6",
        "",
        "2026..1",
        "sha256:abc",
        "99999.1.1",
    ] {
        assert_eq!(Version::parse(tag), None, "{tag}");
    }
    assert!(Version::new(2026, 10, 1) > Version::new(2026, 9, 35));
    assert_eq!(v.to_string(), "2026.9.6");
}

#[test]
fn targets() {
    let newest = newest().unwrap().version();
    let oldest = oldest().unwrap().version();
    let t = target(&newest.to_string()).unwrap();
    assert_eq!((t.matched, t.supported.version()), (Match::Exact, newest));
    assert_eq!(t.note("x"), None);

    let t = target("latest").unwrap();
    assert_eq!((t.matched, t.supported.version()), (Match::Unknown, newest));
    assert!(t.enforce_schema());
    assert!(
        t.note("latest")
            .unwrap()
            .contains("names no OpenClaw version")
    );

    let newer = Version::new(newest.year + 1, 1, 1);
    let t = target(&newer.to_string()).unwrap();
    assert_eq!(
        (t.matched, t.supported.version()),
        (Match::Newer(newer), newest)
    );

    let t = target("2020.1.1").unwrap();
    assert_eq!(t.supported.version(), oldest);
    assert!(!t.enforce_schema());
    assert!(
        t.note("2020.1.1")
            .unwrap()
            .contains("older than the oldest supported")
    );

    // Between two supported versions: the nearest older one.
    let all = supported();
    if all.len() >= 2 {
        let lower = all[all.len() - 1].version();
        let between = Version::new(lower.year, lower.month, lower.patch + 1);
        if find(between).is_none() {
            let t = target(&between.to_string()).unwrap();
            assert_eq!(
                (t.matched, t.supported.version()),
                (Match::Between(between), lower)
            );
            assert!(t.enforce_schema());
        }
    }
}

#[test]
fn device_auth_flag_is_retired_with_startupz() {
    for s in supported() {
        assert_eq!(
            s.retired("gateway.controlUi.dangerouslyDisableDeviceAuth"),
            s.has_startupz(),
            "{}",
            s.as_str()
        );
        assert!(!s.retired("gateway.mode"));
    }
}

#[test]
fn startupz_is_gated() {
    for s in supported() {
        assert_eq!(
            s.has_startupz(),
            s.version() >= Version::new(2026, 8, 1),
            "{}",
            s.as_str()
        );
    }
}

fn newest_schema() -> &'static Schema {
    newest().unwrap().schema().unwrap()
}

fn issues(config: serde_json::Value) -> Vec<(String, String)> {
    newest_schema()
        .check(&config)
        .into_iter()
        .map(|i| (i.path, i.message))
        .collect()
}

fn pair(p: &str, m: &str) -> (String, String) {
    (p.to_string(), m.to_string())
}

/// The same issues, word for word, as `openclaw config validate --json` of 2026.9.6 reports
/// (the conformance test compares every case with the real CLI).
#[test]
fn issues_read_like_openclaw() {
    assert_eq!(
        issues(json!({"agents": {"defaults": {"bogus": 1}}})),
        [pair("agents.defaults", "Unrecognized key: \"bogus\"")]
    );
    assert_eq!(
        issues(json!({"gateway": {"port": "abc"}})),
        [pair(
            "gateway.port",
            "Invalid input: expected number, received string"
        )]
    );
    assert_eq!(
        issues(json!({"gateway": {"mode": "weird"}})),
        [pair(
            "gateway.mode",
            "Invalid input (allowed: \"local\", \"remote\")"
        )]
    );
    assert_eq!(
        issues(json!({"agents": {"defaults": {"sandbox": true}}})),
        [pair(
            "agents.defaults.sandbox",
            "Invalid input: expected object, received boolean"
        )]
    );
    assert_eq!(
        issues(json!({"bogus": 1, "other": 2})),
        [pair("<root>", "Unrecognized keys: \"bogus\", \"other\"")]
    );
    assert!(issues(json!({"gateway": {"mode": "local", "port": 18789}})).is_empty());
}

#[test]
fn accepts_only_declared_keys() {
    let s = newest_schema();
    assert!(s.accepts(&["gateway", "controlUi", "dangerouslyDisableDeviceAuth"]));
    assert!(s.accepts(&["gateway", "trustedProxies"]));
    assert!(!s.accepts(&["gateway", "bogus"]));
    assert!(!s.accepts(&["bogus"]));
    // `channels` takes any channel id (plugins bring their own).
    assert!(s.accepts(&["channels", "my-plugin-channel"]));
}
