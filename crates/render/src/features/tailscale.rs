//! Tailscale (`docs/design/optional-features.md` §1.4), when `tailscale.enabled`: the gateway
//! on the tailnet (`serve`) or the internet (`funnel`) through a containerboot sidecar.
//!
//! - `init-tailscale-bin` copies the `tailscale` CLI into `tailscale-bin`, which the main
//!   container mounts at `/tailscale-bin` (first on its `PATH`), next to the daemon's socket
//!   (`TS_SOCKET`);
//! - `tailscale`: containerboot in userspace mode. It keeps its state in the Secret
//!   `<name>-ts-state` (pre-created empty, never written by the operator afterwards) and
//!   serves `tailscale-serve.json` from `<name>-config` (a directory mount, so updates arrive
//!   without a restart). It is the only container with an API token: a projected
//!   ServiceAccount token volume mounted at the usual path. The pod's
//!   `automountServiceAccountToken` stays as it is, so the agent's main container gets no
//!   token that could rewrite the state Secret;
//! - Role rule: `get, update, patch` on `<name>-ts-state`;
//! - NetworkPolicy egress: the API server (6443), STUN (UDP 3478), WireGuard (UDP 41641);
//! - `openclaw.json`: `gateway.auth.allowTailscale = true` with `authSSO` (when absent). Never
//!   `gateway.tailscale.*`: OpenClaw would then run `tailscale serve` itself and fight the
//!   sidecar.

use k8s_openapi::api::core::v1::{
    ConfigMapProjection, ConfigMapVolumeSource, Container, DownwardAPIProjection,
    DownwardAPIVolumeFile, KeyToPath, ObjectFieldSelector, ProjectedVolumeSource, Secret,
    ServiceAccountTokenProjection, Volume, VolumeProjection,
};
use k8s_openapi::api::rbac::v1::PolicyRule;
use openclaw_api::{TailscaleImageSpec, TailscaleSpec};
use serde_json::{Map, Value};

use super::hooks::{Feature, NetParts, PodParts};
use super::sidecar_util::{image_ref, object_at, repository, set_default};
use crate::consts::GATEWAY_PORT;
use crate::k8s::container::{ResourceDefault, env_value, resources, secret_env};
use crate::k8s::meta::component_meta;
use crate::k8s::net::network_policy_port;
use crate::k8s::security::{hardened, pod_run_as_non_root};
use crate::k8s::volume::{empty_dir, mount};
use crate::model::Model;
use crate::model::non_empty;
use crate::{Desired, Object, Phase, RenderError, StatusSlot};

/// Sidecar name (and the component label of its objects).
pub const NAME: &str = "tailscale";
/// Init container copying the CLI.
pub const INIT_NAME: &str = "init-tailscale-bin";
/// Key of the serve config in `<name>-config`.
pub const SERVE_KEY: &str = "tailscale-serve.json";
/// Where the CLI is mounted in the main container (first on its `PATH`).
pub const BIN_DIR: &str = "/tailscale-bin";
/// The daemon's socket directory.
pub const SOCKET_DIR: &str = "/var/run/tailscale";
/// The daemon's socket.
pub const SOCKET: &str = "/var/run/tailscale/tailscaled.sock";
/// Directory of the serve config in the sidecar.
pub const SERVE_DIR: &str = "/etc/tailscale/serve";
/// Where the projected API token is mounted in the sidecar (the path client libraries read).
pub const TOKEN_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// Lifetime of the projected token; the kubelet refreshes it before it expires.
pub const TOKEN_EXPIRATION_SECONDS: i64 = 3600;
/// Default key of the auth key in its Secret.
pub const DEFAULT_AUTH_KEY_KEY: &str = "authkey";

/// Volume names.
pub mod volume {
    /// The daemon's socket, shared with the main container.
    pub const SOCKET: &str = "tailscale-socket";
    /// The CLI, shared with the main container.
    pub const BIN: &str = "tailscale-bin";
    /// `/tmp` of the sidecar (and its local state dir).
    pub const TMP: &str = "tailscale-tmp";
    /// `tailscale-serve.json` from `<name>-config`.
    pub const SERVE: &str = "tailscale-serve";
    /// The projected ServiceAccount token of the sidecar.
    pub const API_TOKEN: &str = "tailscale-api-token";
}

const RESOURCES: ResourceDefault = ResourceDefault {
    requests: ("50m", "64Mi"),
    limits: ("200m", "256Mi"),
};

/// Tailscale sidecar.
pub struct Tailscale;

/// The registry entry.
pub static T: Tailscale = Tailscale;

fn spec<'a>(m: &'a Model<'_>) -> Option<&'a TailscaleSpec> {
    m.spec
        .tailscale
        .as_ref()
        .filter(|t| t.enabled == Some(true))
}

/// The state Secret `<name>-ts-state`.
pub fn state_secret_name(m: &Model) -> String {
    format!("{}-ts-state", m.name)
}

/// The Secret holding the auth key, when Tailscale is on and one is referenced.
pub fn auth_key_secret(m: &Model) -> Option<String> {
    spec(m)?
        .auth_key_secret_ref
        .as_ref()
        .map(|r| r.name.clone())
        .filter(|n| !n.is_empty())
}

/// `tailscale-serve.json`: HTTPS on 443 proxied to the gateway's loopback port; `funnel` also
/// opens it to the internet. Compact, in containerboot's field order (res §7.4).
pub fn serve_config(funnel: bool) -> String {
    let mut out = format!(
        r#"{{"TCP":{{"443":{{"HTTPS":true}}}},"Web":{{"${{TS_CERT_DOMAIN}}:443":{{"Handlers":{{"/":{{"Proxy":"http://127.0.0.1:{GATEWAY_PORT}"}}}}}}}}"#
    );
    if funnel {
        out.push_str(r#","AllowFunnel":{"${TS_CERT_DOMAIN}:443":true}"#);
    }
    out.push('}');
    out
}

fn funnel(m: &Model) -> bool {
    spec(m).and_then(|t| t.mode.as_deref()) == Some("funnel")
}

fn image(m: &Model) -> String {
    let image = spec(m).and_then(|t| t.image.as_ref());
    let (repo, _) = repository(
        image.and_then(|i| i.repository.as_ref()),
        TailscaleImageSpec::DEFAULT_REPOSITORY,
        &[],
    );
    let tag =
        non_empty(image.and_then(|i| i.tag.as_ref())).unwrap_or(TailscaleImageSpec::DEFAULT_TAG);
    image_ref(m, &repo, tag, image.and_then(|i| i.digest.as_ref()))
}

/// The UID of the `tailscale` sidecar (distroless `nonroot`), distinct from the agent's.
pub const SIDECAR_UID: i64 = 65532;

fn init_container(m: &Model, image: &str) -> Container {
    Container {
        name: INIT_NAME.to_string(),
        image: Some(image.to_string()),
        image_pull_policy: Some("IfNotPresent".to_string()),
        command: Some(vec![
            "cp".to_string(),
            "/usr/local/bin/tailscale".to_string(),
            format!("{BIN_DIR}/tailscale"),
        ]),
        security_context: Some(hardened(true, pod_run_as_non_root(m), None)),
        volume_mounts: Some(vec![mount(volume::BIN, BIN_DIR, None, false)]),
        ..Default::default()
    }
}

fn sidecar(m: &Model, image: &str, warnings: &mut Vec<String>) -> Container {
    let t = spec(m);
    let hostname = non_empty(t.and_then(|t| t.hostname.as_ref())).unwrap_or(&m.name);
    let mut env = vec![
        env_value("TS_USERSPACE", "true"),
        env_value("TS_STATE_DIR", "/tmp/tailscale"),
        env_value("TS_SOCKET", SOCKET),
        env_value("TS_SERVE_CONFIG", &format!("{SERVE_DIR}/{SERVE_KEY}")),
        env_value("TS_HOSTNAME", hostname),
        env_value("TS_KUBE_SECRET", &state_secret_name(m)),
    ];
    match auth_key_secret(m) {
        Some(secret) => {
            let key = non_empty(t.and_then(|t| t.auth_key_secret_key.as_ref()))
                .unwrap_or(DEFAULT_AUTH_KEY_KEY);
            env.push(secret_env("TS_AUTHKEY", &secret, key));
        }
        None => warnings.push(
            "spec.tailscale has no authKeySecretRef: the node joins the tailnet only after an interactive login (the URL is in the tailscale container's log)".to_string(),
        ),
    }
    Container {
        name: NAME.to_string(),
        image: Some(image.to_string()),
        image_pull_policy: Some("IfNotPresent".to_string()),
        env: Some(env),
        resources: Some(resources(
            t.and_then(|t| t.resources.as_ref()),
            &RESOURCES,
            "spec.tailscale.resources",
            warnings,
        )),
        // Its own UID: with the pod's shared process namespace (the default), a process of the
        // agent's UID could otherwise read this container's API token and auth key through
        // /proc. tailscaled's socket is world-connectable, and the emptyDirs get the pod's
        // fsGroup.
        security_context: Some(hardened(true, true, Some(SIDECAR_UID))),
        volume_mounts: Some(vec![
            mount(volume::SOCKET, SOCKET_DIR, None, false),
            mount(volume::SERVE, SERVE_DIR, None, true),
            mount(volume::TMP, "/tmp", None, false),
            mount(volume::API_TOKEN, TOKEN_DIR, None, true),
        ]),
        ..Default::default()
    }
}

fn serve_volume(m: &Model) -> Volume {
    Volume {
        name: volume::SERVE.to_string(),
        config_map: Some(ConfigMapVolumeSource {
            name: format!("{}-config", m.name),
            default_mode: Some(0o644),
            items: Some(vec![KeyToPath {
                key: SERVE_KEY.to_string(),
                path: SERVE_KEY.to_string(),
                mode: None,
            }]),
            optional: None,
        }),
        ..Default::default()
    }
}

/// The projected volume a pod gets for its ServiceAccount when the token is automounted:
/// token, cluster CA and namespace.
fn api_token_volume() -> Volume {
    Volume {
        name: volume::API_TOKEN.to_string(),
        projected: Some(ProjectedVolumeSource {
            default_mode: Some(0o644),
            sources: Some(vec![
                VolumeProjection {
                    service_account_token: Some(ServiceAccountTokenProjection {
                        path: "token".to_string(),
                        expiration_seconds: Some(TOKEN_EXPIRATION_SECONDS),
                        audience: None,
                    }),
                    ..Default::default()
                },
                VolumeProjection {
                    config_map: Some(ConfigMapProjection {
                        name: "kube-root-ca.crt".to_string(),
                        items: Some(vec![KeyToPath {
                            key: "ca.crt".to_string(),
                            path: "ca.crt".to_string(),
                            mode: None,
                        }]),
                        optional: None,
                    }),
                    ..Default::default()
                },
                VolumeProjection {
                    downward_api: Some(DownwardAPIProjection {
                        items: Some(vec![DownwardAPIVolumeFile {
                            path: "namespace".to_string(),
                            field_ref: Some(ObjectFieldSelector {
                                api_version: Some("v1".to_string()),
                                field_path: "metadata.namespace".to_string(),
                            }),
                            ..Default::default()
                        }]),
                    }),
                    ..Default::default()
                },
            ]),
        }),
        ..Default::default()
    }
}

impl Feature for Tailscale {
    fn name(&self) -> &'static str {
        NAME
    }

    fn enabled(&self, m: &Model) -> bool {
        spec(m).is_some()
    }

    fn enrich(&self, m: &Model, config: &mut Map<String, Value>, warnings: &mut Vec<String>) {
        if spec(m).and_then(|t| t.auth_sso) != Some(true) {
            return;
        }
        let Some(gateway) = object_at(config, "gateway", "gateway", warnings) else {
            return;
        };
        if let Some(auth) = object_at(gateway, "auth", "gateway.auth", warnings) {
            set_default(auth, "allowTailscale", Value::Bool(true));
        }
    }

    fn config_files(&self, m: &Model) -> Vec<(String, String)> {
        vec![(SERVE_KEY.to_string(), serve_config(funnel(m)))]
    }

    fn pod(&self, m: &Model, parts: &mut PodParts, warnings: &mut Vec<String>) {
        if let Some(mode) = spec(m)
            .and_then(|t| t.mode.as_deref())
            .filter(|mode| !matches!(*mode, "" | "serve" | "funnel"))
        {
            warnings.push(format!(
                "spec.tailscale.mode {mode:?} is neither serve nor funnel; serving on the tailnet only"
            ));
        }
        if !m.create_service_account() && m.service_account_name().is_none() {
            warnings.push(
                "Tailscale with security.rbac.createServiceAccount false and no serviceAccountName: containerboot runs as the namespace's default ServiceAccount, which cannot update the state Secret".to_string(),
            );
        }
        let image = image(m);
        parts.init_containers.push(init_container(m, &image));
        parts.sidecars.push(sidecar(m, &image, warnings));
        parts.volumes.extend([
            empty_dir(volume::SOCKET),
            empty_dir(volume::BIN),
            empty_dir(volume::TMP),
            serve_volume(m),
            api_token_volume(),
        ]);
        parts.main_env.push(env_value("TS_SOCKET", SOCKET));
        parts.main_mounts.extend([
            mount(volume::SOCKET, SOCKET_DIR, None, true),
            mount(volume::BIN, BIN_DIR, None, true),
        ]);
        parts.path_prefixes.push(BIN_DIR.to_string());
    }

    fn network(&self, _m: &Model, net: &mut NetParts) {
        net.needs_api = true;
        net.egress_any.push(network_policy_port("UDP", 3478));
        net.egress_any.push(network_policy_port("UDP", 41641));
    }

    fn role_rules(&self, m: &Model) -> Vec<PolicyRule> {
        vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["secrets".to_string()]),
            resource_names: Some(vec![state_secret_name(m)]),
            verbs: ["get", "update", "patch"].map(String::from).to_vec(),
            ..Default::default()
        }]
    }

    fn objects(
        &self,
        m: &Model,
        out: &mut Vec<Desired>,
        _warnings: &mut Vec<String>,
    ) -> Result<(), RenderError> {
        out.push(Desired::create_only(
            Object::Secret(Secret {
                metadata: component_meta(m, state_secret_name(m), NAME),
                type_: Some("Opaque".to_string()),
                ..Default::default()
            }),
            Phase::Secrets,
            Some(StatusSlot::TailscaleStateSecret),
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::serve_config;
    use sha2::{Digest, Sha256};

    fn sha(s: &str) -> String {
        Sha256::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn serve_json_matches_the_go_vectors() {
        let serve = serve_config(false);
        assert_eq!(
            serve,
            r#"{"TCP":{"443":{"HTTPS":true}},"Web":{"${TS_CERT_DOMAIN}:443":{"Handlers":{"/":{"Proxy":"http://127.0.0.1:18789"}}}}}"#
        );
        assert_eq!(serve.len(), 116);
        assert!(sha(&serve).starts_with("0c1c3dd0"), "{}", sha(&serve));
        assert!(sha(&serve).ends_with("f510a5"), "{}", sha(&serve));
        let funnel = serve_config(true);
        assert_eq!(funnel.len(), 161);
        assert!(sha(&funnel).starts_with("2a933c8b"), "{}", sha(&funnel));
        assert!(sha(&funnel).ends_with("9061a"), "{}", sha(&funnel));
    }
}
