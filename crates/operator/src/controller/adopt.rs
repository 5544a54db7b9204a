//! Apply step, before the apply: taking over the fields the Go operator owns on objects we now
//! manage (adoption of a Go operator 0.38.3 fleet), the way `kubectl` upgrades client-side
//! applied objects to server-side apply (`csaupgrade.UpgradeManagedFieldsPatch`).
//!
//! **Why.** The Go operator wrote its objects with plain creates and updates, so the API server
//! records every field it set (and every default filled in at creation) as owned by its field
//! manager with operation `Update`. Our server-side apply (field manager `openclaw-operator`,
//! `force`) takes over the fields it sets, but never removes fields another manager owns. A field
//! the Go operator set that we no longer render therefore stays, and some such leftovers make the
//! object invalid: the Go pod template's `httpGet` probe handlers next to our `exec` handlers are
//! refused with 422 "may not specify more than 1 handler type", on every apply, forever.
//!
//! **Which managers.** A `metadata.managedFields` entry is taken over when all of these hold:
//!
//! - its manager is in [`ADOPTED_MANAGERS`]: only `manager`, controller-runtime's default field
//!   manager (the basename of the Go operator's binary, `/manager`);
//! - its operation is `Update` and it is not of a subresource (the Go operator never writes the
//!   `status` or `scale` of the objects it owns; the entries of the API server's controllers
//!   live there). The one exception is the instance's own `status`, see below;
//! - the object is one of ours: it carries `app.kubernetes.io/managed-by=openclaw-operator` (the
//!   watches select on it, and it is checked again on the fresh read) and its controller owner
//!   reference is the instance we are rendering it for (same UID);
//! - it is written with server-side apply: `CreateOnly` objects (the data PVC) are never applied,
//!   so nothing of theirs is taken over.
//!
//! Not taken over: `kubectl-client-side-apply`, `kubectl-edit`, `kubectl-patch` and the like
//! (a person changed our object by hand; taking over would delete what they added, e.g. an
//! annotation for another tool, and the Go operator never writes under these names), and
//! `before-first-apply` (the API server's name for whatever an object held before its first
//! server-side apply, which may include fields of other actors; it never blocks an apply, since
//! an apply that fails is not recorded). `manager` is generic: another kubebuilder-made
//! operator writing into *our* objects (label and controller reference) would lose the fields we
//! do not render, just as it would have lost the ones we render.
//!
//! **What happens.** The caches of owned objects (and of the optional kinds: ServiceMonitor,
//! PrometheusRule, ...) keep only a marker of each such entry ([`trim_managed_fields`]: manager,
//! operation, no field set); everything else in `managedFields` is dropped as before. When
//! `apply::ensure` (or `ensure_custom`) finds a marker on the cached live object, it calls
//! [`take_over`] before applying, and never takes the "already up to date" shortcut then:
//!
//! 1. one read, a `LIST` narrowed to the object by `fieldSelector=metadata.name=<name>`
//!    (metadata only; the operator's `list` permission covers it, it has no `get` on most kinds),
//!    for the fresh `managedFields` and `resourceVersion`. If the object is gone or no longer
//!    holds such an entry (a stale cache), nothing is sent;
//! 2. one write, a JSON patch of `metadata.managedFields` guarded by a `test` of
//!    `metadata.resourceVersion` (a change in between, e.g. a status update of the StatefulSet
//!    controller, fails it with 422: read and patch are tried again, up to three times, then
//!    the reconcile fails and is retried). [`adopted_entries`] unions the field sets of the
//!    foreign entries into our `openclaw-operator` `Apply` entry (created in the place of the
//!    first one if we have none, with the object's apiVersion), drops the foreign entries and
//!    keeps every other entry as is. The object itself does not change (no new generation, no
//!    rollout);
//! 3. the normal forced server-side apply follows at once. The API server now sees us as the
//!    owner of what the Go operator set, so it removes what we do not render (the `httpGet`
//!    handlers, Go-only init containers, volumes, annotations, ConfigMap keys, ...) in the same
//!    write that adds ours: no 422, and the pod template changes once (one rollout at most).
//!
//! So the adoption of an object costs one read and one write more than a first apply, once:
//! afterwards no entry of `manager` is left, the caches hold no marker, and a converged
//! reconcile writes nothing. (The forced apply itself costs nothing extra: an object the Go
//! operator wrote lacks our `openclaw.rocks/applied-hash` and is applied anyway.) If the Go
//! operator were still running it would write its fields back (and its entry with them), and the
//! two operators would keep undoing each other: stop it first.
//!
//! **The instance.** Its spec belongs to the user (`kubectl-client-side-apply` and the like)
//! and is never taken over; the Go finalizer `openclaw.rocks/finalizer` (owned by `manager`,
//! `Update`, on the instance itself) is left to the deletion step (remove it with a patch, not
//! with server-side apply: an apply that omits it would leave it, `manager` still owning it).
//! The Go status (owned by `manager` on the `status` subresource) never conflicts with our forced
//! status apply, but every field our status keeps from the Go status is co-owned by `manager`,
//! so once we stop setting one (e.g. `managedResources.chromiumPVC` after Chromium persistence
//! is switched off) the apply would leave it, and every later reconcile would see a status
//! different from ours and write it again. So the instance watch keeps the same kind of marker
//! for `manager`'s status entry ([`trim_instance_managed_fields`]), and the status write takes it
//! over first ([`take_over_status`]: the same read and JSON patch, merged into our status `Apply`
//! entry; sent to the instance itself, since the API server ignores `managedFields` in writes
//! to the `status` subresource, hence the `patch` permission on `openclawinstances`). It happens
//! with the first status write after the switch, once per instance; from then on a status field
//! we stop sending is removed.
//!
//! The field sets (`fieldsV1`) are unioned by the pure function [`union_fields`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    FieldsV1, ManagedFieldsEntry, ObjectMeta, OwnerReference,
};
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::MANAGED_BY;

/// controller-runtime's default field manager, the Go operator's.
pub const GO_MANAGER: &str = "manager";

/// The field managers whose `Update` entries are taken over on objects we own.
pub const ADOPTED_MANAGERS: &[&str] = &[GO_MANAGER];

const UPDATE: &str = "Update";
const APPLY: &str = "Apply";

/// The part of an object whose fields are taken over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The object itself (no subresource): owned objects.
    Object,
    /// The `status` subresource: the instance's own status.
    Status,
}

impl Part {
    fn subresource(self) -> &'static str {
        match self {
            Part::Object => "",
            Part::Status => "status",
        }
    }

    /// Whether `entry` is of this part.
    fn holds(self, entry: &ManagedFieldsEntry) -> bool {
        entry.subresource.as_deref().unwrap_or_default() == self.subresource()
    }
}

/// Whether `entry` is a foreign entry of `part` we take over: a manager of
/// [`ADOPTED_MANAGERS`], operation `Update`.
pub fn adoptable_in(entry: &ManagedFieldsEntry, part: Part) -> bool {
    entry
        .manager
        .as_deref()
        .is_some_and(|m| ADOPTED_MANAGERS.contains(&m))
        && entry.operation.as_deref() == Some(UPDATE)
        && part.holds(entry)
}

/// [`adoptable_in`] the object itself (not a subresource): what is taken over on owned objects.
pub fn adoptable(entry: &ManagedFieldsEntry) -> bool {
    adoptable_in(entry, Part::Object)
}

/// The cache transform of the owned-object watches: keeps a marker (manager, operation,
/// subresource, apiVersion; no field set, no time) of each [`adoptable`] entry and drops every
/// other entry, so a cached object costs next to nothing and still says whether it needs
/// [`take_over`].
pub fn trim_managed_fields(meta: &mut ObjectMeta) {
    trim(meta, Part::Object);
}

/// The cache transform of the instance watch: [`trim_managed_fields`] for the foreign entries of
/// the `status` subresource (see [`take_over_status`]).
pub fn trim_instance_managed_fields(meta: &mut ObjectMeta) {
    trim(meta, Part::Status);
}

fn trim(meta: &mut ObjectMeta, part: Part) {
    let Some(entries) = meta.managed_fields.as_mut() else {
        return;
    };
    entries.retain(|e| adoptable_in(e, part));
    if entries.is_empty() {
        meta.managed_fields = None;
        return;
    }
    for e in entries.iter_mut() {
        e.fields_v1 = None;
        e.time = None;
    }
    entries.shrink_to_fit();
}

/// Whether the instance's cached copy shows a foreign entry of its status (see
/// [`trim_instance_managed_fields`]).
pub fn status_pending(instance: &ObjectMeta) -> bool {
    instance
        .managed_fields
        .iter()
        .flatten()
        .any(|e| adoptable_in(e, Part::Status))
}

/// The UID of the controller among `refs`, if any.
pub fn controller_uid(refs: &[OwnerReference]) -> Option<&str> {
    refs.iter()
        .find(|o| o.controller == Some(true))
        .map(|o| o.uid.as_str())
}

/// Whether the object is ours to adopt for the instance with `owner_uid`: our managed-by label
/// and that instance as its controller.
pub fn eligible(meta: &ObjectMeta, owner_uid: &str) -> bool {
    let labelled = MANAGED_BY.split_once('=').is_some_and(|(key, value)| {
        meta.labels
            .as_ref()
            .and_then(|l| l.get(key))
            .is_some_and(|v| v == value)
    });
    labelled
        && !owner_uid.is_empty()
        && controller_uid(meta.owner_references.as_deref().unwrap_or_default()) == Some(owner_uid)
}

/// The owner UID to adopt `live` for, when it is [`eligible`] for the controller among
/// `desired_owners` and holds an [`adoptable`] entry (or its marker).
pub fn pending(live: &ObjectMeta, desired_owners: &[OwnerReference]) -> Option<String> {
    let uid = controller_uid(desired_owners)?;
    let foreign = live.managed_fields.iter().flatten().any(adoptable);
    (foreign && eligible(live, uid)).then(|| uid.to_string())
}

/// The union of two field sets (`fieldsV1`, the root of the tree).
///
/// A field set is a tree of objects whose keys are path elements: `f:<field>`, `k:<key JSON>`
/// (an item of a list keyed by fields), `v:<value JSON>` (an item of a set), `i:<index>` (an item
/// of an atomic-less positional list). A path element whose object is empty is a member without
/// children; one with children is a member only when it also holds the key `.`. The union keeps
/// every member of either side: a member of one side that has children on the other side gets
/// `.` (so it stays a member). Malformed parts (non-objects) count as members without children.
pub fn union_fields(a: &Value, b: &Value) -> Value {
    Value::Object(union_children(&split_node(a).1, &split_node(b).1))
}

/// Whether a node is a member, and its children (every key except `.`).
fn split_node(v: &Value) -> (bool, Map<String, Value>) {
    match v {
        Value::Object(m) => {
            let children: Map<String, Value> = m
                .iter()
                .filter(|(k, _)| k.as_str() != ".")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (m.contains_key(".") || children.is_empty(), children)
        }
        _ => (true, Map::new()),
    }
}

/// The union of two sets of children.
fn union_children(a: &Map<String, Value>, b: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for k in a.keys().chain(b.keys()) {
        if k == "." || out.contains_key(k) {
            continue;
        }
        let node = match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) => union_node(x, y),
            // One side only: normalised (the union of a node with itself).
            (Some(x), None) | (None, Some(x)) => union_node(x, x),
            (None, None) => continue,
        };
        out.insert(k.clone(), node);
    }
    out
}

/// The union of the nodes of one path element on both sides.
fn union_node(a: &Value, b: &Value) -> Value {
    let (a_member, a_children) = split_node(a);
    let (b_member, b_children) = split_node(b);
    let children = union_children(&a_children, &b_children);
    let mut node = Map::new();
    if !children.is_empty() {
        if a_member || b_member {
            node.insert(".".into(), Value::Object(Map::new()));
        }
        node.extend(children);
    }
    Value::Object(node)
}

/// The `managedFields` after taking over the foreign entries of `part` ([`adoptable_in`]) into
/// the `Apply` entry of `manager` of that part, or `None` when there is nothing to take over.
///
/// Like `csaupgrade`: our `Apply` entry keeps its place (or takes the place of the first foreign
/// entry, with `api_version` and that entry's time, when we have none), gets the union of every
/// foreign field set (whatever their apiVersion: the kinds we manage have the same field paths in
/// every version the Go operator used), and the foreign entries are dropped. Every other entry
/// (other managers, other parts) is kept unchanged.
pub fn adopted_entries(
    entries: &[ManagedFieldsEntry],
    api_version: &str,
    manager: &str,
    part: Part,
) -> Option<Vec<ManagedFieldsEntry>> {
    let foreign = |e: &ManagedFieldsEntry| adoptable_in(e, part);
    let first_foreign = entries.iter().position(foreign)?;
    let ours = |e: &ManagedFieldsEntry| {
        e.manager.as_deref() == Some(manager)
            && e.operation.as_deref() == Some(APPLY)
            && part.holds(e)
    };
    let mut out: Vec<ManagedFieldsEntry> = entries.to_vec();
    let target = match out.iter().position(ours) {
        Some(i) => i,
        None => {
            let first = &entries[first_foreign];
            out.insert(
                first_foreign,
                ManagedFieldsEntry {
                    api_version: Some(api_version.to_string()),
                    fields_type: Some("FieldsV1".into()),
                    fields_v1: None,
                    manager: Some(manager.to_string()),
                    operation: Some(APPLY.into()),
                    subresource: (part == Part::Status).then(|| part.subresource().to_string()),
                    time: first.time.clone(),
                },
            );
            first_foreign
        }
    };
    let mut fields = out[target]
        .fields_v1
        .as_ref()
        .map(|f| f.0.clone())
        .unwrap_or_else(|| json!({}));
    for e in entries.iter().filter(|e| foreign(e)) {
        if let Some(f) = &e.fields_v1 {
            fields = union_fields(&fields, &f.0);
        }
    }
    out[target].fields_v1 = Some(FieldsV1(fields));
    out[target].fields_type = Some("FieldsV1".into());
    out.retain(|e| !foreign(e));
    Some(out)
}

/// The JSON patch that replaces `managedFields` with `entries` if the object is still at
/// `resource_version`.
pub fn managed_fields_patch(
    entries: &[ManagedFieldsEntry],
    resource_version: &str,
) -> Result<json_patch::Patch, serde_json::Error> {
    serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": resource_version},
        {"op": "replace", "path": "/metadata/managedFields", "value": entries},
    ]))
}

/// Take over the foreign fields of object `name` (see the module docs): one metadata-only read,
/// then, if the fresh object is [`eligible`] for `owner_uid` and still holds [`adoptable`]
/// entries, one JSON patch of its `managedFields` under `manager`. `Ok(true)` when the patch was
/// sent.
pub async fn take_over<K>(
    api: &Api<K>,
    name: &str,
    owner_uid: &str,
    api_version: &str,
    manager: &str,
) -> Result<bool, kube::Error>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    let check = |meta: &ObjectMeta| eligible(meta, owner_uid);
    patch_entries(api, name, api_version, manager, Part::Object, check).await
}

/// Take over the foreign entries of the instance's `status` subresource (the Go operator's
/// status writes) into our status `Apply` entry, the same way as [`take_over`]: one read, one
/// JSON patch (sent to the instance itself: the API server ignores `managedFields` in writes to
/// the `status` subresource). `uid` must be the fresh instance's.
pub async fn take_over_status<K>(
    api: &Api<K>,
    name: &str,
    uid: &str,
    api_version: &str,
    manager: &str,
) -> Result<bool, kube::Error>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    let check = |meta: &ObjectMeta| !uid.is_empty() && meta.uid.as_deref() == Some(uid);
    patch_entries(api, name, api_version, manager, Part::Status, check).await
}

/// How often the read and the patch are tried when the object changed in between (the `test` of
/// the resourceVersion failed, 422): e.g. a status update of the StatefulSet controller.
const ATTEMPTS: usize = 3;

async fn patch_entries<K>(
    api: &Api<K>,
    name: &str,
    api_version: &str,
    manager: &str,
    part: Part,
    check: impl Fn(&ObjectMeta) -> bool,
) -> Result<bool, kube::Error>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    let mut attempt = 1;
    loop {
        match patch_once(api, name, api_version, manager, part, &check).await {
            Err(kube::Error::Api(s)) if s.code == 422 && attempt < ATTEMPTS => {
                tracing::debug!(
                    name,
                    attempt,
                    "managedFields changed meanwhile: {}",
                    s.message
                );
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn patch_once<K>(
    api: &Api<K>,
    name: &str,
    api_version: &str,
    manager: &str,
    part: Part,
    check: &impl Fn(&ObjectMeta) -> bool,
) -> Result<bool, kube::Error>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
{
    let fresh = api
        .list_metadata(&ListParams::default().fields(&format!("metadata.name={name}")))
        .await?
        .items
        .into_iter()
        .find(|o| o.metadata.name.as_deref() == Some(name));
    let Some(fresh) = fresh else {
        return Ok(false);
    };
    let meta = &fresh.metadata;
    let Some(resource_version) = meta.resource_version.as_deref() else {
        return Ok(false);
    };
    if !check(meta) {
        return Ok(false);
    }
    let entries = meta.managed_fields.as_deref().unwrap_or_default();
    let Some(adopted) = adopted_entries(entries, api_version, manager, part) else {
        return Ok(false);
    };
    let foreign: Vec<&str> = entries
        .iter()
        .filter(|e| adoptable_in(e, part))
        .filter_map(|e| e.manager.as_deref())
        .collect();
    let patch =
        managed_fields_patch(&adopted, resource_version).map_err(kube::Error::SerdeError)?;
    api.patch_metadata(
        name,
        &PatchParams {
            field_manager: Some(manager.to_string()),
            ..PatchParams::default()
        },
        &Patch::<()>::Json(patch),
    )
    .await?;
    tracing::debug!(name, ?part, from = ?foreign, "managedFields taken over");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const OURS: &str = "openclaw-operator";

    fn entry(
        manager: &str,
        operation: &str,
        subresource: Option<&str>,
        f: Value,
    ) -> ManagedFieldsEntry {
        ManagedFieldsEntry {
            api_version: Some("apps/v1".into()),
            fields_type: Some("FieldsV1".into()),
            fields_v1: Some(FieldsV1(f)),
            manager: Some(manager.into()),
            operation: Some(operation.into()),
            subresource: subresource.map(str::to_owned),
            time: None,
        }
    }

    fn fields(e: &ManagedFieldsEntry) -> &Value {
        &e.fields_v1.as_ref().expect("fieldsV1").0
    }

    fn names(entries: &[ManagedFieldsEntry]) -> Vec<(String, String, String)> {
        entries
            .iter()
            .map(|e| {
                (
                    e.manager.clone().unwrap_or_default(),
                    e.operation.clone().unwrap_or_default(),
                    e.subresource.clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    fn owner(uid: &str, controller: bool) -> OwnerReference {
        OwnerReference {
            api_version: "openclaw.rocks/v1alpha1".into(),
            kind: "OpenClawInstance".into(),
            name: "demo".into(),
            uid: uid.into(),
            controller: Some(controller),
            block_owner_deletion: None,
        }
    }

    fn meta(
        labelled: bool,
        owners: Vec<OwnerReference>,
        entries: Vec<ManagedFieldsEntry>,
    ) -> ObjectMeta {
        let labels = labelled.then(|| {
            BTreeMap::from([("app.kubernetes.io/managed-by".to_string(), OURS.to_string())])
        });
        ObjectMeta {
            name: Some("demo".into()),
            labels,
            owner_references: Some(owners),
            managed_fields: Some(entries),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn union_of_disjoint_and_shared_paths() {
        let a =
            json!({"f:metadata": {"f:labels": {".": {}, "f:a": {}}}, "f:spec": {"f:replicas": {}}});
        let b = json!({"f:metadata": {"f:labels": {"f:b": {}}, "f:annotations": {"f:x": {}}},
            "f:data": {"f:token": {}}});
        assert_eq!(
            union_fields(&a, &b),
            json!({
                "f:data": {"f:token": {}},
                "f:metadata": {"f:annotations": {"f:x": {}}, "f:labels": {".": {}, "f:a": {}, "f:b": {}}},
                "f:spec": {"f:replicas": {}},
            })
        );
        // Commutative and idempotent.
        assert_eq!(union_fields(&a, &b), union_fields(&b, &a));
        assert_eq!(union_fields(&a, &a), a);
        assert_eq!(union_fields(&json!({}), &a), a);
        assert_eq!(union_fields(&a, &json!({})), a);
    }

    #[test]
    fn a_member_leaf_that_has_children_on_the_other_side_keeps_the_dot() {
        // `f:labels` a member without children on one side, children only on the other.
        let a = json!({"f:metadata": {"f:labels": {}}});
        let b = json!({"f:metadata": {"f:labels": {"f:app": {}}}});
        let expected = json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}});
        assert_eq!(union_fields(&a, &b), expected);
        assert_eq!(union_fields(&b, &a), expected);
        // Neither side a member: no dot.
        let c = json!({"f:metadata": {"f:labels": {"f:other": {}}}});
        assert_eq!(
            union_fields(&b, &c),
            json!({"f:metadata": {"f:labels": {"f:app": {}, "f:other": {}}}})
        );
        // The root never gets a dot.
        assert!(union_fields(&json!({}), &b).get(".").is_none());
    }

    #[test]
    fn union_of_keyed_set_and_indexed_items() {
        let a = json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
            "k:{\"name\":\"openclaw\"}": {".": {}, "f:name": {}, "f:livenessProbe": {".": {},
                "f:httpGet": {".": {}, "f:path": {}, "f:port": {}}}}}}}},
            "f:metadata": {"f:finalizers": {".": {}, "v:\"a\"": {}}}});
        let b = json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {
            "k:{\"name\":\"openclaw\"}": {".": {}, "f:name": {}, "f:livenessProbe": {".": {},
                "f:exec": {".": {}, "f:command": {}}}},
            "k:{\"name\":\"sidecar\"}": {".": {}, "f:name": {}}}}}},
            "f:metadata": {"f:finalizers": {"v:\"b\"": {}}}, "f:args": {"i:0": {}}});
        let u = union_fields(&a, &b);
        let probe = &u["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"openclaw\"}"]
            ["f:livenessProbe"];
        assert_eq!(
            probe,
            &json!({".": {}, "f:exec": {".": {}, "f:command": {}},
                "f:httpGet": {".": {}, "f:path": {}, "f:port": {}}})
        );
        assert!(
            u["f:spec"]["f:template"]["f:spec"]["f:containers"]
                .get("k:{\"name\":\"sidecar\"}")
                .is_some()
        );
        assert_eq!(
            u["f:metadata"]["f:finalizers"],
            json!({".": {}, "v:\"a\"": {}, "v:\"b\"": {}})
        );
        assert_eq!(u["f:args"], json!({"i:0": {}}));
    }

    #[test]
    fn malformed_parts_become_members() {
        assert_eq!(
            union_fields(&json!({"f:a": "x"}), &json!({"f:a": {"f:b": {}}})),
            json!({"f:a": {".": {}, "f:b": {}}})
        );
        assert_eq!(
            union_fields(&json!("junk"), &json!({"f:a": 1})),
            json!({"f:a": {}})
        );
    }

    #[test]
    fn recognises_only_update_entries_of_the_go_manager_on_the_main_resource() {
        assert!(adoptable(&entry("manager", "Update", None, json!({}))));
        assert!(adoptable(&entry("manager", "Update", Some(""), json!({}))));
        assert!(!adoptable(&entry(
            "manager",
            "Update",
            Some("status"),
            json!({})
        )));
        assert!(!adoptable(&entry("manager", "Apply", None, json!({}))));
        for other in [
            OURS,
            "kubectl-client-side-apply",
            "before-first-apply",
            "kubectl-edit",
            "kube-controller-manager",
            "manager-2",
        ] {
            assert!(
                !adoptable(&entry(other, "Update", None, json!({}))),
                "{other}"
            );
        }
    }

    #[test]
    fn nothing_to_take_over_without_a_foreign_entry() {
        let entries = vec![
            entry(OURS, "Apply", None, json!({"f:spec": {}})),
            entry("manager", "Update", Some("status"), json!({"f:status": {}})),
            entry(
                "kubectl-client-side-apply",
                "Update",
                None,
                json!({"f:spec": {}}),
            ),
        ];
        assert_eq!(
            adopted_entries(&entries, "apps/v1", OURS, Part::Object),
            None
        );
        assert_eq!(adopted_entries(&[], "apps/v1", OURS, Part::Object), None);
    }

    #[test]
    fn creates_our_apply_entry_in_the_place_of_the_foreign_one() {
        let mut go = entry(
            "manager",
            "Update",
            None,
            json!({"f:spec": {"f:replicas": {}}}),
        );
        go.api_version = Some("apps/v1".into());
        go.time = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-01-02T03:04:05Z".parse().expect("time"),
        ));
        let entries = vec![
            entry(
                "kube-controller-manager",
                "Update",
                Some("status"),
                json!({"f:status": {}}),
            ),
            go.clone(),
            entry(
                "kubectl-edit",
                "Update",
                None,
                json!({"f:metadata": {"f:annotations": {}}}),
            ),
        ];
        let out = adopted_entries(&entries, "apps/v1", OURS, Part::Object).expect("adopted");
        assert_eq!(
            names(&out),
            vec![
                (
                    "kube-controller-manager".into(),
                    "Update".into(),
                    "status".into()
                ),
                (OURS.into(), "Apply".into(), String::new()),
                ("kubectl-edit".into(), "Update".into(), String::new()),
            ]
        );
        let ours = &out[1];
        assert_eq!(fields(ours), &json!({"f:spec": {"f:replicas": {}}}));
        assert_eq!(ours.api_version.as_deref(), Some("apps/v1"));
        assert_eq!(ours.fields_type.as_deref(), Some("FieldsV1"));
        assert_eq!(ours.time, go.time);
        assert_eq!(ours.subresource, None);
        // The other entries are untouched.
        assert_eq!(out[0], entries[0]);
        assert_eq!(out[2], entries[2]);
        // Once taken over there is nothing left to take over.
        assert_eq!(adopted_entries(&out, "apps/v1", OURS, Part::Object), None);
    }

    #[test]
    fn merges_every_foreign_entry_into_our_existing_apply_entry() {
        let entries = vec![
            entry(
                "manager",
                "Update",
                None,
                json!({"f:spec": {"f:template": {"f:spec": {
                "f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:readinessProbe": {".": {},
                    "f:httpGet": {}}}}}}}}),
            ),
            entry(OURS, "Apply", Some("status"), json!({"f:status": {}})),
            entry(
                OURS,
                "Apply",
                None,
                json!({"f:metadata": {"f:labels": {"f:x": {}}},
                "f:spec": {"f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"a\"}": {".": {}, "f:readinessProbe": {".": {}, "f:exec": {}}}}}}}}),
            ),
            // An older Go entry of another apiVersion, merged as well.
            {
                let mut e = entry(
                    "manager",
                    "Update",
                    None,
                    json!({"f:metadata": {"f:labels": {"f:go": {}}}}),
                );
                e.api_version = Some("apps/v1beta2".into());
                e
            },
        ];
        let out = adopted_entries(&entries, "apps/v1", OURS, Part::Object).expect("adopted");
        assert_eq!(
            names(&out),
            vec![
                (OURS.into(), "Apply".into(), "status".into()),
                (OURS.into(), "Apply".into(), String::new()),
            ]
        );
        assert_eq!(
            fields(&out[1]),
            &json!({"f:metadata": {"f:labels": {"f:go": {}, "f:x": {}}},
                "f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {".": {},
                    "f:readinessProbe": {".": {}, "f:exec": {}, "f:httpGet": {}}}}}}}})
        );
        // Our status entry is untouched.
        assert_eq!(out[0], entries[1]);
    }

    #[test]
    fn the_patch_tests_the_resource_version_and_replaces_the_entries() {
        let entries = vec![entry(OURS, "Apply", None, json!({"f:data": {}}))];
        let patch = managed_fields_patch(&entries, "42").expect("patch");
        let v = serde_json::to_value(&patch).expect("json");
        assert_eq!(
            v[0],
            json!({"op": "test", "path": "/metadata/resourceVersion", "value": "42"})
        );
        assert_eq!(v[1]["op"], json!("replace"));
        assert_eq!(v[1]["path"], json!("/metadata/managedFields"));
        assert_eq!(v[1]["value"][0]["manager"], json!(OURS));
        assert_eq!(v[1]["value"][0]["fieldsV1"], json!({"f:data": {}}));
    }

    #[test]
    fn eligible_needs_our_label_and_the_instance_as_controller() {
        let go = || vec![entry("manager", "Update", None, json!({}))];
        let ok = meta(true, vec![owner("u1", true)], go());
        assert!(eligible(&ok, "u1"));
        assert!(!eligible(&ok, "u2"));
        assert!(!eligible(&ok, ""));
        assert!(!eligible(&meta(false, vec![owner("u1", true)], go()), "u1"));
        assert!(!eligible(&meta(true, vec![owner("u1", false)], go()), "u1"));
        assert!(!eligible(&meta(true, vec![], go()), "u1"));

        assert_eq!(pending(&ok, &[owner("u1", true)]).as_deref(), Some("u1"));
        assert_eq!(pending(&ok, &[owner("u2", true)]), None);
        assert_eq!(pending(&ok, &[owner("u1", false)]), None);
        assert_eq!(pending(&ok, &[]), None);
        let adopted = meta(
            true,
            vec![owner("u1", true)],
            vec![entry(OURS, "Apply", None, json!({}))],
        );
        assert_eq!(pending(&adopted, &[owner("u1", true)]), None);
    }

    #[test]
    fn the_cache_keeps_only_markers_of_foreign_entries() {
        let mut m = meta(
            true,
            vec![owner("u1", true)],
            vec![
                entry(OURS, "Apply", None, json!({"f:spec": {}})),
                entry(
                    "manager",
                    "Update",
                    None,
                    json!({"f:spec": {"f:replicas": {}}}),
                ),
                entry("manager", "Update", Some("status"), json!({"f:status": {}})),
                entry(
                    "kube-controller-manager",
                    "Update",
                    Some("status"),
                    json!({"f:status": {}}),
                ),
            ],
        );
        trim_managed_fields(&mut m);
        let kept = m.managed_fields.clone().expect("marker");
        assert_eq!(
            names(&kept),
            vec![("manager".into(), "Update".into(), String::new())]
        );
        assert_eq!(kept[0].fields_v1, None);
        assert_eq!(pending(&m, &[owner("u1", true)]).as_deref(), Some("u1"));

        let mut m = meta(true, vec![], vec![entry(OURS, "Apply", None, json!({}))]);
        trim_managed_fields(&mut m);
        assert_eq!(m.managed_fields, None);
        let mut m = ObjectMeta::default();
        trim_managed_fields(&mut m);
        assert_eq!(m.managed_fields, None);
    }

    #[test]
    fn the_instance_status_entry_is_taken_over_and_nothing_else() {
        let status = |f: Value| {
            let mut e = entry("manager", "Update", Some("status"), f);
            e.api_version = Some("openclaw.rocks/v1alpha1".into());
            e
        };
        let entries = vec![
            entry(
                "kubectl-client-side-apply",
                "Update",
                None,
                json!({"f:spec": {}}),
            ),
            entry(
                "manager",
                "Update",
                None,
                json!({"f:metadata": {"f:finalizers": {}}}),
            ),
            status(
                json!({"f:status": {".": {}, "f:managedResources": {".": {}, "f:chromiumPVC": {}}}}),
            ),
        ];
        // No status entry of ours yet: created with the subresource.
        let out = adopted_entries(&entries, "openclaw.rocks/v1alpha1", OURS, Part::Status)
            .expect("adopted");
        assert_eq!(
            names(&out),
            vec![
                (
                    "kubectl-client-side-apply".into(),
                    "Update".into(),
                    String::new()
                ),
                ("manager".into(), "Update".into(), String::new()),
                (OURS.into(), "Apply".into(), "status".into()),
            ]
        );
        assert_eq!(
            out[2].api_version.as_deref(),
            Some("openclaw.rocks/v1alpha1")
        );
        assert_eq!(fields(&out[2]), fields(&entries[2]));
        assert_eq!(
            adopted_entries(&out, "openclaw.rocks/v1alpha1", OURS, Part::Status),
            None
        );

        // With our status entry: merged into it, our object entry untouched.
        let mut entries = entries;
        entries.push(entry(
            OURS,
            "Apply",
            Some("status"),
            json!({"f:status": {"f:phase": {}}}),
        ));
        entries.push(entry(OURS, "Apply", None, json!({"f:metadata": {}})));
        let out = adopted_entries(&entries, "openclaw.rocks/v1alpha1", OURS, Part::Status)
            .expect("adopted");
        assert_eq!(out.len(), 4);
        assert_eq!(
            fields(&out[2]),
            &json!({"f:status": {".": {}, "f:managedResources": {".": {}, "f:chromiumPVC": {}},
                "f:phase": {}}})
        );
        assert_eq!(out[3], entries[4]);
        // The object part of the instance has nothing of ours to take over.
        assert!(
            adopted_entries(&entries, "v", OURS, Part::Object).is_some_and(|o| o.iter().all(|e| e
                .manager
                .as_deref()
                != Some("manager")
                || e.subresource.is_some()))
        );
    }

    #[test]
    fn the_instance_cache_keeps_only_markers_of_foreign_status_entries() {
        let mut m = meta(
            false,
            vec![],
            vec![
                entry(
                    "kubectl-client-side-apply",
                    "Update",
                    None,
                    json!({"f:spec": {}}),
                ),
                entry("manager", "Update", None, json!({"f:metadata": {}})),
                entry("manager", "Update", Some("status"), json!({"f:status": {}})),
                entry(OURS, "Apply", Some("status"), json!({"f:status": {}})),
            ],
        );
        assert!(status_pending(&m));
        trim_instance_managed_fields(&mut m);
        let kept = m.managed_fields.clone().expect("marker");
        assert_eq!(
            names(&kept),
            vec![("manager".into(), "Update".into(), "status".into())]
        );
        assert_eq!(kept[0].fields_v1, None);
        assert!(status_pending(&m));
        let mut m = meta(
            false,
            vec![],
            vec![entry(OURS, "Apply", Some("status"), json!({}))],
        );
        trim_instance_managed_fields(&mut m);
        assert!(!status_pending(&m));
    }
}
