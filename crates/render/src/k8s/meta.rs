//! Labels, owner references and object metadata.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};

use crate::model::Model;

/// `app.kubernetes.io/name`.
pub const NAME_LABEL: &str = "app.kubernetes.io/name";
/// `app.kubernetes.io/instance`.
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// `app.kubernetes.io/managed-by`.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Value of [`NAME_LABEL`] on every managed object.
pub const APP_NAME: &str = "openclaw";
/// Value of [`MANAGED_BY_LABEL`] on every managed object (also the SSA field manager).
pub const MANAGER: &str = "openclaw-operator";

/// The labels that select an instance's pods: name and instance.
pub fn selector_labels(instance_name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (NAME_LABEL.to_string(), APP_NAME.to_string()),
        (INSTANCE_LABEL.to_string(), instance_name.to_string()),
    ])
}

/// The standard labels of every managed object: the selector labels plus managed-by.
pub fn labels(instance_name: &str) -> BTreeMap<String, String> {
    let mut l = selector_labels(instance_name);
    l.insert(MANAGED_BY_LABEL.to_string(), MANAGER.to_string());
    l
}

/// A selector matching the instance's pods.
pub fn pod_selector(instance_name: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(selector_labels(instance_name)),
        ..Default::default()
    }
}

/// The controller reference to the instance.
pub fn owner_reference(m: &Model) -> OwnerReference {
    OwnerReference {
        api_version: format!("{}/{}", openclaw_api::GROUP, openclaw_api::VERSION),
        kind: "OpenClawInstance".to_string(),
        name: m.name.clone(),
        uid: m.uid.clone(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Metadata of a managed object: name, namespace, standard labels, controller reference.
pub fn object_meta(m: &Model, name: impl Into<String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(m.namespace.clone()),
        labels: Some(labels(&m.name)),
        owner_references: Some(vec![owner_reference(m)]),
        ..Default::default()
    }
}

/// `Some(map)` unless empty (the API server drops empty maps).
pub fn non_empty_map(map: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then_some(map)
}

/// `Some(list)` unless empty (the API server drops empty lists).
pub fn non_empty_vec<T>(list: Vec<T>) -> Option<Vec<T>> {
    (!list.is_empty()).then_some(list)
}

/// Metadata of a feature object: the standard labels, the controller reference and
/// `app.kubernetes.io/component=<component>`.
pub fn component_meta(m: &Model, name: String, component: &str) -> ObjectMeta {
    let mut metadata = object_meta(m, name);
    metadata.labels.get_or_insert_with(BTreeMap::new).insert(
        crate::consts::COMPONENT_LABEL.to_string(),
        component.to_string(),
    );
    metadata
}
