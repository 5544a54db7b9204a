//! The workspace ConfigMap `<name>-workspace` and the seeding plan `init-config` follows.
//!
//! The ConfigMap holds every file to seed plus a plan (key [`SEED_PLAN_KEY`]) that says which
//! key goes to which path of which workspace, and when. `init-config` runs a fixed program that
//! reads the plan, so adding, removing or editing workspace files changes only this ConfigMap,
//! never the pod template: workspace-only edits do not restart the pod (they apply at the next
//! start).
//!
//! Sources of the default workspace, later ones win on the same path: files of
//! `spec.workspace.configMapRef`, `spec.workspace.initialFiles`, the operator's files. An
//! additional workspace: its `configMapRef`, its `initialFiles`, `ENVIRONMENT.md`.
//!
//! When a file is written:
//! - user files: only when the path does not exist yet (seed once; the agent owns them after);
//! - `ENVIRONMENT.md`: on every start when its content differs (operator-owned, describes the pod);
//! - `BOOTSTRAP.md`: only into a workspace directory created by this very start, so onboarding
//!   never comes back after the agent deleted the file (the Go operator re-seeded it);
//! - `SELFCONFIG.md` and `selfconfig.sh` (self-configuration on, default workspace only): on
//!   every start when their content differs (operator-owned, like `ENVIRONMENT.md`, so a new
//!   operator version updates them). ConfigMap files are not executable: the agent runs
//!   `bash selfconfig.sh ...` (as with the Go operator's script).

pub mod files;

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::ConfigMap;
use openclaw_api::validation::{
    check_workspace_directory, check_workspace_file_path, check_workspace_filename,
};
use serde::Serialize;

use crate::consts::{HOME_SUBDIRS, SEED_PLAN_KEY};
use crate::hash::short_sha256;
use crate::json;
use crate::k8s::meta::object_meta;
use crate::model::{MergeMode, Model, valid_workspace_name};

const ENVIRONMENT_MD: &str = "ENVIRONMENT.md";
const BOOTSTRAP_MD: &str = "BOOTSTRAP.md";
const SELFCONFIG_MD: &str = "SELFCONFIG.md";
const SELFCONFIG_SH: &str = "selfconfig.sh";
/// Largest ConfigMap the API server stores.
const CONFIG_MAP_LIMIT: usize = 1024 * 1024;

/// When the program writes a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum When {
    /// Only if nothing exists at the path.
    Once,
    /// Whenever the content differs.
    Always,
    /// Only into a workspace directory that did not exist before this start.
    NewWorkspace,
}

/// One file to write.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FilePlan {
    /// Path relative to the workspace directory.
    pub path: String,
    /// Key of the content in the workspace ConfigMap.
    pub key: String,
    /// When to write it.
    pub when: When,
}

/// One workspace directory on the data volume.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkspacePlan {
    /// Directory relative to the data volume (`workspace`, `workspace-<name>`).
    pub dir: String,
    /// Directories to create inside it.
    pub directories: Vec<String>,
    /// Files to write inside it.
    pub files: Vec<FilePlan>,
}

/// Everything `init-config` does besides writing `openclaw.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SeedPlan {
    /// Directories to create at the root of the data volume.
    pub directories: Vec<String>,
    /// The workspaces.
    pub workspaces: Vec<WorkspacePlan>,
}

/// The rendered workspace ConfigMap data.
pub struct RenderedWorkspace {
    /// ConfigMap data: file contents and the plan.
    pub data: BTreeMap<String, String>,
    /// The plan (also serialized in `data`).
    pub plan: SeedPlan,
}

impl RenderedWorkspace {
    /// The ConfigMap object.
    pub fn config_map(&self, m: &Model) -> ConfigMap {
        ConfigMap {
            metadata: object_meta(m, format!("{}-workspace", m.name)),
            data: Some(self.data.clone()),
            ..Default::default()
        }
    }
}

/// One workspace before keys are assigned.
struct Workspace {
    /// Directory on the data volume.
    dir: String,
    /// Workspace name for hashed keys (empty for the default workspace).
    label: String,
    /// Prefix of readable keys.
    prefix: String,
    directories: Vec<String>,
    files: BTreeMap<String, Source>,
}

/// A file from a source, before keys are assigned.
struct Source {
    content: String,
    when: When,
}

fn is_config_map_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 253
        && !k.starts_with('.')
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Assigns each distinct file a ConfigMap key: the readable Go-compatible key (`a/b` -> `a--b`,
/// prefixed `--ws--<name>--` for additional workspaces) when it is a valid key and still free,
/// otherwise one derived from a hash of the workspace and path. Deterministic for a given input.
struct Keys {
    used: BTreeSet<String>,
}

impl Keys {
    fn assign(&mut self, readable: String, workspace: &str, path: &str) -> String {
        let key = if is_config_map_key(&readable) && !self.used.contains(&readable) {
            readable
        } else {
            let base = short_sha256(format!("{workspace}\0{path}").as_bytes());
            let mut key = format!("f-{base}");
            let mut n = 1;
            while self.used.contains(&key) {
                key = format!("f-{base}-{n}");
                n += 1;
            }
            key
        };
        self.used.insert(key.clone());
        key
    }
}

fn directories(dirs: Option<&Vec<String>>, what: &str, warnings: &mut Vec<String>) -> Vec<String> {
    let mut out = BTreeSet::new();
    for d in dirs.into_iter().flatten() {
        match check_workspace_directory(d) {
            Ok(()) => {
                out.insert(d.trim_end_matches('/').to_string());
            }
            Err(e) => warnings.push(format!("{what}: directory {d:?} skipped: {e}")),
        }
    }
    out.into_iter().filter(|d| !d.is_empty()).collect()
}

fn user_files(
    external: Option<&BTreeMap<String, String>>,
    inline: Option<&BTreeMap<String, String>>,
    what: &str,
    warnings: &mut Vec<String>,
) -> BTreeMap<String, Source> {
    let mut out = BTreeMap::new();
    for (name, content) in external.into_iter().flatten() {
        match check_workspace_filename(name) {
            Ok(()) => {
                out.insert(
                    name.clone(),
                    Source {
                        content: content.clone(),
                        when: When::Once,
                    },
                );
            }
            Err(e) => warnings.push(format!("{what}: ConfigMap file skipped: {e}")),
        }
    }
    for (path, content) in inline.into_iter().flatten() {
        match check_workspace_file_path(path) {
            Ok(()) => {
                out.insert(
                    path.clone(),
                    Source {
                        content: content.clone(),
                        when: When::Once,
                    },
                );
            }
            Err(e) => warnings.push(format!("{what}: initialFiles entry {path:?} skipped: {e}")),
        }
    }
    out
}

fn operator_file(
    files: &mut BTreeMap<String, Source>,
    path: &str,
    content: &str,
    when: When,
    what: &str,
    warnings: &mut Vec<String>,
) {
    if files.contains_key(path) {
        warnings.push(format!(
            "{what}: {path} is managed by the operator; the file from the spec is ignored"
        ));
    }
    files.insert(
        path.to_string(),
        Source {
            content: content.to_string(),
            when,
        },
    );
}

/// Render the workspace ConfigMap data and the seeding plan.
pub fn render(m: &Model, mode: MergeMode, warnings: &mut Vec<String>) -> RenderedWorkspace {
    let ws = m.spec.workspace.as_ref();
    let environment = files::environment_md(m, mode);
    let bootstrap = ws
        .and_then(|w| w.bootstrap.as_ref())
        .and_then(|b| b.enabled)
        != Some(false);

    let mut workspaces: Vec<Workspace> = Vec::new();

    let what = "spec.workspace";
    let mut files = user_files(
        Some(&m.observed.workspace_files),
        ws.and_then(|w| w.initial_files.as_ref()),
        what,
        warnings,
    );
    operator_file(
        &mut files,
        ENVIRONMENT_MD,
        &environment,
        When::Always,
        what,
        warnings,
    );
    if bootstrap {
        operator_file(
            &mut files,
            BOOTSTRAP_MD,
            files::BOOTSTRAP_MD,
            When::NewWorkspace,
            what,
            warnings,
        );
    }
    if m.self_configure() {
        operator_file(
            &mut files,
            SELFCONFIG_MD,
            &files::selfconfig_md(m),
            When::Always,
            what,
            warnings,
        );
        operator_file(
            &mut files,
            SELFCONFIG_SH,
            files::SELFCONFIG_SH,
            When::Always,
            what,
            warnings,
        );
    }
    let dirs = directories(
        ws.and_then(|w| w.initial_directories.as_ref()),
        what,
        warnings,
    );
    workspaces.push(Workspace {
        dir: "workspace".into(),
        label: String::new(),
        prefix: String::new(),
        directories: dirs,
        files,
    });

    let mut seen = BTreeSet::new();
    let mut additional: Vec<_> = ws
        .and_then(|w| w.additional_workspaces.as_ref())
        .into_iter()
        .flatten()
        .collect();
    additional.sort_by(|a, b| a.name.cmp(&b.name));
    for aw in additional {
        let what = format!("spec.workspace.additionalWorkspaces[{}]", aw.name);
        if !valid_workspace_name(&aw.name) {
            warnings.push(format!("{what}: invalid workspace name, skipped"));
            continue;
        }
        if !seen.insert(aw.name.clone()) {
            warnings.push(format!("{what}: duplicate workspace name, skipped"));
            continue;
        }
        let mut files = user_files(
            m.observed.additional_workspace_files.get(&aw.name),
            aw.initial_files.as_ref(),
            &what,
            warnings,
        );
        operator_file(
            &mut files,
            ENVIRONMENT_MD,
            &environment,
            When::Always,
            &what,
            warnings,
        );
        let dirs = directories(aw.initial_directories.as_ref(), &what, warnings);
        workspaces.push(Workspace {
            dir: format!("workspace-{}", aw.name),
            label: aw.name.clone(),
            prefix: format!("--ws--{}--", aw.name),
            directories: dirs,
            files,
        });
    }

    // Operator files share one key each; user files get their own.
    let mut data = BTreeMap::new();
    let mut keys = Keys {
        used: BTreeSet::from([SEED_PLAN_KEY.to_string()]),
    };
    let mut shared: BTreeMap<(String, When), String> = BTreeMap::new();
    let mut plans = Vec::new();
    for Workspace {
        dir,
        label,
        prefix,
        directories,
        files,
    } in workspaces
    {
        let mut plan_files = Vec::new();
        for (path, source) in files {
            let key = if source.when == When::Once {
                let key = keys.assign(
                    format!("{prefix}{}", path.replace('/', "--")),
                    &label,
                    &path,
                );
                data.insert(key.clone(), source.content);
                key
            } else {
                let slot = (path.clone(), source.when);
                match shared.get(&slot) {
                    Some(k) => k.clone(),
                    None => {
                        let key = keys.assign(path.clone(), &label, &path);
                        data.insert(key.clone(), source.content);
                        shared.insert(slot, key.clone());
                        key
                    }
                }
            };
            plan_files.push(FilePlan {
                path,
                key,
                when: source.when,
            });
        }
        plans.push(WorkspacePlan {
            dir,
            directories,
            files: plan_files,
        });
    }
    let mut root_dirs: Vec<String> = HOME_SUBDIRS.iter().map(|d| d.to_string()).collect();
    for d in crate::features::data_dirs(m) {
        if !root_dirs.contains(&d) {
            root_dirs.push(d);
        }
    }
    let plan = SeedPlan {
        directories: root_dirs,
        workspaces: plans,
    };
    let plan_json = serde_json::to_value(&plan)
        .map(|v| json::pretty(&v))
        .unwrap_or_default();
    data.insert(SEED_PLAN_KEY.to_string(), plan_json);
    let size: usize = data.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > CONFIG_MAP_LIMIT {
        warnings.push(format!(
            "the workspace files take {size} bytes, more than a ConfigMap can hold ({CONFIG_MAP_LIMIT}); the API server will reject {}-workspace",
            m.name
        ));
    }
    RenderedWorkspace { data, plan }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readable_keys_when_possible() {
        let mut keys = Keys {
            used: BTreeSet::from([SEED_PLAN_KEY.to_string()]),
        };
        assert_eq!(keys.assign("SOUL.md".into(), "", "SOUL.md"), "SOUL.md");
        assert_eq!(keys.assign("a--b".into(), "", "a/b"), "a--b");
        // A flat file literally named `a--b` collides with `a/b`: it gets a hashed key.
        let k = keys.assign("a--b".into(), "", "a--b");
        assert!(k.starts_with("f-") && k.len() == 18, "{k}");
        // Characters a ConfigMap key cannot hold.
        let k = keys.assign("my notes.md".into(), "", "my notes.md");
        assert!(k.starts_with("f-"), "{k}");
        assert!(is_config_map_key(&k));
    }

    #[test]
    fn workspace_names() {
        assert!(valid_workspace_name("a"));
        assert!(valid_workspace_name("team-a1"));
        for bad in ["", "A", "a--b", "-a", "a-", "a_b", "a/b", "..", "a.b"] {
            assert!(!valid_workspace_name(bad), "{bad}");
        }
    }
}
