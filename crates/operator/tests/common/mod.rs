//! The controller harness shared by the cluster tests: a controller scoped to a temporary
//! namespace, a write-counting client, and waits.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic, dead_code)]

pub mod features;

use std::time::Duration;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams};
use openclaw_api::{OpenClawInstance, crd};
use openclaw_operator::controller::{self, Scope};
use serde_json::{Value, json};
use testkit::{TestNamespace, WriteCounter};
use tokio::task::JoinHandle;

pub const TIMEOUT: Duration = Duration::from_secs(120);

pub struct Harness {
    pub ns: TestNamespace,
    pub client: Client,
    pub counter: WriteCounter,
    pub controller: JoinHandle<()>,
    /// The write-counting client the controller runs with.
    counting: Client,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.controller.abort();
    }
}

impl Harness {
    pub async fn start(prefix: &str) -> Option<Self> {
        let mut h = Self::namespace_only(prefix).await?;
        h.start_controller();
        Some(h)
    }

    /// The CRDs and a temporary namespace, but no controller yet: for tests that prepare the
    /// namespace (e.g. objects another operator left) before [`start_controller`](Self::start_controller).
    pub async fn namespace_only(prefix: &str) -> Option<Self> {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
        let cluster = testkit::cluster().await?;
        cluster
            .install_crds(&crd::all(), TIMEOUT)
            .await
            .expect("CRDs");
        let ns = cluster.namespace(prefix).await.expect("namespace");
        let (counting, counter) = cluster.counting_client().expect("counting client");
        Some(Self {
            client: cluster.client(),
            ns,
            counter,
            controller: tokio::spawn(async {}),
            counting,
        })
    }

    /// Start our controller, scoped to the namespace, with the write-counting client (a
    /// controller started before is stopped first).
    pub fn start_controller(&mut self) {
        self.controller.abort();
        let counting = self.counting.clone();
        let scope = Scope::namespace(self.ns.name());
        self.controller = tokio::spawn(async move {
            if let Err(e) = controller::run(counting, scope, 2).await {
                eprintln!("controller stopped: {e}");
            }
        });
    }

    /// Like [`start_controller`](Self::start_controller), with these cleanup steps run when an
    /// instance is deleted.
    pub fn start_controller_with_cleanup(
        &mut self,
        steps: Vec<std::sync::Arc<dyn controller::finalizer::CleanupStep>>,
    ) {
        self.controller.abort();
        let counting = self.counting.clone();
        let mut options = controller::Options::standalone(Scope::namespace(self.ns.name()), 2);
        options.cleanup_steps = steps;
        self.controller = tokio::spawn(controller::run_with(counting, options));
    }

    /// Like [`start_controller`](Self::start_controller), with backups and restores on: the
    /// test namespace stands for the operator's (it holds `s3-backup-credentials`).
    pub fn start_controller_with_backup(&mut self, clear_restore_from: bool) {
        self.controller.abort();
        let counting = self.counting.clone();
        let mut options = controller::Options::standalone(Scope::namespace(self.ns.name()), 2);
        options.backup = controller::backup::BackupOptions {
            credentials_namespace: Some(self.ns.name().to_string()),
            clear_restore_from,
        };
        self.controller = tokio::spawn(controller::run_with(counting, options));
    }

    /// Like [`start_controller`](Self::start_controller), with options set by `f`.
    pub fn start_controller_with(&mut self, f: impl FnOnce(&mut controller::Options)) {
        self.controller.abort();
        let counting = self.counting.clone();
        let mut options = controller::Options::standalone(Scope::namespace(self.ns.name()), 2);
        f(&mut options);
        self.controller = tokio::spawn(controller::run_with(counting, options));
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), self.ns.name())
    }

    pub async fn apply_instance(&self, name: &str, spec: Value) {
        testkit::apply_instance(&self.client, self.ns.name(), name, spec)
            .await
            .expect("instance applied");
    }

    pub async fn wait_phase(&self, name: &str, phase: &str) -> OpenClawInstance {
        let want = phase.to_string();
        testkit::wait_for(
            &self.api::<OpenClawInstance>(),
            name,
            move |i: &OpenClawInstance| {
                i.status.as_ref().and_then(|s| s.phase.as_ref()) == Some(&want)
            },
            TIMEOUT,
        )
        .await
        .unwrap_or_else(|e| panic!("{name} never reached {phase}: {e}"))
    }

    /// Wait until the controller has sent no write for `quiet`.
    pub async fn settle(&self, quiet: Duration) {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            let before = self.counter.writes();
            tokio::time::sleep(quiet).await;
            if self.counter.writes() == before {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "controller never settled: {:?}",
                self.counter.write_log()
            );
        }
    }

    pub async fn revisions(&self, name: &str) -> usize {
        let sel = format!("app.kubernetes.io/instance={name}");
        self.api::<ControllerRevision>()
            .list(&ListParams::default().labels(&sel))
            .await
            .expect("revisions")
            .items
            .len()
    }

    pub async fn config_hash(&self, name: &str) -> String {
        let sts = self.api::<StatefulSet>().get(name).await.expect("sts");
        sts.spec
            .and_then(|s| s.template.metadata)
            .and_then(|m| m.annotations)
            .and_then(|a| a.get("openclaw.rocks/config-hash").cloned())
            .unwrap_or_default()
    }

    /// Poke the instance (an annotation, no spec change) so the controller reconciles it.
    pub async fn poke(&self, name: &str, value: &str) {
        self.api::<OpenClawInstance>()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"annotations": {"test/poke": value}}})),
            )
            .await
            .expect("poked");
    }
}
