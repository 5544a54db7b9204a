//! `init-config` and the arguments of the apply program it shares with the main container's
//! `postStart` hook.

use k8s_openapi::api::core::v1::Container;

use crate::config::RenderedConfig;
use crate::consts::{
    CONFIG_KEY, INIT_CONFIG_DIR, INIT_DATA_DIR, INIT_WORKSPACE_DIR, container, volume,
};
use crate::json;
use crate::k8s::security::{helper_security, pod_run_as_non_root};
use crate::k8s::volume::mount;
use crate::model::{MergeMode, Model};
use crate::programs;

/// Arguments of [`programs::APPLY`]: mode, forcePaths (merge mode only), data directory,
/// config file and, in `init-config`, the workspace ConfigMap directory.
pub fn apply_args(
    config: &RenderedConfig,
    m: &Model,
    data_dir: &str,
    config_file: &str,
    seed_dir: Option<&str>,
) -> Vec<String> {
    let force_paths = match config.mode {
        MergeMode::Merge => m.force_paths(),
        MergeMode::Overwrite => Vec::new(),
    };
    let mut args = vec![
        config.mode.as_str().to_string(),
        json::compact(&serde_json::Value::from(force_paths)),
        data_dir.to_string(),
        config_file.to_string(),
    ];
    args.extend(seed_dir.map(str::to_string));
    args
}

/// The command of `init-config` (an input of the config hash).
pub fn init_command(m: &Model, config: &RenderedConfig) -> Vec<String> {
    let mut command = vec![
        "node".to_string(),
        "-e".to_string(),
        programs::APPLY.to_string(),
    ];
    command.extend(apply_args(
        config,
        m,
        INIT_DATA_DIR,
        &format!("{INIT_CONFIG_DIR}/{CONFIG_KEY}"),
        Some(INIT_WORKSPACE_DIR),
    ));
    command
}

/// `init-config`: applies `openclaw.json` and seeds the workspaces (see
/// [`programs::APPLY`]). Runs the OpenClaw image, which every pod pulls anyway and which has
/// Node; nothing in it depends on the workspace files, so editing them never changes the pod.
pub fn init_config(m: &Model, config: &RenderedConfig, image: &str) -> Container {
    Container {
        name: container::INIT_CONFIG.to_string(),
        image: Some(image.to_string()),
        image_pull_policy: Some(m.pull_policy()),
        command: Some(init_command(m, config)),
        security_context: Some(helper_security(pod_run_as_non_root(m), None)),
        volume_mounts: Some(vec![
            mount(volume::DATA, INIT_DATA_DIR, None, false),
            mount(volume::CONFIG, INIT_CONFIG_DIR, None, true),
            mount(volume::WORKSPACE_INIT, INIT_WORKSPACE_DIR, None, true),
        ]),
        ..Default::default()
    }
}
