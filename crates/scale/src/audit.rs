//! What the operator sent, from the API server's audit log, and how often it reconciled, from
//! its own log.
//!
//! The local cluster's audit policy records the requests of user `openclaw-operator` only (the
//! identity the harness gives the operator) at level `Metadata`. One request is one event: the
//! `ResponseComplete` stage, or `ResponseStarted` for a watch (its `ResponseComplete` comes only
//! when the watch ends). Events are attributed to a phase by `requestReceivedTimestamp`.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::Path;

use anyhow::Context as _;
use k8s_openapi::jiff::Timestamp;
use serde::Deserialize;

/// Wall-clock boundaries of the measured phases.
#[derive(Clone, Copy, Debug)]
pub struct Phases {
    /// When the harness started the operator: earlier events belong to earlier runs.
    pub started: Timestamp,
    pub converge: (Timestamp, Timestamp),
    pub steady: (Timestamp, Timestamp),
    pub cleanup: (Timestamp, Timestamp),
}

impl Phases {
    /// The phase a moment belongs to: `startup`, `converge`, `settle`, `steady`, `cleanup`.
    pub fn of(&self, t: Timestamp) -> Option<&'static str> {
        if t < self.started {
            None
        } else if t < self.converge.0 {
            Some("startup")
        } else if t <= self.converge.1 {
            Some("converge")
        } else if t < self.steady.0 {
            Some("settle")
        } else if t <= self.steady.1 {
            Some("steady")
        } else if t < self.cleanup.0 {
            Some("settle")
        } else if t <= self.cleanup.1 {
            Some("cleanup")
        } else {
            None
        }
    }
}

/// Verbs that change state.
pub fn is_write(verb: &str) -> bool {
    matches!(
        verb,
        "create" | "update" | "patch" | "delete" | "deletecollection"
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    stage: String,
    verb: String,
    #[serde(rename = "requestURI")]
    request_uri: String,
    request_received_timestamp: String,
    #[serde(default)]
    user: User,
}

#[derive(Deserialize, Default)]
struct User {
    #[serde(default)]
    username: String,
}

/// The operator's requests per phase and verb.
#[derive(Debug, Default)]
pub struct AuditCounts {
    pub by_phase: BTreeMap<String, BTreeMap<String, u64>>,
    /// `VERB URI` of every write in the steady window (should be empty).
    pub steady_writes: Vec<String>,
}

impl AuditCounts {
    pub fn total(&self, phase: &str) -> u64 {
        self.by_phase
            .get(phase)
            .map(|v| v.values().sum())
            .unwrap_or(0)
    }
    pub fn writes(&self, phase: &str) -> u64 {
        self.by_phase
            .get(phase)
            .map(|v| v.iter().filter(|(k, _)| is_write(k)).map(|(_, n)| n).sum())
            .unwrap_or(0)
    }
}

pub fn read(path: &Path, phases: &Phases) -> anyhow::Result<AuditCounts> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = AuditCounts::default();
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        let Ok(ev) = serde_json::from_str::<Event>(&line) else {
            continue;
        };
        if ev.user.username != "openclaw-operator" {
            continue;
        }
        let counted = if ev.verb == "watch" {
            ev.stage == "ResponseStarted"
        } else {
            ev.stage == "ResponseComplete"
        };
        if !counted {
            continue;
        }
        let Ok(t) = ev.request_received_timestamp.parse::<Timestamp>() else {
            continue;
        };
        let Some(phase) = phases.of(t) else { continue };
        *out.by_phase
            .entry(phase.to_string())
            .or_default()
            .entry(ev.verb.clone())
            .or_insert(0) += 1;
        if phase == "steady" && is_write(&ev.verb) {
            out.steady_writes
                .push(format!("{} {}", ev.verb, ev.request_uri));
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
struct LogLine {
    timestamp: String,
    #[serde(default)]
    fields: Fields,
}

#[derive(Deserialize, Default)]
struct Fields {
    #[serde(default)]
    message: String,
}

/// Finished reconciles per phase, from the operator's JSON log (the controller logs
/// `reconciled` or `reconcile error` at debug level once per reconcile).
pub fn reconciles(path: &Path, phases: &Phases) -> anyhow::Result<BTreeMap<String, u64>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut out = BTreeMap::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line?;
        let Ok(l) = serde_json::from_str::<LogLine>(&line) else {
            continue;
        };
        if l.fields.message != "reconciled" && !l.fields.message.starts_with("reconcile error") {
            continue;
        }
        let Ok(t) = l.timestamp.parse::<Timestamp>() else {
            continue;
        };
        if let Some(phase) = phases.of(t) {
            *out.entry(phase.to_string()).or_insert(0) += 1;
        }
    }
    Ok(out)
}
