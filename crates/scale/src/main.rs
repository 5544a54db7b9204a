//! Scale and efficiency harness (docs/performance.md).
//!
//! On the local cluster (hack/control-plane/cluster.sh), it starts the operator under its own
//! identity (user `openclaw-operator`, whose requests alone the API server's audit log records),
//! creates N OpenClawInstances across several namespaces, waits until all are Running, measures a
//! steady-state window, deletes them all and waits until the objects they owned are gone. It
//! prints a table and writes JSON (`<out-dir>/<N>.json`). It exits with 1 when the operator sent
//! any write during the steady window, or when a phase timed out.

mod audit;
mod proc_stats;
mod report;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret, Service, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use openclaw_api::OpenClawInstance;
use serde::de::DeserializeOwned;

use crate::audit::Phases;
use crate::report::{Report, Summary};

/// Label on every namespace and instance the harness creates.
const SCALE_LABEL: &str = "openclaw.dev/scale";
const SCALE_SELECTOR: &str = "openclaw.dev/scale=true";
const MANAGED_BY: &str = "app.kubernetes.io/managed-by=openclaw-operator";

#[derive(Parser, Debug)]
#[command(about = "Create N OpenClawInstances on the local cluster and measure the operator")]
struct Args {
    /// Number of instances.
    #[arg(long, short = 'n', default_value_t = 100)]
    instances: usize,
    /// Namespaces to spread them over (`scale-00`, `scale-01`, ...).
    #[arg(long, default_value_t = 10)]
    namespaces: usize,
    /// Length of the steady-state window, in seconds.
    #[arg(long, default_value_t = 300)]
    steady_secs: u64,
    /// Pause between "all Running" and the steady window (in-flight reconciles, events).
    #[arg(long, default_value_t = 15)]
    settle_secs: u64,
    /// Give up on a phase (converge, cleanup) after this many seconds.
    #[arg(long, default_value_t = 1200)]
    timeout_secs: u64,
    /// The operator binary to start.
    #[arg(long)]
    operator_bin: PathBuf,
    /// Operator concurrency (`run --concurrency`).
    #[arg(long, default_value_t = 4)]
    concurrency: u16,
    /// The local cluster's state directory (operator.kubeconfig, logs/audit.log).
    #[arg(long, env = "OPENCLAW_CLUSTER_DIR")]
    cluster_dir: PathBuf,
    /// The instance manifest to replicate.
    #[arg(long, default_value = "config/samples/openclawinstance-minimal.yaml")]
    sample: PathBuf,
    /// Where `<N>.json` and the operator log go.
    #[arg(long, default_value = "target/scale")]
    out_dir: PathBuf,
    /// Parallel create requests.
    #[arg(long, default_value_t = 8)]
    create_parallelism: usize,
    /// Turn auto-update on in every instance, against a real OCI registry started here on
    /// loopback (`hack/registry/build.sh`) in this auth mode, and count what the operator asks
    /// it. The repository holds the instances' tag and older ones: nothing to update.
    #[arg(long, value_enum, default_value_t = RegistryMode::None)]
    registry: RegistryMode,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum RegistryMode {
    /// No registry; auto-update as in the sample.
    None,
    /// Anonymous pulls.
    Anonymous,
    /// Bearer tokens from a token service, anonymous pull (as ghcr.io and Docker Hub).
    Token,
}

/// The repository (anonymous pull in every auth mode) and the tags the harness pushes.
const SCALE_REPOSITORY: &str = "public/openclaw";
const SCALE_TAGS: &[&str] = &["2026.9.6", "2026.9.5", "2026.5.18", "latest"];

/// Requests the registry and its token service answered.
fn registry_served(registry: Option<&testkit::registry::Registry>) -> u64 {
    registry.map_or(0, |r| {
        r.access_log().len() as u64 + r.token_service().map_or(0, |t| t.requests())
    })
}

/// Starts the registry of `--registry` and points `sample` at it with auto-update on.
fn start_registry(
    mode: RegistryMode,
    sample: &mut OpenClawInstance,
) -> anyhow::Result<Option<testkit::registry::Registry>> {
    use testkit::registry::{Auth, Options, Registry, Tools};
    let auth = match mode {
        RegistryMode::None => return Ok(None),
        RegistryMode::Anonymous => Auth::Anonymous,
        RegistryMode::Token => Auth::Token,
    };
    let tools = Tools::locate().context(
        "the registry tools are not built: run hack/registry/build.sh \
         (or set OPENCLAW_REGISTRY_BIN_DIR)",
    )?;
    let registry = Registry::start(&tools, Options { auth, tls: false })?;
    registry.push_tags(SCALE_REPOSITORY, SCALE_TAGS)?;
    let mut value = serde_json::to_value(&*sample)?;
    value["spec"]["image"] = serde_json::json!({
        "repository": registry.repository(SCALE_REPOSITORY),
        "tag": SCALE_TAGS[0],
    });
    value["spec"]["autoUpdate"] = serde_json::json!({"enabled": true});
    *sample = serde_json::from_value(value)?;
    log(format!(
        "registry ({mode:?}) on {}: {SCALE_REPOSITORY} with tags {SCALE_TAGS:?}; auto-update on",
        registry.host()
    ));
    Ok(Some(registry))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("[scale] error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

fn log(msg: impl AsRef<str>) {
    eprintln!(
        "[scale {}] {}",
        Timestamp::now().strftime("%H:%M:%S"),
        msg.as_ref()
    );
}

fn ns_name(i: usize) -> String {
    format!("scale-{i:02}")
}

/// Returns Ok(true) when every check passed.
async fn run(args: Args) -> anyhow::Result<bool> {
    let client = Client::try_default()
        .await
        .context("connecting with the admin kubeconfig (KUBECONFIG)")?;
    let operator_kubeconfig = args.cluster_dir.join("operator.kubeconfig");
    let audit_log = args.cluster_dir.join("logs/audit.log");
    if !operator_kubeconfig.is_file() || !audit_log.is_file() {
        bail!(
            "{} or {} is missing: the cluster was started by an older cluster.sh; \
             restart it (hack/control-plane/cluster.sh down && hack/control-plane/cluster.sh up)",
            operator_kubeconfig.display(),
            audit_log.display()
        );
    }
    std::fs::create_dir_all(&args.out_dir)?;
    let timeout = Duration::from_secs(args.timeout_secs);

    log("removing leftovers of earlier runs");
    delete_namespaces(&client, timeout).await?;

    log("installing the CRDs");
    testkit::install_crds(
        client.clone(),
        &openclaw_api::crd::all(),
        Duration::from_secs(60),
    )
    .await?;

    let sample_text = std::fs::read_to_string(&args.sample)
        .with_context(|| format!("reading {}", args.sample.display()))?;
    let mut sample: OpenClawInstance = serde_saphyr::from_str(&sample_text)
        .with_context(|| format!("parsing {}", args.sample.display()))?;
    // Dropped (stopped) at the end of the run.
    let registry = start_registry(args.registry, &mut sample)?;
    let secrets_needed = secret_refs(&sample);

    let namespaces = args.namespaces.clamp(1, args.instances.max(1));
    log(format!("creating {namespaces} namespaces"));
    for i in 0..namespaces {
        create_namespace(&client, &ns_name(i), &secrets_needed).await?;
    }

    // The operator, under its own identity.
    let operator_log = args
        .out_dir
        .join(format!("operator-{}.log", args.instances));
    let log_file = std::fs::File::create(&operator_log)?;
    let started = Timestamp::now();
    let mut operator = tokio::process::Command::new(&args.operator_bin)
        .args([
            "run",
            "--log-format",
            "json",
            "--log-level",
            "info,openclaw_operator::controller=debug",
            "--concurrency",
            &args.concurrency.to_string(),
        ])
        .env("KUBECONFIG", &operator_kubeconfig)
        .stdout(Stdio::from(log_file.try_clone()?))
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", args.operator_bin.display()))?;
    let pid = operator.id().context("operator pid")?;
    log(format!(
        "operator started (pid {pid}, log {})",
        operator_log.display()
    ));
    let samples = proc_stats::sample_every(pid, Duration::from_millis(500));

    let result = measure(
        &args,
        &client,
        &sample,
        namespaces,
        timeout,
        pid,
        started,
        registry.as_ref(),
    )
    .await;

    // Stop the operator (SIGTERM, then kill) whatever happened.
    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
    }
    if tokio::time::timeout(Duration::from_secs(10), operator.wait())
        .await
        .is_err()
    {
        let _ = operator.kill().await;
    }
    samples.stop();
    let mut measured = result?;

    // What the operator sent, from the audit log (its user only).
    let audit = audit::read(&audit_log, &measured.phases)?;
    let reconciles = audit::reconciles(&operator_log, &measured.phases)?;
    let stats = samples.summary(&measured.phases);
    measured
        .summary
        .fill(&audit, &reconciles, &stats, &measured.phases);

    let steady_writes = measured.summary.steady_operator_writes;
    let report = Report {
        instances: args.instances,
        namespaces,
        steady_secs: args.steady_secs,
        settle_secs: args.settle_secs,
        concurrency: args.concurrency,
        machine: report::machine(),
        summary: measured.summary,
        operator_requests: audit.by_phase,
        steady_write_requests: audit.steady_writes,
        all_clients_requests: measured.all_clients,
        registry_requests: measured.registry_requests,
    };
    let out = args.out_dir.join(format!("{}.json", args.instances));
    std::fs::write(&out, serde_json::to_string_pretty(&report)?)?;
    println!("{}", report.table());
    log(format!("wrote {}", out.display()));

    log("deleting the namespaces");
    delete_namespaces(&client, timeout).await?;

    let mut ok = true;
    if steady_writes > 0 {
        eprintln!(
            "[scale] FAIL: the operator sent {steady_writes} write request(s) in the steady window: {:?}",
            report.steady_write_requests
        );
        ok = false;
    }
    if report.summary.running < args.instances {
        eprintln!(
            "[scale] FAIL: only {} of {} instances became Running",
            report.summary.running, args.instances
        );
        ok = false;
    }
    if !report.summary.cleanup_complete {
        eprintln!("[scale] FAIL: owned objects were still present when the cleanup timed out");
        ok = false;
    }
    Ok(ok)
}

struct Measured {
    phases: Phases,
    summary: Summary,
    all_clients: BTreeMap<String, BTreeMap<String, u64>>,
    registry_requests: Option<BTreeMap<String, u64>>,
}

#[allow(clippy::too_many_arguments)]
async fn measure(
    args: &Args,
    client: &Client,
    sample: &OpenClawInstance,
    namespaces: usize,
    timeout: Duration,
    pid: u32,
    started: Timestamp,
    registry: Option<&testkit::registry::Registry>,
) -> anyhow::Result<Measured> {
    let mut all_clients = BTreeMap::new();
    // Let the operator list and watch first, so its start-up is not mixed into the converge.
    tokio::time::sleep(Duration::from_secs(3)).await;
    if !proc_stats::alive(pid) {
        bail!("the operator exited at start-up; see its log");
    }

    // Watch the instances for the first time each is seen Running.
    let running: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let watch = {
        let running = running.clone();
        let api: Api<OpenClawInstance> = Api::all(client.clone());
        tokio::spawn(
            watcher(api, watcher::Config::default().labels(SCALE_SELECTOR))
                .default_backoff()
                .applied_objects()
                .try_for_each(move |i: OpenClawInstance| {
                    let running = running.clone();
                    async move {
                        let phase = i.status.as_ref().and_then(|s| s.phase.as_deref());
                        if phase == Some("Running") {
                            let key =
                                format!("{}/{}", i.namespace().unwrap_or_default(), i.name_any());
                            let mut r = running.lock().unwrap_or_else(|p| p.into_inner());
                            r.entry(key).or_insert_with(Instant::now);
                        }
                        Ok(())
                    }
                }),
        )
    };

    let metrics_before = apiserver_requests(client).await?;
    let registry_before = registry_served(registry);
    let converge_start = Timestamp::now();
    let t0 = Instant::now();
    log(format!("creating {} instances", args.instances));
    let created: Vec<(String, Instant)> = futures::stream::iter(0..args.instances)
        .map(|i| {
            let client = client.clone();
            let mut inst = sample.clone();
            async move {
                let ns = ns_name(i % namespaces);
                let name = format!("oc-{i:04}");
                inst.metadata = kube::api::ObjectMeta {
                    name: Some(name.clone()),
                    namespace: Some(ns.clone()),
                    labels: Some([(SCALE_LABEL.to_string(), "true".to_string())].into()),
                    ..Default::default()
                };
                let api: Api<OpenClawInstance> = Api::namespaced(client, &ns);
                let at = Instant::now();
                api.create(&PostParams::default(), &inst).await?;
                anyhow::Ok((format!("{ns}/{name}"), at))
            }
        })
        .buffer_unordered(args.create_parallelism.max(1))
        .try_collect()
        .await?;
    log(format!(
        "created {} instances in {:.1}s; waiting until all are Running",
        created.len(),
        t0.elapsed().as_secs_f64()
    ));

    let mut last_report = Instant::now();
    loop {
        let n = running.lock().unwrap_or_else(|p| p.into_inner()).len();
        if n >= args.instances {
            break;
        }
        if t0.elapsed() > timeout {
            log(format!("timed out: {n} of {} Running", args.instances));
            break;
        }
        if !proc_stats::alive(pid) {
            bail!("the operator exited during the converge; see its log");
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            log(format!("{n} of {} Running", args.instances));
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let converge_end = Timestamp::now();
    let converge_secs = t0.elapsed().as_secs_f64();
    watch.abort();
    let metrics_converged = apiserver_requests(client).await?;
    let registry_converged = registry_served(registry);
    all_clients.insert(
        "converge".to_string(),
        diff(&metrics_before, &metrics_converged),
    );

    let running = running.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut times: Vec<f64> = created
        .iter()
        .filter_map(|(k, at)| running.get(k).map(|r| r.duration_since(*at).as_secs_f64()))
        .collect();
    times.sort_by(f64::total_cmp);
    log(format!(
        "{} of {} Running after {converge_secs:.1}s; settling {}s, then a steady window of {}s",
        times.len(),
        args.instances,
        args.settle_secs,
        args.steady_secs
    ));

    tokio::time::sleep(Duration::from_secs(args.settle_secs)).await;
    let metrics_steady_start = apiserver_requests(client).await?;
    let registry_steady_start = registry_served(registry);
    let steady_start = Timestamp::now();
    tokio::time::sleep(Duration::from_secs(args.steady_secs)).await;
    let steady_end = Timestamp::now();
    let metrics_steady_end = apiserver_requests(client).await?;
    let registry_steady_end = registry_served(registry);
    all_clients.insert(
        "steady".to_string(),
        diff(&metrics_steady_start, &metrics_steady_end),
    );
    if !proc_stats::alive(pid) {
        bail!("the operator exited during the steady window; see its log");
    }

    log("deleting every instance");
    let cleanup_start = Timestamp::now();
    let t3 = Instant::now();
    for i in 0..namespaces {
        let api: Api<OpenClawInstance> = Api::namespaced(client.clone(), &ns_name(i));
        api.delete_collection(
            &DeleteParams::background(),
            &ListParams::default().labels(SCALE_SELECTOR),
        )
        .await?;
    }
    let cleanup_complete = wait_owned_gone(client, timeout).await?;
    let cleanup_secs = t3.elapsed().as_secs_f64();
    let cleanup_end = Timestamp::now();
    let metrics_cleanup = apiserver_requests(client).await?;
    all_clients.insert(
        "cleanup".to_string(),
        diff(&metrics_steady_end, &metrics_cleanup),
    );
    log(format!("owned objects gone after {cleanup_secs:.1}s"));

    let retained_pvcs =
        Api::<k8s_openapi::api::core::v1::PersistentVolumeClaim>::all(client.clone())
            .list_metadata(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|p| p.namespace().is_some_and(|n| n.starts_with("scale-")))
            .count();

    let summary = Summary::new(
        &times,
        converge_secs,
        cleanup_secs,
        cleanup_complete,
        retained_pvcs,
    );
    Ok(Measured {
        phases: Phases {
            started,
            converge: (converge_start, converge_end),
            steady: (steady_start, steady_end),
            cleanup: (cleanup_start, cleanup_end),
        },
        summary,
        all_clients,
        registry_requests: registry.map(|_| {
            BTreeMap::from([
                ("converge".to_string(), registry_converged - registry_before),
                (
                    "settle".to_string(),
                    registry_steady_start - registry_converged,
                ),
                (
                    "steady".to_string(),
                    registry_steady_end - registry_steady_start,
                ),
            ])
        }),
    })
}

fn secret_refs(inst: &OpenClawInstance) -> Vec<String> {
    inst.spec
        .env_from
        .iter()
        .flatten()
        .filter_map(|e| e.secret_ref.as_ref().map(|s| s.name.clone()))
        .collect()
}

async fn create_namespace(client: &Client, name: &str, secrets: &[String]) -> anyhow::Result<()> {
    let ns = Namespace {
        metadata: kube::api::ObjectMeta {
            name: Some(name.to_string()),
            labels: Some([(SCALE_LABEL.to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    let secret_api: Api<Secret> = Api::namespaced(client.clone(), name);
    for s in secrets {
        let secret = Secret {
            metadata: kube::api::ObjectMeta {
                name: Some(s.clone()),
                ..Default::default()
            },
            string_data: Some([("ANTHROPIC_API_KEY".to_string(), "replace-me".to_string())].into()),
            ..Default::default()
        };
        secret_api.create(&PostParams::default(), &secret).await?;
    }
    // Pods are rejected until the namespace's default ServiceAccount exists.
    let sa: Api<ServiceAccount> = Api::namespaced(client.clone(), name);
    for _ in 0..300 {
        if sa.get_opt("default").await?.is_some() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("namespace {name}: no default ServiceAccount after 30s")
}

async fn delete_namespaces(client: &Client, timeout: Duration) -> anyhow::Result<()> {
    let api: Api<Namespace> = Api::all(client.clone());
    let lp = ListParams::default().labels(SCALE_SELECTOR);
    for ns in api.list_metadata(&lp).await?.items {
        if ns.metadata.deletion_timestamp.is_none() {
            api.delete(&ns.name_any(), &DeleteParams::background())
                .await?;
        }
    }
    let start = Instant::now();
    while !api.list_metadata(&lp).await?.items.is_empty() {
        if start.elapsed() > timeout {
            bail!("scale namespaces still present after {timeout:?}");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

/// Number of objects of kind K in the scale namespaces matching `labels` (metadata only).
async fn count<K>(client: &Client, labels: Option<&str>) -> anyhow::Result<usize>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut lp = ListParams::default();
    if let Some(l) = labels {
        lp = lp.labels(l);
    }
    Ok(Api::<K>::all(client.clone())
        .list_metadata(&lp)
        .await?
        .items
        .iter()
        .filter(|o| o.namespace().is_some_and(|n| n.starts_with("scale-")))
        .count())
}

/// Waits until every object the instances owned (and their pods) is gone. PVCs are not owned
/// (`orphan: true` by default) and stay. Returns false on timeout.
async fn wait_owned_gone(client: &Client, timeout: Duration) -> anyhow::Result<bool> {
    let start = Instant::now();
    loop {
        let m = Some(MANAGED_BY);
        let left = count::<OpenClawInstance>(client, None).await?
            + count::<StatefulSet>(client, m).await?
            + count::<Service>(client, m).await?
            + count::<ConfigMap>(client, m).await?
            + count::<Secret>(client, m).await?
            + count::<ServiceAccount>(client, m).await?
            + count::<Role>(client, m).await?
            + count::<RoleBinding>(client, m).await?
            + count::<NetworkPolicy>(client, m).await?
            + count::<PodDisruptionBudget>(client, m).await?
            + count::<Pod>(client, None).await?;
        if left == 0 {
            return Ok(true);
        }
        if start.elapsed() > timeout {
            log(format!("{left} owned objects left at the timeout"));
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `apiserver_request_total` summed by verb (all clients).
async fn apiserver_requests(client: &Client) -> anyhow::Result<BTreeMap<String, u64>> {
    let req = http::Request::get("/metrics").body(Vec::new())?;
    let text = client.request_text(req).await?;
    Ok(report::parse_request_total(&text))
}

fn diff(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    b.iter()
        .map(|(k, v)| (k.clone(), v.saturating_sub(a.get(k).copied().unwrap_or(0))))
        .filter(|(_, v)| *v > 0)
        .collect()
}
