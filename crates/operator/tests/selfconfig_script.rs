//! The agent's `selfconfig.sh`, exactly as rendered into the workspace ConfigMap, run against the
//! real API server with a token of the instance's ServiceAccount, bound by the Role the renderer
//! builds: every command creates the OpenClawSelfConfig it should, the waiting commands report
//! the outcome the operator writes (the test writes it here, standing in for the controller) with
//! their exit code, and API refusals come back as the API's message with exit code 1.
//!
//! No controller runs: nothing here depends on one. The operator's admission webhook is not
//! registered in the test cluster, so requests are stored as sent.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use openclaw_api::{OpenClawInstance, OpenClawSelfConfig, crd};
use openclaw_render::{Object, Observed};
use serde_json::{Value, json};
use testkit::selfconfig_script::{SelfConfigScript, node_bin, sa_token};

const TIMEOUT: Duration = Duration::from_secs(60);
const INSTANCE: &str = "agent";

/// Installs the CRDs only when missing: the local cluster is shared with other checkouts' tests,
/// whose (possibly newer) CRDs must not be replaced under them.
async fn ensure_crds(cluster: &testkit::Cluster) {
    let crds = Api::<CustomResourceDefinition>::all(cluster.client());
    let mut missing = Vec::new();
    for c in crd::all() {
        if crds.get_opt(&c.name_any()).await.expect("CRD").is_none() {
            missing.push(c);
        }
    }
    if !missing.is_empty() {
        cluster.install_crds(&missing, TIMEOUT).await.expect("CRDs");
    }
}

struct Setup {
    ns: testkit::TestNamespace,
    client: Client,
    script: SelfConfigScript,
    requests: Api<OpenClawSelfConfig>,
}

/// A namespace with the instance (self-configuration on) and its ServiceAccount, Role and
/// RoleBinding as rendered; the rendered script set up with a token of that ServiceAccount.
async fn setup(prefix: &str) -> Option<Setup> {
    let cluster = testkit::cluster().await?;
    let node = node_bin()?;
    ensure_crds(&cluster).await;
    let ns = cluster.namespace(prefix).await.expect("namespace");
    let client = cluster.client();
    testkit::apply_instance(
        &client,
        ns.name(),
        INSTANCE,
        json!({"selfConfigure": {"enabled": true, "allowedActions": ["skills", "config"]}}),
    )
    .await
    .expect("instance");
    let instance = Api::<OpenClawInstance>::namespaced(client.clone(), ns.name())
        .get(INSTANCE)
        .await
        .expect("instance read back");
    let rendered = openclaw_render::render(
        &instance,
        &Observed {
            gateway_token: Some("t".repeat(32)),
            ..Default::default()
        },
    )
    .expect("render");
    let mut script = None;
    let mut service_account = None;
    let pp = PostParams::default();
    for object in rendered.iter() {
        match object {
            Object::ServiceAccount(sa) => {
                service_account = Some(sa.name_any());
                Api::<ServiceAccount>::namespaced(client.clone(), ns.name())
                    .create(&pp, sa)
                    .await
                    .expect("ServiceAccount");
            }
            Object::Role(role) => {
                Api::<Role>::namespaced(client.clone(), ns.name())
                    .create(&pp, role)
                    .await
                    .expect("Role");
            }
            Object::RoleBinding(binding) => {
                Api::<RoleBinding>::namespaced(client.clone(), ns.name())
                    .create(&pp, binding)
                    .await
                    .expect("RoleBinding");
            }
            Object::ConfigMap(cm) if cm.name_any() == format!("{INSTANCE}-workspace") => {
                script = cm
                    .data
                    .as_ref()
                    .and_then(|d| d.get("selfconfig.sh"))
                    .cloned();
            }
            _ => {}
        }
    }
    let script = script.expect("selfconfig.sh in the workspace ConfigMap");
    let service_account = service_account.expect("a rendered ServiceAccount");
    let token = sa_token(&client, ns.name(), &service_account)
        .await
        .expect("token");
    let script = SelfConfigScript::new(
        cluster.config(),
        &script,
        ns.name(),
        INSTANCE,
        &token,
        &node,
    )
    .expect("script");
    let requests = Api::namespaced(client.clone(), ns.name());
    Some(Setup {
        ns,
        client,
        script,
        requests,
    })
}

impl Setup {
    /// The requests, untyped: specs exactly as stored.
    fn raw(&self) -> Api<DynamicObject> {
        Api::namespaced_with(
            self.client.clone(),
            self.ns.name(),
            &ApiResource::erase::<OpenClawSelfConfig>(&()),
        )
    }

    /// The spec of the request `name`, as stored.
    async fn spec(&self, name: &str) -> Value {
        self.raw().get(name).await.expect("request").data["spec"].clone()
    }

    /// Runs a write command with `--no-wait`; returns the created request's name.
    async fn create(&self, args: &[&str], stdin: Option<&str>) -> String {
        let mut all = vec!["--no-wait"];
        all.extend_from_slice(args);
        let out = self.script.run(&all, stdin).await.expect("run");
        assert_eq!(out.code, Some(0), "{args:?}: {out:?}");
        let lines = out.lines();
        assert_eq!(lines.len(), 1, "{args:?}: {out:?}");
        let name = lines[0].to_string();
        assert!(
            name.starts_with(&format!("{INSTANCE}-sc-")),
            "{args:?}: {name}"
        );
        name
    }

    /// Waits for the one request whose spec is `spec` and returns its name.
    async fn wait_request(&self, spec: &Value) -> String {
        let deadline = tokio::time::Instant::now() + TIMEOUT;
        loop {
            for r in self
                .raw()
                .list(&ListParams::default())
                .await
                .expect("list")
                .items
            {
                if r.data["spec"] == *spec {
                    return r.name_any();
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no request with {spec}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Writes the request's status as the operator would.
    async fn set_status(&self, name: &str, phase: &str, message: &str) {
        self.requests
            .patch_status(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": {"phase": phase, "message": message}})),
            )
            .await
            .expect("status");
    }
}

#[tokio::test]
async fn every_write_command_creates_its_request() {
    let Some(s) = setup("selfconfig-script-writes").await else {
        return;
    };
    let cases: Vec<(Vec<&str>, Option<&str>, Value)> = vec![
        (
            vec!["add-skill", "weather", "@scope/other"],
            None,
            json!({"addSkills": ["weather", "@scope/other"]}),
        ),
        (
            vec!["remove-skill", "weather"],
            None,
            json!({"removeSkills": ["weather"]}),
        ),
        (
            vec![
                "patch-config",
                r#"{"agents": {"defaults": {"model": {"primary": "openai/gpt-5"}}}, "x": [1, null, "s"]}"#,
            ],
            None,
            json!({"configPatch": {"agents": {"defaults": {"model": {"primary": "openai/gpt-5"}}}, "x": [1, null, "s"]}}),
        ),
        (
            vec!["add-file", "notes/PLAN.md", "-"],
            Some("# Plan\n\n- ünïcode \"quotes\" $HOME `ticks`\n"),
            json!({"addWorkspaceFiles": {"notes/PLAN.md": "# Plan\n\n- ünïcode \"quotes\" $HOME `ticks`\n"}}),
        ),
        (
            vec!["add-file", "STDIN.md"],
            Some("from stdin"),
            json!({"addWorkspaceFiles": {"STDIN.md": "from stdin"}}),
        ),
        (
            vec!["remove-file", "PLAN.md", "notes/old.md"],
            None,
            json!({"removeWorkspaceFiles": ["PLAN.md", "notes/old.md"]}),
        ),
        (
            vec!["set-env", "LOG_LEVEL=debug", "EQ=a=b", "EMPTY="],
            None,
            json!({"addEnvVars": [
                {"name": "LOG_LEVEL", "value": "debug"},
                {"name": "EQ", "value": "a=b"},
                {"name": "EMPTY", "value": ""}
            ]}),
        ),
        (
            vec!["unset-env", "LOG_LEVEL", "EQ"],
            None,
            json!({"removeEnvVars": ["LOG_LEVEL", "EQ"]}),
        ),
    ];
    for (args, stdin, change) in cases {
        let name = s.create(&args, stdin).await;
        let mut want = json!({"instanceRef": INSTANCE});
        want.as_object_mut()
            .unwrap()
            .extend(change.as_object().unwrap().clone());
        assert_eq!(s.spec(&name).await, want, "{args:?}");
    }

    // add-file from a path.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), "line 1\nline 2\n").unwrap();
    let name = s
        .create(
            &["add-file", "FROM-PATH.md", file.path().to_str().unwrap()],
            None,
        )
        .await;
    assert_eq!(
        s.spec(&name).await,
        json!({"instanceRef": INSTANCE, "addWorkspaceFiles": {"FROM-PATH.md": "line 1\nline 2\n"}})
    );

    // status of a request no one handled yet, then of a finished one.
    let out = s.script.run(&["status", &name], None).await.unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(out.stdout, format!("{name}: Pending: \n"));
    s.set_status(&name, "Denied", "denied actions: [workspaceFiles]")
        .await;
    let out = s.script.run(&["status", &name], None).await.unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.stdout,
        format!("{name}: Denied: denied actions: [workspaceFiles]\n")
    );

    // get-instance: the Role allows reading the own instance.
    let out = s.script.run(&["get-instance"], None).await.unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    let instance: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(instance["metadata"]["name"], INSTANCE);
    assert_eq!(
        instance["spec"]["selfConfigure"]["allowedActions"],
        json!(["skills", "config"])
    );

    s.ns.cleanup().await.unwrap();
}

#[tokio::test]
async fn waiting_commands_report_the_outcome_in_their_exit_code() {
    let Some(s) = setup("selfconfig-script-wait").await else {
        return;
    };
    // Applied: exit 0.
    let child = s
        .script
        .spawn(&["--timeout", "60", "add-skill", "weather"])
        .unwrap();
    let name = s
        .wait_request(&json!({"instanceRef": INSTANCE, "addSkills": ["weather"]}))
        .await;
    s.set_status(&name, "Applied", "changes applied successfully")
        .await;
    let out = SelfConfigScript::finish(child).await.unwrap();
    assert_eq!(out.code, Some(0), "{out:?}");
    assert_eq!(
        out.lines(),
        [
            name.as_str(),
            &format!("{name}: Applied: changes applied successfully")
        ]
    );

    // Denied: exit 2.
    let child = s.script.spawn(&["set-env", "A=1"]).unwrap();
    let name = s
        .wait_request(
            &json!({"instanceRef": INSTANCE, "addEnvVars": [{"name": "A", "value": "1"}]}),
        )
        .await;
    s.set_status(&name, "Denied", "denied actions: [envVars]")
        .await;
    let out = SelfConfigScript::finish(child).await.unwrap();
    assert_eq!(out.code, Some(2), "{out:?}");
    assert_eq!(
        out.lines(),
        [
            name.as_str(),
            &format!("{name}: Denied: denied actions: [envVars]")
        ]
    );

    // Pending keeps it waiting; Failed: exit 3.
    let mut child = s.script.spawn(&["remove-skill", "weather"]).unwrap();
    let name = s
        .wait_request(&json!({"instanceRef": INSTANCE, "removeSkills": ["weather"]}))
        .await;
    s.set_status(&name, "Pending", "").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "it stopped waiting on Pending"
    );
    s.set_status(&name, "Failed", "failed to apply changes: boom")
        .await;
    let out = SelfConfigScript::finish(child).await.unwrap();
    assert_eq!(out.code, Some(3), "{out:?}");
    assert_eq!(
        out.lines().last().copied(),
        Some(format!("{name}: Failed: failed to apply changes: boom").as_str())
    );

    // No answer in time: exit 4.
    let out = s
        .script
        .run(&["--timeout", "1", "add-skill", "slow"], None)
        .await
        .unwrap();
    assert_eq!(out.code, Some(4), "{out:?}");
    let name = out.lines()[0].to_string();
    assert!(
        out.stderr.contains(&format!("selfconfig.sh status {name}")),
        "{out:?}"
    );

    s.ns.cleanup().await.unwrap();
}

#[tokio::test]
async fn api_refusals_print_the_api_message() {
    let Some(s) = setup("selfconfig-script-errors").await else {
        return;
    };
    let expect_error = |out: &testkit::selfconfig_script::ScriptOutput, needle: &str| {
        assert_eq!(out.code, Some(1), "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        assert!(out.stderr.contains(needle), "{needle}: {out:?}");
        assert!(
            !out.stderr.contains("    at "),
            "a stack trace: {}",
            out.stderr
        );
    };

    // 404: a request that does not exist.
    let out = s.script.run(&["status", "nope"], None).await.unwrap();
    expect_error(&out, "(HTTP 404)");
    expect_error(
        &out,
        r#"openclawselfconfigs.openclaw.rocks "nope" not found"#,
    );

    // 403: another instance, outside the Role's resourceNames.
    let mut cmd = s.script.command(&["get-instance"]);
    cmd.env("OPENCLAW_INSTANCE_NAME", "someone-else");
    let out = SelfConfigScript::run_command(cmd, None).await.unwrap();
    expect_error(&out, "(HTTP 403)");
    expect_error(&out, "cannot get resource \"openclawinstances\"");

    // 422: the CRD schema rejects more than 10 skills.
    let many: Vec<String> = (0..11).map(|i| format!("skill-{i}")).collect();
    let mut args = vec!["--no-wait", "add-skill"];
    args.extend(many.iter().map(String::as_str));
    let out = s.script.run(&args, None).await.unwrap();
    expect_error(&out, "(HTTP 422)");
    expect_error(&out, "spec.addSkills");

    // 401: a token the API server does not accept.
    std::fs::write(s.script.token_file(), "not-a-token").unwrap();
    let out = s.script.run(&["get-instance"], None).await.unwrap();
    expect_error(&out, "(HTTP 401)");

    // Nothing was created by any of these.
    assert!(
        s.requests
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    s.ns.cleanup().await.unwrap();
}
