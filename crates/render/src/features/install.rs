//! Pieces shared by the operator's install init containers (`init-pnpm`, `init-python`,
//! `init-skills`, `init-plugins`).

use k8s_openapi::api::core::v1::{Container, EnvFromSource, EnvVar, VolumeMount};

use crate::clean::clean_all;
use crate::consts::{HOME, STATE_DIR, volume};
use crate::k8s::security::{helper_security, pod_run_as_non_root};
use crate::k8s::volume::mount;
use crate::model::Model;

/// Where npm installs global packages (the data volume's `.local`, mounted by subPath).
pub const NPM_PREFIX: &str = "/home/openclaw/.local";
/// The npm cache (the data volume's `.cache`, mounted by subPath).
pub const NPM_CACHE: &str = "/home/openclaw/.cache/npm";
/// Binaries installed by the init containers, first on the main container's `PATH`.
pub const LOCAL_BIN: &str = "/home/openclaw/.local/bin";

/// A plain environment variable.
pub(crate) use crate::k8s::container::env_value as env;

/// The operator's variables, then `spec.env` (cluster defaults merged); a user variable
/// replaces the operator's variable of the same name.
pub fn with_user_env(mut ours: Vec<EnvVar>, m: &Model) -> Vec<EnvVar> {
    let user = clean_all(m.spec.env.as_deref().unwrap_or_default());
    ours.retain(|e| !user.iter().any(|u| u.name == e.name));
    ours.extend(user);
    ours
}

/// `spec.envFrom`, when non-empty.
pub fn env_from(m: &Model) -> Option<Vec<EnvFromSource>> {
    crate::k8s::meta::non_empty_vec(clean_all(m.spec.env_from.as_deref().unwrap_or_default()))
}

/// The data volume at the state directory, its `.local` and `.cache` at the home directory's,
/// and the container's own scratch volume at `/tmp`.
pub fn npm_mounts(tmp_volume: &str) -> Vec<VolumeMount> {
    vec![
        mount(volume::DATA, STATE_DIR, None, false),
        mount(
            volume::DATA,
            &format!("{HOME}/.local"),
            Some(".local"),
            false,
        ),
        mount(
            volume::DATA,
            &format!("{HOME}/.cache"),
            Some(".cache"),
            false,
        ),
        mount(tmp_volume, "/tmp", None, false),
    ]
}

/// An init container on the OpenClaw image running `node -e <program> <argument>`, with the
/// helper security context (read-only root, seccomp, the pod's `runAsNonRoot`).
pub fn node_container(
    m: &Model,
    name: &str,
    program: &str,
    argument: String,
    env: Vec<EnvVar>,
    mounts: Vec<VolumeMount>,
) -> Container {
    Container {
        name: name.to_string(),
        image: Some(main_image(m)),
        image_pull_policy: Some(m.pull_policy()),
        command: Some(vec![
            "node".to_string(),
            "-e".to_string(),
            program.to_string(),
            argument,
        ]),
        env: Some(with_user_env(env, m)),
        env_from: env_from(m),
        security_context: Some(helper_security(pod_run_as_non_root(m), None)),
        volume_mounts: Some(mounts),
        ..Default::default()
    }
}

/// The OpenClaw image after the registry override.
pub fn main_image(m: &Model) -> String {
    crate::image::with_registry(&m.main_image(), m.registry())
}
