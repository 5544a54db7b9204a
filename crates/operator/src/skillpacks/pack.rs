//! The pure part of resolving a pack: `skillpack.json` parsing and validation, the raw-mode
//! mapping of a repository tree to workspace files, and merging packs into a workspace
//! within the ConfigMap budget.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use openclaw_api::validation::PackRef;
use openclaw_render::skillpacks::ResolvedPacks;
use serde::Deserialize;

use super::error::ResolveError;
use super::github::Tree;

/// The manifest's file name, at the pack path.
pub const MANIFEST: &str = "skillpack.json";

/// Workspace paths starting with this are the operator's (the renderer's manifest of what it
/// seeded); a pack may not write them.
pub const RESERVED_PREFIX: &str = ".skillpack-manifest";

/// The most file bytes the packs of one workspace may add up to. The renderer puts them into
/// the workspace ConfigMap, which holds at most 1 MiB including everything else.
pub const WORKSPACE_BUDGET_BYTES: u64 = 900 * 1024;

/// `owner/repo/path[@ref]`, for messages.
pub fn label(pack: &PackRef) -> String {
    match &pack.reference {
        Some(r) => format!("{}/{}/{}@{r}", pack.owner, pack.repo, pack.path),
        None => format!("{}/{}/{}", pack.owner, pack.repo, pack.path),
    }
}

/// `owner/repo`.
pub fn repo_name(pack: &PackRef) -> String {
    format!("{}/{}", pack.owner, pack.repo)
}

/// One resolved pack, before merging.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pack {
    /// Workspace path -> content.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Workspace directories.
    pub directories: BTreeSet<String>,
    /// `skills.entries` from the manifest's `config`.
    pub skill_entries: BTreeMap<String, serde_json::Value>,
}

impl Pack {
    /// The sum of the file sizes.
    pub fn bytes(&self) -> u64 {
        self.files.values().map(|c| c.len() as u64).sum()
    }
}

/// A validated `skillpack.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Workspace path -> repository path relative to the pack directory (normalized: no `.`
    /// segments).
    pub files: BTreeMap<String, String>,
    /// Workspace directories.
    pub directories: BTreeSet<String>,
    /// `skills.entries.<name>` objects.
    pub config: BTreeMap<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct RawManifest {
    #[serde(default)]
    files: BTreeMap<String, String>,
    #[serde(default)]
    directories: Vec<String>,
    #[serde(default)]
    config: BTreeMap<String, serde_json::Value>,
}

/// Check a workspace path from a manifest or a tree: relative, normalized, not reserved.
pub fn check_workspace_path(path: &str) -> Result<(), String> {
    if path.chars().any(char::is_control) {
        return Err("path must not contain control characters".into());
    }
    if path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err("path must be relative and stay inside the workspace".into());
    }
    if path.starts_with(RESERVED_PREFIX) {
        return Err(format!(
            "paths starting with {RESERVED_PREFIX} are reserved"
        ));
    }
    Ok(())
}

/// Normalize a manifest's repository path (relative to the pack directory): `./` segments
/// dropped; absolute paths, `..` and empty segments refused.
pub fn normalize_repo_path(path: &str) -> Result<String, String> {
    let escapes = || format!("{path:?} must be a relative path inside the pack directory");
    if path.starts_with('/') || path.contains('\\') || path.chars().any(char::is_control) {
        return Err(escapes());
    }
    let mut segments = Vec::new();
    for s in path.split('/') {
        match s {
            "." => {}
            "" | ".." => return Err(escapes()),
            s => segments.push(s),
        }
    }
    if segments.is_empty() {
        return Err(escapes());
    }
    Ok(segments.join("/"))
}

/// Files must not sit where a directory is needed: no file is also a directory, or an
/// ancestor of another file or directory.
pub fn check_layout<'a>(
    files: impl IntoIterator<Item = &'a String> + Clone,
    directories: impl IntoIterator<Item = &'a String>,
) -> Result<(), String> {
    let file_set: BTreeSet<&str> = files.clone().into_iter().map(String::as_str).collect();
    let check = |path: &str, what: &str| -> Result<(), String> {
        for (i, _) in path.match_indices('/') {
            let ancestor = &path[..i];
            if file_set.contains(ancestor) {
                return Err(format!(
                    "{ancestor:?} is a file and the parent of {what} {path:?}"
                ));
            }
        }
        Ok(())
    };
    for f in files {
        check(f, "file")?;
    }
    for d in directories {
        if file_set.contains(d.as_str()) {
            return Err(format!("{d:?} is both a file and a directory"));
        }
        check(d, "directory")?;
    }
    Ok(())
}

/// Parse and validate `skillpack.json`. The error is the reason, naming the entry.
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, String> {
    let raw: RawManifest = serde_json::from_slice(bytes).map_err(|e| {
        if serde_json::from_slice::<serde_json::Value>(bytes).is_ok() {
            format!("unexpected shape ({e}); expected {{\"files\": {{…}}, \"directories\": […], \"config\": {{…}}}}")
        } else {
            format!("not valid JSON: {e}")
        }
    })?;
    let mut manifest = Manifest::default();
    for (workspace, repo) in raw.files {
        check_workspace_path(&workspace).map_err(|e| format!("files[{workspace:?}]: {e}"))?;
        let repo = normalize_repo_path(&repo).map_err(|e| format!("files[{workspace:?}]: {e}"))?;
        manifest.files.insert(workspace, repo);
    }
    for (i, dir) in raw.directories.into_iter().enumerate() {
        check_workspace_path(&dir).map_err(|e| format!("directories[{i}] {dir:?}: {e}"))?;
        manifest.directories.insert(dir);
    }
    for (name, value) in raw.config {
        if name.is_empty() {
            return Err("config: a skill name must not be empty".into());
        }
        if !value.is_object() {
            return Err(format!("config[{name:?}]: must be a JSON object"));
        }
        manifest.config.insert(name, value);
    }
    check_layout(manifest.files.keys(), manifest.directories.iter())?;
    Ok(manifest)
}

/// Whether `tree` has a `skillpack.json` at the pack path (a truncated tree may not show it).
pub fn tree_has_manifest(pack: &PackRef, tree: &Tree) -> bool {
    let manifest = format!("{}/{MANIFEST}", pack.path.trim_matches('/'));
    tree.tree
        .iter()
        .any(|e| e.kind == "blob" && e.path == manifest)
}

/// What raw mode fetches for a pack: blobs by sha to their workspace paths, and the
/// directories to create.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawPlan {
    /// Workspace path -> blob sha.
    pub blobs: BTreeMap<String, String>,
    /// `skills/<base>` and every sub-directory.
    pub directories: BTreeSet<String>,
}

/// Map a recursive tree to the pack's files under `skills/<base>/`, where `base` is the pack
/// path's last segment. Requires `SKILL.md` directly at the pack path. Symlinks and
/// submodules are skipped (a symlink's blob is its target, not content). Refuses packs whose
/// blob sizes already exceed `budget`.
pub fn plan_raw(pack: &PackRef, tree: &Tree, budget: u64) -> Result<RawPlan, ResolveError> {
    let path = pack.path.trim_matches('/');
    let base = path.rsplit('/').next().unwrap_or_default();
    let unlabeled = || format!("{}/{}/{}", pack.owner, pack.repo, pack.path);
    if base.is_empty() || base == "." || base == ".." {
        return Err(ResolveError::NoBaseName { pack: unlabeled() });
    }
    if tree.truncated {
        return Err(ResolveError::TreeTruncated {
            repo: repo_name(pack),
            path: pack.path.clone(),
        });
    }
    let prefix = format!("{path}/");
    let root = format!("skills/{base}");
    let mut plan = RawPlan::default();
    let mut has_skill = false;
    let mut bytes = 0u64;
    for entry in &tree.tree {
        let Some(rel) = entry.path.strip_prefix(&prefix) else {
            continue;
        };
        let target = format!("{root}/{rel}");
        let bad = |reason: String| ResolveError::BadResponse {
            url: format!("tree of {}", repo_name(pack)),
            reason: format!("entry {:?}: {reason}", entry.path),
        };
        match entry.kind.as_str() {
            "blob" if entry.mode == "120000" => continue,
            "blob" => {
                check_workspace_path(&target).map_err(bad)?;
                if entry.sha.is_empty() {
                    return Err(bad("a blob without a sha".into()));
                }
                has_skill |= rel == "SKILL.md";
                bytes += entry.size.unwrap_or(0);
                plan.blobs.insert(target, entry.sha.clone());
            }
            "tree" => {
                check_workspace_path(&target).map_err(bad)?;
                plan.directories.insert(target);
            }
            _ => continue,
        }
    }
    if !has_skill {
        return Err(ResolveError::NoSkill { pack: unlabeled() });
    }
    if bytes > budget {
        return Err(ResolveError::PackTooLarge {
            pack: label(pack),
            bytes,
            limit: budget,
        });
    }
    plan.directories.insert(root);
    Ok(plan)
}

/// Merge packs in spec order into one workspace's [`ResolvedPacks`]: later packs win on the
/// same file or entry. A pack that would put the files over `budget`, or whose files collide
/// with a directory of an earlier pack, is left out with an error; the others are kept.
pub fn merge(
    workspace: &str,
    packs: &[(String, Arc<Pack>)],
    budget: u64,
) -> (ResolvedPacks, Vec<(String, ResolveError)>) {
    let mut merged = ResolvedPacks::default();
    let mut errors = Vec::new();
    for (reference, pack) in packs {
        let mut next = merged.clone();
        next.files
            .extend(pack.files.iter().map(|(k, v)| (k.clone(), v.clone())));
        next.directories.extend(pack.directories.iter().cloned());
        next.skill_entries.extend(
            pack.skill_entries
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        let bytes: u64 = next.files.values().map(|c| c.len() as u64).sum();
        if bytes > budget {
            errors.push((
                reference.clone(),
                ResolveError::WorkspaceTooLarge {
                    workspace: workspace.to_string(),
                    bytes,
                    limit: budget,
                },
            ));
            continue;
        }
        if let Err(reason) = check_layout(next.files.keys(), next.directories.iter()) {
            errors.push((
                reference.clone(),
                ResolveError::Conflict {
                    workspace: workspace.to_string(),
                    reason,
                },
            ));
            continue;
        }
        next.references.push(reference.clone());
        merged = next;
    }
    (merged, errors)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::skillpacks::github::TreeEntry;
    use serde_json::json;

    fn pack_ref(path: &str, reference: Option<&str>) -> PackRef {
        PackRef {
            owner: "o".into(),
            repo: "r".into(),
            path: path.into(),
            reference: reference.map(str::to_string),
        }
    }

    #[test]
    fn manifest_parses() {
        let m = parse_manifest(
            br#"{
                "files": {"skills/a/SKILL.md": "./SKILL.md", "skills/a/lib/x.py": "lib/x.py"},
                "directories": ["skills/a", "skills/a/lib"],
                "config": {"a": {"enabled": true}},
                "unknown": 1
            }"#,
        )
        .unwrap();
        assert_eq!(m.files["skills/a/SKILL.md"], "SKILL.md");
        assert_eq!(m.files["skills/a/lib/x.py"], "lib/x.py");
        assert_eq!(m.directories.len(), 2);
        assert_eq!(m.config["a"], json!({"enabled": true}));
        assert_eq!(parse_manifest(b"{}").unwrap(), Manifest::default());
    }

    #[test]
    fn manifest_refuses_unsafe_workspace_paths() {
        for (path, reason) in [
            (
                "../x",
                "path must be relative and stay inside the workspace",
            ),
            (
                "/etc/passwd",
                "path must be relative and stay inside the workspace",
            ),
            (
                "a//b",
                "path must be relative and stay inside the workspace",
            ),
            (
                "a/./b",
                "path must be relative and stay inside the workspace",
            ),
            ("a/", "path must be relative and stay inside the workspace"),
            ("", "path must be relative and stay inside the workspace"),
            (
                "a\\..\\b",
                "path must be relative and stay inside the workspace",
            ),
            ("a\nb", "path must not contain control characters"),
            (
                ".skillpack-manifest",
                "paths starting with .skillpack-manifest are reserved",
            ),
            (
                ".skillpack-manifest.json",
                "paths starting with .skillpack-manifest are reserved",
            ),
        ] {
            let body = json!({"files": {path: "SKILL.md"}}).to_string();
            assert_eq!(
                parse_manifest(body.as_bytes()).unwrap_err(),
                format!("files[{path:?}]: {reason}"),
                "{path}"
            );
        }
        assert_eq!(
            parse_manifest(br#"{"directories": ["ok", "../up"]}"#).unwrap_err(),
            "directories[1] \"../up\": path must be relative and stay inside the workspace"
        );
    }

    #[test]
    fn manifest_refuses_repo_paths_leaving_the_pack() {
        for repo in ["../secret", "/abs", "a/../../b", "", "a//b"] {
            let body = json!({"files": {"skills/a/x": repo}}).to_string();
            assert_eq!(
                parse_manifest(body.as_bytes()).unwrap_err(),
                format!(
                    "files[\"skills/a/x\"]: {repo:?} must be a relative path inside the pack directory"
                )
            );
        }
    }

    #[test]
    fn manifest_errors_are_clear() {
        assert!(
            parse_manifest(b"files: x")
                .unwrap_err()
                .starts_with("not valid JSON: ")
        );
        assert!(
            parse_manifest(br#"{"files": ["a"]}"#)
                .unwrap_err()
                .starts_with("unexpected shape (")
        );
        assert_eq!(
            parse_manifest(br#"{"config": {"a": 1}}"#).unwrap_err(),
            "config[\"a\"]: must be a JSON object"
        );
        assert_eq!(
            parse_manifest(br#"{"files": {"a": "x", "a/b": "y"}}"#).unwrap_err(),
            "\"a\" is a file and the parent of file \"a/b\""
        );
        assert_eq!(
            parse_manifest(br#"{"files": {"a": "x"}, "directories": ["a"]}"#).unwrap_err(),
            "\"a\" is both a file and a directory"
        );
    }

    fn entry(path: &str, kind: &str, size: u64) -> TreeEntry {
        TreeEntry {
            path: path.into(),
            mode: if kind == "tree" { "040000" } else { "100644" }.into(),
            kind: kind.into(),
            sha: format!("sha-{path}"),
            size: (kind == "blob").then_some(size),
        }
    }

    fn tree(entries: Vec<TreeEntry>) -> Tree {
        Tree {
            tree: entries,
            truncated: false,
        }
    }

    #[test]
    fn raw_tree_maps_under_skills_base() {
        let mut link = entry("packs/weather/link", "blob", 3);
        link.mode = "120000".into();
        let mut submodule = entry("packs/weather/vendor", "commit", 0);
        submodule.mode = "160000".into();
        let t = tree(vec![
            entry("README.md", "blob", 1),
            entry("packs", "tree", 0),
            entry("packs/weather", "tree", 0),
            entry("packs/weather/SKILL.md", "blob", 10),
            entry("packs/weather/scripts", "tree", 0),
            entry("packs/weather/scripts/run.sh", "blob", 20),
            entry("packs/weatherman/SKILL.md", "blob", 10),
            link,
            submodule,
        ]);
        let plan = plan_raw(&pack_ref("packs/weather", None), &t, 1000).unwrap();
        assert_eq!(
            plan.blobs,
            BTreeMap::from([
                (
                    "skills/weather/SKILL.md".to_string(),
                    "sha-packs/weather/SKILL.md".to_string()
                ),
                (
                    "skills/weather/scripts/run.sh".to_string(),
                    "sha-packs/weather/scripts/run.sh".to_string()
                ),
            ])
        );
        assert_eq!(
            plan.directories,
            BTreeSet::from([
                "skills/weather".to_string(),
                "skills/weather/scripts".to_string()
            ])
        );
    }

    #[test]
    fn raw_tree_errors() {
        let p = pack_ref("packs/weather", Some("v1"));
        let no_skill = tree(vec![entry("packs/weather/README.md", "blob", 1)]);
        assert_eq!(
            plan_raw(&p, &no_skill, 1000).unwrap_err().to_string(),
            "no skillpack.json and no SKILL.md found in o/r/packs/weather"
        );
        // SKILL.md only deeper down does not count.
        let deep = tree(vec![entry("packs/weather/sub/SKILL.md", "blob", 1)]);
        assert!(matches!(
            plan_raw(&p, &deep, 1000),
            Err(ResolveError::NoSkill { .. })
        ));
        let mut truncated = tree(vec![entry("packs/weather/SKILL.md", "blob", 1)]);
        truncated.truncated = true;
        assert_eq!(
            plan_raw(&p, &truncated, 1000).unwrap_err().to_string(),
            "o/r: the repository tree is too large for one request (GitHub truncated it); add a \
             skillpack.json to the pack directory packs/weather"
        );
        let big = tree(vec![
            entry("packs/weather/SKILL.md", "blob", 600),
            entry("packs/weather/data.bin", "blob", 600),
        ]);
        assert_eq!(
            plan_raw(&p, &big, 1000).unwrap_err().to_string(),
            "o/r/packs/weather@v1 is 1200 bytes; at most 1000 fit in the workspace ConfigMap"
        );
        assert!(matches!(
            plan_raw(&pack_ref("..", None), &no_skill, 1000),
            Err(ResolveError::NoBaseName { .. })
        ));
    }

    fn pack(files: &[(&str, &str)], entries: &[(&str, serde_json::Value)]) -> Arc<Pack> {
        Arc::new(Pack {
            files: files
                .iter()
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
            directories: files
                .iter()
                .filter_map(|(k, _)| k.rsplit_once('/').map(|(d, _)| d.to_string()))
                .collect(),
            skill_entries: entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        })
    }

    #[test]
    fn merge_keeps_spec_order_and_later_wins() {
        let packs = vec![
            (
                "pack:o/r/b".to_string(),
                pack(
                    &[("skills/b/SKILL.md", "b1"), ("skills/x/SKILL.md", "first")],
                    &[("x", json!({"v": 1}))],
                ),
            ),
            (
                "pack:o/r/a".to_string(),
                pack(
                    &[("skills/x/SKILL.md", "second")],
                    &[("x", json!({"v": 2}))],
                ),
            ),
        ];
        let (merged, errors) = merge("default", &packs, 1000);
        assert!(errors.is_empty());
        assert_eq!(merged.references, vec!["pack:o/r/b", "pack:o/r/a"]);
        assert_eq!(merged.files["skills/x/SKILL.md"], b"second");
        assert_eq!(merged.files["skills/b/SKILL.md"], b"b1");
        assert_eq!(merged.skill_entries["x"], json!({"v": 2}));
        assert_eq!(
            merged.directories,
            BTreeSet::from(["skills/b".to_string(), "skills/x".to_string()])
        );
    }

    #[test]
    fn merge_leaves_out_a_pack_over_the_budget_and_keeps_the_rest() {
        let packs = vec![
            (
                "pack:o/r/a".to_string(),
                pack(&[("skills/a/SKILL.md", "aaaa")], &[]),
            ),
            (
                "pack:o/r/b".to_string(),
                pack(&[("skills/b/SKILL.md", "bbbbbbb")], &[]),
            ),
            (
                "pack:o/r/c".to_string(),
                pack(&[("skills/c/SKILL.md", "cc")], &[]),
            ),
        ];
        let (merged, errors) = merge("research", &packs, 10);
        assert_eq!(merged.references, vec!["pack:o/r/a", "pack:o/r/c"]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "pack:o/r/b");
        assert_eq!(
            errors[0].1.to_string(),
            "skill packs for workspace research are 11 bytes; at most 10 fit in the workspace ConfigMap"
        );
    }

    #[test]
    fn merge_refuses_a_file_where_an_earlier_pack_has_a_directory() {
        let packs = vec![
            (
                "pack:o/r/a".to_string(),
                pack(&[("skills/a/SKILL.md", "a")], &[]),
            ),
            ("pack:o/r/b".to_string(), pack(&[("skills/a", "oops")], &[])),
        ];
        let (merged, errors) = merge("default", &packs, 1000);
        assert_eq!(merged.references, vec!["pack:o/r/a"]);
        assert!(matches!(errors[0].1, ResolveError::Conflict { .. }));
    }
}
