//! The admission endpoints: `AdmissionReview` in, `AdmissionReview` out. The decisions are made
//! by [`openclaw_api::admission`]; this module only translates.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation, RemoveOperation};
use kube::core::DynamicObject;
use kube::core::Status;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::response::{StatusCause, StatusDetails};
use openclaw_api::admission::{
    self, Defaulted, Operation as AdmissionOperation, Verdict, admit_instance_with,
    admit_self_config,
};
use openclaw_api::selfconfig::{REQUESTED_BY_ANNOTATION, REQUESTED_BY_GROUPS_ANNOTATION};
use serde_json::Value;

/// Validating webhook for `OpenClawInstance` (controller-runtime's path).
pub const VALIDATE_INSTANCE_PATH: &str = "/validate-openclaw-rocks-v1alpha1-openclawinstance";
/// Mutating (defaulting) webhook for `OpenClawInstance`.
pub const MUTATE_INSTANCE_PATH: &str = "/mutate-openclaw-rocks-v1alpha1-openclawinstance";
/// Validating webhook for `OpenClawSelfConfig`.
pub const VALIDATE_SELF_CONFIG_PATH: &str = "/validate-openclaw-rocks-v1alpha1-openclawselfconfig";
/// Mutating webhook for `OpenClawSelfConfig`: records who created the request.
pub const MUTATE_SELF_CONFIG_PATH: &str = "/mutate-openclaw-rocks-v1alpha1-openclawselfconfig";
/// Liveness/readiness of the webhook server itself.
pub const HEALTH_PATH: &str = "/healthz";

/// The API server sends at most ~3 MiB per review (two objects of up to 1.5 MiB).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// The admission routes (no TLS).
pub fn router() -> Router {
    Router::new()
        .route(VALIDATE_INSTANCE_PATH, post(validate_instance))
        .route(MUTATE_INSTANCE_PATH, post(mutate_instance))
        .route(VALIDATE_SELF_CONFIG_PATH, post(validate_self_config))
        .route(MUTATE_SELF_CONFIG_PATH, post(mutate_self_config))
        .route(HEALTH_PATH, get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

type Request = AdmissionRequest<DynamicObject>;

/// Parses the body; a malformed review is a 400 (the API server then applies the
/// failurePolicy), never a panic.
fn parse(body: &[u8]) -> Result<Request, (StatusCode, String)> {
    let review: AdmissionReview<DynamicObject> = serde_json::from_slice(body).map_err(|e| {
        tracing::warn!(error = %e, "malformed AdmissionReview");
        (
            StatusCode::BAD_REQUEST,
            format!("malformed AdmissionReview: {e}"),
        )
    })?;
    review.try_into().map_err(|_| {
        (
            StatusCode::BAD_REQUEST,
            "AdmissionReview without a request".to_string(),
        )
    })
}

fn operation(op: &Operation) -> AdmissionOperation {
    match op {
        Operation::Create => AdmissionOperation::Create,
        Operation::Update => AdmissionOperation::Update,
        Operation::Delete => AdmissionOperation::Delete,
        Operation::Connect => AdmissionOperation::Connect,
    }
}

fn raw(object: Option<&DynamicObject>) -> Result<Option<Value>, String> {
    object
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| format!("the object cannot be read: {e}"))
}

/// Runs `decide` on the request's objects; a subresource request (`/status`, `/scale`) is
/// always allowed: only the main resource carries a spec to check.
fn verdict(
    req: &Request,
    decide: impl FnOnce(AdmissionOperation, Option<&Value>, Option<&Value>) -> Verdict,
) -> Verdict {
    if req.sub_resource.as_deref().is_some_and(|s| !s.is_empty()) {
        return Verdict::allow();
    }
    match (raw(req.object.as_ref()), raw(req.old_object.as_ref())) {
        (Ok(new), Ok(old)) => decide(operation(&req.operation), new.as_ref(), old.as_ref()),
        (Err(e), _) | (_, Err(e)) => Verdict::deny(e),
    }
}

fn respond(req: &Request, kind: &str, verdict: &Verdict) -> AdmissionResponse {
    let mut response = AdmissionResponse::from(req);
    if !verdict.warnings.is_empty() {
        response.warnings = Some(verdict.warnings.clone());
    }
    if let Some(message) = verdict.message(kind, &req.name) {
        tracing::info!(
            kind,
            namespace = req.namespace.as_deref().unwrap_or(""),
            name = %req.name,
            operation = ?req.operation,
            errors = verdict.errors.len(),
            "denied"
        );
        // kubectl prints each cause as "<field>: <message>"; the field is never empty.
        let causes = verdict
            .errors
            .iter()
            .map(|e| {
                let (field, message) = admission::cause(e);
                StatusCause {
                    reason: "FieldValueInvalid".into(),
                    message,
                    field,
                }
            })
            .collect();
        response.allowed = false;
        response.result = Status::failure(&message, "Invalid")
            .with_code(422)
            .with_details(StatusDetails {
                name: req.name.clone(),
                group: openclaw_api::GROUP.into(),
                kind: req.kind.kind.clone(),
                uid: String::new(),
                causes,
                retry_after_seconds: 0,
            });
    } else {
        tracing::debug!(
            kind,
            namespace = req.namespace.as_deref().unwrap_or(""),
            name = %req.name,
            operation = ?req.operation,
            warnings = verdict.warnings.len(),
            "allowed"
        );
    }
    response
}

fn review(response: AdmissionResponse) -> Response {
    Json(response.into_review()).into_response()
}

async fn validate_instance(body: Bytes) -> Response {
    let req = match parse(&body) {
        Ok(req) => req,
        Err(bad) => return bad.into_response(),
    };
    let namespace = req.namespace.clone();
    let v = verdict(&req, |op, new, old| {
        admit_instance_with(op, new, old, |instance| {
            super::render_warnings::render_warnings(instance, namespace.as_deref())
        })
    });
    review(respond(&req, "OpenClawInstance", &v))
}

async fn validate_self_config(body: Bytes) -> Response {
    let req = match parse(&body) {
        Ok(req) => req,
        Err(bad) => return bad.into_response(),
    };
    let v = verdict(&req, admit_self_config);
    review(respond(&req, "OpenClawSelfConfig", &v))
}

async fn mutate_self_config(body: Bytes) -> Response {
    let req = match parse(&body) {
        Ok(req) => req,
        Err(bad) => return bad.into_response(),
    };
    let (object, old) = match (raw(req.object.as_ref()), raw(req.old_object.as_ref())) {
        (Ok(Some(object)), Ok(old)) if req.sub_resource.is_none() => (object, old),
        // DELETE, CONNECT, subresources: nothing to record.
        (Ok(_), Ok(_)) => return review(AdmissionResponse::from(&req)),
        (Err(e), _) | (_, Err(e)) => {
            return review(respond(&req, "OpenClawSelfConfig", &Verdict::deny(e)));
        }
    };
    let recorded = match req.operation {
        Operation::Create => Some(requester_annotations(
            req.user_info.username.as_deref().unwrap_or_default(),
            req.user_info.groups.as_deref().unwrap_or_default(),
        )),
        Operation::Update => Some(recorded_annotations(old.as_ref())),
        _ => None,
    };
    let Some(recorded) = recorded else {
        return review(AdmissionResponse::from(&req));
    };
    let patch = requester_patch(&object, &recorded);
    match AdmissionResponse::from(&req).with_patch(patch) {
        Ok(response) => review(response),
        Err(e) => review(respond(
            &req,
            "OpenClawSelfConfig",
            &Verdict::deny(format!("cannot build the admission patch: {e}")),
        )),
    }
}

/// The requester annotations of a new request: the authenticated username and groups.
pub fn requester_annotations(
    username: &str,
    groups: &[String],
) -> Vec<(&'static str, Option<String>)> {
    vec![
        (REQUESTED_BY_ANNOTATION, Some(username.to_string())),
        (
            REQUESTED_BY_GROUPS_ANNOTATION,
            Some(serde_json::to_string(groups).unwrap_or_else(|_| "[]".into())),
        ),
    ]
}

/// The requester annotations an update must keep: the stored object's (absent stays absent).
fn recorded_annotations(old: Option<&Value>) -> Vec<(&'static str, Option<String>)> {
    [REQUESTED_BY_ANNOTATION, REQUESTED_BY_GROUPS_ANNOTATION]
        .into_iter()
        .map(|key| {
            let value = old
                .and_then(|o| o.pointer("/metadata/annotations"))
                .and_then(|a| a.get(key))
                .and_then(Value::as_str)
                .map(str::to_string);
            (key, value)
        })
        .collect()
}

/// A JSON patch that makes `object`'s requester annotations exactly `wanted` (`None`: absent),
/// whatever the client wrote.
pub fn requester_patch(object: &Value, wanted: &[(&str, Option<String>)]) -> Patch {
    let annotations = object
        .pointer("/metadata/annotations")
        .and_then(Value::as_object);
    let mut ops = Vec::new();
    let mut have_map = annotations.is_some();
    for (key, value) in wanted {
        let current = annotations.and_then(|a| a.get(*key));
        let mut path = PointerBuf::parse("/metadata/annotations").unwrap_or_default();
        path.push_back(*key);
        match value {
            Some(v) if current.and_then(Value::as_str) == Some(v.as_str()) => {}
            Some(v) => {
                if !have_map {
                    ops.push(PatchOperation::Add(AddOperation {
                        path: PointerBuf::parse("/metadata/annotations").unwrap_or_default(),
                        value: Value::Object(Default::default()),
                    }));
                    have_map = true;
                }
                ops.push(PatchOperation::Add(AddOperation {
                    path,
                    value: Value::String(v.clone()),
                }));
            }
            None if current.is_some() => {
                ops.push(PatchOperation::Remove(RemoveOperation { path }));
            }
            None => {}
        }
    }
    Patch(ops)
}

async fn mutate_instance(body: Bytes) -> Response {
    let req = match parse(&body) {
        Ok(req) => req,
        Err(bad) => return bad.into_response(),
    };
    let creating_or_updating = matches!(req.operation, Operation::Create | Operation::Update);
    let old = raw(req.old_object.as_ref()).ok().flatten();
    let object = match raw(req.object.as_ref()) {
        // A metadata-only update (the finalizer) or a deletion: nothing to default.
        Ok(Some(object))
            if req.operation == Operation::Update
                && admission::spec_unchanged_or_deleting(&object, old.as_ref()) =>
        {
            // An empty JSON patch, as for an object with nothing to default.
            let response = AdmissionResponse::from(&req);
            return review(
                response
                    .clone()
                    .with_patch(Patch(Vec::new()))
                    .unwrap_or(response),
            );
        }
        Ok(Some(object)) if creating_or_updating && req.sub_resource.is_none() => object,
        // Nothing to default: DELETE, CONNECT, subresources.
        Ok(_) => return review(AdmissionResponse::from(&req)),
        Err(e) => return review(respond(&req, "OpenClawInstance", &Verdict::deny(e))),
    };
    let instance: openclaw_api::OpenClawInstance = match serde_json::from_value(object.clone()) {
        Ok(i) => i,
        Err(e) => {
            let v = Verdict::deny(format!(
                "the object cannot be read as openclaw.rocks/v1alpha1 OpenClawInstance: {e}"
            ));
            return review(respond(&req, "OpenClawInstance", &v));
        }
    };
    let patch = defaults_patch(&object, &admission::instance_defaults(&instance));
    match AdmissionResponse::from(&req).with_patch(patch) {
        Ok(response) => review(response),
        Err(e) => review(respond(
            &req,
            "OpenClawInstance",
            &Verdict::deny(format!("cannot encode the patch: {e}")),
        )),
    }
}

/// The JSON patch that adds each default where `object` has nothing, creating missing parent
/// objects on the way. Values that are present are never replaced (not even `null` or empty
/// ones: an explicit value is the user's).
pub fn defaults_patch(object: &Value, defaults: &[Defaulted]) -> Patch {
    let mut doc = object.clone();
    let mut ops = Vec::new();
    for d in defaults {
        let Ok(pointer) = PointerBuf::parse(d.pointer.as_str()) else {
            tracing::warn!(pointer = %d.pointer, "invalid default pointer; skipped");
            continue;
        };
        let tokens: Vec<String> = pointer.tokens().map(|t| t.decoded().into_owned()).collect();
        let last = tokens.len().saturating_sub(1);
        let mut path = PointerBuf::new();
        for (i, token) in tokens.iter().enumerate() {
            let parent = path.clone();
            path.push_back(token.as_str());
            if doc.pointer(path.as_str()).is_some() {
                if i == last {
                    break; // Present: never overwrite.
                }
                continue;
            }
            let value = if i == last {
                d.value.clone()
            } else {
                Value::Object(Default::default())
            };
            // The parent must be an object to add to (not null, a string, a list...).
            let Some(map) = doc
                .pointer_mut(parent.as_str())
                .and_then(Value::as_object_mut)
            else {
                break;
            };
            map.insert(token.clone(), value.clone());
            ops.push(PatchOperation::Add(AddOperation {
                path: path.clone(),
                value,
            }));
        }
    }
    Patch(ops)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

    use super::*;
    use axum::body::Body;
    use http::Request as HttpRequest;
    use serde_json::json;
    use tower::ServiceExt;

    #[test]
    fn requester_patch_overwrites_what_the_client_wrote_and_keeps_it_on_update() {
        let wanted = requester_annotations("system:serviceaccount:ns:a", &["g1".to_string()]);
        // No annotations at all: the map is created first.
        let patch = requester_patch(&json!({"metadata": {}}), &wanted);
        let mut doc = json!({"metadata": {}});
        json_patch::patch(&mut doc, &patch).unwrap();
        assert_eq!(
            doc["metadata"]["annotations"],
            json!({REQUESTED_BY_ANNOTATION: "system:serviceaccount:ns:a", REQUESTED_BY_GROUPS_ANNOTATION: "[\"g1\"]"})
        );
        // A forged value is replaced.
        let forged = json!({"metadata": {"annotations": {REQUESTED_BY_ANNOTATION: "someone-else", "x": "y"}}});
        let mut doc = forged.clone();
        json_patch::patch(&mut doc, &requester_patch(&forged, &wanted)).unwrap();
        assert_eq!(
            doc["metadata"]["annotations"][REQUESTED_BY_ANNOTATION],
            "system:serviceaccount:ns:a"
        );
        assert_eq!(doc["metadata"]["annotations"]["x"], "y");
        // Update: the stored values win; absent stays absent.
        let old = json!({"metadata": {"annotations": {REQUESTED_BY_ANNOTATION: "alice"}}});
        let kept = recorded_annotations(Some(&old));
        let new = json!({"metadata": {"annotations": {REQUESTED_BY_ANNOTATION: "mallory", REQUESTED_BY_GROUPS_ANNOTATION: "[]"}}});
        let mut doc = new.clone();
        json_patch::patch(&mut doc, &requester_patch(&new, &kept)).unwrap();
        assert_eq!(
            doc["metadata"]["annotations"],
            json!({REQUESTED_BY_ANNOTATION: "alice"})
        );
        // Nothing to change: an empty patch.
        assert!(requester_patch(&old, &kept).0.is_empty());
    }

    fn review_body(operation: &str, kind: &str, object: Value, old: Option<Value>) -> Vec<u8> {
        let resource = if kind == "OpenClawInstance" {
            "openclawinstances"
        } else {
            "openclawselfconfigs"
        };
        serde_json::to_vec(&json!({
            "apiVersion": "admission.k8s.io/v1",
            "kind": "AdmissionReview",
            "request": {
                "uid": "0b3f1c2a-1111-2222-3333-444455556666",
                "kind": {"group": "openclaw.rocks", "version": "v1alpha1", "kind": kind},
                "resource": {"group": "openclaw.rocks", "version": "v1alpha1", "resource": resource},
                "name": "demo",
                "namespace": "team",
                "operation": operation,
                "userInfo": {"username": "alice"},
                "object": if operation == "DELETE" { Value::Null } else { object.clone() },
                "oldObject": old.unwrap_or(if operation == "DELETE" { object } else { Value::Null }),
                "dryRun": false,
            }
        }))
        .unwrap()
    }

    fn instance(spec: Value) -> Value {
        json!({
            "apiVersion": "openclaw.rocks/v1alpha1",
            "kind": "OpenClawInstance",
            "metadata": {"name": "demo", "namespace": "team"},
            "spec": spec,
        })
    }

    async fn call(path: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let response = router()
            .oneshot(
                HttpRequest::post(path)
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    fn response(v: &Value) -> &Value {
        assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(v["kind"], "AdmissionReview");
        let r = &v["response"];
        assert_eq!(r["uid"], "0b3f1c2a-1111-2222-3333-444455556666");
        r
    }

    /// Provider keys and a pinned image, so no warning is due.
    fn with_keys(mut spec: Value) -> Value {
        spec["envFrom"] = json!([{"secretRef": {"name": "provider-keys"}}]);
        spec["image"] = json!({"tag": "2026.9.6"});
        spec
    }

    #[tokio::test]
    async fn valid_instance_is_allowed() {
        let body = review_body(
            "CREATE",
            "OpenClawInstance",
            instance(with_keys(json!({}))),
            None,
        );
        let (status, v) = call(VALIDATE_INSTANCE_PATH, body).await;
        assert_eq!(status, StatusCode::OK);
        let r = response(&v);
        assert_eq!(r["allowed"], true, "{v}");
        assert!(r.get("warnings").is_none(), "{v}");
    }

    #[tokio::test]
    async fn invalid_instance_is_denied_with_every_error_and_warnings() {
        let spec = json!({
            "security": {"podSecurityContext": {"runAsUser": 0, "runAsNonRoot": false}},
            "skills": ["ok-skill", "bad skill!"],
            "image": {"tag": "latest"},
            "workspace": {"initialFiles": {"../escape.md": "x"}},
            "resources": {"requests": {"memory": "lots"}},
        });
        let body = review_body("CREATE", "OpenClawInstance", instance(spec), None);
        let (status, v) = call(VALIDATE_INSTANCE_PATH, body).await;
        assert_eq!(status, StatusCode::OK);
        let r = response(&v);
        assert_eq!(r["allowed"], false, "{v}");
        assert_eq!(r["status"]["code"], 422);
        assert_eq!(r["status"]["reason"], "Invalid");
        let message = r["status"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("OpenClawInstance \"demo\" is invalid (4 errors)"),
            "{message}"
        );
        for part in [
            "running as root (UID 0)",
            "skills[1] \"bad skill!\"",
            "initialFiles key \"../escape.md\"",
            "spec.resources.requests.memory \"lots\"",
        ] {
            assert!(message.contains(part), "{part:?} missing from {message}");
        }
        assert_eq!(
            r["status"]["details"]["causes"].as_array().unwrap().len(),
            4
        );
        let warnings: Vec<&str> = r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        for part in [
            "runAsNonRoot",
            "\"latest\" is mutable",
            "No AI provider API keys",
        ] {
            assert!(
                warnings.iter().any(|w| w.contains(part)),
                "{part:?} missing from {warnings:?}"
            );
        }
    }

    #[tokio::test]
    async fn warnings_come_with_an_allowed_request() {
        let spec = json!({"security": {"networkPolicy": {"enabled": false}}});
        let body = review_body(
            "CREATE",
            "OpenClawInstance",
            instance(with_keys(spec)),
            None,
        );
        let (_, v) = call(VALIDATE_INSTANCE_PATH, body).await;
        let r = response(&v);
        assert_eq!(r["allowed"], true);
        assert_eq!(r["warnings"].as_array().unwrap().len(), 1, "{v}");
        assert!(
            r["warnings"][0]
                .as_str()
                .unwrap()
                .contains("NetworkPolicy disabled")
        );
    }

    #[tokio::test]
    async fn denial_causes_name_their_fields() {
        let spec = with_keys(json!({
            "skills": ["bad skill!"],
            "storage": {"persistence": {"size": "-10Gi"}},
        }));
        let mut spec = spec;
        spec["envFrom"] = json!([{"secretRef": {"name": "Bad_Name!"}}]);
        let body = review_body("CREATE", "OpenClawInstance", instance(spec), None);
        let (_, v) = call(VALIDATE_INSTANCE_PATH, body).await;
        let r = response(&v);
        assert_eq!(r["allowed"], false, "{v}");
        let causes = r["status"]["details"]["causes"].as_array().unwrap();
        let fields: Vec<&str> = causes
            .iter()
            .map(|c| c["field"].as_str().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "spec.storage.persistence.size",
                "spec.skills[0]",
                "spec.envFrom[0].secretRef.name"
            ],
            "{v}"
        );
        assert_eq!(
            causes[2]["message"].as_str().unwrap().split(':').next(),
            Some("\"Bad_Name!\" is not a valid Secret name")
        );
        // Also a denial that is not about one field names `spec`.
        let (_, v) = call(
            VALIDATE_INSTANCE_PATH,
            review_body(
                "CREATE",
                "OpenClawInstance",
                instance(json!({"skills": 3})),
                None,
            ),
        )
        .await;
        assert_eq!(
            response(&v)["status"]["details"]["causes"][0]["field"],
            "spec"
        );
    }

    #[tokio::test]
    async fn render_warnings_are_admission_warnings() {
        let spec = with_keys(json!({
            "networking": {"ingress": {"enabled": true, "tls": [{"secretName": "tls"}]}},
            "backup": {"schedule": "every day"},
        }));
        let body = review_body("CREATE", "OpenClawInstance", instance(spec), None);
        let (_, v) = call(VALIDATE_INSTANCE_PATH, body).await;
        let r = response(&v);
        assert_eq!(r["allowed"], true, "{v}");
        let warnings: Vec<&str> = r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("spec.networking.ingress has no hosts")),
            "{warnings:?}"
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with("spec.backup.schedule: ")),
            "{warnings:?}"
        );
        // A value the renderer would replace is an error, not also a warning.
        let spec = with_keys(json!({"observability": {"metrics": {"port": 70000}}}));
        let body = review_body("CREATE", "OpenClawInstance", instance(spec), None);
        let (_, v) = call(VALIDATE_INSTANCE_PATH, body).await;
        let r = response(&v);
        assert_eq!(r["allowed"], false, "{v}");
        assert!(
            r["status"]["message"]
                .as_str()
                .unwrap()
                .contains("spec.observability.metrics.port: 70000 is not a port number"),
            "{v}"
        );
        assert!(r.get("warnings").is_none(), "{v}");
    }

    #[tokio::test]
    async fn storage_class_change_is_denied_on_update() {
        let sc = |c: &str| {
            instance(with_keys(
                json!({"storage": {"persistence": {"storageClass": c}}}),
            ))
        };
        let body = review_body(
            "UPDATE",
            "OpenClawInstance",
            sc("fast"),
            Some(sc("standard")),
        );
        let (_, v) = call(VALIDATE_INSTANCE_PATH, body).await;
        let r = response(&v);
        assert_eq!(r["allowed"], false);
        assert!(
            r["status"]["message"]
                .as_str()
                .unwrap()
                .contains("storageClass is immutable"),
            "{v}"
        );
    }

    #[tokio::test]
    async fn delete_is_always_allowed() {
        let bad = instance(json!({"security": {"podSecurityContext": {"runAsUser": 0}}}));
        let body = review_body("DELETE", "OpenClawInstance", bad, None);
        let (_, v) = call(VALIDATE_INSTANCE_PATH, body).await;
        assert_eq!(response(&v)["allowed"], true, "{v}");
    }

    #[tokio::test]
    async fn status_updates_are_not_checked() {
        let bad = instance(json!({"security": {"podSecurityContext": {"runAsUser": 0}}}));
        let mut body: Value = serde_json::from_slice(&review_body(
            "UPDATE",
            "OpenClawInstance",
            bad.clone(),
            Some(bad),
        ))
        .unwrap();
        body["request"]["subResource"] = json!("status");
        body["request"]["object"]["spec"]["skills"] = json!(["bad skill!"]);
        let (_, v) = call(VALIDATE_INSTANCE_PATH, serde_json::to_vec(&body).unwrap()).await;
        assert_eq!(response(&v)["allowed"], true, "{v}");
    }

    #[tokio::test]
    async fn garbage_is_a_bad_request_never_a_panic() {
        for body in [
            b"not json".to_vec(),
            b"{}".to_vec(),
            b"{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\"}".to_vec(),
            b"{\"request\": 5}".to_vec(),
            Vec::new(),
        ] {
            for path in [
                VALIDATE_INSTANCE_PATH,
                MUTATE_INSTANCE_PATH,
                VALIDATE_SELF_CONFIG_PATH,
            ] {
                let (status, v) = call(path, body.clone()).await;
                assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {v}");
            }
        }
    }

    #[tokio::test]
    async fn an_unreadable_object_is_a_clear_denial() {
        let obj = instance(json!({"skills": {"not": "a list"}}));
        for path in [VALIDATE_INSTANCE_PATH, MUTATE_INSTANCE_PATH] {
            let (status, v) = call(
                path,
                review_body("CREATE", "OpenClawInstance", obj.clone(), None),
            )
            .await;
            assert_eq!(status, StatusCode::OK);
            let r = response(&v);
            assert_eq!(r["allowed"], false);
            assert!(
                r["status"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("cannot be read as openclaw.rocks/v1alpha1 OpenClawInstance"),
                "{v}"
            );
        }
    }

    #[tokio::test]
    async fn self_config_validation() {
        let sc = |spec: Value| {
            json!({
                "apiVersion": "openclaw.rocks/v1alpha1",
                "kind": "OpenClawSelfConfig",
                "metadata": {"name": "demo", "namespace": "team"},
                "spec": spec,
            })
        };
        let ok = review_body(
            "CREATE",
            "OpenClawSelfConfig",
            sc(json!({"instanceRef": "a", "addSkills": ["x"]})),
            None,
        );
        let (_, v) = call(VALIDATE_SELF_CONFIG_PATH, ok).await;
        assert_eq!(response(&v)["allowed"], true, "{v}");
        let bad = review_body(
            "CREATE",
            "OpenClawSelfConfig",
            sc(json!({"instanceRef": "a", "addEnvVars": [{"name": "HOME", "value": "/"}]})),
            None,
        );
        let (_, v) = call(VALIDATE_SELF_CONFIG_PATH, bad).await;
        let r = response(&v);
        assert_eq!(r["allowed"], false);
        assert!(
            r["status"]["message"]
                .as_str()
                .unwrap()
                .contains("\"HOME\" is managed by the operator"),
            "{v}"
        );
    }

    #[tokio::test]
    async fn mutate_returns_an_empty_json_patch() {
        for op in ["CREATE", "UPDATE"] {
            let obj = instance(json!({}));
            let old = (op == "UPDATE").then(|| obj.clone());
            let (status, v) = call(
                MUTATE_INSTANCE_PATH,
                review_body(op, "OpenClawInstance", obj, old),
            )
            .await;
            assert_eq!(status, StatusCode::OK);
            let r = response(&v);
            assert_eq!(r["allowed"], true, "{v}");
            assert_eq!(r["patchType"], "JSONPatch", "{v}");
            // kube-core sends the patch bytes as a JSON array of numbers, which the API
            // server's decoder accepts for a []byte field like base64.
            let bytes: Vec<u8> = serde_json::from_value(r["patch"].clone()).unwrap();
            assert_eq!(bytes, b"[]", "{v}");
        }
        let (_, v) = call(
            MUTATE_INSTANCE_PATH,
            review_body("DELETE", "OpenClawInstance", instance(json!({})), None),
        )
        .await;
        assert_eq!(response(&v)["allowed"], true);
    }

    #[test]
    fn defaults_patch_adds_missing_parents_and_never_overwrites() {
        let object = json!({"spec": {"image": {"tag": "v1"}, "security": null}});
        let defaults = [
            Defaulted {
                pointer: "/spec/image/tag".into(),
                value: json!("latest"),
            },
            Defaulted {
                pointer: "/spec/image/pullPolicy".into(),
                value: json!("IfNotPresent"),
            },
            Defaulted {
                pointer: "/spec/resources/limits/cpu".into(),
                value: json!("2"),
            },
            Defaulted {
                pointer: "/spec/resources/limits/memory".into(),
                value: json!("4Gi"),
            },
            Defaulted {
                pointer: "/spec/security/podSecurityContext/runAsUser".into(),
                value: json!(1000),
            },
            Defaulted {
                pointer: "not a pointer".into(),
                value: json!(1),
            },
        ];
        let patch = defaults_patch(&object, &defaults);
        let mut patched = object.clone();
        json_patch::patch(&mut patched, &patch).unwrap();
        assert_eq!(
            patched,
            json!({"spec": {
                "image": {"tag": "v1", "pullPolicy": "IfNotPresent"},
                "resources": {"limits": {"cpu": "2", "memory": "4Gi"}},
                "security": null,
            }})
        );
        assert_eq!(patch.0.len(), 5, "{patch:?}");
        assert!(defaults_patch(&object, &[]).0.is_empty());
    }

    #[tokio::test]
    async fn health() {
        let response = router()
            .oneshot(HttpRequest::get(HEALTH_PATH).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}
