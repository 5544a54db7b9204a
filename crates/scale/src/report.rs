//! The result of one run: JSON and a table.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::audit::{AuditCounts, Phases};
use crate::proc_stats::ProcSummary;

#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Instances seen Running.
    pub running: usize,
    /// Seconds from an instance's create request to the harness seeing it Running.
    pub to_running_p50_secs: f64,
    pub to_running_p95_secs: f64,
    pub to_running_max_secs: f64,
    /// Seconds from the first create request until all were Running.
    pub converge_secs: f64,
    pub operator_requests_converge: u64,
    pub operator_writes_converge: u64,
    pub operator_requests_steady: u64,
    pub steady_operator_writes: u64,
    pub operator_requests_cleanup: u64,
    pub rss_peak_mib: f64,
    pub rss_converged_mib: f64,
    pub rss_steady_mean_mib: f64,
    pub rss_steady_max_mib: f64,
    pub cpu_converge_secs: f64,
    pub cpu_steady_secs: f64,
    pub cpu_total_secs: f64,
    pub reconciles_converge: u64,
    pub reconciles_steady: u64,
    pub reconciles_per_sec_converge: f64,
    pub reconciles_per_sec_steady: f64,
    /// Seconds from deleting the instances until no owned object (or pod) was left.
    pub cleanup_secs: f64,
    pub cleanup_complete: bool,
    /// Data PVCs left behind by design (`orphan: true`).
    pub retained_pvcs: usize,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn secs(a: jiff_ts::Timestamp, b: jiff_ts::Timestamp) -> f64 {
    (b.as_millisecond() - a.as_millisecond()) as f64 / 1000.0
}

mod jiff_ts {
    pub use k8s_openapi::jiff::Timestamp;
}

impl Summary {
    pub fn new(
        sorted_times: &[f64],
        converge_secs: f64,
        cleanup_secs: f64,
        cleanup_complete: bool,
        retained_pvcs: usize,
    ) -> Self {
        Summary {
            running: sorted_times.len(),
            to_running_p50_secs: percentile(sorted_times, 50.0),
            to_running_p95_secs: percentile(sorted_times, 95.0),
            to_running_max_secs: sorted_times.last().copied().unwrap_or(0.0),
            converge_secs,
            cleanup_secs,
            cleanup_complete,
            retained_pvcs,
            ..Default::default()
        }
    }

    pub fn fill(
        &mut self,
        audit: &AuditCounts,
        reconciles: &BTreeMap<String, u64>,
        stats: &ProcSummary,
        phases: &Phases,
    ) {
        self.operator_requests_converge = audit.total("converge");
        self.operator_writes_converge = audit.writes("converge");
        self.operator_requests_steady = audit.total("steady");
        self.steady_operator_writes = audit.writes("steady");
        self.operator_requests_cleanup = audit.total("cleanup");
        self.rss_peak_mib = stats.rss_peak_mib;
        self.rss_converged_mib = stats.rss_converged_mib;
        self.rss_steady_mean_mib = stats.rss_steady_mean_mib;
        self.rss_steady_max_mib = stats.rss_steady_max_mib;
        self.cpu_converge_secs = stats.cpu_converge_secs;
        self.cpu_steady_secs = stats.cpu_steady_secs;
        self.cpu_total_secs = stats.cpu_total_secs;
        self.reconciles_converge = reconciles.get("converge").copied().unwrap_or(0);
        self.reconciles_steady = reconciles.get("steady").copied().unwrap_or(0);
        let c = secs(phases.converge.0, phases.converge.1).max(0.001);
        let s = secs(phases.steady.0, phases.steady.1).max(0.001);
        self.reconciles_per_sec_converge = self.reconciles_converge as f64 / c;
        self.reconciles_per_sec_steady = self.reconciles_steady as f64 / s;
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub instances: usize,
    pub namespaces: usize,
    pub steady_secs: u64,
    pub settle_secs: u64,
    pub concurrency: u16,
    pub machine: BTreeMap<String, String>,
    pub summary: Summary,
    /// The operator's requests by phase and verb (audit log, user `openclaw-operator`).
    pub operator_requests: BTreeMap<String, BTreeMap<String, u64>>,
    pub steady_write_requests: Vec<String>,
    /// `apiserver_request_total` deltas by phase and verb, every client (operator, harness,
    /// kube-controller-manager, scheduler, kwok): context only.
    pub all_clients_requests: BTreeMap<String, BTreeMap<String, u64>>,
    /// With `--registry`: requests the registry and its token service answered, by phase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry_requests: Option<BTreeMap<String, u64>>,
}

fn verbs(m: Option<&BTreeMap<String, u64>>) -> String {
    match m {
        None => "-".to_string(),
        Some(m) if m.is_empty() => "-".to_string(),
        Some(m) => m
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

impl Report {
    pub fn table(&self) -> String {
        let s = &self.summary;
        let mut t = String::new();
        let mut row = |k: &str, v: String| {
            let _ = writeln!(t, "| {k:<42} | {v} |");
        };
        row("metric", format!("N = {}", self.instances));
        row("---", "---".to_string());
        row(
            "instances Running",
            format!(
                "{} of {} ({} namespaces)",
                s.running, self.instances, self.namespaces
            ),
        );
        row(
            "time to Running p50 / p95 / max (s)",
            format!(
                "{:.1} / {:.1} / {:.1}",
                s.to_running_p50_secs, s.to_running_p95_secs, s.to_running_max_secs
            ),
        );
        row("all Running after (s)", format!("{:.1}", s.converge_secs));
        row(
            "operator requests, converge",
            format!(
                "{} ({})",
                s.operator_requests_converge,
                verbs(self.operator_requests.get("converge"))
            ),
        );
        row(
            &format!("operator requests, steady {} s", self.steady_secs),
            format!(
                "{} ({})",
                s.operator_requests_steady,
                verbs(self.operator_requests.get("steady"))
            ),
        );
        row(
            "operator writes, steady",
            s.steady_operator_writes.to_string(),
        );
        row(
            "operator requests, cleanup",
            format!(
                "{} ({})",
                s.operator_requests_cleanup,
                verbs(self.operator_requests.get("cleanup"))
            ),
        );
        row(
            "RSS peak / at converge / steady mean (MiB)",
            format!(
                "{:.1} / {:.1} / {:.1}",
                s.rss_peak_mib, s.rss_converged_mib, s.rss_steady_mean_mib
            ),
        );
        row(
            "CPU s converge / steady / total",
            format!(
                "{:.1} / {:.1} / {:.1}",
                s.cpu_converge_secs, s.cpu_steady_secs, s.cpu_total_secs
            ),
        );
        row(
            "reconciles converge (per s) / steady (per s)",
            format!(
                "{} ({:.1}) / {} ({:.2})",
                s.reconciles_converge,
                s.reconciles_per_sec_converge,
                s.reconciles_steady,
                s.reconciles_per_sec_steady
            ),
        );
        row(
            "cleanup: owned objects gone after (s)",
            format!(
                "{:.1}{} ({} data PVCs kept by design)",
                s.cleanup_secs,
                if s.cleanup_complete { "" } else { " TIMED OUT" },
                s.retained_pvcs
            ),
        );
        row(
            "all clients, converge (apiserver_request_total)",
            verbs(self.all_clients_requests.get("converge")),
        );
        row(
            "all clients, steady",
            verbs(self.all_clients_requests.get("steady")),
        );
        if let Some(r) = &self.registry_requests {
            row(
                "registry requests converge / settle / steady",
                format!(
                    "{} / {} / {}",
                    r.get("converge").copied().unwrap_or(0),
                    r.get("settle").copied().unwrap_or(0),
                    r.get("steady").copied().unwrap_or(0)
                ),
            );
        }
        t
    }
}

/// Sum of `apiserver_request_total` by its `verb` label.
pub fn parse_request_total(text: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("apiserver_request_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.rsplit_once('}') else {
            continue;
        };
        let Some(verb) = labels
            .split(',')
            .find_map(|l| l.strip_prefix("verb=\""))
            .and_then(|v| v.strip_suffix('"'))
        else {
            continue;
        };
        let Ok(n) = value.trim().parse::<f64>() else {
            continue;
        };
        *out.entry(verb.to_string()).or_insert(0) += n as u64;
    }
    out
}

/// The machine the run was on.
pub fn machine() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if let Some(model) = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
    {
        m.insert("cpu".to_string(), model.1.trim().to_string());
    }
    m.insert(
        "cores".to_string(),
        std::thread::available_parallelism()
            .map(|n| n.get().to_string())
            .unwrap_or_default(),
    );
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    if let Some(total) = meminfo.lines().find(|l| l.starts_with("MemTotal:")) {
        m.insert(
            "memory".to_string(),
            total.trim_start_matches("MemTotal:").trim().to_string(),
        );
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_request_total_by_verb() {
        let text = "# HELP x\napiserver_request_total{code=\"200\",component=\"apiserver\",verb=\"GET\",version=\"v1\"} 3\n\
                    apiserver_request_total{code=\"201\",verb=\"POST\"} 2\n\
                    apiserver_request_total{code=\"200\",verb=\"GET\"} 4\n\
                    apiserver_request_duration_seconds_count{verb=\"GET\"} 9\n";
        let m = parse_request_total(text);
        assert_eq!(m.get("GET"), Some(&7));
        assert_eq!(m.get("POST"), Some(&2));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 95.0), 95.0);
        assert_eq!(percentile(&[], 95.0), 0.0);
    }
}
