#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::FieldsV1;

fn instance(spec: Value, managed: Vec<(&str, &str, Value)>) -> OpenClawInstance {
    let managed: Vec<Value> = managed
        .into_iter()
        .map(|(manager, op, fields)| {
            json!({"manager": manager, "operation": op, "apiVersion": "openclaw.rocks/v1alpha1",
                   "fieldsType": "FieldsV1", "fieldsV1": fields, "time": "2026-12-07T01:00:00Z"})
        })
        .collect();
    serde_json::from_value(json!({
        "apiVersion": "openclaw.rocks/v1alpha1",
        "kind": "OpenClawInstance",
        "metadata": {"name": "agent", "namespace": "ns", "managedFields": managed},
        "spec": spec,
    }))
    .unwrap()
}

fn enabled(mut spec: Value) -> Value {
    spec["selfConfigure"] = json!({
        "enabled": true,
        "allowedActions": ["skills", "config", "workspaceFiles", "envVars"],
    });
    spec
}

fn request(name: &str, spec: Value) -> OpenClawSelfConfig {
    let mut spec = spec;
    spec["instanceRef"] = json!("agent");
    serde_json::from_value(json!({
        "apiVersion": "openclaw.rocks/v1alpha1",
        "kind": "OpenClawSelfConfig",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": spec,
    }))
    .unwrap()
}

fn run(instance: &OpenClawInstance, requests: &[OpenClawSelfConfig]) -> Plan {
    let batch: Vec<Request<'_>> = requests
        .iter()
        .map(|r| Request {
            object: r,
            size: 100,
            identity: Ok(()),
        })
        .collect();
    plan(instance, &batch)
}

/// The fieldsV1 a real API server writes for skills, env entries and files.
fn selfconfig_fields(skills: &[&str], env: &[&str], files: &[&str]) -> Value {
    let mut spec = Map::new();
    if !skills.is_empty() {
        let items: Map<String, Value> = skills
            .iter()
            .map(|s| (format!("v:{}", json!(s)), json!({})))
            .collect();
        spec.insert("f:skills".into(), Value::Object(items));
    }
    if !env.is_empty() {
        let items: Map<String, Value> = env
            .iter()
            .map(|n| {
                (
                    format!("k:{}", json!({"name": n})),
                    json!({".": {}, "f:name": {}, "f:value": {}}),
                )
            })
            .collect();
        spec.insert("f:env".into(), Value::Object(items));
    }
    if !files.is_empty() {
        let items: Map<String, Value> = files
            .iter()
            .map(|f| (format!("f:{f}"), json!({})))
            .collect();
        spec.insert(
            "f:workspace".into(),
            json!({"f:initialFiles": Value::Object(items)}),
        );
    }
    json!({"f:spec": spec})
}

#[test]
fn owned_items_are_read_from_real_managed_fields() {
    let mut fields = selfconfig_fields(&["skill-a", "@scope/b"], &["FOO"], &["notes.md"]);
    fields["f:spec"]["f:config"] =
        json!({"f:raw": {".": {}, "f:agents": {"f:defaults": {"f:model": {}}}}});
    let i = instance(json!({}), vec![(FIELD_MANAGER, "Apply", fields)]);
    let owned = Owned::read(i.metadata.managed_fields.as_deref().unwrap());
    assert_eq!(
        owned.skills,
        BTreeSet::from(["skill-a".to_string(), "@scope/b".to_string()])
    );
    assert_eq!(owned.env, BTreeSet::from(["FOO".to_string()]));
    assert_eq!(owned.files, BTreeSet::from(["notes.md".to_string()]));
    assert!(
        owned
            .config
            .at(&["f:agents", "f:defaults", "f:model"])
            .is_some()
    );
    // The Go operator's unit tests used unquoted items; they still read.
    let fields = json!({"f:spec": {"f:skills": {"v:plain": {}}}});
    let i = instance(json!({}), vec![(FIELD_MANAGER, "Apply", fields)]);
    let owned = Owned::read(i.metadata.managed_fields.as_deref().unwrap());
    assert!(owned.skills.contains("plain"));
}

#[test]
fn adding_a_skill_keeps_the_others_and_applies_only_what_self_config_owns() {
    let i = instance(
        enabled(json!({"skills": ["user-skill"]})),
        vec![(
            "kubectl",
            "Apply",
            json!({"f:spec": {"f:skills": {"v:\"user-skill\"": {}}}}),
        )],
    );
    let p = run(&i, &[request("r1", json!({"addSkills": ["new-skill"]}))]);
    assert_eq!(p.outcomes, vec![Outcome::Applied("changes applied".into())]);
    let body = p.apply.unwrap();
    assert_eq!(body["spec"], json!({"skills": ["new-skill"]}));
    assert_eq!(
        body["metadata"],
        json!({"name": "agent", "namespace": "ns"})
    );
}

#[test]
fn a_second_request_keeps_the_first_ones_items() {
    // After the first request, self-config owns skill-2 and env FOO.
    let i = instance(
        enabled(json!({"skills": ["skill-1", "skill-2"], "env": [{"name": "FOO", "value": "1"}]})),
        vec![
            (
                "kubectl",
                "Apply",
                selfconfig_fields(&["skill-1"], &[], &[]),
            ),
            (
                FIELD_MANAGER,
                "Apply",
                selfconfig_fields(&["skill-2"], &["FOO"], &[]),
            ),
        ],
    );
    let p = run(&i, &[request("r2", json!({"addSkills": ["skill-3"]}))]);
    let body = p.apply.unwrap();
    assert_eq!(
        body["spec"],
        json!({"skills": ["skill-2", "skill-3"], "env": [{"name": "FOO", "value": "1"}]})
    );
}

#[test]
fn removals_of_owned_items_apply_and_others_warn_naming_the_manager() {
    let i = instance(
        enabled(json!({"skills": ["gitops-skill", "mine"]})),
        vec![
            (
                "flux",
                "Apply",
                selfconfig_fields(&["gitops-skill"], &[], &[]),
            ),
            (
                FIELD_MANAGER,
                "Apply",
                selfconfig_fields(&["mine"], &[], &[]),
            ),
        ],
    );
    let p = run(
        &i,
        &[request(
            "r",
            json!({"removeSkills": ["mine", "gitops-skill", "absent"]}),
        )],
    );
    let Outcome::Applied(message) = &p.outcomes[0] else {
        panic!("{:?}", p.outcomes)
    };
    assert!(
        message.contains(
            "cannot remove skill \"gitops-skill\": managed by field manager \"flux\" (Apply)"
        ),
        "{message}"
    );
    assert!(message.contains("\"absent\": it is not set"), "{message}");
    assert!(!message.contains("\"mine\""), "{message}");
    // Nothing left to own: the apply drops the field, so the API server removes "mine".
    assert_eq!(p.apply.unwrap()["spec"], json!({}));
    assert_eq!(
        p.instance_events
            .iter()
            .filter(|e| e.1 == "SelfConfigSkippedRemoval")
            .count(),
        2
    );
}

#[test]
fn policy_denials_and_failures() {
    let disabled = instance(json!({"selfConfigure": {"enabled": false}}), vec![]);
    let p = run(&disabled, &[request("r", json!({"addSkills": ["a"]}))]);
    assert!(matches!(&p.outcomes[0], Outcome::Denied(m) if m.contains("not enabled")));
    assert!(p.apply.is_none());

    let only_skills = instance(
        json!({"selfConfigure": {"enabled": true, "allowedActions": ["skills"]}}),
        vec![],
    );
    let p = run(
        &only_skills,
        &[request(
            "r",
            json!({"configPatch": {"agents": {}}, "addEnvVars": [{"name": "A", "value": "1"}]}),
        )],
    );
    assert_eq!(
        p.outcomes[0],
        Outcome::Denied(
            "actions not allowed on instance agent: config, envVars (spec.selfConfigure.allowedActions: [skills])".into()
        )
    );
    let none = instance(json!({"selfConfigure": {"enabled": true}}), vec![]);
    let p = run(&none, &[request("r", json!({"addSkills": ["a"]}))]);
    assert!(matches!(&p.outcomes[0], Outcome::Denied(m) if m.contains("allowedActions: []")));

    let i = instance(enabled(json!({})), vec![]);
    let p = run(&i, &[request("r", json!({}))]);
    assert_eq!(
        p.outcomes[0],
        Outcome::Failed("the request contains no actions".into())
    );
    for (spec, needle) in [
        (json!({"configPatch": {"gateway": {"port": 1}}}), "gateway"),
        (
            json!({"addEnvVars": [{"name": "HOME", "value": "/"}]}),
            "HOME",
        ),
        (json!({"removeEnvVars": ["PATH"]}), "PATH"),
        (json!({"addWorkspaceFiles": {"../escape": "x"}}), "escape"),
        (json!({"addSkills": [""]}), "addSkills"),
    ] {
        let p = run(&i, &[request("r", spec.clone())]);
        assert!(
            matches!(&p.outcomes[0], Outcome::Denied(m) if m.contains(needle)),
            "{spec}: {:?}",
            p.outcomes
        );
        assert!(p.apply.is_none(), "{spec}");
    }
    // Too big.
    let r = request("r", json!({"addSkills": ["a"]}));
    let p = plan(
        &i,
        &[Request {
            object: &r,
            size: 70_000,
            identity: Ok(()),
        }],
    );
    assert!(matches!(&p.outcomes[0], Outcome::Denied(m) if m.contains("70000 bytes")));
    // Identity.
    let p = plan(
        &i,
        &[Request {
            object: &r,
            size: 10,
            identity: Err("not yours".into()),
        }],
    );
    assert_eq!(p.outcomes[0], Outcome::Denied("not yours".into()));
}

#[test]
fn env_entries_keep_references_and_replace_plain_values() {
    let i = instance(
        enabled(json!({"env": [
            {"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            {"name": "PLAIN", "value": "old"},
        ]})),
        vec![],
    );
    let p = run(
        &i,
        &[request(
            "r",
            json!({"addEnvVars": [{"name": "SECRET", "value": "x"}]}),
        )],
    );
    assert!(matches!(&p.outcomes[0], Outcome::Denied(m) if m.contains("valueFrom")));
    let p = run(
        &i,
        &[request(
            "r",
            json!({"addEnvVars": [{"name": "PLAIN", "value": "new"}, {"name": "ADDED", "value": "1"}]}),
        )],
    );
    assert_eq!(
        p.apply.unwrap()["spec"],
        json!({"env": [{"name": "PLAIN", "value": "new"}, {"name": "ADDED", "value": "1"}]})
    );
}

#[test]
fn config_patches_merge_and_only_the_patched_leaves_are_applied() {
    let i = instance(
        enabled(
            json!({"config": {"raw": {"agents": {"defaults": {"workspace": "~/w", "model": {"primary": "a"}}}}}}),
        ),
        vec![],
    );
    let p = run(
        &i,
        &[request(
            "r",
            json!({"configPatch": {"agents": {"defaults": {"model": {"primary": "b"}}}}}),
        )],
    );
    assert_eq!(p.outcomes[0], Outcome::Applied("changes applied".into()));
    assert_eq!(
        p.apply.unwrap()["spec"],
        json!({"config": {"raw": {"agents": {"defaults": {"model": {"primary": "b"}}}}}})
    );
    // A key OpenClaw does not know makes the instance invalid: denied before any apply.
    let p = run(&i, &[request("r", json!({"configPatch": {"bogusKey": 1}}))]);
    assert!(
        matches!(&p.outcomes[0], Outcome::Denied(m) if m.contains("bogusKey")),
        "{:?}",
        p.outcomes
    );
    assert!(p.apply.is_none());
    // So does an unknown key deeper down, or a value of the wrong type: OpenClaw's own schema
    // (of the instance's version) names the path.
    for (patch, needle) in [
        (
            json!({"agents": {"defaults": {"bogus": 1}}}),
            "spec.config.raw.agents.defaults: Unrecognized key: \"bogus\"",
        ),
        (
            json!({"channels": {"telegram": {"botToken": 5}}}),
            "spec.config.raw.channels.telegram.botToken",
        ),
        (
            json!({"logging": {"level": "verbose"}}),
            "spec.config.raw.logging.level",
        ),
    ] {
        let p = run(&i, &[request("r", json!({ "configPatch": patch }))]);
        assert!(
            matches!(&p.outcomes[0], Outcome::Denied(m) if m.contains(needle)),
            "{needle}: {:?}",
            p.outcomes
        );
        assert!(p.apply.is_none());
    }
    // Nulls and ConfigMap-sourced config.
    let p = run(
        &i,
        &[request(
            "r",
            json!({"configPatch": {"agents": {"defaults": null}}}),
        )],
    );
    assert!(matches!(&p.outcomes[0], Outcome::Failed(m) if m.contains("agents.defaults")));
    let cm = instance(
        enabled(json!({"config": {"configMapRef": {"name": "cfg", "key": "openclaw.json"}}})),
        vec![],
    );
    let p = run(&cm, &[request("r", json!({"configPatch": {"agents": {}}}))]);
    assert!(matches!(&p.outcomes[0], Outcome::Failed(m) if m.contains("ConfigMap \"cfg\"")));
}

#[test]
fn a_batch_builds_each_request_on_the_previous_and_skips_the_bad_ones() {
    let i = instance(enabled(json!({})), vec![]);
    let p = run(
        &i,
        &[
            request("a", json!({"addSkills": ["one"]})),
            request("b", json!({"addEnvVars": [{"name": "HOME", "value": "/"}]})),
            request(
                "c",
                json!({"addSkills": ["two"], "addWorkspaceFiles": {"x.md": "hi"}}),
            ),
        ],
    );
    assert_eq!(p.outcomes[0].phase(), "Applied");
    assert_eq!(p.outcomes[1].phase(), "Denied");
    assert_eq!(p.outcomes[2].phase(), "Applied");
    assert_eq!(
        p.apply.unwrap()["spec"],
        json!({"skills": ["one", "two"], "workspace": {"initialFiles": {"x.md": "hi"}}})
    );
}

#[test]
fn nothing_to_change_means_no_apply() {
    // Re-processing a request after a restart: it is already in place.
    let i = instance(
        enabled(json!({"skills": ["one"]})),
        vec![(
            FIELD_MANAGER,
            "Apply",
            selfconfig_fields(&["one"], &[], &[]),
        )],
    );
    let p = run(&i, &[request("a", json!({"addSkills": ["one"]}))]);
    assert_eq!(p.outcomes[0].phase(), "Applied");
    assert!(p.apply.is_none());
}

#[test]
fn identity_rule() {
    let agents = BTreeMap::from([(agent_username("ns", "other"), "other".to_string())]);
    let me = agent_username("ns", "agent");
    assert_eq!(
        identity(Some(&me), "agent", "ns", "agent", &agents),
        Some(Ok(()))
    );
    let other = agent_username("ns", "other");
    assert!(matches!(
        identity(Some(&other), "agent", "ns", "agent", &agents),
        Some(Err(m)) if m.contains("instance other")
    ));
    assert_eq!(
        identity(Some("alice"), "agent", "ns", "agent", &agents),
        None
    );
    assert!(
        matches!(identity(None, "agent", "ns", "agent", &agents), Some(Err(m)) if m.contains("webhook"))
    );
}

#[test]
fn limits_default_and_read() {
    let i = instance(enabled(json!({})), vec![]);
    assert_eq!(
        Limits::of(&i),
        Limits {
            min_interval: DEFAULT_MIN_INTERVAL,
            max_pending: DEFAULT_MAX_PENDING,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES
        }
    );
    let mut spec = enabled(json!({}));
    spec["selfConfigure"]["minApplyInterval"] = json!("2s");
    spec["selfConfigure"]["maxPendingRequests"] = json!(3);
    spec["selfConfigure"]["maxRequestBytes"] = json!(2048);
    let l = Limits::of(&instance(spec, vec![]));
    assert_eq!(l.min_interval, Duration::from_secs(2));
    assert_eq!((l.max_pending, l.max_request_bytes), (3, 2048));
    let _ = FieldsV1(json!({}));
}
