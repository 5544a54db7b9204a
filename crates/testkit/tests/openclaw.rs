//! Tests of the real-OpenClaw harness (`testkit::openclaw`) with hand-written configs: the
//! validator accepts and rejects what it should, a real gateway starts and answers its probes
//! directly and through nginx, and how the gateway token can come from the environment.
//!
//! Each test skips when `hack/openclaw/install.sh` has not run, unless OPENCLAW_REQUIRE_RUNTIME
//! is set. Gateway and nginx tests serialize on the harness's ports lock.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::{Duration, Instant};

use testkit::openclaw::{self, GATEWAY_PORT, OpenClaw, PROXY_PORT};

const TOKEN: &str = "harness-token";
const READY_TIMEOUT: Duration = Duration::from_secs(120);

fn token_config(token: &str) -> String {
    serde_json::json!({
        "gateway": {"mode": "local", "bind": "loopback", "auth": {"mode": "token", "token": token}}
    })
    .to_string()
}

/// The operator's gateway-proxy config, written by hand (an L4 proxy in front of the gateway).
const PROXY_CONF: &str = "\
worker_processes 1;
pid /tmp/nginx.pid;
error_log /dev/stderr warn;

events {
    worker_connections 128;
}

stream {
    server {
        listen 0.0.0.0:18790;
        proxy_pass 127.0.0.1:18789;
    }
    server {
        listen 0.0.0.0:18794;
        proxy_pass 127.0.0.1:18793;
    }
}
";

/// The default (first listed) version, for the tests that start a gateway.
/// Whether `version` is 2026.9 or later: those name the unknown key in the issue's message
/// ("Unrecognized key") and warn about an unset `${VAR}`; earlier ones say "Invalid input" and
/// do not warn.
fn since_2026_9(version: &str) -> bool {
    let parts: Vec<u32> = version.split('.').filter_map(|p| p.parse().ok()).collect();
    parts.as_slice() >= [2026, 9].as_slice()
}

fn default_runtime() -> Option<OpenClaw> {
    openclaw::runtime(openclaw::openclaw_versions().first()?)
}

/// Unwraps with the error's message (which says what to do), not its Debug form.
fn must<T>(result: Result<T, openclaw::Error>) -> T {
    result.unwrap_or_else(|e| panic!("{e}"))
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn validate_accepts_a_minimal_config() {
    let Some(runtimes) = openclaw::runtimes() else {
        return;
    };
    for oc in &runtimes {
        let start = Instant::now();
        let report = oc.validate_config(&token_config("x")).unwrap();
        eprintln!("validate ({}) took {:?}", oc.version(), start.elapsed());
        assert!(report.valid, "{}: {}", oc.version(), report.summary());
        assert!(report.issues.is_empty(), "{}", report.summary());
        assert!(
            report
                .path
                .as_deref()
                .is_some_and(|p| p.ends_with(".openclaw/openclaw.json")),
            "{:?}",
            report.raw
        );
    }
}

#[test]
fn validate_rejects_unknown_keys_with_issues() {
    let Some(runtimes) = openclaw::runtimes() else {
        return;
    };
    for oc in &runtimes {
        let report = oc.validate_config(r#"{"modules":{}}"#).unwrap();
        assert!(!report.valid, "{}: {}", oc.version(), report.summary());
        let named = since_2026_9(oc.version());
        assert!(
            report.issues.iter().any(|i| i.path == "<root>"
                && (i.message.contains("\"modules\"") || !named && i.message == "Invalid input")),
            "{}: {}",
            oc.version(),
            report.summary()
        );
        // Not JSON at all: an issue too, not a harness error.
        let report = oc.validate_config("not json").unwrap();
        assert!(!report.valid);
        assert!(!report.issues.is_empty(), "{}", report.summary());
    }
}

/// `${OPENCLAW_GATEWAY_TOKEN}` in `gateway.auth.token` is valid config; an unset variable is
/// only a warning. A config without any token is valid too.
#[test]
fn validate_env_placeholder_and_missing_token() {
    let Some(runtimes) = openclaw::runtimes() else {
        return;
    };
    let placeholder = token_config("${OPENCLAW_GATEWAY_TOKEN}");
    for oc in &runtimes {
        let with_env = oc
            .validate_config_with_env(&placeholder, &env(&[("OPENCLAW_GATEWAY_TOKEN", "abc")]))
            .unwrap();
        assert!(with_env.valid, "{}", with_env.summary());
        assert!(with_env.warnings.is_empty(), "{}", with_env.summary());

        let without = oc.validate_config(&placeholder).unwrap();
        assert!(without.valid, "{}", without.summary());
        assert!(
            !since_2026_9(oc.version())
                || without
                    .warnings
                    .iter()
                    .any(|w| w.path == "gateway.auth.token"
                        && w.message.contains("OPENCLAW_GATEWAY_TOKEN")),
            "{}: {}",
            oc.version(),
            without.summary()
        );

        let no_token = r#"{"gateway":{"mode":"local","bind":"loopback","auth":{"mode":"token"}}}"#;
        let report = oc.validate_config(no_token).unwrap();
        assert!(report.valid, "{}", report.summary());
    }
}

/// A real gateway: `/healthz` at once, then nginx (the sidecar's L4 proxy) in front of it,
/// `/healthz` and `/readyz` through the proxy, and the token checked through the proxy.
#[test]
fn gateway_is_live_and_ready_directly_and_through_nginx() {
    let Some(oc) = default_runtime() else { return };
    if !openclaw::nginx_or_skip() {
        return;
    }
    let mut gateway = must(oc.start_gateway(&token_config(TOKEN), &[]));
    eprintln!(
        "gateway {} listening after {:?}",
        oc.version(),
        gateway.listening_after()
    );
    let health = openclaw::get_json(GATEWAY_PORT, "/healthz", None).unwrap();
    assert_eq!(health["ok"], true, "{health}");
    assert_eq!(health["status"], "live", "{health}");

    let nginx = must(openclaw::start_nginx(PROXY_CONF));
    assert_eq!(nginx.ports(), [18790, 18794]);

    let health = openclaw::get_json(PROXY_PORT, "/healthz", Some(TOKEN)).unwrap();
    assert_eq!(health["ok"], true, "{health}");
    let ready = must(gateway.wait_ready(PROXY_PORT, READY_TIMEOUT));
    eprintln!(
        "gateway ready {:?} after its start: {ready}",
        gateway.uptime()
    );
    assert_eq!(ready["failing"], serde_json::json!([]), "{ready}");

    assert!(openclaw::token_accepted(PROXY_PORT, Some(TOKEN)).unwrap());
    assert!(!openclaw::token_accepted(PROXY_PORT, Some("wrong")).unwrap());
    assert!(!openclaw::token_accepted(PROXY_PORT, None).unwrap());

    // Unknown paths are the Control UI's catch-all (200, not JSON): probes must check bodies.
    let other = openclaw::http_get(PROXY_PORT, "/no-such-probe", None).unwrap();
    assert_eq!(other.status, 200);
    assert!(other.json().is_err(), "{}", other.body);

    let pid = gateway.pid();
    drop(nginx);
    drop(gateway);
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "gateway {pid} still runs"
    );
    assert!(openclaw::http_get(GATEWAY_PORT, "/healthz", None).is_err());
}

/// OpenClaw expands `${OPENCLAW_GATEWAY_TOKEN}` in `gateway.auth.token` from the environment.
#[test]
fn gateway_expands_an_env_placeholder_token() {
    let Some(oc) = default_runtime() else { return };
    let gateway = must(oc.start_gateway(
        &token_config("${OPENCLAW_GATEWAY_TOKEN}"),
        &env(&[("OPENCLAW_GATEWAY_TOKEN", "from-env")]),
    ));
    assert!(openclaw::token_accepted(GATEWAY_PORT, Some("from-env")).unwrap());
    assert!(
        !openclaw::token_accepted(GATEWAY_PORT, Some("${OPENCLAW_GATEWAY_TOKEN}")).unwrap(),
        "the literal placeholder must not be the token"
    );
    drop(gateway);
}

/// With `auth.mode: token` and no token in the config, the gateway takes
/// `OPENCLAW_GATEWAY_TOKEN` from the environment; a token in the config wins over it.
#[test]
fn gateway_takes_the_token_from_the_env_when_the_config_has_none() {
    let Some(oc) = default_runtime() else { return };
    let no_token = r#"{"gateway":{"mode":"local","bind":"loopback","auth":{"mode":"token"}}}"#;
    let token_env = env(&[("OPENCLAW_GATEWAY_TOKEN", "from-env")]);
    let gateway = must(oc.start_gateway(no_token, &token_env));
    assert!(openclaw::token_accepted(GATEWAY_PORT, Some("from-env")).unwrap());
    assert!(!openclaw::token_accepted(GATEWAY_PORT, Some("wrong")).unwrap());
    drop(gateway);

    let gateway = must(oc.start_gateway(&token_config("from-config"), &token_env));
    assert!(openclaw::token_accepted(GATEWAY_PORT, Some("from-config")).unwrap());
    assert!(!openclaw::token_accepted(GATEWAY_PORT, Some("from-env")).unwrap());
    drop(gateway);
}

#[test]
fn nginx_reports_a_bad_config_with_its_output() {
    if !openclaw::nginx_or_skip() {
        return;
    }
    openclaw::check_nginx_conf(PROXY_CONF).unwrap();
    let err = openclaw::check_nginx_conf("events {}\nstream { bogus on; }\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("bogus"), "{err}");
    let err = openclaw::start_nginx("events {}\nstream { server { listen 18790; bogus on; } }\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("nginx -t"), "{err}");
    assert!(err.contains("bogus"), "{err}");
}
