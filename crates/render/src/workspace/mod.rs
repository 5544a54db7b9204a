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
//!
//! Skill packs ([`crate::skillpacks`], resolved by the controller) add files of the lowest
//! priority: a pack file at a path another source already fills is skipped with a warning. Their
//! keys follow the Go operator's (`a/b` -> `a--b`, `--ws--<name>--` for additional workspaces);
//! content that is not UTF-8 goes to `binaryData`. `spec.skillPackUpdatePolicy`:
//! - `Replace` (default): written whenever the content differs (an agent's edit is reverted),
//!   and listed in the workspace's manifest on the data volume (`.skillpack-manifest`,
//!   `.skillpack-manifest-ws-<name>`, the Go operator's files and format). Each start first
//!   removes the files of the old manifest that the plan no longer lists (and then their empty
//!   parent directories): only files the manifest names, never anything else. Every workspace
//!   carries its manifest in the plan even without packs, so removing the last pack removes
//!   its files.
//! - `CreateOnly`: written only when nothing exists at the path (parents created), no manifest.
//!
//! The workspace ConfigMap must stay below the API server's limit: when the packs do not fit,
//! the packs of the workspaces that overflow it (the default workspace first, then by name) are
//! left out with a warning, and their manifest is left alone, so files seeded earlier stay.
//! What the packs seed is an input of the config hash ([`RenderedWorkspace::packs_digest`]), so
//! a new pack revision restarts the pod and is seeded.

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
use crate::skillpacks::ResolvedPacks;

const ENVIRONMENT_MD: &str = "ENVIRONMENT.md";
const BOOTSTRAP_MD: &str = "BOOTSTRAP.md";
const SELFCONFIG_MD: &str = "SELFCONFIG.md";
const SELFCONFIG_SH: &str = "selfconfig.sh";
/// Largest ConfigMap the API server stores.
const CONFIG_MAP_LIMIT: usize = 1024 * 1024;
/// What skill packs may fill the workspace ConfigMap up to: the limit less room for the
/// object's metadata (labels, owner reference, the managed-fields entry of every key).
pub const PACK_BUDGET: usize = CONFIG_MAP_LIMIT - 16 * 1024;
/// The skill-pack manifest of the default workspace, on the data volume (the Go operator's).
pub const MANIFEST: &str = ".skillpack-manifest";
/// Where the plan entries of a pack file are counted against [`PACK_BUDGET`]: the JSON around
/// its path and key in the plan.
const PLAN_ENTRY_OVERHEAD: usize = 64;

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
    /// A skill-pack file under the Replace policy: whenever the content differs, and listed in
    /// the workspace's manifest.
    Replace,
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
    /// Skill packs under the Replace policy: the manifest (relative to the data volume) that
    /// lists the workspace's [`When::Replace`] files. Before seeding, the files the old
    /// manifest lists and the plan no longer does are removed; after, it lists the plan's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
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
    /// ConfigMap binaryData: skill-pack files that are not UTF-8.
    pub binary_data: BTreeMap<String, Vec<u8>>,
    /// The plan (also serialized in `data`).
    pub plan: SeedPlan,
    /// Digest of what the skill packs seed (paths, policy, contents, directories), `None` when
    /// they seed nothing: an input of the config hash.
    pub packs_digest: Option<String>,
}

impl RenderedWorkspace {
    /// The ConfigMap object.
    pub fn config_map(&self, m: &Model) -> ConfigMap {
        ConfigMap {
            metadata: object_meta(m, format!("{}-workspace", m.name)),
            data: Some(self.data.clone()),
            binary_data: (!self.binary_data.is_empty()).then(|| {
                self.binary_data
                    .iter()
                    .map(|(k, v)| (k.clone(), k8s_openapi::ByteString(v.clone())))
                    .collect()
            }),
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
    /// The spec field of its skills (for messages).
    skills_field: String,
    /// Its skill-pack manifest, relative to the data volume.
    manifest: String,
    /// Its skill packs, checked and without the files another source fills.
    packs: Packs,
}

/// A file from a source, before keys are assigned.
struct Source {
    content: String,
    when: When,
}

/// The skill packs of one workspace, ready to seed.
#[derive(Default)]
struct Packs {
    /// The `pack:` references (for messages).
    references: Vec<String>,
    files: BTreeMap<String, Vec<u8>>,
    directories: BTreeSet<String>,
    /// Not every pack resolved: no manifest clean-up.
    incomplete: bool,
}

/// Why a pack path cannot be seeded: it must be relative and normalized (no empty, `.` or `..`
/// segment) and hold no control character or backslash (the manifest is one path a line).
fn pack_path_error(path: &str) -> Option<&'static str> {
    if path.is_empty() {
        Some("empty path")
    } else if path.len() > 4096 {
        Some("path longer than 4096 bytes")
    } else if path.starts_with('/') {
        Some("absolute path")
    } else if path.chars().any(|c| c.is_control() || c == '\\') {
        Some("control character or backslash in the path")
    } else if path.split('/').any(|s| matches!(s, "" | "." | "..")) {
        Some("empty, '.' or '..' path segment")
    } else {
        None
    }
}

/// A workspace's resolved packs, checked against `files` (higher priority: a pack file at a
/// path they fill is skipped).
fn checked_packs(
    resolved: Option<&ResolvedPacks>,
    files: &BTreeMap<String, Source>,
    what: &str,
    warnings: &mut Vec<String>,
) -> Packs {
    let Some(resolved) = resolved else {
        return Packs::default();
    };
    let mut out = Packs {
        references: resolved.references.clone(),
        incomplete: resolved.incomplete,
        ..Packs::default()
    };
    for (path, content) in &resolved.files {
        if let Some(e) = pack_path_error(path) {
            warnings.push(format!("{what}: skill-pack file {path:?} skipped: {e}"));
        } else if files.contains_key(path) {
            warnings.push(format!(
                "{what}: skill-pack file {path:?} skipped: the workspace file from the spec or the operator at that path takes precedence"
            ));
        } else {
            out.files.insert(path.clone(), content.clone());
        }
    }
    for d in &resolved.directories {
        let d = d.trim_end_matches('/');
        match pack_path_error(d) {
            Some(e) => warnings.push(format!("{what}: skill-pack directory {d:?} skipped: {e}")),
            None => {
                out.directories.insert(d.to_string());
            }
        }
    }
    out
}

/// The ConfigMap entries, the workspace plans and what the packs take.
struct Built {
    data: BTreeMap<String, String>,
    binary_data: BTreeMap<String, Vec<u8>>,
    plans: Vec<WorkspacePlan>,
    /// Per workspace: the bytes its pack files take (keys, contents and plan entries).
    pack_bytes: Vec<usize>,
}

/// Assigns the keys and builds the plans; the packs of workspace `i` are seeded when
/// `with_packs[i]`. Files of a higher priority come first, so they keep their readable keys.
fn build(workspaces: &[Workspace], with_packs: &[bool], create_only: bool) -> Built {
    let mut data = BTreeMap::new();
    let mut binary_data = BTreeMap::new();
    let mut keys = Keys {
        used: BTreeSet::from([SEED_PLAN_KEY.to_string()]),
    };
    // Operator files share one key each; user files get their own.
    let mut shared: BTreeMap<(String, When), String> = BTreeMap::new();
    let mut files: Vec<Vec<FilePlan>> = workspaces.iter().map(|_| Vec::new()).collect();
    for (ws, out) in workspaces.iter().zip(files.iter_mut()) {
        for (path, source) in &ws.files {
            let key = if source.when == When::Once {
                let key = keys.assign(
                    format!("{}{}", ws.prefix, path.replace('/', "--")),
                    &ws.label,
                    path,
                );
                data.insert(key.clone(), source.content.clone());
                key
            } else {
                let slot = (path.clone(), source.when);
                match shared.get(&slot) {
                    Some(k) => k.clone(),
                    None => {
                        let key = keys.assign(path.clone(), &ws.label, path);
                        data.insert(key.clone(), source.content.clone());
                        shared.insert(slot, key.clone());
                        key
                    }
                }
            };
            out.push(FilePlan {
                path: path.clone(),
                key,
                when: source.when,
            });
        }
    }
    let when = if create_only {
        When::Once
    } else {
        When::Replace
    };
    let mut pack_bytes = vec![0; workspaces.len()];
    for (i, ws) in workspaces.iter().enumerate() {
        if !with_packs.get(i).copied().unwrap_or(false) {
            continue;
        }
        for (path, content) in &ws.packs.files {
            let key = keys.assign(
                format!("{}{}", ws.prefix, path.replace('/', "--")),
                &ws.label,
                path,
            );
            pack_bytes[i] += 2 * key.len() + content.len() + path.len() + PLAN_ENTRY_OVERHEAD;
            match String::from_utf8(content.clone()) {
                Ok(text) => {
                    data.insert(key.clone(), text);
                }
                Err(e) => {
                    binary_data.insert(key.clone(), e.into_bytes());
                }
            }
            files[i].push(FilePlan {
                path: path.clone(),
                key,
                when,
            });
        }
    }
    let plans = workspaces
        .iter()
        .zip(files)
        .enumerate()
        .map(|(i, (ws, mut files))| {
            let seeded = with_packs.get(i).copied().unwrap_or(false);
            files.sort_by(|a, b| a.path.cmp(&b.path));
            let mut directories = ws.directories.clone();
            if seeded {
                for d in &ws.packs.directories {
                    if !directories.contains(d) {
                        directories.push(d.clone());
                    }
                }
            }
            WorkspacePlan {
                dir: ws.dir.clone(),
                directories,
                files,
                // An incomplete resolution keeps what earlier revisions seeded.
                manifest: (seeded && !create_only && !ws.packs.incomplete)
                    .then(|| ws.manifest.clone()),
            }
        })
        .collect();
    Built {
        data,
        binary_data,
        plans,
        pack_bytes,
    }
}

/// Bytes the ConfigMap entries take (keys and values, as the API server counts them).
fn size(data: &BTreeMap<String, String>, binary_data: &BTreeMap<String, Vec<u8>>) -> usize {
    data.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
        + binary_data
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
}

/// Digest of what the packs seed, `None` when they seed nothing.
fn packs_digest(
    workspaces: &[Workspace],
    with_packs: &[bool],
    create_only: bool,
) -> Option<String> {
    let seeded: Vec<serde_json::Value> = workspaces
        .iter()
        .zip(with_packs)
        .filter(|(ws, on)| **on && !(ws.packs.files.is_empty() && ws.packs.directories.is_empty()))
        .map(|(ws, _)| {
            serde_json::json!({
                "dir": ws.dir,
                "directories": ws.packs.directories,
                "files": ws
                    .packs
                    .files
                    .iter()
                    .map(|(p, c)| (p.clone(), serde_json::Value::from(short_sha256(c))))
                    .collect::<serde_json::Map<_, _>>(),
            })
        })
        .collect();
    if seeded.is_empty() {
        return None;
    }
    let input = serde_json::json!({"createOnly": create_only, "workspaces": seeded});
    Some(short_sha256(json::compact(&input).as_bytes()))
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
    let skills_field = "spec.skills".to_string();
    let packs = checked_packs(
        Some(&m.observed.skill_packs.default),
        &files,
        &skills_field,
        warnings,
    );
    workspaces.push(Workspace {
        dir: "workspace".into(),
        label: String::new(),
        prefix: String::new(),
        directories: dirs,
        files,
        skills_field,
        manifest: MANIFEST.to_string(),
        packs,
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
        let skills_field = format!("{what}.skills");
        let packs = checked_packs(
            m.observed.skill_packs.workspaces.get(&aw.name),
            &files,
            &skills_field,
            warnings,
        );
        workspaces.push(Workspace {
            dir: format!("workspace-{}", aw.name),
            label: aw.name.clone(),
            prefix: format!("--ws--{}--", aw.name),
            directories: dirs,
            files,
            skills_field,
            manifest: format!("{MANIFEST}-ws-{}", aw.name),
            packs,
        });
    }
    for (name, resolved) in &m.observed.skill_packs.workspaces {
        if !seen.contains(name) && !resolved.is_empty() {
            warnings.push(format!(
                "skill packs resolved for workspace {name:?}, which spec.workspace.additionalWorkspaces does not declare, are ignored"
            ));
        }
    }

    let create_only = m.skill_packs_create_only();
    let mut root_dirs: Vec<String> = HOME_SUBDIRS.iter().map(|d| d.to_string()).collect();
    for d in crate::features::data_dirs(m) {
        if !root_dirs.contains(&d) {
            root_dirs.push(d);
        }
    }
    let assemble = |with_packs: &[bool]| {
        let built = build(&workspaces, with_packs, create_only);
        let plan = SeedPlan {
            directories: root_dirs.clone(),
            workspaces: built.plans.clone(),
        };
        let plan_json = serde_json::to_value(&plan)
            .map(|v| json::pretty(&v))
            .unwrap_or_default();
        let mut data = built.data.clone();
        data.insert(SEED_PLAN_KEY.to_string(), plan_json);
        let size = size(&data, &built.binary_data);
        (built, plan, data, size)
    };

    // The packs of every workspace, unless the ConfigMap would get too large: then those of
    // the workspaces (in order) that do not fit any more are left out.
    let mut with_packs = vec![true; workspaces.len()];
    let (mut built, mut plan, mut data, mut size) = assemble(&with_packs);
    if size > PACK_BUDGET && built.pack_bytes.iter().any(|b| *b > 0) {
        let all_packs: usize = built.pack_bytes.iter().sum();
        let mut used = size.saturating_sub(all_packs);
        for (i, bytes) in built.pack_bytes.iter().enumerate() {
            if *bytes == 0 {
                continue;
            }
            if used + bytes <= PACK_BUDGET {
                used += bytes;
            } else {
                with_packs[i] = false;
            }
        }
        (built, plan, data, size) = assemble(&with_packs);
        // The estimate is close; make sure, dropping the last workspaces' packs first.
        while size > PACK_BUDGET {
            let Some(last) = (0..workspaces.len())
                .rev()
                .find(|i| with_packs[*i] && built.pack_bytes[*i] > 0)
            else {
                break;
            };
            with_packs[last] = false;
            (built, plan, data, size) = assemble(&with_packs);
        }
        let (full, ..) = assemble(&vec![true; workspaces.len()]);
        for (i, ws) in workspaces.iter().enumerate() {
            if !with_packs[i] {
                warnings.push(format!(
                    "{}: skill packs {} not seeded: their {} files hold {} bytes ({} with their keys and plan entries), more than the workspace ConfigMap {}-workspace has room for ({} of {} bytes are taken by the other files and packs); files seeded earlier are left as they are",
                    ws.skills_field,
                    ws.packs.references.join(", "),
                    ws.packs.files.len(),
                    ws.packs.files.values().map(Vec::len).sum::<usize>(),
                    full.pack_bytes[i],
                    m.name,
                    size,
                    PACK_BUDGET,
                ));
            }
        }
    }
    if size > CONFIG_MAP_LIMIT {
        warnings.push(format!(
            "the workspace files take {size} bytes, more than a ConfigMap can hold ({CONFIG_MAP_LIMIT}); the API server will reject {}-workspace",
            m.name
        ));
    }
    let packs_digest = packs_digest(&workspaces, &with_packs, create_only);
    RenderedWorkspace {
        data,
        binary_data: built.binary_data,
        plan,
        packs_digest,
    }
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
