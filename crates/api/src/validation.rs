//! Admission checks as pure functions.
//!
//! The same checks back the `validate` CLI command, the controller (an invalid spec sets a
//! condition instead of rolling anything out) and the admission webhook. Unlike the Go operator,
//! every error is reported (not only the first) and warnings are kept alongside errors.

use std::collections::BTreeSet;

use crate::instance::{OpenClawInstance, OpenClawInstanceSpec, RESERVED_INIT_CONTAINER_NAMES};
use crate::selfconfig::OpenClawSelfConfig;
use crate::units::{is_quantity, parse_go_duration};

/// Outcome of the admission checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    /// Reasons to reject the object.
    pub errors: Vec<String>,
    /// Advice that does not block admission.
    pub warnings: Vec<String>,
}

impl Findings {
    /// No errors (warnings allowed).
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    fn error(&mut self, message: impl Into<String>) {
        self.errors.push(message.into());
    }

    fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(message.into());
    }
}

/// Environment variable names of AI providers; one of them (or any Secret reference) silences the
/// "no provider keys" warning.
pub const KNOWN_PROVIDER_KEYS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "GOOGLE_AI_API_KEY",
    "GOOGLE_AI_STUDIO_API_KEY",
    "GEMINI_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "AWS_ACCESS_KEY_ID",
    "MISTRAL_API_KEY",
    "COHERE_API_KEY",
    "TOGETHER_API_KEY",
    "GROQ_API_KEY",
    "FIREWORKS_API_KEY",
    "DEEPSEEK_API_KEY",
    "OPENROUTER_API_KEY",
    "XAI_API_KEY",
];

/// Top-level keys of `openclaw.json` as OpenClaw itself defines them.
///
/// Source: the JSON Schema printed by `openclaw config schema` of OpenClaw 2026.9.6 (the version
/// the operator targets by default), whose root object is strict. The Go operator checked
/// against a list of six keys (`mcpServers`, `skills`, `apiKeys`, ...) that OpenClaw never had,
/// so it warned on every real config (`gateway`, `agents`, `channels`, ...).
pub const OPENCLAW_TOP_LEVEL_KEYS: &[&str] = &[
    "$schema",
    "meta",
    "env",
    "wizard",
    "diagnostics",
    "logging",
    "update",
    "telemetry",
    "browser",
    "ui",
    "secrets",
    "auth",
    "accessGroups",
    "acp",
    "models",
    "nodeHost",
    "agents",
    "worktreeRoot",
    "worktreeAcceleration",
    "tools",
    "security",
    "bindings",
    "broadcast",
    "attachments",
    "messages",
    "tts",
    "commands",
    "approvals",
    "session",
    "cron",
    "transcripts",
    "hooks",
    "channels",
    "discovery",
    "talk",
    "gateway",
    "cloudWorkers",
    "desktop",
    "memory",
    "mcp",
    "skills",
    "plugins",
    "surfaces",
    "proxy",
];

/// Environment variables the operator sets itself; self-config requests may not touch them.
pub const PROTECTED_ENV_VARS: &[&str] = &[
    "HOME",
    "PATH",
    "NODE_PATH",
    "NODE_EXTRA_CA_CERTS",
    "NPM_CONFIG_CACHE",
    "NPM_CONFIG_IGNORE_SCRIPTS",
    "OPENCLAW_DISABLE_BONJOUR",
    "OPENCLAW_GATEWAY_TOKEN",
    "OPENCLAW_INSTANCE_NAME",
    "OPENCLAW_NAMESPACE",
    "OPENCLAW_CHROMIUM_CDP",
    "CHROMIUM_URL",
    "OLLAMA_HOST",
    "TS_AUTHKEY",
    "TS_HOSTNAME",
    "TS_SOCKET",
];

const MAX_NAME: usize = 253;

/// Check a workspace file path given in `initialFiles` (nested paths allowed).
pub fn check_workspace_file_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("path must not be empty".into());
    }
    if path.len() > MAX_NAME {
        return Err(format!("path must be at most {MAX_NAME} characters"));
    }
    if path.contains('\\') {
        return Err("path must not contain '\\'".into());
    }
    if path.starts_with('/') {
        return Err("path must not be absolute".into());
    }
    if path.ends_with('/') {
        return Err("path must not end with '/'".into());
    }
    if path == "openclaw.json" {
        return Err("path 'openclaw.json' is reserved for config".into());
    }
    for segment in path.split('/') {
        if segment.is_empty() {
            return Err("path must not contain empty segments".into());
        }
        if segment.contains("..") {
            return Err(format!("path segment {segment:?} must not contain '..'"));
        }
        if segment.starts_with('.') {
            return Err(format!("path segment {segment:?} must not start with '.'"));
        }
    }
    Ok(())
}

/// Check a workspace file name taken from a ConfigMap key (no directories).
pub fn check_workspace_filename(name: &str) -> Result<(), String> {
    if name.contains('/') {
        return Err(format!("file name {name:?} must not contain '/'"));
    }
    check_workspace_file_path(name).map_err(|e| format!("file name {name:?}: {e}"))
}

/// Check a workspace directory given in `initialDirectories`.
pub fn check_workspace_directory(dir: &str) -> Result<(), String> {
    if dir.is_empty() {
        return Err("directory must not be empty".into());
    }
    if dir.len() > MAX_NAME {
        return Err(format!("directory must be at most {MAX_NAME} characters"));
    }
    if dir.contains('\\') {
        return Err("directory must not contain '\\'".into());
    }
    if dir.contains("..") {
        return Err("directory must not contain '..'".into());
    }
    if dir.starts_with('/') {
        return Err("directory must not be absolute".into());
    }
    Ok(())
}

fn name_chars_ok(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '/' | '.' | '@')
}

/// Check one skill reference: a ClawHub slug, `npm:<package>` or `pack:owner/repo/path[@ref]`.
pub fn check_skill(skill: &str) -> Result<(), String> {
    check_reference(skill, true)
}

/// Check one plugin reference: a package name with an optional `npm:` prefix.
pub fn check_plugin(plugin: &str) -> Result<(), String> {
    check_reference(plugin, false)
}

/// A skill pack reference `pack:owner/repo/path[@ref]`: the directory `path` of the GitHub
/// repository `owner/repo`, at `ref` (the default branch when absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackRef {
    /// Repository owner.
    pub owner: String,
    /// Repository name.
    pub repo: String,
    /// Directory inside the repository (may contain `/`).
    pub path: String,
    /// Branch, tag or commit, when given.
    pub reference: Option<String>,
}

/// Parse a skill pack reference, with or without its `pack:` prefix: `owner/repo/path[@ref]`.
/// The last `@` that is not the first character splits off the ref; owner, repo and path are
/// required, and the path may have several segments. No segment may be empty, `.` or `..`.
pub fn parse_pack(value: &str) -> Result<PackRef, String> {
    let rest = value.strip_prefix("pack:").unwrap_or(value);
    if rest.is_empty() {
        return Err("pack: prefix requires an owner/repo/path[@ref] reference".into());
    }
    let (body, reference) = match rest.rfind('@').filter(|&i| i > 0) {
        Some(i) => {
            let r = &rest[i + 1..];
            if r.is_empty() {
                return Err("pack reference has an empty ref after '@'".into());
            }
            (&rest[..i], Some(r))
        }
        None => (rest, None),
    };
    if let Some(c) = rest.chars().find(|c| !name_chars_ok(*c)) {
        return Err(format!(
            "invalid character {c:?} (allowed: letters, digits, '-', '_', '/', '.', '@')"
        ));
    }
    let segments: Vec<&str> = body.split('/').collect();
    if segments.len() < 3 {
        return Err("pack reference must be owner/repo/path[@ref]".into());
    }
    if let Some(bad) = segments
        .iter()
        .find(|s| s.is_empty() || **s == "." || **s == "..")
    {
        return Err(format!(
            "pack reference has an invalid path segment {bad:?} (empty, '.' or '..')"
        ));
    }
    for (what, name) in [("owner", segments[0]), ("repo", segments[1])] {
        if name.contains('@') {
            return Err(format!(
                "pack reference {what} {name:?} must not contain '@'"
            ));
        }
    }
    if let Some(r) = reference
        && r.contains('/')
        && r.split('/').any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(format!("pack reference has an invalid ref {r:?}"));
    }
    Ok(PackRef {
        owner: segments[0].to_string(),
        repo: segments[1].to_string(),
        path: segments[2..].join("/"),
        reference: reference.map(str::to_string),
    })
}

fn check_reference(value: &str, allow_pack: bool) -> Result<(), String> {
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    if value.chars().count() > 128 {
        return Err("must be at most 128 characters".into());
    }
    if allow_pack && value.starts_with("pack:") {
        return parse_pack(value).map(|_| ());
    }
    let rest = if let Some(rest) = value.strip_prefix("npm:") {
        if rest.is_empty() {
            return Err("npm: prefix requires a package name".into());
        }
        rest
    } else {
        value
    };
    match rest.chars().find(|c| !name_chars_ok(*c)) {
        Some(c) => Err(format!(
            "invalid character {c:?} (allowed: letters, digits, '-', '_', '/', '.', '@')"
        )),
        None => Ok(()),
    }
}

fn check_duration(findings: &mut Findings, path: &str, value: &str, min: f64, max: f64) {
    if value.is_empty() {
        return;
    }
    match parse_go_duration(value) {
        Err(e) => findings.error(format!("{path}: {e}")),
        Ok(secs) if secs < min => findings.error(format!(
            "{path} {value:?} must be at least {}",
            human_duration(min)
        )),
        Ok(secs) if secs > max => findings.error(format!(
            "{path} {value:?} must be at most {}",
            human_duration(max)
        )),
        Ok(_) => {}
    }
}

fn human_duration(secs: f64) -> String {
    if secs >= 3600.0 {
        format!("{}h", secs / 3600.0)
    } else {
        format!("{}m", secs / 60.0)
    }
}

fn check_quantity(findings: &mut Findings, path: &str, value: Option<&String>) {
    if let Some(v) = value.filter(|v| !v.is_empty())
        && !is_quantity(v)
    {
        findings.error(format!(
            "{path} {v:?} is not a valid Kubernetes quantity (e.g. 500m, 1Gi)"
        ));
    }
}

fn check_resources(findings: &mut Findings, path: &str, res: Option<&crate::ResourcesSpec>) {
    let Some(res) = res else { return };
    for (kind, list) in [("requests", &res.requests), ("limits", &res.limits)] {
        if let Some(list) = list {
            check_quantity(findings, &format!("{path}.{kind}.cpu"), list.cpu.as_ref());
            check_quantity(
                findings,
                &format!("{path}.{kind}.memory"),
                list.memory.as_ref(),
            );
        }
    }
}

fn is_true(v: Option<bool>) -> bool {
    v == Some(true)
}

fn is_false(v: Option<bool>) -> bool {
    v == Some(false)
}

fn no_digest(digest: Option<&String>) -> bool {
    digest.is_none_or(|d| d.is_empty())
}

/// Validate an OpenClawInstance; `old` is the stored object on update.
pub fn validate(instance: &OpenClawInstance, old: Option<&OpenClawInstance>) -> Findings {
    let mut f = validate_spec(&instance.spec);
    if let Some(old) = old {
        let class = |i: &OpenClawInstance| {
            i.spec
                .storage
                .as_ref()
                .and_then(|s| s.persistence.as_ref())
                .and_then(|p| p.storage_class.clone())
        };
        if let (Some(new), Some(was)) = (class(instance), class(old))
            && new != was
        {
            f.error(format!(
                "spec.storage.persistence.storageClass is immutable after creation (was {was:?}, now {new:?})"
            ));
        }
    }
    f
}

/// Validate an instance spec (create checks only).
pub fn validate_spec(spec: &OpenClawInstanceSpec) -> Findings {
    let mut f = Findings::default();
    check_security(&mut f, spec);
    check_networking(&mut f, spec);
    check_sidecars(&mut f, spec);
    check_provider_keys(&mut f, spec);
    check_image(&mut f, spec);
    if let Some(ws) = &spec.workspace {
        check_workspace(&mut f, ws);
    }
    check_all_quantities(&mut f, spec);
    check_auto_update(&mut f, spec);
    for (i, skill) in spec.skills.iter().flatten().enumerate() {
        if let Err(e) = check_skill(skill) {
            f.error(format!("skills[{i}] {skill:?}: {e}"));
        }
    }
    for (i, plugin) in spec.plugins.iter().flatten().enumerate() {
        if let Err(e) = check_plugin(plugin) {
            f.error(format!("plugins[{i}] {plugin:?}: {e}"));
        }
    }
    check_config(&mut f, spec);
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        if c.name.is_empty() {
            f.error(format!(
                "initContainers[{i}]: container name must not be empty"
            ));
        } else if RESERVED_INIT_CONTAINER_NAMES.contains(&c.name.as_str()) {
            f.error(format!(
                "initContainers[{i}]: name {:?} is reserved for operator-managed init containers",
                c.name
            ));
        }
    }
    check_availability(&mut f, spec);
    check_backup(&mut f, spec);
    f
}

fn check_security(f: &mut Findings, spec: &OpenClawInstanceSpec) {
    let Some(sec) = &spec.security else { return };
    if let Some(psc) = &sec.pod_security_context {
        if psc.run_as_user == Some(0) {
            f.error("spec.security.podSecurityContext.runAsUser: running as root (UID 0) is not allowed");
        }
        if is_false(psc.run_as_non_root) {
            f.warn("spec.security.podSecurityContext.runAsNonRoot is false, which allows running as root: a security risk");
        }
    }
    if let Some(csc) = &sec.container_security_context {
        if is_true(csc.allow_privilege_escalation) {
            f.warn("spec.security.containerSecurityContext.allowPrivilegeEscalation is enabled: a security risk");
        }
        if is_false(csc.read_only_root_filesystem) {
            f.warn("spec.security.containerSecurityContext.readOnlyRootFilesystem is disabled; consider enabling it (the data volume and /tmp stay writable)");
        }
    }
    if sec
        .network_policy
        .as_ref()
        .is_some_and(|np| is_false(np.enabled))
    {
        f.warn("spec.security.networkPolicy.enabled is false: NetworkPolicy disabled, the instance has unrestricted network access");
    }
    if let Some(ca) = &sec.ca_bundle {
        let cm = ca.config_map_name.as_deref().is_some_and(|s| !s.is_empty());
        let secret = ca.secret_name.as_deref().is_some_and(|s| !s.is_empty());
        match (cm, secret) {
            (true, true) => {
                f.error("spec.security.caBundle: set only one of configMapName and secretName")
            }
            (false, false) => {
                f.error("spec.security.caBundle: one of configMapName or secretName must be set")
            }
            _ => {}
        }
    }
}

fn check_networking(f: &mut Findings, spec: &OpenClawInstanceSpec) {
    let Some(ingress) = spec.networking.as_ref().and_then(|n| n.ingress.as_ref()) else {
        return;
    };
    if !is_true(ingress.enabled) {
        return;
    }
    if ingress.tls.as_ref().is_none_or(|t| t.is_empty()) {
        f.warn("spec.networking.ingress has no TLS: traffic to the gateway is unencrypted");
    }
    if ingress
        .security
        .as_ref()
        .is_some_and(|s| is_false(s.force_https))
    {
        f.warn("spec.networking.ingress.security.forceHTTPS is disabled; consider enabling it");
    }
}

fn check_sidecars(f: &mut Findings, spec: &OpenClawInstanceSpec) {
    if let Some(c) = spec.chromium.as_ref().filter(|c| is_true(c.enabled))
        && no_digest(c.image.as_ref().and_then(|i| i.digest.as_ref()))
    {
        f.warn("Chromium sidecar image is not pinned by digest (supply-chain risk); set spec.chromium.image.digest");
    }
    if let Some(o) = spec.ollama.as_ref().filter(|o| is_true(o.enabled)) {
        if no_digest(o.image.as_ref().and_then(|i| i.digest.as_ref())) {
            f.warn("Ollama sidecar image is not pinned by digest (supply-chain risk); set spec.ollama.image.digest");
        }
        f.warn("Ollama sidecar runs as root (UID 0), as its image requires");
    }
    if let Some(w) = spec.web_terminal.as_ref().filter(|w| is_true(w.enabled))
        && no_digest(w.image.as_ref().and_then(|i| i.digest.as_ref()))
    {
        f.warn("Web terminal sidecar image is not pinned by digest (supply-chain risk); set spec.webTerminal.image.digest");
    }
}

fn check_provider_keys(f: &mut Findings, spec: &OpenClawInstanceSpec) {
    if spec.env_from.as_ref().is_some_and(|e| !e.is_empty()) {
        return;
    }
    let found = spec.env.iter().flatten().any(|e| {
        KNOWN_PROVIDER_KEYS.contains(&e.name.as_str())
            || e.value_from
                .as_ref()
                .is_some_and(|v| v.secret_key_ref.is_some())
    });
    if !found {
        f.warn(format!(
            "No AI provider API keys detected; provide them with spec.envFrom or spec.env (e.g. {})",
            KNOWN_PROVIDER_KEYS[..4].join(", ")
        ));
    }
}

fn check_image(f: &mut Findings, spec: &OpenClawInstanceSpec) {
    let image = spec.image.as_ref();
    let digest = image.and_then(|i| i.digest.as_ref());
    let tag = image
        .and_then(|i| i.tag.as_deref())
        .unwrap_or(crate::DEFAULT_IMAGE_TAG);
    if no_digest(digest) && tag == "latest" {
        f.warn("spec.image.tag \"latest\" is mutable; pin a version tag or a digest");
    }
    if let Some(image) = image
        && image.tag.as_deref() == Some("")
        && no_digest(digest)
    {
        f.error("spec.image: one of tag or digest must be set (pinning to an empty tag is not supported, pick a specific upstream release tag or a digest)");
    }
}

fn check_workspace(f: &mut Findings, ws: &crate::WorkspaceSpec) {
    if let Some(r) = &ws.config_map_ref
        && r.name.is_empty()
    {
        f.error("workspace.configMapRef.name must not be empty");
    }
    for key in ws.initial_files.iter().flat_map(|m| m.keys()) {
        if let Err(e) = check_workspace_file_path(key) {
            f.error(format!("workspace initialFiles key {key:?}: {e}"));
        }
    }
    for dir in ws.initial_directories.iter().flatten() {
        if let Err(e) = check_workspace_directory(dir) {
            f.error(format!("workspace initialDirectories {dir:?}: {e}"));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, aw) in ws.additional_workspaces.iter().flatten().enumerate() {
        let n = &aw.name;
        if n.is_empty() {
            f.error(format!("additionalWorkspaces[{i}]: name must not be empty"));
        } else if !is_workspace_name(n) {
            f.error(format!(
                "additionalWorkspaces[{i}] {n:?}: name must be lowercase letters and digits separated by single hyphens"
            ));
        }
        if !seen.insert(n.as_str()) {
            f.error(format!(
                "additionalWorkspaces[{i}] {n:?}: name is duplicated"
            ));
        }
        if let Some(r) = &aw.config_map_ref
            && r.name.is_empty()
        {
            f.error(format!(
                "additionalWorkspaces[{i}] {n:?}: configMapRef.name must not be empty"
            ));
        }
        for key in aw.initial_files.iter().flat_map(|m| m.keys()) {
            if let Err(e) = check_workspace_file_path(key) {
                f.error(format!(
                    "additionalWorkspaces[{i}] {n:?} initialFiles key {key:?}: {e}"
                ));
            }
        }
        for dir in aw.initial_directories.iter().flatten() {
            if let Err(e) = check_workspace_directory(dir) {
                f.error(format!(
                    "additionalWorkspaces[{i}] {n:?} initialDirectories {dir:?}: {e}"
                ));
            }
        }
        let mut skills = BTreeSet::new();
        for (j, s) in aw.skills.iter().flatten().enumerate() {
            if let Err(e) = check_skill(s) {
                f.error(format!(
                    "additionalWorkspaces[{i}] {n:?} skills[{j}] {s:?}: {e}"
                ));
            }
            if !skills.insert(s.as_str()) {
                f.error(format!(
                    "additionalWorkspaces[{i}] {n:?} skills[{j}] {s:?} is duplicated within the workspace"
                ));
            }
        }
    }
}

/// `^[a-z0-9]+(-[a-z0-9]+)*$`, at most 63 characters.
fn is_workspace_name(name: &str) -> bool {
    name.len() <= 63
        && name.split('-').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

fn check_all_quantities(f: &mut Findings, spec: &OpenClawInstanceSpec) {
    let persistence = spec.storage.as_ref().and_then(|s| s.persistence.as_ref());
    check_quantity(
        f,
        "spec.storage.persistence.size",
        persistence.and_then(|p| p.size.as_ref()),
    );
    check_resources(f, "spec.resources", spec.resources.as_ref());
    if let Some(c) = &spec.chromium {
        check_resources(f, "spec.chromium.resources", c.resources.as_ref());
        check_quantity(
            f,
            "spec.chromium.persistence.size",
            c.persistence.as_ref().and_then(|p| p.size.as_ref()),
        );
    }
    if let Some(t) = &spec.tailscale {
        check_resources(f, "spec.tailscale.resources", t.resources.as_ref());
    }
    if let Some(o) = &spec.ollama {
        check_resources(f, "spec.ollama.resources", o.resources.as_ref());
        check_quantity(
            f,
            "spec.ollama.storage.sizeLimit",
            o.storage.as_ref().and_then(|s| s.size_limit.as_ref()),
        );
    }
    if let Some(w) = &spec.web_terminal {
        check_resources(f, "spec.webTerminal.resources", w.resources.as_ref());
    }
    check_quantity(
        f,
        "spec.probes.diskReadiness.minFree",
        spec.probes
            .as_ref()
            .and_then(|p| p.disk_readiness.as_ref())
            .and_then(|d| d.min_free.as_ref()),
    );
}

fn check_auto_update(f: &mut Findings, spec: &OpenClawInstanceSpec) {
    let Some(au) = &spec.auto_update else { return };
    if let Some(v) = &au.check_interval {
        check_duration(
            f,
            "spec.autoUpdate.checkInterval",
            v,
            3600.0,
            168.0 * 3600.0,
        );
    }
    if let Some(v) = &au.health_check_timeout {
        check_duration(f, "spec.autoUpdate.healthCheckTimeout", v, 120.0, 1800.0);
    }
    if is_true(au.enabled) && !no_digest(spec.image.as_ref().and_then(|i| i.digest.as_ref())) {
        f.warn(
            "spec.autoUpdate is enabled but spec.image.digest pins the image: updates are skipped",
        );
    }
}

fn check_config(f: &mut Findings, spec: &OpenClawInstanceSpec) {
    let Some(config) = &spec.config else { return };
    let json5 = config.format.as_deref() == Some("json5");
    let merge = config.merge_mode.as_deref() == Some("merge");
    if !json5 && let Some(raw) = &config.raw {
        for key in raw.0.keys() {
            if !OPENCLAW_TOP_LEVEL_KEYS.contains(&key.as_str()) {
                f.warn(format!(
                    "Unknown config key {key:?} in spec.config.raw: OpenClaw rejects unknown top-level keys (known: {})",
                    OPENCLAW_TOP_LEVEL_KEYS.join(", ")
                ));
            }
        }
    }
    if json5 && config.raw.is_some() {
        f.error(
            "spec.config.format json5 requires configMapRef; inline spec.config.raw must be JSON",
        );
    }
    if json5 && merge {
        f.error("spec.config.format json5 is not compatible with mergeMode \"merge\"");
    }
    let force = config.force_paths.as_deref().unwrap_or_default();
    if !force.is_empty() && !merge {
        f.error(format!(
            "spec.config.forcePaths is only valid when spec.config.mergeMode is \"merge\" (got {:?})",
            config.merge_mode.as_deref().unwrap_or("overwrite")
        ));
    }
    for (i, p) in force.iter().enumerate() {
        if p.is_empty() {
            f.error(format!("config.forcePaths[{i}]: path must not be empty"));
        } else if p.starts_with('.') || p.ends_with('.') {
            f.error(format!(
                "config.forcePaths[{i}] {p:?}: path must not start or end with '.'"
            ));
        } else if p.contains("..") {
            f.error(format!(
                "config.forcePaths[{i}] {p:?}: path must not contain empty segments"
            ));
        } else if let Some(c) = p
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            f.error(format!(
                "config.forcePaths[{i}] {p:?}: contains invalid character {c:?} (allowed: alphanumeric, '-', '_', '.')"
            ));
        }
    }
}

fn check_availability(f: &mut Findings, spec: &OpenClawInstanceSpec) {
    let Some(hpa) = spec
        .availability
        .as_ref()
        .and_then(|a| a.auto_scaling.as_ref())
        .filter(|h| is_true(h.enabled))
    else {
        return;
    };
    if is_true(spec.suspended) {
        f.error("spec.suspended and spec.availability.autoScaling.enabled are mutually exclusive");
    }
    let min = hpa.min_replicas.unwrap_or(1);
    let max = hpa.max_replicas.unwrap_or(5);
    if max < min {
        f.error(format!(
            "spec.availability.autoScaling.maxReplicas ({max}) must be at least minReplicas ({min})"
        ));
    }
}

fn check_backup(f: &mut Findings, spec: &OpenClawInstanceSpec) {
    let Some(timeout) = spec
        .backup
        .as_ref()
        .and_then(|b| b.timeout.as_deref())
        .filter(|t| !t.is_empty())
    else {
        return;
    };
    match parse_go_duration(timeout) {
        Err(_) => f.warn(format!(
            "spec.backup.timeout {timeout:?} is not a Go duration; the default 30m is used"
        )),
        Ok(s) if !(300.0..=86400.0).contains(&s) => f.warn(format!(
            "spec.backup.timeout {timeout:?} is outside 5m..24h and is clamped to that range"
        )),
        Ok(_) => {}
    }
}

/// Validate an OpenClawSelfConfig request (what the controller would otherwise refuse later).
pub fn validate_self_config(request: &OpenClawSelfConfig) -> Findings {
    let mut f = Findings::default();
    let s = &request.spec;
    if s.instance_ref.is_empty() {
        f.error("spec.instanceRef must not be empty");
    }
    let has = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
    let any_action = has(&s.add_skills)
        || has(&s.remove_skills)
        || s.config_patch.is_some()
        || s.add_workspace_files
            .as_ref()
            .is_some_and(|m| !m.is_empty())
        || has(&s.remove_workspace_files)
        || s.add_env_vars.as_ref().is_some_and(|v| !v.is_empty())
        || has(&s.remove_env_vars);
    if !any_action {
        f.error("request contains no actions");
    }
    for (i, skill) in s.add_skills.iter().flatten().enumerate() {
        if let Err(e) = check_skill(skill) {
            f.error(format!("addSkills[{i}] {skill:?}: {e}"));
        }
    }
    if s.config_patch
        .as_ref()
        .is_some_and(|p| p.0.contains_key("gateway"))
    {
        f.error("spec.configPatch: the top-level key \"gateway\" is managed by the operator and cannot be patched");
    }
    for key in s.add_workspace_files.iter().flat_map(|m| m.keys()) {
        if let Err(e) = check_workspace_file_path(key) {
            f.error(format!("addWorkspaceFiles key {key:?}: {e}"));
        }
    }
    let names = s
        .add_env_vars
        .iter()
        .flatten()
        .map(|e| e.name.as_str())
        .chain(s.remove_env_vars.iter().flatten().map(String::as_str));
    for name in names {
        if PROTECTED_ENV_VARS.contains(&name) {
            f.error(format!(
                "environment variable {name:?} is managed by the operator and cannot be changed"
            ));
        }
    }
    f
}
