//! The StatefulSet `<name>` and its pod.
//!
//! Pod layout (features add theirs through [`PodParts`]):
//! - init containers: `init-config`, the features' init containers, then
//!   `spec.initContainers`;
//! - containers: `openclaw`, `gateway-proxy` (unless `spec.gateway.enabled: false`), the
//!   features' sidecars, then `spec.sidecars`;
//! - volumes: `data`, `config`, `workspace-init`, `tmp`, `gateway-proxy-tmp`, the features'
//!   volumes, then `spec.sidecarVolumes` and `spec.extraVolumes`;
//! - finally the features' post-passes ([`crate::features::finish_pod`]: the CA bundle, and
//!   [`crate::features::finish_statefulset`]: autoscaling).
//!
//! Objects copied from the spec that collide with the operator's (same container name, volume
//! name or mount path) are skipped with a warning: the pod would be invalid otherwise.

pub mod gateway;
pub mod init;
pub mod probes;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Container, LocalObjectReference, PodSecurityContext, PodSpec, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::clean::{clean, clean_all};
use crate::config::RenderedConfig;
use crate::consts::{
    CONFIG_HASH_ANNOTATION, DEFAULT_POD_ID, NGINX_IMAGE, NGINX_KEY, NGINX_UID, PROXY_CANVAS_PORT,
    PROXY_GATEWAY_PORT, SECRET_HASH_ANNOTATION, container, volume,
};
use crate::features::{self, PodParts};
use crate::image::with_registry;
use crate::k8s::container::{ResourceDefault, port, resources};
use crate::k8s::meta::{labels, non_empty_map, non_empty_vec, object_meta, pod_selector};
use crate::k8s::security::{helper_security, runtime_default};
use crate::k8s::volume::{config_map_volume, empty_dir, mount, pvc_volume};
use crate::model::Model;

pub use crate::programs;
pub use init::{apply_args, init_command};

/// The resources of the gateway proxy: requests 10m / 16Mi, limits 100m / 64Mi.
const PROXY_RESOURCES: ResourceDefault = ResourceDefault {
    requests: ("10m", "16Mi"),
    limits: ("100m", "64Mi"),
};

/// `gateway-proxy`: nginx forwarding the pod's 18790/18794 to the loopback-bound gateway.
fn gateway_proxy(m: &Model, warnings: &mut Vec<String>) -> Container {
    Container {
        name: container::GATEWAY_PROXY.to_string(),
        image: Some(with_registry(NGINX_IMAGE, m.registry())),
        image_pull_policy: Some("IfNotPresent".to_string()),
        command: Some(vec![
            "nginx".to_string(),
            "-g".to_string(),
            "daemon off;".to_string(),
        ]),
        ports: Some(vec![
            port("gw-proxy", PROXY_GATEWAY_PORT),
            port("canvas-proxy", PROXY_CANVAS_PORT),
        ]),
        resources: Some(resources(None, &PROXY_RESOURCES, "gateway-proxy", warnings)),
        security_context: Some(helper_security(true, Some(NGINX_UID))),
        volume_mounts: Some(vec![
            mount(
                volume::CONFIG,
                "/etc/nginx/nginx.conf",
                Some(NGINX_KEY),
                true,
            ),
            mount(volume::GATEWAY_PROXY_TMP, "/tmp", None, false),
        ]),
        ..Default::default()
    }
}

fn volumes(m: &Model, parts: &PodParts, warnings: &mut Vec<String>) -> Vec<Volume> {
    let data = match m.data_claim_name() {
        Some(claim) => pvc_volume(volume::DATA, &claim),
        None => empty_dir(volume::DATA),
    };
    let mut volumes = vec![
        data,
        config_map_volume(volume::CONFIG, format!("{}-config", m.name)),
        config_map_volume(volume::WORKSPACE_INIT, format!("{}-workspace", m.name)),
        empty_dir(volume::TMP),
    ];
    if m.proxy_enabled() {
        volumes.push(empty_dir(volume::GATEWAY_PROXY_TMP));
    }
    // Feature volumes (Tailscale, Chromium, Ollama, web terminal); the CA bundle volume comes
    // from its post-pass.
    volumes.extend(parts.volumes.iter().cloned());
    for (field, extra) in [
        ("spec.sidecarVolumes", m.spec.sidecar_volumes.as_deref()),
        ("spec.extraVolumes", m.spec.extra_volumes.as_deref()),
    ] {
        for v in clean_all(extra.unwrap_or_default()) {
            if volumes.iter().any(|x| x.name == v.name) {
                warnings.push(format!(
                    "{field}: volume name {:?} is already used; the volume is skipped",
                    v.name
                ));
                continue;
            }
            volumes.push(v);
        }
    }
    volumes
}

/// Append the spec's containers, skipping names already taken.
fn add_user_containers(
    list: &mut Vec<Container>,
    taken: &mut Vec<String>,
    extra: Option<&Vec<Container>>,
    field: &str,
    warnings: &mut Vec<String>,
) {
    for c in clean_all(extra.map(Vec::as_slice).unwrap_or_default()) {
        if taken.contains(&c.name) {
            warnings.push(format!(
                "{field}: container name {:?} is already used; the container is skipped",
                c.name
            ));
            continue;
        }
        taken.push(c.name.clone());
        list.push(c);
    }
}

fn pod_security_context(m: &Model) -> PodSecurityContext {
    let psc = m
        .spec
        .security
        .as_ref()
        .and_then(|s| s.pod_security_context.clone())
        .unwrap_or_default();
    PodSecurityContext {
        run_as_non_root: Some(psc.run_as_non_root.unwrap_or(true)),
        run_as_user: Some(psc.run_as_user.unwrap_or(DEFAULT_POD_ID)),
        run_as_group: Some(psc.run_as_group.unwrap_or(DEFAULT_POD_ID)),
        fs_group: Some(psc.fs_group.unwrap_or(DEFAULT_POD_ID)),
        fs_group_change_policy: psc.fs_group_change_policy.filter(|p| !p.is_empty()),
        seccomp_profile: Some(runtime_default()),
        ..Default::default()
    }
}

/// The StatefulSet.
pub fn render(
    m: &Model,
    config: &RenderedConfig,
    config_hash: &str,
    warnings: &mut Vec<String>,
) -> StatefulSet {
    let image = with_registry(&m.main_image(), m.registry());
    let parts = features::pod_parts(m, warnings);

    let mut names = vec![
        container::INIT_CONFIG.to_string(),
        container::MAIN.to_string(),
    ];
    let mut init_containers = vec![init::init_config(m, config, &image)];
    // Feature init containers (Tailscale binaries, runtime dependencies, skills, plugins,
    // Ollama, Chromium).
    names.extend(parts.init_containers.iter().map(|c| c.name.clone()));
    init_containers.extend(parts.init_containers.iter().cloned());
    let mut containers = vec![gateway::container(m, config, &image, &parts, warnings)];
    if m.proxy_enabled() {
        names.push(container::GATEWAY_PROXY.to_string());
        containers.push(gateway_proxy(m, warnings));
    }
    // Feature sidecars (Tailscale, Ollama, web terminal, OTel collector).
    names.extend(parts.sidecars.iter().map(|c| c.name.clone()));
    containers.extend(parts.sidecars.iter().cloned());
    add_user_containers(
        &mut init_containers,
        &mut names,
        m.spec.init_containers.as_ref(),
        "spec.initContainers",
        warnings,
    );
    add_user_containers(
        &mut containers,
        &mut names,
        m.spec.sidecars.as_ref(),
        "spec.sidecars",
        warnings,
    );

    let mut annotations: BTreeMap<String, String> =
        m.spec.pod_annotations.clone().unwrap_or_default();
    annotations.insert(CONFIG_HASH_ANNOTATION.to_string(), config_hash.to_string());
    if m.observed.secret_hash.is_empty() {
        annotations.remove(SECRET_HASH_ANNOTATION);
    } else {
        annotations.insert(
            SECRET_HASH_ANNOTATION.to_string(),
            m.observed.secret_hash.clone(),
        );
    }

    let availability = m.spec.availability.as_ref();
    let pull_secrets: Vec<LocalObjectReference> = m
        .spec
        .image
        .as_ref()
        .and_then(|i| i.pull_secrets.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|s| !s.name.is_empty())
        .collect();
    let mut pod = PodSpec {
        service_account_name: m.service_account_name(),
        automount_service_account_token: Some(m.needs_api_access()),
        share_process_namespace: Some(m.spec.share_process_namespace.unwrap_or(true)),
        security_context: Some(pod_security_context(m)),
        image_pull_secrets: non_empty_vec(pull_secrets),
        node_selector: availability
            .and_then(|a| a.node_selector.clone())
            .and_then(non_empty_map),
        tolerations: availability
            .and_then(|a| a.tolerations.as_deref())
            .map(clean_all)
            .and_then(non_empty_vec),
        affinity: availability.and_then(|a| a.affinity.as_ref()).map(clean),
        topology_spread_constraints: availability
            .and_then(|a| a.topology_spread_constraints.as_deref())
            .map(clean_all)
            .and_then(non_empty_vec),
        runtime_class_name: availability
            .and_then(|a| a.runtime_class_name.clone())
            .filter(|r| !r.is_empty()),
        init_containers: Some(init_containers),
        containers,
        volumes: Some(volumes(m, &parts, warnings)),
        termination_grace_period_seconds: Some(crate::consts::TERMINATION_GRACE_SECONDS),
        ..Default::default()
    };
    // Post-passes (the CA bundle).
    features::finish_pod(m, &mut pod, warnings);

    let mut sts = StatefulSet {
        metadata: object_meta(m, m.name.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(if m.suspended() { 0 } else { 1 }),
            revision_history_limit: Some(10),
            service_name: Some(m.name.clone()),
            pod_management_policy: Some("Parallel".to_string()),
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some("Retain".to_string()),
                    when_scaled: Some("Retain".to_string()),
                },
            ),
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".to_string()),
                rolling_update: None,
            }),
            selector: pod_selector(&m.name),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(&m.name)),
                    annotations: Some(annotations),
                    ..Default::default()
                }),
                spec: Some(pod),
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    // Post-passes (autoscaling: `replicas` left to the HPA, the `data` volume from a claim
    // template).
    if let Some(spec) = sts.spec.as_mut() {
        features::finish_statefulset(m, spec);
    }
    sts
}
