//! CA bundle (`docs/design/optional-features.md` §1.8, `docs/features/metrics.md`): a
//! post-pass over the assembled pod, so it does not depend on the other features.
//!
//! When `security.caBundle` names a ConfigMap or a Secret:
//! - volume `ca-bundle` (the ConfigMap when both are named, mode 0644);
//! - mount `ca-bundle`, subPath = `key` (default `ca-bundle.crt`), at
//!   `/etc/ssl/certs/custom-ca-bundle.crt`, read-only, in the containers named in [`CONSUMERS`]
//!   that the pod has;
//! - env `NODE_EXTRA_CA_CERTS` (Node) or `SSL_CERT_FILE` (`init-python`) pointing at it. It
//!   goes before the user's variables, so a `spec.env` entry of the same name wins (the Go
//!   operator appended it after the user's env).
//!
//! Neither name set (a spec that bypassed admission): nothing is added, with a warning (the Go
//! operator emitted the mounts without the volume, an invalid pod).

use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, EnvVar, PodSpec, SecretVolumeSource, Volume,
};

use super::hooks::Feature;
use crate::clean::clean_all;
use crate::consts::container as names;
use crate::k8s::volume::CONFIG_MAP_MODE;
use crate::k8s::volume::mount;
use crate::model::{Model, non_empty};

/// Name of the pod volume.
pub const VOLUME: &str = "ca-bundle";
/// Where the bundle is mounted.
pub const MOUNT_PATH: &str = "/etc/ssl/certs/custom-ca-bundle.crt";
/// Default `security.caBundle.key`.
pub const DEFAULT_KEY: &str = "ca-bundle.crt";

/// The containers that get the bundle, and the variable pointing at it (`None`: mount only).
pub const CONSUMERS: &[(&str, Option<&str>)] = &[
    (names::MAIN, Some("NODE_EXTRA_CA_CERTS")),
    ("chromium", None),
    ("init-skills", Some("NODE_EXTRA_CA_CERTS")),
    ("init-plugins", Some("NODE_EXTRA_CA_CERTS")),
    ("init-pnpm", Some("NODE_EXTRA_CA_CERTS")),
    ("init-python", Some("SSL_CERT_FILE")),
];

/// `0644`.
const MODE: i32 = CONFIG_MAP_MODE;

/// The `ca-bundle` volume, `None` when neither a ConfigMap nor a Secret is named.
fn volume(m: &Model) -> Option<Volume> {
    let ca = m.spec.security.as_ref()?.ca_bundle.as_ref()?;
    let mut v = Volume {
        name: VOLUME.to_string(),
        ..Default::default()
    };
    if let Some(cm) = non_empty(ca.config_map_name.as_ref()) {
        v.config_map = Some(ConfigMapVolumeSource {
            name: cm.to_string(),
            default_mode: Some(MODE),
            ..Default::default()
        });
    } else if let Some(secret) = non_empty(ca.secret_name.as_ref()) {
        v.secret = Some(SecretVolumeSource {
            secret_name: Some(secret.to_string()),
            default_mode: Some(MODE),
            ..Default::default()
        });
    } else {
        return None;
    }
    Some(v)
}

/// Insert `var` before the trailing run of user variables (`spec.env`, whose names are in
/// `user`), unless the container already has a variable of that name (the user's wins).
fn add_env(c: &mut Container, var: EnvVar, user: &[String]) {
    let env = c.env.get_or_insert_with(Vec::new);
    if env.iter().any(|e| e.name == var.name) {
        return;
    }
    let mut at = env.len();
    while at > 0 && user.contains(&env[at - 1].name) {
        at -= 1;
    }
    env.insert(at, var);
}

/// The CA bundle, a post-pass over the pod.
pub struct CaBundle;

/// The registry entry.
pub static T: CaBundle = CaBundle;

impl Feature for CaBundle {
    fn name(&self) -> &'static str {
        VOLUME
    }

    fn enabled(&self, m: &Model) -> bool {
        m.spec
            .security
            .as_ref()
            .is_some_and(|s| s.ca_bundle.is_some())
    }

    fn finish_pod(&self, m: &Model, pod: &mut PodSpec, warnings: &mut Vec<String>) {
        apply(m, pod, warnings);
    }
}

/// Add the CA bundle volume, mounts and env to the pod when `security.caBundle` is set.
pub fn apply(m: &Model, pod: &mut PodSpec, warnings: &mut Vec<String>) {
    let Some(ca) = m.spec.security.as_ref().and_then(|s| s.ca_bundle.as_ref()) else {
        return;
    };
    let Some(volume) = volume(m) else {
        warnings.push(
            "security.caBundle names neither a ConfigMap nor a Secret; no CA bundle is mounted"
                .to_string(),
        );
        return;
    };
    if ca.config_map_name.as_deref().is_some_and(|s| !s.is_empty())
        && ca.secret_name.as_deref().is_some_and(|s| !s.is_empty())
    {
        warnings.push(
            "security.caBundle names both a ConfigMap and a Secret; the ConfigMap is used"
                .to_string(),
        );
    }
    let key = non_empty(ca.key.as_ref()).unwrap_or(DEFAULT_KEY);
    let user: Vec<String> = clean_all(m.spec.env.as_deref().unwrap_or_default())
        .into_iter()
        .map(|e| e.name)
        .collect();

    let volumes = pod.volumes.get_or_insert_with(Vec::new);
    if let Some(i) = volumes.iter().position(|v| v.name == VOLUME) {
        warnings.push(format!(
            "volume name {VOLUME:?} is reserved for security.caBundle; the spec's volume of that name is replaced"
        ));
        volumes.remove(i);
    }
    volumes.push(volume);

    let containers = pod
        .containers
        .iter_mut()
        .chain(pod.init_containers.iter_mut().flatten());
    for c in containers {
        let Some((_, env)) = CONSUMERS.iter().find(|(n, _)| *n == c.name) else {
            continue;
        };
        let mounts = c.volume_mounts.get_or_insert_with(Vec::new);
        if mounts.iter().any(|v| v.mount_path == MOUNT_PATH) {
            warnings.push(format!(
                "container {:?} already mounts {MOUNT_PATH}; the CA bundle is not mounted there",
                c.name
            ));
        } else {
            let ca_mount = mount(VOLUME, MOUNT_PATH, Some(key), true);
            // In the main container, after `/tmp` (before the feature and user mounts), as in
            // the Go operator; elsewhere at the end.
            let at = mounts
                .iter()
                .position(|v| v.mount_path == "/tmp")
                .filter(|_| c.name == names::MAIN)
                .map_or(mounts.len(), |i| i + 1);
            mounts.insert(at, ca_mount);
        }
        if let Some(name) = env {
            add_env(
                c,
                EnvVar {
                    name: (*name).to_string(),
                    value: Some(MOUNT_PATH.to_string()),
                    value_from: None,
                },
                &user,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

    use k8s_openapi::api::core::v1::{PodSpec, VolumeMount};
    use serde_json::{Value, json};

    use super::*;
    use crate::Observed;

    fn run(spec: Value, mut pod: PodSpec) -> (PodSpec, Vec<String>) {
        let instance = serde_json::from_value(json!({
            "apiVersion": "openclaw.rocks/v1alpha1", "kind": "OpenClawInstance",
            "metadata": {"name": "demo", "namespace": "ns", "uid": "u"},
            "spec": spec,
        }))
        .unwrap();
        let observed = Observed::default();
        let m = Model::new(&instance, &observed).unwrap();
        let mut warnings = Vec::new();
        apply(&m, &mut pod, &mut warnings);
        (pod, warnings)
    }

    fn var(name: &str, value: &str) -> EnvVar {
        EnvVar {
            name: name.to_string(),
            value: Some(value.to_string()),
            value_from: None,
        }
    }

    fn c(name: &str, env: &[(&str, &str)], mounts: &[&str]) -> Container {
        Container {
            name: name.to_string(),
            env: Some(env.iter().map(|(n, v)| var(n, v)).collect()),
            volume_mounts: Some(
                mounts
                    .iter()
                    .map(|p| VolumeMount {
                        name: "x".to_string(),
                        mount_path: (*p).to_string(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    /// Every container a pod may have with every feature on.
    fn full_pod() -> PodSpec {
        PodSpec {
            init_containers: Some(vec![
                c("init-config", &[], &["/data"]),
                c("init-pnpm", &[("HOME", "/tmp")], &["/tmp"]),
                c("init-python", &[("HOME", "/tmp")], &["/tmp"]),
                c(
                    "init-skills",
                    &[("HOME", "/tmp"), ("FOO", "user")],
                    &["/tmp"],
                ),
                c(
                    "init-plugins",
                    &[("HOME", "/tmp"), ("FOO", "user")],
                    &["/tmp"],
                ),
                c("chromium", &[("HOME", "/tmp")], &["/tmp"]),
            ]),
            containers: vec![
                c(
                    "openclaw",
                    &[
                        ("HOME", "/home/openclaw"),
                        ("PIP_USER", "1"),
                        ("FOO", "user"),
                    ],
                    &[
                        "/home/openclaw/.openclaw",
                        "/tmp",
                        "/var/run/tailscale",
                        "/operator-config",
                    ],
                ),
                c("gateway-proxy", &[], &["/tmp"]),
                c("otel-collector", &[], &["/etc/otel-collector"]),
                c("my-sidecar", &[], &[]),
            ],
            volumes: Some(vec![Volume {
                name: "data".to_string(),
                ..Default::default()
            }]),
            ..Default::default()
        }
    }

    fn env_of<'a>(pod: &'a PodSpec, name: &str) -> Vec<(&'a str, &'a str)> {
        pod.containers
            .iter()
            .chain(pod.init_containers.iter().flatten())
            .find(|c| c.name == name)
            .unwrap()
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.as_str(), e.value.as_deref().unwrap_or_default()))
            .collect()
    }

    fn ca_mounts(pod: &PodSpec) -> Vec<(String, Option<String>, usize)> {
        let mut out = Vec::new();
        for c in pod
            .containers
            .iter()
            .chain(pod.init_containers.iter().flatten())
        {
            for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
                if m.name == VOLUME {
                    assert_eq!(m.mount_path, MOUNT_PATH);
                    assert_eq!(m.read_only, Some(true));
                    out.push((c.name.clone(), m.sub_path.clone(), i));
                }
            }
        }
        out
    }

    #[test]
    fn config_map_bundle_reaches_every_consumer() {
        let (pod, warnings) = run(
            json!({"security": {"caBundle": {"configMapName": "corp-ca"}},
                "env": [{"name": "FOO", "value": "user"}]}),
            full_pod(),
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        let vols = pod.volumes.as_ref().unwrap();
        let v = vols.iter().find(|v| v.name == VOLUME).unwrap();
        let cm = v.config_map.as_ref().unwrap();
        assert_eq!(cm.name, "corp-ca");
        assert_eq!(cm.default_mode, Some(0o644));
        assert!(v.secret.is_none());

        let sub = Some("ca-bundle.crt".to_string());
        assert_eq!(
            ca_mounts(&pod),
            vec![
                ("openclaw".to_string(), sub.clone(), 2),
                ("init-pnpm".to_string(), sub.clone(), 1),
                ("init-python".to_string(), sub.clone(), 1),
                ("init-skills".to_string(), sub.clone(), 1),
                ("init-plugins".to_string(), sub.clone(), 1),
                ("chromium".to_string(), sub, 1),
            ]
        );
        // Operator variable before the user's.
        assert_eq!(
            env_of(&pod, "openclaw"),
            vec![
                ("HOME", "/home/openclaw"),
                ("PIP_USER", "1"),
                ("NODE_EXTRA_CA_CERTS", MOUNT_PATH),
                ("FOO", "user"),
            ]
        );
        assert_eq!(
            env_of(&pod, "init-skills"),
            vec![
                ("HOME", "/tmp"),
                ("NODE_EXTRA_CA_CERTS", MOUNT_PATH),
                ("FOO", "user")
            ]
        );
        assert_eq!(
            env_of(&pod, "init-pnpm"),
            vec![("HOME", "/tmp"), ("NODE_EXTRA_CA_CERTS", MOUNT_PATH)]
        );
        assert_eq!(
            env_of(&pod, "init-python"),
            vec![("HOME", "/tmp"), ("SSL_CERT_FILE", MOUNT_PATH)]
        );
        assert_eq!(env_of(&pod, "chromium"), vec![("HOME", "/tmp")]);
        assert!(env_of(&pod, "init-config").is_empty());
        assert!(env_of(&pod, "my-sidecar").is_empty());
    }

    #[test]
    fn secret_bundle_with_key_and_a_user_variable_that_wins() {
        let mut pod = full_pod();
        // The gateway container already carries the user's value (spec.env replaced ours).
        pod.containers[0]
            .env
            .as_mut()
            .unwrap()
            .push(var("NODE_EXTRA_CA_CERTS", "/mine.crt"));
        let (pod, warnings) = run(
            json!({"security": {"caBundle": {"secretName": "corp-ca", "key": "root.pem"}},
                "env": [{"name": "FOO", "value": "user"},
                        {"name": "NODE_EXTRA_CA_CERTS", "value": "/mine.crt"}]}),
            pod,
        );
        assert!(warnings.is_empty(), "{warnings:?}");
        let v = pod
            .volumes
            .as_ref()
            .unwrap()
            .iter()
            .find(|v| v.name == VOLUME)
            .unwrap();
        let s = v.secret.as_ref().unwrap();
        assert_eq!(s.secret_name.as_deref(), Some("corp-ca"));
        assert_eq!(s.default_mode, Some(0o644));
        assert!(
            ca_mounts(&pod)
                .iter()
                .all(|(_, sub, _)| sub.as_deref() == Some("root.pem"))
        );
        let main = env_of(&pod, "openclaw");
        assert_eq!(
            main.iter()
                .filter(|(n, _)| *n == "NODE_EXTRA_CA_CERTS")
                .collect::<Vec<_>>(),
            vec![&("NODE_EXTRA_CA_CERTS", "/mine.crt")]
        );
    }

    #[test]
    fn neither_name_adds_nothing_but_a_warning() {
        let (pod, warnings) = run(
            json!({"security": {"caBundle": {"key": "x.crt"}}}),
            full_pod(),
        );
        assert_eq!(pod, full_pod());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let (pod, warnings) = run(json!({}), full_pod());
        assert_eq!(pod, full_pod());
        assert!(warnings.is_empty());
    }

    #[test]
    fn only_present_containers_and_collisions() {
        let mut pod = PodSpec {
            containers: vec![c("openclaw", &[], &[MOUNT_PATH])],
            volumes: Some(vec![Volume {
                name: VOLUME.to_string(),
                ..Default::default()
            }]),
            ..Default::default()
        };
        pod.containers[0].volume_mounts.as_mut().unwrap()[0].name = "mine".to_string();
        let (pod, warnings) = run(
            json!({"security": {"caBundle": {"configMapName": "corp-ca"}}}),
            pod,
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        let vols = pod.volumes.unwrap();
        assert_eq!(vols.len(), 1);
        assert!(vols[0].config_map.is_some());
        assert_eq!(pod.containers[0].volume_mounts.as_ref().unwrap().len(), 1);
        assert!(pod.init_containers.is_none());
    }
}
