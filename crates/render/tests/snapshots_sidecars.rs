//! The sidecar features (design §1.1–1.4): Chromium, Ollama, web terminal, Tailscale.
//!
//! Each snapshot holds only what the feature renders (its containers, volumes, main container
//! env and mounts, Service ports, NetworkPolicy parts, objects, the config keys it adds), so
//! other features' changes do not touch these files.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::collections::BTreeSet;

use common::*;
use k8s_openapi::api::core::v1::Container;
use openclaw_render::features::{self, Feature, NetParts};
use openclaw_render::model::Model;
use openclaw_render::{Object, Observed, Rendered};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// What one snapshot shows.
struct View {
    feature: &'static dyn Feature,
    containers: &'static [&'static str],
    volumes: &'static [&'static str],
    main_env: &'static [&'static str],
    config_paths: &'static [&'static str],
    warning_words: &'static [&'static str],
}

const CHROMIUM: View = View {
    feature: &features::chromium::T,
    containers: &["chromium"],
    volumes: &["chromium-tmp", "chromium-shm", "chromium-data"],
    main_env: &["OPENCLAW_CHROMIUM_CDP"],
    config_paths: &["/browser"],
    warning_words: &["chromium"],
};
const OLLAMA: View = View {
    feature: &features::ollama::T,
    containers: &["init-ollama", "ollama"],
    volumes: &["ollama-models"],
    main_env: &["OLLAMA_HOST"],
    config_paths: &["/models"],
    warning_words: &["ollama"],
};
const WEB_TERMINAL: View = View {
    feature: &features::web_terminal::T,
    containers: &["web-terminal"],
    volumes: &["web-terminal-tmp"],
    main_env: &[],
    config_paths: &[],
    warning_words: &["web terminal", "webterminal"],
};
const TAILSCALE: View = View {
    feature: &features::tailscale::T,
    containers: &["init-tailscale-bin", "tailscale"],
    volumes: &[
        "tailscale-socket",
        "tailscale-bin",
        "tailscale-tmp",
        "tailscale-serve",
        "tailscale-api-token",
    ],
    main_env: &["TS_SOCKET", "PATH"],
    config_paths: &["/gateway/auth"],
    warning_words: &["tailscale"],
};

fn render_with(patch: Value) -> (Rendered, openclaw_api::OpenClawInstance) {
    let instance = minimal_with(patch);
    (render_ok(&instance, &observed()), instance)
}

fn pod(rendered: &Rendered) -> &k8s_openapi::api::core::v1::PodSpec {
    statefulset(rendered)
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
}

fn main_container(rendered: &Rendered) -> &Container {
    &pod(rendered).containers[0]
}

fn to_value<T: serde::Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap()
}

/// The feature's part of the rendering, as YAML.
fn view(patch: Value, v: &View) -> String {
    let (rendered, instance) = render_with(patch);
    let observed = observed();
    let m = Model::new(&instance, &observed).unwrap();
    let pod = pod(&rendered);
    let name = instance.metadata.name.clone().unwrap();

    let pick = |list: &[Container]| -> Value {
        Value::Array(
            list.iter()
                .filter(|c| v.containers.contains(&c.name.as_str()))
                .map(to_value)
                .collect(),
        )
    };
    let main = main_container(&rendered);
    let main_env: Vec<Value> = main
        .env
        .iter()
        .flatten()
        .filter(|e| v.main_env.contains(&e.name.as_str()))
        .map(to_value)
        .collect();
    let main_mounts: Vec<Value> = main
        .volume_mounts
        .iter()
        .flatten()
        .filter(|m| v.volumes.contains(&m.name.as_str()))
        .map(to_value)
        .collect();
    let volumes: Vec<Value> = pod
        .volumes
        .iter()
        .flatten()
        .filter(|vol| v.volumes.contains(&vol.name.as_str()))
        .map(to_value)
        .collect();
    let service_ports: Vec<Value> = v
        .feature
        .service_ports(&m)
        .into_iter()
        .map(to_value)
        .collect();
    let mut net = NetParts::default();
    v.feature.network(&m, &mut net);
    let objects: Vec<Value> = rendered
        .objects
        .iter()
        .filter(|d| {
            d.object
                .metadata()
                .labels
                .as_ref()
                .and_then(|l| l.get("app.kubernetes.io/component"))
                .is_some_and(|c| c == v.feature.name())
        })
        .map(|d| {
            json!({
                "mode": format!("{:?}", d.mode),
                "phase": format!("{:?}", d.phase),
                "slot": d.slot.map(|s| format!("{s:?}")),
                "object": d.object.to_value().unwrap(),
            })
        })
        .collect();
    let config = openclaw_json(&rendered);
    let config_keys: serde_json::Map<String, Value> = v
        .config_paths
        .iter()
        .filter_map(|p| config.pointer(p).map(|x| (p.to_string(), x.clone())))
        .collect();
    let cm = config_map(&rendered, &format!("{name}-config"));
    let config_files: serde_json::Map<String, Value> = cm
        .data
        .iter()
        .flatten()
        .filter(|(k, _)| v.feature.config_files(&m).iter().any(|(f, _)| f == *k))
        .map(|(k, val)| (k.clone(), json!(val)))
        .collect();
    let role_rules: Vec<Value> = v.feature.role_rules(&m).into_iter().map(to_value).collect();
    let warnings: Vec<&String> = rendered
        .warnings
        .iter()
        .filter(|w| {
            let w = w.to_lowercase();
            v.warning_words.iter().any(|word| w.contains(word))
        })
        .collect();
    let out = json!({
        "warnings": warnings,
        "initContainers": pick(pod.init_containers.as_deref().unwrap_or_default()),
        "containers": pick(&pod.containers),
        "volumes": volumes,
        "main": {"env": main_env, "volumeMounts": main_mounts},
        "automountServiceAccountToken": pod.automount_service_account_token,
        "servicePorts": service_ports,
        "networkPolicy": {
            "ingressSelfOnly": to_value(&net.ingress_self_only),
            "egressAny": to_value(&net.egress_any),
            "egressSelf": to_value(&net.egress_self),
            "needsApi": net.needs_api,
        },
        "roleRules": role_rules,
        "objects": objects,
        "openclawJson": config_keys,
        "configFiles": config_files,
    });
    serde_saphyr::to_string(&out).unwrap()
}

#[test]
fn chromium() {
    insta::assert_snapshot!(
        "chromium",
        view(json!({"chromium": {"enabled": true}}), &CHROMIUM)
    );
}

#[test]
fn chromium_persistence() {
    insta::assert_snapshot!(
        "chromium_persistence",
        view(
            json!({"chromium": {"enabled": true, "persistence": {
                "enabled": true, "size": "2048Mi", "storageClass": "fast-ssd"}}}),
            &CHROMIUM
        )
    );
}

#[test]
fn chromium_custom_image_extra_args() {
    // A stored legacy default (migrated, with the socat entrypoint and `stable`), the registry
    // override, extraArgs merged by key, a user --user-data-dir replaced by ours, extraEnv
    // replacing HOME, and resource overrides.
    insta::assert_snapshot!(
        "chromium_custom_image_extra_args",
        view(
            json!({
                "registry": "registry.corp.example/mirror",
                "chromium": {
                    "enabled": true,
                    "image": {"repository": "ghcr.io/browserless/chromium", "tag": "latest"},
                    "extraArgs": ["--disable-gpu=false", "--lang=de-DE",
                        "--user-data-dir=/tmp/profile", "--window-size=1280,800"],
                    "extraEnv": [{"name": "HOME", "value": "/chromium-data"},
                        {"name": "TZ", "value": "Europe/Berlin"}],
                    "resources": {"limits": {"memory": "3Gi"}, "requests": {"cpu": "500m"}},
                    "persistence": {"enabled": true},
                }
            }),
            &CHROMIUM
        )
    );
}

#[test]
fn chromium_existing_claim() {
    insta::assert_snapshot!(
        "chromium_existing_claim",
        view(
            json!({"chromium": {"enabled": true, "persistence": {
                "enabled": true, "existingClaim": "my-browser-profile"}}}),
            &CHROMIUM
        )
    );
}

#[test]
fn ollama() {
    insta::assert_snapshot!(
        "ollama",
        view(json!({"ollama": {"enabled": true}}), &OLLAMA)
    );
}

#[test]
fn ollama_models_gpu_existing_claim() {
    insta::assert_snapshot!(
        "ollama_models_gpu_existing_claim",
        view(
            json!({
                "ollama": {
                    "enabled": true,
                    "image": {"repository": "ollama/ollama", "tag": "0.5.7"},
                    "models": ["llama3.2", "qwen2.5:7b"],
                    "gpu": 1,
                    "storage": {"existingClaim": "ollama-cache"},
                },
                "config": {"raw": {"models": {"providers": {"ollama": {
                    "api": "ollama", "baseUrl": "http://localhost:11434", "models": []}}}}},
            }),
            &OLLAMA
        )
    );
}

#[test]
fn web_terminal() {
    insta::assert_snapshot!(
        "web_terminal",
        view(json!({"webTerminal": {"enabled": true}}), &WEB_TERMINAL)
    );
}

#[test]
fn web_terminal_read_only_credential() {
    insta::assert_snapshot!(
        "web_terminal_read_only_credential",
        view(
            json!({"webTerminal": {
                "enabled": true,
                "readOnly": true,
                "credential": {"secretRef": {"name": "ttyd-auth"}},
                "image": {"repository": "tsl0922/ttyd", "digest": "sha256:0123abcd"},
            }}),
            &WEB_TERMINAL
        )
    );
}

#[test]
fn tailscale_serve() {
    insta::assert_snapshot!(
        "tailscale_serve",
        view(
            json!({"tailscale": {"enabled": true, "mode": "serve",
                "authKeySecretRef": {"name": "tailscale-auth"}}}),
            &TAILSCALE
        )
    );
}

#[test]
fn tailscale_funnel_sso() {
    insta::assert_snapshot!(
        "tailscale_funnel_sso",
        view(
            json!({
                "tailscale": {"enabled": true, "mode": "funnel", "authSSO": true,
                    "hostname": "agent", "authKeySecretRef": {"name": "tailscale-auth"},
                    "authKeySecretKey": "key", "image": {"tag": "v1.80.0"},
                    "resources": {"limits": {"memory": "512Mi"}}},
                "config": {"raw": {"gateway": {"auth": {"mode": "token"}}}},
            }),
            &TAILSCALE
        )
    );
}

// ---------------------------------------------------------------------------------------------
// Checks beyond the snapshots.

fn everything() -> Value {
    json!({
        "chromium": {"enabled": true, "persistence": {"enabled": true}},
        "ollama": {"enabled": true, "models": ["llama3.2"]},
        "webTerminal": {"enabled": true, "credential": {"secretRef": {"name": "ttyd"}}},
        "tailscale": {"enabled": true, "mode": "funnel", "authSSO": true,
            "authKeySecretRef": {"name": "ts"}},
        "registry": "mirror.example",
    })
}

#[test]
fn rejected_keys_never_appear() {
    for config in [
        json!({}),
        json!({"browser": {"defaultProfile": "work", "profiles": {"work": {"cdpUrl": "http://x"}}}}),
        json!({"browser": {"profiles": {"default": {}, "chrome": {"cdpPort": 9333}}}}),
    ] {
        let mut patch = everything();
        patch["config"] = json!({"raw": config});
        let (rendered, _) = render_with(patch);
        let cm = config_map(&rendered, "-config");
        let text = &cm.data.as_ref().unwrap()["openclaw.json"];
        for banned in [
            "remoteCdpTimeoutMs",
            "\"color\"",
            "diagnostics.metrics",
            "\"modules\"",
            "handshakeTimeoutMs",
        ] {
            assert!(!text.contains(banned), "{banned} in {text}");
        }
        let json = openclaw_json(&rendered);
        assert!(json["gateway"].get("tailscale").is_none(), "{json}");
        assert_eq!(json["gateway"]["auth"]["allowTailscale"], json!(true));
    }
}

#[test]
fn user_browser_settings_are_kept() {
    let (rendered, _) = render_with(json!({
        "chromium": {"enabled": true},
        "config": {"raw": {"browser": {"defaultProfile": "work", "attachOnly": false,
            "profiles": {"work": {"cdpUrl": "http://browser.example:9222"},
                "default": {"cdpUrl": "http://mine:9222"}}}}},
    }));
    let json = openclaw_json(&rendered);
    assert_eq!(
        json["browser"],
        json!({"defaultProfile": "work", "attachOnly": false, "profiles": {
            "work": {"cdpUrl": "http://browser.example:9222"},
            "default": {"cdpUrl": "http://mine:9222"},
            "chrome": {"cdpUrl": "${OPENCLAW_CHROMIUM_CDP}"},
        }})
    );
}

#[test]
fn custom_chromium_image_keeps_its_entrypoint() {
    let (rendered, _) = render_with(json!({"chromium": {"enabled": true,
        "image": {"repository": "registry.example/my/chrome"}}}));
    let c = container(statefulset(&rendered), "chromium").unwrap();
    assert_eq!(
        c.image.as_deref(),
        Some("registry.example/my/chrome:latest")
    );
    assert!(c.command.is_none());
    assert_eq!(c.restart_policy.as_deref(), Some("Always"));
}

#[test]
fn registry_override_reaches_every_sidecar_image() {
    let (rendered, _) = render_with(everything());
    let sts = statefulset(&rendered);
    for (name, image) in [
        ("chromium", "mirror.example/chromedp/headless-shell:stable"),
        ("init-ollama", "mirror.example/ollama/ollama:latest"),
        ("ollama", "mirror.example/ollama/ollama:latest"),
        ("web-terminal", "mirror.example/tsl0922/ttyd:latest"),
        (
            "init-tailscale-bin",
            "mirror.example/tailscale/tailscale:latest",
        ),
        ("tailscale", "mirror.example/tailscale/tailscale:latest"),
    ] {
        let c = container(sts, name).unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(c.image.as_deref(), Some(image), "{name}");
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{name}");
        assert_eq!(
            sc.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
            Some("RuntimeDefault"),
            "{name}"
        );
    }
}

#[test]
fn container_order_and_pod_consistency() {
    let (rendered, _) = render_with(everything());
    let pod = pod(&rendered);
    let init: Vec<&str> = pod
        .init_containers
        .iter()
        .flatten()
        .map(|c| c.name.as_str())
        .collect();
    let pos = |n: &str| init.iter().position(|x| *x == n).unwrap();
    assert!(pos("init-tailscale-bin") < pos("init-ollama"));
    assert!(pos("init-ollama") < pos("chromium"));
    let containers: Vec<&str> = pod.containers.iter().map(|c| c.name.as_str()).collect();
    let pos = |n: &str| containers.iter().position(|x| *x == n).unwrap();
    assert!(pos("tailscale") < pos("ollama"));
    assert!(pos("ollama") < pos("web-terminal"));

    let volumes: Vec<&str> = pod
        .volumes
        .iter()
        .flatten()
        .map(|v| v.name.as_str())
        .collect();
    let unique: BTreeSet<&str> = volumes.iter().copied().collect();
    assert_eq!(unique.len(), volumes.len(), "{volumes:?}");
    let all_names: Vec<&str> = init.iter().chain(containers.iter()).copied().collect();
    let unique: BTreeSet<&str> = all_names.iter().copied().collect();
    assert_eq!(unique.len(), all_names.len(), "{all_names:?}");
    for c in pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
    {
        for m in c.volume_mounts.iter().flatten() {
            assert!(volumes.contains(&m.name.as_str()), "{}: {}", c.name, m.name);
        }
    }
}

#[test]
fn tailscale_token_only_in_its_own_container() {
    for self_configure in [false, true] {
        let mut patch = everything();
        patch["selfConfigure"] = json!({"enabled": self_configure});
        let (rendered, _) = render_with(patch);
        let pod = pod(&rendered);
        assert_eq!(pod.automount_service_account_token, Some(self_configure));
        for c in pod
            .containers
            .iter()
            .chain(pod.init_containers.iter().flatten())
        {
            let has = c
                .volume_mounts
                .iter()
                .flatten()
                .any(|m| m.name == "tailscale-api-token");
            assert_eq!(has, c.name == "tailscale", "{}", c.name);
        }
        let sa = rendered
            .iter()
            .find_map(|o| match o {
                Object::ServiceAccount(sa) => Some(sa),
                _ => None,
            })
            .unwrap();
        assert_eq!(sa.automount_service_account_token, Some(self_configure));
    }
}

#[test]
/// With self-configuration the agent's Role still reads no Secret (the Go operator's let it read
/// the gateway token, the `envFrom` Secrets and the Tailscale auth key); only the Tailscale state
/// Secret rule is there, for the sidecar.
fn self_configure_reads_no_secret_even_with_tailscale() {
    let mut patch = everything();
    patch["selfConfigure"] = json!({"enabled": true});
    let (rendered, _) = render_with(patch);
    let role = rendered
        .iter()
        .find_map(|o| match o {
            Object::Role(r) => Some(r),
            _ => None,
        })
        .unwrap();
    let secrets: Vec<(Vec<String>, Vec<String>)> = role
        .rules
        .iter()
        .flatten()
        .filter(|r| r.resources.as_deref() == Some(&["secrets".to_string()]))
        .map(|r| {
            (
                r.resource_names.clone().unwrap_or_default(),
                r.verbs.clone(),
            )
        })
        .collect();
    assert_eq!(
        secrets,
        [(
            vec!["demo-ts-state".to_string()],
            ["get", "update", "patch"].map(String::from).to_vec()
        )]
    );
}

#[test]
fn tailscale_serve_json_bytes() {
    for (mode, len, prefix) in [("serve", 116, "0c1c3dd0"), ("funnel", 161, "2a933c8b")] {
        let (rendered, _) = render_with(json!({"tailscale": {"enabled": true, "mode": mode}}));
        let cm = config_map(&rendered, "-config");
        let serve = &cm.data.as_ref().unwrap()["tailscale-serve.json"];
        assert_eq!(serve.len(), len, "{mode}");
        let sha: String = Sha256::digest(serve.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(sha.starts_with(prefix), "{mode}: {sha}");
    }
}

#[test]
fn switched_off_features_render_nothing() {
    let off = json!({
        "chromium": {"enabled": false, "persistence": {"enabled": true}},
        "ollama": {"enabled": false, "models": ["x"]},
        "webTerminal": {"enabled": false},
        "tailscale": {"enabled": false, "authSSO": true},
    });
    let (with_off, _) = render_with(off);
    let (base, _) = render_with(json!({}));
    assert_eq!(with_off.objects, base.objects);
    assert_eq!(with_off.warnings, base.warnings);
}

#[test]
fn rendering_is_deterministic() {
    let instance = minimal_with(everything());
    let a = render_ok(&instance, &observed());
    let b = render_ok(&instance, &Observed { ..observed() });
    assert_eq!(a, b);
}
