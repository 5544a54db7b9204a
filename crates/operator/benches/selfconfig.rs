//! The self-configuration controller's pure planning: one batch of requests (the most that
//! wait at a time by default) against an instance whose `managedFields` already hold a GitOps
//! tool's and self-configuration's items. `cargo bench -p openclaw-operator --bench selfconfig`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use openclaw_api::OpenClawInstance;
use openclaw_api::selfconfig::OpenClawSelfConfig;
use openclaw_operator::controller::selfconfig_plan::{FIELD_MANAGER, Request, plan};
use serde_json::{Map, Value, json};

fn main() {
    divan::main();
}

fn set(items: impl Iterator<Item = String>) -> Value {
    Value::Object(items.map(|k| (k, json!({}))).collect::<Map<_, _>>())
}

fn instance() -> OpenClawInstance {
    let skills: Vec<String> = (0..10).map(|i| format!("skill-{i}")).collect();
    let env: Vec<Value> = (0..20)
        .map(|i| json!({"name": format!("VAR_{i}"), "value": "x"}))
        .collect();
    let fields = |range: std::ops::Range<usize>| {
        json!({"f:spec": {
            "f:skills": set(range.clone().map(|i| format!("v:\"skill-{i}\""))),
            "f:env": set(range.map(|i| format!("k:{{\"name\":\"VAR_{i}\"}}"))),
        }})
    };
    serde_json::from_value(json!({
        "apiVersion": "openclaw.rocks/v1alpha1",
        "kind": "OpenClawInstance",
        "metadata": {"name": "agent", "namespace": "ns", "managedFields": [
            {"manager": "flux", "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": fields(0..5)},
            {"manager": FIELD_MANAGER, "operation": "Apply", "fieldsType": "FieldsV1", "fieldsV1": fields(5..10)},
        ]},
        "spec": {
            "skills": skills,
            "env": env,
            "config": {"raw": {"agents": {"defaults": {"timeoutSeconds": 300}}}},
            "selfConfigure": {"enabled": true, "allowedActions": ["skills", "config", "workspaceFiles", "envVars"]},
        },
    }))
    .unwrap()
}

fn requests() -> Vec<OpenClawSelfConfig> {
    (0..10)
        .map(|i| {
            serde_json::from_value(json!({
                "apiVersion": "openclaw.rocks/v1alpha1",
                "kind": "OpenClawSelfConfig",
                "metadata": {"name": format!("r{i}"), "namespace": "ns"},
                "spec": {
                    "instanceRef": "agent",
                    "addSkills": [format!("new-{i}")],
                    "removeSkills": [format!("skill-{i}")],
                    "addEnvVars": [{"name": format!("NEW_{i}"), "value": "1"}],
                    "configPatch": {"agents": {"defaults": {"timeoutSeconds": 300 + i}}},
                    "addWorkspaceFiles": {format!("note-{i}.md"): "hello"},
                },
            }))
            .unwrap()
        })
        .collect()
}

/// Ten requests, each touching every category, planned as one batch.
#[divan::bench]
fn batch_of_ten(bencher: divan::Bencher) {
    let instance = instance();
    let requests = requests();
    bencher.bench(|| {
        let batch: Vec<Request<'_>> = requests
            .iter()
            .map(|r| Request {
                object: r,
                size: 400,
                identity: Ok(()),
            })
            .collect();
        let p = plan(divan::black_box(&instance), &batch);
        assert!(p.apply.is_some());
        p
    });
}
