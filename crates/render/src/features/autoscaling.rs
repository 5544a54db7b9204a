//! HPA and per-replica volumes (`docs/design/optional-features.md` §1.12,
//! `docs/features/networking.md`), when `availability.autoScaling.enabled == true`.
//!
//! Renders the `autoscaling/v2` HorizontalPodAutoscaler `<name>` scaling the StatefulSet, and
//! changes the StatefulSet ([`statefulset_overrides`]): `replicas` is left to the HPA, and
//! with persistence on every replica gets its own data volume from the claim template `data`
//! (PVCs `data-<name>-<ordinal>`) instead of the shared `<name>-data`, which is then not
//! rendered ([`per_replica_volumes`]).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSetSpec;
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use openclaw_api::AutoScalingSpec;

use super::hooks::Feature;
use crate::consts::{DEFAULT_PVC_SIZE, volume};
use crate::k8s::meta::{self, component_meta};
use crate::model::Model;
use crate::{Desired, Object, Phase, RenderError, StatusSlot, quantity};

/// The `app.kubernetes.io/component` value of the HPA.
pub const COMPONENT: &str = "autoscaling";
/// `minReplicas` when unset.
pub const DEFAULT_MIN_REPLICAS: i32 = 1;
/// `maxReplicas` when unset.
pub const DEFAULT_MAX_REPLICAS: i32 = 5;
/// Target CPU utilization (percent) when unset.
pub const DEFAULT_CPU_UTILIZATION: i32 = 80;

/// HPA and per-replica volumes.
pub struct Autoscaling;

/// The registry entry.
pub static T: Autoscaling = Autoscaling;

impl Feature for Autoscaling {
    fn name(&self) -> &'static str {
        COMPONENT
    }

    fn enabled(&self, m: &Model) -> bool {
        spec(m).is_some()
    }

    fn per_replica_data(&self, m: &Model) -> bool {
        per_replica_volumes(m)
    }

    fn finish_statefulset(&self, m: &Model, sts: &mut StatefulSetSpec) {
        statefulset_overrides(m, sts);
    }

    fn objects(
        &self,
        m: &Model,
        out: &mut Vec<Desired>,
        warnings: &mut Vec<String>,
    ) -> Result<(), RenderError> {
        let Some(spec) = spec(m) else {
            return Ok(());
        };
        if per_replica_volumes(m) {
            if let Some(size) = m.pvc_size()
                && quantity::canonical(size).is_none()
            {
                warnings.push(format!(
                    "spec.storage.persistence.size {size:?} is not a quantity; using {DEFAULT_PVC_SIZE}"
                ));
            }
            if let Some(claim) = m.existing_claim() {
                warnings.push(format!(
                    "spec.storage.persistence.existingClaim {claim:?} is not used while \
                     autoscaling is on: every replica gets its own volume data-{}-<ordinal>",
                    m.name
                ));
            } else {
                warnings.push(format!(
                    "autoscaling uses per-replica volumes data-{name}-<ordinal>; the PVC \
                     {name}-data is no longer mounted (it is kept, its data is not copied)",
                    name = m.name
                ));
            }
        }
        out.push(Desired::apply(
            Object::HorizontalPodAutoscaler(hpa(m, spec)),
            Phase::Exposure,
            Some(StatusSlot::Hpa),
        ));
        Ok(())
    }
}

/// `availability.autoScaling`, when enabled.
fn spec<'a>(m: &'a Model<'_>) -> Option<&'a AutoScalingSpec> {
    m.spec
        .availability
        .as_ref()?
        .auto_scaling
        .as_ref()
        .filter(|a| a.enabled == Some(true))
}

/// Autoscaling is on and the data volume is persistent: the StatefulSet's claim template
/// replaces the shared PVC `<name>-data` (and `existingClaim`).
pub fn per_replica_volumes(m: &Model) -> bool {
    spec(m).is_some() && m.persistence_enabled()
}

fn resource_metric(name: &str, utilization: i32) -> MetricSpec {
    MetricSpec {
        type_: "Resource".to_string(),
        resource: Some(ResourceMetricSource {
            name: name.to_string(),
            target: MetricTarget {
                type_: "Utilization".to_string(),
                average_utilization: Some(utilization),
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

/// The HorizontalPodAutoscaler `<name>`.
fn hpa(m: &Model, spec: &AutoScalingSpec) -> HorizontalPodAutoscaler {
    let mut metrics = vec![resource_metric(
        "cpu",
        spec.target_cpu_utilization
            .unwrap_or(DEFAULT_CPU_UTILIZATION),
    )];
    if let Some(memory) = spec.target_memory_utilization {
        metrics.push(resource_metric("memory", memory));
    }
    HorizontalPodAutoscaler {
        metadata: component_meta(m, m.name.clone(), COMPONENT),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".to_string()),
                kind: "StatefulSet".to_string(),
                name: m.name.clone(),
            },
            min_replicas: Some(spec.min_replicas.unwrap_or(DEFAULT_MIN_REPLICAS)),
            max_replicas: spec.max_replicas.unwrap_or(DEFAULT_MAX_REPLICAS),
            metrics: Some(metrics),
            behavior: None,
        }),
        ..Default::default()
    }
}

/// The claim template `data`: standard labels, the persistence settings, `Filesystem`.
fn data_claim_template(m: &Model) -> PersistentVolumeClaim {
    // An unparsable size is reported by `Autoscaling::objects`.
    let size = m
        .pvc_size()
        .and_then(quantity::canonical)
        .unwrap_or_else(|| DEFAULT_PVC_SIZE.to_string());
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(volume::DATA.to_string()),
            labels: Some(meta::labels(&m.name)),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(m.pvc_access_modes()),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_string(), Quantity(size))])),
                ..Default::default()
            }),
            storage_class_name: m.pvc_storage_class().map(str::to_string),
            volume_mode: Some("Filesystem".to_string()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The StatefulSet changes of autoscaling: `replicas` omitted (the HPA owns it through the
/// scale subresource; `suspended`, which validation forbids together with autoscaling, still
/// gives 0), and with persistence on the `data` volume replaced by the claim template `data`.
pub fn statefulset_overrides(m: &Model, sts: &mut StatefulSetSpec) {
    if spec(m).is_none() {
        return;
    }
    if !m.suspended() {
        sts.replicas = None;
    }
    if !per_replica_volumes(m) {
        return;
    }
    if let Some(volumes) = sts.template.spec.as_mut().and_then(|p| p.volumes.as_mut()) {
        volumes.retain(|v| v.name != volume::DATA);
    }
    sts.volume_claim_templates = Some(vec![data_claim_template(m)]);
}
