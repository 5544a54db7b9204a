//! ServiceAccount, Role and RoleBinding (when `security.rbac.createServiceAccount`, default true).

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};

use crate::k8s::meta::{non_empty_map, non_empty_vec, object_meta};
use crate::model::Model;

/// The three objects, or nothing when the operator creates no ServiceAccount.
pub fn render(m: &Model) -> Option<(ServiceAccount, Role, RoleBinding)> {
    if !m.create_service_account() {
        return None;
    }
    let sa_name = m.service_account_name()?;
    let mut sa_meta = object_meta(m, sa_name.clone());
    sa_meta.annotations = m
        .spec
        .security
        .as_ref()
        .and_then(|s| s.rbac.as_ref())
        .and_then(|r| r.service_account_annotations.clone())
        .and_then(non_empty_map);
    let sa = ServiceAccount {
        metadata: sa_meta,
        automount_service_account_token: Some(m.needs_api_access()),
        ..Default::default()
    };
    let role = Role {
        metadata: object_meta(m, m.name.clone()),
        rules: Some(rules(m)),
    };
    let binding = RoleBinding {
        metadata: object_meta(m, m.name.clone()),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_string(),
            kind: "Role".to_string(),
            name: m.name.clone(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_string(),
            name: sa_name,
            namespace: Some(m.namespace.clone()),
            ..Default::default()
        }]),
    };
    Some((sa, role, binding))
}

fn rule(groups: &[&str], resources: &[&str], names: Vec<String>, verbs: &[&str]) -> PolicyRule {
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(owned(groups)),
        resources: Some(owned(resources)),
        resource_names: non_empty_vec(names),
        verbs: owned(verbs),
        ..Default::default()
    }
}

fn rules(m: &Model) -> Vec<PolicyRule> {
    let mut rules = vec![rule(
        &[""],
        &["configmaps"],
        vec![format!("{}-config", m.name)],
        &["get", "watch"],
    )];
    if m.self_configure() {
        rules.push(rule(
            &["openclaw.rocks"],
            &["openclawinstances"],
            vec![m.name.clone()],
            &["get"],
        ));
        rules.push(rule(
            &["openclaw.rocks"],
            &["openclawselfconfigs"],
            Vec::new(),
            // selfconfig.sh creates a request and reads it back; nothing else.
            &["create", "get"],
        ));
    }
    // Feature rules (e.g. the Tailscale state Secret).
    rules.extend(crate::features::role_rules(m));
    for extra in m
        .spec
        .security
        .as_ref()
        .and_then(|s| s.rbac.as_ref())
        .and_then(|r| r.additional_rules.as_ref())
        .into_iter()
        .flatten()
    {
        rules.push(PolicyRule {
            api_groups: non_empty_vec(extra.api_groups.clone()),
            resources: non_empty_vec(extra.resources.clone()),
            verbs: extra.verbs.clone(),
            ..Default::default()
        });
    }
    rules
}
