//! Prometheus metrics of the operator process.
//!
//! Names and labels are the Go operator's (`openclaw_*`, and controller-runtime's
//! `controller_runtime_*`, `workqueue_*`, `rest_client_requests_total`,
//! `leader_election_master_status`), so its Grafana dashboard and PrometheusRule keep working.
//! Unlike the Go operator, every registered metric is updated, and per-instance series are
//! removed when the instance is deleted. The auto-update counters start at 0 for each instance
//! with auto-update on. See docs/operations.md.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tower::{Layer, Service};

/// The instance controller's name, as controller-runtime labels it (`controller`, and `name`
/// on `workqueue_*`): dashboards select on it. Every controller passes its own name to the
/// per-controller methods ([`Metrics::register_controller`], [`Metrics::queue_add`],
/// [`Metrics::reconcile_started`], ...).
pub const CONTROLLER: &str = "openclawinstance";

/// Instance phases exported as `openclaw_instance_phase` (one series per phase, 0 or 1).
pub const PHASES: [&str; 5] = ["Provisioning", "Running", "Degraded", "Failed", "Suspended"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InstanceLabels {
    instance: String,
    namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    instance: String,
    namespace: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    instance: String,
    namespace: String,
    phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InfoLabels {
    instance: String,
    namespace: String,
    version: String,
    image: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestPhaseLabels {
    phase: String,
}

/// The final phases of a self-configuration request (`phase` label of
/// `openclaw_selfconfig_requests_total`).
pub const SELFCONFIG_PHASES: [&str; 3] = ["Applied", "Denied", "Failed"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BackupLabels {
    trigger: String,
    result: String,
}

/// What starts a backup (`trigger` label of `openclaw_backups_total`).
pub const BACKUP_TRIGGERS: [&str; 4] = ["delete", "on-demand", "periodic", "pre-update"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    instance: String,
    namespace: String,
    resource: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerResultLabels {
    controller: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    code: String,
    method: String,
    host: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LeaseLabels {
    name: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Prometheus' default buckets, as the Go operator's histogram uses.
const RECONCILE_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn reconcile_buckets() -> Histogram {
    Histogram::new(RECONCILE_BUCKETS)
}

/// controller-runtime's workqueue buckets: 1 ns to 10 s, powers of ten.
fn queue_bounds() -> Vec<f64> {
    exponential_buckets(1e-8, 10.0, 10).collect()
}

fn queue_buckets() -> Histogram {
    Histogram::new(queue_bounds())
}

/// The histograms, recorded for the OTLP push as well (OpenTelemetry has no asynchronous
/// histogram to bridge them with; counters and gauges are bridged from the registry by
/// `telemetry::bridge`). Same names, buckets and attributes as the Prometheus series.
struct OtelHistograms {
    reconcile_duration: opentelemetry::metrics::Histogram<f64>,
    cr_reconcile_time: opentelemetry::metrics::Histogram<f64>,
    wq_queue_duration: opentelemetry::metrics::Histogram<f64>,
    wq_work_duration: opentelemetry::metrics::Histogram<f64>,
}

impl OtelHistograms {
    fn new(meter: &opentelemetry::metrics::Meter) -> Self {
        let histogram = |name: &'static str, help: &'static str, bounds: Vec<f64>| {
            meter
                .f64_histogram(name)
                .with_description(help)
                .with_boundaries(bounds)
                .build()
        };
        Self {
            reconcile_duration: histogram(
                "openclaw_reconcile_duration_seconds",
                RECONCILE_DURATION_HELP,
                RECONCILE_BUCKETS.to_vec(),
            ),
            cr_reconcile_time: histogram(
                "controller_runtime_reconcile_time_seconds",
                CR_RECONCILE_TIME_HELP,
                RECONCILE_BUCKETS.to_vec(),
            ),
            wq_queue_duration: histogram(
                "workqueue_queue_duration_seconds",
                WQ_QUEUE_DURATION_HELP,
                queue_bounds(),
            ),
            wq_work_duration: histogram(
                "workqueue_work_duration_seconds",
                WQ_WORK_DURATION_HELP,
                queue_bounds(),
            ),
        }
    }
}

const RECONCILE_DURATION_HELP: &str = "Time one reconcile of an OpenClawInstance took";
const CR_RECONCILE_TIME_HELP: &str = "Time per reconcile, per controller";
const WQ_QUEUE_DURATION_HELP: &str =
    "Time an instance waited between its first trigger and the start of its reconcile";
const WQ_WORK_DURATION_HELP: &str = "Time one reconcile took";

fn kv(pairs: &[(&'static str, &str)]) -> Vec<opentelemetry::KeyValue> {
    pairs
        .iter()
        .map(|(k, v)| opentelemetry::KeyValue::new(*k, v.to_string()))
        .collect()
}

/// How a reconcile ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Converged (or skipped by design, e.g. a deleted instance).
    Success,
    /// Failed; retried with backoff.
    Error,
}

/// What the workqueue metrics of one controller need: which objects wait and which are being
/// worked on.
#[derive(Debug, Default)]
struct QueueState {
    /// Triggered but not started, with the time of the first trigger.
    pending: HashMap<String, Instant>,
    /// Being reconciled, with the start time.
    running: HashMap<String, Instant>,
}

/// All metrics, and the registry they are encoded from.
pub struct Metrics {
    registry: Registry,
    reconcile_total: Family<ResultLabels, Counter>,
    reconcile_duration: HistogramFamily<InstanceLabels>,
    phase: Family<PhaseLabels, Gauge>,
    resource_failures: Family<ResourceLabels, Counter>,
    managed_instances: Gauge,
    info: Family<InfoLabels, Gauge>,
    ready: Family<InstanceLabels, Gauge>,
    cr_reconcile_total: Family<ControllerResultLabels, Counter>,
    cr_reconcile_errors: Family<ControllerLabels, Counter>,
    cr_reconcile_time: HistogramFamily<ControllerLabels>,
    cr_max_concurrent: Family<ControllerLabels, Gauge>,
    cr_active_workers: Family<ControllerLabels, Gauge>,
    wq_depth: Family<QueueLabels, Gauge>,
    wq_adds: Family<QueueLabels, Counter>,
    wq_queue_duration: HistogramFamily<QueueLabels>,
    wq_work_duration: HistogramFamily<QueueLabels>,
    wq_retries: Family<QueueLabels, Counter>,
    rest_requests: Family<RequestLabels, Counter>,
    leader: Family<LeaseLabels, Gauge>,
    backups: Family<BackupLabels, Counter>,
    autoupdate_checks: Family<ResultLabels, Counter>,
    autoupdate_applied: Family<InstanceLabels, Counter>,
    autoupdate_rollbacks: Family<InstanceLabels, Counter>,
    selfconfig_requests: Family<RequestPhaseLabels, Counter>,
    selfconfig_applies: Counter,
    /// Last successful backup per instance (`namespace/name` -> seconds since the epoch).
    last_backup: Arc<Mutex<BTreeMap<(String, String), f64>>>,
    /// Backup Jobs counted: uid -> whether their end was counted too.
    backup_jobs: Mutex<HashMap<String, bool>>,
    /// When this process started (Jobs from before are not counted).
    started: std::time::SystemTime,
    lease_name: String,
    /// Per controller name.
    queues: Arc<Mutex<BTreeMap<String, QueueState>>>,
    info_labels: Mutex<HashMap<String, InfoLabels>>,
    /// The histograms' OTLP twins, once the push is on.
    otel: OnceLock<OtelHistograms>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

fn controller(name: &str) -> ControllerLabels {
    ControllerLabels {
        controller: name.into(),
    }
}

fn queue(name: &str) -> QueueLabels {
    QueueLabels { name: name.into() }
}

impl Metrics {
    /// Registers every metric. `lease_name` labels `leader_election_master_status`;
    /// `max_concurrent` is the instance controller's (registered here, so its series exist
    /// from the start).
    pub fn new(lease_name: &str, max_concurrent: u16) -> Self {
        let mut registry = Registry::default();
        let reconcile_total = Family::<ResultLabels, Counter>::default();
        registry.register(
            "openclaw_reconcile",
            "Reconciles of OpenClawInstances, by result (success, error)",
            reconcile_total.clone(),
        );
        let reconcile_duration =
            HistogramFamily::<InstanceLabels>::new_with_constructor(reconcile_buckets);
        registry.register(
            "openclaw_reconcile_duration_seconds",
            RECONCILE_DURATION_HELP,
            reconcile_duration.clone(),
        );
        let phase = Family::<PhaseLabels, Gauge>::default();
        registry.register(
            "openclaw_instance_phase",
            "1 for the instance's current phase, 0 for the others",
            phase.clone(),
        );
        let resource_failures = Family::<ResourceLabels, Counter>::default();
        registry.register(
            "openclaw_resource_creation_failures",
            "Failed creates or updates of a managed object, by kind",
            resource_failures.clone(),
        );
        let managed_instances = Gauge::default();
        registry.register(
            "openclaw_managed_instances",
            "OpenClawInstances the operator watches",
            managed_instances.clone(),
        );
        let info = Family::<InfoLabels, Gauge>::default();
        registry.register(
            "openclaw_instance_info",
            "Constant 1, labelled with the instance's OpenClaw version and image",
            info.clone(),
        );
        let ready = Family::<InstanceLabels, Gauge>::default();
        registry.register(
            "openclaw_instance_ready",
            "1 when the instance's Ready condition is True",
            ready.clone(),
        );
        let cr_reconcile_total = Family::<ControllerResultLabels, Counter>::default();
        registry.register(
            "controller_runtime_reconcile",
            "Reconciles per controller, by result (success, error, requeue_after)",
            cr_reconcile_total.clone(),
        );
        let cr_reconcile_errors = Family::<ControllerLabels, Counter>::default();
        registry.register(
            "controller_runtime_reconcile_errors",
            "Reconcile errors per controller",
            cr_reconcile_errors.clone(),
        );
        let cr_reconcile_time =
            HistogramFamily::<ControllerLabels>::new_with_constructor(reconcile_buckets);
        registry.register(
            "controller_runtime_reconcile_time_seconds",
            CR_RECONCILE_TIME_HELP,
            cr_reconcile_time.clone(),
        );
        let cr_max_concurrent = Family::<ControllerLabels, Gauge>::default();
        registry.register(
            "controller_runtime_max_concurrent_reconciles",
            "Maximum number of concurrent reconciles per controller",
            cr_max_concurrent.clone(),
        );
        let cr_active_workers = Family::<ControllerLabels, Gauge>::default();
        registry.register(
            "controller_runtime_active_workers",
            "Reconciles running now, per controller",
            cr_active_workers.clone(),
        );
        let wq_depth = Family::<QueueLabels, Gauge>::default();
        registry.register(
            "workqueue_depth",
            "Instances waiting to be reconciled",
            wq_depth.clone(),
        );
        let wq_adds = Family::<QueueLabels, Counter>::default();
        registry.register(
            "workqueue_adds",
            "Reconcile triggers (watch events mapped to an instance)",
            wq_adds.clone(),
        );
        let wq_queue_duration = HistogramFamily::<QueueLabels>::new_with_constructor(queue_buckets);
        registry.register(
            "workqueue_queue_duration_seconds",
            WQ_QUEUE_DURATION_HELP,
            wq_queue_duration.clone(),
        );
        let wq_work_duration = HistogramFamily::<QueueLabels>::new_with_constructor(queue_buckets);
        registry.register(
            "workqueue_work_duration_seconds",
            WQ_WORK_DURATION_HELP,
            wq_work_duration.clone(),
        );
        let wq_retries = Family::<QueueLabels, Counter>::default();
        registry.register(
            "workqueue_retries",
            "Reconciles retried after an error",
            wq_retries.clone(),
        );
        let rest_requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "rest_client_requests",
            "Requests to the Kubernetes API server, by status code, method and host",
            rest_requests.clone(),
        );
        let leader = Family::<LeaseLabels, Gauge>::default();
        registry.register(
            "leader_election_master_status",
            "1 while this replica is the leader (always 1 with leader election off)",
            leader.clone(),
        );
        let selfconfig_requests = Family::<RequestPhaseLabels, Counter>::default();
        registry.register(
            "openclaw_selfconfig_requests",
            "OpenClawSelfConfig requests that reached a final phase (Applied, Denied, Failed)",
            selfconfig_requests.clone(),
        );
        for phase in SELFCONFIG_PHASES {
            selfconfig_requests
                .get_or_create(&RequestPhaseLabels {
                    phase: phase.into(),
                })
                .inc_by(0);
        }
        let selfconfig_applies = Counter::default();
        registry.register(
            "openclaw_selfconfig_applies",
            "Changes self-configuration applied to instances (one per batch of requests)",
            selfconfig_applies.clone(),
        );
        let autoupdate_checks = Family::<ResultLabels, Counter>::default();
        registry.register(
            "openclaw_autoupdate_checks",
            "Auto-update registry checks, by result (success, error)",
            autoupdate_checks.clone(),
        );
        let autoupdate_applied = Family::<InstanceLabels, Counter>::default();
        registry.register(
            "openclaw_autoupdate_applied",
            "Auto-updates applied (the new version rolled out)",
            autoupdate_applied.clone(),
        );
        let autoupdate_rollbacks = Family::<InstanceLabels, Counter>::default();
        registry.register(
            "openclaw_autoupdate_rollbacks",
            "Auto-updates rolled back (the new version failed its migration or health check)",
            autoupdate_rollbacks.clone(),
        );
        let backups = Family::<BackupLabels, Counter>::default();
        registry.register(
            "openclaw_backups",
            "Backups of instance data volumes, by trigger (delete, on-demand, periodic, \
             pre-update) and result (started, success, failure)",
            backups.clone(),
        );
        for trigger in BACKUP_TRIGGERS {
            for result in ["started", "success", "failure"] {
                backups
                    .get_or_create(&BackupLabels {
                        trigger: trigger.into(),
                        result: result.into(),
                    })
                    .inc_by(0);
            }
        }
        let last_backup = Arc::new(Mutex::new(BTreeMap::new()));
        registry.register_collector(Box::new(LastBackupCollector(last_backup.clone())));
        let queues = Arc::new(Mutex::new(BTreeMap::new()));
        registry.register_collector(Box::new(QueueCollector(queues.clone())));
        registry.register_collector(Box::new(ProcessCollector::new()));

        leader
            .get_or_create(&LeaseLabels {
                name: lease_name.into(),
            })
            .set(0);

        let metrics = Self {
            registry,
            reconcile_total,
            reconcile_duration,
            phase,
            resource_failures,
            managed_instances,
            info,
            ready,
            cr_reconcile_total,
            cr_reconcile_errors,
            cr_reconcile_time,
            cr_active_workers,
            wq_depth,
            wq_adds,
            wq_queue_duration,
            wq_work_duration,
            wq_retries,
            rest_requests,
            leader,
            backups,
            autoupdate_checks,
            autoupdate_applied,
            autoupdate_rollbacks,
            selfconfig_requests,
            selfconfig_applies,
            last_backup,
            backup_jobs: Mutex::new(HashMap::new()),
            started: std::time::SystemTime::now(),
            lease_name: lease_name.into(),
            queues,
            cr_max_concurrent,
            info_labels: Mutex::new(HashMap::new()),
            otel: OnceLock::new(),
        };
        metrics.register_controller(CONTROLLER, max_concurrent);
        metrics
    }

    /// Registers a controller: its `max_concurrent` reconciles, and the series dashboards plot
    /// from the start, at zero until something happens. Idempotent.
    pub fn register_controller(&self, name: &str, max_concurrent: u16) {
        self.cr_max_concurrent
            .get_or_create(&controller(name))
            .set(i64::from(max_concurrent));
        lock(&self.queues).entry(name.to_string()).or_default();
        self.cr_active_workers.get_or_create(&controller(name)).set(
            lock(&self.queues)
                .get(name)
                .map_or(0, |q| q.running.len() as i64),
        );
        self.wq_depth.get_or_create(&queue(name)).set(
            lock(&self.queues)
                .get(name)
                .map_or(0, |q| q.pending.len() as i64),
        );
        self.wq_adds.get_or_create(&queue(name)).inc_by(0);
        self.wq_retries.get_or_create(&queue(name)).inc_by(0);
        self.cr_reconcile_errors
            .get_or_create(&controller(name))
            .inc_by(0);
    }

    /// Records the histograms for the OTLP push too, from now on (see
    /// `telemetry::bridge`). Later calls do nothing.
    pub fn attach_meter(&self, meter: &opentelemetry::metrics::Meter) {
        let _ = self.otel.set(OtelHistograms::new(meter));
    }

    /// The OpenMetrics text exposition of every metric.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    /// An object of `controller` was triggered (a watch event mapped to it). Counts one add;
    /// the queue depth grows only if it was not already waiting (triggers of a waiting object
    /// merge, as in the controller's scheduler).
    pub fn queue_add(&self, controller: &str, namespace: &str, name: &str) {
        self.wq_adds.get_or_create(&queue(controller)).inc();
        let mut queues = lock(&self.queues);
        let q = queues.entry(controller.to_string()).or_default();
        q.pending
            .entry(key(namespace, name))
            .or_insert_with(Instant::now);
        self.wq_depth
            .get_or_create(&queue(controller))
            .set(q.pending.len() as i64);
    }

    /// The object is gone: it no longer waits in `controller`'s queue.
    pub fn queue_forget(&self, controller: &str, namespace: &str, name: &str) {
        let mut queues = lock(&self.queues);
        let q = queues.entry(controller.to_string()).or_default();
        q.pending.remove(&key(namespace, name));
        self.wq_depth
            .get_or_create(&queue(controller))
            .set(q.pending.len() as i64);
    }

    /// A reconcile of the object by `controller` starts now.
    pub fn reconcile_started(&self, controller_name: &str, namespace: &str, name: &str) {
        let k = key(namespace, name);
        let mut queues = lock(&self.queues);
        let q = queues.entry(controller_name.to_string()).or_default();
        if let Some(since) = q.pending.remove(&k) {
            let secs = since.elapsed().as_secs_f64();
            self.wq_queue_duration
                .get_or_create(&queue(controller_name))
                .observe(secs);
            if let Some(otel) = self.otel.get() {
                otel.wq_queue_duration
                    .record(secs, &kv(&[("name", controller_name)]));
            }
        }
        q.running.insert(k, Instant::now());
        self.wq_depth
            .get_or_create(&queue(controller_name))
            .set(q.pending.len() as i64);
        self.cr_active_workers
            .get_or_create(&controller(controller_name))
            .set(q.running.len() as i64);
    }

    /// The reconcile that just started did nothing (this replica is not active).
    pub fn reconcile_skipped(&self, controller_name: &str, namespace: &str, name: &str) {
        let mut queues = lock(&self.queues);
        let q = queues.entry(controller_name.to_string()).or_default();
        q.running.remove(&key(namespace, name));
        self.cr_active_workers
            .get_or_create(&controller(controller_name))
            .set(q.running.len() as i64);
    }

    /// A reconcile of the object by `controller` ended: the controller-runtime and workqueue
    /// series. Returns how long it took.
    pub fn reconcile_finished(
        &self,
        controller_name: &str,
        namespace: &str,
        name: &str,
        outcome: Outcome,
        requeue_after: bool,
    ) -> Duration {
        let elapsed = {
            let mut queues = lock(&self.queues);
            let q = queues.entry(controller_name.to_string()).or_default();
            let started = q.running.remove(&key(namespace, name));
            self.cr_active_workers
                .get_or_create(&controller(controller_name))
                .set(q.running.len() as i64);
            started.map(|s| s.elapsed()).unwrap_or(Duration::ZERO)
        };
        let secs = elapsed.as_secs_f64();
        let cr_result = match (outcome, requeue_after) {
            (Outcome::Error, _) => "error",
            (Outcome::Success, true) => "requeue_after",
            (Outcome::Success, false) => "success",
        };
        self.cr_reconcile_total
            .get_or_create(&ControllerResultLabels {
                controller: controller_name.into(),
                result: cr_result.into(),
            })
            .inc();
        if outcome == Outcome::Error {
            self.cr_reconcile_errors
                .get_or_create(&controller(controller_name))
                .inc();
            self.wq_retries.get_or_create(&queue(controller_name)).inc();
        }
        self.cr_reconcile_time
            .get_or_create(&controller(controller_name))
            .observe(secs);
        self.wq_work_duration
            .get_or_create(&queue(controller_name))
            .observe(secs);
        if let Some(otel) = self.otel.get() {
            otel.cr_reconcile_time
                .record(secs, &kv(&[("controller", controller_name)]));
            otel.wq_work_duration
                .record(secs, &kv(&[("name", controller_name)]));
        }
        elapsed
    }

    /// A reconcile of the instance ended: `openclaw_reconcile_total` and
    /// `openclaw_reconcile_duration_seconds` (the instance controller's own series).
    pub fn instance_reconciled(
        &self,
        namespace: &str,
        name: &str,
        outcome: Outcome,
        elapsed: Duration,
    ) {
        let result = match outcome {
            Outcome::Success => "success",
            Outcome::Error => "error",
        };
        self.reconcile_total
            .get_or_create(&ResultLabels {
                instance: name.into(),
                namespace: namespace.into(),
                result: result.into(),
            })
            .inc();
        self.reconcile_duration
            .get_or_create(&InstanceLabels {
                instance: name.into(),
                namespace: namespace.into(),
            })
            .observe(elapsed.as_secs_f64());
        if let Some(otel) = self.otel.get() {
            otel.reconcile_duration.record(
                elapsed.as_secs_f64(),
                &kv(&[("instance", name), ("namespace", namespace)]),
            );
        }
    }

    /// The instance's phase, readiness and image after a reconcile.
    pub fn observe_instance(
        &self,
        namespace: &str,
        name: &str,
        phase: Option<&str>,
        ready: bool,
        image: Option<&str>,
    ) {
        for p in PHASES {
            self.phase
                .get_or_create(&PhaseLabels {
                    instance: name.into(),
                    namespace: namespace.into(),
                    phase: p.into(),
                })
                .set(i64::from(phase == Some(p)));
        }
        self.ready
            .get_or_create(&InstanceLabels {
                instance: name.into(),
                namespace: namespace.into(),
            })
            .set(i64::from(ready));
        if let Some(image) = image {
            let labels = InfoLabels {
                instance: name.into(),
                namespace: namespace.into(),
                version: image_version(image).into(),
                image: image.into(),
            };
            let mut known = lock(&self.info_labels);
            if let Some(old) = known.insert(key(namespace, name), labels.clone())
                && old != labels
            {
                self.info.remove(&old);
            }
            self.info.get_or_create(&labels).set(1);
        }
    }

    /// Creating or updating a managed object of `kind` failed.
    pub fn resource_failed(&self, namespace: &str, name: &str, kind: &str) {
        self.resource_failures
            .get_or_create(&ResourceLabels {
                instance: name.into(),
                namespace: namespace.into(),
                resource: kind.into(),
            })
            .inc();
    }

    /// Number of instances in the cache.
    pub fn set_managed_instances(&self, n: usize) {
        self.managed_instances.set(n as i64);
    }

    /// Whether this replica leads.
    pub fn set_leader(&self, leader: bool) {
        self.leader
            .get_or_create(&LeaseLabels {
                name: self.lease_name.clone(),
            })
            .set(i64::from(leader));
    }

    /// A backup Job of `trigger` was seen (created, changed or deleted): counted once when it
    /// starts and once when it ends (`ended`: `Some(succeeded)`). Jobs created before this
    /// process started are not counted (a restart would count them again).
    pub fn backup_job(
        &self,
        uid: &str,
        trigger: &str,
        created: Option<std::time::SystemTime>,
        ended: Option<bool>,
        deleted: bool,
    ) {
        let mut jobs = lock(&self.backup_jobs);
        if deleted {
            jobs.remove(uid);
            return;
        }
        if created.is_none_or(|c| c < self.started) && !jobs.contains_key(uid) {
            return;
        }
        let counted_end = match jobs.get(uid) {
            Some(end) => *end,
            None => {
                self.backup_result(trigger, "started");
                jobs.insert(uid.to_string(), false);
                false
            }
        };
        if let (Some(ok), false) = (ended, counted_end) {
            self.backup_result(trigger, if ok { "success" } else { "failure" });
            jobs.insert(uid.to_string(), true);
        }
    }

    /// An auto-update event of an instance: a registry check (`Some(success)`), or an update
    /// applied (`None`, `rolled_back: false`) or rolled back.
    pub fn autoupdate(&self, namespace: &str, name: &str, check: Option<bool>, rolled_back: bool) {
        let instance = InstanceLabels {
            instance: name.into(),
            namespace: namespace.into(),
        };
        match check {
            Some(ok) => {
                self.autoupdate_checks
                    .get_or_create(&ResultLabels {
                        instance: name.into(),
                        namespace: namespace.into(),
                        result: if ok { "success" } else { "error" }.into(),
                    })
                    .inc();
            }
            None if rolled_back => {
                self.autoupdate_rollbacks.get_or_create(&instance).inc();
            }
            None => {
                self.autoupdate_applied.get_or_create(&instance).inc();
            }
        }
    }

    /// An instance with auto-update on: its counters exist from the start (at 0), so that a
    /// rate over them starts at the first update, not at the second.
    pub fn autoupdate_enabled(&self, namespace: &str, name: &str) {
        let instance = InstanceLabels {
            instance: name.into(),
            namespace: namespace.into(),
        };
        self.autoupdate_applied.get_or_create(&instance).inc_by(0);
        self.autoupdate_rollbacks.get_or_create(&instance).inc_by(0);
        for r in ["success", "error"] {
            self.autoupdate_checks
                .get_or_create(&ResultLabels {
                    instance: name.into(),
                    namespace: namespace.into(),
                    result: r.into(),
                })
                .inc_by(0);
        }
    }

    /// A self-configuration request reached its final `phase`.
    pub fn selfconfig_request(&self, phase: &str) {
        self.selfconfig_requests
            .get_or_create(&RequestPhaseLabels {
                phase: phase.into(),
            })
            .inc();
    }

    /// Self-configuration applied a batch to an instance.
    pub fn selfconfig_applied(&self) {
        self.selfconfig_applies.inc();
    }

    fn backup_result(&self, trigger: &str, result: &str) {
        self.backups
            .get_or_create(&BackupLabels {
                trigger: trigger.into(),
                result: result.into(),
            })
            .inc();
    }

    /// The instance's last successful backup (from its status: survives restarts).
    pub fn set_last_backup(&self, namespace: &str, name: &str, seconds: Option<f64>) {
        let mut map = lock(&self.last_backup);
        let key = (namespace.to_string(), name.to_string());
        match seconds {
            Some(s) => {
                map.insert(key, s);
            }
            None => {
                map.remove(&key);
            }
        }
    }

    /// The instance is gone: drop its series (the Go operator kept them forever). Its queue
    /// entry goes with [`Metrics::queue_forget`].
    pub fn forget_instance(&self, namespace: &str, name: &str) {
        let instance = InstanceLabels {
            instance: name.into(),
            namespace: namespace.into(),
        };
        for p in PHASES {
            self.phase.remove(&PhaseLabels {
                instance: name.into(),
                namespace: namespace.into(),
                phase: p.into(),
            });
        }
        for r in ["success", "error"] {
            self.reconcile_total.remove(&ResultLabels {
                instance: name.into(),
                namespace: namespace.into(),
                result: r.into(),
            });
        }
        self.reconcile_duration.remove(&instance);
        self.autoupdate_applied.remove(&instance);
        self.autoupdate_rollbacks.remove(&instance);
        for r in ["success", "error"] {
            self.autoupdate_checks.remove(&ResultLabels {
                instance: name.into(),
                namespace: namespace.into(),
                result: r.into(),
            });
        }
        self.ready.remove(&instance);
        if let Some(old) = lock(&self.info_labels).remove(&key(namespace, name)) {
            self.info.remove(&old);
        }
        self.set_last_backup(namespace, name, None);
    }

    /// A tower layer for the kube client that counts `rest_client_requests_total`.
    pub fn request_layer(self: &Arc<Self>, host: &str) -> RequestMetricsLayer {
        RequestMetricsLayer {
            metrics: self.clone(),
            host: host.into(),
        }
    }

    fn count_request(&self, host: &str, method: &http::Method, code: &str) {
        self.rest_requests
            .get_or_create(&RequestLabels {
                code: code.into(),
                method: method.as_str().into(),
                host: host.into(),
            })
            .inc();
    }
}

/// The version part of an image reference: the tag, or the digest when pinned by digest.
fn image_version(image: &str) -> &str {
    if let Some((_, digest)) = image.split_once('@') {
        return digest;
    }
    // The tag follows the last ':' after the last '/' (a registry may carry a port).
    let last = image.rsplit('/').next().unwrap_or(image);
    last.rsplit_once(':').map_or("latest", |(_, tag)| tag)
}

/// Layer counting requests by method and response code.
#[derive(Clone)]
pub struct RequestMetricsLayer {
    metrics: Arc<Metrics>,
    host: String,
}

impl<S> Layer<S> for RequestMetricsLayer {
    type Service = RequestMetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestMetricsService {
            inner,
            metrics: self.metrics.clone(),
            host: self.host.clone(),
        }
    }
}

/// Service of [`RequestMetricsLayer`].
#[derive(Clone)]
pub struct RequestMetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
    host: String,
}

impl<S, B, RB> Service<http::Request<B>> for RequestMetricsService<S>
where
    S: Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let method = req.method().clone();
        let metrics = self.metrics.clone();
        let host = self.host.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let result = fut.await;
            let code = match &result {
                Ok(resp) => resp.status().as_u16().to_string(),
                Err(_) => "<error>".to_string(),
            };
            metrics.count_request(&host, &method, &code);
            result
        })
    }
}

/// `workqueue_unfinished_work_seconds` and `workqueue_longest_running_processor_seconds`,
/// computed at scrape time from the running reconciles, per controller.
#[derive(Debug)]
struct QueueCollector(Arc<Mutex<BTreeMap<String, QueueState>>>);

/// `openclaw_backup_last_success_timestamp_seconds`: only instances that have a backup (no
/// family at all before the first one).
#[derive(Debug)]
struct LastBackupCollector(Arc<Mutex<BTreeMap<(String, String), f64>>>);

impl Collector for LastBackupCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let map = lock(&self.0).clone();
        if map.is_empty() {
            return Ok(());
        }
        let mut metric = encoder.encode_descriptor(
            "openclaw_backup_last_success_timestamp_seconds",
            "When the instance's last successful backup finished (seconds since the epoch)",
            None,
            MetricType::Gauge,
        )?;
        for ((namespace, instance), seconds) in map {
            ConstGauge::new(seconds).encode(metric.encode_family(&InstanceLabels {
                instance,
                namespace,
            })?)?;
        }
        Ok(())
    }
}

impl Collector for QueueCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // (queue name, unfinished seconds, longest seconds), one per controller.
        let per_queue: Vec<(String, f64, f64)> = lock(&self.0)
            .iter()
            .map(|(name, q)| {
                let ages = q.running.values().map(|s| s.elapsed().as_secs_f64());
                let (sum, max) = ages.fold((0.0, 0.0), |(sum, max): (f64, f64), a| {
                    (sum + a, max.max(a))
                });
                (name.clone(), sum, max)
            })
            .collect();
        for (name, help, longest) in [
            (
                "workqueue_unfinished_work_seconds",
                "Seconds of work in progress not yet observed by work_duration",
                false,
            ),
            (
                "workqueue_longest_running_processor_seconds",
                "Seconds the longest running reconcile has been running",
                true,
            ),
        ] {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (queue_name, unfinished, max) in &per_queue {
                let gauge = ConstGauge::new(if longest { *max } else { *unfinished });
                gauge.encode(metric.encode_family(&queue(queue_name))?)?;
            }
        }
        Ok(())
    }
}

/// `process_*` metrics from /proc (Linux; nothing elsewhere).
#[derive(Debug)]
struct ProcessCollector {
    ticks_per_second: f64,
    page_size: f64,
}

impl ProcessCollector {
    fn new() -> Self {
        Self {
            ticks_per_second: rustix::param::clock_ticks_per_second() as f64,
            page_size: rustix::param::page_size() as f64,
        }
    }

    /// (cpu seconds, start time since the epoch, virtual bytes, resident bytes)
    fn stat(&self) -> Option<(f64, f64, f64, f64)> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name, which is in parentheses and may contain spaces.
        let rest = stat.rsplit_once(')')?.1;
        let f: Vec<&str> = rest.split_whitespace().collect();
        // `rest` starts at field 3 (state); utime is field 14, stime 15, starttime 22,
        // vsize 23, rss 24 (1-based, see proc(5)).
        let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<f64>().ok());
        let cpu = (field(14)? + field(15)?) / self.ticks_per_second;
        let boot = std::fs::read_to_string("/proc/stat")
            .ok()?
            .lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<f64>().ok())?;
        let start = boot + field(22)? / self.ticks_per_second;
        Some((cpu, start, field(23)?, field(24)? * self.page_size))
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some((cpu, start, virt, rss)) = self.stat() else {
            return Ok(());
        };
        let counter = ConstCounter::new(cpu);
        counter.encode(encoder.encode_descriptor(
            "process_cpu_seconds",
            "User and system CPU time spent, in seconds",
            None,
            MetricType::Counter,
        )?)?;
        let open_fds = std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count()) as f64;
        let max_fds = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .map_or(f64::INFINITY, |v| v as f64);
        for (name, help, value) in [
            (
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch, in seconds",
                start,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size, in bytes",
                virt,
            ),
            (
                "process_resident_memory_bytes",
                "Resident memory size, in bytes",
                rss,
            ),
            ("process_open_fds", "Open file descriptors", open_fds),
            ("process_max_fds", "Maximum open file descriptors", max_fds),
        ] {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, MetricType::Gauge)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn image_versions() {
        assert_eq!(
            image_version("ghcr.io/openclaw/openclaw:2026.9.6"),
            "2026.9.6"
        );
        assert_eq!(image_version("registry:5000/openclaw"), "latest");
        assert_eq!(image_version("r:5000/o@sha256:abc"), "sha256:abc");
    }

    #[test]
    fn exposition_has_the_go_operator_names_and_drops_deleted_instances() {
        let m = Metrics::new("openclaw-operator.openclaw.rocks", 4);
        m.queue_add(CONTROLLER, "ns", "a");
        m.queue_add(CONTROLLER, "ns", "a");
        m.reconcile_started(CONTROLLER, "ns", "a");
        let took = m.reconcile_finished(CONTROLLER, "ns", "a", Outcome::Success, true);
        m.instance_reconciled("ns", "a", Outcome::Success, took);
        m.observe_instance("ns", "a", Some("Running"), true, Some("img:1.0"));
        m.observe_instance("ns", "a", Some("Running"), true, Some("img:2.0"));
        let text = m.encode().unwrap();
        for needle in [
            "openclaw_reconcile_total{instance=\"a\",namespace=\"ns\",result=\"success\"} 1",
            "openclaw_instance_phase{instance=\"a\",namespace=\"ns\",phase=\"Running\"} 1",
            "openclaw_instance_phase{instance=\"a\",namespace=\"ns\",phase=\"Failed\"} 0",
            "openclaw_instance_ready{instance=\"a\",namespace=\"ns\"} 1",
            "openclaw_instance_info{instance=\"a\",namespace=\"ns\",version=\"2.0\",image=\"img:2.0\"} 1",
            "workqueue_adds_total{name=\"openclawinstance\"} 2",
            "workqueue_depth{name=\"openclawinstance\"} 0",
            "controller_runtime_reconcile_total{controller=\"openclawinstance\",result=\"requeue_after\"} 1",
            "controller_runtime_max_concurrent_reconciles{controller=\"openclawinstance\"} 4",
            "workqueue_queue_duration_seconds_bucket{",
            "workqueue_longest_running_processor_seconds{name=\"openclawinstance\"} 0",
            "leader_election_master_status{name=\"openclaw-operator.openclaw.rocks\"} 0",
            "process_resident_memory_bytes ",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
        assert!(!text.contains("version=\"1.0\""), "stale info series kept");
        m.forget_instance("ns", "a");
        let text = m.encode().unwrap();
        assert!(
            !text.contains("instance=\"a\""),
            "series kept after delete:\n{text}"
        );
    }

    #[test]
    fn each_controller_has_its_own_series() {
        let m = Metrics::new("lease", 4);
        m.register_controller("openclawselfconfig", 1);
        m.queue_add("openclawselfconfig", "ns", "r");
        m.reconcile_started("openclawselfconfig", "ns", "r");
        m.reconcile_finished("openclawselfconfig", "ns", "r", Outcome::Error, false);
        let text = m.encode().unwrap();
        for needle in [
            "controller_runtime_reconcile_total{controller=\"openclawselfconfig\",result=\"error\"} 1",
            "controller_runtime_reconcile_errors_total{controller=\"openclawselfconfig\"} 1",
            "controller_runtime_reconcile_errors_total{controller=\"openclawinstance\"} 0",
            "controller_runtime_max_concurrent_reconciles{controller=\"openclawselfconfig\"} 1",
            "workqueue_adds_total{name=\"openclawselfconfig\"} 1",
            "workqueue_adds_total{name=\"openclawinstance\"} 0",
            "workqueue_retries_total{name=\"openclawselfconfig\"} 1",
            "workqueue_longest_running_processor_seconds{name=\"openclawselfconfig\"} 0",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
        // The per-instance series belong to the instance controller only.
        assert!(!text.contains("openclaw_reconcile_total{"), "{text}");
    }
}
