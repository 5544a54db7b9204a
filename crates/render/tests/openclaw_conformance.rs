//! Conformance of the rendered config with the real OpenClaw (`testkit::openclaw`), for every
//! version in `hack/openclaw/versions` (the version matrix):
//!
//! - Every sample instance (`config/samples/*.yaml` and `../shared/compat/samples/*instance*.yaml`)
//!   and the minimal sample with each core feature toggle, rendered **for each version** (its
//!   image tag set to it): take `openclaw.json` from the `<name>-config` ConfigMap and run that
//!   version's `openclaw config validate`. The rendered config must be valid, except for issues
//!   that the user's own `spec.config.raw` already has on its own: the operator may not add a
//!   single issue. When the renderer refuses a case (OpenClaw's schema rejects its config), that
//!   version's CLI must reject the user's config too (the Go operator's full sample sets
//!   `agents.defaults.sandbox: true`, which OpenClaw 2026.9 rejects). The rendered `nginx.conf`
//!   must pass `nginx -t`.
//! - A smoke test per version: the minimal sample's `openclaw.json` runs a real gateway (token
//!   from `OPENCLAW_GATEWAY_TOKEN`, as the pod gets it) behind nginx running the rendered
//!   `nginx.conf`; `/healthz` and `/readyz` answer through the proxy port 18790, `/startupz`
//!   answers exactly on the versions the startup probe uses it for, and only the token is
//!   accepted.
//!
//! Skipped when `hack/openclaw/install.sh` has not run, unless OPENCLAW_REQUIRE_RUNTIME is set.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use openclaw_api::OpenClawInstance;
use openclaw_render::{Object, Observed, render};
use serde_json::{Value, json};
use testkit::openclaw::{self, OpenClaw, PROXY_PORT, ValidateReport};

mod toggles;

const TOKEN: &str = "conformance-token";
const READY_TIMEOUT: Duration = Duration::from_secs(120);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Go operator's samples, beside the repository (`OPENCLAW_COMPAT_DIR` overrides).
fn compat_dir() -> PathBuf {
    std::env::var_os("OPENCLAW_COMPAT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/compat"))
}

/// Every OpenClawInstance in the YAML files of `dir` whose name contains `filter`.
fn instances_in(dir: &Path, filter: &str) -> Vec<(String, Value)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("no samples in {} (skipped)", dir.display());
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "yaml")
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(filter))
        })
        .collect();
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (i, doc) in text.split("\n---").enumerate() {
            let value: Value = match serde_saphyr::from_str(doc) {
                Ok(v) => v,
                Err(e) => panic!("{}: {e}", file.display()),
            };
            if value["kind"] == "OpenClawInstance" {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                out.push((format!("{name}#{i}"), value));
            }
        }
    }
    out
}

fn minimal_sample() -> Value {
    let samples = instances_in(
        &repo_root().join("config/samples"),
        "openclawinstance-minimal",
    );
    samples
        .into_iter()
        .next()
        .expect("config/samples/openclawinstance-minimal.yaml")
        .1
}

/// Deep-merges `patch` into `base` (objects merge, anything else replaces).
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p.clone(),
    }
}

/// The core feature toggles, each applied to the minimal sample's `spec`.
fn toggles() -> Vec<(&'static str, Value)> {
    let user_config = json!({
        "agents": {"defaults": {"model": {"primary": "anthropic/claude-sonnet-4-20250514"}}},
        "session": {"scope": "per-sender"}
    });
    vec![
        ("proxy-off", json!({"gateway": {"enabled": false}})),
        (
            "existing-token-secret",
            json!({"gateway": {"existingSecret": "my-gateway-token"}}),
        ),
        (
            "control-ui-origins",
            json!({"gateway": {"controlUiOrigins": ["https://extra.example.com"]}}),
        ),
        ("chromium", json!({"chromium": {"enabled": true}})),
        (
            "ollama",
            json!({"ollama": {"enabled": true, "models": ["llama3.2"]}}),
        ),
        ("web-terminal", json!({"webTerminal": {"enabled": true}})),
        (
            "tailscale",
            json!({"tailscale": {"enabled": true, "mode": "serve",
                "authKeySecretRef": {"name": "tailscale-auth"}}}),
        ),
        (
            "ingress-tls",
            json!({"networking": {"ingress": {"enabled": true, "className": "nginx",
                "hosts": [{"host": "openclaw.example.com"}],
                "tls": [{"hosts": ["openclaw.example.com"], "secretName": "openclaw-tls"}]}}}),
        ),
        (
            "metrics-off",
            json!({"observability": {"metrics": {"enabled": false}}}),
        ),
        (
            "logging",
            json!({"observability": {"logging": {"level": "debug", "format": "json"}}}),
        ),
        ("user-config", json!({"config": {"raw": user_config}})),
        (
            "user-config-merge-mode",
            json!({"config": {"raw": user_config, "mergeMode": "merge"}}),
        ),
        (
            "user-gateway-settings",
            json!({"config": {"raw": {"gateway": {"bind": "loopback",
                "auth": {"mode": "token", "token": "user-token"},
                "controlUi": {"allowedOrigins": ["https://mine.example.com"]}}}}}),
        ),
        (
            "skills-and-plugins",
            json!({"skills": ["weather"], "plugins": ["@openclaw/voice-call"]}),
        ),
        (
            "everything",
            json!({"chromium": {"enabled": true}, "ollama": {"enabled": true},
                "webTerminal": {"enabled": true},
                "tailscale": {"enabled": true, "authKeySecretRef": {"name": "tailscale-auth"}},
                "networking": {"ingress": {"enabled": true, "className": "traefik",
                    "hosts": [{"host": "openclaw.example.com"}]}},
                "config": {"raw": user_config}}),
        ),
    ]
}

/// Every case: (name, instance as JSON).
fn cases() -> Vec<(String, Value)> {
    let mut cases = instances_in(&repo_root().join("config/samples"), "");
    cases.extend(instances_in(&compat_dir().join("samples"), "instance"));
    let minimal = minimal_sample();
    for (name, patch) in toggles().into_iter().chain(toggles::all()) {
        let mut instance = minimal.clone();
        merge(&mut instance["spec"], &patch);
        cases.push((format!("minimal+{name}"), instance));
    }
    cases
}

struct Output {
    openclaw_json: String,
    nginx_conf: Option<String>,
    user_raw: Option<Value>,
}

/// Renders `instance` for OpenClaw `version` (its image tag set to it; namespace `default` and a
/// fixed uid when it has none, as the API server would give them) with the operator-generated
/// token, unless the instance brings its own token Secret. `Err` carries the renderer's refusal.
fn render_case(name: &str, mut instance: Value, version: &str) -> Result<Output, String> {
    if instance["metadata"]["namespace"].is_null() {
        instance["metadata"]["namespace"] = json!("default");
    }
    if instance["metadata"]["uid"].is_null() {
        instance["metadata"]["uid"] = json!("00000000-0000-4000-8000-000000000001");
    }
    if !instance["spec"]["image"].is_object() {
        instance["spec"]["image"] = json!({});
    }
    instance["spec"]["image"]["tag"] = json!(version);
    if let Some(image) = instance["spec"]["image"].as_object_mut() {
        image.remove("digest");
    }
    let user_raw = instance["spec"]["config"]["raw"].clone();
    let own_secret = !instance["spec"]["gateway"]["existingSecret"].is_null();
    let instance: OpenClawInstance =
        serde_json::from_value(instance).unwrap_or_else(|e| panic!("{name}: {e}"));
    let observed = Observed {
        gateway_token: (!own_secret).then(|| TOKEN.to_owned()),
        ..Observed::default()
    };
    let rendered = render(&instance, &observed).map_err(|e| e.to_string())?;
    let cm_name = format!(
        "{}-config",
        instance.metadata.name.clone().unwrap_or_default()
    );
    let cm: &ConfigMap = rendered
        .iter()
        .find_map(|o| match o {
            Object::ConfigMap(cm) if cm.metadata.name.as_deref() == Some(cm_name.as_str()) => {
                Some(cm)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("{name}: no ConfigMap {cm_name}"));
    let data = cm.data.clone().unwrap_or_default();
    Ok(Output {
        openclaw_json: data
            .get("openclaw.json")
            .cloned()
            .unwrap_or_else(|| panic!("{name}: {cm_name} has no openclaw.json")),
        nginx_conf: data.get("nginx.conf").cloned(),
        user_raw: (!user_raw.is_null()).then_some(user_raw),
    })
}

fn issue_set(report: &ValidateReport) -> BTreeSet<(String, String)> {
    report
        .issues
        .iter()
        .map(|i| (i.path.clone(), i.message.clone()))
        .collect()
}

/// Renders one case for one version and validates it with that version; `Err` says why it does
/// not conform. A case the renderer refuses must be one OpenClaw refuses too: its user config
/// (`spec.config.raw`) fails `openclaw config validate` of the same version.
fn check(oc: &OpenClaw, name: &str, instance: &Value) -> Result<(), String> {
    let out = match render_case(name, instance.clone(), oc.version()) {
        Ok(out) => out,
        Err(refusal) => {
            let raw = &instance["spec"]["config"]["raw"];
            let report = oc
                .validate_config(&raw.to_string())
                .map_err(|e| format!("{name} @ {}: {e}", oc.version()))?;
            if raw.is_null() || report.valid {
                return Err(format!(
                    "{name} @ {}: the renderer refused a config OpenClaw accepts: {refusal}",
                    oc.version()
                ));
            }
            eprintln!(
                "{name} @ {}: refused, as OpenClaw refuses it: {refusal}",
                oc.version()
            );
            return Ok(());
        }
    };
    let report = oc
        .validate_config(&out.openclaw_json)
        .map_err(|e| format!("{name} @ {}: {e}", oc.version()))?;
    if report.valid {
        return Ok(());
    }
    // Issues the user's own config has on its own are not the operator's.
    let user_issues = match &out.user_raw {
        Some(raw) => issue_set(
            &oc.validate_config(&raw.to_string())
                .map_err(|e| format!("{name} @ {}: {e}", oc.version()))?,
        ),
        None => BTreeSet::new(),
    };
    let added: Vec<_> = issue_set(&report)
        .difference(&user_issues)
        .cloned()
        .collect();
    if added.is_empty() {
        eprintln!(
            "{name} @ {}: invalid only through the user's own config:\n{}",
            oc.version(),
            report.summary()
        );
        return Ok(());
    }
    Err(format!(
        "{name} @ {}: the rendered openclaw.json is invalid; issues the operator added: \
         {added:?}\n{}\nopenclaw.json:\n{}",
        oc.version(),
        report.summary(),
        out.openclaw_json
    ))
}

#[test]
fn every_sample_and_toggle_renders_a_config_openclaw_accepts() {
    let Some(runtimes) = openclaw::runtimes() else {
        return;
    };
    let cases = cases();
    assert!(cases.len() > toggles().len(), "no samples found");
    eprintln!(
        "rendering and validating {} cases for OpenClaw {:?}",
        cases.len(),
        runtimes.iter().map(OpenClaw::version).collect::<Vec<_>>()
    );
    // Two workers: each `openclaw config validate` keeps a core busy for about 2 s.
    let failures = Mutex::new(Vec::new());
    let jobs: Vec<(&OpenClaw, &(String, Value))> = runtimes
        .iter()
        .flat_map(|oc| cases.iter().map(move |case| (oc, case)))
        .collect();
    let next = Mutex::new(jobs.iter());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let Some((oc, (name, instance))) = next.lock().unwrap().next().copied() else {
                        break;
                    };
                    if let Err(e) = check(oc, name, instance) {
                        failures.lock().unwrap().push(e);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} checks failed:\n\n{}",
        failures.len(),
        jobs.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_rendered_nginx_conf_passes_nginx_t() {
    if !openclaw::nginx_or_skip() {
        return;
    }
    let mut checked = 0;
    let newest = openclaw::openclaw_versions()[0].clone();
    for (name, instance) in cases() {
        let Ok(out) = render_case(&name, instance, &newest) else {
            continue;
        };
        if let Some(conf) = out.nginx_conf {
            openclaw::check_nginx_conf(&conf).unwrap_or_else(|e| panic!("{name}: {e}\n{conf}"));
            checked += 1;
        }
    }
    assert!(checked > 0, "no case rendered an nginx.conf");
}

/// The minimal sample, for real: gateway and gateway proxy, probes through the proxy.
#[test]
fn minimal_sample_serves_probes_through_the_rendered_proxy() {
    let Some(runtimes) = openclaw::runtimes() else {
        return;
    };
    if !openclaw::nginx_or_skip() {
        return;
    }
    let env = [("OPENCLAW_GATEWAY_TOKEN".to_owned(), TOKEN.to_owned())];
    for oc in &runtimes {
        let out = render_case("minimal", minimal_sample(), oc.version())
            .unwrap_or_else(|e| panic!("{}: {e}", oc.version()));
        let nginx_conf = out
            .nginx_conf
            .expect("the minimal sample runs the gateway proxy");
        let mut gateway = oc
            .start_gateway(&out.openclaw_json, &env)
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e}\nopenclaw.json:\n{}",
                    oc.version(),
                    out.openclaw_json
                )
            });
        let nginx = openclaw::start_nginx(&nginx_conf)
            .unwrap_or_else(|e| panic!("{e}\nnginx.conf:\n{nginx_conf}"));

        let health = openclaw::get_json(PROXY_PORT, "/healthz", Some(TOKEN)).unwrap();
        assert_eq!(health["ok"], true, "{}: {health}", oc.version());
        let ready = gateway
            .wait_ready(PROXY_PORT, READY_TIMEOUT)
            .unwrap_or_else(|e| panic!("{}: {e}", oc.version()));
        assert_eq!(ready["failing"], json!([]), "{}: {ready}", oc.version());
        let ready = openclaw::get_json(PROXY_PORT, "/readyz", Some(TOKEN)).unwrap();
        assert_eq!(ready["ready"], true, "{}: {ready}", oc.version());
        // The startup probe asks /startupz only where the gateway serves it; elsewhere the
        // Control UI's catch-all answers (not the JSON the probe looks for).
        let has_startupz = openclaw_versions::supported()
            .iter()
            .find(|s| s.as_str() == oc.version())
            .is_some_and(|s| s.has_startupz());
        let startupz = openclaw::get_json(PROXY_PORT, "/startupz", Some(TOKEN));
        if has_startupz {
            let started = startupz.unwrap_or_else(|e| panic!("{}: /startupz: {e}", oc.version()));
            assert_eq!(started["ok"], true, "{}: {started}", oc.version());
        } else {
            assert!(
                startupz.as_ref().map_or(true, |v| v["ok"] != true),
                "{}: /startupz answered {startupz:?} although the version predates it",
                oc.version()
            );
        }

        assert!(
            openclaw::token_accepted(PROXY_PORT, Some(TOKEN)).unwrap(),
            "{}: the token from OPENCLAW_GATEWAY_TOKEN is refused",
            oc.version()
        );
        assert!(!openclaw::token_accepted(PROXY_PORT, Some("wrong")).unwrap());
        assert!(!openclaw::token_accepted(PROXY_PORT, None).unwrap());
        eprintln!(
            "{}: ready through the proxy {:?} after the gateway start",
            oc.version(),
            gateway.uptime()
        );
        drop(nginx);
        drop(gateway);
    }
}
