//! OpenClaw's config schema for one version (the JSON Schema, draft-07, that
//! `openclaw config schema` prints), and checks of an `openclaw.json` against it that report
//! issues the way `openclaw config validate` does: OpenClaw's dotted path (`agents.defaults`)
//! and its wording (`Unrecognized key: "bogus"`, `Invalid input: expected number, received
//! string`).

use std::fmt;
use std::io::Read;

use flate2::read::GzDecoder;
use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

/// One reason a config does not conform, as OpenClaw would report it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Issue {
    /// Dotted path of the offending value (`gateway.port`), `<root>` for the root.
    pub path: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() || self.path == ROOT {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The embedded schema could not be used (a broken build, never the user's input).
#[derive(Clone, Debug, thiserror::Error)]
#[error("the embedded config schema of OpenClaw {version} is unusable: {reason}")]
pub struct SchemaError {
    version: String,
    reason: String,
}

/// One version's config schema, compiled.
pub struct Schema {
    root: Value,
    validator: Validator,
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Schema")
    }
}

/// Most issues reported for one config (the rest are summarised).
const MAX_ISSUES: usize = 20;

impl Schema {
    pub(crate) fn from_gzip(version: &str, gz: &[u8]) -> Result<Self, SchemaError> {
        let err = |reason: String| SchemaError {
            version: version.to_string(),
            reason,
        };
        let mut text = String::new();
        GzDecoder::new(gz)
            .read_to_string(&mut text)
            .map_err(|e| err(format!("decompressing: {e}")))?;
        let mut root: Value =
            serde_json::from_str(&text).map_err(|e| err(format!("parsing: {e}")))?;
        rust_patterns(&mut root);
        local_refs(&mut root, "", &[]);
        Self::new(root).map_err(err)
    }

    /// Compiles a schema (draft-07; `format` is not checked, as OpenClaw checks none of its
    /// formats strictly).
    pub fn new(root: Value) -> Result<Self, String> {
        let validator = jsonschema::draft7::options()
            .should_validate_formats(false)
            .build(&root)
            .map_err(|e| format!("compiling: {e}"))?;
        Ok(Self { root, validator })
    }

    /// The schema as JSON.
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// Every issue of `config`, sorted by path, at most [`MAX_ISSUES`] (then one more that says
    /// how many were left out). Empty when the config conforms.
    pub fn check(&self, config: &Value) -> Vec<Issue> {
        if self.validator.is_valid(config) {
            return Vec::new();
        }
        let mut issues: Vec<Issue> = self
            .validator
            .iter_errors(config)
            .flat_map(|e| issues_of(&e, config))
            .collect();
        issues.sort();
        issues.dedup();
        if issues.len() > MAX_ISSUES {
            let more = issues.len() - MAX_ISSUES;
            issues.truncate(MAX_ISSUES);
            issues.push(Issue {
                path: String::new(),
                message: format!("... and {more} more issues"),
            });
        }
        issues
    }

    /// Whether an object at `path` may hold a key `path`'s last segment, as far as the schema
    /// says: each segment must be a declared property (or allowed by `additionalProperties` /
    /// `patternProperties`) of an object schema. Used to inject only keys this version knows.
    pub fn accepts(&self, path: &[&str]) -> bool {
        let mut node = &self.root;
        for key in path {
            match property_schema(node, key) {
                Some(next) => node = next,
                None => return false,
            }
        }
        true
    }
}

/// The subschema for property `key` of the object schema `node`; `None` when the key is not
/// allowed. Looks through `anyOf`/`oneOf`/`allOf` branches that describe objects.
fn property_schema<'a>(node: &'a Value, key: &str) -> Option<&'a Value> {
    static ANY: Value = Value::Bool(true);
    let obj = node.as_object()?;
    if let Some(p) = obj.get("properties").and_then(|p| p.get(key)) {
        return Some(p);
    }
    for keyword in ["anyOf", "oneOf", "allOf"] {
        if let Some(branches) = obj.get(keyword).and_then(Value::as_array) {
            for b in branches {
                if let Some(found) = property_schema(b, key) {
                    return Some(found);
                }
            }
        }
    }
    if let Some(pp) = obj.get("patternProperties").and_then(Value::as_object) {
        for (pattern, sub) in pp {
            if regex_lite_match(pattern, key) {
                return Some(sub);
            }
        }
    }
    match obj.get("additionalProperties") {
        Some(Value::Bool(false)) => None,
        Some(Value::Bool(true)) => Some(&ANY),
        Some(sub @ Value::Object(_)) => Some(sub),
        // Absent: only an object schema without the keyword allows anything.
        None if obj.get("type").and_then(Value::as_str) == Some("object") => Some(&ANY),
        _ => None,
    }
}

/// `patternProperties` in OpenClaw's schemas are simple anchored classes; a key the operator
/// injects is never matched through them, so only `^.*$`-like catch-alls count.
fn regex_lite_match(pattern: &str, _key: &str) -> bool {
    matches!(pattern, "^.*$" | ".*" | "^(.*)$")
}

/// Rewrites the ECMAScript escape `\0` (NUL), which the pattern engine does not know, as
/// `\x00` (the same character in both dialects) in every `pattern` and `patternProperties` key.
fn rust_patterns(node: &mut Value) {
    fn fix(p: &str) -> String {
        let mut out = String::with_capacity(p.len());
        let mut chars = p.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('0') if !chars.peek().is_some_and(char::is_ascii_digit) => {
                    out.push_str("\\x00")
                }
                Some(n) => {
                    out.push('\\');
                    out.push(n);
                }
                None => out.push('\\'),
            }
        }
        out
    }
    match node {
        Value::Object(map) => {
            if let Some(Value::String(p)) = map.get_mut("pattern") {
                *p = fix(p);
            }
            if let Some(Value::Object(pp)) = map.get_mut("patternProperties") {
                let fixed: serde_json::Map<String, Value> = std::mem::take(pp)
                    .into_iter()
                    .map(|(k, v)| (fix(&k), v))
                    .collect();
                *pp = fixed;
            }
            map.values_mut().for_each(rust_patterns);
        }
        Value::Array(items) => items.iter_mut().for_each(rust_patterns),
        _ => {}
    }
}

/// Plugin config schemas are embedded whole, each with its own `$defs` and references such as
/// `#/$defs/account` that mean *its* root (OpenClaw checks a plugin's config against the plugin's
/// schema on its own). Rewrites each such reference to the absolute pointer of the nearest
/// enclosing schema that defines it, so one validator can check the whole config.
fn local_refs(node: &mut Value, pointer: &str, scopes: &[(String, Vec<String>)]) {
    match node {
        Value::Object(map) => {
            let mut own: Vec<(String, Vec<String>)> = scopes.to_vec();
            for keyword in ["$defs", "definitions"] {
                if let Some(Value::Object(defs)) = map.get(keyword)
                    && !pointer.is_empty()
                {
                    own.push((
                        format!("{pointer}/{keyword}"),
                        defs.keys()
                            .map(|k| format!("#/{keyword}/{}", escape(k)))
                            .collect(),
                    ));
                }
            }
            if let Some(Value::String(r)) = map.get_mut("$ref") {
                let target = own.iter().rev().find_map(|(abs, names)| {
                    names.iter().find_map(|n| {
                        let rest = r.strip_prefix(n.as_str())?;
                        (rest.is_empty() || rest.starts_with('/')).then(|| {
                            let keyword_and_name = &n[1..];
                            let base = abs.rsplit_once('/').map(|(b, _)| b).unwrap_or("");
                            format!("#{base}{keyword_and_name}{rest}")
                        })
                    })
                });
                if let Some(t) = target {
                    *r = t;
                }
            }
            for (k, v) in map.iter_mut() {
                local_refs(v, &format!("{pointer}/{}", escape(k)), &own);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                local_refs(v, &format!("{pointer}/{i}"), scopes);
            }
        }
        _ => {}
    }
}

/// A JSON pointer token.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// OpenClaw's name of the config's root in an issue's path.
pub const ROOT: &str = "<root>";

/// OpenClaw's dotted path of a JSON pointer (`/agents/list/0` → `agents.list.0`, `` → `<root>`).
fn dotted(pointer: &str) -> String {
    if pointer.is_empty() {
        return ROOT.to_string();
    }
    pointer
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

/// `channels.<id>`: a channel's own config object.
fn is_channel(path: &str) -> bool {
    path.strip_prefix("channels.")
        .is_some_and(|rest| !rest.is_empty() && !rest.contains('.'))
}

fn join(path: &str, key: &str) -> String {
    if path == ROOT {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Zod's name of an expected type: `int` only when a number was given (1.5 for an integer),
/// else `number`.
fn expected_kind(kind: &TypeKind, received: &str) -> String {
    let name = |t: &jsonschema::JsonType| match t.to_string().as_str() {
        "integer" if received == "number" => "int".to_string(),
        "integer" => "number".to_string(),
        other => other.to_string(),
    };
    match kind {
        TypeKind::Single(t) => name(t),
        TypeKind::Multiple(set) => set.iter().map(|t| name(&t)).collect::<Vec<_>>().join(" | "),
    }
}

fn listed(options: &Value) -> String {
    match options {
        Value::Array(items) => items
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// The value at a JSON pointer in `config` (for "received ...").
fn at<'a>(config: &'a Value, pointer: &str) -> Option<&'a Value> {
    config.pointer(pointer)
}

fn issues_of(e: &ValidationError<'_>, config: &Value) -> Vec<Issue> {
    let pointer = e.instance_path().as_str().to_string();
    let path = dotted(&pointer);
    let received = || at(config, &pointer).map(json_kind).unwrap_or("undefined");
    let one = |message: String| {
        vec![Issue {
            path: path.clone(),
            message,
        }]
    };
    match e.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let keys = unexpected
                .iter()
                .map(|k| format!("{k:?}"))
                .collect::<Vec<_>>();
            if is_channel(&path) {
                // Channel configs are checked by the channel's own JSON Schema, in its words.
                return one(format!(
                    "invalid config: must not have additional properties: {}",
                    keys.join(", ")
                ));
            }
            let noun = if keys.len() == 1 { "key" } else { "keys" };
            one(format!("Unrecognized {noun}: {}", keys.join(", ")))
        }
        ValidationErrorKind::Type { kind } => {
            let expected = expected_kind(kind, received());
            let allowed = if expected == "boolean" {
                " (allowed: true, false)"
            } else {
                ""
            };
            one(format!(
                "Invalid input: expected {expected}, received {}{allowed}",
                received()
            ))
        }
        ValidationErrorKind::Enum { options } => {
            one(format!("Invalid input (allowed: {})", listed(options)))
        }
        ValidationErrorKind::Constant { expected_value } => {
            one(format!("Invalid input: expected {expected_value}"))
        }
        ValidationErrorKind::Required { property } => {
            let key = property.as_str().map(str::to_string).unwrap_or_default();
            vec![Issue {
                path: join(&path, &key),
                message: "Invalid input: expected a value, received undefined".to_string(),
            }]
        }
        ValidationErrorKind::Minimum { limit } => {
            one(format!("Too small: expected number to be >={limit}"))
        }
        ValidationErrorKind::ExclusiveMinimum { limit } => {
            one(format!("Too small: expected number to be >{limit}"))
        }
        ValidationErrorKind::Maximum { limit } => {
            one(format!("Too big: expected number to be <={limit}"))
        }
        ValidationErrorKind::ExclusiveMaximum { limit } => {
            one(format!("Too big: expected number to be <{limit}"))
        }
        ValidationErrorKind::MinLength { limit } => one(format!(
            "Too small: expected string to have >={limit} characters"
        )),
        ValidationErrorKind::MaxLength { limit } => one(format!(
            "Too big: expected string to have <={limit} characters"
        )),
        ValidationErrorKind::MinItems { limit } => {
            one(format!("Too small: expected array to have >={limit} items"))
        }
        ValidationErrorKind::MaxItems { limit } => {
            one(format!("Too big: expected array to have <={limit} items"))
        }
        ValidationErrorKind::Pattern { pattern } => {
            one(format!("Invalid string: must match pattern /{pattern}/"))
        }
        ValidationErrorKind::PropertyNames { error } => {
            let key = error.instance().as_str().map(str::to_string);
            let mut inner = issues_of(error, &Value::Null);
            for i in &mut inner {
                i.path = path.clone();
                if let Some(k) = &key {
                    i.message = format!("Invalid key {k:?}: {}", i.message);
                }
            }
            inner
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            union_issues(&path, context, config)
        }
        _ => one(e.to_string()),
    }
}

/// A value no branch of a union accepts. When the value's type fits exactly one branch (an
/// object where the other branches are strings, say), that branch's issues are the useful
/// ones; otherwise OpenClaw's own wording for a union: "Invalid input".
fn union_issues(
    path: &str,
    context: &[Vec<ValidationError<'static>>],
    config: &Value,
) -> Vec<Issue> {
    // A union of literals (`"local" | "remote"`): OpenClaw lists what is allowed.
    let mut allowed = Vec::new();
    let literals = context.iter().all(|branch| {
        branch.iter().all(|e| {
            dotted(e.instance_path().as_str()) == path
                && match e.kind() {
                    ValidationErrorKind::Constant { expected_value } => {
                        allowed.push(expected_value.to_string());
                        true
                    }
                    ValidationErrorKind::Enum { options } => {
                        allowed.push(listed(options));
                        true
                    }
                    // `{"type": "string", "const": "x"}`: the type error comes with the const one.
                    ValidationErrorKind::Type { .. } => true,
                    _ => false,
                }
        })
    });
    if literals && !allowed.is_empty() {
        allowed.dedup();
        return vec![Issue {
            path: path.to_string(),
            message: format!("Invalid input (allowed: {})", allowed.join(", ")),
        }];
    }
    let typed: Vec<&Vec<ValidationError<'static>>> = context
        .iter()
        .filter(|branch| {
            !branch.iter().any(|e| {
                matches!(
                    e.kind(),
                    ValidationErrorKind::Type { .. }
                        | ValidationErrorKind::Constant { .. }
                        | ValidationErrorKind::Enum { .. }
                ) && dotted(e.instance_path().as_str()) == path
            })
        })
        .collect();
    if let [branch] = typed.as_slice() {
        return branch.iter().flat_map(|e| issues_of(e, config)).collect();
    }
    vec![Issue {
        path: path.to_string(),
        message: "Invalid input".to_string(),
    }]
}
