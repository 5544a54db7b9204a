//! The state-migration Job of an upgrade (`openclaw_render::migration`): a snapshot for the
//! minimal sample, and the properties that make it run doctor against exactly what the new
//! gateway sees (same environment, user, mounts and security context as the rendered
//! StatefulSet's `openclaw` container; `init-config` as in the gateway's pod).
//! `migration_openclaw.rs` runs it for real.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod common;

use common::*;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, PodSpec};
use openclaw_api::OpenClawInstance;
use openclaw_render::migration::{self, CONTAINER, JOB_TYPE};
use openclaw_render::model::Model;
use openclaw_render::{Observed, migration_job, migration_job_name};
use serde_json::json;

const IMAGE: &str = "ghcr.io/openclaw/openclaw:2026.9.6";

fn job_for(instance: &OpenClawInstance, observed: &Observed) -> Job {
    let m = Model::new(instance, observed).unwrap();
    let name = migration_job_name(&m.name, "2026.9.6");
    migration_job(&m, IMAGE, &name).unwrap()
}

fn pod(job: &Job) -> &PodSpec {
    job.spec.as_ref().unwrap().template.spec.as_ref().unwrap()
}

fn pod_container<'a>(pod: &'a PodSpec, name: &str) -> &'a Container {
    pod.containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

#[test]
fn minimal_snapshot() {
    let job = job_for(&minimal_with(json!({})), &observed());
    insta::assert_yaml_snapshot!("migration_job_minimal", job);
}

#[test]
fn the_job_runs_doctor_with_the_gateways_environment_user_and_volumes() {
    let patches = [
        json!({}),
        // Scheduling, security contexts, extra mounts, pull secrets and a feature post-pass
        // (the CA bundle adds a volume, mounts and an env variable to the gateway container).
        json!({
            "image": {"tag": "2026.9.6", "pullSecrets": [{"name": "corp-pull"}]},
            "availability": {"nodeSelector": {"node-type": "agents"},
                             "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "agents", "effect": "NoSchedule"}],
                             "runtimeClassName": "gvisor"},
            "security": {"podSecurityContext": {"runAsUser": 2000, "fsGroup": 3000},
                         "containerSecurityContext": {"readOnlyRootFilesystem": false},
                         "caBundle": {"configMapName": "corp-ca"}},
            "env": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
            "extraVolumes": [{"name": "notes", "configMap": {"name": "notes"}}],
            "extraVolumeMounts": [{"name": "notes", "mountPath": "/notes"}],
            "storage": {"persistence": {"existingClaim": "legacy-data"}}
        }),
    ];
    for patch in patches {
        let instance = minimal_with(patch.clone());
        let observed = observed();
        let rendered = render_ok(&instance, &observed);
        let sts = statefulset(&rendered);
        let sts_pod = sts.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
        let gateway = container(sts, "openclaw").unwrap();
        let job = job_for(&instance, &observed);
        let pod = pod(&job);

        // The command: the CLI of the image, no shell (doctor's exit code is the Job's).
        let migrate = pod_container(pod, CONTAINER);
        assert_eq!(
            migrate.command.as_deref().unwrap(),
            [
                "node",
                "/app/openclaw.mjs",
                "doctor",
                "--fix",
                "--non-interactive"
            ],
            "{patch}"
        );
        assert_eq!(migrate.args, None);
        assert_eq!(migrate.image.as_deref(), Some(IMAGE));
        // What the gateway container has, unchanged.
        assert_eq!(migrate.env, gateway.env, "{patch}");
        assert_eq!(migrate.env_from, gateway.env_from, "{patch}");
        assert_eq!(migrate.volume_mounts, gateway.volume_mounts, "{patch}");
        assert_eq!(
            migrate.security_context, gateway.security_context,
            "{patch}"
        );
        assert_eq!(migrate.resources, gateway.resources, "{patch}");
        assert_eq!(migrate.image_pull_policy, gateway.image_pull_policy);
        // Not a server.
        assert!(migrate.ports.is_none() && migrate.lifecycle.is_none());
        assert!(migrate.liveness_probe.is_none() && migrate.readiness_probe.is_none());
        assert!(migrate.startup_probe.is_none());
        // init-config as in the gateway's pod, from the new image.
        let init = pod_container(pod, "init-config");
        let sts_init = container(sts, "init-config").unwrap();
        assert_eq!(init.command, sts_init.command);
        assert_eq!(init.volume_mounts, sts_init.volume_mounts);
        assert_eq!(init.security_context, sts_init.security_context);
        assert_eq!(init.image.as_deref(), Some(IMAGE));
        assert_eq!(pod.init_containers.as_ref().unwrap().len(), 1);
        assert_eq!(pod.containers.len(), 1);
        // The pod: the gateway's user, pull secrets and scheduling.
        assert_eq!(pod.security_context, sts_pod.security_context, "{patch}");
        assert_eq!(pod.image_pull_secrets, sts_pod.image_pull_secrets);
        assert_eq!(pod.node_selector, sts_pod.node_selector);
        assert_eq!(pod.tolerations, sts_pod.tolerations);
        assert_eq!(pod.affinity, sts_pod.affinity);
        assert_eq!(pod.runtime_class_name, sts_pod.runtime_class_name);
        assert_eq!(pod.service_account_name, sts_pod.service_account_name);
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        assert_eq!(pod.automount_service_account_token, Some(false));
        // Exactly the volumes its containers mount, as the StatefulSet's pod defines them.
        let mut mounted: Vec<&str> = pod
            .containers
            .iter()
            .chain(pod.init_containers.iter().flatten())
            .flat_map(|c| c.volume_mounts.iter().flatten())
            .map(|v| v.name.as_str())
            .collect();
        mounted.sort();
        mounted.dedup();
        let mut volumes: Vec<&str> = pod
            .volumes
            .iter()
            .flatten()
            .map(|v| v.name.as_str())
            .collect();
        volumes.sort();
        assert_eq!(volumes, mounted, "{patch}");
        for v in pod.volumes.iter().flatten() {
            let sts_volume = sts_pod
                .volumes
                .iter()
                .flatten()
                .find(|s| s.name == v.name)
                .unwrap();
            assert_eq!(v, sts_volume, "{patch}");
        }
    }
}

#[test]
fn labels_owner_and_job_settings() {
    let job = job_for(&minimal_with(json!({})), &observed());
    let meta = &job.metadata;
    assert_eq!(meta.namespace.as_deref(), Some("default"));
    let labels = meta.labels.as_ref().unwrap();
    assert_eq!(labels["openclaw.rocks/job-type"], "migrate");
    assert_eq!(labels["app.kubernetes.io/component"], "migrate");
    assert_eq!(labels["openclaw.rocks/instance"], "demo");
    assert_eq!(labels["app.kubernetes.io/managed-by"], "openclaw-operator");
    let owner = &meta.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str(), owner.controller),
        ("OpenClawInstance", "demo", Some(true))
    );
    let spec = job.spec.as_ref().unwrap();
    assert_eq!(spec.backoff_limit, Some(0));
    assert_eq!(
        spec.active_deadline_seconds,
        Some(migration::DEADLINE_SECONDS)
    );
    assert_eq!(spec.ttl_seconds_after_finished, Some(86_400));
    // Any non-zero exit code fails the Job (init-config's too); a disruption does not count.
    let rules = &spec.pod_failure_policy.as_ref().unwrap().rules;
    let exit = rules[0].on_exit_codes.as_ref().unwrap();
    assert_eq!(
        (
            rules[0].action.as_str(),
            exit.operator.as_str(),
            &exit.values
        ),
        ("FailJob", "NotIn", &vec![0])
    );
    assert_eq!(exit.container_name, None);
    // The pod is never taken for the agent (Service, PDB, NetworkPolicy selectors).
    let pod_labels = spec
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .as_ref()
        .unwrap();
    assert!(!pod_labels.contains_key("app.kubernetes.io/name"));
    assert!(!pod_labels.contains_key("app.kubernetes.io/instance"));
    assert_eq!(pod_labels["openclaw.rocks/job-type"], JOB_TYPE);
    // The data PVC.
    let data = pod(&job)
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "data")
        .unwrap();
    assert_eq!(
        data.persistent_volume_claim.as_ref().unwrap().claim_name,
        "demo-data"
    );
}

#[test]
fn per_replica_volumes_or_no_persistence_leave_no_pvc_to_migrate() {
    for patch in [
        json!({"storage": {"persistence": {"enabled": false}}}),
        json!({"availability": {"autoScaling": {"enabled": true, "minReplicas": 1, "maxReplicas": 3}}}),
    ] {
        let job = job_for(&minimal_with(patch.clone()), &observed());
        let data = pod(&job)
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == "data")
            .unwrap_or_else(|| panic!("{patch}: no data volume"));
        assert!(data.persistent_volume_claim.is_none(), "{patch}");
        assert!(data.empty_dir.is_some(), "{patch}");
    }
}

#[test]
fn job_names_are_deterministic_short_and_per_version() {
    let a = migration_job_name("demo", "2026.9.6");
    assert_eq!(a, migration_job_name("demo", "2026.9.6"));
    assert!(a.starts_with("demo-migrate-"), "{a}");
    assert_eq!(a.len(), "demo-migrate-".len() + 6);
    assert!(
        a["demo-migrate-".len()..]
            .chars()
            .all(|c| c.is_ascii_hexdigit())
    );
    assert_ne!(a, migration_job_name("demo", "2026.9.5"));
    assert_ne!(a, migration_job_name("demo2", "2026.9.6"));
    let long = "a".repeat(70);
    for instance in [
        long.as_str(),
        &format!("{}-b", "a".repeat(48)),
        &"x".repeat(49),
    ] {
        let n = migration_job_name(instance, "sha256:0123");
        assert!(n.len() <= 63, "{n}");
        openclaw_api::k8s_names::dns1123_label(&n).unwrap_or_else(|e| panic!("{n}: {e}"));
    }
    assert_eq!(migration_job_name(&"x".repeat(49), "v").len(), 63);
}
