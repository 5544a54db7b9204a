//! Probes of the main container.
//!
//! OpenClaw's gateway answers any unknown path with HTTP 200 (the Control UI catch-all), so an
//! `httpGet` probe only proves that something listens. The probes therefore run
//! [`programs::PROBE`](super::programs::PROBE) with Node inside the container: it fetches the
//! endpoint on loopback and succeeds only when the JSON body says so:
//! - liveness: `GET /healthz` -> `{"ok": true, ...}`;
//! - startup: `GET /startupz` -> `{"ok": true, "status": "started", ...}` on OpenClaw 2026.8.1 and
//!   later (startup finished, channel health aside), `GET /healthz` on older versions, which do
//!   not serve `/startupz` (the catch-all would answer it with the Control UI);
//! - readiness: `GET /readyz` -> `{"ready": true, ...}` (plus the optional disk check).
//!
//! They talk to the gateway directly on `127.0.0.1:18789`, with or without the gateway proxy.
//! Timings are the Go operator's (startup allows 60 x 5 s = 5 minutes), overridable per probe
//! through `spec.probes`; `enabled: false` removes a probe.

use k8s_openapi::api::core::v1::{ExecAction, Probe};
use openclaw_api::{ProbeSpec, units::quantity_value};

use crate::consts::{GATEWAY_PORT, STATE_DIR};
use crate::model::Model;
use crate::programs;

#[derive(Clone, Copy)]
struct Timing {
    initial_delay: i32,
    period: i32,
    timeout: i32,
    failure: i32,
}

const LIVENESS: Timing = Timing {
    initial_delay: 30,
    period: 10,
    timeout: 5,
    failure: 3,
};
const READINESS: Timing = Timing {
    initial_delay: 5,
    period: 5,
    timeout: 3,
    failure: 3,
};
const STARTUP: Timing = Timing {
    initial_delay: 5,
    period: 5,
    timeout: 3,
    failure: 60,
};

/// Default free space the disk check requires.
pub const DEFAULT_MIN_FREE: &str = "64Mi";

fn positive(v: Option<i32>) -> Option<i32> {
    v.filter(|v| *v > 0)
}

fn probe(
    spec: Option<&ProbeSpec>,
    t: Timing,
    path: &str,
    field: &str,
    disk: Option<(String, u64)>,
) -> Option<Probe> {
    if spec.and_then(|s| s.enabled) == Some(false) {
        return None;
    }
    let timeout = spec
        .and_then(|s| positive(s.timeout_seconds))
        .unwrap_or(t.timeout);
    let mut command = vec![
        "node".to_string(),
        "-e".to_string(),
        programs::PROBE.to_string(),
        format!("http://127.0.0.1:{GATEWAY_PORT}{path}"),
        field.to_string(),
        (i64::from(timeout) * 1000).to_string(),
    ];
    if let Some((dir, kib)) = disk {
        command.push(dir);
        command.push(kib.to_string());
    }
    Some(Probe {
        exec: Some(ExecAction {
            command: Some(command),
        }),
        initial_delay_seconds: Some(
            spec.and_then(|s| s.initial_delay_seconds)
                .filter(|v| *v >= 0)
                .unwrap_or(t.initial_delay),
        ),
        period_seconds: Some(
            spec.and_then(|s| positive(s.period_seconds))
                .unwrap_or(t.period),
        ),
        timeout_seconds: Some(timeout),
        success_threshold: Some(1),
        failure_threshold: Some(
            spec.and_then(|s| positive(s.failure_threshold))
                .unwrap_or(t.failure),
        ),
        ..Default::default()
    })
}

/// The disk check of `spec.probes.diskReadiness`: directory and minimum free KiB.
fn disk_check(m: &Model, warnings: &mut Vec<String>) -> Option<(String, u64)> {
    let disk = m.spec.probes.as_ref()?.disk_readiness.as_ref()?;
    if disk.enabled != Some(true) {
        return None;
    }
    let dir = disk
        .path
        .clone()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| STATE_DIR.to_string());
    let default_bytes = 64.0 * 1024.0 * 1024.0;
    let bytes = match disk.min_free.as_deref().filter(|s| !s.is_empty()) {
        None => default_bytes,
        Some(s) => match quantity_value(s).filter(|v| v.is_finite() && *v >= 0.0) {
            Some(v) => v,
            None => {
                warnings.push(format!(
                    "spec.probes.diskReadiness.minFree {s:?} is not a quantity; using {DEFAULT_MIN_FREE}"
                ));
                default_bytes
            }
        },
    };
    // Rounded up to whole KiB; saturating for absurd values.
    let kib = (bytes / 1024.0).ceil();
    let kib = if kib >= u64::MAX as f64 {
        u64::MAX
    } else {
        kib as u64
    };
    Some((dir, kib))
}

/// `(liveness, readiness, startup)`.
pub fn probes(
    m: &Model,
    warnings: &mut Vec<String>,
) -> (Option<Probe>, Option<Probe>, Option<Probe>) {
    let spec = m.spec.probes.as_ref();
    let disk = disk_check(m, warnings);
    (
        probe(
            spec.and_then(|p| p.liveness.as_ref()),
            LIVENESS,
            "/healthz",
            "ok",
            None,
        ),
        probe(
            spec.and_then(|p| p.readiness.as_ref()),
            READINESS,
            "/readyz",
            "ready",
            disk,
        ),
        probe(
            spec.and_then(|p| p.startup.as_ref()),
            STARTUP,
            if m.openclaw_has_startupz() {
                "/startupz"
            } else {
                "/healthz"
            },
            "ok",
            None,
        ),
    )
}
