//! Adopting instances the Go operator 0.38.3 left on a cluster (drop-in replacement).
//!
//! `testkit::go_fleet` creates, before our controller starts, exactly what the Go operator
//! leaves: the instance with its finalizer `openclaw.rocks/finalizer` and Go status, and every
//! owned object written by field manager `manager` (operation `Update`), with the Go pod
//! template (`httpGet` probes). Then our controller starts and must take the fleet over:
//!
//! 1. every instance reaches Running (the suspended one Suspended) with Ready=True, with no
//!    `ReconcileError` (e.g. the API server refusing a probe with two handlers: 422 "may not
//!    specify more than 1 handler type");
//! 2. nothing the users depend on changes: the gateway token, the basic-auth password, the data
//!    PVC (same object); at most one rollout per StatefulSet; no managedFields entry of `manager`
//!    is left on the objects we apply nor on the instance's status (its fields were taken over,
//!    see `controller/adopt.rs`); then a reconcile writes nothing;
//! 3. deleting an instance completes within 30 s (the Go finalizer must not hang it) and keeps
//!    the data PVC; with `openclaw.rocks/skip-backup: "true"` the deletion completes at once.
//!
//! Fixtures for the Go full sample: a kwok node labelled `node-type=application` with the taint
//! `dedicated=openclaw:NoSchedule`, a PersistentVolume of class `premium-rwo`, the ServiceMonitor
//! CRD (left out of the fleet, with a note, when the third-party CRDs cannot be fetched).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Harness, TIMEOUT};
use futures::future::join_all;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    ConfigMap, Node, PersistentVolume, PersistentVolumeClaim, Secret, Service,
};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use openclaw_api::OpenClawInstance;
use serde_json::{Value, json};
use testkit::go_fleet::{
    self, FinalizerGuard, GO_FINALIZER, GO_MANAGER, GoInstance, Preset, SKIP_BACKUP,
};

/// How long the adoption of the whole fleet may take.
const ADOPTION_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a deletion may take.
const DELETION_TIMEOUT: Duration = Duration::from_secs(30);
/// "At once": a deletion that skips the backup.
const SKIP_BACKUP_TIMEOUT: Duration = Duration::from_secs(10);
const FULL_SAMPLE: &str = "production-openclaw";

async fn apply<K>(api: &Api<K>, name: &str, value: Value)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + serde::Serialize,
{
    let obj: K = serde_json::from_value(value).expect("object");
    api.patch(
        name,
        &PatchParams::apply("test").force(),
        &Patch::Apply(&obj),
    )
    .await
    .unwrap_or_else(|e| panic!("applying {name}: {e}"));
}

/// The provider-keys Secret every preset reads, plus the full sample's node and PV.
async fn fixtures(h: &Harness, presets: &[Preset]) {
    apply(
        &h.api::<Secret>(),
        "openclaw-api-keys",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "openclaw-api-keys"},
            "stringData": {"ANTHROPIC_API_KEY": "k"}}),
    )
    .await;
    if !presets.iter().any(|p| p.name == FULL_SAMPLE) {
        return;
    }
    let client = h.client.clone();
    apply(
        &Api::<Node>::all(client.clone()),
        "kwok-application-0",
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {
            "name": "kwok-application-0",
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
            "labels": {"kubernetes.io/hostname": "kwok-application-0", "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "type": "kwok", "node-type": "application"}},
          "spec": {"providerID": "kwok://kwok-application-0",
            "taints": [{"key": "dedicated", "value": "openclaw", "effect": "NoSchedule"}]},
          "status": {"allocatable": {"cpu": "1000", "memory": "4Ti", "pods": "1000"},
            "capacity": {"cpu": "1000", "memory": "4Ti", "pods": "1000"}}}),
    )
    .await;
    let pv = pv_name(h);
    apply(
        &Api::<PersistentVolume>::all(client),
        &pv,
        json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
          "spec": {"storageClassName": "premium-rwo", "capacity": {"storage": "50Gi"},
            "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
            "hostPath": {"path": "/tmp/openclaw-test"},
            "claimRef": {"namespace": h.ns.name(), "name": format!("{FULL_SAMPLE}-data")}}}),
    )
    .await;
}

fn pv_name(h: &Harness) -> String {
    format!("{}-{FULL_SAMPLE}-data", h.ns.name())
}

/// The fleet, without the presets whose third-party CRDs are unavailable.
async fn presets(h: &Harness) -> Vec<Preset> {
    let mut presets = go_fleet::fleet().expect("the Go fleet presets");
    let third_party = testkit::third_party::install(h.client.clone(), TIMEOUT)
        .await
        .expect("third-party CRDs");
    if !third_party {
        eprintln!("third-party CRDs unavailable: the presets with a ServiceMonitor are left out");
        presets.retain(|p| !p.needs_service_monitor());
    }
    presets
}

/// Whether a status write of someone other than the Go operator is recorded (our controller
/// has reported on the instance).
fn reported_by_us(i: &OpenClawInstance) -> bool {
    i.managed_fields().iter().any(|f| {
        f.subresource.as_deref() == Some("status") && f.manager.as_deref() != Some(GO_MANAGER)
    })
}

fn condition<'a>(
    i: &'a OpenClawInstance,
    type_: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    i.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == type_))
}

/// `None` when the instance is adopted, else what is still wrong.
fn not_adopted(i: &OpenClawInstance, suspended: bool) -> Option<String> {
    let status = i.status.clone().unwrap_or_default();
    let conditions: Vec<String> = status
        .conditions
        .iter()
        .flatten()
        .map(|c| format!("{}={} {}: {}", c.type_, c.status, c.reason, c.message))
        .collect();
    let describe = |why: &str| {
        Some(format!(
            "{} ({why}): phase {:?}, conditions [{}]",
            i.name_any(),
            status.phase,
            conditions.join("; ")
        ))
    };
    if !reported_by_us(i) {
        return describe("our controller has not reported on it yet");
    }
    if let Some(c) = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.reason == "ReconcileError" || c.message.contains("422"))
    {
        return describe(&format!("reconcile error in {}", c.type_));
    }
    let ready = condition(i, "Ready");
    let ok = if suspended {
        status.phase.as_deref() == Some("Suspended")
            && ready.is_some_and(|c| c.reason == "Suspended")
    } else {
        status.phase.as_deref() == Some("Running") && ready.is_some_and(|c| c.status == "True")
    };
    if !ok {
        return describe("not Running with Ready=True");
    }
    if status.observed_generation != i.metadata.generation {
        return describe("generation not observed");
    }
    None
}

/// Wait until every instance is adopted; panics with the state of each one that is not.
async fn wait_adopted(h: &Harness, presets: &[Preset]) -> Vec<OpenClawInstance> {
    let api = h.api::<OpenClawInstance>();
    let deadline = tokio::time::Instant::now() + ADOPTION_TIMEOUT;
    loop {
        let mut adopted = Vec::new();
        let mut missing = Vec::new();
        for p in presets {
            let i = api.get(&p.name).await.expect("instance");
            match not_adopted(&i, p.suspended()) {
                None => adopted.push(i),
                Some(why) => missing.push(why),
            }
        }
        if missing.is_empty() {
            return adopted;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "ADOPTION FAILED: after {ADOPTION_TIMEOUT:?} these Go-operator instances are not \
             Running/Ready under our controller:\n  {}",
            missing.join("\n  ")
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The fixture is what the Go operator leaves: finalizer, Go status, `manager` owning the
/// objects with `Update`, `httpGet` probes.
async fn assert_go_shaped(h: &Harness, go: &GoInstance) {
    let i = h
        .api::<OpenClawInstance>()
        .get(&go.name)
        .await
        .expect("instance");
    assert!(i.finalizers().iter().any(|f| f == GO_FINALIZER));
    assert!(go_fleet::managed_by(&i, GO_MANAGER, Some("status")));
    assert!(go_fleet::managed_by(&i, go_fleet::KUBECTL_MANAGER, None));
    let sts = h
        .api::<StatefulSet>()
        .get(&go.name)
        .await
        .expect("statefulset");
    assert!(
        sts.managed_fields()
            .iter()
            .any(|f| f.manager.as_deref() == Some(GO_MANAGER)
                && f.operation.as_deref() == Some("Update")
                && f.subresource.is_none()),
        "{}: the StatefulSet is not owned by `manager` (Update)",
        go.name
    );
    let main = &sts.spec.unwrap().template.spec.unwrap().containers[0];
    assert!(
        main.liveness_probe
            .as_ref()
            .is_some_and(|p| p.http_get.is_some() && p.exec.is_none())
    );
}

/// Every probe of every container has exactly one handler.
fn single_handler_probes(sts: &StatefulSet) -> Result<(), String> {
    let pod = sts
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .ok_or("no pod spec")?;
    for c in pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
    {
        for (kind, probe) in [
            ("liveness", &c.liveness_probe),
            ("readiness", &c.readiness_probe),
            ("startup", &c.startup_probe),
        ] {
            if let Some(p) = probe {
                let handlers = usize::from(p.exec.is_some())
                    + usize::from(p.http_get.is_some())
                    + usize::from(p.tcp_socket.is_some())
                    + usize::from(p.grpc.is_some());
                if handlers != 1 {
                    return Err(format!("{} {kind} probe has {handlers} handlers", c.name));
                }
            }
        }
    }
    Ok(())
}

/// Whether `entries` hold an entry of the Go operator's field manager on `subresource`.
fn go_entries(
    entries: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry],
    subresource: Option<&str>,
) -> bool {
    entries.iter().any(|f| {
        f.manager.as_deref() == Some(GO_MANAGER)
            && f.subresource.as_deref().filter(|s| !s.is_empty()) == subresource
    })
}

async fn pvc_kept(h: &Harness, go: &GoInstance) {
    let Some(before) = &go.pvc else {
        return;
    };
    let pvc = h
        .api::<PersistentVolumeClaim>()
        .get_opt(&before.name)
        .await
        .expect("get pvc")
        .unwrap_or_else(|| panic!("{}: the data PVC {} was deleted", go.name, before.name));
    assert_eq!(
        pvc.uid().as_deref(),
        Some(before.uid.as_str()),
        "{}: the data PVC is not the same object",
        go.name
    );
    assert!(
        pvc.metadata.deletion_timestamp.is_none(),
        "{}: the data PVC is being deleted",
        go.name
    );
    assert!(
        !pvc.owner_references().iter().any(|o| o.uid == go.uid),
        "{}: the data PVC is still owned by the deleted instance (garbage collection will \
         delete it): {:?}",
        go.name,
        pvc.owner_references()
    );
}

async fn delete_within(h: &Harness, name: &str, timeout: Duration) -> Result<(), String> {
    let api = h.api::<OpenClawInstance>();
    api.delete(name, &DeleteParams::default())
        .await
        .map_err(|e| format!("{name}: delete: {e}"))?;
    match testkit::wait_for_deletion(&api, name, timeout).await {
        Ok(()) => Ok(()),
        Err(_) => {
            let left = api.get_opt(name).await.ok().flatten();
            Err(format!(
                "{name} still exists {timeout:?} after its deletion: finalizers {:?}, phase {:?}",
                left.as_ref().map(|i| i.finalizers().to_vec()),
                left.as_ref()
                    .and_then(|i| i.status.as_ref())
                    .and_then(|s| s.phase.clone()),
            ))
        }
    }
}

#[tokio::test]
async fn go_fleet_is_adopted_without_rollout_or_data_loss() {
    let Some(mut h) = Harness::namespace_only("adopt").await else {
        return;
    };
    // Dropped first: a failed run must not leave the namespace stuck on the Go finalizer.
    let _release = FinalizerGuard::new(h.ns.name()).with_persistent_volumes(&[pv_name(&h)]);
    let presets = presets(&h).await;
    fixtures(&h, &presets).await;

    // What the Go operator 0.38.3 left, before our controller exists.
    let fleet = go_fleet::create_fleet(&h.client, h.ns.name(), &presets, TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("creating the Go fleet: {e}"));
    for go in &fleet {
        assert_go_shaped(&h, go).await;
    }
    eprintln!(
        "Go fleet: {:?}",
        fleet
            .iter()
            .map(|g| (&g.name, &g.phase, g.revisions))
            .collect::<Vec<_>>()
    );

    // 1. Our controller takes over.
    h.start_controller();
    wait_adopted(&h, &presets).await;
    h.settle(Duration::from_secs(3)).await;

    // 2. Nothing the users depend on changed; at most one rollout.
    let mut problems = Vec::new();
    for go in &fleet {
        let ns = h.ns.name();
        if let Some(token) = &go.gateway_token {
            let now = go_fleet::secret_value(
                &h.client,
                ns,
                &format!("{}-gateway-token", go.name),
                "token",
            )
            .await
            .expect("token");
            if now.as_ref() != Some(token) {
                problems.push(format!("{}: the gateway token changed", go.name));
            }
        }
        if let Some(password) = &go.basic_auth_password {
            let now = go_fleet::secret_value(
                &h.client,
                ns,
                &format!("{}-basic-auth", go.name),
                "password",
            )
            .await
            .expect("password");
            if now.as_ref() != Some(password) {
                problems.push(format!("{}: the basic-auth password changed", go.name));
            }
        }
        if let Some(before) = &go.pvc {
            let pvc = h
                .api::<PersistentVolumeClaim>()
                .get(&before.name)
                .await
                .expect("pvc");
            let volume = pvc.spec.as_ref().and_then(|s| s.volume_name.clone());
            if pvc.uid().as_deref() != Some(before.uid.as_str()) || volume != before.volume_name {
                problems.push(format!(
                    "{}: the data PVC was replaced ({:?}/{volume:?} vs {before:?})",
                    go.name,
                    pvc.uid()
                ));
            }
        }
        let revisions = go_fleet::revisions(&h.client, ns, &go.name)
            .await
            .expect("revisions");
        if revisions > go.revisions + 1 {
            problems.push(format!(
                "{}: {} rollouts (ControllerRevisions {} -> {revisions})",
                go.name,
                revisions - go.revisions,
                go.revisions
            ));
        }
        let sts = h.api::<StatefulSet>().get(&go.name).await.expect("sts");
        if let Err(e) = single_handler_probes(&sts) {
            problems.push(format!("{}: {e}", go.name));
        }
        // The Go operator's field manager is taken over (once): none of its entries is left
        // on the objects we apply, nor on the instance's status.
        let service = h.api::<Service>().get(&go.name).await.expect("service");
        let config = h
            .api::<ConfigMap>()
            .get(&format!("{}-config", go.name))
            .await
            .expect("config map");
        let instance = h
            .api::<OpenClawInstance>()
            .get(&go.name)
            .await
            .expect("instance");
        for (what, left) in [
            ("StatefulSet", go_entries(sts.managed_fields(), None)),
            ("Service", go_entries(service.managed_fields(), None)),
            ("ConfigMap", go_entries(config.managed_fields(), None)),
            (
                "instance status",
                go_entries(instance.managed_fields(), Some("status")),
            ),
        ] {
            if left {
                problems.push(format!(
                    "{}: the {what} still has a `{GO_MANAGER}` managedFields entry",
                    go.name
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "ADOPTION CHANGED USER-VISIBLE STATE:\n  {}",
        problems.join("\n  ")
    );

    // Converged: a forced reconcile of every instance writes nothing.
    h.counter.reset();
    for go in &fleet {
        h.poke(&go.name, "adopted").await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        h.counter.writes(),
        0,
        "ADOPTION NOT CONVERGED: a reconcile after the adoption wrote: {:?}",
        h.counter.write_log()
    );

    // 3. Deletion completes (the Go finalizer does not hang it) and keeps the data PVC.
    let results = join_all(
        fleet
            .iter()
            .map(|go| delete_within(&h, &go.name, DELETION_TIMEOUT)),
    )
    .await;
    let hung: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(
        hung.is_empty(),
        "DELETION OF ADOPTED INSTANCES HANGS:\n  {}",
        hung.join("\n  ")
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    for go in &fleet {
        pvc_kept(&h, go).await;
    }
}

#[tokio::test]
async fn skip_backup_deletion_of_a_go_instance_completes_at_once() {
    let Some(mut h) = Harness::namespace_only("adopt-skip").await else {
        return;
    };
    let _release = FinalizerGuard::new(h.ns.name());
    let minimal = go_fleet::fleet()
        .expect("presets")
        .into_iter()
        .find(|p| p.name == "demo")
        .expect("the minimal sample");
    fixtures(&h, &[]).await;
    let preset = Preset::new("quick", minimal.spec).annotate(SKIP_BACKUP, "true");
    let go = go_fleet::create_preset(&h.client, h.ns.name(), &preset, TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("creating the Go instance: {e}"));
    assert_go_shaped(&h, &go).await;

    h.start_controller();
    // Our controller has seen the instance (whatever it concluded).
    testkit::wait_for(
        &h.api::<OpenClawInstance>(),
        "quick",
        reported_by_us,
        TIMEOUT,
    )
    .await
    .unwrap_or_else(|e| panic!("our controller never reported on the Go instance: {e}"));

    if let Err(e) = delete_within(&h, "quick", SKIP_BACKUP_TIMEOUT).await {
        panic!("DELETION WITH {SKIP_BACKUP}=true DID NOT COMPLETE AT ONCE: {e}");
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    pvc_kept(&h, &go).await;
}
