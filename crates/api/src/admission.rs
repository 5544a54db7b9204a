//! Admission decisions as pure functions: what the validating and mutating webhooks answer for
//! a request, without HTTP, TLS or a cluster.
//!
//! The webhook (`openclaw-operator`'s `webhook` module) turns an `AdmissionReview` into an
//! [`Operation`] plus the raw `object` / `oldObject`, calls [`admit_instance`] or
//! [`admit_self_config`], and turns the [`Verdict`] back into an `AdmissionResponse`.
//!
//! # Validation
//!
//! The checks are those of [`crate::validation`]. Every error is reported at once (the Go
//! webhook stopped at the first one), and warnings are returned even when the request is denied
//! (the Go webhook dropped them on error).
//!
//! Updates that leave `spec` unchanged (metadata edits, finalizer removal, label changes) are
//! always allowed, without warnings: an object stored before a check existed, or while the
//! webhook was down, must never become impossible to relabel or to delete. This is the same
//! "ratcheting" the API server applies to CRD schema rules.
//!
//! # Defaulting
//!
//! [`instance_defaults`] returns nothing, on purpose. Each default of the Go defaulter is
//! listed in [`GO_DEFAULTS`] with the reason it is not written by the webhook: every one is
//! either a CRD schema default (the API server fills it whenever the parent object is present)
//! or a fallback the controller applies at render time, field by field. Writing them into the
//! stored object would
//!
//! - freeze out `OpenClawClusterDefaults` where the merge treats "unset" differently from an
//!   explicit value (image, registry, env, runtime dependencies);
//! - pin today's operator defaults (resources, security contexts) into every object, so a later
//!   operator release could not improve them, and turn "raise the default limit to a larger
//!   request" into an invalid pod (request above the frozen limit);
//! - replace the renderer's per-field security defaults (an unset `runAsNonRoot` follows the
//!   sidecars that need root) with a whole struct filled once;
//! - make GitOps tools (Argo CD, Flux) report a permanent diff for fields nobody wrote.
//!
//! The endpoint is still served (controller-runtime's path, so manifests written for the Go
//! operator keep working) and answers with an empty JSON patch.

use serde_json::Value;

use crate::selfconfig::OpenClawSelfConfig;
use crate::validation::{Findings, validate, validate_self_config};
use crate::{GROUP, OpenClawInstance, VERSION};

/// The admission operation of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `CREATE`
    Create,
    /// `UPDATE`
    Update,
    /// `DELETE`
    Delete,
    /// `CONNECT`
    Connect,
}

/// What the webhook answers: allowed when there are no errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Reasons to deny the request; empty means allowed.
    pub errors: Vec<String>,
    /// Warnings returned to the client, also when the request is denied.
    pub warnings: Vec<String>,
}

impl Verdict {
    /// Allowed, nothing to say.
    pub fn allow() -> Self {
        Self::default()
    }

    /// Denied for one reason.
    pub fn deny(reason: impl Into<String>) -> Self {
        Self {
            errors: vec![reason.into()],
            warnings: Vec::new(),
        }
    }

    /// No errors.
    pub fn allowed(&self) -> bool {
        self.errors.is_empty()
    }

    /// The denial message: every error, numbered when there are several. `None` when allowed.
    pub fn message(&self, kind: &str, name: &str) -> Option<String> {
        let subject = if name.is_empty() {
            kind.to_string()
        } else {
            format!("{kind} {name:?}")
        };
        match self.errors.as_slice() {
            [] => None,
            [one] => Some(format!("{subject} is invalid: {one}")),
            many => Some(format!(
                "{subject} is invalid ({} errors): {}",
                many.len(),
                many.iter()
                    .enumerate()
                    .map(|(i, e)| format!("({}) {e}", i + 1))
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
        }
    }
}

impl From<Findings> for Verdict {
    fn from(f: Findings) -> Self {
        Self {
            errors: f.errors,
            warnings: f.warnings,
        }
    }
}

/// The `spec` of a raw object (`null` when absent), for the "spec unchanged" comparison.
/// An update that changes nothing the checks look at: the spec is unchanged (a metadata or
/// finalizer change, e.g. the operator adding or releasing `openclaw.rocks/finalizer`), or the
/// object is being deleted. Admission allows it as it is, so a stored object that today's
/// checks would refuse can still be finalized.
pub fn spec_unchanged_or_deleting(object: &Value, old: Option<&Value>) -> bool {
    has_deletion_timestamp(object) || old.is_some_and(|old| spec_of(old) == spec_of(object))
}

fn spec_of(object: &Value) -> &Value {
    object.get("spec").unwrap_or(&Value::Null)
}

fn has_deletion_timestamp(object: &Value) -> bool {
    object
        .get("metadata")
        .and_then(|m| m.get("deletionTimestamp"))
        .is_some_and(|t| !t.is_null())
}

fn parse<T: serde::de::DeserializeOwned>(kind: &str, object: &Value) -> Result<T, String> {
    let api_version = object.get("apiVersion").and_then(Value::as_str);
    let found_kind = object.get("kind").and_then(Value::as_str);
    let expected = format!("{GROUP}/{VERSION}");
    if let (Some(v), Some(k)) = (api_version, found_kind)
        && (v != expected || k != kind)
    {
        return Err(format!(
            "this webhook handles {expected} {kind}, but was sent {v} {k}; check the rules of the webhook configuration"
        ));
    }
    serde_json::from_value(object.clone())
        .map_err(|e| format!("the object cannot be read as {expected} {kind}: {e}"))
}

/// The shared skeleton: DELETE/CONNECT pass, a missing object or an unchanged spec passes,
/// otherwise `check` runs on the parsed new (and old) object.
fn admit<T: serde::de::DeserializeOwned>(
    kind: &str,
    operation: Operation,
    object: Option<&Value>,
    old: Option<&Value>,
    check: impl FnOnce(&T, Option<&T>) -> Findings,
) -> Verdict {
    if matches!(operation, Operation::Delete | Operation::Connect) {
        return Verdict::allow();
    }
    let Some(object) = object else {
        return Verdict::deny(format!("the request carries no {kind} object"));
    };
    if operation == Operation::Update && old.is_some() && spec_unchanged_or_deleting(object, old) {
        return Verdict::allow();
    }
    let new: T = match parse(kind, object) {
        Ok(v) => v,
        Err(e) => return Verdict::deny(e),
    };
    let mut extra_warnings = Vec::new();
    let old: Option<T> = match (operation, old) {
        (Operation::Update, Some(old)) => match parse(kind, old) {
            Ok(v) => Some(v),
            Err(e) => {
                extra_warnings.push(format!(
                    "the stored object could not be read, so update-only checks were skipped: {e}"
                ));
                None
            }
        },
        _ => None,
    };
    let mut verdict = Verdict::from(check(&new, old.as_ref()));
    verdict.warnings.extend(extra_warnings);
    verdict
}

/// Admission of an `OpenClawInstance` (`object` and `old` are the raw request objects).
pub fn admit_instance(
    operation: Operation,
    object: Option<&Value>,
    old: Option<&Value>,
) -> Verdict {
    admit::<OpenClawInstance>("OpenClawInstance", operation, object, old, validate)
}

/// [`admit_instance`], plus the warnings `more` finds for the new object (the webhook passes
/// the renderer's), called only when the checks run at all. They are anchored to a field path,
/// and dropped when they repeat a warning or concern a field that already has an error (see
/// [`Findings::add_warnings`]).
pub fn admit_instance_with(
    operation: Operation,
    object: Option<&Value>,
    old: Option<&Value>,
    more: impl FnOnce(&OpenClawInstance) -> Vec<String>,
) -> Verdict {
    admit::<OpenClawInstance>("OpenClawInstance", operation, object, old, |new, old| {
        let mut f = validate(new, old);
        f.add_warnings(more(new));
        f
    })
}

/// One cause of a denial for `Status.details.causes`: the field path and the message without
/// it (see [`crate::validation::split_field`]); never an empty field.
pub fn cause(error: &str) -> (String, String) {
    let (field, message) = crate::validation::split_field(error);
    (field.to_string(), message.to_string())
}

/// Admission of an `OpenClawSelfConfig`.
pub fn admit_self_config(
    operation: Operation,
    object: Option<&Value>,
    old: Option<&Value>,
) -> Verdict {
    admit::<OpenClawSelfConfig>("OpenClawSelfConfig", operation, object, old, |new, _old| {
        validate_self_config(new)
    })
}

/// One value the mutating webhook would fill: a JSON pointer (RFC 6901) into the object and the
/// value to add there when nothing is set at that place. Parents that do not exist are created
/// as empty objects; a value that is present (even `null`, `""` or `{}`) is never replaced.
#[derive(Debug, Clone, PartialEq)]
pub struct Defaulted {
    /// Where, e.g. `/spec/image/pullPolicy`.
    pub pointer: String,
    /// What.
    pub value: Value,
}

/// Where a default of the Go defaulter is applied in this operator instead of the webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultedBy {
    /// A `default:` in the CRD schema at this pointer (API-server structural defaulting); the
    /// controller falls back to the same value when the parent object is absent.
    CrdSchema,
    /// The controller's render step falls back to the value, field by field.
    Renderer,
}

/// The defaults of the Go operator's (never registered) defaulter, as
/// `(JSON pointer, value, where we apply it)`. The webhook writes none of them; see the module
/// documentation. Tests keep this table honest against the CRD and the renderer.
pub const GO_DEFAULTS: &[(&str, &str, DefaultedBy)] = &[
    (
        "/spec/image/repository",
        "\"ghcr.io/openclaw/openclaw\"",
        DefaultedBy::CrdSchema,
    ),
    ("/spec/image/tag", "\"latest\"", DefaultedBy::CrdSchema),
    (
        "/spec/image/pullPolicy",
        "\"IfNotPresent\"",
        DefaultedBy::CrdSchema,
    ),
    (
        "/spec/config/mergeMode",
        "\"overwrite\"",
        DefaultedBy::CrdSchema,
    ),
    ("/spec/config/format", "\"json\"", DefaultedBy::CrdSchema),
    (
        "/spec/security/podSecurityContext/runAsUser",
        "1000",
        DefaultedBy::Renderer,
    ),
    (
        "/spec/security/podSecurityContext/runAsGroup",
        "1000",
        DefaultedBy::Renderer,
    ),
    (
        "/spec/security/podSecurityContext/fsGroup",
        "1000",
        DefaultedBy::Renderer,
    ),
    (
        "/spec/security/podSecurityContext/runAsNonRoot",
        "true",
        DefaultedBy::Renderer,
    ),
    (
        "/spec/security/containerSecurityContext/allowPrivilegeEscalation",
        "false",
        DefaultedBy::Renderer,
    ),
    (
        "/spec/security/containerSecurityContext/readOnlyRootFilesystem",
        "true",
        DefaultedBy::Renderer,
    ),
    (
        "/spec/resources/requests/cpu",
        "\"500m\"",
        DefaultedBy::Renderer,
    ),
    (
        "/spec/resources/requests/memory",
        "\"1Gi\"",
        DefaultedBy::Renderer,
    ),
    (
        "/spec/resources/limits/cpu",
        "\"2000m\"",
        DefaultedBy::Renderer,
    ),
    (
        "/spec/resources/limits/memory",
        "\"4Gi\"",
        DefaultedBy::Renderer,
    ),
    (
        "/spec/storage/persistence/enabled",
        "true",
        DefaultedBy::CrdSchema,
    ),
    (
        "/spec/storage/persistence/size",
        "\"10Gi\"",
        DefaultedBy::CrdSchema,
    ),
    (
        "/spec/networking/service/type",
        "\"ClusterIP\"",
        DefaultedBy::CrdSchema,
    ),
    ("/spec/autoUpdate/enabled", "false", DefaultedBy::CrdSchema),
    (
        "/spec/autoUpdate/checkInterval",
        "\"24h\"",
        DefaultedBy::CrdSchema,
    ),
    (
        "/spec/autoUpdate/backupBeforeUpdate",
        "true",
        DefaultedBy::CrdSchema,
    ),
    (
        "/spec/autoUpdate/rollbackOnFailure",
        "true",
        DefaultedBy::CrdSchema,
    ),
    (
        "/spec/autoUpdate/healthCheckTimeout",
        "\"10m\"",
        DefaultedBy::CrdSchema,
    ),
];

/// The values the mutating webhook fills into an `OpenClawInstance`: none (see the module
/// documentation for why). Kept as a function so the webhook's patch machinery stays in place
/// should a default that is safe to persist ever be needed.
pub fn instance_defaults(_instance: &OpenClawInstance) -> Vec<Defaulted> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

    use super::*;
    use serde_json::json;

    fn instance(spec: Value) -> Value {
        json!({
            "apiVersion": "openclaw.rocks/v1alpha1",
            "kind": "OpenClawInstance",
            "metadata": {"name": "demo", "namespace": "ns"},
            "spec": spec,
        })
    }

    fn with_key(mut spec: Value) -> Value {
        spec["envFrom"] = json!([{"secretRef": {"name": "keys"}}]);
        spec
    }

    #[test]
    fn valid_instance_is_allowed_without_warnings() {
        let obj = instance(with_key(json!({"image": {"tag": "2026.9.6"}})));
        let v = admit_instance(Operation::Create, Some(&obj), None);
        assert!(v.allowed(), "{v:?}");
        assert!(v.warnings.is_empty(), "{v:?}");
        assert_eq!(v.message("OpenClawInstance", "demo"), None);
    }

    #[test]
    fn every_error_is_reported_with_warnings() {
        let obj = instance(json!({
            "security": {"podSecurityContext": {"runAsUser": 0, "runAsNonRoot": false}},
            "skills": ["bad skill"],
            "resources": {"limits": {"cpu": "lots"}},
        }));
        let v = admit_instance(Operation::Create, Some(&obj), None);
        assert!(!v.allowed());
        assert_eq!(v.errors.len(), 3, "{v:?}");
        let msg = v.message("OpenClawInstance", "demo").unwrap();
        assert!(
            msg.starts_with("OpenClawInstance \"demo\" is invalid (3 errors): (1) "),
            "{msg}"
        );
        for part in ["UID 0", "skills[0]", "spec.resources.limits.cpu"] {
            assert!(msg.contains(part), "{part} missing in {msg}");
        }
        assert!(
            v.warnings.iter().any(|w| w.contains("runAsNonRoot")),
            "{v:?}"
        );
        assert!(
            v.warnings
                .iter()
                .any(|w| w.contains("No AI provider API keys")),
            "{v:?}"
        );
    }

    #[test]
    fn single_error_message_is_not_numbered() {
        let v = Verdict::deny("boom");
        assert_eq!(
            v.message("OpenClawSelfConfig", "").unwrap(),
            "OpenClawSelfConfig is invalid: boom"
        );
    }

    #[test]
    fn storage_class_change_is_denied_on_update() {
        let sc = |c: &str| {
            instance(with_key(
                json!({"storage": {"persistence": {"storageClass": c}}}),
            ))
        };
        let v = admit_instance(Operation::Update, Some(&sc("fast")), Some(&sc("slow")));
        assert!(!v.allowed());
        assert!(v.errors[0].contains("immutable"), "{v:?}");
        let same = admit_instance(Operation::Update, Some(&sc("slow")), Some(&sc("slow")));
        assert!(same.allowed());
    }

    #[test]
    fn unchanged_spec_and_deletion_are_allowed() {
        let bad = instance(json!({"security": {"podSecurityContext": {"runAsUser": 0}}}));
        let mut relabelled = bad.clone();
        relabelled["metadata"]["labels"] = json!({"a": "b"});
        assert_eq!(
            admit_instance(Operation::Update, Some(&relabelled), Some(&bad)),
            Verdict::allow()
        );
        assert_eq!(
            admit_instance(Operation::Delete, None, Some(&bad)),
            Verdict::allow()
        );
        assert_eq!(
            admit_instance(Operation::Connect, None, None),
            Verdict::allow()
        );
        let mut deleting = bad.clone();
        deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        deleting["spec"]["suspended"] = json!(true);
        assert!(admit_instance(Operation::Update, Some(&deleting), Some(&bad)).allowed());
        // A changed spec is checked again.
        let mut changed = bad.clone();
        changed["spec"]["suspended"] = json!(true);
        assert!(!admit_instance(Operation::Update, Some(&changed), Some(&bad)).allowed());
    }

    #[test]
    fn unreadable_objects_are_denied_clearly() {
        let obj = instance(json!({"skills": "not-a-list"}));
        let v = admit_instance(Operation::Create, Some(&obj), None);
        assert!(!v.allowed());
        assert!(
            v.errors[0].contains("cannot be read as openclaw.rocks/v1alpha1 OpenClawInstance"),
            "{v:?}"
        );

        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}});
        let v = admit_instance(Operation::Create, Some(&pod), None);
        assert!(v.errors[0].contains("was sent v1 Pod"), "{v:?}");

        let v = admit_instance(Operation::Create, None, None);
        assert!(v.errors[0].contains("no OpenClawInstance object"), "{v:?}");
    }

    #[test]
    fn unreadable_old_object_skips_update_checks_with_a_warning() {
        let new = instance(with_key(json!({"suspended": true})));
        let old = instance(json!({"skills": 3}));
        let v = admit_instance(Operation::Update, Some(&new), Some(&old));
        assert!(v.allowed(), "{v:?}");
        assert!(
            v.warnings
                .iter()
                .any(|w| w.contains("update-only checks were skipped"))
        );
    }

    #[test]
    fn self_config_checks() {
        let sc = |spec: Value| {
            json!({
                "apiVersion": "openclaw.rocks/v1alpha1",
                "kind": "OpenClawSelfConfig",
                "metadata": {"name": "req"},
                "spec": spec,
            })
        };
        let ok = sc(json!({"instanceRef": "demo", "addSkills": ["weather"]}));
        assert!(admit_self_config(Operation::Create, Some(&ok), None).allowed());
        let bad = sc(json!({"instanceRef": "", "configPatch": {"gateway": {}}}));
        let v = admit_self_config(Operation::Create, Some(&bad), None);
        assert_eq!(v.errors.len(), 2, "{v:?}");
        assert!(admit_self_config(Operation::Delete, None, Some(&bad)).allowed());
        // An instance sent to the self-config endpoint is a configuration mistake.
        let inst = instance(json!({}));
        assert!(!admit_self_config(Operation::Create, Some(&inst), None).allowed());
    }

    #[test]
    fn the_defaulter_writes_nothing() {
        let obj: OpenClawInstance = serde_json::from_value(instance(json!({}))).unwrap();
        assert!(instance_defaults(&obj).is_empty());
    }

    /// The schema node at a JSON pointer below the instance's root schema.
    fn schema_at<'a>(root: &'a Value, pointer: &str) -> Option<&'a Value> {
        pointer
            .split('/')
            .skip(1)
            .try_fold(root, |node, seg| node.get("properties")?.get(seg))
    }

    #[test]
    fn go_defaults_taken_over_by_the_crd_schema_are_in_the_schema() {
        let crd = crate::crd::all()
            .into_iter()
            .find(|c| c.spec.names.kind == "OpenClawInstance")
            .unwrap();
        let schema = serde_json::to_value(
            crd.spec.versions[0]
                .schema
                .as_ref()
                .unwrap()
                .open_api_v3_schema
                .as_ref()
                .unwrap(),
        )
        .unwrap();
        for (pointer, value, by) in GO_DEFAULTS {
            let node = schema_at(&schema, pointer);
            assert!(node.is_some(), "{pointer} is not in the CRD schema");
            if *by == DefaultedBy::CrdSchema {
                let want: Value = serde_json::from_str(value).unwrap();
                assert_eq!(
                    node.and_then(|n| n.get("default")),
                    Some(&want),
                    "CRD default of {pointer}"
                );
            }
        }
    }
}
