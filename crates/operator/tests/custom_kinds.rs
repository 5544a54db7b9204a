//! The optional CRD-backed kinds over their CRDs' lifecycle (its own test binary: it deletes
//! and re-installs cluster-scoped CRDs, and test binaries run one after another).
//!
//! Without the CRDs an instance wanting a ServiceMonitor, a PrometheusRule, an HTTPRoute and a
//! Traefik Ingress still reaches Running, with each condition False (`CRDNotInstalled`,
//! `GatewayAPINotInstalled`, `TraefikMiddlewareCRDNotInstalled`) and no reconcile error.
//! Once the CRDs are installed, the objects appear within one discovery poll and the conditions
//! turn True; switching the features off deletes the objects and removes the conditions.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Harness, TIMEOUT};
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use openclaw_api::OpenClawInstance;
use serde_json::json;

fn condition(i: &OpenClawInstance, type_: &str) -> Option<(String, String)> {
    i.status
        .as_ref()?
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

const CONDITIONS: [(&str, &str); 4] = [
    ("ServiceMonitorReady", "CRDNotInstalled"),
    ("PrometheusRuleReady", "CRDNotInstalled"),
    ("HTTPRouteReady", "GatewayAPINotInstalled"),
    ("IngressReady", "TraefikMiddlewareCRDNotInstalled"),
];

#[tokio::test]
async fn optional_kinds_follow_their_crds() {
    let Some(cluster) = testkit::cluster().await else {
        return;
    };
    if testkit::third_party::load().is_none() {
        assert!(!testkit::cluster_required(), "third-party CRDs unavailable");
        return;
    }
    testkit::third_party::uninstall(cluster.client(), TIMEOUT)
        .await
        .expect("CRDs removed");
    let Some(h) = Harness::start("custom-kinds").await else {
        return;
    };
    let spec = json!({
        "image": {"tag": "2026.9.6"},
        "observability": {"metrics": {
            "serviceMonitor": {"enabled": true},
            "prometheusRule": {"enabled": true}}},
        "networking": {
            "ingress": {"enabled": true, "className": "traefik", "hosts": [{"host": "c.example.com"}],
                "security": {"enableHSTS": true}},
            "httpRoute": {"enabled": true, "parentRefs": [{"name": "gw"}]}}
    });
    h.apply_instance("ck", spec.clone()).await;
    let api = h.api::<OpenClawInstance>();
    let absent = testkit::wait_for(
        &api,
        "ck",
        |i: &OpenClawInstance| {
            i.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
                && CONDITIONS
                    .iter()
                    .all(|(c, r)| condition(i, c) == Some(("False".into(), (*r).into())))
        },
        TIMEOUT,
    )
    .await
    .unwrap_or_else(|e| panic!("never Running with the CRD conditions: {e}"));
    assert_eq!(
        condition(&absent, "Ready").map(|c| c.0),
        Some("True".into()),
        "a missing optional CRD is not a failure"
    );

    // Install the CRDs: within one discovery poll (30 s) the objects exist.
    testkit::third_party::install(cluster.client(), TIMEOUT)
        .await
        .expect("CRDs installed");
    let present = testkit::wait_for(
        &api,
        "ck",
        |i: &OpenClawInstance| {
            CONDITIONS
                .iter()
                .all(|(c, _)| condition(i, c).is_some_and(|s| s.0 == "True"))
        },
        Duration::from_secs(90),
    )
    .await
    .unwrap_or_else(|e| panic!("conditions never turned True after the CRDs came: {e}"));
    assert_eq!(
        present.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Running")
    );
    let dynamic = |group: &str, version: &str, kind: &str, plural: &str| {
        Api::<DynamicObject>::namespaced_with(
            h.client.clone(),
            h.ns.name(),
            &ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(group, version, kind),
                plural,
            ),
        )
    };
    let objects = [
        (
            dynamic(
                "monitoring.coreos.com",
                "v1",
                "ServiceMonitor",
                "servicemonitors",
            ),
            "ck",
        ),
        (
            dynamic(
                "monitoring.coreos.com",
                "v1",
                "PrometheusRule",
                "prometheusrules",
            ),
            "ck-alerts",
        ),
        (
            dynamic("gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes"),
            "ck",
        ),
        (
            dynamic("traefik.io", "v1alpha1", "Middleware", "middlewares"),
            "ck-headers",
        ),
    ];
    for (api, name) in &objects {
        assert!(api.get_opt(name).await.unwrap().is_some(), "{name} missing");
    }
    h.settle(Duration::from_secs(2)).await;
    h.counter.reset();
    h.poke("ck", "1").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(h.counter.writes(), 0, "{:?}", h.counter.write_log());

    // Switch everything off: objects deleted, conditions removed.
    h.apply_instance("ck", json!({"image": {"tag": "2026.9.6"}}))
        .await;
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    for (api, name) in &objects {
        while api.get_opt(name).await.unwrap().is_some() {
            assert!(tokio::time::Instant::now() < deadline, "{name} not pruned");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    testkit::wait_for(
        &api,
        "ck",
        |i: &OpenClawInstance| CONDITIONS.iter().all(|(c, _)| condition(i, c).is_none()),
        TIMEOUT,
    )
    .await
    .expect("conditions removed");
}
