//! The RBAC rules the operator needs, as the single source for the Helm chart and kustomize.
//!
//! The rules for the managed kinds come from the managed-kind table (`controller::kinds`), so a
//! new kind is granted with no edit here. Every rule is derived from a call the operator makes
//! (or from a permission it hands on through a per-instance Role, which RBAC's escalation check
//! requires it to hold itself); the comment on each says which. Nothing is granted "just in case": no `update` where only
//! server-side apply is used, no `get` where only the watch caches are read, no `escalate` or
//! `bind` unless asked for ([`escalation_rules`]).
//!
//! The rules are split by where they must be granted:
//!
//! | set | granted | when |
//! |---|---|---|
//! | [`manager_rules`] | every watched namespace (a ClusterRole when all namespaces are watched) | always |
//! | [`cluster_rules`] | cluster-wide (ClusterRole) | always |
//! | [`leader_election_rules`] | the operator namespace | `--leader-elect` |
//! | [`backup_credentials_rules`] | the operator namespace (or `--backup-credentials-namespace`) | always |
//! | [`webhook_secret_rules`] | the operator namespace | `--webhook-self-signed-secret` |
//! | [`webhook_configuration_rules`] | cluster-wide | `--webhook-self-signed-secret` |
//! | [`metrics_auth_rules`] | cluster-wide | `--metrics-secure` |
//! | [`escalation_rules`] | with the manager rules | opt-in (`rbac.allowEscalation`) |
//!
//! [`metrics_reader_rules`] and the aggregated [`aggregate_edit_rules`] / [`aggregate_view_rules`]
//! are for the operator's users (a Prometheus scraping `/metrics`, namespace admins), not for
//! the operator.
//!
//! [`generated_files`] renders them into the files the chart and kustomize include; the test
//! `crates/operator/tests/rbac.rs` fails when a committed file differs, and
//! `UPDATE_RBAC=1 cargo test -p openclaw-operator --test rbac` rewrites them.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule, Role};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use openclaw_render::CustomKind;

use crate::controller::kinds::MANAGED_RESOURCES;

/// Default name of the leader-election Lease (`--leader-election-id`): the Go operator's, so the
/// two never lead at the same time during a migration.
pub const DEFAULT_LEASE_NAME: &str = "openclaw-operator.openclaw.rocks";
/// Default operator namespace (`POD_NAMESPACE` unset), also kustomize's namespace.
pub const DEFAULT_OPERATOR_NAMESPACE: &str = "openclaw-operator-system";
/// Name kustomize gives the self-signed webhook certificate Secret.
pub const KUSTOMIZE_WEBHOOK_SECRET: &str = "openclaw-operator-webhook-server-cert";
/// Name kustomize gives both webhook configurations (validating and mutating).
pub const KUSTOMIZE_WEBHOOK_CONFIGURATION: &str = "openclaw-operator";

/// First line of every generated file (YAML comment form).
pub const GENERATED_HEADER: &str = "# Generated from crates/operator/src/rbac.rs by `UPDATE_RBAC=1 cargo test -p openclaw-operator --test rbac`; do not edit by hand.\n";

/// Path of the Helm named templates holding every rule set, relative to the repository root.
pub const HELM_RULES_PATH: &str = "charts/openclaw-operator/templates/_rbac-rules.tpl";

/// Errors while rendering the generated files.
#[derive(Debug, thiserror::Error)]
pub enum RbacError {
    /// A rule set could not be serialized as YAML.
    #[error("serializing RBAC rules: {0}")]
    Yaml(String),
}

const CORE: &str = "";
const RBAC: &str = "rbac.authorization.k8s.io";
const EVENTS: &str = "events.k8s.io";
const COORDINATION: &str = "coordination.k8s.io";
const ADMISSION: &str = "admissionregistration.k8s.io";
const OPENCLAW: &str = "openclaw.rocks";

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_string()).collect()
}

fn rule(group: &str, resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(strings(resources)),
        verbs: strings(verbs),
        ..Default::default()
    }
}

fn named_rule(group: &str, resources: &[&str], names: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        resource_names: Some(strings(names)),
        ..rule(group, resources, verbs)
    }
}

/// What the controller does with every managed kind: watches it (list, watch: label-selected
/// caches), writes it by server-side apply (patch, plus create: an apply that creates checks
/// `create` too) and prunes it (delete).
const MANAGED_VERBS: &[&str] = &["list", "watch", "create", "patch", "delete"];

/// One rule per API group, in first-seen order, for `(group, resource)` pairs.
fn grouped_rules<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    verbs: &[&str],
) -> Vec<PolicyRule> {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for (group, resource) in pairs {
        match groups.iter_mut().find(|(g, _)| *g == group) {
            Some((_, resources)) => resources.push(resource),
            None => groups.push((group, vec![resource])),
        }
    }
    groups
        .into_iter()
        .map(|(group, resources)| rule(group, &resources, verbs))
        .collect()
}

/// Rules in every namespace the operator watches (a ClusterRole in cluster-wide mode, one Role
/// per namespace with `--watch-namespaces`).
pub fn manager_rules() -> Vec<PolicyRule> {
    // Every managed kind (the table `openclaw_render::managed_kinds!`, see
    // `controller::kinds`), and the optional third-party kinds, watched only while their CRD
    // exists (discovery needs no RBAC; rules for absent CRDs are harmless). PVCs are deleted
    // only when labelled `app.kubernetes.io/component=chromium` (the Chromium profile cache,
    // pruned when Chromium or its persistence is switched off); the data PVC never.
    let mut rules = grouped_rules(MANAGED_RESOURCES.iter().copied(), MANAGED_VERBS);
    rules.extend(grouped_rules(
        CustomKind::ALL.iter().map(|k| (k.group(), k.plural())),
        MANAGED_VERBS,
    ));
    rules.extend([
        // Secrets: `get` of each referenced Secret in observe. Per-instance Roles hand on
        // `get`, `update`, `patch` of the Tailscale
        // state Secret `<name>-ts-state` (RBAC's escalation check requires the operator to hold
        // `update` itself to grant it).
        rule(CORE, &["secrets"], &["get", "update"]),
        // ConfigMaps: `get` of the external config and workspace ConfigMaps (per-instance
        // Roles hand on `get`, `watch` of `<name>-config`). PVCs: `get` (metadata) of
        // `existingClaim`.
        rule(CORE, &["configmaps", "persistentvolumeclaims"], &["get"]),
        // Pods: `list` (metadata) of an instance's pods, while a backup on delete or a restore
        // waits for them to stop.
        rule(CORE, &["pods"], &["list"]),
        // The controller's watch of instances; `get` is handed on by per-instance Roles
        // (self-configure reads its own instance); `patch` adds and removes the finalizer and
        // takes over the status entry the Go operator wrote (`metadata.managedFields`, adopt.rs).
        rule(
            OPENCLAW,
            &["openclawinstances"],
            &["get", "list", "watch", "patch"],
        ),
        // The finalizer, and owner references with `blockOwnerDeletion`, need `update` on the
        // owner's finalizers where the OwnerReferencesPermissionEnforcement admission plugin
        // runs (OpenShift).
        rule(OPENCLAW, &["openclawinstances/finalizers"], &["update"]),
        // Status: server-side apply on the status subresource.
        rule(OPENCLAW, &["openclawinstances/status"], &["patch"]),
        // Self-configuration requests: the controller's watch (list, watch), a fresh `get`
        // before each batch, a merge `patch` of the owner reference, `delete` once the TTL
        // is over; `create` is handed on by per-instance Roles (the agent creates requests).
        rule(
            OPENCLAW,
            &["openclawselfconfigs"],
            &["get", "list", "watch", "create", "patch", "delete"],
        ),
        // Their status: merge patches of phase, message and completion time.
        rule(OPENCLAW, &["openclawselfconfigs/status"], &["patch"]),
        // kube's event Recorder: events.k8s.io/v1, created in the instance's namespace and
        // merge-patched when it repeats (series).
        rule(EVENTS, &["events"], &["create", "patch"]),
    ]);
    rules
}

/// Cluster-scoped rules (always a ClusterRole, also with `--watch-namespaces`).
pub fn cluster_rules() -> Vec<PolicyRule> {
    vec![
        // The cluster-scoped OpenClawClusterDefaults singleton: watched (list, watch) cluster-wide.
        rule(OPENCLAW, &["openclawclusterdefaults"], &["list", "watch"]),
        // Self-configuration: whether the requester of a request (a person or a GitOps tool,
        // not the agent itself) may patch the target instance.
        rule(
            "authorization.k8s.io",
            &["subjectaccessreviews"],
            &["create"],
        ),
    ]
}

/// Opt-in: lets the operator put rules it does not hold itself into per-instance Roles
/// (`spec.security.rbac.additionalRules`) and bind them. Without it, RBAC's escalation check
/// rejects such a Role and the instance reports the error.
pub fn escalation_rules() -> Vec<PolicyRule> {
    vec![rule(RBAC, &["roles"], &["escalate", "bind"])]
}

/// Leader election with kube-lease-manager, in the operator namespace: it creates the Lease
/// when missing (`create` cannot be limited by name), reads it and renews, takes over or
/// releases it with patches.
pub fn leader_election_rules(lease: &str) -> Vec<PolicyRule> {
    vec![
        rule(COORDINATION, &["leases"], &["create"]),
        named_rule(COORDINATION, &["leases"], &[lease], &["get", "patch"]),
    ]
}

/// Backups and restores, in the operator namespace: the `s3-backup-credentials` Secret, read
/// through a watch of that one name (a field-selected list and watch, which `resourceNames`
/// allows). Needed where the operator's namespace is not among the watched ones.
pub fn backup_credentials_rules() -> Vec<PolicyRule> {
    vec![named_rule(
        CORE,
        &["secrets"],
        &[openclaw_render::features::backup::CREDENTIALS_SECRET],
        &["get", "list", "watch"],
    )]
}

/// The webhook's self-signed mode, in the operator namespace: the CA and serving certificate
/// are stored in (and read back from) one Secret.
pub fn webhook_secret_rules(secret: &str) -> Vec<PolicyRule> {
    vec![
        rule(CORE, &["secrets"], &["create"]),
        named_rule(CORE, &["secrets"], &[secret], &["get", "update"]),
    ]
}

/// The webhook's self-signed mode, cluster-wide: the CA bundle is patched into the validating
/// and mutating webhook configurations (both named `name`).
pub fn webhook_configuration_rules(name: &str) -> Vec<PolicyRule> {
    vec![named_rule(
        ADMISSION,
        &[
            "validatingwebhookconfigurations",
            "mutatingwebhookconfigurations",
        ],
        &[name],
        &["get", "patch"],
    )]
}

/// `--metrics-secure`: each scrape's bearer token is checked with a TokenReview and the caller's
/// right to `get /metrics` with a SubjectAccessReview.
pub fn metrics_auth_rules() -> Vec<PolicyRule> {
    vec![
        rule("authentication.k8s.io", &["tokenreviews"], &["create"]),
        rule(
            "authorization.k8s.io",
            &["subjectaccessreviews"],
            &["create"],
        ),
    ]
}

/// For whoever scrapes the secure metrics endpoint (bind it to Prometheus's ServiceAccount).
pub fn metrics_reader_rules() -> Vec<PolicyRule> {
    vec![PolicyRule {
        non_resource_urls: Some(vec!["/metrics".to_string()]),
        verbs: vec!["get".to_string()],
        ..Default::default()
    }]
}

/// Aggregated into the built-in `admin` and `edit` ClusterRoles: namespace admins and editors
/// manage instances and self-config requests.
pub fn aggregate_edit_rules() -> Vec<PolicyRule> {
    vec![rule(
        OPENCLAW,
        &["openclawinstances", "openclawselfconfigs"],
        &[
            "get", "list", "watch", "create", "update", "patch", "delete",
        ],
    )]
}

/// Aggregated into the built-in `view` ClusterRole.
pub fn aggregate_view_rules() -> Vec<PolicyRule> {
    vec![rule(
        OPENCLAW,
        &["openclawinstances", "openclawselfconfigs"],
        &["get", "list", "watch"],
    )]
}

/// A rule list as a YAML sequence (no document marker), as it goes under `rules:`.
pub fn rules_yaml(rules: &[PolicyRule]) -> Result<String, RbacError> {
    serde_saphyr::to_string(&rules.to_vec()).map_err(|e| RbacError::Yaml(e.to_string()))
}

// Placeholders for names the chart computes from its values; they are replaced by Helm
// expressions in the generated template.
const LEASE_PLACEHOLDER: &str = "OPENCLAW_PLACEHOLDER_LEASE";
const SECRET_PLACEHOLDER: &str = "OPENCLAW_PLACEHOLDER_WEBHOOK_SECRET";
const CONFIGURATION_PLACEHOLDER: &str = "OPENCLAW_PLACEHOLDER_WEBHOOK_CONFIGURATION";

/// The Helm named templates (`templates/_rbac-rules.tpl`): one `define` per rule set, named
/// `openclaw-operator.rules.<set>`, each a YAML sequence to place under `rules:`. Names come
/// from the chart's helpers `openclaw-operator.leaseName`, `.webhookSecretName` and
/// `.webhookConfigurationName`.
pub fn helm_rules_template() -> Result<String, RbacError> {
    let sets: [(&str, Vec<PolicyRule>); 11] = [
        ("manager", manager_rules()),
        ("cluster", cluster_rules()),
        ("escalation", escalation_rules()),
        ("leaderElection", leader_election_rules(LEASE_PLACEHOLDER)),
        ("backupCredentials", backup_credentials_rules()),
        ("webhookSecret", webhook_secret_rules(SECRET_PLACEHOLDER)),
        (
            "webhookConfiguration",
            webhook_configuration_rules(CONFIGURATION_PLACEHOLDER),
        ),
        ("metricsAuth", metrics_auth_rules()),
        ("metricsReader", metrics_reader_rules()),
        ("aggregateEdit", aggregate_edit_rules()),
        ("aggregateView", aggregate_view_rules()),
    ];
    let mut out = String::from(
        "{{- /*\nGenerated from crates/operator/src/rbac.rs by `UPDATE_RBAC=1 cargo test -p openclaw-operator --test rbac`; do not edit by hand.\nEach template is a YAML sequence of PolicyRules, to be placed under `rules:`.\n*/ -}}\n",
    );
    for (name, rules) in sets {
        let body = rules_yaml(&rules)?
            .replace(
                LEASE_PLACEHOLDER,
                r#"{{ include "openclaw-operator.leaseName" . | quote }}"#,
            )
            .replace(
                SECRET_PLACEHOLDER,
                r#"{{ include "openclaw-operator.webhookSecretName" . | quote }}"#,
            )
            .replace(
                CONFIGURATION_PLACEHOLDER,
                r#"{{ include "openclaw-operator.webhookConfigurationName" . | quote }}"#,
            );
        out.push_str(&format!(
            "\n{{{{- define \"openclaw-operator.rules.{name}\" }}}}\n{body}{{{{- end }}}}\n"
        ));
    }
    Ok(out)
}

fn labels() -> Option<BTreeMap<String, String>> {
    Some(BTreeMap::from([
        (
            "app.kubernetes.io/name".to_string(),
            "openclaw-operator".to_string(),
        ),
        (
            "app.kubernetes.io/managed-by".to_string(),
            "kustomize".to_string(),
        ),
    ]))
}

fn cluster_role(name: &str, rules: Vec<PolicyRule>) -> ClusterRole {
    ClusterRole {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: labels(),
            ..Default::default()
        },
        rules: Some(rules),
        ..Default::default()
    }
}

fn aggregated_role(name: &str, to: &[&str], rules: Vec<PolicyRule>) -> ClusterRole {
    let mut role = cluster_role(name, rules);
    if let Some(l) = role.metadata.labels.as_mut() {
        for level in to {
            l.insert(
                format!("rbac.authorization.k8s.io/aggregate-to-{level}"),
                "true".to_string(),
            );
        }
    }
    role
}

fn role(name: &str, rules: Vec<PolicyRule>) -> Role {
    Role {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(DEFAULT_OPERATOR_NAMESPACE.to_string()),
            labels: labels(),
            ..Default::default()
        },
        rules: Some(rules),
    }
}

fn documents<T: serde::Serialize>(objects: &[T]) -> Result<String, RbacError> {
    let mut out = String::from(GENERATED_HEADER);
    for o in objects {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(o).map_err(|e| RbacError::Yaml(e.to_string()))?);
    }
    Ok(out)
}

/// The kustomize Roles and ClusterRoles (`config/rbac`, `config/webhook`), with kustomize's
/// fixed names, as `(path relative to the repository root, content)`.
pub fn kustomize_files() -> Result<Vec<(String, String)>, RbacError> {
    let mut manager = manager_rules();
    manager.extend(cluster_rules());
    Ok(vec![
        (
            "config/rbac/role.yaml".to_string(),
            documents(&[cluster_role("openclaw-operator-manager-role", manager)])?,
        ),
        (
            "config/rbac/leader_election_role.yaml".to_string(),
            documents(&[role(
                "openclaw-operator-leader-election-role",
                leader_election_rules(DEFAULT_LEASE_NAME),
            )])?,
        ),
        (
            "config/rbac/backup_credentials_role.yaml".to_string(),
            documents(&[role(
                "openclaw-operator-backup-credentials-role",
                backup_credentials_rules(),
            )])?,
        ),
        (
            "config/rbac/metrics_auth_role.yaml".to_string(),
            documents(&[cluster_role(
                "openclaw-operator-metrics-auth-role",
                metrics_auth_rules(),
            )])?,
        ),
        (
            "config/rbac/metrics_reader_role.yaml".to_string(),
            documents(&[cluster_role(
                "openclaw-operator-metrics-reader",
                metrics_reader_rules(),
            )])?,
        ),
        (
            "config/rbac/aggregated_roles.yaml".to_string(),
            documents(&[
                aggregated_role(
                    "openclaw-operator-aggregate-to-edit",
                    &["admin", "edit"],
                    aggregate_edit_rules(),
                ),
                aggregated_role(
                    "openclaw-operator-aggregate-to-view",
                    &["view"],
                    aggregate_view_rules(),
                ),
            ])?,
        ),
        (
            "config/webhook/role.yaml".to_string(),
            documents(&[role(
                "openclaw-operator-webhook-cert-role",
                webhook_secret_rules(KUSTOMIZE_WEBHOOK_SECRET),
            )])? + &documents(&[cluster_role(
                "openclaw-operator-webhook-configuration-role",
                webhook_configuration_rules(KUSTOMIZE_WEBHOOK_CONFIGURATION),
            )])?
            .replacen(GENERATED_HEADER, "", 1),
        ),
    ])
}

/// Every generated packaging file: the Helm rule templates and the kustomize roles, as
/// `(path relative to the repository root, content)`.
pub fn generated_files() -> Result<Vec<(String, String)>, RbacError> {
    let mut files = vec![(HELM_RULES_PATH.to_string(), helm_rules_template()?)];
    files.extend(kustomize_files()?);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verbs_for(rules: &[PolicyRule], group: &str, resource: &str) -> Vec<String> {
        rules
            .iter()
            .filter(|r| {
                r.api_groups.iter().flatten().any(|g| g == group)
                    && r.resources.iter().flatten().any(|x| x == resource)
            })
            .flat_map(|r| r.verbs.clone())
            .collect()
    }

    #[test]
    fn no_wildcards_and_no_escalation_by_default() {
        let mut all = manager_rules();
        all.extend(cluster_rules());
        all.extend(leader_election_rules("l"));
        all.extend(backup_credentials_rules());
        all.extend(webhook_secret_rules("s"));
        all.extend(webhook_configuration_rules("w"));
        all.extend(metrics_auth_rules());
        for r in &all {
            for v in &r.verbs {
                assert!(!["*", "escalate", "bind", "impersonate"].contains(&v.as_str()));
            }
            for x in r.resources.iter().flatten() {
                assert_ne!(x, "*");
            }
        }
    }

    #[test]
    fn pvc_delete_and_secret_update_are_held_for_their_one_use() {
        // `delete` on PVCs prunes only the Chromium profile PVC (the controller filters on
        // `app.kubernetes.io/component=chromium`); `update` on Secrets is held only so the
        // per-instance Role can grant it on `<name>-ts-state` (RBAC escalation check).
        let m = manager_rules();
        assert!(verbs_for(&m, "", "persistentvolumeclaims").contains(&"delete".to_string()));
        for v in ["get", "update", "patch", "create"] {
            assert!(verbs_for(&m, "", "secrets").contains(&v.to_string()), "{v}");
        }
    }

    #[test]
    fn per_instance_role_rules_are_held_by_the_operator() {
        // The Role rendered for an instance with self-configure on must be grantable without
        // `escalate`: every (group, resource, verb) it holds is in the manager rules.
        let m = manager_rules();
        for (group, resource, verbs) in [
            ("", "configmaps", &["get", "watch"][..]),
            ("", "secrets", &["get"][..]),
            ("openclaw.rocks", "openclawinstances", &["get"][..]),
            (
                "openclaw.rocks",
                "openclawselfconfigs",
                &["create", "get"][..],
            ),
        ] {
            let held = verbs_for(&m, group, resource);
            for v in verbs {
                assert!(
                    held.contains(&v.to_string()),
                    "{group}/{resource} {v} missing"
                );
            }
        }
    }

    #[test]
    fn helm_template_has_every_set_and_no_placeholder() {
        let t = helm_rules_template().unwrap_or_default();
        assert!(!t.contains("OPENCLAW_PLACEHOLDER"), "{t}");
        for set in ["manager", "cluster", "leaderElection", "metricsAuth"] {
            assert!(
                t.contains(&format!("openclaw-operator.rules.{set}\"")),
                "{t}"
            );
        }
        assert!(t.contains(r#"{{ include "openclaw-operator.leaseName" . | quote }}"#));
    }
}
