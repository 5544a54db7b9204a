//! A kubelet stand-in for the pods of the operator's backup and restore Jobs.
//!
//! kwok runs no containers. This watches (polls) a namespace for Running pods labelled
//! `openclaw.rocks/job-type`, hands each one, once, to a runner with the data of the Secrets its
//! environment references (as the kubelet resolves `secretKeyRef`), and records the runner's
//! exit code in the pod's `kwok.openclaw.rocks/exit-code` annotation. The cluster's kwok stages
//! (`hack/control-plane/stages/backup-jobs.yaml`) then end the pod `Succeeded` (0) or `Failed`
//! (any other code, kept as the container's exit code), and the Job controller goes on as
//! usual. A runner may run the pod's real command ([`crate::jobrun`]) or just return a code.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};
use tokio::task::JoinHandle;

/// The label that marks the pods handled here.
pub const JOB_TYPE_LABEL: &str = "openclaw.rocks/job-type";
/// The annotation the kwok stages read.
pub const EXIT_CODE_ANNOTATION: &str = "kwok.openclaw.rocks/exit-code";

/// Secret name -> key -> value (the job runner's).
pub use crate::jobrun::Secrets;

/// Runs one pod; returns its exit code. Called on a blocking thread.
pub type Runner = Arc<dyn Fn(&Pod, &Secrets) -> i32 + Send + Sync>;

/// One pod run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The pod.
    pub pod: String,
    /// Its `openclaw.rocks/job-type`.
    pub job_type: String,
    /// The exit code recorded.
    pub exit_code: i32,
}

/// The stand-in; stops when dropped.
pub struct Kubelet {
    task: JoinHandle<()>,
    runs: Arc<Mutex<Vec<Run>>>,
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Kubelet {
    /// Start handling the Job pods of `namespace` with `runner`.
    pub fn start(client: Client, namespace: &str, runner: Runner) -> Kubelet {
        let runs = Arc::new(Mutex::new(Vec::new()));
        let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let secrets: Api<Secret> = Api::namespaced(client, namespace);
        let task = tokio::spawn(run(pods, secrets, runner, runs.clone()));
        Kubelet { task, runs }
    }

    /// A runner that returns `code` for every pod.
    pub fn exiting(code: i32) -> Runner {
        Arc::new(move |_, _| code)
    }

    /// The pods run so far.
    pub fn runs(&self) -> Vec<Run> {
        self.runs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn run(pods: Api<Pod>, secrets: Api<Secret>, runner: Runner, runs: Arc<Mutex<Vec<Run>>>) {
    let mut done: BTreeSet<String> = BTreeSet::new();
    let params = ListParams::default().labels(JOB_TYPE_LABEL);
    loop {
        if let Ok(list) = pods.list(&params).await {
            for pod in list.items {
                let uid = pod.uid().unwrap_or_default();
                let running =
                    pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
                if !running
                    || done.contains(&uid)
                    || pod.annotations().contains_key(EXIT_CODE_ANNOTATION)
                    || pod.metadata.deletion_timestamp.is_some()
                {
                    continue;
                }
                done.insert(uid);
                let data = referenced_secrets(&pod, &secrets).await;
                let r = runner.clone();
                let p = pod.clone();
                let code = tokio::task::spawn_blocking(move || r(&p, &data))
                    .await
                    .unwrap_or(128);
                let patch = serde_json::json!({"metadata": {"annotations": {
                    EXIT_CODE_ANNOTATION: code.to_string(),
                }}});
                let _ = pods
                    .patch(
                        &pod.name_any(),
                        &PatchParams::default(),
                        &Patch::Merge(&patch),
                    )
                    .await;
                runs.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(Run {
                        pod: pod.name_any(),
                        job_type: pod
                            .labels()
                            .get(JOB_TYPE_LABEL)
                            .cloned()
                            .unwrap_or_default(),
                        exit_code: code,
                    });
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The data of every Secret the pod's containers reference through `secretKeyRef` (a missing
/// Secret is left out: the runner sees the variable unresolved, as a pod would not start).
async fn referenced_secrets(pod: &Pod, secrets: &Api<Secret>) -> Secrets {
    let names: BTreeSet<String> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.env.iter().flatten())
        .filter_map(|e| e.value_from.as_ref()?.secret_key_ref.as_ref())
        .map(|r| r.name.clone())
        .collect();
    let mut out = Secrets::new();
    for name in names {
        if let Ok(s) = secrets.get(&name).await {
            let data = s
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.0))
                .collect();
            out.insert(name, data);
        }
    }
    out
}
