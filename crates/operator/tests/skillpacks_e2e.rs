//! Skill packs end to end: the operator binary on the local cluster resolves `pack:` skills
//! from a local HTTPS stand-in for the GitHub API (`testkit::github`, serving a real git
//! repository made here; GitHub itself cannot be reached from the test machines).
//!
//! - The Go operator's e2e scenario: the pack's files under their keys in the workspace
//!   ConfigMap, its directories in the seed plan, `skills.entries.<name>.enabled=true` in
//!   `openclaw.json`, no `pack:` in the init-skills step, `SkillPacksReady=True`.
//! - A raw pack (a directory with `SKILL.md`) and a pack of an additional workspace.
//! - Bumping the pinned ref (Replace): the file the new revision dropped leaves the ConfigMap and
//!   the seed plan, and the plan keeps the manifest that removes it from the volume.
//! - A pack that cannot be resolved: `Degraded`, `SkillPacksReady=False`, an event, and the
//!   instance still rendered with its other packs.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)] // tests may fail loudly

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Event};
use kube::Client;
use kube::api::{Api, ListParams};
use openclaw_api::{OpenClawInstance, crd};
use serde_json::{Value, json};
use testkit::TestNamespace;
use testkit::github::{GitHub, Repo};
use testkit::process::OperatorProcess;

const TIMEOUT: Duration = Duration::from_secs(120);

async fn setup(prefix: &str) -> Option<(Client, TestNamespace)> {
    let cluster = testkit::cluster().await?;
    cluster
        .install_crds(&crd::all(), TIMEOUT)
        .await
        .expect("CRDs");
    let ns = cluster.namespace(prefix).await.expect("namespace");
    Some((cluster.client(), ns))
}

fn operator(namespace: &str, github: &GitHub) -> OperatorProcess {
    let binary = Path::new(env!("CARGO_BIN_EXE_openclaw-operator"));
    OperatorProcess::start_with(binary, &format!("{namespace}-op"), |cmd| {
        cmd.arg(format!("--watch-namespaces={namespace}"))
            .env("LOG_LEVEL", "info")
            .env("GITHUB_API_URL", github.base_url())
            .env("GITHUB_CA_FILE", github.ca_file())
            .env_remove("GITHUB_TOKEN");
    })
    .expect("operator started")
}

/// `acme/skills`: a manifest-mode pack `packs/weather` (tag v1) and a raw pack `raw/notes`.
fn repository() -> Repo {
    let repo = Repo::new("acme", "skills").unwrap();
    repo.file(
        "packs/weather/skillpack.json",
        serde_json::to_vec(&json!({
            "files": {
                "skills/weather/SKILL.md": "SKILL.md",
                "skills/weather/scripts/fetch.sh": "scripts/fetch.sh"
            },
            "directories": ["skills/weather/cache"],
            "config": {"weather": {"enabled": true}}
        }))
        .unwrap(),
    )
    .unwrap()
    .file("packs/weather/SKILL.md", "# Weather\nAsk the sky.\n")
    .unwrap()
    .file("packs/weather/scripts/fetch.sh", "#!/bin/sh\necho sunny\n")
    .unwrap()
    .file("raw/notes/SKILL.md", "# Notes\n")
    .unwrap()
    .file("raw/notes/templates/daily.md", "## Today\n")
    .unwrap();
    repo.commit("v1").unwrap();
    repo.tag("v1").unwrap();
    repo
}

async fn instance(client: &Client, ns: &str, name: &str) -> OpenClawInstance {
    Api::<OpenClawInstance>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .unwrap()
}

fn condition<'a>(
    i: &'a OpenClawInstance,
    type_: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    i.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// Waits until `check` holds for the instance and its workspace ConfigMap.
async fn wait_until(
    client: &Client,
    ns: &str,
    name: &str,
    op: &OperatorProcess,
    what: &str,
    check: impl Fn(&OpenClawInstance, Option<&ConfigMap>) -> bool,
) {
    let cms = Api::<ConfigMap>::namespaced(client.clone(), ns);
    let start = Instant::now();
    loop {
        let i = instance(client, ns, name).await;
        let cm = cms.get_opt(&format!("{name}-workspace")).await.unwrap();
        if check(&i, cm.as_ref()) {
            return;
        }
        assert!(
            start.elapsed() < TIMEOUT,
            "timed out waiting for {what}\nstatus: {}\n--- operator\n{}",
            serde_json::to_string_pretty(&i.status).unwrap(),
            op.log()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn data<'a>(cm: Option<&'a ConfigMap>, key: &str) -> Option<&'a str> {
    cm?.data.as_ref()?.get(key).map(String::as_str)
}

fn plan(cm: Option<&ConfigMap>) -> Value {
    data(cm, ".operator-seed-plan.json")
        .map(|p| serde_json::from_str(p).unwrap())
        .unwrap_or(Value::Null)
}

/// The plan entry of one workspace directory (`workspace`, `workspace-<name>`).
fn workspace_plan(cm: Option<&ConfigMap>, dir: &str) -> Value {
    plan(cm)["workspaces"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|w| w["dir"] == dir)
        .cloned()
        .unwrap_or(Value::Null)
}

fn plan_paths(ws: &Value) -> Vec<String> {
    ws["files"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn packs_are_seeded_and_follow_a_bumped_ref() {
    let Some((client, ns)) = setup("packs").await else {
        return;
    };
    let n = ns.name().to_string();
    let repo = repository();
    let github = GitHub::start([repo.clone()]).await.unwrap();
    let op = operator(&n, &github);
    testkit::apply_instance(
        &client,
        &n,
        "agent",
        json!({
            "skills": [
                "pack:acme/skills/packs/weather@v1",
                "pack:acme/skills/raw/notes",
                "@acme/clawhub-skill"
            ],
            "workspace": {"additionalWorkspaces": [
                {"name": "research", "skills": ["pack:acme/skills/raw/notes@v1"]}
            ]}
        }),
    )
    .await
    .unwrap();

    wait_until(&client, &n, "agent", &op, "the packs seeded", |i, cm| {
        condition(i, "SkillPacksReady").is_some_and(|c| c.status == "True")
            && data(cm, "skills--weather--SKILL.md").is_some()
    })
    .await;
    let i = instance(&client, &n, "agent").await;
    let c = condition(&i, "SkillPacksReady").unwrap();
    assert_eq!(c.reason, "Resolved");
    assert_eq!(c.message, "Successfully resolved 3 skill pack(s)");

    // The workspace ConfigMap: the Go operator's keys and the files' contents.
    let cms = Api::<ConfigMap>::namespaced(client.clone(), &n);
    let cm = cms.get("agent-workspace").await.unwrap();
    let cm = Some(&cm);
    assert_eq!(
        data(cm, "skills--weather--SKILL.md"),
        Some("# Weather\nAsk the sky.\n")
    );
    assert_eq!(
        data(cm, "skills--weather--scripts--fetch.sh"),
        Some("#!/bin/sh\necho sunny\n")
    );
    assert_eq!(data(cm, "skills--notes--SKILL.md"), Some("# Notes\n"));
    assert_eq!(
        data(cm, "skills--notes--templates--daily.md"),
        Some("## Today\n")
    );
    assert_eq!(
        data(cm, "--ws--research--skills--notes--SKILL.md"),
        Some("# Notes\n")
    );
    // The seed plan: directories created, files replaced under the manifest.
    let default = workspace_plan(cm, "workspace");
    let dirs: Vec<&str> = default["directories"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for d in [
        "skills/weather/cache",
        "skills/notes",
        "skills/notes/templates",
    ] {
        assert!(dirs.contains(&d), "{d} in {dirs:?}");
    }
    assert_eq!(default["manifest"], ".skillpack-manifest");
    assert!(plan_paths(&default).contains(&"skills/weather/scripts/fetch.sh".to_string()));
    let research = workspace_plan(cm, "workspace-research");
    assert_eq!(research["manifest"], ".skillpack-manifest-ws-research");
    assert!(plan_paths(&research).contains(&"skills/notes/SKILL.md".to_string()));

    // openclaw.json: the pack's skills.entries.
    let config = cms.get("agent-config").await.unwrap();
    let json: Value = serde_json::from_str(data(Some(&config), "openclaw.json").unwrap()).unwrap();
    assert_eq!(
        json["skills"]["entries"]["weather"]["enabled"], true,
        "{json}"
    );

    // The install step gets only the ClawHub skill, never a pack.
    let sts = Api::<StatefulSet>::namespaced(client.clone(), &n)
        .get("agent")
        .await
        .unwrap();
    let inits = sts
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
        .init_containers
        .unwrap();
    let skills = inits
        .iter()
        .find(|c| c.name == "init-skills")
        .expect("init-skills for the ClawHub skill");
    let script = serde_json::to_string(&(&skills.command, &skills.args)).unwrap();
    assert!(script.contains("clawhub-skill"), "{script}");
    assert!(!script.contains("pack:"), "{script}");

    // Replace: v2 drops scripts/fetch.sh; bumping the pinned ref drops it from the ConfigMap and
    // the plan, and the plan keeps the manifest that removes it from the volume.
    repo.remove("packs/weather/scripts/fetch.sh").unwrap();
    repo.file(
        "packs/weather/skillpack.json",
        serde_json::to_vec(&json!({
            "files": {"skills/weather/SKILL.md": "SKILL.md"},
            "config": {"weather": {"enabled": true}}
        }))
        .unwrap(),
    )
    .unwrap()
    .file("packs/weather/SKILL.md", "# Weather v2\n")
    .unwrap();
    repo.commit("v2").unwrap();
    repo.tag("v2").unwrap();
    testkit::apply_instance(
        &client,
        &n,
        "agent",
        json!({
            "skills": [
                "pack:acme/skills/packs/weather@v2",
                "pack:acme/skills/raw/notes",
                "@acme/clawhub-skill"
            ],
            "workspace": {"additionalWorkspaces": [
                {"name": "research", "skills": ["pack:acme/skills/raw/notes@v1"]}
            ]}
        }),
    )
    .await
    .unwrap();
    wait_until(&client, &n, "agent", &op, "revision v2 seeded", |_, cm| {
        data(cm, "skills--weather--SKILL.md") == Some("# Weather v2\n")
    })
    .await;
    let cm = cms.get("agent-workspace").await.unwrap();
    let cm = Some(&cm);
    assert_eq!(data(cm, "skills--weather--scripts--fetch.sh"), None);
    let default = workspace_plan(cm, "workspace");
    assert!(!plan_paths(&default).contains(&"skills/weather/scripts/fetch.sh".to_string()));
    assert_eq!(default["manifest"], ".skillpack-manifest");
}

#[tokio::test]
async fn a_pack_that_cannot_be_resolved_degrades_without_blocking() {
    let Some((client, ns)) = setup("packs-bad").await else {
        return;
    };
    let n = ns.name().to_string();
    let github = GitHub::start([repository()]).await.unwrap();
    let op = operator(&n, &github);
    testkit::apply_instance(
        &client,
        &n,
        "agent",
        json!({"skills": [
            "pack:acme/skills/raw/notes@v1",
            "pack:acme/missing/weather"
        ]}),
    )
    .await
    .unwrap();
    wait_until(
        &client,
        &n,
        "agent",
        &op,
        "the failure reported",
        |i, cm| {
            condition(i, "SkillPacksReady").is_some_and(|c| c.status == "False")
                && data(cm, "skills--notes--SKILL.md").is_some()
        },
    )
    .await;
    let i = instance(&client, &n, "agent").await;
    let c = condition(&i, "SkillPacksReady").unwrap();
    assert_eq!(c.reason, "ResolutionFailed");
    assert!(
        c.message
            .starts_with("Failed to resolve skill packs: pack:acme/missing/weather: "),
        "{}",
        c.message
    );
    assert!(c.message.contains("acme/missing"), "{}", c.message);
    // Running without the failed pack: the StatefulSet is there, the phase says Degraded.
    Api::<StatefulSet>::namespaced(client.clone(), &n)
        .get("agent")
        .await
        .expect("rendered without the failed pack");
    wait_until(&client, &n, "agent", &op, "Degraded", |i, _| {
        i.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Degraded")
    })
    .await;
    let start = Instant::now();
    loop {
        let events = Api::<Event>::namespaced(client.clone(), &n)
            .list(&ListParams::default())
            .await
            .unwrap();
        if let Some(e) = events
            .items
            .iter()
            .find(|e| e.reason.as_deref() == Some("SkillPackResolutionFailed"))
        {
            assert_eq!(e.type_.as_deref(), Some("Warning"));
            assert!(
                e.message
                    .as_deref()
                    .unwrap_or_default()
                    .contains("runs without these packs"),
                "{e:?}"
            );
            break;
        }
        assert!(start.elapsed() < TIMEOUT, "no event\n{}", op.log());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
