//! Behaviour of `render`: apply order, ownership, the config hash, errors, cluster defaults and
//! the form of the rendered objects.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::*;
use openclaw_api::OpenClawClusterDefaultsSpec;
use openclaw_api::defaults::apply_cluster_defaults;
use openclaw_render::{Object, Observed, RenderError, managed_kinds, render};
use serde_json::{Value, json};

fn kinds<'a>(objects: impl Iterator<Item = &'a Object>) -> Vec<&'static str> {
    objects.map(Object::kind).collect()
}

#[test]
fn apply_order_and_names() {
    let r = render_ok(&instance(minimal()), &observed());
    let names: Vec<(&str, &str)> = r.iter().map(|o| (o.kind(), o.name())).collect();
    assert_eq!(
        names,
        [
            ("ServiceAccount", "demo"),
            ("Role", "demo"),
            ("RoleBinding", "demo"),
            ("NetworkPolicy", "demo"),
            ("Secret", "demo-gateway-token"),
            ("ConfigMap", "demo-config"),
            ("ConfigMap", "demo-workspace"),
            ("PersistentVolumeClaim", "demo-data"),
            ("PodDisruptionBudget", "demo"),
            ("StatefulSet", "demo"),
            ("Service", "demo"),
        ]
    );
    // Every rendered kind is a managed kind, and only PVCs are exempt from pruning.
    for o in r.iter() {
        let k = managed_kinds().iter().find(|k| k.kind == o.kind()).unwrap();
        assert_eq!(k.prune, o.kind() != "PersistentVolumeClaim");
        let v = o.to_value().unwrap();
        assert_eq!(v["apiVersion"], k.api_version, "{}", o.kind());
    }
}

#[test]
fn switched_off_features_render_nothing() {
    let r = render_ok(
        &minimal_with(json!({
            "security": {"networkPolicy": {"enabled": false}, "rbac": {"createServiceAccount": false}},
            "storage": {"persistence": {"enabled": false}},
            "availability": {"podDisruptionBudget": {"enabled": false}},
            "gateway": {"existingSecret": "mine"}
        })),
        &Observed {
            gateway_token: None,
            ..observed()
        },
    );
    assert_eq!(
        kinds(r.iter()),
        ["ConfigMap", "ConfigMap", "StatefulSet", "Service"]
    );
    let sts = statefulset(&r);
    let pod = sts.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    // No ServiceAccount of ours and none named: the namespace default account.
    assert_eq!(pod.service_account_name, None);
    let data = pod
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.name == "data")
        .unwrap();
    assert!(data.empty_dir.is_some());
}

#[test]
fn labels_and_owner_references() {
    for orphan in [None, Some(false), Some(true)] {
        let mut patch = json!({});
        if let Some(o) = orphan {
            patch = json!({"storage": {"persistence": {"orphan": o}}});
        }
        let r = render_ok(&minimal_with(patch), &observed());
        for o in r.iter() {
            let meta = o.metadata();
            assert_eq!(meta.labels.as_ref(), Some(&openclaw_render::labels("demo")));
            assert_eq!(meta.namespace.as_deref(), Some("default"));
            let owners = meta.owner_references.clone().unwrap_or_default();
            let is_pvc = o.kind() == "PersistentVolumeClaim";
            if is_pvc && orphan != Some(false) {
                assert!(owners.is_empty(), "the data PVC must outlive the instance");
                continue;
            }
            assert_eq!(owners.len(), 1, "{}", o.kind());
            let owner = &owners[0];
            assert_eq!(owner.api_version, "openclaw.rocks/v1alpha1");
            assert_eq!(owner.kind, "OpenClawInstance");
            assert_eq!(owner.name, "demo");
            assert_eq!(owner.uid, "6c1f0f9e-0000-4000-8000-000000000001");
            assert_eq!(owner.controller, Some(true));
            assert_eq!(owner.block_owner_deletion, Some(true));
        }
    }
    assert_eq!(
        openclaw_render::selector_labels("x"),
        BTreeMap::from([
            ("app.kubernetes.io/instance".to_string(), "x".to_string()),
            ("app.kubernetes.io/name".to_string(), "openclaw".to_string()),
        ])
    );
    assert_eq!(openclaw_render::FIELD_MANAGER, "openclaw-operator");
}

/// A workspace-only change: same config hash, and the StatefulSet does not change at all (so
/// the pod is not restarted); only the workspace ConfigMap differs.
#[test]
fn workspace_edits_do_not_touch_the_pod() {
    let before = minimal_with(json!({"workspace": {"initialFiles": {"SOUL.md": "v1"}}}));
    let variants = [
        json!({"workspace": {"initialFiles": {"SOUL.md": "v2"}}}),
        json!({"workspace": {"initialFiles": {"SOUL.md": "v1", "notes/new.md": "x"}}}),
        json!({"workspace": {"initialFiles": {}, "initialDirectories": ["memory"]}}),
        json!({"workspace": {"bootstrap": {"enabled": false}}}),
        json!({"workspace": {"additionalWorkspaces": [{"name": "research", "initialFiles": {"A.md": "a"}}]}}),
        json!({"workspace": {"configMapRef": {"name": "files"}}}),
    ];
    let r0 = render_ok(&before, &observed());
    for patch in variants {
        let after = minimal_with(patch.clone());
        let observed = Observed {
            workspace_files: BTreeMap::from([("TOOLS.md".into(), "t".into())]),
            ..observed()
        };
        let r1 = render_ok(&after, &observed);
        assert_eq!(r0.config_hash, r1.config_hash, "{patch}");
        assert_eq!(statefulset(&r0), statefulset(&r1), "{patch}");
        assert_eq!(
            config_map(&r0, "-config"),
            config_map(&r1, "-config"),
            "{patch}"
        );
        assert_ne!(
            config_map(&r0, "-workspace"),
            config_map(&r1, "-workspace"),
            "{patch}"
        );
    }
}

#[test]
fn config_changes_change_the_hash() {
    let base = render_ok(&instance(minimal()), &observed()).config_hash;
    let variants = [
        json!({"config": {"raw": {"session": {"scope": "per-sender"}}}}),
        json!({"config": {"mergeMode": "merge"}}),
        json!({"gateway": {"enabled": false}}),
        json!({"gateway": {"controlUiOrigins": ["https://agent.example.com"]}}),
        json!({"networking": {"ingress": {"enabled": true, "hosts": [{"host": "a.example.com"}]}}}),
    ];
    let mut seen = vec![base.clone()];
    for patch in variants {
        let h = render_ok(&minimal_with(patch.clone()), &observed()).config_hash;
        assert!(!seen.contains(&h), "{patch} gives a hash seen before");
        seen.push(h);
    }
    // forcePaths only matter in merge mode, and then they do.
    let merge = |fp: Value| {
        render_ok(
            &minimal_with(json!({"config": {"mergeMode": "merge", "forcePaths": fp}})),
            &observed(),
        )
        .config_hash
    };
    assert_ne!(merge(json!([])), merge(json!(["gateway"])));
    // Ingress hosts count only when the Ingress is enabled.
    let disabled = render_ok(
        &minimal_with(
            json!({"networking": {"ingress": {"enabled": false, "hosts": [{"host": "a.example.com"}]}}}),
        ),
        &observed(),
    );
    assert_eq!(disabled.config_hash, base);
    // External config content is part of the hash.
    let external = |text: &str| {
        render_ok(
            &minimal_with(json!({"config": {"configMapRef": {"name": "cfg"}}})),
            &Observed {
                external_config: Some(text.into()),
                ..observed()
            },
        )
        .config_hash
    };
    assert_ne!(
        external("{}"),
        external(r#"{"session": {"scope": "global"}}"#)
    );
}

#[test]
fn the_token_stays_out_of_config_and_hash() {
    let a = render_ok(&instance(minimal()), &observed());
    let b = render_ok(
        &instance(minimal()),
        &Observed {
            gateway_token: Some("another-token".into()),
            ..observed()
        },
    );
    assert_eq!(a.config_hash, b.config_hash);
    assert_eq!(statefulset(&a), statefulset(&b));
    let text = &config_map(&a, "-config").data.as_ref().unwrap()["openclaw.json"];
    assert!(!text.contains(TOKEN));
    assert_eq!(
        openclaw_json(&a)["gateway"]["auth"]["token"],
        "${OPENCLAW_GATEWAY_TOKEN}"
    );
}

#[test]
fn secret_hash_annotation() {
    let annotations = |hash: &str| {
        let r = render_ok(
            &instance(minimal()),
            &Observed {
                secret_hash: hash.into(),
                ..observed()
            },
        );
        statefulset(&r)
            .spec
            .as_ref()
            .unwrap()
            .template
            .metadata
            .as_ref()
            .unwrap()
            .annotations
            .clone()
            .unwrap()
    };
    assert_eq!(annotations("abc")["openclaw.rocks/secret-hash"], "abc");
    assert!(!annotations("").contains_key("openclaw.rocks/secret-hash"));
}

#[test]
fn operator_annotations_win_over_pod_annotations() {
    let r = render_ok(
        &minimal_with(
            json!({"podAnnotations": {"openclaw.rocks/config-hash": "mine", "team": "a"}}),
        ),
        &observed(),
    );
    let ann = statefulset(&r)
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .clone()
        .unwrap();
    assert_eq!(ann["openclaw.rocks/config-hash"], r.config_hash);
    assert_eq!(ann["team"], "a");
}

fn external(format: Option<&str>, text: &str) -> Result<openclaw_render::Rendered, RenderError> {
    let mut config = json!({"configMapRef": {"name": "cfg", "key": "config.json"}});
    if let Some(f) = format {
        config["format"] = json!(f);
    }
    render(
        &minimal_with(json!({"config": config})),
        &Observed {
            external_config: Some(text.into()),
            ..observed()
        },
    )
}

#[test]
fn invalid_external_config_is_an_error() {
    for text in ["{", "null", "[]", "\"x\"", "42", "{\"a\": 1,}", "// c\n{}"] {
        match external(None, text) {
            Err(RenderError::InvalidConfig(msg)) => {
                assert!(
                    msg.contains("ConfigMap \"cfg\" key \"config.json\""),
                    "{msg}"
                )
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
    for text in ["[1, 2]", "null", "'s'"] {
        assert!(
            matches!(
                external(Some("json5"), text),
                Err(RenderError::InvalidConfig(_))
            ),
            "{text}"
        );
    }
}

/// The external config is checked against OpenClaw's own schema of the instance's version
/// after enrichment (admission cannot see it): a config the gateway would refuse is not
/// rendered, with OpenClaw's path; JSON5 too; the skip annotation lets it through.
#[test]
fn external_config_openclaw_rejects_is_refused_with_its_path() {
    for (format, text) in [
        (None, r#"{"agents": {"defaults": {"bogus": 1}}}"#),
        (Some("json5"), "{agents: {defaults: {bogus: 1}}}"),
    ] {
        match external(format, text) {
            Err(RenderError::InvalidConfig(msg)) => {
                assert!(
                    msg.contains("OpenClaw 2026.9.6 rejects the config from ConfigMap \"cfg\"")
                        && msg.contains("agents.defaults: Unrecognized key: \"bogus\""),
                    "{msg}"
                );
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    let mut skipped =
        minimal_with(json!({"config": {"configMapRef": {"name": "cfg", "key": "config.json"}}}));
    skipped.metadata.annotations = Some(
        [(
            openclaw_api::validation::SKIP_CONFIG_CHECK_ANNOTATION.to_string(),
            "true".to_string(),
        )]
        .into(),
    );
    let r = render(
        &skipped,
        &Observed {
            external_config: Some(r#"{"agents": {"defaults": {"bogus": 1}}}"#.into()),
            ..observed()
        },
    )
    .expect("the annotation skips the check");
    assert_eq!(openclaw_json(&r)["agents"]["defaults"]["bogus"], 1);
    // An image older than every supported version is not checked (no schema for it).
    let old = render(
        &minimal_with(json!({"image": {"tag": "2026.2.3"},
            "config": {"raw": {"agents": {"defaults": {"sandbox": true}}}}})),
        &observed(),
    );
    assert!(old.is_ok(), "{old:?}");
}

#[test]
fn external_json_is_enriched() {
    // The Go operator skipped enrichment for configMapRef at one point (no gateway auth).
    let r = external(None, r#"{"session": {"scope": "global"}}"#).unwrap();
    let cfg = openclaw_json(&r);
    assert_eq!(cfg["session"]["scope"], "global");
    assert_eq!(cfg["gateway"]["mode"], "local");
    assert_eq!(cfg["gateway"]["auth"]["mode"], "token");
    // Empty content counts as an empty config.
    let r = external(None, "  \n").unwrap();
    assert_eq!(openclaw_json(&r)["gateway"]["bind"], "loopback");
}

#[test]
fn json5_is_converted_and_enriched() {
    let r = external(
        Some("json5"),
        "{gateway: {bind: 'lan', /* keep */}, agents: {},}",
    )
    .unwrap();
    let cfg = openclaw_json(&r);
    assert_eq!(cfg["gateway"]["bind"], "lan");
    assert_eq!(cfg["gateway"]["mode"], "local");
    assert_eq!(cfg["diagnostics"]["otel"]["enabled"], true);
    assert!(
        r.warnings.iter().all(|w| w.contains("diagnostics-otel")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn unparsable_json5_is_used_verbatim() {
    let text = "{a: NaN, b: Infinity}";
    let r = external(Some("json5"), text).unwrap();
    let data = config_map(&r, "-config").data.clone().unwrap();
    assert_eq!(data["openclaw.json"], text);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("could not parse this JSON5")),
        "{:?}",
        r.warnings
    );
    // The token still reaches the gateway through the environment.
    let sts = statefulset(&r);
    let main = container(sts, "openclaw").unwrap();
    assert!(
        main.env
            .as_ref()
            .unwrap()
            .iter()
            .any(|e| e.name == "OPENCLAW_GATEWAY_TOKEN")
    );
}

#[test]
fn missing_inputs_are_errors() {
    let r = render(
        &minimal_with(json!({"config": {"configMapRef": {"name": "cfg"}}})),
        &observed(),
    );
    assert!(
        matches!(r, Err(RenderError::MissingExternalConfig(ref m)) if m.contains("\"cfg\"")),
        "{r:?}"
    );

    let r = render(
        &instance(minimal()),
        &Observed {
            gateway_token: None,
            ..observed()
        },
    );
    assert_eq!(r, Err(RenderError::MissingGatewayToken));
    let r = render(
        &instance(minimal()),
        &Observed {
            gateway_token: Some(String::new()),
            ..observed()
        },
    );
    assert_eq!(r, Err(RenderError::MissingGatewayToken));

    for field in ["name", "namespace", "uid"] {
        let mut i = instance(minimal());
        match field {
            "name" => i.metadata.name = None,
            "namespace" => i.metadata.namespace = Some(String::new()),
            _ => i.metadata.uid = None,
        }
        assert_eq!(
            render(&i, &observed()),
            Err(RenderError::MissingMetadata(field))
        );
    }
}

#[test]
fn auth_modes_and_the_token_variable() {
    let token_env = |raw: Value, env: Value| {
        let r = render_ok(
            &minimal_with(json!({"config": {"raw": raw}, "env": env})),
            &observed(),
        );
        let sts = statefulset(&r);
        container(sts, "openclaw")
            .unwrap()
            .env
            .clone()
            .unwrap()
            .into_iter()
            .filter(|e| e.name == "OPENCLAW_GATEWAY_TOKEN")
            .collect::<Vec<_>>()
    };
    let from_secret = token_env(json!({}), json!([]));
    assert_eq!(from_secret.len(), 1);
    let sel = from_secret[0]
        .value_from
        .as_ref()
        .unwrap()
        .secret_key_ref
        .as_ref()
        .unwrap();
    assert_eq!(
        (sel.name.as_str(), sel.key.as_str()),
        ("demo-gateway-token", "token")
    );
    // trusted-proxy refuses a shared token; password/none do not use one.
    for mode in ["trusted-proxy", "password", "none"] {
        assert!(
            token_env(json!({"gateway": {"auth": {"mode": mode}}}), json!([])).is_empty(),
            "{mode}"
        );
    }
    // The user's own variable wins.
    let own = token_env(
        json!({}),
        json!([{"name": "OPENCLAW_GATEWAY_TOKEN", "value": "x"}]),
    );
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].value.as_deref(), Some("x"));
    // existingSecret: the variable reads the user's Secret.
    let r = render_ok(
        &minimal_with(json!({"gateway": {"existingSecret": "my-token"}})),
        &Observed {
            gateway_token: None,
            ..observed()
        },
    );
    let env = container(statefulset(&r), "openclaw")
        .unwrap()
        .env
        .clone()
        .unwrap();
    let e = env
        .iter()
        .find(|e| e.name == "OPENCLAW_GATEWAY_TOKEN")
        .unwrap();
    assert_eq!(
        e.value_from
            .as_ref()
            .unwrap()
            .secret_key_ref
            .as_ref()
            .unwrap()
            .name,
        "my-token"
    );
    assert!(!r.iter().any(|o| o.kind() == "Secret"));
}

#[test]
fn cluster_defaults_merge_is_idempotent() {
    let defaults: OpenClawClusterDefaultsSpec = serde_json::from_value(json!({
        "registry": "mirror.example.com",
        "image": {"repository": "mirror.example.com/openclaw", "tag": "2026.9.6", "pullSecrets": [{"name": "p"}]},
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
        "runtimeDeps": {"python": true}
    }))
    .unwrap();
    let observed = Observed {
        cluster_defaults: Some(defaults.clone()),
        ..observed()
    };
    let mut value = minimal();
    value["spec"] = json!({"env": [{"name": "B", "value": "mine"}], "image": {"tag": "latest"}});
    let raw = instance(value);
    let mut merged = raw.clone();
    merged.spec = apply_cluster_defaults(&raw.spec, Some(&defaults));
    let a = render_ok(&raw, &observed);
    let b = render_ok(&merged, &observed);
    assert_eq!(a, b);
    let main = container(statefulset(&a), "openclaw").unwrap();
    assert_eq!(
        main.image.as_deref(),
        Some("mirror.example.com/openclaw:2026.9.6")
    );
    let env: Vec<(String, Option<String>)> = main
        .env
        .clone()
        .unwrap()
        .into_iter()
        .filter(|e| e.name == "A" || e.name == "B")
        .map(|e| (e.name, e.value))
        .collect();
    assert_eq!(
        env,
        [
            ("A".into(), Some("1".into())),
            ("B".into(), Some("mine".into()))
        ]
    );
}

#[test]
fn registry_override_applies_to_every_image() {
    let r = render_ok(
        &minimal_with(json!({"registry": "registry.internal:5000/"})),
        &observed(),
    );
    let pod = statefulset(&r).spec.clone().unwrap().template.spec.unwrap();
    let images: Vec<String> = pod
        .init_containers
        .unwrap()
        .into_iter()
        .chain(pod.containers)
        .map(|c| c.image.unwrap())
        .collect();
    assert_eq!(
        images,
        [
            "registry.internal:5000/openclaw/openclaw:2026.9.6",
            "registry.internal:5000/openclaw/openclaw:2026.9.6",
            "registry.internal:5000/nginx:1.27-alpine",
            "registry.internal:5000/otel/opentelemetry-collector:0.120.0",
        ]
    );
}

#[test]
fn digest_pins_the_image() {
    let r = render_ok(
        &minimal_with(json!({"image": {"tag": "2026.9.6", "digest": "sha256:0123abcd"}})),
        &observed(),
    );
    let main = container(statefulset(&r), "openclaw").unwrap();
    assert_eq!(
        main.image.as_deref(),
        Some("ghcr.io/openclaw/openclaw@sha256:0123abcd")
    );
}

#[test]
fn quantities_are_canonical() {
    let r = render_ok(
        &minimal_with(json!({
            "resources": {"requests": {"cpu": "0.5", "memory": "1024Mi"}, "limits": {"cpu": "2000m", "memory": "4096Mi"}},
            "storage": {"persistence": {"size": "10240Mi"}}
        })),
        &observed(),
    );
    let main = container(statefulset(&r), "openclaw").unwrap();
    let res = serde_json::to_value(main.resources.as_ref().unwrap()).unwrap();
    assert_eq!(
        res,
        json!({"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}})
    );
    let pvc = r
        .iter()
        .find(|o| o.kind() == "PersistentVolumeClaim")
        .unwrap();
    assert_eq!(
        pvc.to_value().unwrap()["spec"]["resources"]["requests"]["storage"],
        "10Gi"
    );
}

#[test]
fn invalid_quantities_fall_back_with_a_warning() {
    let r = render_ok(
        &minimal_with(
            json!({"resources": {"requests": {"cpu": "lots"}, "limits": {"memory": "8 GB"}}}),
        ),
        &observed(),
    );
    let main = container(statefulset(&r), "openclaw").unwrap();
    let res = serde_json::to_value(main.resources.as_ref().unwrap()).unwrap();
    assert_eq!(res["requests"]["cpu"], "500m");
    assert_eq!(res["limits"]["memory"], "4Gi");
    let quantity_warnings = r.warnings.iter().filter(|w| w.contains("quantity"));
    assert_eq!(quantity_warnings.count(), 2, "{:?}", r.warnings);
}

#[test]
fn a_request_above_the_default_limit_raises_it() {
    let r = render_ok(
        &minimal_with(json!({"resources": {"requests": {"cpu": "3", "memory": "8Gi"}}})),
        &observed(),
    );
    let main = container(statefulset(&r), "openclaw").unwrap();
    let res = serde_json::to_value(main.resources.as_ref().unwrap()).unwrap();
    assert_eq!(res["limits"], json!({"cpu": "3", "memory": "8Gi"}));
}

#[test]
fn suspended_scales_to_zero() {
    let r = render_ok(&minimal_with(json!({"suspended": true})), &observed());
    assert_eq!(statefulset(&r).spec.as_ref().unwrap().replicas, Some(0));
    let r = render_ok(&instance(minimal()), &observed());
    assert_eq!(statefulset(&r).spec.as_ref().unwrap().replicas, Some(1));
}

#[test]
fn proxy_off() {
    let r = render_ok(
        &minimal_with(json!({"gateway": {"enabled": false}})),
        &observed(),
    );
    assert!(
        !config_map(&r, "-config")
            .data
            .as_ref()
            .unwrap()
            .contains_key("nginx.conf")
    );
    assert!(container(statefulset(&r), "gateway-proxy").is_none());
    assert_eq!(openclaw_json(&r)["gateway"]["bind"], "lan");
    let svc = r
        .iter()
        .find(|o| o.kind() == "Service")
        .unwrap()
        .to_value()
        .unwrap();
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 18789);
    assert_eq!(svc["spec"]["ports"][1]["targetPort"], 18793);
    let np = r
        .iter()
        .find(|o| o.kind() == "NetworkPolicy")
        .unwrap()
        .to_value()
        .unwrap();
    assert_eq!(
        np["spec"]["ingress"][0]["ports"],
        json!([{"port": 18789, "protocol": "TCP"}, {"port": 18793, "protocol": "TCP"},
            {"port": 9090, "protocol": "TCP"}])
    );
}

#[test]
fn bind_conflict_is_reported() {
    let r = render_ok(
        &minimal_with(
            json!({"gateway": {"enabled": false}, "config": {"raw": {"gateway": {"bind": "loopback"}}}}),
        ),
        &observed(),
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.starts_with("GatewayBindConflict")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn custom_ports_targeting_loopback_warn() {
    let r = render_ok(
        &minimal_with(
            json!({"networking": {"service": {"ports": [{"name": "gw", "port": 80, "targetPort": 18789}]}}}),
        ),
        &observed(),
    );
    assert!(
        r.warnings.iter().any(|w| w.contains("target 18790")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn self_configure_opens_the_api() {
    let r = render_ok(
        &minimal_with(json!({"selfConfigure": {"enabled": true}})),
        &observed(),
    );
    let sa = r.objects[0].object.to_value().unwrap();
    assert_eq!(sa["automountServiceAccountToken"], true);
    let pod = statefulset(&r).spec.clone().unwrap().template.spec.unwrap();
    assert_eq!(pod.automount_service_account_token, Some(true));
    let np = r
        .iter()
        .find(|o| o.kind() == "NetworkPolicy")
        .unwrap()
        .to_value()
        .unwrap();
    assert!(
        np["spec"]["egress"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["ports"][0]["port"] == 6443)
    );
    let env = container(statefulset(&r), "openclaw")
        .unwrap()
        .env
        .clone()
        .unwrap();
    assert!(
        env.iter()
            .any(|e| e.name == "OPENCLAW_INSTANCE_NAME" && e.value.as_deref() == Some("demo"))
    );
}

/// Values the API server would drop (empty strings and lists) or rewrite make a desired object
/// that never matches the stored one; none may appear.
fn assert_stored_form(value: &Value, path: &str) {
    match value {
        Value::String(s) => assert!(!s.is_empty(), "empty string at {path}"),
        Value::Array(a) => {
            assert!(!a.is_empty(), "empty list at {path}");
            for (i, v) in a.iter().enumerate() {
                assert_stored_form(v, &format!("{path}[{i}]"));
            }
        }
        Value::Object(m) => {
            for (k, v) in m {
                // apiGroups [""] is the core group, a real value.
                if k == "apiGroups" {
                    continue;
                }
                assert_stored_form(v, &format!("{path}.{k}"));
            }
        }
        Value::Null => panic!("null at {path}"),
        _ => {}
    }
}

#[test]
fn objects_are_in_stored_form() {
    let cases = [
        json!({}),
        json!({"gateway": {"enabled": false}, "storage": {"persistence": {"enabled": false}}}),
        json!({"env": [{"name": "E", "value": ""}], "sidecars": [{"name": "s", "image": "x", "args": []}],
               "networking": {"service": {"ports": [{"name": "a", "port": 1, "protocol": ""}]}},
               "security": {"rbac": {"additionalRules": [{"apiGroups": [], "resources": ["pods"], "verbs": ["get"]}]}}}),
        json!({"selfConfigure": {"enabled": true}, "workspace": {"initialFiles": {"a/b.md": "x"}}}),
    ];
    for patch in cases {
        let r = render_ok(&minimal_with(patch.clone()), &observed());
        for o in r.iter() {
            assert_stored_form(&o.to_value().unwrap(), &format!("{patch} {}", o.kind()));
        }
    }
}

#[test]
fn bootstrap_opt_out() {
    let plan = |patch: Value| {
        let r = render_ok(&minimal_with(patch), &observed());
        let data = config_map(&r, "-workspace").data.clone().unwrap();
        serde_json::from_str::<Value>(&data[".operator-seed-plan.json"]).unwrap()
    };
    let files = |p: &Value| {
        p["workspaces"][0]["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(files(&plan(json!({}))), ["BOOTSTRAP.md", "ENVIRONMENT.md"]);
    assert_eq!(
        files(&plan(
            json!({"workspace": {"bootstrap": {"enabled": false}}})
        )),
        ["ENVIRONMENT.md"]
    );
}

#[test]
fn invalid_workspace_paths_are_skipped() {
    let r = render_ok(
        &minimal_with(json!({"workspace": {
            "initialFiles": {"../escape.md": "x", "ok.md": "y", "openclaw.json": "{}"},
            "initialDirectories": ["/abs", "fine/dir"]
        }})),
        &Observed {
            workspace_files: BTreeMap::from([
                ("a/b".into(), "z".into()),
                (".hidden".into(), "h".into()),
            ]),
            ..observed()
        },
    );
    let data = config_map(&r, "-workspace").data.clone().unwrap();
    let plan: Value = serde_json::from_str(&data[".operator-seed-plan.json"]).unwrap();
    let paths: Vec<&str> = plan["workspaces"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["BOOTSTRAP.md", "ENVIRONMENT.md", "ok.md"]);
    assert_eq!(plan["workspaces"][0]["directories"], json!(["fine/dir"]));
    let workspace_warnings = r
        .warnings
        .iter()
        .filter(|w| !w.contains("diagnostics-otel"));
    assert_eq!(workspace_warnings.count(), 5, "{:#?}", r.warnings);
}

#[test]
fn rendering_is_deterministic() {
    let i = minimal_with(json!({"workspace": {"initialFiles": {"b": "1", "a": "2"}},
        "config": {"raw": {"tools": {}, "agents": {"defaults": {}}}}}));
    let a = render_ok(&i, &observed());
    let b = render_ok(&i.clone(), &observed());
    assert_eq!(a, b);
    assert_eq!(to_yaml(&a), to_yaml(&b));
    let text = &config_map(&a, "-config").data.as_ref().unwrap()["openclaw.json"];
    let a_pos = text.find("\"agents\"").unwrap();
    let z_pos = text.find("\"tools\"").unwrap();
    assert!(a_pos < z_pos, "keys sorted");
}

#[test]
fn desired_modes_phases_and_slots() {
    use openclaw_render::{Phase, StatusSlot, WriteMode};
    let r = render_ok(&minimal_with(json!({})), &observed());
    let got: Vec<(&str, WriteMode, Option<StatusSlot>)> = r
        .objects
        .iter()
        .map(|d| (d.object.kind(), d.mode, d.slot))
        .collect();
    use StatusSlot as S;
    use WriteMode::{Apply, CreateOnly};
    assert_eq!(
        got,
        [
            ("ServiceAccount", Apply, Some(S::ServiceAccount)),
            ("Role", Apply, Some(S::Role)),
            ("RoleBinding", Apply, Some(S::RoleBinding)),
            ("NetworkPolicy", Apply, Some(S::NetworkPolicy)),
            ("Secret", CreateOnly, Some(S::GatewayTokenSecret)),
            ("ConfigMap", Apply, Some(S::ConfigMap)),
            ("ConfigMap", Apply, None),
            ("PersistentVolumeClaim", CreateOnly, Some(S::Pvc)),
            ("PodDisruptionBudget", Apply, Some(S::Pdb)),
            ("StatefulSet", Apply, Some(S::StatefulSet)),
            ("Service", Apply, Some(S::Service)),
        ]
    );
    let phases: Vec<Phase> = r.objects.iter().map(|d| d.phase).collect();
    assert!(phases.is_sorted());
    // The minimal instance uses only the features that are on by default (metrics).
    let instance = minimal_with(json!({}));
    let obs = observed();
    let m = openclaw_render::model::Model::new(&instance, &obs).unwrap();
    let on: Vec<&str> = openclaw_render::features::enabled(&m)
        .map(|f| f.name())
        .collect();
    assert_eq!(on, ["otel"]);
}

#[test]
fn custom_objects_serialize_with_their_kind() {
    use openclaw_render::{CustomKind, CustomObject};
    for (kind, api_version, name) in [
        (
            CustomKind::ServiceMonitor,
            "monitoring.coreos.com/v1",
            "ServiceMonitor",
        ),
        (
            CustomKind::PrometheusRule,
            "monitoring.coreos.com/v1",
            "PrometheusRule",
        ),
        (
            CustomKind::TraefikMiddleware,
            "traefik.io/v1alpha1",
            "Middleware",
        ),
        (
            CustomKind::HttpRoute,
            "gateway.networking.k8s.io/v1",
            "HTTPRoute",
        ),
    ] {
        let o = Object::Custom(CustomObject {
            kind,
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some("demo".into()),
                ..Default::default()
            },
            spec: json!({"a": 1}),
        });
        assert_eq!(o.kind(), name);
        assert_eq!(o.name(), "demo");
        assert_eq!(
            o.to_value().unwrap(),
            json!({"apiVersion": api_version, "kind": name, "metadata": {"name": "demo"}, "spec": {"a": 1}})
        );
    }
}

fn workspace_plan(r: &openclaw_render::Rendered) -> Value {
    let data = config_map(r, "-workspace").data.clone().unwrap();
    serde_json::from_str::<Value>(&data[".operator-seed-plan.json"]).unwrap()
}

#[test]
fn self_configure_seeds_its_files_into_the_default_workspace_only() {
    let spec = |enabled: bool| {
        json!({"selfConfigure": {"enabled": enabled, "allowedActions": ["skills", "envVars"]},
               "workspace": {"additionalWorkspaces": [{"name": "research"}]}})
    };
    let r = render_ok(&minimal_with(spec(true)), &observed());
    let plan = workspace_plan(&r);
    let default_files = plan["workspaces"][0]["files"].as_array().unwrap();
    let find = |path: &str| default_files.iter().find(|f| f["path"] == path).cloned();
    assert_eq!(
        find("SELFCONFIG.md").unwrap(),
        json!({"path": "SELFCONFIG.md", "key": "SELFCONFIG.md", "when": "always"})
    );
    assert_eq!(
        find("selfconfig.sh").unwrap(),
        json!({"path": "selfconfig.sh", "key": "selfconfig.sh", "when": "always"})
    );
    assert_eq!(plan["workspaces"][1]["dir"], "workspace-research");
    let additional: Vec<&str> = plan["workspaces"][1]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(additional, ["ENVIRONMENT.md"]);
    let data = config_map(&r, "-workspace").data.clone().unwrap();
    assert_eq!(
        data["selfconfig.sh"],
        openclaw_render::workspace::files::SELFCONFIG_SH
    );
    let md = &data["SELFCONFIG.md"];
    assert!(md.contains("the list was: `skills`, `envVars`."), "{md}");
    assert!(md.contains("`OPENCLAW_GATEWAY_TOKEN`"), "{md}");
    for command in [
        "add-skill",
        "remove-skill",
        "patch-config",
        "add-file",
        "remove-file",
        "set-env",
        "unset-env",
        "status",
        "get-instance",
    ] {
        assert!(
            md.contains(&format!("bash selfconfig.sh {command}")),
            "{command}"
        );
    }

    let r = render_ok(&minimal_with(spec(false)), &observed());
    let data = config_map(&r, "-workspace").data.clone().unwrap();
    assert!(!data.contains_key("SELFCONFIG.md") && !data.contains_key("selfconfig.sh"));
    assert!(!workspace_plan(&r).to_string().contains("executable"));
}

#[test]
fn self_configure_with_no_allowed_actions_says_so() {
    let r = render_ok(
        &minimal_with(json!({"selfConfigure": {"enabled": true}})),
        &observed(),
    );
    let data = config_map(&r, "-workspace").data.clone().unwrap();
    assert!(
        data["SELFCONFIG.md"].contains("the list was: none: every request is denied"),
        "{}",
        data["SELFCONFIG.md"]
    );
}

#[test]
fn self_configure_files_win_over_the_spec() {
    let r = render_ok(
        &minimal_with(json!({"selfConfigure": {"enabled": true},
            "workspace": {"initialFiles": {"selfconfig.sh": "echo mine\n"}}})),
        &observed(),
    );
    let data = config_map(&r, "-workspace").data.clone().unwrap();
    assert_eq!(
        data["selfconfig.sh"],
        openclaw_render::workspace::files::SELFCONFIG_SH
    );
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("selfconfig.sh is managed by the operator")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn self_configure_role_creates_and_reads_requests_only() {
    let r = render_ok(
        &minimal_with(json!({"selfConfigure": {"enabled": true}})),
        &observed(),
    );
    let role = r
        .iter()
        .find(|o| o.kind() == "Role")
        .unwrap()
        .to_value()
        .unwrap();
    let rule = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resources"] == json!(["openclawselfconfigs"]))
        .unwrap()
        .clone();
    assert_eq!(
        rule,
        json!({"apiGroups": ["openclaw.rocks"], "resources": ["openclawselfconfigs"], "verbs": ["create", "get"]})
    );
}
