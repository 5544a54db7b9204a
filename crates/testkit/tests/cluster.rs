//! Integration tests against a real control plane (`hack/control-plane/cluster.sh up`).
//! Each test skips when no cluster is reachable, unless OPENCLAW_REQUIRE_CLUSTER is set.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, PostParams,
};
use kube::runtime::conditions;
use kube::runtime::wait::Condition as _;
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(90);

fn widget_crd() -> serde_json::Result<CustomResourceDefinition> {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.testkit.openclaw.dev"},
        "spec": {
            "group": "testkit.openclaw.dev",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget", "listKind": "WidgetList"},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1",
                "served": true,
                "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "properties": {"size": {"type": "integer", "minimum": 1}},
                            "required": ["size"]
                        }
                    }
                }},
                "subresources": {"status": {}}
            }]
        }
    }))
}

fn pod_template(labels: serde_json::Value, restart_policy: &str) -> serde_json::Value {
    json!({
        "metadata": {"labels": labels},
        "spec": {
            "restartPolicy": restart_policy,
            "containers": [{"name": "main", "image": "registry.invalid/fake:1"}]
        }
    })
}

#[tokio::test]
async fn crd_installs_and_is_established() {
    let Some(cluster) = testkit::cluster().await else {
        return;
    };
    let crd = widget_crd().expect("valid CRD");
    cluster
        .install_crds(std::slice::from_ref(&crd), TIMEOUT)
        .await
        .expect("CRD installs and becomes Established");
    // Installing again is an idempotent server-side apply.
    cluster
        .install_crds(&[crd], TIMEOUT)
        .await
        .expect("CRD re-install");

    let crds: Api<CustomResourceDefinition> = Api::all(cluster.client());
    let established = crds
        .get("widgets.testkit.openclaw.dev")
        .await
        .expect("get CRD");
    assert!(
        conditions::is_crd_established().matches_object(Some(&established)),
        "{established:?}"
    );

    // The new resource is served: create and validate a Widget.
    let ns = cluster.namespace("crd").await.expect("namespace");
    let gvk = GroupVersionKind::gvk("testkit.openclaw.dev", "v1", "Widget");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "widgets");
    let widgets: Api<DynamicObject> = Api::namespaced_with(cluster.client(), ns.name(), &ar);
    let widget = DynamicObject::new("w1", &ar).data(json!({"spec": {"size": 3}}));
    widgets
        .create(&PostParams::default(), &widget)
        .await
        .expect("create Widget");
    let invalid = DynamicObject::new("w2", &ar).data(json!({"spec": {"size": 0}}));
    let err = widgets
        .create(&PostParams::default(), &invalid)
        .await
        .expect_err("schema validation rejects size 0");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 422),
        "{err:?}"
    );
    ns.cleanup().await.expect("cleanup");
}

#[tokio::test]
async fn server_side_apply_round_trips_without_spurious_updates() {
    let Some(cluster) = testkit::cluster().await else {
        return;
    };
    let ns = cluster.namespace("ssa").await.expect("namespace");
    let cms = ns.api::<ConfigMap>();
    let manager = "testkit-ssa-test";
    let params = PatchParams::apply(manager);
    let desired = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "applied", "labels": {"app": "ssa"}},
        "data": {"a": "1", "b": "2"}
    });

    let first = cms
        .patch("applied", &params, &Patch::Apply(&desired))
        .await
        .expect("first apply");
    let data = first.data.clone().unwrap_or_default();
    assert_eq!(data.get("a").map(String::as_str), Some("1"));
    assert_eq!(data.get("b").map(String::as_str), Some("2"));
    let managers: Vec<_> = first
        .metadata
        .managed_fields
        .iter()
        .flatten()
        .filter(|m| m.manager.as_deref() == Some(manager))
        .map(|m| m.operation.clone().unwrap_or_default())
        .collect();
    assert_eq!(managers, ["Apply"], "{:?}", first.metadata.managed_fields);

    let second = cms
        .patch("applied", &params, &Patch::Apply(&desired))
        .await
        .expect("second apply");
    assert_eq!(
        first.metadata.resource_version, second.metadata.resource_version,
        "an identical apply must not change the object"
    );

    // A changed apply does change it, and removing a field we own removes it.
    let changed = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "applied"},
        "data": {"a": "10"}
    });
    let third = cms
        .patch("applied", &params, &Patch::Apply(&changed))
        .await
        .expect("third apply");
    assert_ne!(
        second.metadata.resource_version,
        third.metadata.resource_version
    );
    let data = third.data.unwrap_or_default();
    assert_eq!(data.get("a").map(String::as_str), Some("10"));
    assert!(!data.contains_key("b"), "{data:?}");
    ns.cleanup().await.expect("cleanup");
}

#[tokio::test]
async fn statefulset_gets_bound_pvc_and_ready_pod() {
    let Some(cluster) = testkit::cluster().await else {
        return;
    };
    let ns = cluster.namespace("sts").await.expect("namespace");
    let sts: StatefulSet = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {
            "serviceName": "web",
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": pod_template(json!({"app": "web"}), "Always"),
            "volumeClaimTemplates": [{
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}}
                }
            }]
        }
    }))
    .expect("valid StatefulSet");
    let statefulsets = ns.api::<StatefulSet>();
    statefulsets
        .create(&PostParams::default(), &sts)
        .await
        .expect("create StatefulSet");

    let ready = testkit::wait_for(
        &statefulsets,
        "web",
        |s: &StatefulSet| s.status.as_ref().and_then(|st| st.ready_replicas) == Some(1),
        TIMEOUT,
    )
    .await
    .expect("StatefulSet becomes ready");
    assert_eq!(ready.status.and_then(|s| s.available_replicas), Some(1));

    let pvc = testkit::wait_for(
        &ns.api::<PersistentVolumeClaim>(),
        "data-web-0",
        |p: &PersistentVolumeClaim| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
        },
        TIMEOUT,
    )
    .await
    .expect("the volumeClaimTemplate's PVC is bound");
    assert!(pvc.spec.and_then(|s| s.volume_name).is_some());

    let pod = testkit::wait_for(
        &ns.api::<Pod>(),
        "web-0",
        |p: &Pod| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        },
        TIMEOUT,
    )
    .await
    .expect("pod web-0 is Ready");
    let status = pod.status.unwrap_or_default();
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert!(
        pod.spec
            .and_then(|s| s.node_name)
            .is_some_and(|n| n.starts_with("kwok-node-")),
        "scheduled onto a kwok node"
    );
    ns.cleanup().await.expect("cleanup");
}

#[tokio::test]
async fn plain_pvc_is_bound_by_the_default_storage_class() {
    let Some(cluster) = testkit::cluster().await else {
        return;
    };
    let ns = cluster.namespace("pvc").await.expect("namespace");
    let pvcs = ns.api::<PersistentVolumeClaim>();
    let pvc: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": "plain"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}
    }))
    .expect("valid PVC");
    pvcs.create(&PostParams::default(), &pvc)
        .await
        .expect("create PVC");
    let bound = testkit::wait_for(
        &pvcs,
        "plain",
        |p: &PersistentVolumeClaim| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound")
        },
        TIMEOUT,
    )
    .await
    .expect("PVC is bound");
    assert_eq!(
        bound.spec.and_then(|s| s.storage_class_name).as_deref(),
        Some("kwok-volume")
    );
    ns.cleanup().await.expect("cleanup");
}

#[tokio::test]
async fn job_completes() {
    let Some(cluster) = testkit::cluster().await else {
        return;
    };
    let ns = cluster.namespace("job").await.expect("namespace");
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": "once"},
        "spec": {
            "backoffLimit": 0,
            "template": pod_template(json!({"app": "once"}), "Never")
        }
    }))
    .expect("valid Job");
    let jobs = ns.api::<Job>();
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create Job");
    let done = testkit::wait_for_condition(&jobs, "once", conditions::is_job_completed(), TIMEOUT)
        .await
        .expect("Job completes")
        .expect("Job exists");
    assert_eq!(done.status.and_then(|s| s.succeeded), Some(1));
    ns.cleanup().await.expect("cleanup");
}

#[tokio::test]
async fn deleting_an_owner_garbage_collects_its_dependents() {
    let Some(cluster) = testkit::cluster().await else {
        return;
    };
    let ns = cluster.namespace("gc").await.expect("namespace");
    let cms = ns.api::<ConfigMap>();
    let owner: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "owner"}})).expect("valid ConfigMap");
    let owner = cms
        .create(&PostParams::default(), &owner)
        .await
        .expect("create owner");
    let owner_ref = OwnerReference {
        api_version: "v1".to_owned(),
        kind: "ConfigMap".to_owned(),
        name: "owner".to_owned(),
        uid: owner.metadata.uid.clone().expect("uid"),
        ..OwnerReference::default()
    };
    for name in ["dependent-1", "dependent-2"] {
        let mut dependent: ConfigMap =
            serde_json::from_value(json!({"metadata": {"name": name}})).expect("valid ConfigMap");
        dependent.metadata.owner_references = Some(vec![owner_ref.clone()]);
        cms.create(&PostParams::default(), &dependent)
            .await
            .expect("create dependent");
    }

    cms.delete("owner", &DeleteParams::background())
        .await
        .expect("delete owner");
    for name in ["dependent-1", "dependent-2"] {
        testkit::wait_for_deletion(&cms, name, TIMEOUT)
            .await
            .expect("the garbage collector deletes the dependent");
    }
    ns.cleanup().await.expect("cleanup");
}

#[tokio::test]
async fn write_counter_counts_writes_and_not_reads() {
    let Some(cluster) = testkit::cluster().await else {
        return;
    };
    let ns = cluster.namespace("count").await.expect("namespace");
    let (client, counter) = cluster.counting_client().expect("counting client");
    let cms: Api<ConfigMap> = Api::namespaced(client, ns.name());

    // Pure reads: no writes.
    cms.list(&ListParams::default()).await.expect("list");
    let _ = cms.get_opt("missing").await.expect("get");
    assert_eq!(counter.writes(), 0, "{:?}", counter.write_log());
    assert_eq!(counter.reads(), 2);

    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "counted"}})).expect("valid ConfigMap");
    cms.create(&PostParams::default(), &cm)
        .await
        .expect("create");
    cms.patch(
        "counted",
        &PatchParams::apply("testkit-counter"),
        &Patch::Apply(json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "counted"}, "data": {"k": "v"}
        })),
    )
    .await
    .expect("apply");
    cms.delete("counted", &DeleteParams::default())
        .await
        .expect("delete");
    assert_eq!(counter.writes(), 3, "{:?}", counter.write_log());
    let log = counter.write_log();
    assert!(log[0].starts_with("POST "), "{log:?}");
    assert!(log[1].starts_with("PATCH "), "{log:?}");
    assert!(log[2].starts_with("DELETE "), "{log:?}");

    counter.reset();
    assert_eq!(counter.writes(), 0);
    cms.get_opt("counted").await.expect("get");
    assert_eq!(counter.writes(), 0);
    assert_eq!(counter.reads(), 1);
    ns.cleanup().await.expect("cleanup");
}

#[tokio::test]
async fn temporary_namespaces_are_unique_and_deleted() {
    let Some(cluster) = testkit::cluster().await else {
        return;
    };
    let a = cluster.namespace("unique").await.expect("namespace a");
    let b = cluster.namespace("unique").await.expect("namespace b");
    assert_ne!(a.name(), b.name());
    let names = [a.name().to_owned(), b.name().to_owned()];
    a.cleanup().await.expect("cleanup a");
    drop(b); // deleted on drop
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(cluster.client());
    for name in names {
        // Deleted or at least terminating (the namespace controller finishes it).
        let ns = namespaces.get_opt(&name).await.expect("get namespace");
        assert!(
            ns.is_none_or(|ns| ns.metadata.deletion_timestamp.is_some()),
            "namespace {name} was not deleted"
        );
    }
}
