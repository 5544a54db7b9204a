//! Skills (`docs/design/optional-features.md` §1.7): `init-skills` installs the ClawHub and npm
//! entries of `spec.skills` and of every `additionalWorkspaces[].skills`.
//!
//! - ClawHub skills of the instance go to `~/.openclaw/skills` (OpenClaw's managed skills
//!   directory, loaded natively); those of an additional workspace to `workspace-<n>/skills`.
//! - npm skills are global (`npm install -g`, prefix `~/.local`), so their binaries are on the
//!   main container's `PATH` (`~/.local/bin`).
//! - `pack:` entries are validated and skipped here: the controller resolves them
//!   ([`crate::skillpacks`]) and the workspace seeds their files. The `config` entries of their
//!   manifests go into `skills.entries` of `openclaw.json` (this feature's `enrich`): the
//!   default workspace's, then each additional workspace's by name (later wins on the same
//!   name; config entries are instance-wide), each only where the user's config has no entry
//!   of that name. An entry that is not an object, or that the instance's OpenClaw version
//!   would reject, is skipped with a warning (one bad pack never stops the gateway).
//!
//! The container runs the constant program [`programs::INSTALL_SKILLS`] with the plan as its
//! single JSON argument; no spec value is ever interpolated into a shell script.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::hooks::{Feature, PodParts};
use super::install::{LOCAL_BIN, NPM_CACHE, NPM_PREFIX, env, node_container, npm_mounts};
use crate::consts::STATE_DIR;
use crate::json;
use crate::k8s::volume::empty_dir;
use crate::model::{Model, valid_workspace_name};
use crate::programs;

use openclaw_api::validation::{check_skill, parse_pack};

/// Name of the init container.
pub const INIT_SKILLS: &str = "init-skills";
/// Its scratch volume.
pub const SKILLS_TMP: &str = "skills-tmp";
/// The directory of the data volume that holds the instance's ClawHub skills.
pub const SKILLS_DIR: &str = "skills";

/// Where a skill comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// `npx clawhub install`.
    Clawhub,
    /// `npm install -g`.
    Npm,
}

/// One entry of the install plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Install {
    /// Source.
    pub kind: Kind,
    /// The normalized slug or the npm package.
    #[serde(rename = "ref")]
    pub reference: String,
    /// ClawHub's working directory (the skill lands in `<workdir>/skills/`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workdir: Option<String>,
}

/// Normalize a ClawHub slug as the Go operator 0.38 does (#559): `owner/x` becomes `@owner/x`,
/// `@owner/x` stays, `@x` becomes `x`; `npm:` and `pack:` entries are returned unchanged.
pub fn normalize_slug(entry: &str) -> String {
    if entry.starts_with("npm:") || entry.starts_with("pack:") {
        return entry.to_string();
    }
    let trimmed = entry.strip_prefix('@').unwrap_or(entry);
    if entry.contains('/') {
        format!("@{trimmed}")
    } else {
        trimmed.to_string()
    }
}

/// One entry of a skills list as an install, or `None` for a `pack:` entry or an invalid one
/// (with a warning).
fn entry(raw: &str, workdir: &str, what: &str, warnings: &mut Vec<String>) -> Option<Install> {
    if raw.starts_with("pack:") {
        if let Err(e) = parse_pack(raw) {
            warnings.push(format!("{what}: {raw:?} skipped: {e}"));
        }
        return None;
    }
    if let Err(e) = check_skill(raw) {
        warnings.push(format!("{what}: {raw:?} skipped: {e}"));
        return None;
    }
    let install = match raw.strip_prefix("npm:") {
        Some(pkg) => Install {
            kind: Kind::Npm,
            reference: pkg.to_string(),
            workdir: None,
        },
        None => Install {
            kind: Kind::Clawhub,
            reference: normalize_slug(raw),
            workdir: Some(workdir.to_string()),
        },
    };
    if install.reference.starts_with('-') || install.reference.starts_with("@-") {
        warnings.push(format!(
            "{what}: {raw:?} skipped: a reference must not start with '-'"
        ));
        return None;
    }
    Some(install)
}

/// The install plan: the instance's entries (sorted), then each additional workspace's (by
/// workspace name, entries sorted). An npm package already in the plan is not repeated (npm
/// installs are global).
pub fn plan(m: &Model, warnings: &mut Vec<String>) -> Vec<Install> {
    let mut out: Vec<Install> = Vec::new();
    let push = |install: Install, out: &mut Vec<Install>| {
        if !out.contains(&install) {
            out.push(install);
        }
    };
    let mut top: Vec<&String> = m.spec.skills.iter().flatten().collect();
    top.sort();
    for raw in top {
        if let Some(i) = entry(raw, STATE_DIR, "spec.skills", warnings) {
            push(i, &mut out);
        }
    }
    let mut workspaces: Vec<_> = m
        .spec
        .workspace
        .as_ref()
        .and_then(|w| w.additional_workspaces.as_ref())
        .into_iter()
        .flatten()
        .collect();
    workspaces.sort_by(|a, b| a.name.cmp(&b.name));
    workspaces.dedup_by(|a, b| a.name == b.name);
    for ws in workspaces {
        let what = format!("spec.workspace.additionalWorkspaces[{}].skills", ws.name);
        let mut skills: Vec<&String> = ws.skills.iter().flatten().collect();
        if skills.is_empty() {
            continue;
        }
        if !valid_workspace_name(&ws.name) {
            warnings.push(format!("{what}: invalid workspace name, skipped"));
            continue;
        }
        skills.sort();
        let workdir = format!("{STATE_DIR}/workspace-{}", ws.name);
        for raw in skills {
            if let Some(i) = entry(raw, &workdir, &what, warnings) {
                push(i, &mut out);
            }
        }
    }
    out
}

/// The `skills.entries` of every workspace's resolved packs, merged: the default workspace's,
/// then the additional workspaces' by name (a later one wins on the same name).
pub fn pack_entries(m: &Model) -> BTreeMap<String, Value> {
    let packs = &m.observed.skill_packs;
    let mut out = packs.default.skill_entries.clone();
    for resolved in packs.workspaces.values() {
        out.extend(
            resolved
                .skill_entries
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
    }
    out
}

/// Why OpenClaw would reject `skills.entries.<name> = value` (`None`: it accepts it, or no
/// schema is at hand).
fn entry_issue(m: &Model, name: &str, value: &Value) -> Option<String> {
    if !value.is_object() {
        return Some("not an object".to_string());
    }
    if m.skip_config_check {
        return None;
    }
    let schema = m.openclaw()?.0.supported.schema().ok()?;
    let config = serde_json::json!({"skills": {"entries": {name: value}}});
    let issues = schema.check(&config);
    (!issues.is_empty()).then(|| {
        issues
            .iter()
            .map(|i| format!("{}: {}", i.path, i.message))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

/// Add the packs' `skills.entries` the user's config does not have.
fn inject_pack_entries(m: &Model, config: &mut Map<String, Value>, warnings: &mut Vec<String>) {
    let entries = pack_entries(m);
    if entries.is_empty() {
        return;
    }
    if !m.openclaw_wants("skills.entries") {
        warnings.push(
            "the skill packs' config entries are not added: this OpenClaw version has no skills.entries".to_string(),
        );
        return;
    }
    let user = match config.get("skills") {
        None => None,
        Some(Value::Object(skills)) => match skills.get("entries") {
            None => None,
            Some(Value::Object(entries)) => Some(entries),
            Some(_) => {
                warnings.push("openclaw.json: skills.entries is not an object, so the skill packs' config entries are not added".to_string());
                return;
            }
        },
        Some(_) => {
            warnings.push("openclaw.json: skills is not an object, so the skill packs' config entries are not added".to_string());
            return;
        }
    };
    let mut add = Vec::new();
    for (name, value) in entries {
        if user.is_some_and(|u| u.contains_key(&name)) {
            continue;
        }
        match entry_issue(m, &name, &value) {
            Some(issue) => warnings.push(format!(
                "skill packs: config entry {name:?} skipped: OpenClaw would reject it ({issue})"
            )),
            None => add.push((name, value)),
        }
    }
    if add.is_empty() {
        return;
    }
    let skills = config
        .entry("skills".to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(skills) = skills
        && let Value::Object(target) = skills
            .entry("entries".to_string())
            .or_insert_with(|| Value::Object(Map::new()))
    {
        target.extend(add);
    }
}

/// Skills installation.
pub struct Skills;

/// The registry entry.
pub static T: Skills = Skills;

impl Feature for Skills {
    fn name(&self) -> &'static str {
        "skills"
    }

    fn enabled(&self, m: &Model) -> bool {
        !plan(m, &mut Vec::new()).is_empty() || !pack_entries(m).is_empty()
    }

    fn enrich(&self, m: &Model, config: &mut Map<String, Value>, warnings: &mut Vec<String>) {
        inject_pack_entries(m, config, warnings);
    }

    fn pod(&self, m: &Model, parts: &mut PodParts, warnings: &mut Vec<String>) {
        let plan = plan(m, warnings);
        if plan.is_empty() {
            // Only pack config entries: nothing to install.
            return;
        }
        let argument = serde_json::to_value(&plan)
            .map(|v| json::compact(&v))
            .unwrap_or_default();
        parts.init_containers.push(node_container(
            m,
            INIT_SKILLS,
            programs::INSTALL_SKILLS,
            argument,
            vec![
                env("HOME", "/tmp"),
                env("NPM_CONFIG_CACHE", NPM_CACHE),
                env("NPM_CONFIG_PREFIX", NPM_PREFIX),
                env("NPM_CONFIG_IGNORE_SCRIPTS", "true"),
            ],
            npm_mounts(SKILLS_TMP),
        ));
        parts.volumes.push(empty_dir(SKILLS_TMP));
        parts.data_dirs.push(SKILLS_DIR.to_string());
        if plan.iter().any(|i| i.kind == Kind::Npm) {
            parts.path_prefixes.push(LOCAL_BIN.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_slug;

    #[test]
    fn slugs() {
        for (input, want) in [
            ("weather", "weather"),
            ("@weather", "weather"),
            ("owner/x", "@owner/x"),
            ("@owner/x", "@owner/x"),
            ("npm:@scope/pkg", "npm:@scope/pkg"),
            ("pack:a/b/c@v1", "pack:a/b/c@v1"),
        ] {
            assert_eq!(normalize_slug(input), want, "{input}");
        }
    }
}
