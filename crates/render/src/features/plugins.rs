//! Plugins (`docs/design/optional-features.md` §1.7): `init-plugins` runs
//! `openclaw plugins install` for every entry of `spec.plugins`, into
//! `~/.openclaw/extensions` on the data volume.
//!
//! Installed plugins stay enabled when the operator overwrites `openclaw.json` (spike S2, see
//! `docs/features/init.md`): OpenClaw 2026.9.6 loads every plugin of its extensions directory
//! and records the install in its state, so no `plugins.entries` enrichment is needed and the
//! container keeps its place after `init-config`. No `NODE_PATH` either (delta H9).

use std::collections::BTreeSet;

use super::hooks::{Feature, PodParts};
use super::install::{NPM_CACHE, NPM_PREFIX, env, node_container, npm_mounts};
use crate::consts::HOME;
use crate::json;
use crate::k8s::volume::empty_dir;
use crate::model::Model;
use crate::programs;
use openclaw_api::validation::check_plugin;

/// Name of the init container.
pub const INIT_PLUGINS: &str = "init-plugins";
/// Its scratch volume.
pub const PLUGINS_TMP: &str = "plugins-tmp";

/// The install specs, sorted by the entry as written (delta §2.10): `npm:<pkg>` stays,
/// anything else becomes `clawhub:<entry>`. Invalid entries are skipped with a warning.
pub fn specs(m: &Model, warnings: &mut Vec<String>) -> Vec<String> {
    let entries: BTreeSet<&String> = m.spec.plugins.iter().flatten().collect();
    let mut out = Vec::new();
    for raw in entries {
        if let Err(e) = check_plugin(raw) {
            warnings.push(format!("spec.plugins: {raw:?} skipped: {e}"));
            continue;
        }
        let spec = if raw.starts_with("npm:") {
            raw.clone()
        } else {
            format!("clawhub:{raw}")
        };
        if spec
            .split_once(':')
            .is_some_and(|(_, r)| r.starts_with('-'))
        {
            warnings.push(format!(
                "spec.plugins: {raw:?} skipped: a reference must not start with '-'"
            ));
            continue;
        }
        out.push(spec);
    }
    out
}

/// Plugins installation.
pub struct Plugins;

/// The registry entry.
pub static T: Plugins = Plugins;

impl Feature for Plugins {
    fn name(&self) -> &'static str {
        "plugins"
    }

    fn enabled(&self, m: &Model) -> bool {
        !specs(m, &mut Vec::new()).is_empty()
    }

    fn pod(&self, m: &Model, parts: &mut PodParts, warnings: &mut Vec<String>) {
        let specs = specs(m, warnings);
        parts.init_containers.push(node_container(
            m,
            INIT_PLUGINS,
            programs::INSTALL_PLUGINS,
            json::compact(&serde_json::Value::from(specs)),
            vec![
                env("HOME", HOME),
                env("NPM_CONFIG_PREFIX", NPM_PREFIX),
                env("NPM_CONFIG_CACHE", NPM_CACHE),
                env("NPM_CONFIG_IGNORE_SCRIPTS", "true"),
            ],
            npm_mounts(PLUGINS_TMP),
        ));
        parts.volumes.push(empty_dir(PLUGINS_TMP));
    }
}
