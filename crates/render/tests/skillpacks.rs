//! Skill packs: the workspace ConfigMap entries and seed plan they render to, their priority
//! below the other workspace files, the size limit, `skills.entries`, the config hash, and the
//! rendered `init-config` run for real (with the local `node`, skipped when there is none) on a
//! scratch data volume across pack revisions.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use openclaw_render::skillpacks::{ResolvedPacks, SkillPacks};
use openclaw_render::{Observed, Rendered};
use serde_json::{Value, json};

/// Packs from `(path, content)` pairs.
fn resolved(reference: &str, files: &[(&str, &[u8])], dirs: &[&str]) -> ResolvedPacks {
    ResolvedPacks {
        references: vec![reference.to_string()],
        files: files
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_vec()))
            .collect(),
        directories: dirs.iter().map(|d| d.to_string()).collect(),
        skill_entries: BTreeMap::new(),
        incomplete: false,
    }
}

fn with_packs(default: ResolvedPacks, workspaces: &[(&str, ResolvedPacks)]) -> Observed {
    Observed {
        skill_packs: SkillPacks {
            default,
            workspaces: workspaces
                .iter()
                .map(|(n, p)| (n.to_string(), p.clone()))
                .collect(),
        },
        ..observed()
    }
}

fn spec(policy: Option<&str>) -> Value {
    let mut s = json!({
        "skills": ["pack:acme/skills/weather@v1"],
        "workspace": {
            "initialFiles": {"SOUL.md": "Be kind.\n", "skills/weather/SKILL.md": "user wins\n"},
            "additionalWorkspaces": [{"name": "research", "skills": ["pack:acme/skills/papers"]}]
        }
    });
    if let Some(p) = policy {
        s["skillPackUpdatePolicy"] = json!(p);
    }
    s
}

fn packs_observed() -> Observed {
    with_packs(
        resolved(
            "pack:acme/skills/weather@v1",
            &[
                ("skills/weather/SKILL.md", b"pack loses\n"),
                (
                    "skills/weather/scripts/fetch.sh",
                    b"#!/bin/sh\necho sunny\n",
                ),
                (
                    "skills/weather/icon.png",
                    &[0x89, b'P', b'N', b'G', 0xff, 0x00],
                ),
            ],
            &["skills/weather", "skills/weather/cache"],
        ),
        &[(
            "research",
            resolved(
                "pack:acme/skills/papers",
                &[("skills/papers/SKILL.md", b"# Papers\n")],
                &["skills/papers"],
            ),
        )],
    )
}

fn workspace_cm(r: &Rendered) -> &k8s_openapi::api::core::v1::ConfigMap {
    config_map(r, "-workspace")
}

fn plan(r: &Rendered) -> Value {
    serde_json::from_str(&workspace_cm(r).data.as_ref().unwrap()[".operator-seed-plan.json"])
        .unwrap()
}

/// The ConfigMap's keys (data and binaryData, marked) and the plan, for snapshots.
fn keys_and_plan(r: &Rendered) -> Value {
    let cm = workspace_cm(r);
    let mut keys: Vec<String> = cm.data.as_ref().unwrap().keys().cloned().collect();
    keys.extend(
        cm.binary_data
            .iter()
            .flatten()
            .map(|(k, _)| format!("{k} (binaryData)")),
    );
    json!({"keys": keys, "plan": plan(r), "warnings": r.warnings})
}

#[test]
fn replace_keys_and_plan() {
    let r = render_ok(&minimal_with(spec(None)), &packs_observed());
    insta::assert_json_snapshot!("replace_keys_and_plan", keys_and_plan(&r));
    let cm = workspace_cm(&r);
    let data = cm.data.as_ref().unwrap();
    // Go-compatible keys; the user's file keeps its key and its content.
    assert_eq!(data["skills--weather--SKILL.md"], "user wins\n");
    assert_eq!(
        data["skills--weather--scripts--fetch.sh"],
        "#!/bin/sh\necho sunny\n"
    );
    assert_eq!(
        data["--ws--research--skills--papers--SKILL.md"],
        "# Papers\n"
    );
    // Not UTF-8: binaryData, byte for byte.
    let binary = cm.binary_data.as_ref().unwrap();
    assert_eq!(
        binary["skills--weather--icon.png"].0,
        vec![0x89, b'P', b'N', b'G', 0xff, 0x00]
    );
    assert!(!data.contains_key("skills--weather--icon.png"));
    // The collision is reported.
    assert!(
        r.warnings.iter().any(|w| w.contains("spec.skills")
            && w.contains("skills/weather/SKILL.md")
            && w.contains("takes precedence")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn create_only_plan() {
    let r = render_ok(&minimal_with(spec(Some("CreateOnly"))), &packs_observed());
    insta::assert_json_snapshot!("create_only_plan", plan(&r));
    let p = plan(&r);
    for ws in p["workspaces"].as_array().unwrap() {
        assert!(ws.get("manifest").is_none(), "{ws}");
        assert!(
            ws["files"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["when"] != "replace")
        );
    }
}

#[test]
fn only_the_exact_create_only_selects_create_only() {
    for policy in [None, Some("Replace"), Some("createonly"), Some("")] {
        let r = render_ok(&minimal_with(spec(policy)), &packs_observed());
        let p = plan(&r);
        assert_eq!(
            p["workspaces"][0]["manifest"], ".skillpack-manifest",
            "{policy:?}"
        );
        assert_eq!(
            p["workspaces"][1]["manifest"], ".skillpack-manifest-ws-research",
            "{policy:?}"
        );
    }
}

#[test]
fn an_incomplete_resolution_prunes_nothing() {
    // A pack GitHub could not serve: the resolved ones are written, but without the manifest
    // the clean-up does not run, so an outage never deletes what the failed pack seeded.
    let mut packs = resolved(
        "pack:a/b/weather",
        &[("skills/weather/SKILL.md", b"w")],
        &[],
    );
    packs.incomplete = true;
    let r = render_ok(&minimal_with(json!({})), &with_packs(packs, &[]));
    let p = plan(&r);
    assert_eq!(p["workspaces"][0]["manifest"], Value::Null);
    assert!(
        workspace_cm(&r)
            .data
            .as_ref()
            .unwrap()
            .contains_key("skills--weather--SKILL.md"),
        "the resolved pack is still seeded"
    );
}

#[test]
fn replace_without_packs_still_prunes_by_manifest() {
    let r = render_ok(
        &minimal_with(json!({"workspace": {"additionalWorkspaces": [{"name": "ops"}]}})),
        &observed(),
    );
    let p = plan(&r);
    assert_eq!(p["workspaces"][0]["manifest"], ".skillpack-manifest");
    assert_eq!(p["workspaces"][1]["manifest"], ".skillpack-manifest-ws-ops");
    assert!(workspace_cm(&r).binary_data.is_none());
}

#[test]
fn bad_paths_and_undeclared_workspaces_are_skipped() {
    let o = with_packs(
        resolved(
            "pack:a/b/c",
            &[
                ("../escape", b"x"),
                ("/abs", b"x"),
                ("a//b", b"x"),
                ("new\nline", b"x"),
                ("ok.md", b"ok"),
            ],
            &["./x", "good"],
        ),
        &[("ghost", resolved("pack:a/b/d", &[("x.md", b"x")], &[]))],
    );
    let r = render_ok(&minimal_with(json!({})), &o);
    let files: Vec<String> = plan(&r)["workspaces"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    assert!(files.contains(&"ok.md".to_string()), "{files:?}");
    for bad in ["../escape", "/abs", "a//b", "new\nline"] {
        assert!(!files.contains(&bad.to_string()), "{bad}");
    }
    assert_eq!(
        plan(&r)["workspaces"][0]["directories"],
        json!(["good"]),
        "{:?}",
        r.warnings
    );
    assert!(
        r.warnings.iter().any(|w| w.contains("\"ghost\"")),
        "{:?}",
        r.warnings
    );
    assert_eq!(
        r.warnings.iter().filter(|w| w.contains("skipped")).count(),
        5
    );
}

#[test]
fn a_readable_key_goes_to_the_higher_priority_file() {
    // A flat user file literally named `a--b` and a pack file `a/b`: both seeded, the user's
    // keeps the readable key.
    let o = with_packs(resolved("pack:a/b/c", &[("a/b", b"pack")], &[]), &[]);
    let r = render_ok(
        &minimal_with(json!({"workspace": {"initialFiles": {"a--b": "user"}}})),
        &o,
    );
    let data = workspace_cm(&r).data.as_ref().unwrap();
    assert_eq!(data["a--b"], "user");
    let p = plan(&r);
    let pack = p["workspaces"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "a/b")
        .unwrap();
    let key = pack["key"].as_str().unwrap();
    assert!(key.starts_with("f-"), "{key}");
    assert_eq!(data[key], "pack");
}

#[test]
fn operator_files_win_over_pack_files() {
    let o = with_packs(
        resolved("pack:a/b/c", &[("ENVIRONMENT.md", b"pack env")], &[]),
        &[],
    );
    let r = render_ok(&minimal_with(json!({})), &o);
    let data = workspace_cm(&r).data.as_ref().unwrap();
    assert_ne!(data["ENVIRONMENT.md"], "pack env");
    assert!(
        r.warnings.iter().any(|w| w.contains("ENVIRONMENT.md")),
        "{:?}",
        r.warnings
    );
}

fn total_size(r: &Rendered) -> usize {
    let cm = workspace_cm(r);
    cm.data
        .iter()
        .flatten()
        .map(|(k, v)| k.len() + v.len())
        .sum::<usize>()
        + cm.binary_data
            .iter()
            .flatten()
            .map(|(k, v)| k.len() + v.0.len())
            .sum::<usize>()
}

#[test]
fn packs_that_overflow_the_config_map_are_left_out() {
    let big = vec![b'a'; 700 * 1024];
    let small = vec![b'b'; 10 * 1024];
    let o = with_packs(
        resolved("pack:acme/big/one", &[("skills/big/SKILL.md", &big)], &[]),
        &[
            (
                "bigger",
                resolved(
                    "pack:acme/big/two",
                    &[("skills/big2/SKILL.md", &big)],
                    &["skills/big2"],
                ),
            ),
            (
                "small",
                resolved("pack:acme/small/x", &[("skills/s/SKILL.md", &small)], &[]),
            ),
        ],
    );
    let instance = minimal_with(json!({"workspace": {"additionalWorkspaces": [
        {"name": "bigger"}, {"name": "small"}]}}));
    let r = render_ok(&instance, &o);
    assert!(total_size(&r) <= openclaw_render::workspace::PACK_BUDGET);
    let p = plan(&r);
    // The default workspace's pack fits, `bigger` no longer does, `small` still does.
    let paths = |i: usize| -> Vec<String> {
        p["workspaces"][i]["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(paths(0).contains(&"skills/big/SKILL.md".to_string()));
    assert_eq!(p["workspaces"][1]["dir"], "workspace-bigger");
    assert!(!paths(1).iter().any(|f| f.starts_with("skills/")));
    assert_eq!(p["workspaces"][1]["directories"], json!([]));
    // Its manifest is left alone: no pruning of what an earlier start seeded.
    assert!(p["workspaces"][1].get("manifest").is_none());
    assert!(paths(2).contains(&"skills/s/SKILL.md".to_string()));
    assert_eq!(
        p["workspaces"][2]["manifest"],
        ".skillpack-manifest-ws-small"
    );
    let warning = r
        .warnings
        .iter()
        .find(|w| w.contains("not seeded"))
        .expect("a warning");
    assert!(
        warning.starts_with("spec.workspace.additionalWorkspaces[bigger].skills:")
            && warning.contains("pack:acme/big/two")
            && warning.contains("demo-workspace")
            && warning.contains(&format!("1 files hold {} bytes", 700 * 1024)),
        "{warning}"
    );
    assert_eq!(
        r.warnings
            .iter()
            .filter(|w| w.contains("not seeded"))
            .count(),
        1
    );
    // No warning that the API server would reject the object.
    assert!(
        !r.warnings.iter().any(|w| w.contains("will reject")),
        "{:?}",
        r.warnings
    );
}

#[test]
fn pack_entries_never_overwrite_the_users() {
    let mut default = resolved("pack:a/b/c", &[], &[]);
    default.skill_entries = BTreeMap::from([
        (
            "weather".to_string(),
            json!({"enabled": true, "env": {"UNITS": "metric"}}),
        ),
        ("mine".to_string(), json!({"enabled": true})),
        ("broken".to_string(), json!({"bogus": 1})),
        ("scalar".to_string(), json!(3)),
    ]);
    let mut ws = resolved("pack:a/b/d", &[], &[]);
    ws.skill_entries = BTreeMap::from([("weather".to_string(), json!({"enabled": false}))]);
    let o = with_packs(default, &[("research", ws)]);
    let instance = minimal_with(json!({
        "config": {"raw": {"skills": {"entries": {"mine": {"enabled": false}}}}},
        "workspace": {"additionalWorkspaces": [{"name": "research"}]}
    }));
    let r = render_ok(&instance, &o);
    let config = openclaw_json(&r);
    // The user's entry stays; the workspace's pack wins over the default's on the same name.
    assert_eq!(
        config["skills"]["entries"],
        json!({"mine": {"enabled": false}, "weather": {"enabled": false}})
    );
    for name in ["\"broken\"", "\"scalar\""] {
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains(name) && w.contains("skipped")),
            "{name}: {:?}",
            r.warnings
        );
    }
    // Entries alone install nothing.
    assert!(container(statefulset(&r), "init-skills").is_none());

    // A user `skills` that is not an object is left alone.
    let instance = minimal_with(json!({"config": {"raw": {"skills": []}}}));
    let mut entries = resolved("pack:a/b/c", &[], &[]);
    entries.skill_entries = BTreeMap::from([("x".to_string(), json!({"enabled": true}))]);
    match openclaw_render::render(&instance, &with_packs(entries, &[])) {
        Ok(r) => assert_eq!(openclaw_json(&r)["skills"], json!([])),
        Err(e) => assert!(e.to_string().contains("skills"), "{e}"),
    }
}

#[test]
fn pack_contents_change_the_config_hash() {
    let instance = minimal_with(spec(None));
    let base = render_ok(&instance, &observed()).config_hash;
    let a = render_ok(&instance, &packs_observed());
    assert_ne!(a.config_hash, base);
    assert_eq!(
        render_ok(&instance, &packs_observed()).config_hash,
        a.config_hash
    );
    let mut o = packs_observed();
    o.skill_packs.default.files.insert(
        "skills/weather/scripts/fetch.sh".into(),
        b"echo rain\n".to_vec(),
    );
    assert_ne!(render_ok(&instance, &o).config_hash, a.config_hash);
    let create_only = render_ok(&minimal_with(spec(Some("CreateOnly"))), &packs_observed());
    assert_ne!(create_only.config_hash, a.config_hash);
    // A pack file hidden by a user file does not count.
    let mut o = packs_observed();
    o.skill_packs
        .default
        .files
        .insert("skills/weather/SKILL.md".into(), b"other\n".to_vec());
    assert_eq!(render_ok(&instance, &o).config_hash, a.config_hash);
}

// --- The rendered init-config, run for real. ---

fn node() -> bool {
    let ok = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("no node on PATH; skipped");
    }
    ok
}

/// The pod's volumes in a scratch folder, the ConfigMaps written as the kubelet mounts them
/// (data and binaryData keys as files).
struct Pod {
    _dir: tempfile::TempDir,
    data: PathBuf,
    config: PathBuf,
    workspace: PathBuf,
}

fn mount_config_map(dir: &Path, cm: &k8s_openapi::api::core::v1::ConfigMap) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
    std::fs::create_dir_all(dir).unwrap();
    for (k, v) in cm.data.iter().flatten() {
        std::fs::write(dir.join(k), v).unwrap();
    }
    for (k, v) in cm.binary_data.iter().flatten() {
        std::fs::write(dir.join(k), &v.0).unwrap();
    }
}

impl Pod {
    fn new() -> Pod {
        let dir = tempfile::tempdir().unwrap();
        let pod = Pod {
            data: dir.path().join("data"),
            config: dir.path().join("config"),
            workspace: dir.path().join("workspace-init"),
            _dir: dir,
        };
        std::fs::create_dir_all(&pod.data).unwrap();
        pod
    }

    /// Run `init-config` as rendered, with the mount paths moved to the scratch folder.
    fn start(&self, r: &Rendered) -> String {
        mount_config_map(&self.config, config_map(r, "-config"));
        mount_config_map(&self.workspace, workspace_cm(r));
        let init = container(statefulset(r), "init-config").unwrap();
        let args: Vec<String> = init
            .command
            .as_ref()
            .unwrap()
            .iter()
            .map(|a| {
                for (prefix, to) in [
                    ("/data", &self.data),
                    ("/config/", &self.config),
                    ("/workspace-init", &self.workspace),
                ] {
                    if let Some(rest) = a.strip_prefix(prefix) {
                        let rest = rest.trim_start_matches('/');
                        return if rest.is_empty() {
                            to.display().to_string()
                        } else {
                            to.join(rest).display().to_string()
                        };
                    }
                }
                a.clone()
            })
            .collect();
        let out = Command::new(&args[0]).args(&args[1..]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "init-config failed: {stderr}");
        stderr
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.data.join(rel)
    }

    fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    fn write(&self, rel: &str, content: &str) {
        let p = self.path(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    /// Every file and directory under the data volume, relative.
    fn tree(&self) -> BTreeSet<String> {
        fn walk(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                if p.is_dir() {
                    out.insert(format!("{rel}/"));
                    walk(root, &p, out);
                } else {
                    out.insert(rel);
                }
            }
        }
        let mut out = BTreeSet::new();
        walk(&self.data, &self.data, &mut out);
        out
    }
}

const ODD: &str = "skills/it's \"odd\"/a b$(touch pwned)`x`.md";

/// Revision 1 of a pack set: default workspace and workspace `research`, nested paths, a
/// binary file and paths with spaces, quotes and shell syntax.
fn revision1() -> Observed {
    with_packs(
        resolved(
            "pack:acme/skills/weather@v1",
            &[
                ("skills/weather/SKILL.md", b"weather v1\n"),
                ("skills/weather/scripts/deep/fetch.sh", b"fetch v1\n"),
                ("skills/weather/icon.png", &[0xff, 0xfe, 0x00, 0x80]),
                (ODD, b"odd v1\n"),
            ],
            &["skills/weather/cache"],
        ),
        &[(
            "research",
            resolved(
                "pack:acme/skills/papers@v1",
                &[
                    ("skills/papers/SKILL.md", b"papers v1\n"),
                    ("skills/papers/old/notes.md", b"old\n"),
                ],
                &[],
            ),
        )],
    )
}

/// Revision 2: `scripts/deep/fetch.sh`, the odd file and `old/notes.md` are dropped, the rest
/// changes.
fn revision2() -> Observed {
    with_packs(
        resolved(
            "pack:acme/skills/weather@v2",
            &[
                ("skills/weather/SKILL.md", b"weather v2\n"),
                ("skills/weather/icon.png", &[0xff, 0xfe, 0x00, 0x81]),
            ],
            &["skills/weather/cache"],
        ),
        &[(
            "research",
            resolved(
                "pack:acme/skills/papers@v2",
                &[("skills/papers/SKILL.md", b"papers v2\n")],
                &[],
            ),
        )],
    )
}

fn seeding_instance(policy: Option<&str>) -> openclaw_api::OpenClawInstance {
    let mut s = json!({
        "skills": ["pack:acme/skills/weather"],
        "workspace": {"additionalWorkspaces": [{"name": "research", "skills": ["pack:acme/skills/papers"]}]}
    });
    if let Some(p) = policy {
        s["skillPackUpdatePolicy"] = json!(p);
    }
    minimal_with(s)
}

#[test]
fn replace_syncs_pack_revisions_on_a_real_volume() {
    if !node() {
        return;
    }
    let pod = Pod::new();
    let instance = seeding_instance(None);
    let r1 = render_ok(&instance, &revision1());
    let stderr = pod.start(&r1);
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(
        pod.read("workspace/skills/weather/SKILL.md"),
        b"weather v1\n"
    );
    assert_eq!(
        pod.read("workspace/skills/weather/scripts/deep/fetch.sh"),
        b"fetch v1\n"
    );
    assert_eq!(
        pod.read("workspace/skills/weather/icon.png"),
        [0xff, 0xfe, 0x00, 0x80]
    );
    assert_eq!(pod.read(&format!("workspace/{ODD}")), b"odd v1\n");
    assert!(pod.path("workspace/skills/weather/cache").is_dir());
    assert_eq!(
        pod.read("workspace-research/skills/papers/old/notes.md"),
        b"old\n"
    );
    assert!(!pod.path("workspace/skills/it's \"odd\"/pwned").exists());
    assert!(!Path::new("pwned").exists());
    let manifest = String::from_utf8(pod.read(".skillpack-manifest")).unwrap();
    assert_eq!(
        manifest,
        format!(
            "{ODD}\nskills/weather/SKILL.md\nskills/weather/icon.png\nskills/weather/scripts/deep/fetch.sh\n"
        )
    );
    assert_eq!(
        String::from_utf8(pod.read(".skillpack-manifest-ws-research")).unwrap(),
        "skills/papers/SKILL.md\nskills/papers/old/notes.md\n"
    );

    // The agent edits a pack file and writes its own files, some next to the pack's.
    pod.write("workspace/skills/weather/SKILL.md", "agent edit\n");
    pod.write("workspace/skills/weather/scripts/mine.sh", "mine\n");
    pod.write("workspace/skills/notes.md", "mine too\n");
    pod.write("workspace-research/skills/papers/mine.md", "mine\n");

    let r2 = render_ok(&instance, &revision2());
    assert_ne!(r1.config_hash, r2.config_hash);
    let stderr = pod.start(&r2);
    assert!(stderr.is_empty(), "{stderr}");
    // Replaced, edits reverted.
    assert_eq!(
        pod.read("workspace/skills/weather/SKILL.md"),
        b"weather v2\n"
    );
    assert_eq!(
        pod.read("workspace/skills/weather/icon.png"),
        [0xff, 0xfe, 0x00, 0x81]
    );
    assert_eq!(
        pod.read("workspace-research/skills/papers/SKILL.md"),
        b"papers v2\n"
    );
    // Dropped files removed, with their empty parents; the user's files and the directories
    // that still hold something stay.
    assert!(!pod.path("workspace/skills/weather/scripts/deep").exists());
    assert_eq!(
        pod.read("workspace/skills/weather/scripts/mine.sh"),
        b"mine\n"
    );
    assert!(!pod.path(&format!("workspace/{ODD}")).exists());
    assert!(!pod.path("workspace/skills/it's \"odd\"").exists());
    assert!(!pod.path("workspace-research/skills/papers/old").exists());
    assert_eq!(
        pod.read("workspace-research/skills/papers/mine.md"),
        b"mine\n"
    );
    assert_eq!(pod.read("workspace/skills/notes.md"), b"mine too\n");
    assert_eq!(
        String::from_utf8(pod.read(".skillpack-manifest")).unwrap(),
        "skills/weather/SKILL.md\nskills/weather/icon.png\n"
    );

    // All packs removed: their files go, the manifests too, everything else stays.
    let before = pod.tree();
    let r3 = render_ok(
        &minimal_with(json!({"workspace": {"additionalWorkspaces": [{"name": "research"}]}})),
        &observed(),
    );
    let stderr = pod.start(&r3);
    assert!(stderr.is_empty(), "{stderr}");
    let after = pod.tree();
    let removed: BTreeSet<String> = before.difference(&after).cloned().collect();
    assert_eq!(
        removed,
        BTreeSet::from([
            ".skillpack-manifest".to_string(),
            ".skillpack-manifest-ws-research".to_string(),
            "workspace/skills/weather/SKILL.md".to_string(),
            "workspace/skills/weather/icon.png".to_string(),
            "workspace-research/skills/papers/SKILL.md".to_string(),
        ]),
        "{after:#?}"
    );
    // `skills/weather` still holds the agent's script and the pack's (empty) cache directory,
    // which no manifest lists: it stays.
    assert!(pod.path("workspace/skills/weather/cache").is_dir());
    assert_eq!(after.difference(&before).count(), 0, "{after:#?}");
}

#[test]
fn replace_prunes_only_what_the_manifest_names() {
    if !node() {
        return;
    }
    let pod = Pod::new();
    // A manifest as the Go operator (or a tampered volume) may leave: entries that escape,
    // absolute ones, a directory, a file behind a symbolic link out of the workspace.
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("victim.md"), "keep").unwrap();
    std::fs::create_dir_all(pod.path("workspace/dir")).unwrap();
    std::fs::write(pod.path("workspace/dir/user.md"), "keep").unwrap();
    std::os::unix::fs::symlink(outside.path(), pod.path("workspace/link")).unwrap();
    std::fs::write(pod.path("outside.md"), "keep").unwrap();
    std::fs::write(pod.path("workspace/never-listed.md"), "keep").unwrap();
    std::fs::write(pod.path("workspace/listed.md"), "old pack file").unwrap();
    let victim_abs = outside.path().join("victim.md").display().to_string();
    std::fs::write(
        pod.path(".skillpack-manifest"),
        format!("../outside.md\n{victim_abs}\ndir\nlink/victim.md\n./listed.md\nlisted.md\n\n"),
    )
    .unwrap();
    let stderr = pod.start(&render_ok(&minimal_with(json!({})), &observed()));
    assert!(stderr.is_empty(), "{stderr}");
    assert!(!pod.path("workspace/listed.md").exists());
    assert_eq!(pod.read("outside.md"), b"keep");
    assert_eq!(
        std::fs::read(outside.path().join("victim.md")).unwrap(),
        b"keep"
    );
    assert_eq!(pod.read("workspace/dir/user.md"), b"keep");
    assert_eq!(pod.read("workspace/never-listed.md"), b"keep");
    assert!(!pod.path(".skillpack-manifest").exists());
}

#[test]
fn create_only_seeds_once_and_keeps_everything() {
    if !node() {
        return;
    }
    let pod = Pod::new();
    let instance = seeding_instance(Some("CreateOnly"));
    pod.start(&render_ok(&instance, &revision1()));
    assert_eq!(
        pod.read("workspace/skills/weather/scripts/deep/fetch.sh"),
        b"fetch v1\n"
    );
    assert_eq!(pod.read(&format!("workspace/{ODD}")), b"odd v1\n");
    assert!(!pod.path(".skillpack-manifest").exists());
    pod.write("workspace/skills/weather/SKILL.md", "agent edit\n");
    pod.start(&render_ok(&instance, &revision2()));
    // The edit stays, the dropped file stays, a missing file comes back.
    assert_eq!(
        pod.read("workspace/skills/weather/SKILL.md"),
        b"agent edit\n"
    );
    assert_eq!(
        pod.read("workspace/skills/weather/scripts/deep/fetch.sh"),
        b"fetch v1\n"
    );
    assert_eq!(
        pod.read("workspace/skills/weather/icon.png"),
        [0xff, 0xfe, 0x00, 0x80]
    );
    std::fs::remove_file(pod.path("workspace-research/skills/papers/SKILL.md")).unwrap();
    pod.start(&render_ok(&instance, &revision2()));
    assert_eq!(
        pod.read("workspace-research/skills/papers/SKILL.md"),
        b"papers v2\n"
    );
}

#[test]
fn a_go_operator_manifest_is_honoured() {
    if !node() {
        return;
    }
    // The Go operator 0.38 seeded `skills/old/SKILL.md` (listed in its manifest); the pack no
    // longer has it.
    let pod = Pod::new();
    pod.write("workspace/skills/old/SKILL.md", "go seeded\n");
    pod.write(
        ".skillpack-manifest",
        "skills/old/SKILL.md\nskills/weather/SKILL.md\n",
    );
    pod.write("workspace/skills/weather/SKILL.md", "go seeded\n");
    let r = render_ok(&seeding_instance(None), &revision2());
    pod.start(&r);
    assert!(!pod.path("workspace/skills/old").exists());
    assert_eq!(
        pod.read("workspace/skills/weather/SKILL.md"),
        b"weather v2\n"
    );
}
