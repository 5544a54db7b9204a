//! Volumes and volume mounts.

use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, EmptyDirVolumeSource, PersistentVolumeClaimVolumeSource, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

/// `420` (0644), the mode of every ConfigMap volume.
pub const CONFIG_MAP_MODE: i32 = 0o644;

/// A volume mount.
pub fn mount(name: &str, path: &str, sub_path: Option<&str>, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        sub_path: sub_path.map(str::to_string),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

/// An emptyDir volume.
pub fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.to_string(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }
}

/// An emptyDir volume with a medium and a size limit.
pub fn sized_empty_dir(name: &str, medium: Option<&str>, size_limit: &str) -> Volume {
    Volume {
        name: name.to_string(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: medium.map(str::to_string),
            size_limit: Some(Quantity(size_limit.to_string())),
        }),
        ..Default::default()
    }
}

/// A volume backed by a PVC.
pub fn pvc_volume(name: &str, claim: &str) -> Volume {
    Volume {
        name: name.to_string(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim.to_string(),
            read_only: None,
        }),
        ..Default::default()
    }
}

/// A whole ConfigMap as a volume, mode [`CONFIG_MAP_MODE`].
pub fn config_map_volume(name: &str, config_map: String) -> Volume {
    Volume {
        name: name.to_string(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map,
            default_mode: Some(CONFIG_MAP_MODE),
            ..Default::default()
        }),
        ..Default::default()
    }
}
