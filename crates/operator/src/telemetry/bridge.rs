//! The metrics bridge: the counters and gauges of the registry that `/metrics` serves become
//! OpenTelemetry observable instruments with the same names, labels as attributes. Each
//! collection reads one fresh encoding of the registry, so nothing is counted twice and a
//! deleted instance's series disappear from OTLP as from `/metrics`. Histograms cannot be
//! observed asynchronously in OpenTelemetry; [`Metrics`] records them directly
//! ([`Metrics::attach_meter`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use opentelemetry::metrics::{AsyncInstrument, Meter};

use crate::metrics::Metrics;

/// Encodings younger than this are reused: one collection calls every callback in a row.
const FRESH: Duration = Duration::from_millis(500);

/// The kind of a family, from its `# TYPE` line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `counter`: samples `<name>_total`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram` (recorded directly, not bridged).
    Histogram,
    /// Anything else (not bridged).
    Other,
}

/// One metric family of the exposition.
#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    /// The name of the `# TYPE` line.
    pub name: String,
    /// `# HELP`.
    pub help: String,
    /// `# UNIT`.
    pub unit: String,
    /// `# TYPE`.
    pub kind: Kind,
    /// The samples: name, labels, value.
    pub samples: Vec<Sample>,
}

/// One sample line.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// The sample's name (a counter's ends in `_total`).
    pub name: String,
    /// Label pairs, unescaped.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        _ => s.parse::<f64>().ok(),
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses `name{a="x",b="y"} value [timestamp] [# exemplar]`.
fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = line[..name_end].to_string();
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut s = inner;
        loop {
            s = s.trim_start_matches([',', ' ']);
            if let Some(after) = s.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = s.find('=')?;
            let key = s[..eq].trim().to_string();
            let value_start = s[eq + 1..].strip_prefix('"')?;
            // The closing quote, skipping escaped characters.
            let mut end = None;
            let mut escaped = false;
            for (i, c) in value_start.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end?;
            labels.push((key, unescape(&value_start[..end])));
            s = &value_start[end + 1..];
        }
    }
    let value = rest.split_whitespace().next()?;
    Some(Sample {
        name,
        labels,
        value: parse_value(value)?,
    })
}

/// Parses an OpenMetrics text exposition into its families, in order.
pub fn parse_families(text: &str) -> Vec<Family> {
    let mut families: Vec<Family> = Vec::new();
    let family_of = |families: &mut Vec<Family>, name: &str| -> usize {
        match families.iter().position(|f| f.name == name) {
            Some(i) => i,
            None => {
                families.push(Family {
                    name: name.to_string(),
                    help: String::new(),
                    unit: String::new(),
                    kind: Kind::Other,
                    samples: Vec::new(),
                });
                families.len() - 1
            }
        }
    };
    let mut current: Option<usize> = None;
    for line in text.lines() {
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        if let Some(meta) = line.strip_prefix("# ") {
            let mut parts = meta.splitn(3, ' ');
            let (Some(keyword), Some(name)) = (parts.next(), parts.next()) else {
                continue;
            };
            let arg = parts.next().unwrap_or("");
            let i = match keyword {
                "HELP" | "TYPE" | "UNIT" => family_of(&mut families, name),
                _ => continue,
            };
            match keyword {
                "HELP" => families[i].help = unescape(arg),
                "UNIT" => families[i].unit = arg.to_string(),
                _ => {
                    families[i].kind = match arg {
                        "counter" => Kind::Counter,
                        "gauge" => Kind::Gauge,
                        "histogram" => Kind::Histogram,
                        _ => Kind::Other,
                    }
                }
            }
            current = Some(i);
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let Some(sample) = parse_sample(line) else {
            continue;
        };
        // A sample belongs to the current family if its name is the family's plus a suffix.
        let i = match current {
            Some(i) if sample.name.starts_with(&families[i].name) => i,
            _ => {
                let i = family_of(&mut families, &sample.name);
                current = Some(i);
                i
            }
        };
        families[i].samples.push(sample);
    }
    families
}

/// The bridged instruments' name for a family: a counter's sample name (`..._total`), a
/// gauge's own name; `None` for what is not bridged.
pub fn instrument_name(family: &Family) -> Option<String> {
    match family.kind {
        Kind::Counter => Some(format!("{}_total", family.name)),
        Kind::Gauge => Some(family.name.clone()),
        Kind::Histogram | Kind::Other => None,
    }
}

type Points = Vec<(Vec<KeyValue>, f64)>;

/// The last encoding, by instrument name.
#[derive(Default)]
struct Snapshot {
    taken: Option<Instant>,
    points: HashMap<String, Points>,
}

struct Inner {
    meter: Meter,
    metrics: Arc<Metrics>,
    snapshot: Mutex<Snapshot>,
    /// Instrument names registered so far.
    registered: Mutex<BTreeSet<String>>,
}

/// Bridges a registry to a meter. Cheap to clone.
#[derive(Clone)]
pub struct Bridge(Arc<Inner>);

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn encode(metrics: &Metrics) -> Vec<Family> {
    match metrics.encode() {
        Ok(text) => parse_families(&text),
        Err(e) => {
            tracing::debug!("OTLP: encoding the metrics: {e}");
            Vec::new()
        }
    }
}

impl Bridge {
    /// A bridge from `metrics` to `meter`; call [`Bridge::sync`] to register the instruments.
    pub fn new(meter: Meter, metrics: Arc<Metrics>) -> Self {
        Self(Arc::new(Inner {
            meter,
            metrics,
            snapshot: Mutex::new(Snapshot::default()),
            registered: Mutex::new(BTreeSet::new()),
        }))
    }

    /// Registers an instrument for every bridged family not registered yet (families of
    /// collectors appear with their first series).
    pub fn sync(&self) {
        let families = encode(&self.0.metrics);
        let mut registered = lock(&self.0.registered);
        for family in &families {
            let Some(name) = instrument_name(family) else {
                continue;
            };
            if !registered.insert(name.clone()) {
                continue;
            }
            let this = self.clone();
            let key = name.clone();
            let callback = move |observer: &dyn AsyncInstrument<f64>| {
                for (attributes, value) in this.points(&key) {
                    observer.observe(value, &attributes);
                }
            };
            let help = family.help.clone();
            // The SDK keeps the callbacks registered for the provider's lifetime.
            match family.kind {
                Kind::Counter => {
                    let mut b = self
                        .0
                        .meter
                        .f64_observable_counter(name)
                        .with_description(help);
                    if !family.unit.is_empty() {
                        b = b.with_unit(family.unit.clone());
                    }
                    let _counter = b.with_callback(callback).build();
                }
                _ => {
                    let mut b = self
                        .0
                        .meter
                        .f64_observable_gauge(name)
                        .with_description(help);
                    if !family.unit.is_empty() {
                        b = b.with_unit(family.unit.clone());
                    }
                    let _gauge = b.with_callback(callback).build();
                }
            }
        }
    }

    /// The current points of one instrument (from an encoding at most [`FRESH`] old).
    fn points(&self, name: &str) -> Points {
        let mut snapshot = lock(&self.0.snapshot);
        if snapshot.taken.is_none_or(|t| t.elapsed() >= FRESH) {
            let mut points = HashMap::new();
            for family in encode(&self.0.metrics) {
                let Some(instrument) = instrument_name(&family) else {
                    continue;
                };
                let list: Points = family
                    .samples
                    .into_iter()
                    .filter(|s| s.name == instrument)
                    .map(|s| {
                        let attributes = s
                            .labels
                            .into_iter()
                            .map(|(k, v)| KeyValue::new(k, v))
                            .collect();
                        (attributes, s.value)
                    })
                    .collect();
                points.insert(instrument, list);
            }
            *snapshot = Snapshot {
                taken: Some(Instant::now()),
                points,
            };
        }
        snapshot.points.get(name).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn parses_the_exposition() {
        let text = "# HELP a_requests Requests.\n# TYPE a_requests counter\n\
                    a_requests_total{code=\"200\",path=\"/x\\\"y\"} 3\n\
                    # HELP g A gauge.\n# TYPE g gauge\n# UNIT g seconds\ng 1.5\n\
                    # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n\
                    h_sum 3\nh_count 2\n# EOF\n";
        let f = parse_families(text);
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].kind, Kind::Counter);
        assert_eq!(f[0].help, "Requests.");
        assert_eq!(
            f[0].samples[0].labels,
            vec![
                ("code".to_string(), "200".to_string()),
                ("path".to_string(), "/x\"y".to_string())
            ]
        );
        assert_eq!(instrument_name(&f[0]).as_deref(), Some("a_requests_total"));
        assert_eq!(f[1].unit, "seconds");
        assert_eq!(instrument_name(&f[1]).as_deref(), Some("g"));
        assert_eq!(f[2].kind, Kind::Histogram);
        assert_eq!(f[2].samples.len(), 4);
        assert_eq!(instrument_name(&f[2]), None);
        assert!(f[2].samples[1].value.is_finite());
    }

    #[test]
    fn the_operator_registry_bridges_its_go_names() {
        let m = Metrics::new("lease", 4);
        m.set_managed_instances(2);
        // Families without series are not in the exposition: `Bridge::sync` registers them
        // when they appear.
        m.queue_add(crate::metrics::CONTROLLER, "ns", "a");
        m.reconcile_started(crate::metrics::CONTROLLER, "ns", "a");
        let took = m.reconcile_finished(
            crate::metrics::CONTROLLER,
            "ns",
            "a",
            crate::metrics::Outcome::Success,
            false,
        );
        m.instance_reconciled("ns", "a", crate::metrics::Outcome::Success, took);
        let names: Vec<String> = parse_families(&m.encode().unwrap())
            .iter()
            .filter_map(instrument_name)
            .collect();
        for expected in [
            "openclaw_reconcile_total",
            "openclaw_managed_instances",
            "controller_runtime_reconcile_total",
            "workqueue_adds_total",
            "workqueue_depth",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} in {names:?}"
            );
        }
        assert!(!names.iter().any(|n| n.contains("duration")), "{names:?}");
    }
}
