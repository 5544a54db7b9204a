//! The bad inputs a new user tried (issue "lifecycle foundation"), with no webhook in front:
//! each is refused by the CRD schema with a readable message, or ends `Failed` with a Warning
//! event and a message naming the field — never an empty phase or a debug dump.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::Harness;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Event;
use kube::api::ListParams;
use openclaw_api::OpenClawInstance;
use serde_json::{Value, json};

fn with(extra: Value) -> Value {
    let mut spec = json!({"image": {"tag": "2026.9.6"}});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            s.insert(k.clone(), v.clone());
        }
    }
    spec
}

fn readable(message: &str) {
    for dump in ["ApiError", "Status {", "ErrorResponse", "Some(", "code: "] {
        assert!(!message.contains(dump), "debug dump in {message:?}");
    }
}

#[tokio::test]
async fn bad_inputs_end_failed_with_an_event_and_a_readable_message() {
    let Some(h) = Harness::start("bad-input").await else {
        return;
    };
    let cases = [
        (
            "secret-name",
            with(json!({"envFrom": [{"secretRef": {"name": "Bad_Name!"}}]})),
            "spec.envFrom[0].secretRef.name",
        ),
        (
            "pvc-size",
            with(json!({"storage": {"persistence": {"size": "-10Gi"}}})),
            "spec.storage.persistence.size",
        ),
        (
            "cpu",
            with(json!({"resources": {"requests": {"cpu": "-1"}}})),
            "spec.resources.requests",
        ),
        (
            "metrics-port",
            with(json!({"observability": {"metrics": {"enabled": true, "port": 70000}}})),
            "spec.observability.metrics.port",
        ),
    ];
    for (name, spec, field) in cases {
        if let Err(e) = testkit::apply_instance(&h.client, h.ns.name(), name, spec).await {
            // Refused by the CRD schema: the API server's own readable message.
            let message = match e {
                testkit::Error::Kube(kube::Error::Api(s)) => s.message,
                other => panic!("{name}: unexpected error {other}"),
            };
            assert!(
                message.contains(field),
                "{name}: {field} not in {message:?}"
            );
            continue;
        }
        let failed = h.wait_phase(name, "Failed").await;
        let ready = failed
            .status
            .and_then(|s| s.conditions)
            .into_iter()
            .flatten()
            .find(|c| c.type_ == "Ready")
            .expect("Ready");
        assert_eq!(ready.reason, "InvalidSpec", "{name}");
        assert!(
            ready.message.contains(field),
            "{name}: {field} not in {:?}",
            ready.message
        );
        readable(&ready.message);
        let events = h
            .api::<Event>()
            .list(&ListParams::default().fields(&format!("involvedObject.name={name}")))
            .await
            .expect("events");
        assert!(
            events
                .items
                .iter()
                .any(|e| e.reason.as_deref() == Some("InvalidSpec")
                    && e.type_.as_deref() == Some("Warning")),
            "{name}: an InvalidSpec Warning event"
        );
        assert!(
            h.api::<StatefulSet>()
                .get_opt(name)
                .await
                .expect("get")
                .is_none(),
            "{name}: nothing rolled out"
        );
    }
    // Nothing is retried in a loop: a settled namespace writes nothing more.
    h.settle(Duration::from_secs(3)).await;
    let instances = h
        .api::<OpenClawInstance>()
        .list(&ListParams::default())
        .await
        .expect("list");
    for i in instances.items {
        assert!(
            i.status
                .and_then(|s| s.phase)
                .is_some_and(|p| !p.is_empty()),
            "{} has a phase",
            i.metadata.name.unwrap_or_default()
        );
    }
}
