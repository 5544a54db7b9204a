//! The small objects: the gateway token Secret, the data PVC and the PodDisruptionBudget.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, Secret, VolumeResourceRequirements,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::consts::{BACKUP_ENABLED_ANNOTATION, DEFAULT_PVC_SIZE, TOKEN_KEY};
use crate::k8s::meta::{object_meta, pod_selector};
use crate::model::Model;
use crate::{RenderError, quantity};

/// The gateway token Secret `<name>-gateway-token`, unless `spec.gateway.existingSecret` names
/// the user's own. The controller applies it only when it does not exist yet (the token is
/// generated once and never rotated by the operator).
pub fn gateway_token_secret(m: &Model) -> Result<Option<Secret>, RenderError> {
    if m.existing_gateway_secret().is_some() {
        return Ok(None);
    }
    let token = m
        .observed
        .gateway_token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or(RenderError::MissingGatewayToken)?;
    Ok(Some(Secret {
        metadata: object_meta(m, m.gateway_secret_name()),
        type_: Some("Opaque".to_string()),
        data: Some(BTreeMap::from([(
            TOKEN_KEY.to_string(),
            ByteString(token.as_bytes().to_vec()),
        )])),
        ..Default::default()
    }))
}

/// The PVC a backup or restore Job mounts: the data PVC (`<name>-data` or `existingClaim`),
/// unless persistence is off or every replica has a volume of its own (then there is nothing
/// single to back up).
pub fn backup_claim(m: &Model) -> Option<String> {
    if crate::features::per_replica_data(m) {
        return None;
    }
    m.data_claim_name()
}

/// The data PVC `<name>-data`: only with persistence on, no `existingClaim` and no feature giving
/// every replica its own volume (autoscaling's per-replica claim templates). It carries the controller reference only with
/// `orphan: false`; by default it has no owner, so deleting the instance keeps the data. The controller creates it once and never updates it.
pub fn data_pvc(m: &Model, warnings: &mut Vec<String>) -> Option<PersistentVolumeClaim> {
    if !m.persistence_enabled()
        || m.existing_claim().is_some()
        || crate::features::per_replica_data(m)
    {
        return None;
    }
    let size = match m.pvc_size() {
        None => DEFAULT_PVC_SIZE.to_string(),
        Some(s) => quantity::canonical(s).unwrap_or_else(|| {
            warnings.push(format!(
                "spec.storage.persistence.size {s:?} is not a quantity; using {DEFAULT_PVC_SIZE}"
            ));
            DEFAULT_PVC_SIZE.to_string()
        }),
    };
    let mut metadata = object_meta(m, format!("{}-data", m.name));
    if m.orphan_pvc() {
        metadata.owner_references = None;
    }
    metadata.annotations = Some(BTreeMap::from([(
        BACKUP_ENABLED_ANNOTATION.to_string(),
        "true".to_string(),
    )]));
    Some(PersistentVolumeClaim {
        metadata,
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(m.pvc_access_modes()),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), Quantity(size))])),
                ..Default::default()
            }),
            storage_class_name: m.pvc_storage_class().map(str::to_string),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The PodDisruptionBudget `<name>` (absent or `enabled` not false): at most `maxUnavailable`
/// (default 1) pods disrupted at a time.
pub fn pdb(m: &Model) -> Option<PodDisruptionBudget> {
    if !m.pdb_enabled() {
        return None;
    }
    let max_unavailable = m
        .spec
        .availability
        .as_ref()
        .and_then(|a| a.pod_disruption_budget.as_ref())
        .and_then(|p| p.max_unavailable)
        .unwrap_or(1);
    Some(PodDisruptionBudget {
        metadata: object_meta(m, m.name.clone()),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(max_unavailable)),
            selector: Some(pod_selector(&m.name)),
            ..Default::default()
        }),
        ..Default::default()
    })
}
