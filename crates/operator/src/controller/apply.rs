//! Step **apply** (and the deletes of **prune**): writing desired objects only when the cluster
//! does not already hold them.
//!
//! Every managed object carries the annotation `openclaw.rocks/applied-hash`: a hash of exactly
//! what we last applied. An object is re-applied (server-side apply, one field manager, `force`)
//! when that hash differs from the desired one (the desired state changed, including fields we
//! stopped setting, which server-side apply then removes) or when the live object no longer
//! contains a desired field (someone edited it: drift). Otherwise nothing is sent, so a
//! converged reconcile makes no write request at all.
//!
//! An object whose cached copy still shows a field manager of the Go operator is adopted first
//! (see [`super::adopt`]: its fields are taken over, once) and then always applied.

use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use openclaw_api::units::quantity_value;

use super::adopt;
/// The field manager of every write the operator makes (the renderer's, one constant).
pub use openclaw_render::FIELD_MANAGER;
use openclaw_render::WriteMode;
use openclaw_render::hash::short_sha256;
/// Annotation holding the hash of what was last applied.
pub const APPLIED_HASH: &str = "openclaw.rocks/applied-hash";

/// Errors while writing objects.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The API server refused or failed a request.
    #[error("{verb} {kind} {name}: {source}")]
    Kube {
        /// What we tried.
        verb: &'static str,
        /// Object kind.
        kind: String,
        /// Object name.
        name: String,
        /// The error.
        #[source]
        source: kube::Error,
    },
    /// An object could not be serialized.
    #[error("serializing {0}: {1}")]
    Json(String, serde_json::Error),
}

/// A short, stable hash of a JSON value: [`short_sha256`] of its compact text.
pub fn hash_value(value: &Value) -> String {
    short_sha256(value.to_string().as_bytes())
}

/// The first path at which `live` does not hold what `desired` says (for logs), if any.
pub fn difference(live: &Value, desired: &Value, path: &str) -> Option<String> {
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => d.iter().find_map(|(k, dv)| {
            let p = format!("{path}.{k}");
            match l.get(k) {
                _ if dv.is_null() => None,
                Some(lv) => difference(lv, dv, &p),
                None => Some(p),
            }
        }),
        (Value::Array(l), Value::Array(d)) => {
            if contains(live, desired) {
                return None;
            }
            if l.len() == d.len() {
                l.iter()
                    .zip(d)
                    .enumerate()
                    .find_map(|(i, (lv, dv))| difference(lv, dv, &format!("{path}[{i}]")))
                    .or_else(|| Some(path.to_string()))
            } else {
                Some(format!("{path} (length {} vs {})", l.len(), d.len()))
            }
        }
        _ if contains(live, desired) => None,
        _ => Some(format!("{path}: live {live}, desired {desired}")),
    }
}

/// Whether `live` holds everything `desired` says. Objects: every desired key present and
/// contained. Lists of named objects: matched by name (extra live items allowed, e.g. injected
/// sidecars). Other lists: same length, pairwise. Quantities compare by value (`2000m` == `2`).
pub fn contains(live: &Value, desired: &Value) -> bool {
    match (live, desired) {
        (_, Value::Null) => true,
        (Value::Object(l), Value::Object(d)) => d
            .iter()
            .all(|(k, dv)| dv.is_null() || l.get(k).is_some_and(|lv| contains(lv, dv))),
        (Value::Array(l), Value::Array(d)) => {
            let named = |v: &Value| v.get("name").and_then(Value::as_str).map(str::to_owned);
            let names: Vec<_> = d.iter().filter_map(named).collect();
            let unique = names
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                == d.len();
            // Lists keyed by a unique name (containers, env, ports, volumes) may hold extra live
            // items; anything else (e.g. volumeMounts, which repeat a volume name) is positional.
            if !d.is_empty() && unique {
                d.iter().all(|dv| {
                    l.iter()
                        .find(|lv| named(lv) == named(dv))
                        .is_some_and(|lv| contains(lv, dv))
                })
            } else {
                l.len() == d.len() && l.iter().zip(d).all(|(lv, dv)| contains(lv, dv))
            }
        }
        (Value::String(l), Value::String(d)) => {
            l == d
                || matches!((quantity_value(l), quantity_value(d)), (Some(a), Some(b)) if (a - b).abs() <= f64::EPSILON * a.abs().max(1.0))
        }
        (Value::Number(l), Value::Number(d)) => l.as_f64() == d.as_f64(),
        (l, d) => l == d,
    }
}

/// Whether the live object (as JSON) was applied from the same desired state (`hash`) and
/// still holds all of it; logs the first difference when not.
fn up_to_date(kind: &str, name: &str, live: &Value, body: &Value, hash: &str) -> bool {
    let unchanged = live
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(APPLIED_HASH))
        .and_then(Value::as_str)
        == Some(hash);
    if unchanged && contains(live, body) {
        return true;
    }
    tracing::debug!(
        kind = %kind,
        name = %name,
        changed = !unchanged,
        drift = ?difference(live, body, ""),
        "applying"
    );
    false
}

/// [`ensure`] for an object of an optional third-party kind (`body` is the whole object as
/// JSON, `live` the cached one).
pub async fn ensure_custom(
    api: &Api<kube::api::DynamicObject>,
    live: Option<&kube::api::DynamicObject>,
    mut body: Value,
) -> Result<bool, ApplyError> {
    let kind = body["kind"].as_str().unwrap_or_default().to_string();
    let name = body["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let hash = hash_value(&body);
    if let Some(live) = live {
        let owners: Vec<OwnerReference> = body
            .pointer("/metadata/ownerReferences")
            .and_then(|o| serde_json::from_value(o.clone()).ok())
            .unwrap_or_default();
        if let Some(uid) = adopt::pending(&live.metadata, &owners) {
            let api_version = body["apiVersion"].as_str().unwrap_or_default().to_string();
            take_over(api, &name, &kind, &uid, &api_version).await?;
        } else {
            let live_json =
                serde_json::to_value(live).map_err(|e| ApplyError::Json(name.clone(), e))?;
            if up_to_date(&kind, &name, &live_json, &body, &hash) {
                return Ok(false);
            }
        }
    }
    if let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        let annotations = meta
            .entry("annotations")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(a) = annotations.as_object_mut() {
            a.insert(APPLIED_HASH.to_string(), Value::String(hash));
        }
    }
    server_side_apply(api, name, kind, &body).await
}

/// [`adopt::take_over`] with our field manager.
async fn take_over<K>(
    api: &Api<K>,
    name: &str,
    kind: &str,
    owner_uid: &str,
    api_version: &str,
) -> Result<bool, ApplyError>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    let sent = adopt::take_over(api, name, owner_uid, api_version, FIELD_MANAGER)
        .await
        .map_err(|source| ApplyError::Kube {
            verb: "take over the fields of",
            kind: kind.to_string(),
            name: name.to_string(),
            source,
        })?;
    if sent {
        tracing::info!(
            kind,
            name,
            "took over the fields of the Go operator's field manager"
        );
    }
    Ok(sent)
}

/// Server-side apply of `body` with our field manager, forced; `Ok(true)` (a write was sent).
async fn server_side_apply<K, B>(
    api: &Api<K>,
    name: String,
    kind: String,
    body: &B,
) -> Result<bool, ApplyError>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
    B: Serialize + std::fmt::Debug,
{
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(body),
    )
    .await
    .map_err(|source| ApplyError::Kube {
        verb: "apply",
        kind,
        name,
        source,
    })?;
    Ok(true)
}

/// Delete one object; `Ok(false)` when it was already gone.
pub async fn delete<K>(
    api: &Api<K>,
    name: &str,
    params: &DeleteParams,
    verb: &'static str,
    kind: &str,
) -> Result<bool, ApplyError>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, params).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(source) => Err(ApplyError::Kube {
            verb,
            kind: kind.to_string(),
            name: name.to_string(),
            source,
        }),
    }
}

/// Whether `object` is controlled by the instance with `owner_uid`.
pub fn controlled_by(
    refs: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference],
    owner_uid: &str,
) -> bool {
    refs.iter()
        .any(|o| o.uid == owner_uid && o.controller == Some(true))
}

/// Make sure the cluster holds `desired`; returns whether a write was sent.
pub async fn ensure<K>(
    api: &Api<K>,
    store: &Store<K>,
    desired: &K,
    mode: WriteMode,
) -> Result<bool, ApplyError>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let kind = K::kind(&()).to_string();
    let name = desired.name_any();
    let mut desired = desired.clone();
    let body = serde_json::to_value(&desired).map_err(|e| ApplyError::Json(name.clone(), e))?;
    let hash = hash_value(&body);
    desired
        .annotations_mut()
        .insert(APPLIED_HASH.to_string(), hash.clone());
    let mut key = ObjectRef::<K>::new(&name);
    if let Some(ns) = desired.meta().namespace.as_deref() {
        key = key.within(ns);
    }
    if let Some(live) = store.get(&key) {
        if mode == WriteMode::CreateOnly {
            // Only ownership may change afterwards (e.g. a PVC's `orphan` switch): a merge
            // patch of the owner references alone, never of the spec or data.
            let wanted = desired.owner_references();
            if live.owner_references() == wanted {
                return Ok(false);
            }
            let patch = serde_json::json!({"metadata": {"ownerReferences": wanted}});
            api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(|source| ApplyError::Kube {
                    verb: "patch owner of",
                    kind,
                    name,
                    source,
                })?;
            return Ok(true);
        }
        // Fields another manager (the Go operator) owns: taken over first, then applied (never
        // skipped), which removes those we do not render.
        if let Some(uid) = adopt::pending(live.meta(), desired.owner_references()) {
            take_over(api, &name, &kind, &uid, &K::api_version(&())).await?;
        } else {
            let live_json =
                serde_json::to_value(&*live).map_err(|e| ApplyError::Json(name.clone(), e))?;
            if up_to_date(&kind, &name, &live_json, &body, &hash) {
                return Ok(false);
            }
        }
    }
    server_side_apply(api, name, kind, &desired).await
}

/// Delete the objects of this kind that the instance owns (controller reference with its UID)
/// but that are no longer desired, among those `eligible` accepts. Returns the number of
/// deletions sent.
pub async fn prune<K>(
    api_for: impl Fn(&str) -> Api<K>,
    store: &Store<K>,
    owner_uid: &str,
    keep: &[String],
    eligible: impl Fn(&K) -> bool,
) -> Result<usize, ApplyError>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut deleted = 0;
    for obj in store.state() {
        let owned = controlled_by(obj.owner_references(), owner_uid) && eligible(&obj);
        let name = obj.name_any();
        if !owned || keep.contains(&name) || obj.meta().deletion_timestamp.is_some() {
            continue;
        }
        let ns = obj.namespace().unwrap_or_default();
        if delete(
            &api_for(&ns),
            &name,
            &DeleteParams::background(),
            "delete",
            K::kind(&()).as_ref(),
        )
        .await?
        {
            deleted += 1;
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn contains_ignores_server_defaults() {
        let live = json!({"spec": {"replicas": 1, "template": {"spec": {
            "containers": [{"name": "a", "image": "x", "terminationMessagePath": "/dev/termination-log"}],
            "dnsPolicy": "ClusterFirst"
        }}}});
        let desired = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}});
        assert!(contains(&live, &desired));
    }

    #[test]
    fn contains_detects_drift() {
        let live = json!({"spec": {"replicas": 3}});
        assert!(!contains(&live, &json!({"spec": {"replicas": 1}})));
        assert!(!contains(&json!({}), &json!({"data": {"a": "b"}})));
        let live = json!({"env": [{"name": "A", "value": "1"}]});
        assert!(!contains(
            &live,
            &json!({"env": [{"name": "A", "value": "2"}]})
        ));
        assert!(!contains(
            &live,
            &json!({"env": [{"name": "B", "value": "1"}]})
        ));
    }

    #[test]
    fn contains_named_lists_allow_extra_live_items() {
        let live = json!([{"name": "injected"}, {"name": "main", "image": "x"}]);
        assert!(contains(&live, &json!([{"name": "main", "image": "x"}])));
        let live = json!(["a", "b"]);
        assert!(!contains(&live, &json!(["a"])));
        // Repeated names (volumeMounts of one volume at two paths) compare by position.
        let mounts =
            json!([{"name": "data", "mountPath": "/a"}, {"name": "data", "mountPath": "/b"}]);
        assert!(contains(&mounts, &mounts));
    }

    #[test]
    fn quantities_compare_by_value() {
        assert!(contains(&json!({"cpu": "2"}), &json!({"cpu": "2000m"})));
        assert!(contains(
            &json!({"memory": "1Gi"}),
            &json!({"memory": "1024Mi"})
        ));
        assert!(!contains(
            &json!({"memory": "1Gi"}),
            &json!({"memory": "1G"})
        ));
        assert!(contains(&json!({"n": 5}), &json!({"n": 5.0})));
    }

    #[test]
    fn hash_is_stable_and_short() {
        let a = hash_value(&json!({"b": 1, "a": [1, 2]}));
        assert_eq!(a, hash_value(&json!({"a": [1, 2], "b": 1})));
        assert_eq!(a.len(), 16);
        // The value the former local SHA-256 helper gave, so applied-hash annotations written
        // by earlier versions still match (no re-apply after an upgrade).
        assert_eq!(a, "94a786c3662bc7be");
    }
}
