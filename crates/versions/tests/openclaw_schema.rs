//! The embedded schemas against the real OpenClaw (`testkit::openclaw`): for every supported
//! version, every config of the incident corpus (configs that crash-looped the Go operator's
//! users, `../shared/spec/users.md` B and §5) and a few valid ones get the same verdict, and the
//! same issues (OpenClaw's path and message), from [`Schema::check`] as from
//! `openclaw config validate`.
//!
//! Also: each embedded schema is exactly what `hack/openclaw/add-version.sh` extracts from that
//! version today (no drift).
//!
//! Skipped when `hack/openclaw/install.sh` has not run, unless OPENCLAW_REQUIRE_RUNTIME is set.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde_json::{Value, json};
use testkit::openclaw::{self, OpenClaw};

/// Invalid configs from real incidents (`tests/incidents.json`, shared with the admission tests
/// of `openclaw-api`), each with the incident it comes from.
pub fn incidents() -> Vec<(String, Value)> {
    let list: Vec<Value> = serde_json::from_str(include_str!("incidents.json")).unwrap();
    list.into_iter()
        .map(|i| {
            (
                i["incident"].as_str().unwrap().to_string(),
                i["config"].clone(),
            )
        })
        .collect()
}

/// Valid configs (no false denial).
fn valid() -> Vec<(&'static str, Value)> {
    vec![
        ("empty", json!({})),
        (
            "gateway basics",
            json!({"gateway": {"mode": "local", "bind": "loopback", "port": 18789, "auth": {"mode": "token", "token": "${OPENCLAW_GATEWAY_TOKEN}"}, "trustedProxies": ["127.0.0.0/8"], "controlUi": {"dangerouslyDisableDeviceAuth": true, "allowedOrigins": ["http://localhost:18789"]}}}),
        ),
        (
            "trusted proxy",
            json!({"gateway": {"auth": {"mode": "trusted-proxy", "trustedProxy": {"userHeader": "x-forwarded-user"}}}}),
        ),
        (
            "telegram",
            json!({"channels": {"telegram": {"enabled": true, "botToken": "${TELEGRAM_BOT_TOKEN}"}}}),
        ),
        (
            "skills",
            json!({"skills": {"entries": {"weather": {"enabled": true}}}}),
        ),
        (
            "model",
            json!({"agents": {"defaults": {"model": {"primary": "anthropic/claude-sonnet-4-5"}}}}),
        ),
        ("logging", json!({"logging": {"level": "debug"}})),
    ]
}

fn set(issues: impl IntoIterator<Item = (String, String)>) -> BTreeSet<(String, String)> {
    issues.into_iter().collect()
}

/// One config, one version: `Err` says how the embedded schema and OpenClaw disagree.
fn compare(oc: &OpenClaw, name: &str, config: &Value) -> Result<(), String> {
    let supported = openclaw_versions::supported()
        .iter()
        .find(|s| s.as_str() == oc.version())
        .ok_or_else(|| format!("{} is not in the embedded table", oc.version()))?;
    let schema = supported.schema().map_err(|e| e.to_string())?;
    let ours = set(schema
        .check(config)
        .into_iter()
        .map(|i| (i.path, i.message)));
    let report = oc
        .validate_config(&config.to_string())
        .map_err(|e| format!("{name} @ {}: {e}", oc.version()))?;
    let theirs = set(report
        .issues
        .iter()
        .map(|i| (i.path.clone(), i.message.clone())));
    if report.valid != ours.is_empty() {
        return Err(format!(
            "{name} @ {}: OpenClaw says valid={}, the embedded schema says {ours:?}\nOpenClaw: {}",
            oc.version(),
            report.valid,
            report.summary()
        ));
    }
    let paths =
        |s: &BTreeSet<(String, String)>| s.iter().map(|(p, _)| p.clone()).collect::<BTreeSet<_>>();
    if paths(&ours) != paths(&theirs) {
        return Err(format!(
            "{name} @ {}: paths differ\n  ours:     {ours:?}\n  OpenClaw: {theirs:?}",
            oc.version()
        ));
    }
    // The newest version's wording, word for word; older versions often say only "Invalid
    // input" where ours names the expected type or the unknown key.
    if ours != theirs && Some(oc.version()) == openclaw_versions::newest().map(|n| n.as_str()) {
        return Err(format!(
            "{name} @ {}: other wording\n  ours:     {ours:?}\n  OpenClaw: {theirs:?}",
            oc.version()
        ));
    }
    if ours != theirs {
        eprintln!(
            "{name} @ {}: same paths, other wording\n  ours:     {ours:?}\n  OpenClaw: {theirs:?}",
            oc.version()
        );
    }
    Ok(())
}

#[test]
fn the_embedded_schema_judges_like_openclaw() {
    let Some(runtimes) = openclaw::runtimes() else {
        return;
    };
    let mut cases: Vec<(String, Value)> = incidents()
        .into_iter()
        .map(|(n, c)| (format!("incident {n}"), c))
        .collect();
    cases.extend(valid().into_iter().map(|(n, c)| (format!("valid {n}"), c)));
    let jobs: Vec<(&OpenClaw, &(String, Value))> = runtimes
        .iter()
        .flat_map(|oc| cases.iter().map(move |c| (oc, c)))
        .collect();
    let failures = Mutex::new(Vec::new());
    let next = Mutex::new(jobs.iter());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while let Some((oc, (name, config))) = next.lock().unwrap().next().copied() {
                    if let Err(e) = compare(oc, name, config) {
                        failures.lock().unwrap().push(e);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} comparisons failed:\n\n{}",
        failures.len(),
        jobs.len(),
        failures.join("\n\n")
    );
}

/// Every incident is invalid for the newest version (older ones accept a few of them, e.g.
/// 2026.7.35 still took `attachOnly` per browser profile; the comparison above covers those).
#[test]
fn every_incident_is_rejected_by_the_newest_schema() {
    let newest = openclaw_versions::newest().unwrap();
    let schema = newest.schema().unwrap();
    for (name, config) in incidents() {
        let issues = schema.check(&config);
        assert!(
            !issues.is_empty(),
            "{} accepts incident {name}",
            newest.as_str()
        );
        assert!(
            issues
                .iter()
                .all(|i| !i.path.is_empty() && !i.message.is_empty())
        );
    }
    assert!(incidents().len() >= 20);
}

/// Each embedded schema is what `hack/openclaw/add-version.sh` extracts from that version now.
#[test]
fn embedded_schemas_match_the_installed_versions() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let Some(runtimes) = openclaw::runtimes() else {
        return;
    };
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for oc in &runtimes {
        let home = tempfile::tempdir().unwrap();
        let schema = oc
            .command(home.path())
            .args(["config", "schema"])
            .output()
            .unwrap();
        assert!(
            schema.status.success(),
            "{}: config schema failed",
            oc.version()
        );
        let mut strip = Command::new(oc.node_bin().join("node"))
            .arg(root.join("hack/openclaw/schema-strip.js"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut stdin = strip.stdin.take().unwrap();
            stdin.write_all(&schema.stdout).unwrap();
        }
        let stripped = strip.wait_with_output().unwrap();
        assert!(stripped.status.success());
        let gz = std::fs::read(root.join(format!(
            "crates/versions/schemas/openclaw-{}.schema.json.gz",
            oc.version()
        )))
        .unwrap();
        let mut embedded = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut embedded)
            .unwrap();
        assert!(
            embedded == stripped.stdout,
            "the embedded schema of {} differs from `openclaw config schema`: run hack/openclaw/add-version.sh",
            oc.version()
        );
    }
}
