//! Security contexts.

use k8s_openapi::api::core::v1::{Capabilities, SeccompProfile, SecurityContext};

use crate::model::Model;

/// `capabilities: {drop: [ALL]}`.
pub fn drop_all() -> Capabilities {
    Capabilities {
        add: None,
        drop: Some(vec!["ALL".to_string()]),
    }
}

/// `seccompProfile: {type: RuntimeDefault}`.
pub fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_string(),
        localhost_profile: None,
    }
}

/// The hardened security context: no privilege escalation, every capability dropped, seccomp
/// RuntimeDefault; root filesystem, non-root flag and user as given.
pub fn hardened(
    read_only_root: bool,
    run_as_non_root: bool,
    run_as_user: Option<i64>,
) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(read_only_root),
        run_as_non_root: Some(run_as_non_root),
        run_as_user,
        capabilities: Some(drop_all()),
        seccomp_profile: Some(runtime_default()),
        ..Default::default()
    }
}

/// The security context of the operator's helper containers: [`hardened`] with a read-only
/// root filesystem.
pub fn helper_security(run_as_non_root: bool, run_as_user: Option<i64>) -> SecurityContext {
    hardened(true, run_as_non_root, run_as_user)
}

/// The pod-level `runAsNonRoot` (default true).
pub fn pod_run_as_non_root(m: &Model) -> bool {
    m.spec
        .security
        .as_ref()
        .and_then(|s| s.pod_security_context.as_ref())
        .and_then(|p| p.run_as_non_root)
        .unwrap_or(true)
}
