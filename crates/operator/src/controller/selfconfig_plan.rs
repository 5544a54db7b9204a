//! The pure part of the self-configuration controller (no I/O, no clock): which requests of
//! a batch are accepted, what the one server-side apply of the batch holds, and the message
//! each request ends with. [`super::selfconfig`] does the reads, the apply and the status.
//!
//! The apply holds **only what the field manager `openclaw-selfconfig` owns** after the batch:
//! the skills, env entries, workspace files and `config.raw` leaves it added before (read from
//! the instance's `managedFields`) plus this batch's additions, minus its removals. Items
//! other managers own (a human's `kubectl apply`, Flux, Argo CD) are never co-owned, so a
//! GitOps tool that drops an item really removes it; and an earlier request's changes stay
//! when a later one touches another category (applying only the requested category, as the Go
//! operator does, would make the API server delete what the previous requests added).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::api::core::v1::EnvVar;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
use openclaw_api::instance::OpenClawInstanceSpec;
use openclaw_api::selfconfig::OpenClawSelfConfig;
use openclaw_api::{OpenClawInstance, validation};
use serde_json::{Map, Value, json};

/// The field manager of every change self-configuration makes.
pub const FIELD_MANAGER: &str = "openclaw-selfconfig";
/// Default of `spec.selfConfigure.minApplyInterval`.
pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_secs(30);
/// Default of `spec.selfConfigure.maxPendingRequests`.
pub const DEFAULT_MAX_PENDING: usize = 10;
/// Default of `spec.selfConfigure.maxRequestBytes`.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The per-instance limits, from `spec.selfConfigure` (defaults where unset or unreadable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Shortest time between two applies.
    pub min_interval: Duration,
    /// Most requests waiting at a time.
    pub max_pending: usize,
    /// Largest request (bytes of its JSON spec).
    pub max_request_bytes: usize,
}

impl Limits {
    /// The limits of `instance`.
    pub fn of(instance: &OpenClawInstance) -> Self {
        let sc = instance.spec.self_configure.as_ref();
        let min_interval = sc
            .and_then(|s| s.min_apply_interval.as_deref())
            .filter(|s| !s.is_empty())
            .and_then(|s| openclaw_api::units::parse_go_duration(s).ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(3600.0)))
            .unwrap_or(DEFAULT_MIN_INTERVAL);
        let max_pending = sc
            .and_then(|s| s.max_pending_requests)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n >= 1)
            .unwrap_or(DEFAULT_MAX_PENDING);
        let max_request_bytes = sc
            .and_then(|s| s.max_request_bytes)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n >= 1)
            .unwrap_or(DEFAULT_MAX_REQUEST_BYTES);
        Self {
            min_interval,
            max_pending,
            max_request_bytes,
        }
    }
}

/// How a request ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied to the instance (the message lists any warnings).
    Applied(String),
    /// Not allowed: policy, identity or limits.
    Denied(String),
    /// Could not be carried out: a missing instance, a request with nothing to do, a patch
    /// that cannot be merged.
    Failed(String),
}

impl Outcome {
    /// `status.phase`.
    pub fn phase(&self) -> &'static str {
        match self {
            Outcome::Applied(_) => "Applied",
            Outcome::Denied(_) => "Denied",
            Outcome::Failed(_) => "Failed",
        }
    }

    /// `status.message`.
    pub fn message(&self) -> &str {
        match self {
            Outcome::Applied(m) | Outcome::Denied(m) | Outcome::Failed(m) => m,
        }
    }
}

/// Whether a phase is final.
pub fn is_terminal(phase: Option<&str>) -> bool {
    matches!(phase, Some("Applied" | "Denied" | "Failed"))
}

/// The action categories of `spec.selfConfigure.allowedActions`.
pub fn categories(request: &OpenClawSelfConfig) -> Vec<&'static str> {
    let s = &request.spec;
    let some = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
    let mut out = Vec::new();
    if some(&s.add_skills) || some(&s.remove_skills) {
        out.push("skills");
    }
    if s.config_patch.is_some() {
        out.push("config");
    }
    if s.add_workspace_files
        .as_ref()
        .is_some_and(|m| !m.is_empty())
        || some(&s.remove_workspace_files)
    {
        out.push("workspaceFiles");
    }
    if s.add_env_vars.as_ref().is_some_and(|v| !v.is_empty()) || some(&s.remove_env_vars) {
        out.push("envVars");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// managedFields

/// A `fieldsV1` subtree as a tree of keys (`f:name`, `v:<json>`, `k:<json>`); a leaf is an
/// empty node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(pub BTreeMap<String, Fields>);

impl Fields {
    fn from_value(v: &Value) -> Self {
        Fields(
            v.as_object()
                .into_iter()
                .flatten()
                .filter(|(k, _)| k.as_str() != ".")
                .map(|(k, v)| (k.clone(), Fields::from_value(v)))
                .collect(),
        )
    }

    fn at(&self, path: &[&str]) -> Option<&Fields> {
        let mut node = self;
        for key in path {
            node = node.0.get(*key)?;
        }
        Some(node)
    }

    fn is_leaf(&self) -> bool {
        self.0.is_empty()
    }

    /// Marks every leaf of `patch` (objects are walked, anything else is a leaf; a value owned
    /// as a whole stays owned as a whole).
    fn add_leaves(&mut self, patch: &Map<String, Value>) {
        for (key, value) in patch {
            let key = format!("f:{key}");
            match value {
                Value::Object(inner) if !inner.is_empty() => match self.0.get_mut(&key) {
                    Some(child) if child.is_leaf() => {}
                    Some(child) => child.add_leaves(inner),
                    None => {
                        let mut sub = Fields::default();
                        sub.add_leaves(inner);
                        self.0.insert(key, sub);
                    }
                },
                _ => {
                    self.0.insert(key, Fields::default());
                }
            }
        }
    }
}

/// A set item key (`v:"skill-a"`, as a real API server writes it) back to its value; an
/// unquoted `v:skill-a` is read as the plain string.
fn set_item(key: &str) -> Option<String> {
    let raw = key.strip_prefix("v:")?;
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::String(s)) => Some(s),
        Ok(other) => Some(other.to_string()),
        Err(_) => Some(raw.to_string()),
    }
}

/// A map-list item key (`k:{"name":"FOO"}`) back to its `name`.
fn keyed_name(key: &str) -> Option<String> {
    let raw = key.strip_prefix("k:")?;
    serde_json::from_str::<Value>(raw)
        .ok()?
        .get("name")?
        .as_str()
        .map(str::to_string)
}

/// The items of one kind a field set holds.
fn items(fields: &Fields, kind: Kind) -> BTreeSet<String> {
    let Some(node) = fields.at(kind.path()) else {
        return BTreeSet::new();
    };
    node.0
        .keys()
        .filter_map(|k| match kind {
            Kind::Skill => set_item(k),
            Kind::Env => keyed_name(k),
            Kind::File => k.strip_prefix("f:").map(str::to_string),
        })
        .collect()
}

/// The three kinds of items self-configuration adds and removes one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `spec.skills[]` (a set).
    Skill,
    /// `spec.env[]` (a map list keyed by name).
    Env,
    /// `spec.workspace.initialFiles{}`.
    File,
}

impl Kind {
    fn path(self) -> &'static [&'static str] {
        match self {
            Kind::Skill => &["f:spec", "f:skills"],
            Kind::Env => &["f:spec", "f:env"],
            Kind::File => &["f:spec", "f:workspace", "f:initialFiles"],
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Kind::Skill => "skill",
            Kind::Env => "environment variable",
            Kind::File => "workspace file",
        }
    }
}

fn entry_fields(entry: &ManagedFieldsEntry) -> Fields {
    entry
        .fields_v1
        .as_ref()
        .map(|f| Fields::from_value(&f.0))
        .unwrap_or_default()
}

/// The main-resource entries (not `status`).
fn spec_entries(managed: &[ManagedFieldsEntry]) -> impl Iterator<Item = &ManagedFieldsEntry> {
    managed
        .iter()
        .filter(|e| e.subresource.as_deref().unwrap_or("").is_empty())
}

/// What `openclaw-selfconfig` owns on an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owned {
    /// Skills.
    pub skills: BTreeSet<String>,
    /// Env entry names.
    pub env: BTreeSet<String>,
    /// Workspace file names.
    pub files: BTreeSet<String>,
    /// The owned part of `spec.config.raw`.
    pub config: Fields,
}

impl Owned {
    /// Read from `managedFields` (the `Apply` entry of [`FIELD_MANAGER`]).
    pub fn read(managed: &[ManagedFieldsEntry]) -> Self {
        let Some(fields) = spec_entries(managed)
            .find(|e| e.manager.as_deref() == Some(FIELD_MANAGER))
            .map(entry_fields)
        else {
            return Self::default();
        };
        Self {
            skills: items(&fields, Kind::Skill),
            env: items(&fields, Kind::Env),
            files: items(&fields, Kind::File),
            config: fields
                .at(&["f:spec", "f:config", "f:raw"])
                .cloned()
                .unwrap_or_default(),
        }
    }

    fn set(&mut self, kind: Kind) -> &mut BTreeSet<String> {
        match kind {
            Kind::Skill => &mut self.skills,
            Kind::Env => &mut self.env,
            Kind::File => &mut self.files,
        }
    }
}

/// When the field manager last applied (its `managedFields` entry's time).
pub fn last_apply(managed: &[ManagedFieldsEntry]) -> Option<k8s_openapi::jiff::Timestamp> {
    spec_entries(managed)
        .find(|e| e.manager.as_deref() == Some(FIELD_MANAGER))
        .and_then(|e| e.time.as_ref())
        .map(|t| t.0)
}

/// The other managers that own an item, with their operation (`Apply`, `Update`).
fn owners(managed: &[ManagedFieldsEntry], kind: Kind, item: &str) -> Vec<String> {
    spec_entries(managed)
        .filter(|e| e.manager.as_deref() != Some(FIELD_MANAGER))
        .filter(|e| items(&entry_fields(e), kind).contains(item))
        .map(|e| {
            format!(
                "{:?} ({})",
                e.manager.as_deref().unwrap_or(""),
                e.operation.as_deref().unwrap_or("?")
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The batch

/// One request of a batch, with what the controller found out about it.
pub struct Request<'a> {
    /// The request.
    pub object: &'a OpenClawSelfConfig,
    /// Its size (bytes of its JSON spec).
    pub size: usize,
    /// Whether its requester may change the instance (`Err`: why not).
    pub identity: Result<(), String>,
}

/// The state a batch works on: the instance's spec as it would be and what self-configuration
/// would own.
#[derive(Debug, Clone)]
struct Working {
    spec: OpenClawInstanceSpec,
    owned: Owned,
}

/// What a batch does.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The server-side apply body, when the instance changes (`None`: nothing to apply).
    pub apply: Option<Value>,
    /// Each request's outcome, in the order given.
    pub outcomes: Vec<Outcome>,
    /// The events to record on the instance: `(warning, reason, message)`.
    pub instance_events: Vec<(bool, &'static str, String)>,
}

/// Plans a batch of requests against `instance`, in order: each accepted request builds on
/// the previous ones.
pub fn plan(instance: &OpenClawInstance, requests: &[Request<'_>]) -> Plan {
    let name = instance.metadata.name.clone().unwrap_or_default();
    let limits = Limits::of(instance);
    let base = Working {
        spec: instance.spec.clone(),
        owned: Owned::read(instance.metadata.managed_fields.as_deref().unwrap_or(&[])),
    };
    let managed = instance.metadata.managed_fields.as_deref().unwrap_or(&[]);
    let base_errors = rejections(&base.spec);
    let mut working = base.clone();
    let mut outcomes = Vec::new();
    let mut instance_events = Vec::new();
    for request in requests {
        let outcome = match check(&name, &limits, &working, request) {
            Err(outcome) => outcome,
            Ok(()) => {
                let mut next = working.clone();
                match change(&mut next, request.object, managed) {
                    Err(outcome) => outcome,
                    Ok(warnings) => {
                        let new_errors: Vec<String> = rejections(&next.spec)
                            .into_iter()
                            .filter(|e| !base_errors.contains(e))
                            .collect();
                        if new_errors.is_empty() {
                            working = next;
                            for w in &warnings {
                                instance_events.push((
                                    true,
                                    "SelfConfigSkippedRemoval",
                                    format!("{}: {w}", request_name(request.object)),
                                ));
                            }
                            if warnings.is_empty() {
                                Outcome::Applied("changes applied".into())
                            } else {
                                Outcome::Applied(format!(
                                    "changes applied with warnings: {}",
                                    warnings.join("; ")
                                ))
                            }
                        } else {
                            Outcome::Denied(format!(
                                "the change would make instance {name} invalid: {}",
                                new_errors.join("; ")
                            ))
                        }
                    }
                }
            }
        };
        match &outcome {
            Outcome::Applied(_) => instance_events.push((
                false,
                "SelfConfigApplied",
                format!(
                    "self-config request {} applied",
                    request_name(request.object)
                ),
            )),
            Outcome::Denied(m) => instance_events.push((
                true,
                "SelfConfigDenied",
                format!(
                    "self-config request {} denied: {m}",
                    request_name(request.object)
                ),
            )),
            Outcome::Failed(m) => instance_events.push((
                true,
                "SelfConfigFailed",
                format!(
                    "self-config request {} failed: {m}",
                    request_name(request.object)
                ),
            )),
        }
        outcomes.push(outcome);
    }
    let before = desired(&base);
    let after = desired(&working);
    let apply = (after != before).then(|| apply_body(instance, after));
    Plan {
        apply,
        outcomes,
        instance_events,
    }
}

/// What makes a spec unacceptable for self-configuration: the admission errors, and every issue
/// OpenClaw's own schema (of the instance's version) finds in `spec.config.raw`, at any depth,
/// so a patch the gateway would refuse is never applied. An agent's change is checked even when
/// the instance skips the schema check (`openclaw.rocks/skip-config-check`).
fn rejections(spec: &OpenClawInstanceSpec) -> BTreeSet<String> {
    validation::validate_spec(spec)
        .errors
        .into_iter()
        .chain(validation::check_config_schema(spec).errors)
        .collect()
}

fn request_name(request: &OpenClawSelfConfig) -> &str {
    request.metadata.name.as_deref().unwrap_or("")
}

/// The checks that do not depend on the change itself.
fn check(
    name: &str,
    limits: &Limits,
    working: &Working,
    request: &Request<'_>,
) -> Result<(), Outcome> {
    if request.size > limits.max_request_bytes {
        return Err(Outcome::Denied(format!(
            "the request is {} bytes; instance {name} accepts at most {} \
             (spec.selfConfigure.maxRequestBytes)",
            request.size, limits.max_request_bytes
        )));
    }
    let sc = working.spec.self_configure.as_ref();
    if sc.and_then(|s| s.enabled) != Some(true) {
        return Err(Outcome::Denied(format!(
            "self-configure is not enabled on instance {name} (spec.selfConfigure.enabled)"
        )));
    }
    if let Err(why) = &request.identity {
        return Err(Outcome::Denied(why.clone()));
    }
    let wanted = categories(request.object);
    if wanted.is_empty() {
        return Err(Outcome::Failed("the request contains no actions".into()));
    }
    let allowed: Vec<&str> = sc
        .and_then(|s| s.allowed_actions.as_ref())
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let denied: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|c| !allowed.contains(c))
        .collect();
    if !denied.is_empty() {
        return Err(Outcome::Denied(format!(
            "actions not allowed on instance {name}: {} (spec.selfConfigure.allowedActions: [{}])",
            denied.join(", "),
            allowed.join(", ")
        )));
    }
    // The webhook's checks again: the webhook may be off, or have been down (failurePolicy
    // Ignore).
    let findings = validation::validate_self_config(request.object);
    if !findings.errors.is_empty() {
        return Err(Outcome::Denied(findings.errors.join("; ")));
    }
    Ok(())
}

/// Applies one request to `w`; the warnings are removals that were skipped.
fn change(
    w: &mut Working,
    request: &OpenClawSelfConfig,
    managed: &[ManagedFieldsEntry],
) -> Result<Vec<String>, Outcome> {
    let s = &request.spec;
    let mut warnings = Vec::new();
    let mut skipped = |kind: Kind, item: &str, present: bool| {
        let owners = owners(managed, kind, item);
        warnings.push(if !present {
            format!("cannot remove {} {item:?}: it is not set", kind.noun())
        } else if owners.is_empty() {
            format!(
                "cannot remove {} {item:?}: not added by self-configuration",
                kind.noun()
            )
        } else {
            format!(
                "cannot remove {} {item:?}: managed by field manager {}",
                kind.noun(),
                owners.join(", ")
            )
        });
    };

    // Skills.
    for skill in s.remove_skills.iter().flatten() {
        let skills = w.spec.skills.get_or_insert_default();
        let present = skills.contains(skill);
        if present && w.owned.skills.contains(skill) {
            skills.retain(|x| x != skill);
            w.owned.set(Kind::Skill).remove(skill);
        } else {
            skipped(Kind::Skill, skill, present);
        }
    }
    for skill in s.add_skills.iter().flatten() {
        let skills = w.spec.skills.get_or_insert_default();
        if !skills.contains(skill) {
            skills.push(skill.clone());
            w.owned.set(Kind::Skill).insert(skill.clone());
        }
    }

    // Environment.
    for var in s.remove_env_vars.iter().flatten() {
        let env = w.spec.env.get_or_insert_default();
        let present = env.iter().any(|e| &e.name == var);
        if present && w.owned.env.contains(var) {
            env.retain(|e| &e.name != var);
            w.owned.set(Kind::Env).remove(var);
        } else {
            skipped(Kind::Env, var, present);
        }
    }
    for var in s.add_env_vars.iter().flatten() {
        let env = w.spec.env.get_or_insert_default();
        match env.iter_mut().find(|e| e.name == var.name) {
            Some(e) if e.value_from.is_some() && !w.owned.env.contains(&var.name) => {
                return Err(Outcome::Denied(format!(
                    "environment variable {:?} is set from a Secret or ConfigMap (valueFrom) in \
                     the instance spec; self-configuration does not replace it",
                    var.name
                )));
            }
            Some(e) => {
                e.value = Some(var.value.clone());
                e.value_from = None;
            }
            None => env.push(EnvVar {
                name: var.name.clone(),
                value: Some(var.value.clone()),
                value_from: None,
            }),
        }
        w.owned.set(Kind::Env).insert(var.name.clone());
    }

    // Workspace files.
    for file in s.remove_workspace_files.iter().flatten() {
        let files = w
            .spec
            .workspace
            .get_or_insert_default()
            .initial_files
            .get_or_insert_default();
        let present = files.contains_key(file);
        if present && w.owned.files.contains(file) {
            files.remove(file);
            w.owned.set(Kind::File).remove(file);
        } else {
            skipped(Kind::File, file, present);
        }
    }
    for (file, content) in s.add_workspace_files.iter().flatten() {
        w.spec
            .workspace
            .get_or_insert_default()
            .initial_files
            .get_or_insert_default()
            .insert(file.clone(), content.clone());
        w.owned.set(Kind::File).insert(file.clone());
    }

    // Config.
    if let Some(patch) = &s.config_patch
        && !patch.0.is_empty()
    {
        let config = w.spec.config.get_or_insert_default();
        if let Some(r) = &config.config_map_ref {
            return Err(Outcome::Failed(format!(
                "the instance takes its config from ConfigMap {:?} (spec.config.configMapRef), \
                 which self-configuration does not change; change that ConfigMap instead",
                r.name
            )));
        }
        if let Some(key) = patch
            .0
            .keys()
            .find(|k| PROTECTED_CONFIG_KEYS.contains(&k.as_str()))
        {
            return Err(Outcome::Denied(format!(
                "config key {key:?} is protected and cannot be changed by self-configuration"
            )));
        }
        if let Some(path) = null_at(&patch.0, "") {
            return Err(Outcome::Failed(format!(
                "configPatch sets {path} to null: removing config keys is not supported; set a \
                 value instead"
            )));
        }
        let raw = &mut config.raw.get_or_insert_default().0;
        merge(raw, &patch.0);
        w.owned.config.add_leaves(&patch.0);
    }
    Ok(warnings)
}

/// Top-level config keys self-configuration never changes (the gateway's port, bind and
/// authentication are the operator's).
pub const PROTECTED_CONFIG_KEYS: &[&str] = &["gateway"];

fn null_at(map: &Map<String, Value>, prefix: &str) -> Option<String> {
    map.iter().find_map(|(k, v)| {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Null => Some(path),
            Value::Object(inner) => null_at(inner, &path),
            _ => None,
        }
    })
}

/// Deep merge: objects merge, anything else is replaced.
pub fn merge(base: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        match (base.get_mut(key), value) {
            (Some(Value::Object(b)), Value::Object(p)) => merge(b, p),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// The part of `value` that `fields` covers.
fn project(value: &Value, fields: &Fields) -> Option<Value> {
    if fields.is_leaf() {
        return Some(value.clone());
    }
    let map = value.as_object()?;
    let out: Map<String, Value> = fields
        .0
        .iter()
        .filter_map(|(key, child)| {
            let k = key.strip_prefix("f:")?;
            Some((k.to_string(), project(map.get(k)?, child)?))
        })
        .collect();
    Some(Value::Object(out))
}

/// What self-configuration owns in `w`, in apply form (the `spec` of the apply).
fn desired(w: &Working) -> Map<String, Value> {
    let mut spec = Map::new();
    let skills: Vec<&String> = w
        .spec
        .skills
        .iter()
        .flatten()
        .filter(|s| w.owned.skills.contains(*s))
        .collect();
    if !skills.is_empty() {
        spec.insert("skills".into(), json!(skills));
    }
    let env: Vec<&EnvVar> = w
        .spec
        .env
        .iter()
        .flatten()
        .filter(|e| w.owned.env.contains(&e.name))
        .collect();
    if !env.is_empty() {
        spec.insert("env".into(), json!(env));
    }
    let files: BTreeMap<&String, &String> = w
        .spec
        .workspace
        .as_ref()
        .and_then(|ws| ws.initial_files.as_ref())
        .into_iter()
        .flatten()
        .filter(|(k, _)| w.owned.files.contains(*k))
        .collect();
    if !files.is_empty() {
        spec.insert("workspace".into(), json!({"initialFiles": files}));
    }
    if !w.owned.config.is_leaf()
        && let Some(raw) = w.spec.config.as_ref().and_then(|c| c.raw.as_ref())
        && let Some(Value::Object(part)) = project(&Value::Object(raw.0.clone()), &w.owned.config)
        && !part.is_empty()
    {
        spec.insert("config".into(), json!({"raw": part}));
    }
    spec
}

fn apply_body(instance: &OpenClawInstance, spec: Map<String, Value>) -> Value {
    json!({
        "apiVersion": "openclaw.rocks/v1alpha1",
        "kind": "OpenClawInstance",
        "metadata": {
            "name": instance.metadata.name,
            "namespace": instance.metadata.namespace,
        },
        "spec": spec,
    })
}

/// Where a request stands among the requests waiting for its instance (`pending`: their
/// names, oldest first): its 0-based place, or `None` when it is not among them.
pub fn rank(pending: &[String], name: &str) -> Option<usize> {
    pending.iter().position(|n| n == name)
}

/// The ServiceAccount username of an instance's pods.
pub fn agent_username(namespace: &str, service_account: &str) -> String {
    format!("system:serviceaccount:{namespace}:{service_account}")
}

/// The identity rule: a request from the instance's own ServiceAccount may change it; any
/// other ServiceAccount of an agent may not; everyone else needs the right to patch the
/// instance (`None`: ask the API server with a SubjectAccessReview).
pub fn identity(
    requester: Option<&str>,
    instance: &str,
    namespace: &str,
    own_service_account: &str,
    agent_accounts: &BTreeMap<String, String>,
) -> Option<Result<(), String>> {
    let Some(user) = requester.filter(|u| !u.is_empty()) else {
        return Some(Err(format!(
            "the request does not say who created it (annotation {}): requests are accepted \
             only through the operator's admission webhook, which records the requester",
            openclaw_api::selfconfig::REQUESTED_BY_ANNOTATION
        )));
    };
    if user == agent_username(namespace, own_service_account) {
        return Some(Ok(()));
    }
    if let Some(other) = agent_accounts.get(user) {
        return Some(Err(format!(
            "requested by {user}, the identity of instance {other}: an agent may change only \
             its own instance, not {instance}"
        )));
    }
    None
}

#[cfg(test)]
#[path = "selfconfig_plan_tests.rs"]
mod tests;
