//! The shared controller runtime against the real control plane: one malformed object does
//! not stop a watch, and a second controller runs beside the instance controller on the same
//! runtime.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, StreamExt};
use kube::ResourceExt;
use kube::api::{Api, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::controller::{Action, Controller};
use openclaw_api::OpenClawInstance;
use openclaw_api::selfconfig::OpenClawSelfConfig;
use openclaw_operator::controller::{self, Options, Runtime, Scope, Start};
use serde_json::json;
use tokio::sync::mpsc;

mod common;

use common::{Harness, TIMEOUT};

/// A spec the CRD schema accepts (`format: int32` is not enforced by the API server) but the
/// Rust type refuses: `maxUnavailable` does not fit an `i32`.
fn malformed() -> serde_json::Value {
    json!({
        "image": {"tag": "2026.9.6"},
        "availability": {"podDisruptionBudget": {"maxUnavailable": 3_000_000_000u64}}
    })
}

fn plain() -> serde_json::Value {
    json!({"image": {"tag": "2026.9.6"}})
}

/// The instances, untyped (for one the typed client cannot read).
fn untyped(h: &Harness) -> kube::Api<kube::api::DynamicObject> {
    use kube::api::{ApiResource, GroupVersionKind};
    let resource = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("openclaw.rocks", "v1alpha1", "OpenClawInstance"),
        "openclawinstances",
    );
    kube::Api::namespaced_with(h.client.clone(), h.ns.name(), &resource)
}

/// Wait for `status.phase` of an instance the typed client cannot read.
async fn untyped_phase(h: &Harness, name: &str, phase: &str) -> serde_json::Value {
    let api = untyped(h);
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    loop {
        if let Ok(o) = api.get(name).await {
            let v = serde_json::to_value(&o).expect("json");
            if v["status"]["phase"] == phase {
                return v;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} never reached {phase}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

#[tokio::test]
async fn a_malformed_instance_does_not_stop_the_watch() {
    let Some(mut h) = Harness::namespace_only("rt-lenient").await else {
        return;
    };
    // Stored before the controller starts: its first list holds it.
    h.apply_instance("broken", malformed()).await;
    let typed = h.api::<OpenClawInstance>().get("broken").await;
    assert!(
        typed.is_err(),
        "the malformed instance parses; pick another value: {typed:?}"
    );
    h.apply_instance("good", plain()).await;
    h.start_controller();
    h.wait_phase("good", "Running").await;
    // The unreadable one is reported, not left without a phase.
    let broken = untyped_phase(&h, "broken", "Failed").await;
    let ready = broken["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["type"] == "Ready")
        .cloned()
        .expect("Ready");
    assert_eq!(ready["reason"], "InvalidSpec");
    let message = ready["message"].as_str().unwrap_or_default();
    assert!(message.contains("cannot be read"), "{message}");

    // A malformed modification of a running instance: it is dropped from the cache (so nothing
    // acts on its stale copy) and the watch goes on; once fixed, it is reconciled again.
    h.apply_instance("good", malformed()).await;
    h.apply_instance("later", plain()).await;
    h.wait_phase("later", "Running").await;
    h.apply_instance("broken", plain()).await;
    h.wait_phase("broken", "Running").await;
    h.apply_instance(
        "good",
        json!({"image": {"tag": "2026.9.6"}, "suspended": true}),
    )
    .await;
    h.wait_phase("good", "Suspended").await;

    // An unreadable instance being deleted is never held by the finalizer.
    h.apply_instance("broken", malformed()).await;
    untyped_phase(&h, "broken", "Failed").await;
    let api = untyped(&h);
    let _ = api
        .delete("broken", &kube::api::DeleteParams::background())
        .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let gone = loop {
        match api.get_opt("broken").await {
            Ok(None) => break Ok(()),
            _ if std::time::Instant::now() > deadline => break Err("still there after 15 s"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
        }
    };
    gone.expect("an unreadable instance deletes at once");
}

/// A second controller on the shared runtime: it sees its own kind through the runtime's
/// lenient watch, the runtime's instance cache, and writes only once active.
fn probe(seen: mpsc::UnboundedSender<(String, usize)>) -> Start {
    Box::new(move |rt: &Runtime| {
        const NAME: &str = "probe";
        rt.metrics.register_controller(NAME, 1);
        let (store, events) = rt.watch_crd::<OpenClawSelfConfig>();
        let ctx = Arc::new((rt.stores.instances.clone(), rt.active.clone(), seen));
        let controller = Controller::for_stream(events.applied_objects(), store)
            .reconcile_all_on(rt.active.became_active())
            .graceful_shutdown_on(rt.shutdown.clone());
        let metrics = rt.metrics.clone();
        async move {
            controller
                .run(
                    move |request: Arc<OpenClawSelfConfig>, ctx| {
                        let metrics = metrics.clone();
                        async move {
                            let ns = request.namespace().unwrap_or_default();
                            metrics.reconcile_started(NAME, &ns, &request.name_any());
                            if ctx.1.is_active() {
                                let instances = ctx.0.state().len();
                                let _ = ctx.2.send((request.name_any(), instances));
                            }
                            metrics.reconcile_finished(
                                NAME,
                                &ns,
                                &request.name_any(),
                                openclaw_operator::metrics::Outcome::Success,
                                false,
                            );
                            Ok::<_, kube::Error>(Action::await_change())
                        }
                    },
                    |_, _, _| Action::await_change(),
                    ctx,
                )
                .for_each(|_| async {})
                .await;
        }
        .boxed()
    })
}

#[tokio::test]
async fn a_second_controller_joins_the_runtime() {
    let Some(h) = Harness::namespace_only("rt-second").await else {
        return;
    };
    h.apply_instance("target", plain()).await;
    let (tx, mut seen) = mpsc::unbounded_channel();
    let options = Options::standalone(Scope::namespace(h.ns.name()), 2);
    let metrics = options.metrics.clone();
    let client = h.client.clone();
    let mut controllers = controller::controllers(&options);
    controllers.push(probe(tx));
    let running = tokio::spawn(controller::run_controllers(client, options, controllers));

    let request: OpenClawSelfConfig = serde_json::from_value(json!({
        "apiVersion": "openclaw.rocks/v1alpha1",
        "kind": "OpenClawSelfConfig",
        "metadata": {"name": "ask"},
        "spec": {"instanceRef": "target", "addSkills": ["x"]},
    }))
    .unwrap();
    Api::<OpenClawSelfConfig>::namespaced(h.client.clone(), h.ns.name())
        .create(&PostParams::default(), &request)
        .await
        .expect("self-config created");
    let (name, instances) = tokio::time::timeout(TIMEOUT, seen.recv())
        .await
        .expect("the probe reconciled in time")
        .expect("the probe is running");
    assert_eq!(name, "ask");
    assert_eq!(instances, 1, "the runtime's instance cache is shared");
    // The instance controller runs unchanged beside it.
    h.wait_phase("target", "Running").await;
    let text = metrics.encode().unwrap();
    assert!(
        text.contains(
            "controller_runtime_reconcile_total{controller=\"probe\",result=\"success\"}"
        ),
        "{text}"
    );
    assert!(text.contains("controller_runtime_reconcile_total{controller=\"openclawinstance\""));
    running.abort();
    let _ = tokio::time::timeout(Duration::from_secs(5), running).await;
}
