//! The instance as the renderers see it: metadata checked, cluster defaults merged, and every
//! "nil means X" rule of the API answered in one place.

use openclaw_api::defaults::apply_cluster_defaults;
use openclaw_api::{
    ConfigSpec, DEFAULT_IMAGE_REPOSITORY, DEFAULT_IMAGE_TAG, DEFAULT_PULL_POLICY, MetricsSpec,
    OpenClawInstance, OpenClawInstanceSpec, PersistenceSpec,
};

use crate::{Observed, RenderError};

/// How `openclaw.json` reaches the data volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeMode {
    /// The operator's file replaces the one on the volume.
    Overwrite,
    /// The operator's file is deep-merged into the one on the volume.
    Merge,
}

impl MergeMode {
    /// The argument the apply program takes.
    pub fn as_str(self) -> &'static str {
        match self {
            MergeMode::Overwrite => "overwrite",
            MergeMode::Merge => "merge",
        }
    }
}

/// One instance, ready to render.
pub struct Model<'a> {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.uid` (for owner references).
    pub uid: String,
    /// The spec with the cluster defaults merged in.
    pub spec: OpenClawInstanceSpec,
    /// What the controller observed.
    pub observed: &'a Observed,
    /// The instance's labels (the backup tenant label).
    pub labels: Option<std::collections::BTreeMap<String, String>>,
    /// `openclaw.rocks/skip-config-check: "true"`: the rendered config is not checked against
    /// OpenClaw's schema.
    pub skip_config_check: bool,
    /// The OpenClaw version the instance runs (from the merged image tag), read once.
    openclaw: Option<(openclaw_versions::Target, String)>,
}

pub(crate) fn non_empty(s: Option<&String>) -> Option<&str> {
    s.map(String::as_str).filter(|s| !s.is_empty())
}

/// A workspace name: `^[a-z0-9]+(-[a-z0-9]+)*$`, at most 63 characters.
pub(crate) fn valid_workspace_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

impl<'a> Model<'a> {
    /// Check the metadata and merge the cluster defaults. Merging is idempotent, so an instance
    /// whose spec already carries the defaults renders the same.
    pub fn new(instance: &OpenClawInstance, observed: &'a Observed) -> Result<Self, RenderError> {
        let meta = &instance.metadata;
        let name = non_empty(meta.name.as_ref()).ok_or(RenderError::MissingMetadata("name"))?;
        let namespace =
            non_empty(meta.namespace.as_ref()).ok_or(RenderError::MissingMetadata("namespace"))?;
        let uid = non_empty(meta.uid.as_ref()).ok_or(RenderError::MissingMetadata("uid"))?;
        let spec = apply_cluster_defaults(&instance.spec, observed.cluster_defaults.as_ref());
        Ok(Model {
            name: name.to_string(),
            namespace: namespace.to_string(),
            uid: uid.to_string(),
            labels: meta.labels.clone(),
            skip_config_check: meta
                .annotations
                .as_ref()
                .and_then(|a| a.get(openclaw_api::validation::SKIP_CONFIG_CHECK_ANNOTATION))
                .is_some_and(|v| v == "true"),
            openclaw: openclaw_api::validation::openclaw_target(&spec),
            spec,
            observed,
        })
    }

    /// The OpenClaw version the instance runs, as far as its image tag says (cluster defaults
    /// merged): the supported version whose behaviour and config schema apply, and the tag.
    pub fn openclaw(&self) -> Option<&(openclaw_versions::Target, String)> {
        self.openclaw.as_ref()
    }

    /// Whether the instance's OpenClaw version knows the config key at `path` (so the operator
    /// may add it). True when no schema is at hand.
    pub fn openclaw_accepts(&self, path: &[&str]) -> bool {
        self.openclaw()
            .and_then(|(t, _)| t.supported.schema().ok())
            .is_none_or(|s| s.accepts(path))
    }

    /// Whether the operator may add the config key at `dotted` (`gateway.bind`) for the
    /// instance's OpenClaw version: the version knows it and has not retired it.
    pub fn openclaw_wants(&self, dotted: &str) -> bool {
        let path: Vec<&str> = dotted.split('.').collect();
        self.openclaw_accepts(&path)
            && self
                .openclaw()
                .is_none_or(|(t, _)| !t.supported.retired(dotted))
    }

    /// The gateway serves `/startupz` (OpenClaw 2026.8.1 and later; the newest behaviour when
    /// the version is unknown).
    pub fn openclaw_has_startupz(&self) -> bool {
        self.openclaw()
            .is_none_or(|(t, _)| t.supported.has_startupz())
    }

    /// `observability.metrics`, when set.
    pub fn metrics(&self) -> Option<&MetricsSpec> {
        self.spec.observability.as_ref()?.metrics.as_ref()
    }

    /// `observability.metrics.enabled` (default true).
    pub fn metrics_enabled(&self) -> bool {
        self.metrics().and_then(|s| s.enabled) != Some(false)
    }

    /// The gateway proxy sidecar runs (`spec.gateway.enabled`, default true).
    pub fn proxy_enabled(&self) -> bool {
        self.spec.gateway.as_ref().and_then(|g| g.enabled) != Some(false)
    }

    /// `spec.gateway.existingSecret`, when set.
    pub fn existing_gateway_secret(&self) -> Option<&str> {
        self.spec
            .gateway
            .as_ref()
            .and_then(|g| non_empty(g.existing_secret.as_ref()))
    }

    /// The Secret holding the gateway token.
    pub fn gateway_secret_name(&self) -> String {
        gateway_secret_name(&self.name, &self.spec)
    }

    fn persistence(&self) -> Option<&PersistenceSpec> {
        self.spec.storage.as_ref()?.persistence.as_ref()
    }

    /// The data volume is a PVC (`storage.persistence.enabled`, default true).
    pub fn persistence_enabled(&self) -> bool {
        self.persistence().and_then(|p| p.enabled) != Some(false)
    }

    /// `storage.persistence.existingClaim`, when set.
    pub fn existing_claim(&self) -> Option<&str> {
        self.persistence()
            .and_then(|p| non_empty(p.existing_claim.as_ref()))
    }

    /// Name of the PVC backing the data volume, when it is a PVC.
    pub fn data_claim_name(&self) -> Option<String> {
        if !self.persistence_enabled() {
            return None;
        }
        Some(match self.existing_claim() {
            Some(c) => c.to_string(),
            None => format!("{}-data", self.name),
        })
    }

    /// Keep the managed PVC when the instance is deleted (`orphan`, default true).
    pub fn orphan_pvc(&self) -> bool {
        self.persistence().and_then(|p| p.orphan) != Some(false)
    }

    /// PVC size as written (default `10Gi`).
    pub fn pvc_size(&self) -> Option<&str> {
        self.persistence().and_then(|p| non_empty(p.size.as_ref()))
    }

    /// PVC access modes (default `[ReadWriteOnce]`).
    pub fn pvc_access_modes(&self) -> Vec<String> {
        let modes: Vec<String> = self
            .persistence()
            .and_then(|p| p.access_modes.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|m| !m.is_empty())
            .collect();
        if modes.is_empty() {
            vec!["ReadWriteOnce".to_string()]
        } else {
            modes
        }
    }

    /// PVC storage class, when set.
    pub fn pvc_storage_class(&self) -> Option<&str> {
        self.persistence()
            .and_then(|p| non_empty(p.storage_class.as_ref()))
    }

    /// The NetworkPolicy is rendered (default true).
    pub fn network_policy_enabled(&self) -> bool {
        self.spec
            .security
            .as_ref()
            .and_then(|s| s.network_policy.as_ref())
            .and_then(|n| n.enabled)
            != Some(false)
    }

    /// ServiceAccount, Role and RoleBinding are rendered (default true).
    pub fn create_service_account(&self) -> bool {
        self.spec
            .security
            .as_ref()
            .and_then(|s| s.rbac.as_ref())
            .and_then(|r| r.create_service_account)
            != Some(false)
    }

    /// The ServiceAccount the pod runs as: the configured name, or `<name>` when the operator
    /// creates it. `None` when the operator creates none and none is named: the pod then uses
    /// the namespace's `default` account (the Go operator named a ServiceAccount that did not
    /// exist, and the pod could not be created).
    pub fn service_account_name(&self) -> Option<String> {
        let configured = self
            .spec
            .security
            .as_ref()
            .and_then(|s| s.rbac.as_ref())
            .and_then(|r| non_empty(r.service_account_name.as_ref()));
        match configured {
            Some(n) => Some(n.to_string()),
            None if self.create_service_account() => Some(self.name.clone()),
            None => None,
        }
    }

    /// `spec.skillPackUpdatePolicy` selects create-only seeding of skill-pack files: only the
    /// exact value `CreateOnly` does; unset, `Replace` or anything else means Replace (as with
    /// the Go operator 0.38).
    pub fn skill_packs_create_only(&self) -> bool {
        self.spec.skill_pack_update_policy.as_deref() == Some("CreateOnly")
    }

    /// The agent may request changes through OpenClawSelfConfig.
    pub fn self_configure(&self) -> bool {
        self.spec.self_configure.as_ref().and_then(|s| s.enabled) == Some(true)
    }

    /// The pod talks to the Kubernetes API (and needs a ServiceAccount token).
    pub fn needs_api_access(&self) -> bool {
        self.self_configure()
    }

    /// `spec.suspended`.
    pub fn suspended(&self) -> bool {
        self.spec.suspended == Some(true)
    }

    /// The PodDisruptionBudget is rendered (absent or `enabled` not false).
    pub fn pdb_enabled(&self) -> bool {
        self.spec
            .availability
            .as_ref()
            .and_then(|a| a.pod_disruption_budget.as_ref())
            .and_then(|p| p.enabled)
            != Some(false)
    }

    /// `spec.config`, when present.
    pub fn config(&self) -> Option<&ConfigSpec> {
        self.spec.config.as_ref()
    }

    /// The merge mode as written (anything but `merge` is overwrite).
    pub fn merge_mode(&self) -> MergeMode {
        match self.config().and_then(|c| c.merge_mode.as_deref()) {
            Some("merge") => MergeMode::Merge,
            _ => MergeMode::Overwrite,
        }
    }

    /// The external config is JSON5 (`format: json5`).
    pub fn json5(&self) -> bool {
        self.config().and_then(|c| c.format.as_deref()) == Some("json5")
    }

    /// `spec.config.forcePaths` (empty entries dropped).
    pub fn force_paths(&self) -> Vec<String> {
        self.config()
            .and_then(|c| c.force_paths.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect()
    }

    /// `spec.registry`, trailing slashes removed; `None` when empty.
    pub fn registry(&self) -> Option<&str> {
        non_empty(self.spec.registry.as_ref())
            .map(|r| r.trim_end_matches('/'))
            .filter(|r| !r.is_empty())
    }

    /// The OpenClaw image reference, before the registry override.
    pub fn main_image(&self) -> String {
        let image = self.spec.image.as_ref();
        let repo = image
            .and_then(|i| non_empty(i.repository.as_ref()))
            .unwrap_or(DEFAULT_IMAGE_REPOSITORY);
        match image.and_then(|i| non_empty(i.digest.as_ref())) {
            Some(digest) => format!("{repo}@{digest}"),
            None => {
                let tag = image
                    .and_then(|i| non_empty(i.tag.as_ref()))
                    .unwrap_or(DEFAULT_IMAGE_TAG);
                format!("{repo}:{tag}")
            }
        }
    }

    /// Pull policy of the OpenClaw image.
    pub fn pull_policy(&self) -> String {
        self.spec
            .image
            .as_ref()
            .and_then(|i| non_empty(i.pull_policy.as_ref()))
            .unwrap_or(DEFAULT_PULL_POLICY)
            .to_string()
    }

    /// Ingress hosts, when the Ingress is enabled: `(host, has TLS)`.
    pub fn ingress_hosts(&self) -> Vec<(String, bool)> {
        let Some(ingress) = self
            .spec
            .networking
            .as_ref()
            .and_then(|n| n.ingress.as_ref())
            .filter(|i| i.enabled == Some(true))
        else {
            return Vec::new();
        };
        let tls_hosts: Vec<&String> = ingress
            .tls
            .iter()
            .flatten()
            .flat_map(|t| t.hosts.iter().flatten())
            .collect();
        ingress
            .hosts
            .iter()
            .flatten()
            .filter(|h| !h.host.is_empty())
            .map(|h| (h.host.clone(), tls_hosts.contains(&&h.host)))
            .collect()
    }

    /// `spec.gateway.controlUiOrigins` (empty entries dropped).
    pub fn control_ui_origins(&self) -> Vec<String> {
        self.spec
            .gateway
            .as_ref()
            .and_then(|g| g.control_ui_origins.clone())
            .unwrap_or_default()
            .into_iter()
            .filter(|o| !o.is_empty())
            .collect()
    }
}

/// The Secret holding an instance's gateway token: `spec.gateway.existingSecret`, else
/// `<name>-gateway-token`. The one place this name is computed (render and the operator's
/// observe step both call it).
pub fn gateway_secret_name(
    instance_name: &str,
    spec: &openclaw_api::OpenClawInstanceSpec,
) -> String {
    match spec
        .gateway
        .as_ref()
        .and_then(|g| non_empty(g.existing_secret.as_ref()))
    {
        Some(s) => s.to_string(),
        None => format!("{instance_name}-gateway-token"),
    }
}
