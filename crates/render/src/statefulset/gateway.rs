//! The main container `openclaw`.

use k8s_openapi::api::core::v1::{
    Container, EnvVar, ExecAction, Lifecycle, LifecycleHandler, SecurityContext, VolumeMount,
};

use super::init::apply_args;
use super::probes;
use crate::clean::clean_all;
use crate::config::{Auth, RenderedConfig};
use crate::consts::{
    CANVAS_PORT, CONFIG_KEY, DEFAULT_PATH, GATEWAY_PORT, HOME, HOME_SUBDIRS, OPERATOR_CONFIG_DIR,
    STATE_DIR, TOKEN_ENV, TOKEN_KEY, container, volume,
};
use crate::features::PodParts;
use crate::k8s::container::{ResourceDefault, env_value, port, resources, secret_env};
use crate::k8s::meta::non_empty_vec;
use crate::k8s::security::{drop_all, pod_run_as_non_root, runtime_default};
use crate::k8s::volume::mount;
use crate::model::Model;
use crate::programs;

/// Environment of the main container: the operator's variables, then `spec.env` (with the
/// cluster defaults merged). A user variable replaces the operator's variable of the same name
/// (the API server's server-side apply refuses duplicate names, and a later duplicate won at
/// runtime anyway).
pub fn env(m: &Model, auth: Auth, parts: &PodParts) -> Vec<EnvVar> {
    let user = clean_all(m.spec.env.as_deref().unwrap_or_default());
    let user_has = |name: &str| user.iter().any(|e| e.name == name);
    let mut env = vec![
        env_value("HOME", HOME),
        env_value("OPENCLAW_CONFIG_PATH", crate::consts::CONFIG_PATH),
        env_value("OPENCLAW_DISABLE_BONJOUR", "1"),
        env_value("OPENCLAW_HANDSHAKE_TIMEOUT_MS", "10000"),
        env_value("NPM_CONFIG_PREFIX", &format!("{HOME}/.local")),
        env_value("NPM_CONFIG_CACHE", &format!("{HOME}/.cache/npm")),
        env_value("PIP_USER", "1"),
    ];
    // Feature variables (Chromium CDP URL, Ollama host, Tailscale socket), then PATH.
    env.extend(parts.main_env.iter().cloned());
    if !parts.path_prefixes.is_empty() {
        let mut path = parts.path_prefixes.clone();
        path.push(DEFAULT_PATH.to_string());
        env.push(env_value("PATH", &path.join(":")));
    }
    if auth == Auth::Token && !user_has(TOKEN_ENV) {
        env.push(secret_env(TOKEN_ENV, &m.gateway_secret_name(), TOKEN_KEY));
    }
    if m.self_configure() {
        env.push(env_value("OPENCLAW_INSTANCE_NAME", &m.name));
        env.push(env_value("OPENCLAW_NAMESPACE", &m.namespace));
    }
    env.retain(|e| !user_has(&e.name));
    for e in user {
        match env.iter_mut().find(|x| x.name == e.name) {
            Some(existing) => *existing = e,
            None => env.push(e),
        }
    }
    env
}

/// Defaults of the main container.
pub const MAIN_RESOURCES: ResourceDefault = ResourceDefault {
    requests: ("500m", "1Gi"),
    limits: ("2", "4Gi"),
};

/// The hardened baseline; `spec.security.containerSecurityContext` overrides single fields.
fn security_context(m: &Model) -> SecurityContext {
    let csc = m
        .spec
        .security
        .as_ref()
        .and_then(|s| s.container_security_context.clone())
        .unwrap_or_default();
    SecurityContext {
        allow_privilege_escalation: Some(csc.allow_privilege_escalation.unwrap_or(false)),
        read_only_root_filesystem: Some(csc.read_only_root_filesystem.unwrap_or(true)),
        run_as_non_root: Some(
            csc.run_as_non_root
                .unwrap_or_else(|| pod_run_as_non_root(m)),
        ),
        run_as_user: csc.run_as_user,
        capabilities: Some(
            csc.capabilities
                .map(|c| crate::clean::clean(&c))
                .unwrap_or_else(drop_all),
        ),
        seccomp_profile: Some(runtime_default()),
        ..Default::default()
    }
}

/// The operator's mounts of the main container, before `spec.extraVolumeMounts`.
fn mounts(parts: &PodParts) -> Vec<VolumeMount> {
    let mut mounts = vec![mount(volume::DATA, STATE_DIR, None, false)];
    for sub in HOME_SUBDIRS {
        mounts.push(mount(
            volume::DATA,
            &format!("{HOME}/{sub}"),
            Some(sub),
            false,
        ));
    }
    mounts.push(mount(volume::TMP, "/tmp", None, false));
    // Feature mounts (Tailscale socket, skills); the CA bundle mount comes from its post-pass.
    mounts.extend(parts.main_mounts.iter().cloned());
    mounts
}

/// The main container.
pub fn container(
    m: &Model,
    config: &RenderedConfig,
    image: &str,
    parts: &PodParts,
    warnings: &mut Vec<String>,
) -> Container {
    let mut volume_mounts = mounts(parts);
    let config_mount = mount(volume::CONFIG, OPERATOR_CONFIG_DIR, None, true);
    let reserved: Vec<String> = volume_mounts
        .iter()
        .chain([&config_mount])
        .map(|v| v.mount_path.clone())
        .collect();
    for extra in clean_all(m.spec.extra_volume_mounts.as_deref().unwrap_or_default()) {
        if reserved.contains(&extra.mount_path)
            || volume_mounts
                .iter()
                .any(|v| v.mount_path == extra.mount_path)
        {
            warnings.push(format!(
                "spec.extraVolumeMounts: mount path {:?} is already used; the extra mount is skipped",
                extra.mount_path
            ));
            continue;
        }
        volume_mounts.push(extra);
    }
    volume_mounts.push(config_mount);

    let (liveness, readiness, startup) = probes::probes(m, warnings);
    let mut post_start = vec![
        "node".to_string(),
        "-e".to_string(),
        programs::APPLY.to_string(),
    ];
    post_start.extend(apply_args(
        config,
        m,
        STATE_DIR,
        &format!("{OPERATOR_CONFIG_DIR}/{CONFIG_KEY}"),
        None,
    ));
    Container {
        name: container::MAIN.to_string(),
        image: Some(image.to_string()),
        image_pull_policy: Some(m.pull_policy()),
        ports: Some(vec![
            port("gateway", GATEWAY_PORT),
            port("canvas", CANVAS_PORT),
        ]),
        env: Some(env(m, config.auth, parts)),
        env_from: non_empty_vec(clean_all(m.spec.env_from.as_deref().unwrap_or_default())),
        resources: Some(resources(
            m.spec.resources.as_ref(),
            &MAIN_RESOURCES,
            "spec.resources",
            warnings,
        )),
        security_context: Some(security_context(m)),
        volume_mounts: Some(volume_mounts),
        // Re-apply openclaw.json when the container restarts inside a running pod (init
        // containers only run when the pod starts).
        lifecycle: Some(Lifecycle {
            post_start: Some(LifecycleHandler {
                exec: Some(ExecAction {
                    command: Some(post_start),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        liveness_probe: liveness,
        readiness_probe: readiness,
        startup_probe: startup,
        ..Default::default()
    }
}
