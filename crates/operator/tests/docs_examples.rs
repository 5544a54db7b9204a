//! Every example manifest of `README.md` and `docs/**/*.md` applied to the real cluster, with
//! the real operator process (its admission webhooks registered), reaching the state the docs
//! claim.
//!
//! What is an example:
//!
//! - every document of a fenced ```` ```yaml ```` / ```` ```yml ```` block that has `apiVersion`
//!   and `kind` (a manifest); a document of only `spec:` (and `metadata:`) is a fragment of an
//!   instance and must pass `openclaw-operator validate` as an `OpenClawInstance` spec (offline);
//!   other documents without `apiVersion`/`kind` (Helm values, collector configs) are snippets
//!   and are only counted;
//! - every YAML file of the repository that a shell block (`sh`, `bash`, `shell`, `console`)
//!   applies with `kubectl ... apply -f PATH` (e.g. the README's quick start applies
//!   `config/samples/openclawinstance-minimal.yaml`).
//!
//! Nothing that looks like a manifest is skipped silently: a YAML block that does not parse, a
//! document with only one of `apiVersion`/`kind`, an `openclaw.rocks` manifest in a block of
//! another language, and a manifest the API server refuses fail the test unless the block is
//! marked `skip`. Cluster-scoped manifests (CRDs, webhook configurations, the
//! `OpenClawClusterDefaults` singleton) are applied as a server-side dry run: the cluster is
//! shared, so the test changes nothing cluster-wide.
//!
//! Markers: an HTML comment on its own line right before the opening fence (blank lines
//! between are allowed, several markers may follow each other):
//!
//! - `<!-- example: skip REASON -->`: the block is not applied (a sketch, an error on purpose,
//!   something cluster-wide); the reason is required and is printed in the report.
//! - `<!-- example: expect CHECK... -->`: the state the page claims, checked on every
//!   `OpenClawInstance` and `OpenClawSelfConfig` of the block (`exists` and `warns` once per
//!   block). Checks, separated by spaces (quote values with spaces: `warns="runs as root"`):
//!   - `phase=P`: `status.phase` becomes `P` (replaces the default below);
//!   - `condition=TYPE=STATUS`: the status condition `TYPE` has status `STATUS`;
//!   - `exists=KIND/NAME`: the operator created that object in the example's namespace;
//!   - `warns=TEXT`: `openclaw-operator validate` prints a warning containing `TEXT`.
//!
//! Without a marker an `OpenClawInstance` must reach phase `Running`, an `OpenClawSelfConfig`
//! phase `Applied`; any other kind must be accepted by the API server. Every `openclaw.rocks`
//! document must also pass `openclaw-operator validate` without errors, and is applied through
//! the operator's validating and mutating webhooks (failure policy `Fail`). A marker that is not
//! right before a block, or an `expect` on a block without a manifest, fails the test.
//!
//! How: the examples of one page are applied in order, like a reader following the page, into
//! one namespace of their own (`metadata.namespace` is rewritten; `openclaw-operator-system`, the
//! operator's namespace in the docs, becomes the test operator's namespace, which is also its
//! backup-credentials namespace). Pages run in parallel against one operator process. Secrets an
//! instance references (`observe::referenced_secrets`) that its page does not define, such as
//! the `openclaw-api-keys` the README's quick start has the reader create, are created as
//! placeholders first. Each example has 120 s; a failure names the file, the line and the
//! object's status. Documented in docs/development.md ("Examples in the docs").

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::discovery::{Discovery, Scope};
use kube::{Client, ResourceExt};
use openclaw_api::{OpenClawInstance, crd};
use openclaw_operator::controller::observe;
use openclaw_operator::webhook::{
    MUTATE_INSTANCE_PATH, MUTATE_SELF_CONFIG_PATH, VALIDATE_INSTANCE_PATH,
    VALIDATE_SELF_CONFIG_PATH,
};
use serde_json::{Value, json};
use testkit::TestNamespace;
use testkit::process::OperatorProcess;

/// How long one example may take to reach its claimed state.
const EXAMPLE_TIMEOUT: Duration = Duration::from_secs(120);
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);
const FIELD_MANAGER: &str = "docs-example";
/// The operator's namespace as the docs write it.
const DOCS_OPERATOR_NAMESPACE: &str = "openclaw-operator-system";
const SHELL_LANGS: &[&str] = &["sh", "bash", "shell", "console", "zsh"];
const OPENCLAW_KINDS: &[&str] = &[
    "OpenClawInstance",
    "OpenClawSelfConfig",
    "OpenClawClusterDefaults",
];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ------------------------------------------------------------------ Markdown --

#[derive(Debug, Clone, PartialEq)]
enum Check {
    Phase(String),
    Condition(String, String),
    Exists(String, String),
    Warns(String),
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::Phase(p) => write!(f, "phase={p}"),
            Check::Condition(t, s) => write!(f, "condition={t}={s}"),
            Check::Exists(k, n) => write!(f, "exists={k}/{n}"),
            Check::Warns(w) => write!(f, "warns={w:?}"),
        }
    }
}

#[derive(Debug, Default)]
struct Markers {
    skip: Option<String>,
    expect: Vec<Check>,
}

/// One fenced code block.
#[derive(Debug)]
struct Block {
    /// Line of the opening fence (1-based).
    line: usize,
    lang: String,
    /// The content, the fence's indentation removed.
    lines: Vec<String>,
    markers: Markers,
}

/// Splits words on spaces, keeping double-quoted parts together (quotes removed).
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// The body of `<!-- example: BODY -->`, if the line is such a marker.
fn marker_body(line: &str) -> Option<&str> {
    let t = line.trim();
    let body = t
        .strip_prefix("<!--")?
        .trim_start()
        .strip_prefix("example:")?;
    Some(body.strip_suffix("-->").unwrap_or(body).trim())
}

fn parse_marker(body: &str, into: &mut Markers) -> Result<(), String> {
    let (verb, rest) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
    match verb {
        "skip" => {
            let reason = rest.trim();
            if reason.is_empty() {
                return Err("`example: skip` needs a reason".into());
            }
            into.skip = Some(reason.to_string());
        }
        "expect" => {
            let checks = words(rest);
            if checks.is_empty() {
                return Err("`example: expect` needs at least one check".into());
            }
            for w in checks {
                let (key, value) = w
                    .split_once('=')
                    .ok_or_else(|| format!("check {w:?} is not KEY=VALUE"))?;
                let check = match key {
                    "phase" => Check::Phase(value.to_string()),
                    "condition" => {
                        let (t, s) = value
                            .split_once('=')
                            .ok_or_else(|| format!("{w:?}: condition=TYPE=STATUS"))?;
                        Check::Condition(t.to_string(), s.to_string())
                    }
                    "exists" => {
                        let (k, n) = value
                            .split_once('/')
                            .ok_or_else(|| format!("{w:?}: exists=KIND/NAME"))?;
                        Check::Exists(k.to_string(), n.to_string())
                    }
                    "warns" => Check::Warns(value.to_string()),
                    other => return Err(format!("unknown check {other:?} in {w:?}")),
                };
                into.expect.push(check);
            }
        }
        other => return Err(format!("unknown marker {other:?} (skip or expect)")),
    }
    Ok(())
}

/// The fenced blocks of a Markdown text, with their markers; problems (stray or malformed
/// markers, an unclosed fence) are added to `problems`.
fn blocks(file: &str, text: &str, problems: &mut Vec<String>) -> Vec<Block> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut used_markers = BTreeSet::new();
    let mut marker_lines = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let fence_char = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let fence_len = fence_char.map_or(0, |c| trimmed.chars().take_while(|x| *x == c).count());
        if marker_body(line).is_some() {
            marker_lines.push(i);
        }
        if fence_len < 3 {
            i += 1;
            continue;
        }
        let fence_char = fence_char.unwrap();
        let lang = trimmed[fence_len..]
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        // Markers: the comment lines right before the fence (blank lines allowed).
        let mut markers = Markers::default();
        let mut j = i;
        while j > 0 {
            j -= 1;
            if lines[j].trim().is_empty() {
                continue;
            }
            let Some(body) = marker_body(lines[j]) else {
                break;
            };
            used_markers.insert(j);
            if let Err(e) = parse_marker(body, &mut markers) {
                problems.push(format!("{file}:{}: {e}", j + 1));
            }
        }
        // The content, up to a closing fence of the same character and at least the same length.
        let mut content = Vec::new();
        let mut k = i + 1;
        let mut closed = false;
        while k < lines.len() {
            let t = lines[k].trim();
            if t.chars().all(|c| c == fence_char) && t.len() >= fence_len {
                closed = true;
                break;
            }
            let l = lines[k];
            let strip = l.len() - l.trim_start().len();
            content.push(l[strip.min(indent)..].to_string());
            k += 1;
        }
        if !closed {
            problems.push(format!("{file}:{}: unclosed code fence", i + 1));
        }
        out.push(Block {
            line: i + 1,
            lang,
            lines: content,
            markers,
        });
        i = k + 1;
    }
    for m in marker_lines {
        if !used_markers.contains(&m) {
            problems.push(format!(
                "{file}:{}: an `example:` marker that is not right before a code block",
                m + 1
            ));
        }
    }
    out
}

/// One document to apply.
#[derive(Debug)]
struct Example {
    /// `file:line` of the document (and the applied file, for shell blocks).
    source: String,
    value: Value,
    /// Block-level checks from the markers.
    expect: Vec<Check>,
    /// Whether this document carries the block's `exists`/`warns` checks (the block's first
    /// openclaw.rocks document).
    block_checks: bool,
}

/// One Markdown file and its examples.
#[derive(Debug)]
struct Page {
    /// The path from the repository root.
    file: String,
    examples: Vec<Example>,
    stats: PageStats,
}

#[derive(Debug, Default)]
struct PageStats {
    applied: usize,
    skipped: Vec<String>,
    snippets: usize,
    /// Documents of only `spec:`, checked offline with `openclaw-operator validate`.
    fragments: usize,
}

/// A document of only `spec:` (and perhaps `metadata:`): a part of an instance's manifest.
fn is_spec_fragment(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|m| m.contains_key("spec") && m.keys().all(|k| k == "spec" || k == "metadata"))
}

/// A spec fragment, checked offline as the spec of an `OpenClawInstance`: the errors of
/// `openclaw-operator validate`.
fn check_spec_fragment(value: &Value) -> Result<(), String> {
    let doc = json!({"apiVersion": "openclaw.rocks/v1alpha1", "kind": "OpenClawInstance",
        "metadata": {"name": "fragment"}, "spec": value["spec"]});
    let reports = openclaw_operator::cli::validate_yaml("fragment", &doc.to_string())
        .map_err(|e| e.to_string())?;
    let errors: Vec<String> = reports
        .into_iter()
        .flat_map(|r| r.findings.errors)
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// `(line offset, text)` of each document of a YAML stream.
fn split_documents(lines: &[String]) -> Vec<(usize, String)> {
    let mut docs = vec![(0, String::new())];
    for (n, l) in lines.iter().enumerate() {
        if l == "---" || l.starts_with("--- ") || l.starts_with("---\t") {
            docs.push((n + 1, String::new()));
            continue;
        }
        let doc = &mut docs.last_mut().unwrap().1;
        doc.push_str(l);
        doc.push('\n');
    }
    docs.into_iter()
        .filter(|(_, t)| {
            t.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .collect()
}

fn mentions_openclaw(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start().trim_start_matches("- ");
        l.strip_prefix("apiVersion:")
            .is_some_and(|v| v.trim().starts_with("openclaw.rocks/"))
            || l.strip_prefix("kind:").is_some_and(|k| {
                let k = k.trim().trim_matches('"');
                OPENCLAW_KINDS.contains(&k)
            })
    })
}

/// Paths applied by `kubectl ... apply -f PATH` in a shell block.
fn applied_paths(lines: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for l in lines {
        let w: Vec<&str> = l.split_whitespace().collect();
        if !w.contains(&"kubectl") || !w.contains(&"apply") {
            continue;
        }
        for (n, t) in w.iter().enumerate() {
            let path = match *t {
                "-f" | "--filename" => w.get(n + 1).copied(),
                t => t
                    .strip_prefix("--filename=")
                    .or_else(|| t.strip_prefix("-f=")),
            };
            if let Some(p) = path.filter(|p| *p != "-") {
                out.push(p.to_string());
            }
        }
    }
    out
}

/// Classifies the documents of one block: examples go to `examples`, the rest is counted or
/// reported as a problem.
fn classify(
    source_of: &dyn Fn(usize) -> String,
    first_line: usize,
    lines: &[String],
    markers: &Markers,
    examples: &mut Vec<Example>,
    stats: &mut PageStats,
    problems: &mut Vec<String>,
) {
    let mut manifests = 0;
    let mut block_checks = true;
    for (offset, text) in split_documents(lines) {
        let source = source_of(first_line + offset);
        let value: Value = match serde_saphyr::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{source}: YAML that does not parse: {e}"));
                continue;
            }
        };
        let has = |k: &str| value.get(k).and_then(Value::as_str).is_some();
        match (has("apiVersion"), has("kind")) {
            (true, true) => {}
            (false, false) if is_spec_fragment(&value) => {
                if let Err(e) = check_spec_fragment(&value) {
                    problems.push(format!(
                        "{source}: a spec fragment `openclaw-operator validate` refuses as an \
                         OpenClawInstance spec: {e}; fix it or mark the block \
                         `<!-- example: skip REASON -->`"
                    ));
                }
                stats.fragments += 1;
                continue;
            }
            (false, false) if !mentions_openclaw(&text) => {
                stats.snippets += 1;
                continue;
            }
            _ => {
                problems.push(format!(
                    "{source}: looks like a manifest but lacks apiVersion or kind: complete it \
                     or mark the block `<!-- example: skip REASON -->`"
                ));
                continue;
            }
        }
        manifests += 1;
        let openclaw = value["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("openclaw.rocks/"));
        examples.push(Example {
            source,
            value,
            expect: markers.expect.clone(),
            block_checks: block_checks && openclaw,
        });
        if openclaw {
            block_checks = false;
        }
        stats.applied += 1;
    }
    if manifests == 0 && !markers.expect.is_empty() {
        problems.push(format!(
            "{}: an `example: expect` marker on a block without a manifest",
            source_of(first_line.saturating_sub(1))
        ));
    }
}

/// Every page with its examples; problems of the scan are returned too.
fn scan() -> (Vec<Page>, Vec<String>) {
    let root = repo();
    let mut files = vec![root.join("README.md")];
    let mut dirs = vec![root.join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("docs dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut problems = Vec::new();
    let mut pages = Vec::new();
    for path in files {
        let file = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&path).expect("markdown");
        let mut examples = Vec::new();
        let mut stats = PageStats::default();
        for b in blocks(&file, &text, &mut problems) {
            let yaml = matches!(b.lang.as_str(), "yaml" | "yml");
            let shell = SHELL_LANGS.contains(&b.lang.as_str());
            let body = b.lines.join("\n");
            if let Some(reason) = &b.markers.skip {
                if !b.markers.expect.is_empty() {
                    problems.push(format!("{file}:{}: both skip and expect", b.line));
                }
                stats.skipped.push(format!("line {}: {reason}", b.line));
                continue;
            }
            if yaml {
                let file = file.clone();
                classify(
                    &|line| format!("{file}:{line}"),
                    b.line + 1,
                    &b.lines,
                    &b.markers,
                    &mut examples,
                    &mut stats,
                    &mut problems,
                );
                continue;
            }
            if shell {
                let mut found = false;
                for p in applied_paths(&b.lines) {
                    let target = root.join(&p);
                    let mut targets = Vec::new();
                    if target.is_dir() {
                        for e in std::fs::read_dir(&target).expect("dir") {
                            targets.push(e.expect("entry").path());
                        }
                        targets.sort();
                    } else if target.is_file() {
                        targets.push(target);
                    }
                    for t in targets
                        .into_iter()
                        .filter(|t| t.extension().is_some_and(|e| e == "yaml" || e == "yml"))
                    {
                        found = true;
                        let rel = t.strip_prefix(&root).unwrap_or(&t).display().to_string();
                        let lines: Vec<String> = std::fs::read_to_string(&t)
                            .expect("applied file")
                            .lines()
                            .map(str::to_string)
                            .collect();
                        let (file, block_line) = (file.clone(), b.line);
                        classify(
                            &|line| format!("{file}:{block_line} (kubectl apply -f {rel}:{line})"),
                            1,
                            &lines,
                            &b.markers,
                            &mut examples,
                            &mut stats,
                            &mut problems,
                        );
                    }
                }
                if found {
                    continue;
                }
            }
            if mentions_openclaw(&body) {
                problems.push(format!(
                    "{file}:{}: an openclaw.rocks manifest in a ```{} block: make it ```yaml, or \
                     mark it `<!-- example: skip REASON -->`",
                    b.line, b.lang
                ));
            } else if !b.markers.expect.is_empty() {
                problems.push(format!(
                    "{file}:{}: an `example: expect` marker on a block without a manifest",
                    b.line
                ));
            }
        }
        pages.push(Page {
            file,
            examples,
            stats,
        });
    }
    (pages, problems)
}

#[test]
fn the_scanner_finds_markers_fragments_and_stray_comments() {
    let md = "\
Intro

<!-- example: expect phase=Failed condition=ConfigValid=False warns=\"runs as root\" -->
```yaml
apiVersion: openclaw.rocks/v1alpha1
kind: OpenClawInstance
metadata: {name: a}
---
spec: {skills: [x]}
---
receivers: {otlp: {}}
---
spec: {skills: [\"not a skill!\"]}
```

<!-- example: skip a sketch -->

```yaml
kind: OpenClawInstance
```

```yaml
kind: OpenClawSelfConfig
```

  ```sh
  kubectl apply -f config/samples/openclawinstance-minimal.yaml
  cat <<EOF
  apiVersion: openclaw.rocks/v1alpha1
  EOF
  ```

<!-- example: expect phase=Running -->
text in between
";
    let mut problems = Vec::new();
    let b = blocks("t.md", md, &mut problems);
    assert_eq!(b.len(), 4);
    assert_eq!(b[0].line, 4);
    assert_eq!(
        b[0].markers.expect,
        vec![
            Check::Phase("Failed".into()),
            Check::Condition("ConfigValid".into(), "False".into()),
            Check::Warns("runs as root".into()),
        ]
    );
    assert_eq!(b[1].markers.skip.as_deref(), Some("a sketch"));
    assert_eq!(b[3].lang, "sh");
    assert_eq!(
        b[3].lines[0],
        "kubectl apply -f config/samples/openclawinstance-minimal.yaml"
    );
    assert_eq!(
        applied_paths(&b[3].lines),
        ["config/samples/openclawinstance-minimal.yaml"]
    );
    assert!(mentions_openclaw(&b[3].lines.join("\n")));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("t.md:33:"), "{problems:?}");

    let (mut examples, mut stats) = (Vec::new(), PageStats::default());
    let docs = |b: &Block, ex: &mut Vec<Example>, st: &mut PageStats, pr: &mut Vec<String>| {
        classify(
            &|l| format!("t.md:{l}"),
            b.line + 1,
            &b.lines,
            &b.markers,
            ex,
            st,
            pr,
        );
    };
    docs(&b[0], &mut examples, &mut stats, &mut problems);
    assert_eq!(examples.len(), 1);
    assert_eq!(examples[0].source, "t.md:5");
    assert_eq!((stats.fragments, stats.snippets), (2, 1));
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(
        problems[1].starts_with("t.md:13: a spec fragment") && problems[1].contains("skills[0]"),
        "{problems:?}"
    );
    docs(&b[2], &mut examples, &mut stats, &mut problems);
    assert!(
        problems[2].starts_with("t.md:23: looks like a manifest"),
        "{problems:?}"
    );
    let mut m = Markers::default();
    assert!(parse_marker("skip", &mut m).is_err());
    assert!(parse_marker("expect colour=red", &mut m).is_err());
    assert!(parse_marker("check phase=Running", &mut m).is_err());
}

// ------------------------------------------------------------------ cluster --

/// The webhook configurations of the test (deleted on drop, also when the test panics).
struct Webhooks(String);

impl Drop for Webhooks {
    fn drop(&mut self) {
        let name = self.0.clone();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let Ok((config, _)) = testkit::load_config().await else {
                    return;
                };
                let Ok(client) = Client::try_from(config) else {
                    return;
                };
                let dp = DeleteParams::default();
                let _ = Api::<ValidatingWebhookConfiguration>::all(client.clone())
                    .delete(&name, &dp)
                    .await;
                let _ = Api::<MutatingWebhookConfiguration>::all(client)
                    .delete(&name, &dp)
                    .await;
            });
        })
        .join();
    }
}

fn webhook_entry(name: &str, url: String, resource: &str, namespaces: &[String]) -> Value {
    json!({
        "name": name,
        "clientConfig": {"url": url},
        "rules": [{"apiGroups": ["openclaw.rocks"], "apiVersions": ["v1alpha1"],
                   "operations": ["CREATE", "UPDATE"], "resources": [resource]}],
        "failurePolicy": "Fail",
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
        "timeoutSeconds": 10,
        "namespaceSelector": {"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": namespaces}]},
    })
}

/// Registers the operator's four webhooks for `namespaces` (the operator patches in its CA).
async fn register_webhooks(client: &Client, name: &str, port: u16, namespaces: &[String]) {
    let url = |path: &str| format!("https://127.0.0.1:{port}{path}");
    let pp = PatchParams::apply(FIELD_MANAGER).force();
    let validating: ValidatingWebhookConfiguration = serde_json::from_value(json!({
        "metadata": {"name": name},
        "webhooks": [
            webhook_entry("vopenclawinstance.openclaw.rocks", url(VALIDATE_INSTANCE_PATH), "openclawinstances", namespaces),
            webhook_entry("vopenclawselfconfig.openclaw.rocks", url(VALIDATE_SELF_CONFIG_PATH), "openclawselfconfigs", namespaces),
        ],
    }))
    .unwrap();
    let mutating: MutatingWebhookConfiguration = serde_json::from_value(json!({
        "metadata": {"name": name},
        "webhooks": [
            webhook_entry("mopenclawinstance.openclaw.rocks", url(MUTATE_INSTANCE_PATH), "openclawinstances", namespaces),
            webhook_entry("mopenclawselfconfig.openclaw.rocks", url(MUTATE_SELF_CONFIG_PATH), "openclawselfconfigs", namespaces),
        ],
    }))
    .unwrap();
    Api::<ValidatingWebhookConfiguration>::all(client.clone())
        .patch(name, &pp, &Patch::Apply(&validating))
        .await
        .expect("validating webhook configuration");
    Api::<MutatingWebhookConfiguration>::all(client.clone())
        .patch(name, &pp, &Patch::Apply(&mutating))
        .await
        .expect("mutating webhook configuration");
}

/// Waits until the API server calls the operator's webhooks in `ns`: a bad instance is denied
/// and a self-config request gets its requester recorded (dry runs).
async fn wait_webhooks(client: &Client, ns: &str, op: &OperatorProcess) {
    let ar = |kind: &str, plural: &str| {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("openclaw.rocks", "v1alpha1", kind),
            plural,
        )
    };
    let instances: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &ar("OpenClawInstance", "openclawinstances"),
    );
    let requests: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &ar("OpenClawSelfConfig", "openclawselfconfigs"),
    );
    let bad: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "openclaw.rocks/v1alpha1", "kind": "OpenClawInstance",
        "metadata": {"name": "webhook-probe"}, "spec": {"skills": ["not a skill!"]}}))
    .unwrap();
    let probe: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "openclaw.rocks/v1alpha1", "kind": "OpenClawSelfConfig",
        "metadata": {"name": "webhook-probe"}, "spec": {"instanceRef": "x", "addSkills": ["a"]}}))
    .unwrap();
    let dry = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let start = Instant::now();
    loop {
        let denied = matches!(instances.create(&dry, &bad).await,
            Err(kube::Error::Api(s)) if s.message.contains("denied the request"));
        let mutated = requests.create(&dry, &probe).await.is_ok_and(|o| {
            o.annotations()
                .contains_key(openclaw_api::selfconfig::REQUESTED_BY_ANNOTATION)
        });
        if denied && mutated {
            return;
        }
        assert!(
            start.elapsed() < SETUP_TIMEOUT,
            "the operator's webhooks never answered (denied: {denied}, mutated: {mutated})\n{}",
            op.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

struct Ctx {
    client: Client,
    discovery: Discovery,
    operator_ns: String,
}

impl Ctx {
    fn resource(&self, api_version: &str, kind: &str) -> Option<(ApiResource, Scope)> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.discovery
            .resolve_gvk(&GroupVersionKind::gvk(group, version, kind))
            .map(|(ar, caps)| (ar, caps.scope))
    }

    /// The resource of a kind by its name alone (for `exists=`), the preferred version.
    fn resource_of_kind(&self, kind: &str) -> Option<ApiResource> {
        self.discovery.groups().find_map(|g| {
            g.recommended_resources()
                .into_iter()
                .find(|(ar, _)| ar.kind == kind)
                .map(|(ar, _)| ar)
        })
    }

    fn api(&self, ar: &ApiResource, ns: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), ns, ar)
    }
}

/// Placeholder keys of the Secrets the docs have the reader create (API keys, the web
/// terminal's login, the Tailscale auth key).
fn placeholder_secret(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
        "stringData": {"ANTHROPIC_API_KEY": "placeholder", "username": "placeholder",
            "password": "placeholder", "authkey": "placeholder"}})
}

/// `phase` and `conditions` of an object's status, for messages.
fn describe_status(obj: Option<&DynamicObject>) -> String {
    let Some(obj) = obj else {
        return "not found".into();
    };
    let status = obj.data.get("status").cloned().unwrap_or(Value::Null);
    let mut s = format!(
        "phase={}",
        status
            .get("phase")
            .and_then(Value::as_str)
            .unwrap_or("<none>")
    );
    if let Some(m) = status.get("message").and_then(Value::as_str) {
        let _ = write!(s, ", message={m:?}");
    }
    for c in status
        .get("conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let _ = write!(
            s,
            "\n      {}={} {}: {}",
            c["type"].as_str().unwrap_or("?"),
            c["status"].as_str().unwrap_or("?"),
            c["reason"].as_str().unwrap_or(""),
            c["message"].as_str().unwrap_or("")
        );
    }
    s
}

fn condition_holds(obj: &DynamicObject, type_: &str, status: &str) -> bool {
    obj.data["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == type_ && c["status"] == status)
}

/// Applies one example into `ns` and waits for its claimed state; the summary line or the
/// failure.
async fn run_example(
    ctx: &Ctx,
    ns: &str,
    page_secrets: &BTreeSet<String>,
    ex: &Example,
) -> Result<String, String> {
    let mut value = ex.value.clone();
    let api_version = value["apiVersion"].as_str().unwrap_or_default().to_string();
    let kind = value["kind"].as_str().unwrap_or_default().to_string();
    let fail = |what: String| format!("{}: {kind}: {what}", ex.source);
    let openclaw = api_version.starts_with("openclaw.rocks/");

    // `openclaw-operator validate`, in process.
    let mut warnings = Vec::new();
    if openclaw {
        let reports = openclaw_operator::cli::validate_yaml(&ex.source, &value.to_string())
            .map_err(|e| fail(format!("openclaw-operator validate: {e}")))?;
        for r in reports {
            if !r.findings.errors.is_empty() {
                return Err(fail(format!(
                    "openclaw-operator validate finds errors: {:?}",
                    r.findings.errors
                )));
            }
            warnings.extend(r.findings.warnings);
        }
    }
    if ex.block_checks {
        for c in &ex.expect {
            if let Check::Warns(w) = c
                && !warnings.iter().any(|x| x.contains(w.as_str()))
            {
                return Err(fail(format!(
                    "the page says it warns {w:?}; validate warns {warnings:?}"
                )));
            }
        }
    }

    let (ar, scope) = ctx.resource(&api_version, &kind).ok_or_else(|| {
        fail(format!(
            "{api_version} {kind} is not served by the cluster (a third-party CRD the test does \
             not install?): mark the block `<!-- example: skip REASON -->` or install it"
        ))
    })?;
    if matches!(scope, Scope::Cluster) {
        // The cluster is shared: a cluster-wide object is only dry-run (validated by the API
        // server, its CEL rules and admission, nothing stored), and can claim no state.
        if ex.expect.iter().any(|c| !matches!(c, Check::Warns(_))) {
            return Err(fail(
                "cluster-scoped objects are applied as a server-side dry run only: they can \
                 claim no phase, condition or object"
                    .into(),
            ));
        }
        let name = value["metadata"]["name"].as_str().unwrap_or_default();
        let obj: DynamicObject = serde_json::from_value(value.clone())
            .map_err(|e| fail(format!("not an object: {e}")))?;
        Api::<DynamicObject>::all_with(ctx.client.clone(), &ar)
            .patch(
                name,
                &PatchParams::apply(FIELD_MANAGER).force().dry_run(),
                &Patch::Apply(&obj),
            )
            .await
            .map_err(|e| fail(format!("the server-side dry run failed: {e}")))?;
        return Ok(format!(
            "{kind}/{name}: accepted (cluster-scoped: server-side dry run)"
        ));
    }
    let target_ns = match value["metadata"]["namespace"].as_str() {
        Some(DOCS_OPERATOR_NAMESPACE) => ctx.operator_ns.clone(),
        _ => ns.to_string(),
    };
    value["metadata"]["namespace"] = json!(target_ns);

    // Placeholders for Secrets the instance references and the page does not define.
    let mut placeholders = Vec::new();
    if kind == "OpenClawInstance" {
        let instance: OpenClawInstance = serde_json::from_value(value.clone())
            .map_err(|e| fail(format!("not an OpenClawInstance: {e}")))?;
        let own_token = instance
            .spec
            .gateway
            .as_ref()
            .and_then(|g| g.existing_secret.as_deref())
            .is_none_or(str::is_empty)
            .then(|| observe::gateway_secret_name(&instance));
        let secrets: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(ctx.client.clone(), &target_ns);
        for name in observe::referenced_secrets(&instance, &instance.spec) {
            if Some(&name) == own_token.as_ref() || page_secrets.contains(&name) {
                continue;
            }
            let secret: k8s_openapi::api::core::v1::Secret =
                serde_json::from_value(placeholder_secret(&name)).unwrap();
            secrets
                .patch(
                    &name,
                    &PatchParams::apply(FIELD_MANAGER).force(),
                    &Patch::Apply(&secret),
                )
                .await
                .map_err(|e| fail(format!("placeholder Secret {name}: {e}")))?;
            placeholders.push(name);
        }
    }

    let api = ctx.api(&ar, &target_ns);
    let name = match value["metadata"]["name"].as_str() {
        Some(name) => {
            let obj: DynamicObject = serde_json::from_value(value.clone())
                .map_err(|e| fail(format!("not an object: {e}")))?;
            api.patch(
                name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&obj),
            )
            .await
            .map_err(|e| fail(format!("applying it failed: {e}")))?;
            name.to_string()
        }
        None if value["metadata"]["generateName"].is_string() => {
            let obj: DynamicObject = serde_json::from_value(value.clone())
                .map_err(|e| fail(format!("not an object: {e}")))?;
            api.create(&PostParams::default(), &obj)
                .await
                .map_err(|e| fail(format!("creating it failed: {e}")))?
                .name_any()
        }
        None => return Err(fail("no metadata.name or generateName".into())),
    };
    let label = format!("{kind}/{name}");
    let fail = |what: String| format!("{}: {label}: {what}", ex.source);

    // The claimed state.
    let mut checks: Vec<Check> = Vec::new();
    let has_phase = matches!(kind.as_str(), "OpenClawInstance" | "OpenClawSelfConfig");
    if has_phase {
        let explicit = ex.expect.iter().any(|c| matches!(c, Check::Phase(_)));
        if !explicit {
            let default = if kind == "OpenClawInstance" {
                "Running"
            } else {
                "Applied"
            };
            checks.push(Check::Phase(default.into()));
        }
        checks.extend(
            ex.expect
                .iter()
                .filter(|c| matches!(c, Check::Phase(_) | Check::Condition(..)))
                .cloned(),
        );
    }
    if ex.block_checks {
        checks.extend(
            ex.expect
                .iter()
                .filter(|c| matches!(c, Check::Exists(..)))
                .cloned(),
        );
    }
    let start = Instant::now();
    loop {
        let obj = api.get_opt(&name).await.ok().flatten();
        let mut pending = Vec::new();
        for c in &checks {
            let ok = match c {
                Check::Phase(p) => obj
                    .as_ref()
                    .is_some_and(|o| o.data["status"]["phase"].as_str() == Some(p.as_str())),
                Check::Condition(t, s) => obj.as_ref().is_some_and(|o| condition_holds(o, t, s)),
                Check::Exists(k, n) => match ctx.resource_of_kind(k) {
                    Some(ar) => ctx
                        .api(&ar, &target_ns)
                        .get_opt(n)
                        .await
                        .ok()
                        .flatten()
                        .is_some(),
                    None => return Err(fail(format!("exists={k}/{n}: no such kind"))),
                },
                Check::Warns(_) => true,
            };
            if !ok {
                pending.push(c.to_string());
            }
        }
        if pending.is_empty() {
            let mut summary = label.clone();
            if !checks.is_empty() {
                let _ = write!(
                    summary,
                    ": {}",
                    checks
                        .iter()
                        .map(Check::to_string)
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            } else {
                summary.push_str(": accepted");
            }
            let warns: Vec<String> = ex
                .expect
                .iter()
                .filter(|c| ex.block_checks && matches!(c, Check::Warns(_)))
                .map(Check::to_string)
                .collect();
            if !warns.is_empty() {
                let _ = write!(summary, " {}", warns.join(" "));
            }
            if !placeholders.is_empty() {
                let _ = write!(
                    summary,
                    " (placeholder Secrets: {})",
                    placeholders.join(", ")
                );
            }
            return Ok(summary);
        }
        if start.elapsed() > EXAMPLE_TIMEOUT {
            return Err(fail(format!(
                "not {} after {:?}; last seen: {}",
                pending.join(" "),
                EXAMPLE_TIMEOUT,
                describe_status(obj.as_ref())
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// kwok never ends the pods of the operator's backup and restore Jobs (the backup tests' kubelet
/// stand-in does), so the Job controller never drops their `batch.kubernetes.io/job-tracking`
/// finalizer and the namespace would hang in Terminating: drop it here.
async fn release_job_pods(client: &Client, ns: &str) {
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), ns);
    let lp = kube::api::ListParams::default().labels("openclaw.rocks/job-type");
    for pod in pods.list(&lp).await.map(|l| l.items).unwrap_or_default() {
        let _ = pods
            .patch(
                &pod.name_any(),
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await;
    }
}

/// The examples of one page, in order, in its namespace; `(summaries, failures)`.
async fn run_page(ctx: &Ctx, ns: &str, examples: &[Example]) -> (Vec<String>, Vec<String>) {
    let page_secrets: BTreeSet<String> = examples
        .iter()
        .filter(|e| e.value["kind"] == "Secret" && e.value["apiVersion"] == "v1")
        .filter_map(|e| e.value["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for ex in examples {
        match run_example(ctx, ns, &page_secrets, ex).await {
            Ok(s) => ok.push(s),
            Err(e) => failed.push(e),
        }
    }
    (ok, failed)
}

#[tokio::test]
async fn every_example_in_the_docs_reaches_its_claimed_state() {
    let (pages, problems) = scan();
    let total: usize = pages.iter().map(|p| p.examples.len()).sum();
    // The scan itself needs no cluster: fail early on unmarked problems.
    assert!(
        problems.is_empty(),
        "examples in the docs that cannot be applied (see the header of {}):\n  {}",
        file!(),
        problems.join("\n  ")
    );
    assert!(total >= 5, "the scan found only {total} examples");

    let Some(cluster) = testkit::cluster().await else {
        return;
    };
    let started = Instant::now();
    let client = cluster.client();
    cluster
        .install_crds(&crd::all(), SETUP_TIMEOUT)
        .await
        .expect("CRDs");
    // ServiceMonitor, PrometheusRule, Middleware, HTTPRoute, for examples that switch them on.
    match testkit::third_party::install(client.clone(), SETUP_TIMEOUT).await {
        Ok(true) => {}
        Ok(false) => eprintln!("third-party CRDs unavailable: examples that need them fail"),
        Err(e) => panic!("third-party CRDs: {e}"),
    }
    let operator_ns = cluster.namespace("docs-operator").await.expect("namespace");
    let mut namespaces: Vec<(usize, TestNamespace)> = Vec::new();
    for (n, page) in pages.iter().enumerate() {
        if page.examples.is_empty() {
            continue;
        }
        let stem = Path::new(&page.file)
            .file_stem()
            .map(|s| s.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let ns = cluster
            .namespace(&format!("docs-{stem}"))
            .await
            .expect("namespace");
        namespaces.push((n, ns));
    }
    let names: Vec<String> = namespaces
        .iter()
        .map(|(_, ns)| ns.name().to_string())
        .collect();

    // One operator process for all pages, with its webhooks.
    let port = testkit::process::free_port().expect("port");
    let config_name = format!("docs-examples-{}", operator_ns.name());
    let args = [
        format!("--watch-namespaces={}", names.join(",")),
        format!("--webhook-bind-address=127.0.0.1:{port}"),
        "--webhook-self-signed-secret=webhook-cert".to_string(),
        format!("--webhook-configuration={config_name}"),
        "--webhook-cert-host=127.0.0.1".to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let binary = Path::new(env!("CARGO_BIN_EXE_openclaw-operator"));
    let op = OperatorProcess::start(
        binary,
        &format!("{}-op", operator_ns.name()),
        &args,
        &[("POD_NAMESPACE", operator_ns.name())],
    )
    .expect("operator started");
    let webhooks = Webhooks(config_name.clone());
    register_webhooks(&client, &config_name, port, &names).await;
    wait_webhooks(&client, &names[0], &op).await;
    let ctx = Ctx {
        discovery: Discovery::new(client.clone())
            .run()
            .await
            .expect("discovery"),
        client: client.clone(),
        operator_ns: operator_ns.name().to_string(),
    };
    let setup = started.elapsed();

    let runs = namespaces.iter().map(|(n, ns)| {
        let ctx = &ctx;
        let examples = &pages[*n].examples;
        async move { (*n, run_page(ctx, ns.name(), examples).await) }
    });
    let results: BTreeMap<usize, (Vec<String>, Vec<String>)> =
        futures::future::join_all(runs).await.into_iter().collect();

    let mut report = String::new();
    let mut failures = Vec::new();
    for (
        n,
        Page {
            file,
            examples,
            stats,
        },
    ) in pages.iter().enumerate()
    {
        if examples.is_empty()
            && stats.skipped.is_empty()
            && stats.snippets == 0
            && stats.fragments == 0
        {
            continue;
        }
        let _ = writeln!(
            report,
            "{file}: {} applied, {} skipped, {} spec fragments validated offline, {} other snippets",
            stats.applied,
            stats.skipped.len(),
            stats.fragments,
            stats.snippets
        );
        if let Some((ok, failed)) = results.get(&n) {
            for s in ok {
                let _ = writeln!(report, "    ok   {s}");
            }
            for f in failed {
                let _ = writeln!(report, "    FAIL {f}");
            }
            failures.extend(failed.iter().cloned());
        }
        for s in &stats.skipped {
            let _ = writeln!(report, "    skip {s}");
        }
    }
    let _ = writeln!(
        report,
        "{total} examples in {} pages; setup {setup:.1?}, total {:.1?}",
        namespaces.len(),
        started.elapsed()
    );
    eprintln!("{report}");

    let log = op.log();
    drop(op);
    drop(webhooks);
    for (_, ns) in namespaces {
        release_job_pods(&client, ns.name()).await;
        ns.cleanup().await.expect("cleanup");
    }
    operator_ns.cleanup().await.expect("cleanup");
    assert!(
        failures.is_empty(),
        "{} example(s) in the docs did not reach their claimed state:\n{}\n\n{report}\n\
         last lines of the operator log:\n{}",
        failures.len(),
        failures.join("\n"),
        log.lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
