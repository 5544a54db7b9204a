//! Admission checks as pure functions.
//!
//! The same checks back the `validate` CLI command, the controller (an invalid spec sets a
//! condition instead of rolling anything out) and the admission webhook. Unlike the Go operator,
//! every error is reported (not only the first) and warnings are kept alongside errors.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use crate::instance::{OpenClawInstance, OpenClawInstanceSpec, RESERVED_INIT_CONTAINER_NAMES};
use crate::k8s_names;
use crate::selfconfig::OpenClawSelfConfig;
use crate::units::{parse_go_duration, quantity_sign, quantity_value};

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

    /// An error about the field at `path` (`spec.x.y`), as `"<path>: <message>"`.
    fn error_at(&mut self, path: &str, message: impl std::fmt::Display) {
        self.errors.push(format!("{path}: {message}"));
    }

    /// A warning about the field at `path`, as `"<path>: <message>"`.
    fn warn_at(&mut self, path: &str, message: impl std::fmt::Display) {
        self.warnings.push(format!("{path}: {message}"));
    }

    /// Add warnings found elsewhere (the renderer's), each anchored to a field path with
    /// [`anchored`]. Warnings already present are skipped, and so are warnings about a field
    /// that already has an error (the error says it better).
    pub fn add_warnings(&mut self, warnings: impl IntoIterator<Item = String>) {
        let error_fields: Vec<String> = self
            .errors
            .iter()
            .map(|e| split_field(e).0.to_string())
            .collect();
        for w in warnings {
            let w = anchored(&w);
            let field = split_field(&w).0;
            let about_an_error = field != "spec"
                && error_fields
                    .iter()
                    .any(|e| field == e || field.starts_with(&format!("{e}.")));
            if !about_an_error && !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
    }
}

/// Split a finding into its leading field path and the rest: `spec.skills[0] "x": bad` gives
/// `("spec.skills[0]", "\"x\": bad")`. A path starts with `spec`, `metadata` or `status` and
/// continues with `.name`, `[3]` or `["key"]` (a Rust-quoted map key); it is followed by `": "`,
/// a space or the end. A finding without a path belongs to `spec` as a whole: `("spec", finding)`.
pub fn split_field(finding: &str) -> (&str, &str) {
    match field_len(finding) {
        Some(n) => {
            let rest = &finding[n..];
            let rest = rest
                .strip_prefix(": ")
                .or_else(|| rest.strip_prefix(' '))
                .unwrap_or(rest);
            (&finding[..n], rest)
        }
        None => ("spec", finding),
    }
}

/// Length of the field path at the start of `s`, when there is one followed by `": "`, `" "`
/// or the end.
fn field_len(s: &str) -> Option<usize> {
    let root = ["spec", "metadata", "status"]
        .into_iter()
        .find(|r| s.starts_with(r))?;
    let b = s.as_bytes();
    let mut i = root.len();
    loop {
        match b.get(i) {
            None => return Some(i),
            Some(b' ') => return Some(i),
            Some(b':') if b.get(i + 1) == Some(&b' ') => return Some(i),
            Some(b'.') => {
                let start = i + 1;
                i = start;
                while b
                    .get(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    i += 1;
                }
                if i == start {
                    return None;
                }
            }
            Some(b'[') if b.get(i + 1) == Some(&b'"') => {
                // A Rust-quoted key: up to the unescaped closing quote, then `]`.
                i += 2;
                loop {
                    match b.get(i) {
                        None => return None,
                        Some(b'\\') => i += 2,
                        Some(b'"') => break,
                        Some(_) => i += 1,
                    }
                }
                if b.get(i + 1) != Some(&b']') {
                    return None;
                }
                i += 2;
            }
            Some(b'[') => {
                let start = i + 1;
                i = start;
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                if i == start || b.get(i) != Some(&b']') {
                    return None;
                }
                i += 1;
            }
            Some(_) => return None,
        }
    }
}

/// Top-level field names of `OpenClawInstanceSpec`, as the API spells them.
static SPEC_FIELDS: LazyLock<Vec<String>> = LazyLock::new(|| {
    schemars::schema_for!(OpenClawInstanceSpec)
        .get("properties")
        .and_then(|p| p.as_object())
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
});

/// A finding that starts with a field path: unchanged when it has one (see [`split_field`]);
/// `spec.` is prepended when it starts with a spec field without it (`security.caBundle ...`);
/// remarks on `openclaw.json` belong to `spec.config`; anything else is about `spec`.
pub fn anchored(finding: &str) -> String {
    if field_len(finding).is_some() {
        return finding.to_string();
    }
    let head = finding
        .split(['.', ' ', ':', '['])
        .next()
        .unwrap_or_default();
    if SPEC_FIELDS.iter().any(|f| f == head) {
        let prefixed = format!("spec.{finding}");
        if field_len(&prefixed).is_some() {
            return prefixed;
        }
    }
    if finding.starts_with("openclaw.json") {
        return format!("spec.config: {finding}");
    }
    format!("spec: {finding}")
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
    if let Some(c) = rest.chars().find(|c| !name_chars_ok(*c)) {
        return Err(format!(
            "invalid character {c:?} (allowed: letters, digits, '-', '_', '/', '.', '@')"
        ));
    }
    // The installers would read it as an option (the renderer skips such entries).
    if rest.starts_with('-') || (allow_pack && rest.starts_with("@-")) {
        return Err("a reference must not start with '-'".into());
    }
    Ok(())
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

/// What a quantity field accepts beyond the syntax.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sign {
    /// Resource requests and limits, `emptyDir.sizeLimit`: zero or more.
    NonNegative,
    /// PersistentVolumeClaim sizes: more than zero.
    Positive,
}

/// A quantity: valid syntax and the sign the API server requires. Returns whether it passed.
fn check_quantity_sign(findings: &mut Findings, path: &str, v: &str, sign: Sign) -> bool {
    use std::cmp::Ordering;
    match (quantity_sign(v), sign) {
        (None, _) => {
            findings.error(format!(
                "{path} {v:?} is not a valid Kubernetes quantity (e.g. 500m, 1Gi)"
            ));
            false
        }
        (Some(Ordering::Less), _) => {
            findings.error_at(path, format!("{v:?} must not be negative"));
            false
        }
        (Some(Ordering::Equal), Sign::Positive) => {
            findings.error_at(path, format!("{v:?} must be greater than zero"));
            false
        }
        _ => true,
    }
}

fn check_quantity(findings: &mut Findings, path: &str, value: Option<&String>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        check_quantity_sign(findings, path, v, Sign::NonNegative);
    }
}

fn check_size(findings: &mut Findings, path: &str, value: Option<&String>) {
    if let Some(v) = value.filter(|v| !v.is_empty()) {
        check_quantity_sign(findings, path, v, Sign::Positive);
    }
}

/// A request above its limit (`must be less than or equal to ... limit`).
fn check_request_within_limit(f: &mut Findings, path: &str, request: &str, limit: &str) {
    if let (Some(r), Some(l)) = (quantity_value(request), quantity_value(limit))
        && r > l
    {
        f.error_at(
            path,
            format!("{request:?} must be less than or equal to the limit {limit:?}"),
        );
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
    let valid = |v: Option<&String>| v.filter(|v| quantity_sign(v).is_some()).cloned();
    let (req, lim) = (res.requests.as_ref(), res.limits.as_ref());
    for (name, r, l) in [
        (
            "cpu",
            req.and_then(|r| valid(r.cpu.as_ref())),
            lim.and_then(|l| valid(l.cpu.as_ref())),
        ),
        (
            "memory",
            req.and_then(|r| valid(r.memory.as_ref())),
            lim.and_then(|l| valid(l.memory.as_ref())),
        ),
    ] {
        if let (Some(r), Some(l)) = (r, l) {
            check_request_within_limit(findings, &format!("{path}.requests.{name}"), &r, &l);
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
    let skip = instance
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(SKIP_CONFIG_CHECK_ANNOTATION))
        .is_some_and(|v| v == "true");
    let schema = check_config_schema(&instance.spec);
    f.warnings.extend(schema.warnings);
    if skip {
        if !schema.errors.is_empty() {
            f.warn(format!(
                "{SKIP_CONFIG_CHECK_ANNOTATION} is set: the config is not checked against OpenClaw's schema, which reports {}",
                schema.errors.join("; ")
            ));
        }
    } else {
        f.errors.extend(schema.errors);
    }
    if let Some(name) = instance.metadata.name.as_deref().filter(|n| !n.is_empty())
        && let Err(e) = k8s_names::dns1035_label(name)
    {
        f.error_at(
            "metadata.name",
            format!("{name:?} cannot name the instance's Service (and its other objects): {e}"),
        );
    }
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
            f.error(format!("spec.skills[{i}] {skill:?}: {e}"));
        }
    }
    for (i, plugin) in spec.plugins.iter().flatten().enumerate() {
        if let Err(e) = check_plugin(plugin) {
            f.error(format!("spec.plugins[{i}] {plugin:?}: {e}"));
        }
    }
    check_config(&mut f, spec);
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        if c.name.is_empty() {
            f.error(format!(
                "spec.initContainers[{i}].name: container name must not be empty"
            ));
        } else if RESERVED_INIT_CONTAINER_NAMES.contains(&c.name.as_str()) {
            f.error(format!(
                "spec.initContainers[{i}].name: name {:?} is reserved for operator-managed init containers",
                c.name
            ));
        }
    }
    check_availability(&mut f, spec);
    check_backup(&mut f, spec);
    check_references(&mut f, spec);
    check_containers(&mut f, spec);
    check_ports(&mut f, spec);
    check_metadata_maps(&mut f, spec);
    for n in not_yet_acted_on(spec) {
        f.warn_at(&n.field, &n.message);
    }
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
        f.warn("spec.chromium.image.digest: Chromium sidecar image is not pinned by digest (supply-chain risk); set spec.chromium.image.digest");
    }
    if let Some(o) = spec.ollama.as_ref().filter(|o| is_true(o.enabled)) {
        if no_digest(o.image.as_ref().and_then(|i| i.digest.as_ref())) {
            f.warn("spec.ollama.image.digest: Ollama sidecar image is not pinned by digest (supply-chain risk); set spec.ollama.image.digest");
        }
        f.warn("spec.ollama.enabled: Ollama sidecar runs as root (UID 0), as its image requires");
    }
    if let Some(w) = spec.web_terminal.as_ref().filter(|w| is_true(w.enabled))
        && no_digest(w.image.as_ref().and_then(|i| i.digest.as_ref()))
    {
        f.warn("spec.webTerminal.image.digest: Web terminal sidecar image is not pinned by digest (supply-chain risk); set spec.webTerminal.image.digest");
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
            "spec.envFrom: No AI provider API keys detected; provide them with spec.envFrom or spec.env (e.g. {})",
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
        f.error("spec.workspace.configMapRef.name must not be empty");
    }
    for key in ws.initial_files.iter().flat_map(|m| m.keys()) {
        if let Err(e) = check_workspace_file_path(key) {
            f.error(format!(
                "spec.workspace.initialFiles: workspace initialFiles key {key:?}: {e}"
            ));
        }
    }
    for dir in ws.initial_directories.iter().flatten() {
        if let Err(e) = check_workspace_directory(dir) {
            f.error(format!(
                "spec.workspace.initialDirectories: workspace initialDirectories {dir:?}: {e}"
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, aw) in ws.additional_workspaces.iter().flatten().enumerate() {
        let n = &aw.name;
        if n.is_empty() {
            f.error(format!(
                "spec.workspace.additionalWorkspaces[{i}]: name must not be empty"
            ));
        } else if !is_workspace_name(n) {
            f.error(format!(
                "spec.workspace.additionalWorkspaces[{i}] {n:?}: name must be lowercase letters and digits separated by single hyphens"
            ));
        }
        if !seen.insert(n.as_str()) {
            f.error(format!(
                "spec.workspace.additionalWorkspaces[{i}] {n:?}: name is duplicated"
            ));
        }
        if let Some(r) = &aw.config_map_ref
            && r.name.is_empty()
        {
            f.error(format!(
                "spec.workspace.additionalWorkspaces[{i}] {n:?}: configMapRef.name must not be empty"
            ));
        }
        for key in aw.initial_files.iter().flat_map(|m| m.keys()) {
            if let Err(e) = check_workspace_file_path(key) {
                f.error(format!(
                    "spec.workspace.additionalWorkspaces[{i}] {n:?} initialFiles key {key:?}: {e}"
                ));
            }
        }
        for dir in aw.initial_directories.iter().flatten() {
            if let Err(e) = check_workspace_directory(dir) {
                f.error(format!(
                    "spec.workspace.additionalWorkspaces[{i}] {n:?} initialDirectories {dir:?}: {e}"
                ));
            }
        }
        let mut skills = BTreeSet::new();
        for (j, s) in aw.skills.iter().flatten().enumerate() {
            if let Err(e) = check_skill(s) {
                f.error(format!(
                    "spec.workspace.additionalWorkspaces[{i}] {n:?} skills[{j}] {s:?}: {e}"
                ));
            }
            if !skills.insert(s.as_str()) {
                f.error(format!(
                    "spec.workspace.additionalWorkspaces[{i}] {n:?} skills[{j}] {s:?} is duplicated within the workspace"
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
    check_size(
        f,
        "spec.storage.persistence.size",
        persistence.and_then(|p| p.size.as_ref()),
    );
    check_resources(f, "spec.resources", spec.resources.as_ref());
    if let Some(c) = &spec.chromium {
        check_resources(f, "spec.chromium.resources", c.resources.as_ref());
        check_size(
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
            f.error(format!(
                "spec.config.forcePaths[{i}]: path must not be empty"
            ));
        } else if p.starts_with('.') || p.ends_with('.') {
            f.error(format!(
                "spec.config.forcePaths[{i}] {p:?}: path must not start or end with '.'"
            ));
        } else if p.contains("..") {
            f.error(format!(
                "spec.config.forcePaths[{i}] {p:?}: path must not contain empty segments"
            ));
        } else if let Some(c) = p
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        {
            f.error(format!(
                "spec.config.forcePaths[{i}] {p:?}: contains invalid character {c:?} (allowed: alphanumeric, '-', '_', '.')"
            ));
        }
    }
}

/// Annotation on an `OpenClawInstance`: `"true"` skips checking its config against OpenClaw's
/// own schema (in admission and in the controller). A way out should the embedded schema of a
/// version be wrong about a config that OpenClaw accepts; the gateway still checks it at start.
pub const SKIP_CONFIG_CHECK_ANNOTATION: &str = "openclaw.rocks/skip-config-check";

/// The OpenClaw version the operator renders and checks an instance for, from its image tag
/// (cluster defaults merged first); with the image tag it was read from.
pub fn openclaw_target(spec: &OpenClawInstanceSpec) -> Option<(openclaw_versions::Target, String)> {
    let image = spec.image.as_ref();
    let tag = image
        .and_then(|i| i.tag.as_deref())
        .unwrap_or(crate::DEFAULT_IMAGE_TAG)
        .to_string();
    openclaw_versions::target(&tag).map(|t| (t, tag))
}

/// `spec.config.raw` against the JSON Schema of the instance's OpenClaw version
/// (`openclaw config schema`, embedded per supported version): every issue OpenClaw would report
/// at start is an error here, with OpenClaw's path and message. A version older than every
/// supported one is not checked (a warning says so); an unknown version is checked as the newest.
/// External configs (`configMapRef`) are checked by the controller, after enrichment.
pub fn check_config_schema(spec: &OpenClawInstanceSpec) -> Findings {
    let mut f = Findings::default();
    let Some((target, tag)) = openclaw_target(spec) else {
        return f;
    };
    if let Some(note) = target.note(&tag) {
        f.warn_at("spec.image.tag", note);
    }
    let Some(config) = &spec.config else { return f };
    let Some(raw) = &config.raw else { return f };
    if config.config_map_ref.is_some() || config.format.as_deref() == Some("json5") {
        return f;
    }
    if !target.enforce_schema() {
        return f;
    }
    let version = target.supported.as_str();
    match target.supported.schema() {
        Ok(schema) => {
            for issue in schema.check(&serde_json::Value::Object(raw.0.clone())) {
                let field = if issue.path == openclaw_versions::schema_root() {
                    "spec.config.raw".to_string()
                } else {
                    format!("spec.config.raw.{}", issue.path)
                };
                f.error_at(
                    &field,
                    format!(
                        "{} (OpenClaw {version} rejects this config at {})",
                        issue.message, issue.path
                    ),
                );
            }
        }
        Err(e) => f.warn(format!("spec.config.raw was not checked: {e}")),
    }
    f
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
    if let Some(schedule) = spec
        .backup
        .as_ref()
        .and_then(|b| b.schedule.as_deref())
        .filter(|s| !s.trim().is_empty())
        && let Err(e) = crate::schedule::check(schedule)
    {
        f.warn(format!(
            "spec.backup.schedule: {e}; no periodic backups are taken until it is fixed"
        ));
    }
    if let Some(path) = spec
        .restore_from
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        if path.contains("://") {
            f.error(format!(
                "spec.restoreFrom {path:?} must be a path inside the backup bucket (for example \
                 backups/<tenant>/<instance>/2026-01-01T000000Z), not a URL"
            ));
        } else if path.starts_with('/') {
            f.warn(format!(
                "spec.restoreFrom {path:?}: the path is relative to the bucket; the leading / is ignored"
            ));
        }
    }
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
        f.error("spec: request contains no actions");
    }
    for (i, skill) in s.add_skills.iter().flatten().enumerate() {
        if let Err(e) = check_skill(skill) {
            f.error(format!("spec.addSkills[{i}] {skill:?}: {e}"));
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
            f.error(format!("spec.addWorkspaceFiles key {key:?}: {e}"));
        }
    }
    let names = s
        .add_env_vars
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, e)| (format!("spec.addEnvVars[{i}].name"), e.name.as_str()))
        .chain(
            s.remove_env_vars
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, n)| (format!("spec.removeEnvVars[{i}]"), n.as_str())),
        );
    for (path, name) in names {
        if PROTECTED_ENV_VARS.contains(&name) {
            f.error_at(
                &path,
                format!(
                    "environment variable {name:?} is managed by the operator and cannot be changed"
                ),
            );
        }
    }
    f
}

/// A name the API server requires to be a DNS-1123 subdomain (Secrets, ConfigMaps, PVCs,
/// ServiceAccounts, StorageClasses, IngressClasses, RuntimeClasses). Empty is an error when
/// `required` (the API server's "Required value"), and allowed otherwise.
fn check_name(f: &mut Findings, path: &str, kind: &str, name: &str, required: bool) {
    if name.is_empty() {
        if required {
            f.error_at(path, format!("a {kind} name is required"));
        }
        return;
    }
    if let Err(e) = k8s_names::dns1123_subdomain(name) {
        f.error_at(path, format!("{name:?} is not a valid {kind} name: {e}"));
    }
}

fn check_opt_name(f: &mut Findings, path: &str, kind: &str, name: Option<&String>) {
    if let Some(name) = name {
        check_name(f, path, kind, name, false);
    }
}

fn check_config_key(f: &mut Findings, path: &str, kind: &str, key: &str) {
    if let Err(e) = k8s_names::config_map_key(key) {
        f.error_at(path, format!("{key:?} is not a valid {kind} key: {e}"));
    }
}

fn enabled(v: Option<bool>) -> bool {
    v == Some(true)
}

/// Names of objects the instance references, checked as the API server checks them in the
/// objects the operator renders (and as they must be to exist at all).
fn check_references(f: &mut Findings, spec: &OpenClawInstanceSpec) {
    for (i, src) in spec.env_from.iter().flatten().enumerate() {
        if let Some(s) = &src.secret_ref {
            let path = format!("spec.envFrom[{i}].secretRef.name");
            check_name(f, &path, "Secret", &s.name, true);
        }
        if let Some(c) = &src.config_map_ref {
            let path = format!("spec.envFrom[{i}].configMapRef.name");
            check_name(f, &path, "ConfigMap", &c.name, true);
        }
    }
    for (i, e) in spec.env.iter().flatten().enumerate() {
        let Some(from) = &e.value_from else { continue };
        if let Some(s) = &from.secret_key_ref {
            let path = format!("spec.env[{i}].valueFrom.secretKeyRef");
            check_name(f, &format!("{path}.name"), "Secret", &s.name, true);
            check_config_key(f, &format!("{path}.key"), "Secret", &s.key);
        }
        if let Some(c) = &from.config_map_key_ref {
            let path = format!("spec.env[{i}].valueFrom.configMapKeyRef");
            check_name(f, &format!("{path}.name"), "ConfigMap", &c.name, true);
            check_config_key(f, &format!("{path}.key"), "ConfigMap", &c.key);
        }
    }
    for (i, s) in spec
        .image
        .as_ref()
        .and_then(|i| i.pull_secrets.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        // The kubelet skips a pull secret it cannot find, so this stays a warning.
        if !s.name.is_empty()
            && let Err(e) = k8s_names::dns1123_subdomain(&s.name)
        {
            f.warn_at(
                &format!("spec.image.pullSecrets[{i}].name"),
                format!(
                    "{:?} cannot name a Secret ({e}); the kubelet ignores it",
                    s.name
                ),
            );
        }
    }
    if let Some(r) = spec.config.as_ref().and_then(|c| c.config_map_ref.as_ref()) {
        check_name(
            f,
            "spec.config.configMapRef.name",
            "ConfigMap",
            &r.name,
            true,
        );
        if let Some(key) = r.key.as_deref().filter(|k| !k.is_empty()) {
            check_config_key(f, "spec.config.configMapRef.key", "ConfigMap", key);
        }
    }
    if let Some(ws) = &spec.workspace {
        if let Some(r) = &ws.config_map_ref {
            // Empty is reported by check_workspace.
            check_name(
                f,
                "spec.workspace.configMapRef.name",
                "ConfigMap",
                &r.name,
                false,
            );
        }
        for (i, aw) in ws.additional_workspaces.iter().flatten().enumerate() {
            if let Some(r) = &aw.config_map_ref {
                let path = format!("spec.workspace.additionalWorkspaces[{i}].configMapRef.name");
                check_name(f, &path, "ConfigMap", &r.name, false);
            }
        }
    }
    if let Some(sec) = &spec.security {
        if let Some(rbac) = &sec.rbac {
            check_opt_name(
                f,
                "spec.security.rbac.serviceAccountName",
                "ServiceAccount",
                rbac.service_account_name.as_ref(),
            );
        }
        if let Some(ca) = &sec.ca_bundle {
            check_opt_name(
                f,
                "spec.security.caBundle.configMapName",
                "ConfigMap",
                ca.config_map_name.as_ref(),
            );
            check_opt_name(
                f,
                "spec.security.caBundle.secretName",
                "Secret",
                ca.secret_name.as_ref(),
            );
            if let Some(key) = ca.key.as_deref().filter(|k| !k.is_empty()) {
                check_config_key(f, "spec.security.caBundle.key", "ConfigMap or Secret", key);
            }
        }
        if let Some(np) = sec
            .network_policy
            .as_ref()
            .filter(|np| !is_false(np.enabled))
        {
            for (i, ns) in np.allowed_ingress_namespaces.iter().flatten().enumerate() {
                if let Err(e) = k8s_names::label_value(ns) {
                    f.error_at(
                        &format!("spec.security.networkPolicy.allowedIngressNamespaces[{i}]"),
                        format!("{ns:?} cannot select a namespace: {e}"),
                    );
                }
            }
        }
    }
    if let Some(p) = spec
        .storage
        .as_ref()
        .and_then(|s| s.persistence.as_ref())
        .filter(|p| !is_false(p.enabled))
    {
        check_opt_name(
            f,
            "spec.storage.persistence.storageClass",
            "StorageClass",
            p.storage_class.as_ref(),
        );
        check_opt_name(
            f,
            "spec.storage.persistence.existingClaim",
            "PersistentVolumeClaim",
            p.existing_claim.as_ref(),
        );
    }
    if let Some(c) = spec.chromium.as_ref().filter(|c| enabled(c.enabled))
        && let Some(p) = &c.persistence
    {
        check_opt_name(
            f,
            "spec.chromium.persistence.storageClass",
            "StorageClass",
            p.storage_class.as_ref(),
        );
        check_opt_name(
            f,
            "spec.chromium.persistence.existingClaim",
            "PersistentVolumeClaim",
            p.existing_claim.as_ref(),
        );
    }
    if let Some(o) = spec.ollama.as_ref().filter(|o| enabled(o.enabled)) {
        check_opt_name(
            f,
            "spec.ollama.storage.existingClaim",
            "PersistentVolumeClaim",
            o.storage.as_ref().and_then(|s| s.existing_claim.as_ref()),
        );
    }
    if let Some(t) = spec.tailscale.as_ref().filter(|t| enabled(t.enabled))
        && let Some(r) = &t.auth_key_secret_ref
    {
        check_name(
            f,
            "spec.tailscale.authKeySecretRef.name",
            "Secret",
            &r.name,
            true,
        );
        if let Some(key) = t.auth_key_secret_key.as_deref().filter(|k| !k.is_empty()) {
            check_config_key(f, "spec.tailscale.authKeySecretKey", "Secret", key);
        }
    }
    if let Some(w) = spec.web_terminal.as_ref().filter(|w| enabled(w.enabled))
        && let Some(c) = &w.credential
    {
        check_name(
            f,
            "spec.webTerminal.credential.secretRef.name",
            "Secret",
            &c.secret_ref.name,
            true,
        );
    }
    if let Some(g) = &spec.gateway {
        check_opt_name(
            f,
            "spec.gateway.existingSecret",
            "Secret",
            g.existing_secret.as_ref(),
        );
    }
    if let Some(a) = &spec.availability {
        check_opt_name(
            f,
            "spec.availability.runtimeClassName",
            "RuntimeClass",
            a.runtime_class_name.as_ref(),
        );
    }
    check_ingress_names(f, spec);
    check_http_route_names(f, spec);
}

fn check_ingress_names(f: &mut Findings, spec: &OpenClawInstanceSpec) {
    let Some(ing) = spec
        .networking
        .as_ref()
        .and_then(|n| n.ingress.as_ref())
        .filter(|i| enabled(i.enabled))
    else {
        return;
    };
    check_opt_name(
        f,
        "spec.networking.ingress.className",
        "IngressClass",
        ing.class_name.as_ref(),
    );
    for (i, h) in ing.hosts.iter().flatten().enumerate() {
        if let Err(e) = k8s_names::ingress_host(&h.host) {
            f.error_at(
                &format!("spec.networking.ingress.hosts[{i}].host"),
                format!("{:?} is not a valid host: {e}", h.host),
            );
        }
    }
    for (i, t) in ing.tls.iter().flatten().enumerate() {
        for (j, h) in t.hosts.iter().flatten().enumerate() {
            if let Err(e) = k8s_names::ingress_host(h) {
                f.error_at(
                    &format!("spec.networking.ingress.tls[{i}].hosts[{j}]"),
                    format!("{h:?} is not a valid host: {e}"),
                );
            }
        }
        // The ingress controller falls back to its default certificate, so only a warning.
        if let Some(s) = t.secret_name.as_deref().filter(|s| !s.is_empty())
            && let Err(e) = k8s_names::dns1123_subdomain(s)
        {
            f.warn_at(
                &format!("spec.networking.ingress.tls[{i}].secretName"),
                format!("{s:?} cannot name a Secret ({e}); no certificate will be found"),
            );
        }
    }
    if let Some(auth) = ing
        .security
        .as_ref()
        .and_then(|s| s.basic_auth.as_ref())
        .filter(|a| enabled(a.enabled))
    {
        check_opt_name(
            f,
            "spec.networking.ingress.security.basicAuth.existingSecret",
            "Secret",
            auth.existing_secret.as_ref(),
        );
        if let Some(u) = auth.username.as_deref()
            && u.contains([':', '\n', '\r'])
        {
            f.error_at(
                "spec.networking.ingress.security.basicAuth.username",
                format!("{u:?} must not contain ':' or a line break (htpasswd format)"),
            );
        }
    }
}

fn check_http_route_names(f: &mut Findings, spec: &OpenClawInstanceSpec) {
    let Some(route) = spec
        .networking
        .as_ref()
        .and_then(|n| n.http_route.as_ref())
        .filter(|r| enabled(r.enabled))
    else {
        return;
    };
    for (i, h) in route.hostnames.iter().flatten().enumerate() {
        let bare = h.strip_prefix("*.").unwrap_or(h);
        if let Err(e) = k8s_names::dns1123_subdomain(bare) {
            f.error_at(
                &format!("spec.networking.httpRoute.hostnames[{i}]"),
                format!(
                    "{h:?} is not a valid hostname (an optional '*.' then a DNS subdomain): {e}"
                ),
            );
        }
    }
    for (i, p) in route.parent_refs.iter().flatten().enumerate() {
        if let Some(ns) = p.namespace.as_deref()
            && let Err(e) = k8s_names::dns1123_label(ns)
        {
            f.error_at(
                &format!("spec.networking.httpRoute.parentRefs[{i}].namespace"),
                format!("{ns:?} is not a valid namespace name: {e}"),
            );
        }
        if let Some(s) = p.section_name.as_deref()
            && let Err(e) = k8s_names::dns1123_subdomain(s)
        {
            f.error_at(
                &format!("spec.networking.httpRoute.parentRefs[{i}].sectionName"),
                format!("{s:?} is not a valid section name: {e}"),
            );
        }
    }
}

/// Quantities and ports of the user's own containers and volumes.
fn check_containers(f: &mut Findings, spec: &OpenClawInstanceSpec) {
    for (list, field) in [
        (&spec.init_containers, "initContainers"),
        (&spec.sidecars, "sidecars"),
    ] {
        for (i, c) in list.iter().flatten().enumerate() {
            let base = format!("spec.{field}[{i}]");
            if let Some(res) = &c.resources {
                for (kind, map) in [("requests", &res.requests), ("limits", &res.limits)] {
                    for (name, q) in map.iter().flatten() {
                        let path = format!("{base}.resources.{kind}[{name:?}]");
                        check_quantity_sign(f, &path, &q.0, Sign::NonNegative);
                    }
                }
            }
            for (j, p) in c.ports.iter().flatten().enumerate() {
                let path = format!("{base}.ports[{j}]");
                if !(1..=65535).contains(&p.container_port) {
                    f.error_at(
                        &format!("{path}.containerPort"),
                        format!("{} must be between 1 and 65535", p.container_port),
                    );
                }
                if let Some(h) = p.host_port
                    && !(0..=65535).contains(&h)
                {
                    f.error_at(
                        &format!("{path}.hostPort"),
                        format!("{h} must be between 1 and 65535"),
                    );
                }
            }
        }
    }
    for (list, field) in [
        (&spec.extra_volumes, "extraVolumes"),
        (&spec.sidecar_volumes, "sidecarVolumes"),
    ] {
        for (i, v) in list.iter().flatten().enumerate() {
            if let Some(q) = v.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref()) {
                let path = format!("spec.{field}[{i}].emptyDir.sizeLimit");
                check_quantity_sign(f, &path, &q.0, Sign::NonNegative);
            }
        }
    }
}

/// Ports the renderer would otherwise replace (the CRD schema bounds the others).
fn check_ports(f: &mut Findings, spec: &OpenClawInstanceSpec) {
    if let Some(m) = spec
        .observability
        .as_ref()
        .and_then(|o| o.metrics.as_ref())
        .filter(|m| !is_false(m.enabled))
        && let Some(p) = m.port
        && !(1..=65535).contains(&p)
    {
        f.error_at(
            "spec.observability.metrics.port",
            format!("{p} is not a port number: must be between 1 and 65535"),
        );
    }
}

fn check_label_map(f: &mut Findings, path: &str, labels: Option<&BTreeMap<String, String>>) {
    for (k, v) in labels.into_iter().flatten() {
        if let Err(e) = k8s_names::qualified_name(k) {
            f.error_at(
                &format!("{path}[{k:?}]"),
                format!("{k:?} is not a valid label key: {e}"),
            );
        }
        if let Err(e) = k8s_names::label_value(v) {
            f.error_at(
                &format!("{path}[{k:?}]"),
                format!("{v:?} is not a valid label value: {e}"),
            );
        }
    }
}

fn check_annotation_map(
    f: &mut Findings,
    path: &str,
    annotations: Option<&BTreeMap<String, String>>,
) {
    let Some(map) = annotations else { return };
    for k in map.keys() {
        if let Err(e) = k8s_names::annotation_key(k) {
            f.error_at(
                &format!("{path}[{k:?}]"),
                format!("{k:?} is not a valid annotation key: {e}"),
            );
        }
    }
    let size: usize = map.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > k8s_names::TOTAL_ANNOTATION_SIZE {
        f.error_at(
            path,
            format!(
                "annotations may not be larger than {} bytes (these are {size})",
                k8s_names::TOTAL_ANNOTATION_SIZE
            ),
        );
    }
}

/// Labels and annotations the operator copies onto the objects it renders.
fn check_metadata_maps(f: &mut Findings, spec: &OpenClawInstanceSpec) {
    check_annotation_map(f, "spec.podAnnotations", spec.pod_annotations.as_ref());
    if let Some(n) = &spec.networking {
        check_annotation_map(
            f,
            "spec.networking.service.annotations",
            n.service.as_ref().and_then(|s| s.annotations.as_ref()),
        );
        if let Some(i) = n.ingress.as_ref().filter(|i| enabled(i.enabled)) {
            check_annotation_map(
                f,
                "spec.networking.ingress.annotations",
                i.annotations.as_ref(),
            );
        }
        if let Some(r) = n.http_route.as_ref().filter(|r| enabled(r.enabled)) {
            check_annotation_map(
                f,
                "spec.networking.httpRoute.annotations",
                r.annotations.as_ref(),
            );
        }
    }
    check_annotation_map(
        f,
        "spec.security.rbac.serviceAccountAnnotations",
        spec.security
            .as_ref()
            .and_then(|s| s.rbac.as_ref())
            .and_then(|r| r.service_account_annotations.as_ref()),
    );
    check_label_map(
        f,
        "spec.availability.nodeSelector",
        spec.availability
            .as_ref()
            .and_then(|a| a.node_selector.as_ref()),
    );
    if let Some(m) = spec.observability.as_ref().and_then(|o| o.metrics.as_ref()) {
        if let Some(s) = m.service_monitor.as_ref().filter(|s| enabled(s.enabled)) {
            check_label_map(
                f,
                "spec.observability.metrics.serviceMonitor.labels",
                s.labels.as_ref(),
            );
        }
        if let Some(r) = m.prometheus_rule.as_ref().filter(|r| enabled(r.enabled)) {
            check_label_map(
                f,
                "spec.observability.metrics.prometheusRule.labels",
                r.labels.as_ref(),
            );
        }
        if let Some(g) = m.grafana_dashboard.as_ref().filter(|g| enabled(g.enabled)) {
            check_label_map(
                f,
                "spec.observability.metrics.grafanaDashboard.labels",
                g.labels.as_ref(),
            );
        }
    }
}

/// A field the user set that this operator version accepts and keeps but does not act on yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotActedOn {
    /// The field path, e.g. `spec.backup.schedule`.
    pub field: String,
    /// What is not done, for a person.
    pub message: String,
}

/// The fields of `spec` whose feature is not built yet, when set to a value that would make
/// the feature do something (unset, empty, default or disabled values are not reported).
/// The webhook returns each as a warning; the controller reports them in a condition.
///
/// Every feature of the API is built now, so this is empty; it stays as the one place a field
/// accepted ahead of its feature is listed (the webhook's warnings, the `FieldsNotActedOn`
/// condition).
pub fn not_yet_acted_on(_spec: &OpenClawInstanceSpec) -> Vec<NotActedOn> {
    Vec::new()
}
