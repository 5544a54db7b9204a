//! Property tests: arbitrary specs (shaped by the CRD schema) and arbitrary observed inputs never
//! make `render` panic, rendering is deterministic, and what comes out is consistent.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::LazyLock;

use openclaw_api::clusterdefaults::{OpenClawClusterDefaults, OpenClawClusterDefaultsSpec};
use openclaw_api::defaults::apply_cluster_defaults;
use openclaw_api::{OpenClawInstance, OpenClawInstanceSpec};
use openclaw_render::{Object, Observed, render};
use proptest::prelude::*;
use serde_json::Value;
use testkit::arbitrary::{from_schema, spec_schema};

/// Strings that hit the interesting branches: defaults, enum values, quantities, paths, JSON.
const STRINGS: &[&str] = &[
    "",
    "x",
    "latest",
    "merge",
    "json5",
    "overwrite",
    "openclaw.json",
    "ClusterIP",
    "TCP",
    "500m",
    "2000m",
    "1Gi",
    "1.5Gi",
    "1e3",
    "-1",
    "8 GB",
    "../up",
    "/abs",
    "a/b",
    "a--b",
    ".hidden",
    "my notes.md",
    "ENVIRONMENT.md",
    "BOOTSTRAP.md",
    "--ws--a--b",
    "init-config",
    "openclaw",
    "gateway-proxy",
    "data",
    "/tmp",
    "registry.example.com:5000/",
    "trusted-proxy",
    "loopback",
    "sha256:abc",
    "Ünïcode ✓",
    "${OPENCLAW_GATEWAY_TOKEN}",
    "gateway",
    "auth",
    "mode",
];

/// Config texts an external ConfigMap may hold.
const CONFIGS: &[&str] = &[
    "",
    "{}",
    "null",
    "[]",
    "{",
    r#"{"gateway": "x"}"#,
    r#"{"gateway": {"auth": {"mode": "trusted-proxy"}, "bind": "loopback"}}"#,
    r#"{"gateway": {"trustedProxies": "10.0.0.0/8", "controlUi": []}}"#,
    "{a: 1, // c\n b: [1,],}",
    "{a: NaN}",
    "'str'",
];

fn string() -> BoxedStrategy<String> {
    testkit::arbitrary::string(STRINGS)
}

static INSTANCE_SCHEMA: LazyLock<Value> = LazyLock::new(spec_schema::<OpenClawInstance>);
static DEFAULTS_SCHEMA: LazyLock<Value> = LazyLock::new(spec_schema::<OpenClawClusterDefaults>);

fn instance() -> impl Strategy<Value = OpenClawInstance> {
    let spec = from_schema(&INSTANCE_SCHEMA, 6, STRINGS)
        .prop_filter_map("spec deserializes", |v| {
            serde_json::from_value::<OpenClawInstanceSpec>(v).ok()
        });
    let name = prop_oneof![
        4 => Just("demo".to_string()),
        4 => "[a-z][a-z0-9-]{0,20}",
        1 => Just(String::new()),
    ];
    let namespace = prop_oneof![
        8 => Just(Some("default".to_string())),
        1 => Just(None),
        1 => Just(Some(String::new())),
    ];
    let uid = prop_oneof![9 => Just(Some("uid-1".to_string())), 1 => Just(None)];
    (spec, name, namespace, uid).prop_map(|(spec, name, namespace, uid)| {
        let mut i = OpenClawInstance::new(&name, spec);
        i.metadata.namespace = namespace;
        i.metadata.uid = uid;
        i
    })
}

fn defaults() -> impl Strategy<Value = Option<OpenClawClusterDefaultsSpec>> {
    proptest::option::weighted(
        0.3,
        from_schema(&DEFAULTS_SCHEMA, 6, STRINGS)
            .prop_filter_map("spec deserializes", |v| serde_json::from_value(v).ok()),
    )
}

fn files() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map(string(), string(), 0..4)
}

fn observed() -> impl Strategy<Value = Observed> {
    (
        defaults(),
        prop_oneof![8 => Just(Some("t0ken".to_string())), 1 => Just(None), 1 => Just(Some(String::new()))],
        prop_oneof![Just(String::new()), Just("0123456789abcdef".to_string())],
        proptest::option::of(proptest::sample::select(CONFIGS).prop_map(str::to_string)),
        files(),
        proptest::collection::btree_map(string(), files(), 0..3),
        proptest::option::of(Just("0f1e2d3c4b5a6978".to_string())),
        proptest::option::of(prop_oneof![
            Just(openclaw_render::S3Credentials {
                bucket: "b".into(),
                endpoint: "http://127.0.0.1:9000".into(),
                region: None,
                provider: "Other".into(),
                keys: Some(("id".into(), "secret".into())),
            }),
            Just(openclaw_render::S3Credentials {
                bucket: "b".into(),
                endpoint: "https://s3.example".into(),
                region: Some("eu-1".into()),
                provider: "AWS".into(),
                keys: None,
            }),
        ]),
        any::<bool>(),
    )
        .prop_map(|(cluster_defaults, gateway_token, secret_hash, external_config, workspace_files, additional_workspace_files, basic_auth_password, s3_credentials, backup_jobs)| Observed {
            cluster_defaults,
            gateway_token,
            secret_hash,
            external_config,
            workspace_files,
            additional_workspace_files,
            basic_auth_password,
            s3_credentials,
            backup_jobs,
            skill_packs: Default::default(),
        })
}

fn unique_env_names(env: Option<&[k8s_openapi::api::core::v1::EnvVar]>) -> bool {
    testkit::arbitrary::unique_names(env.unwrap_or_default().iter().map(|e| e.name.as_str()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn render_never_panics_and_is_deterministic(i in instance(), o in observed()) {
        let first = render(&i, &o);
        let second = render(&i.clone(), &o.clone());
        prop_assert_eq!(&first, &second);
        let Ok(r) = first else { return Ok(()) };

        prop_assert_eq!(r.config_hash.len(), 16);
        prop_assert!(r.config_hash.bytes().all(|b| b.is_ascii_hexdigit()));
        prop_assert!(r.warnings.iter().all(|w| !w.is_empty()));
        let name = i.metadata.name.clone().unwrap();
        let mut sts = 0;
        for o in r.iter() {
            let meta = o.metadata();
            prop_assert!(!o.name().is_empty());
            // Core objects carry exactly the standard labels; feature objects add their own
            // (`app.kubernetes.io/component`, user labels) but never change the standard ones.
            let labels = meta.labels.clone().unwrap_or_default();
            for (k, v) in openclaw_render::labels(&name) {
                prop_assert_eq!(labels.get(&k), Some(&v));
            }
            if !labels.contains_key("app.kubernetes.io/component") {
                prop_assert_eq!(&labels, &openclaw_render::labels(&name));
            }
            let v = o.to_value().expect("serializes");
            prop_assert_eq!(v["kind"].as_str(), Some(o.kind()));
            if let Object::StatefulSet(s) = o {
                sts += 1;
                let ann = s.spec.as_ref().unwrap().template.metadata.as_ref().unwrap().annotations.clone().unwrap();
                prop_assert_eq!(&ann["openclaw.rocks/config-hash"], &r.config_hash);
                // Container names are unique across init and regular containers.
                let pod = s.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
                let mut names: Vec<&String> = pod.containers.iter().chain(pod.init_containers.iter().flatten()).map(|c| &c.name).collect();
                let total = names.len();
                names.sort();
                names.dedup();
                prop_assert_eq!(names.len(), total);
                // Volume names are unique too.
                let mut vols: Vec<&String> = pod.volumes.iter().flatten().map(|v| &v.name).collect();
                let total = vols.len();
                vols.sort();
                vols.dedup();
                prop_assert_eq!(vols.len(), total);
            }
            if let Object::ConfigMap(cm) = o
                && o.name().ends_with("-workspace")
            {
                let data = cm.data.as_ref().unwrap();
                let plan: Value = serde_json::from_str(&data[".operator-seed-plan.json"]).expect("plan is JSON");
                // Every key the plan names exists, and every key is a valid ConfigMap key.
                for ws in plan["workspaces"].as_array().unwrap() {
                    for f in ws["files"].as_array().unwrap() {
                        prop_assert!(data.contains_key(f["key"].as_str().unwrap()));
                    }
                }
                for k in data.keys() {
                    prop_assert!(!k.is_empty() && k.len() <= 253);
                    prop_assert!(k.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b)), "{}", k);
                }
            }
        }
        prop_assert_eq!(sts, 1);
    }

    #[test]
    fn cluster_defaults_apply_once(i in instance(), o in observed()) {
        let Some(d) = o.cluster_defaults.clone() else { return Ok(()) };
        prop_assume!(unique_env_names(i.spec.env.as_deref()) && unique_env_names(d.env.as_deref()));
        let mut merged = i.clone();
        merged.spec = apply_cluster_defaults(&i.spec, Some(&d));
        prop_assert_eq!(render(&i, &o), render(&merged, &o));
    }
}

// ---- Feature flags (metrics area): banned config keys, mounts and names ----

/// Strings of [`STRINGS`] plus the feature names that could collide with the operator's.
const FEATURE_STRINGS: &[&str] = &[
    "",
    "x",
    "data",
    "config",
    "tmp",
    "ca-bundle",
    "otel-collector",
    "otel-collector-config",
    "metrics",
    "chromium",
    "init-skills",
    "NODE_EXTRA_CA_CERTS",
    "/tmp",
    "/etc/ssl/certs/custom-ca-bundle.crt",
    "9090",
];

/// Keys the Go operator wrote that OpenClaw 2026.9.6 rejects: the operator never adds them.
fn banned_paths(config: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let get = |path: &[&str]| path.iter().try_fold(config, |v, k| v.get(k));
    for path in [
        &["browser", "remoteCdpTimeoutMs"][..],
        &["diagnostics", "metrics"],
        &["modules"],
        &["gateway", "handshakeTimeoutMs"],
    ] {
        if get(path).is_some() {
            found.push(path.join("."));
        }
    }
    if let Some(profiles) = get(&["browser", "profiles"]).and_then(Value::as_object) {
        for (name, p) in profiles {
            if p.get("color").is_some() {
                found.push(format!("browser.profiles.{name}.color"));
            }
        }
    }
    found
}

/// A user config (`spec.config.raw`) that exercises the feature enrichment.
fn user_config() -> impl Strategy<Value = Option<Value>> {
    proptest::sample::select(vec![
        None,
        Some(serde_json::json!({})),
        Some(serde_json::json!({"diagnostics": "on"})),
        Some(serde_json::json!({"diagnostics": {"enabled": true}})),
        Some(serde_json::json!({"diagnostics": {"otel": {"endpoint": "http://collector:4318"}}})),
        Some(serde_json::json!({"browser": {"profiles": {"work": {"cdpPort": 9333}}}})),
        Some(serde_json::json!({"browser": "x", "gateway": {"auth": "x"}})),
        Some(serde_json::json!({"gateway": {"mode": "remote"}, "plugins": {"entries": {}}})),
    ])
}

/// A spec with random feature flags on top of a random (schema-shaped) spec. The fields that
/// let a user mount volumes the operator does not know (`extraVolumeMounts`, custom
/// containers) are cleared: their mounts are the user's business.
fn feature_instance() -> impl Strategy<Value = OpenClawInstance> {
    let spec = from_schema(&INSTANCE_SCHEMA, 4, FEATURE_STRINGS);
    let flags = proptest::collection::vec(any::<bool>(), 12);
    let port = proptest::sample::select(vec![None, Some(9090), Some(9464), Some(18790), Some(0)]);
    let ca = proptest::sample::select(vec![0u8, 1, 2, 3]);
    (spec, flags, port, ca, user_config()).prop_filter_map(
        "spec deserializes",
        |(mut spec, f, port, ca, raw)| {
            if !spec.is_object() {
                spec = serde_json::json!({});
            }
            for k in ["extraVolumeMounts", "sidecars", "initContainers"] {
                spec.as_object_mut()?.remove(k);
            }
            // No external config: it would need an observed ConfigMap.
            if let Some(c) = spec.get_mut("config").and_then(Value::as_object_mut) {
                c.remove("configMapRef");
            }
            let ca_bundle = match ca {
                0 => Value::Null,
                1 => serde_json::json!({"configMapName": "corp-ca"}),
                2 => serde_json::json!({"secretName": "corp-ca", "key": "root.pem"}),
                _ => serde_json::json!({"key": "x.pem"}),
            };
            let patch = serde_json::json!({
                "chromium": {"enabled": f[0]},
                "ollama": {"enabled": f[1]},
                "webTerminal": {"enabled": f[2]},
                "tailscale": {"enabled": f[3]},
                "observability": {"metrics": {"enabled": f[4], "port": port,
                    "serviceMonitor": {"enabled": f[5]}}},
                "runtimeDeps": {"pnpm": f[6], "python": f[7]},
                "skills": if f[8] { serde_json::json!(["weather", "npm:cowsay"]) } else { Value::Null },
                "plugins": if f[9] { serde_json::json!(["npm:@openclaw/diagnostics-otel"]) } else { Value::Null },
                "selfConfigure": {"enabled": f[10]},
                "gateway": {"enabled": f[11]},
            });
            merge_json(&mut spec, &patch);
            let security = spec
                .as_object_mut()?
                .entry("security")
                .or_insert_with(|| serde_json::json!({}));
            if let Some(s) = security.as_object_mut() {
                s.insert("caBundle".to_string(), ca_bundle);
            }
            if let Some(raw) = raw {
                let config = spec
                    .as_object_mut()?
                    .entry("config")
                    .or_insert_with(|| serde_json::json!({}));
                if let Some(c) = config.as_object_mut() {
                    c.insert("raw".to_string(), raw);
                }
            }
            let spec: OpenClawInstanceSpec = serde_json::from_value(spec).ok()?;
            let mut i = OpenClawInstance::new("demo", spec);
            i.metadata.namespace = Some("default".to_string());
            i.metadata.uid = Some("uid-1".to_string());
            Some(i)
        },
    )
}

/// Deep-merge `patch` into `base`; `null` in the patch removes the key.
fn merge_json(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    b.remove(k);
                } else {
                    merge_json(b.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (b, p) => *b = p.clone(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn features_never_add_banned_keys_and_keep_the_pod_consistent(i in feature_instance()) {
        let o = Observed {
            gateway_token: Some("t0ken".to_string()),
            ..Observed::default()
        };
        prop_assume!(unique_env_names(i.spec.env.as_deref()));
        let r = render(&i, &o);
        // A user config OpenClaw's schema rejects is refused (and said to be the user's), never
        // rendered into a crash loop; the operator's own additions are never the culprit.
        if let Err(openclaw_render::RenderError::InvalidConfig(m)) = &r {
            prop_assert!(m.contains("rejects the config from spec.config.raw"), "{}", m);
            return Ok(());
        }
        prop_assert!(r.is_ok(), "{:?}", r.as_ref().err());
        let r = r.unwrap();
        let user = i.spec.config.as_ref().and_then(|c| c.raw.as_ref()).map(|r| Value::Object(r.0.clone()));
        let user_banned = user.as_ref().map(banned_paths).unwrap_or_default();
        for o in r.iter() {
            if let Object::ConfigMap(cm) = o
                && o.name() == "demo-config"
            {
                let text = &cm.data.as_ref().unwrap()["openclaw.json"];
                if let Ok(config) = serde_json::from_str::<Value>(text) {
                    for path in banned_paths(&config) {
                        prop_assert!(user_banned.contains(&path), "the operator added {}: {}", path, text);
                    }
                }
            }
            let Object::StatefulSet(s) = o else { continue };
            let spec = s.spec.as_ref().unwrap();
            let pod = spec.template.spec.as_ref().unwrap();
            let mut volumes: Vec<&str> = pod.volumes.iter().flatten().map(|v| v.name.as_str()).collect();
            let total = volumes.len();
            volumes.sort_unstable();
            volumes.dedup();
            prop_assert_eq!(volumes.len(), total, "volume names are unique");
            let claims: Vec<&str> = spec
                .volume_claim_templates
                .iter()
                .flatten()
                .filter_map(|c| c.metadata.name.as_deref())
                .collect();
            let containers: Vec<_> = pod.init_containers.iter().flatten().chain(pod.containers.iter()).collect();
            let mut names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
            let total = names.len();
            names.sort_unstable();
            names.dedup();
            prop_assert_eq!(names.len(), total, "container names are unique");
            for c in &containers {
                let mut paths: Vec<&str> = Vec::new();
                for m in c.volume_mounts.iter().flatten() {
                    prop_assert!(
                        volumes.contains(&m.name.as_str()) || claims.contains(&m.name.as_str()),
                        "{} mounts {} which is not a volume", c.name, m.name
                    );
                    prop_assert!(!paths.contains(&m.mount_path.as_str()), "{} mounts {} twice", c.name, m.mount_path);
                    paths.push(&m.mount_path);
                }
                for var in ["NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE"] {
                    let n = c.env.iter().flatten().filter(|e| e.name == var).count();
                    prop_assert!(n <= 1, "{} has {} {} times", c.name, var, n);
                }
            }
        }
    }
}
