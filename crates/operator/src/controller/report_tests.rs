//! Unit tests of `report`: every phase and every condition reason, no cluster.

use super::*;
use k8s_openapi::jiff::Timestamp;

const GEN: i64 = 3;
const NAME: &str = "claw";
const NS: &str = "team";

fn at(second: i64) -> Time {
    Time(Timestamp::from_second(second).unwrap())
}

/// The clock of a first pass.
fn now() -> Time {
    at(1_700_000_000)
}

/// The clock of a later pass.
fn later() -> Time {
    at(1_700_000_600)
}

fn managed() -> ManagedResources {
    ManagedResources {
        stateful_set: Some(NAME.into()),
        service: Some(NAME.into()),
        config_map: Some(format!("{NAME}-config")),
        service_account: Some(NAME.into()),
        role: Some(NAME.into()),
        role_binding: Some(NAME.into()),
        gateway_token_secret: Some(format!("{NAME}-gateway-token")),
        pvc: Some(format!("{NAME}-data")),
        ..ManagedResources::default()
    }
}

fn ready_workload() -> Workload {
    Workload {
        current: true,
        replicas: 1,
        ready_replicas: 1,
        ..Workload::default()
    }
}

/// A healthy pass: everything applied, the pod Ready.
fn running() -> Facts {
    Facts {
        generation: Some(GEN),
        name: NAME.into(),
        namespace: NS.into(),
        inputs: Some(InputFacts::default()),
        render: Some(Ok(Vec::new())),
        applied: Some(AppliedFacts {
            managed: managed(),
            ..AppliedFacts::default()
        }),
        workload: ready_workload(),
        ..Facts::default()
    }
}

/// `running()` with other inputs.
fn with_inputs(inputs: InputFacts) -> Facts {
    Facts {
        inputs: Some(inputs),
        ..running()
    }
}

/// `running()` with another workload.
fn with_workload(workload: Workload) -> Facts {
    Facts {
        workload,
        ..running()
    }
}

/// `running()` with the optional kinds.
fn with_custom(custom: &[(CustomKind, KindResult)], ingress: bool) -> Facts {
    Facts {
        applied: Some(AppliedFacts {
            managed: managed(),
            custom: custom.iter().cloned().collect(),
            ingress,
            soon: false,
        }),
        ..running()
    }
}

fn problem(reason: &'static str, message: &str) -> Problem {
    Problem {
        reason,
        message: message.into(),
    }
}

fn not_acted_on(field: &str, message: &str) -> NotActedOn {
    NotActedOn {
        field: field.into(),
        message: message.into(),
    }
}

/// A pass from an empty status.
fn first(facts: &Facts) -> Report {
    report(&OpenClawInstanceStatus::default(), facts, &now())
}

/// A pass over the status `previous` wrote, later.
fn again(previous: &Report, facts: &Facts) -> Report {
    report(&previous.status, facts, &later())
}

/// The status a healthy instance converged to.
fn running_status() -> OpenClawInstanceStatus {
    first(&running()).status
}

fn cond<'a>(status: &'a OpenClawInstanceStatus, type_: &str) -> Option<&'a Condition> {
    status
        .conditions
        .as_deref()
        .and_then(|c| condition(c, type_))
}

/// The condition, asserting its status and reason.
#[track_caller]
fn has<'a>(r: &'a Report, type_: &str, status: &str, reason: &str) -> &'a Condition {
    let Some(c) = cond(&r.status, type_) else {
        panic!("no condition {type_} in {:?}", r.status.conditions);
    };
    assert_eq!(
        (c.status.as_str(), c.reason.as_str()),
        (status, reason),
        "condition {type_}: {c:?}"
    );
    c
}

#[track_caller]
fn absent(r: &Report, type_: &str) {
    assert!(
        cond(&r.status, type_).is_none(),
        "condition {type_} should be absent: {:?}",
        cond(&r.status, type_)
    );
}

#[track_caller]
fn phase_of(r: &Report) -> &str {
    r.status.phase.as_deref().unwrap_or("<none>")
}

/// The events as (type, reason, note).
fn events(r: &Report) -> Vec<(EventType, String, String)> {
    r.events
        .iter()
        .map(|e| {
            (
                e.type_,
                e.reason.clone(),
                e.note.clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// The reasons of the Warning events.
fn warnings(r: &Report) -> Vec<String> {
    r.events
        .iter()
        .filter(|e| e.type_ == EventType::Warning)
        .map(|e| e.reason.clone())
        .collect()
}

/// The reasons of the Normal events.
fn normals(r: &Report) -> Vec<String> {
    r.events
        .iter()
        .filter(|e| e.type_ == EventType::Normal)
        .map(|e| e.reason.clone())
        .collect()
}

fn condition_types(r: &Report) -> Vec<&str> {
    r.status
        .conditions
        .iter()
        .flatten()
        .map(|c| c.type_.as_str())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The event helper and Report::ready
// ---------------------------------------------------------------------------------------------

#[test]
fn event_helper_fills_every_field() {
    let e = event(EventType::Warning, "SomeReason", "some note");
    assert_eq!(e.type_, EventType::Warning);
    assert_eq!(e.reason, "SomeReason");
    assert_eq!(e.note.as_deref(), Some("some note"));
    assert_eq!(e.action, "Reconcile");
    assert!(e.secondary.is_none());
}

#[test]
fn ready_reads_the_ready_condition() {
    assert!(first(&running()).ready());
    assert!(!first(&with_workload(Workload::default())).ready());
    let empty = Report {
        status: OpenClawInstanceStatus::default(),
        events: Vec::new(),
        next: Next::AwaitChange,
    };
    assert!(!empty.ready());
}

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

#[test]
fn running_sets_every_condition_endpoint_and_the_event() {
    let r = first(&running());
    assert_eq!(phase_of(&r), phase::RUNNING);
    let ready = has(&r, "Ready", TRUE, "ReconcileSucceeded");
    assert_eq!(
        ready.message,
        "All resources reconciled and the pod is Ready"
    );
    assert_eq!(ready.observed_generation, Some(GEN));
    assert_eq!(ready.last_transition_time, now());
    has(&r, "SecretsReady", TRUE, "AllSecretsFound");
    has(&r, "ConfigValid", TRUE, "ConfigMapCreated");
    has(&r, "RBACReady", TRUE, "RBACCreated");
    has(&r, "ServiceReady", TRUE, "ServiceCreated");
    has(&r, "StorageReady", TRUE, "PVCCreated");
    has(&r, "StatefulSetReady", TRUE, "StatefulSetReady");
    for off in [
        "WorkspaceReady",
        "NetworkPolicyReady",
        "ServiceMonitorReady",
        "PrometheusRuleReady",
        "HTTPRouteReady",
        "IngressReady",
        NOT_ACTED_ON,
        "BackupComplete",
    ] {
        absent(&r, off);
    }
    // Every condition carries the generation and the pass's time.
    for c in r.status.conditions.iter().flatten() {
        assert_eq!(c.observed_generation, Some(GEN), "{}", c.type_);
        assert_eq!(c.last_transition_time, now(), "{}", c.type_);
    }
    assert_eq!(
        events(&r),
        vec![(
            EventType::Normal,
            "Running".to_string(),
            "The instance's pod is Ready".to_string()
        )]
    );
    assert_eq!(r.status.observed_generation, Some(GEN));
    assert_eq!(r.status.last_reconcile_time, Some(now()));
    assert_eq!(r.status.managed_resources, Some(managed()));
    assert_eq!(
        r.status.gateway_endpoint.as_deref(),
        Some("claw.team.svc:18789")
    );
    assert_eq!(
        r.status.canvas_endpoint.as_deref(),
        Some("claw.team.svc:18793")
    );
    assert!(r.status.backing_up_since.is_none());
    assert_eq!(r.next, Next::Requeue(RESYNC));
    assert!(r.ready());
}

#[test]
fn running_keeps_status_fields_report_does_not_own() {
    let old = OpenClawInstanceStatus {
        backup_job_name: Some("job".into()),
        last_backup_path: Some("s3://b/p".into()),
        restored_from: Some("p".into()),
        ..OpenClawInstanceStatus::default()
    };
    let r = report(&old, &running(), &now());
    assert_eq!(r.status.backup_job_name.as_deref(), Some("job"));
    assert_eq!(r.status.last_backup_path.as_deref(), Some("s3://b/p"));
    assert_eq!(r.status.restored_from.as_deref(), Some("p"));
}

#[test]
fn running_event_only_on_phase_change() {
    let r1 = first(&running());
    assert_eq!(normals(&r1), vec!["Running"]);
    let r2 = again(&r1, &running());
    assert!(r2.events.is_empty(), "{:?}", events(&r2));
    // Degraded -> Running announces it again.
    let degraded = first(&with_inputs(InputFacts {
        missing_secrets: vec!["s".into()],
        ..InputFacts::default()
    }));
    assert_eq!(phase_of(&degraded), phase::DEGRADED);
    let back = again(&degraded, &running());
    assert_eq!(phase_of(&back), phase::RUNNING);
    assert_eq!(normals(&back), vec!["Running"]);
    assert!(warnings(&back).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Provisioning and the StatefulSetReady reasons
// ---------------------------------------------------------------------------------------------

#[test]
fn not_ready_is_provisioning() {
    for w in [
        Workload::default(),
        // Ready replicas of an older generation do not count.
        Workload {
            current: false,
            replicas: 1,
            ready_replicas: 1,
            ..Workload::default()
        },
        Workload {
            current: true,
            replicas: 1,
            ready_replicas: 0,
            ..Workload::default()
        },
    ] {
        let r = first(&with_workload(w.clone()));
        assert_eq!(phase_of(&r), phase::PROVISIONING, "{w:?}");
        let message = "Waiting for the StatefulSet pod to become ready";
        assert_eq!(
            has(&r, "StatefulSetReady", FALSE, "StatefulSetNotReady").message,
            message
        );
        assert_eq!(
            has(&r, "Ready", FALSE, "StatefulSetNotReady").message,
            message
        );
        assert!(r.events.is_empty(), "{:?}", events(&r));
        assert_eq!(r.next, Next::Requeue(RESYNC));
        assert!(!r.ready());
    }
}

#[test]
fn statefulset_ready_has_four_reasons() {
    let cases = [
        (
            ready_workload(),
            TRUE,
            "StatefulSetReady",
            "The pod is Ready",
        ),
        (
            Workload::default(),
            FALSE,
            "StatefulSetNotReady",
            "Waiting for the StatefulSet pod to become ready",
        ),
        (
            Workload {
                suspended: true,
                current: true,
                replicas: 0,
                ..Workload::default()
            },
            TRUE,
            "StatefulSetSuspended",
            "Scaled to zero",
        ),
        (
            Workload {
                suspended: true,
                current: true,
                replicas: 1,
                ready_replicas: 1,
                ..Workload::default()
            },
            FALSE,
            "StatefulSetScalingDown",
            "Scaling to zero",
        ),
    ];
    for (w, status, reason, message) in cases {
        let r = first(&with_workload(w));
        assert_eq!(has(&r, "StatefulSetReady", status, reason).message, message);
    }
}

// ---------------------------------------------------------------------------------------------
// Suspended
// ---------------------------------------------------------------------------------------------

#[test]
fn suspended_scaled_to_zero() {
    let f = with_workload(Workload {
        suspended: true,
        current: true,
        replicas: 0,
        ..Workload::default()
    });
    let r = first(&f);
    assert_eq!(phase_of(&r), phase::SUSPENDED);
    has(&r, "StatefulSetReady", TRUE, "StatefulSetSuspended");
    assert_eq!(
        has(&r, "Ready", FALSE, "Suspended").message,
        "Instance is suspended (spec.suspended=true), workload scaled to zero"
    );
    assert_eq!(
        events(&r),
        vec![(
            EventType::Normal,
            "Suspended".to_string(),
            "Instance suspended, workload scaled to zero".to_string()
        )]
    );
    assert_eq!(r.next, Next::Requeue(RESYNC));
    // Once.
    assert!(again(&r, &f).events.is_empty());
}

#[test]
fn suspended_while_scaling_down() {
    for w in [
        // The StatefulSet still has a replica.
        Workload {
            suspended: true,
            current: true,
            replicas: 1,
            ready_replicas: 1,
            ..Workload::default()
        },
        // Its controller has not seen replicas=0 yet.
        Workload {
            suspended: true,
            current: false,
            replicas: 0,
            ..Workload::default()
        },
    ] {
        let r = first(&with_workload(w.clone()));
        assert_eq!(phase_of(&r), phase::SUSPENDED, "{w:?}");
        has(&r, "StatefulSetReady", FALSE, "StatefulSetScalingDown");
        has(&r, "Ready", FALSE, "Suspended");
        assert_eq!(normals(&r), vec!["Suspended"]);
    }
}

#[test]
fn running_to_suspended_announces_it() {
    let was_running = first(&running());
    let f = with_workload(Workload {
        suspended: true,
        current: true,
        replicas: 1,
        ready_replicas: 1,
        ..Workload::default()
    });
    let scaling = again(&was_running, &f);
    assert_eq!(normals(&scaling), vec!["Suspended"]);
    // Ready flipped: its transition time moves.
    assert_eq!(
        has(&scaling, "Ready", FALSE, "Suspended").last_transition_time,
        later()
    );
    let f2 = with_workload(Workload {
        suspended: true,
        current: true,
        replicas: 0,
        ..Workload::default()
    });
    let zero = report(&scaling.status, &f2, &at(1_700_001_000));
    assert!(zero.events.is_empty(), "{:?}", events(&zero));
    has(&zero, "StatefulSetReady", TRUE, "StatefulSetSuspended");
}

#[test]
fn suspended_wins_over_a_missing_input() {
    let f = Facts {
        workload: Workload {
            suspended: true,
            current: true,
            ..Workload::default()
        },
        ..with_inputs(InputFacts {
            missing_secrets: vec!["s".into()],
            ..InputFacts::default()
        })
    };
    let r = first(&f);
    assert_eq!(phase_of(&r), phase::SUSPENDED);
    has(&r, "SecretsReady", FALSE, "SecretsMissing");
}

// ---------------------------------------------------------------------------------------------
// Degraded
// ---------------------------------------------------------------------------------------------

#[test]
fn running_with_a_missing_secret_is_degraded_but_ready() {
    let f = with_inputs(InputFacts {
        missing_secrets: vec!["api-keys".into(), "tls".into()],
        ..InputFacts::default()
    });
    let r = first(&f);
    assert_eq!(phase_of(&r), phase::DEGRADED);
    assert_eq!(
        has(&r, "Ready", TRUE, "ReconcileSucceededDegraded").message,
        "Running, but a referenced input is missing (see SecretsReady / WorkspaceReady)"
    );
    assert!(r.ready());
    assert_eq!(
        has(&r, "SecretsReady", FALSE, "SecretsMissing").message,
        "Missing secrets: api-keys, tls"
    );
    has(&r, "StatefulSetReady", TRUE, "StatefulSetReady");
    assert_eq!(
        events(&r),
        vec![(
            EventType::Warning,
            "SecretNotFound".to_string(),
            "Missing secrets: api-keys, tls".to_string()
        )]
    );
    assert_eq!(r.next, Next::Requeue(RESYNC));
    // Once.
    let r2 = again(&r, &f);
    assert!(r2.events.is_empty(), "{:?}", events(&r2));
    assert_eq!(r2.status, r.status);
}

#[test]
fn secret_found_again_clears_the_condition_without_event() {
    let missing = first(&with_inputs(InputFacts {
        missing_secrets: vec!["s".into()],
        ..InputFacts::default()
    }));
    let found = again(&missing, &running());
    let c = has(&found, "SecretsReady", TRUE, "AllSecretsFound");
    assert_eq!(c.message, "All referenced Secrets found");
    assert_eq!(c.last_transition_time, later());
    assert!(warnings(&found).is_empty());
}

#[test]
fn running_with_a_workspace_problem_is_degraded() {
    let f = with_inputs(InputFacts {
        workspace_refs: 2,
        workspace_problems: vec![
            problem("InvalidFilename", "workspace ConfigMap \"ws\": bad name"),
            problem(
                "ConfigMapNotFound",
                "workspace \"b\" ConfigMap \"b\" not found",
            ),
        ],
        ..InputFacts::default()
    });
    let r = first(&f);
    assert_eq!(phase_of(&r), phase::DEGRADED);
    has(&r, "Ready", TRUE, "ReconcileSucceededDegraded");
    // The first problem's reason, every message.
    let message = "workspace ConfigMap \"ws\": bad name; workspace \"b\" ConfigMap \"b\" not found";
    assert_eq!(
        has(&r, "WorkspaceReady", FALSE, "InvalidFilename").message,
        message
    );
    assert_eq!(
        events(&r),
        vec![(
            EventType::Warning,
            "WorkspaceConfigMapProblem".to_string(),
            message.to_string()
        )]
    );
    assert!(again(&r, &f).events.is_empty());
}

#[test]
fn running_with_a_missing_claim_is_degraded_and_looks_again_soon() {
    let f = with_inputs(InputFacts {
        missing_claim: Some("mine".into()),
        ..InputFacts::default()
    });
    let r = first(&f);
    assert_eq!(phase_of(&r), phase::DEGRADED);
    has(&r, "Ready", TRUE, "ReconcileSucceededDegraded");
    assert_eq!(
        has(&r, "StorageReady", FALSE, "ExistingClaimNotFound").message,
        "existing claim \"mine\" not found"
    );
    assert_eq!(
        events(&r),
        vec![(
            EventType::Warning,
            "ExistingClaimNotFound".to_string(),
            "existing claim \"mine\" not found".to_string()
        )]
    );
    assert_eq!(r.next, Next::Requeue(Duration::from_secs(15)));
    let r2 = again(&r, &f);
    assert!(r2.events.is_empty());
    assert_eq!(r2.next, Next::Requeue(Duration::from_secs(15)));
}

#[test]
fn not_ready_with_a_missing_input_is_degraded() {
    for inputs in [
        InputFacts {
            missing_secrets: vec!["s".into()],
            ..InputFacts::default()
        },
        InputFacts {
            workspace_refs: 1,
            workspace_problems: vec![problem("ConfigMapNotFound", "gone")],
            ..InputFacts::default()
        },
        InputFacts {
            missing_claim: Some("c".into()),
            ..InputFacts::default()
        },
    ] {
        let f = Facts {
            workload: Workload::default(),
            ..with_inputs(inputs.clone())
        };
        let r = first(&f);
        assert_eq!(phase_of(&r), phase::DEGRADED, "{inputs:?}");
        has(&r, "Ready", FALSE, "StatefulSetNotReady");
        has(&r, "StatefulSetReady", FALSE, "StatefulSetNotReady");
        assert!(!r.ready());
    }
}

#[test]
fn config_problems_are_degraded_and_keep_what_runs() {
    for (reason, message) in [
        ("ConfigMapNotFound", "config ConfigMap \"cfg\" not found"),
        (
            "ConfigMapKeyNotFound",
            "config ConfigMap \"cfg\" has no key \"openclaw.json\"",
        ),
    ] {
        let old = running_status();
        // Render and apply are not reached once the config is missing.
        let f = Facts {
            render: None,
            applied: None,
            ..with_inputs(InputFacts {
                config_problem: Some(problem(reason, message)),
                missing_secrets: vec!["s".into()],
                ..InputFacts::default()
            })
        };
        let r = report(&old, &f, &later());
        assert_eq!(phase_of(&r), phase::DEGRADED, "{reason}");
        assert_eq!(has(&r, "ConfigValid", FALSE, reason).message, message);
        let ready = has(&r, "Ready", FALSE, reason);
        assert_eq!(ready.message, message);
        assert_eq!(ready.last_transition_time, later());
        // The input conditions are still reported.
        has(&r, "SecretsReady", FALSE, "SecretsMissing");
        // What runs is kept: its conditions, managed resources and endpoints.
        has(&r, "StatefulSetReady", TRUE, "StatefulSetReady");
        assert_eq!(r.status.managed_resources, old.managed_resources);
        assert_eq!(r.status.gateway_endpoint, old.gateway_endpoint);
        assert_eq!(
            events(&r),
            vec![
                (
                    EventType::Warning,
                    "SecretNotFound".to_string(),
                    "Missing secrets: s".to_string()
                ),
                (EventType::Warning, reason.to_string(), message.to_string()),
            ]
        );
        assert_eq!(r.next, Next::Requeue(RESYNC));
        // Once.
        let r2 = again(&r, &f);
        assert!(r2.events.is_empty(), "{:?}", events(&r2));
        assert_eq!(r2.status, r.status);
    }
}

#[test]
fn config_problem_ignores_render_and_apply_facts() {
    let f = with_inputs(InputFacts {
        config_problem: Some(problem("ConfigMapNotFound", "gone")),
        ..InputFacts::default()
    });
    let r = first(&f);
    assert_eq!(phase_of(&r), phase::DEGRADED);
    has(&r, "ConfigValid", FALSE, "ConfigMapNotFound");
    absent(&r, "StatefulSetReady");
    absent(&r, "RBACReady");
    assert!(r.status.managed_resources.is_none());
    assert!(normals(&r).is_empty());
}

#[test]
fn another_config_problem_reason_warns_again() {
    let f1 = with_inputs(InputFacts {
        config_problem: Some(problem(
            "ConfigMapNotFound",
            "config ConfigMap \"c\" not found",
        )),
        ..InputFacts::default()
    });
    let f2 = with_inputs(InputFacts {
        config_problem: Some(problem(
            "ConfigMapKeyNotFound",
            "config ConfigMap \"c\" has no key \"k\"",
        )),
        ..InputFacts::default()
    });
    let r1 = first(&f1);
    let r2 = again(&r1, &f2);
    assert_eq!(warnings(&r2), vec!["ConfigMapKeyNotFound"]);
    has(&r2, "ConfigValid", FALSE, "ConfigMapKeyNotFound");
    // The status did not flip: the transition time is the first pass's.
    assert_eq!(
        has(&r2, "Ready", FALSE, "ConfigMapKeyNotFound").last_transition_time,
        now()
    );
}

#[test]
fn config_found_again_renders() {
    let broken = first(&with_inputs(InputFacts {
        config_problem: Some(problem("ConfigMapNotFound", "gone")),
        ..InputFacts::default()
    }));
    let r = again(&broken, &running());
    assert_eq!(phase_of(&r), phase::RUNNING);
    let c = has(&r, "ConfigValid", TRUE, "ConfigMapCreated");
    assert_eq!(c.message, "openclaw.json rendered");
    assert_eq!(c.last_transition_time, later());
    assert!(warnings(&r).is_empty());
}

#[test]
fn transient_failure_is_degraded_with_backoff() {
    let f = Facts {
        failure: Some(Failure {
            class: FailureClass::Transient,
            message: "apply StatefulSet claw: connection refused".into(),
        }),
        applied: None,
        ..running()
    };
    let r = first(&f);
    assert_eq!(phase_of(&r), phase::DEGRADED);
    assert_eq!(
        has(&r, "Ready", FALSE, "ReconcileFailed").message,
        "apply StatefulSet claw: connection refused"
    );
    // What got this far is reported.
    has(&r, "ConfigValid", TRUE, "ConfigMapCreated");
    has(&r, "SecretsReady", TRUE, "AllSecretsFound");
    absent(&r, "StatefulSetReady");
    assert_eq!(
        events(&r),
        vec![(
            EventType::Warning,
            "ReconcileFailed".to_string(),
            "apply StatefulSet claw: connection refused".to_string()
        )]
    );
    assert_eq!(r.next, Next::Backoff);
    assert!(r.status.last_reconcile_time.is_none());
    assert!(r.status.managed_resources.is_none());
}

#[test]
fn failure_warns_once_per_distinct_message() {
    let failing = |message: &str| Facts {
        failure: Some(Failure {
            class: FailureClass::Transient,
            message: message.into(),
        }),
        applied: None,
        ..running()
    };
    let r1 = first(&failing("a"));
    assert_eq!(warnings(&r1), vec!["ReconcileFailed"]);
    let r2 = again(&r1, &failing("a"));
    assert!(r2.events.is_empty(), "{:?}", events(&r2));
    assert_eq!(r2.status, r1.status);
    let r3 = again(&r2, &failing("b"));
    assert_eq!(
        events(&r3),
        vec![(
            EventType::Warning,
            "ReconcileFailed".to_string(),
            "b".to_string()
        )]
    );
    // Same message, other class: other reason, warned.
    let r4 = again(
        &r3,
        &Facts {
            failure: Some(Failure {
                class: FailureClass::Spec,
                message: "b".into(),
            }),
            ..failing("b")
        },
    );
    assert_eq!(warnings(&r4), vec!["ApplyRejected"]);
    assert_eq!(phase_of(&r4), phase::FAILED);
}

#[test]
fn failure_of_a_running_instance_flips_ready() {
    let was_running = first(&running());
    let f = Facts {
        failure: Some(Failure {
            class: FailureClass::Transient,
            message: "x".into(),
        }),
        applied: None,
        ..running()
    };
    let r = again(&was_running, &f);
    assert_eq!(phase_of(&r), phase::DEGRADED);
    assert_eq!(
        has(&r, "Ready", FALSE, "ReconcileFailed").last_transition_time,
        later()
    );
    // The workload's last report is kept.
    assert_eq!(
        has(&r, "StatefulSetReady", TRUE, "StatefulSetReady").last_transition_time,
        now()
    );
    assert_eq!(
        r.status.managed_resources,
        was_running.status.managed_resources
    );
}

// ---------------------------------------------------------------------------------------------
// Failed
// ---------------------------------------------------------------------------------------------

#[test]
fn invalid_spec_fails_and_awaits_a_change() {
    let f = Facts {
        generation: Some(GEN),
        name: NAME.into(),
        namespace: NS.into(),
        invalid_spec: Some("invalid spec: spec.image.tag: empty".into()),
        ..Facts::default()
    };
    let r = first(&f);
    assert_eq!(phase_of(&r), phase::FAILED);
    assert_eq!(
        has(&r, "Ready", FALSE, "InvalidSpec").message,
        "invalid spec: spec.image.tag: empty"
    );
    assert_eq!(
        events(&r),
        vec![(
            EventType::Warning,
            "InvalidSpec".to_string(),
            "invalid spec: spec.image.tag: empty".to_string()
        )]
    );
    assert_eq!(r.next, Next::AwaitChange);
    assert_eq!(r.status.observed_generation, Some(GEN));
    assert_eq!(condition_types(&r), vec!["Ready"]);
    // Once.
    let r2 = again(&r, &f);
    assert!(r2.events.is_empty(), "{:?}", events(&r2));
    assert_eq!(r2.status, r.status);
}

#[test]
fn invalid_spec_wins_over_every_later_fact() {
    let f = Facts {
        invalid_spec: Some("bad".into()),
        failure: Some(Failure {
            class: FailureClass::Transient,
            message: "x".into(),
        }),
        ..with_inputs(InputFacts {
            missing_secrets: vec!["s".into()],
            token_generated: true,
            ..InputFacts::default()
        })
    };
    let r = first(&f);
    assert_eq!(phase_of(&r), phase::FAILED);
    has(&r, "Ready", FALSE, "InvalidSpec");
    assert_eq!(condition_types(&r), vec!["Ready"]);
    assert_eq!(warnings(&r), vec!["InvalidSpec"]);
    assert!(normals(&r).is_empty());
    assert_eq!(r.next, Next::AwaitChange);
}

#[test]
fn invalid_spec_warns_when_the_instance_was_failing_otherwise() {
    let invalid = Facts {
        invalid_spec: Some("bad".into()),
        ..running()
    };
    // From Running.
    let r = again(&first(&running()), &invalid);
    assert_eq!(warnings(&r), vec!["InvalidSpec"]);
    assert_eq!(
        has(&r, "Ready", FALSE, "InvalidSpec").last_transition_time,
        later()
    );
    // From Failed for another reason.
    let config = first(&Facts {
        render: Some(Err("broken".into())),
        ..running()
    });
    assert_eq!(phase_of(&config), phase::FAILED);
    let r = again(&config, &invalid);
    assert_eq!(warnings(&r), vec!["InvalidSpec"]);
    // Failed/InvalidSpec already: silent.
    let r2 = again(&r, &invalid);
    assert!(r2.events.is_empty());
}

#[test]
fn render_error_is_invalid_config() {
    let f = Facts {
        render: Some(Err("spec.config.raw: not JSON".into())),
        applied: None,
        ..running()
    };
    let r = first(&f);
    assert_eq!(phase_of(&r), phase::FAILED);
    assert_eq!(
        has(&r, "ConfigValid", FALSE, "InvalidConfig").message,
        "spec.config.raw: not JSON"
    );
    assert_eq!(
        has(&r, "Ready", FALSE, "InvalidConfig").message,
        "spec.config.raw: not JSON"
    );
    has(&r, "SecretsReady", TRUE, "AllSecretsFound");
    assert_eq!(
        events(&r),
        vec![(
            EventType::Warning,
            "InvalidConfig".to_string(),
            "spec.config.raw: not JSON".to_string()
        )]
    );
    assert_eq!(r.next, Next::AwaitChange);
    let r2 = again(&r, &f);
    assert!(r2.events.is_empty(), "{:?}", events(&r2));
    assert_eq!(r2.status, r.status);
}

#[test]
fn rejected_apply_fails_with_backoff() {
    let f = Facts {
        failure: Some(Failure {
            class: FailureClass::Spec,
            message: "apply StatefulSet claw: spec.replicas: Invalid value".into(),
        }),
        applied: None,
        ..running()
    };
    let r = first(&f);
    assert_eq!(phase_of(&r), phase::FAILED);
    assert_eq!(
        has(&r, "Ready", FALSE, "ApplyRejected").message,
        "apply StatefulSet claw: spec.replicas: Invalid value"
    );
    has(&r, "ConfigValid", TRUE, "ConfigMapCreated");
    assert_eq!(
        events(&r),
        vec![(
            EventType::Warning,
            "ApplyRejected".to_string(),
            "apply StatefulSet claw: spec.replicas: Invalid value".to_string()
        )]
    );
    assert_eq!(r.next, Next::Backoff);
    let r2 = again(&r, &f);
    assert!(r2.events.is_empty(), "{:?}", events(&r2));
    assert_eq!(r2.status, r.status);
}

#[test]
fn failure_wins_over_applied_facts() {
    // `applied` is set but a later step (prune) failed.
    let f = Facts {
        failure: Some(Failure {
            class: FailureClass::Transient,
            message: "prune".into(),
        }),
        ..running()
    };
    let r = first(&f);
    assert_eq!(phase_of(&r), phase::DEGRADED);
    has(&r, "Ready", FALSE, "ReconcileFailed");
    absent(&r, "StatefulSetReady");
    assert_eq!(r.next, Next::Backoff);
}

// ---------------------------------------------------------------------------------------------
// Pending
// ---------------------------------------------------------------------------------------------

#[test]
fn nothing_applied_is_pending() {
    for f in [
        Facts::default(),
        Facts {
            inputs: Some(InputFacts::default()),
            render: Some(Ok(Vec::new())),
            ..Facts::default()
        },
    ] {
        let r = first(&f);
        assert_eq!(phase_of(&r), phase::PENDING);
        assert_eq!(r.next, Next::Requeue(RESYNC));
        assert!(warnings(&r).is_empty());
        assert!(normals(&r).is_empty());
    }
}

#[test]
fn nothing_applied_keeps_the_previous_phase() {
    let old = running_status();
    let r = report(
        &old,
        &Facts {
            applied: None,
            ..running()
        },
        &later(),
    );
    assert_eq!(phase_of(&r), phase::RUNNING);
    assert!(r.events.is_empty());
    assert_eq!(r.next, Next::Requeue(RESYNC));
}

#[test]
fn nothing_applied_never_keeps_an_empty_phase() {
    let old = OpenClawInstanceStatus {
        phase: Some(String::new()),
        ..OpenClawInstanceStatus::default()
    };
    let r = report(&old, &Facts::default(), &now());
    assert_eq!(phase_of(&r), phase::PENDING);
}

// ---------------------------------------------------------------------------------------------
// Lifecycle workflows
// ---------------------------------------------------------------------------------------------

#[test]
fn lifecycle_phase_replaces_the_workload_phase() {
    for w in [
        ready_workload(),
        Workload::default(),
        Workload {
            suspended: true,
            current: true,
            ..Workload::default()
        },
    ] {
        let f = Facts {
            lifecycle_phase: Some(("Restoring", "restoring from backups/x".into())),
            workload: w.clone(),
            ..with_inputs(InputFacts {
                missing_secrets: vec!["s".into()],
                ..InputFacts::default()
            })
        };
        let r = first(&f);
        assert_eq!(phase_of(&r), "Restoring", "{w:?}");
        assert_eq!(
            has(&r, "Ready", FALSE, "Restoring").message,
            "restoring from backups/x"
        );
        assert!(!r.ready());
        // No Running/Suspended announcement; the input warning still is.
        assert!(normals(&r).is_empty(), "{:?}", events(&r));
        assert_eq!(warnings(&r), vec!["SecretNotFound"]);
        // Objects were applied: their conditions and status fields are reported.
        has(&r, "ServiceReady", TRUE, "ServiceCreated");
        assert_eq!(r.status.managed_resources, Some(managed()));
        assert_eq!(r.next, Next::Requeue(RESYNC));
        let r2 = again(&r, &f);
        assert!(r2.events.is_empty());
        assert_eq!(r2.status, r.status);
    }
}

#[test]
fn lifecycle_phase_end_returns_to_running() {
    let f = Facts {
        lifecycle_phase: Some(("Updating", "checking health".into())),
        ..running()
    };
    let updating = first(&f);
    let r = again(&updating, &running());
    assert_eq!(phase_of(&r), phase::RUNNING);
    assert_eq!(normals(&r), vec!["Running"]);
    assert_eq!(
        has(&r, "Ready", TRUE, "ReconcileSucceeded").last_transition_time,
        later()
    );
}

// ---------------------------------------------------------------------------------------------
// Deletion: BackingUp, Terminating
// ---------------------------------------------------------------------------------------------

fn deleting(deletion: Deletion) -> Facts {
    Facts {
        generation: Some(GEN),
        name: NAME.into(),
        namespace: NS.into(),
        deletion: Some(deletion),
        ..Facts::default()
    }
}

fn waiting() -> Deletion {
    Deletion::Waiting {
        since: at(1_699_999_000),
        message: "backup: job claw-backup running".into(),
    }
}

#[test]
fn waiting_cleanup_is_backing_up() {
    let old = running_status();
    let f = deleting(waiting());
    let r = report(&old, &f, &now());
    assert_eq!(phase_of(&r), phase::BACKING_UP);
    let ready = has(&r, "Ready", FALSE, "BackingUp");
    assert_eq!(
        ready.message,
        "Deleting: waiting for cleanup (backup: job claw-backup running)"
    );
    assert_eq!(ready.last_transition_time, now());
    assert_eq!(r.status.backing_up_since, Some(at(1_699_999_000)));
    assert!(r.events.is_empty(), "{:?}", events(&r));
    assert_eq!(r.next, Next::Requeue(Duration::from_secs(10)));
    // The other conditions stay as they were.
    has(&r, "StatefulSetReady", TRUE, "StatefulSetReady");
    assert_eq!(r.status.managed_resources, old.managed_resources);
    // Next pass: same status.
    let r2 = report(&r.status, &f, &later());
    assert_eq!(r2.status, r.status);
    assert!(r2.events.is_empty());
}

#[test]
fn deletion_wins_over_every_other_fact() {
    let f = Facts {
        invalid_spec: Some("bad".into()),
        not_acted_on: vec![not_acted_on("spec.backup.schedule", "not built")],
        failure: Some(Failure {
            class: FailureClass::Spec,
            message: "x".into(),
        }),
        lifecycle_phase: Some(("Restoring", "r".into())),
        deletion: Some(waiting()),
        ..running()
    };
    let r = first(&f);
    assert_eq!(phase_of(&r), phase::BACKING_UP);
    assert_eq!(condition_types(&r), vec!["Ready"]);
    assert!(r.events.is_empty());
}

#[test]
fn released_after_cleanup_is_terminating() {
    let backing_up = report(&running_status(), &deleting(waiting()), &now());
    let r = again(&backing_up, &deleting(released(Release::Done)));
    assert_eq!(phase_of(&r), phase::TERMINATING);
    let ready = has(&r, "Ready", FALSE, "Terminating");
    assert_eq!(ready.message, "The instance is being deleted");
    // Already False: the transition time stays.
    assert_eq!(ready.last_transition_time, now());
    assert!(r.status.backing_up_since.is_none());
    absent(&r, "BackupComplete");
    assert!(r.events.is_empty(), "{:?}", events(&r));
    assert_eq!(r.next, Next::AwaitChange);
}

#[test]
fn skipped_cleanup_is_terminating_with_an_event() {
    let r = report(
        &running_status(),
        &deleting(released(Release::Skipped)),
        &later(),
    );
    assert_eq!(phase_of(&r), phase::TERMINATING);
    assert_eq!(
        has(&r, "Ready", FALSE, "Terminating").last_transition_time,
        later()
    );
    absent(&r, "BackupComplete");
    assert_eq!(
        events(&r),
        vec![(
            EventType::Normal,
            "BackupSkipped".to_string(),
            "Annotation openclaw.rocks/skip-backup=true: deleting without cleanup".to_string()
        )]
    );
    assert_eq!(r.next, Next::AwaitChange);
}

#[test]
fn timed_out_cleanup_is_terminating_with_backup_complete_false() {
    let backing_up = report(&running_status(), &deleting(waiting()), &now());
    assert!(backing_up.status.backing_up_since.is_some());
    for (limit, shown) in [
        (Duration::from_secs(30 * 60), "30m"),
        (Duration::from_secs(90 * 60), "1h30m"),
    ] {
        let r = again(&backing_up, &deleting(released(Release::TimedOut(limit))));
        let message = format!(
            "Backup did not complete within {shown} - skipping backup and proceeding with deletion"
        );
        assert_eq!(phase_of(&r), phase::TERMINATING);
        let c = has(&r, "BackupComplete", FALSE, "BackupTimedOut");
        assert_eq!(c.message, message);
        assert_eq!(c.observed_generation, Some(GEN));
        has(&r, "Ready", FALSE, "Terminating");
        assert!(r.status.backing_up_since.is_none());
        assert_eq!(
            events(&r),
            vec![(EventType::Warning, "BackupTimedOut".to_string(), message)]
        );
        assert_eq!(r.next, Next::AwaitChange);
    }
}

// ---------------------------------------------------------------------------------------------
// WorkspaceReady, NetworkPolicyReady, StorageReady, FieldsNotActedOn, ConfigValid
// ---------------------------------------------------------------------------------------------

#[test]
fn workspace_ready_resolved_and_removed() {
    let f = with_inputs(InputFacts {
        workspace_refs: 1,
        ..InputFacts::default()
    });
    let r = first(&f);
    assert_eq!(
        has(&r, "WorkspaceReady", TRUE, "Resolved").message,
        "All workspace ConfigMaps resolved"
    );
    assert_eq!(phase_of(&r), phase::RUNNING);
    // No refs any more: removed.
    let r2 = again(&r, &running());
    absent(&r2, "WorkspaceReady");
}

#[test]
fn workspace_problem_reason_change_warns_again() {
    let bad = |reason: &'static str| {
        with_inputs(InputFacts {
            workspace_refs: 1,
            workspace_problems: vec![problem(reason, reason)],
            ..InputFacts::default()
        })
    };
    let r1 = first(&bad("ConfigMapNotFound"));
    has(&r1, "WorkspaceReady", FALSE, "ConfigMapNotFound");
    assert_eq!(warnings(&r1), vec!["WorkspaceConfigMapProblem"]);
    let r2 = again(&r1, &bad("InvalidFilename"));
    has(&r2, "WorkspaceReady", FALSE, "InvalidFilename");
    assert_eq!(warnings(&r2), vec!["WorkspaceConfigMapProblem"]);
    let fixed = again(
        &r2,
        &with_inputs(InputFacts {
            workspace_refs: 1,
            ..InputFacts::default()
        }),
    );
    has(&fixed, "WorkspaceReady", TRUE, "Resolved");
    assert!(warnings(&fixed).is_empty());
    assert_eq!(phase_of(&fixed), phase::RUNNING);
}

#[test]
fn network_policy_ready_set_and_removed() {
    let f = Facts {
        applied: Some(AppliedFacts {
            managed: ManagedResources {
                network_policy: Some(NAME.into()),
                ..managed()
            },
            ..AppliedFacts::default()
        }),
        ..running()
    };
    let r = first(&f);
    assert_eq!(
        has(&r, "NetworkPolicyReady", TRUE, "NetworkPolicyCreated").message,
        "NetworkPolicy reconciled"
    );
    let r2 = again(&r, &running());
    absent(&r2, "NetworkPolicyReady");
}

#[test]
fn rbac_and_service_ready_messages() {
    let r = first(&running());
    assert_eq!(
        has(&r, "RBACReady", TRUE, "RBACCreated").message,
        "ServiceAccount, Role and RoleBinding reconciled"
    );
    assert_eq!(
        has(&r, "ServiceReady", TRUE, "ServiceCreated").message,
        "Service reconciled"
    );
    assert_eq!(
        has(&r, "StorageReady", TRUE, "PVCCreated").message,
        "The data volume exists"
    );
}

#[test]
fn storage_ready_with_autoscaling_and_the_orphaned_pvc_event_once() {
    let f = with_workload(Workload {
        autoscaling: true,
        old_data_pvc: true,
        ..ready_workload()
    });
    // From a single-volume instance.
    let r = again(&first(&running()), &f);
    assert_eq!(
        has(&r, "StorageReady", TRUE, "ManagedByVolumeClaimTemplates").message,
        "Per-replica volumes from the StatefulSet's volumeClaimTemplates"
    );
    assert_eq!(
        events(&r),
        vec![(
            EventType::Warning,
            "OrphanedPVC".to_string(),
            "autoscaling uses per-replica volumes data-claw-N; claw-data is no longer mounted (its data is not copied) and is kept".to_string()
        )]
    );
    assert_eq!(phase_of(&r), phase::RUNNING);
    // Once.
    let r2 = report(&r.status, &f, &at(1_700_001_000));
    assert!(r2.events.is_empty(), "{:?}", events(&r2));
    assert_eq!(r2.status, r.status);
}

#[test]
fn storage_ready_with_autoscaling_without_an_old_volume_is_silent() {
    let f = with_workload(Workload {
        autoscaling: true,
        old_data_pvc: false,
        ..ready_workload()
    });
    let r = first(&f);
    has(&r, "StorageReady", TRUE, "ManagedByVolumeClaimTemplates");
    assert!(warnings(&r).is_empty());
}

#[test]
fn storage_ready_removed_without_persistence() {
    let f = with_workload(Workload {
        persistence_disabled: true,
        ..ready_workload()
    });
    let r = again(&first(&running()), &f);
    absent(&r, "StorageReady");
    assert_eq!(phase_of(&r), phase::RUNNING);
}

#[test]
fn storage_ready_reports_a_missing_claim_first() {
    for w in [
        Workload {
            persistence_disabled: true,
            ..ready_workload()
        },
        Workload {
            autoscaling: true,
            old_data_pvc: true,
            ..ready_workload()
        },
    ] {
        let f = Facts {
            workload: w,
            ..with_inputs(InputFacts {
                missing_claim: Some("mine".into()),
                ..InputFacts::default()
            })
        };
        let r = first(&f);
        has(&r, "StorageReady", FALSE, "ExistingClaimNotFound");
        assert_eq!(warnings(&r), vec!["ExistingClaimNotFound"]);
    }
}

#[test]
fn claim_created_clears_storage_ready() {
    let missing = first(&with_inputs(InputFacts {
        missing_claim: Some("mine".into()),
        ..InputFacts::default()
    }));
    let r = again(&missing, &running());
    let c = has(&r, "StorageReady", TRUE, "PVCCreated");
    assert_eq!(c.last_transition_time, later());
    assert_eq!(phase_of(&r), phase::RUNNING);
    assert_eq!(r.next, Next::Requeue(RESYNC));
    assert!(warnings(&r).is_empty());
}

#[test]
fn fields_not_acted_on_listed_and_removed() {
    let f = Facts {
        not_acted_on: vec![
            not_acted_on(
                "spec.backup.schedule",
                "scheduled backups are not built yet",
            ),
            not_acted_on("spec.autoUpdate", "auto-update is not built yet"),
        ],
        ..running()
    };
    let r = first(&f);
    assert_eq!(
        has(&r, NOT_ACTED_ON, TRUE, "FeatureNotBuilt").message,
        "spec.backup.schedule: scheduled backups are not built yet; spec.autoUpdate: auto-update is not built yet"
    );
    // It changes neither the phase nor Ready, and is not announced.
    assert_eq!(phase_of(&r), phase::RUNNING);
    has(&r, "Ready", TRUE, "ReconcileSucceeded");
    assert!(warnings(&r).is_empty());
    let r2 = again(&r, &f);
    assert_eq!(r2.status, r.status);
    let r3 = again(&r2, &running());
    absent(&r3, NOT_ACTED_ON);
}

#[test]
fn fields_not_acted_on_reported_on_every_stopped_pass() {
    let fields = vec![not_acted_on("spec.a", "b")];
    for f in [
        Facts {
            invalid_spec: Some("bad".into()),
            ..Facts::default()
        },
        Facts {
            render: Some(Err("bad".into())),
            ..running()
        },
        with_inputs(InputFacts {
            config_problem: Some(problem("ConfigMapNotFound", "gone")),
            ..InputFacts::default()
        }),
        Facts::default(),
    ] {
        let f = Facts {
            not_acted_on: fields.clone(),
            ..f
        };
        let r = first(&f);
        assert_eq!(
            has(&r, NOT_ACTED_ON, TRUE, "FeatureNotBuilt").message,
            "spec.a: b"
        );
    }
}

#[test]
fn config_valid_untouched_when_render_did_not_run() {
    let old = running_status();
    let r = report(
        &old,
        &Facts {
            render: None,
            ..running()
        },
        &later(),
    );
    assert_eq!(cond(&r.status, "ConfigValid"), cond(&old, "ConfigValid"));
    // And absent from a fresh status.
    let fresh = first(&Facts {
        render: None,
        ..running()
    });
    absent(&fresh, "ConfigValid");
}

// ---------------------------------------------------------------------------------------------
// Feature conditions of the optional kinds
// ---------------------------------------------------------------------------------------------

/// (kind, condition, ok reason, absent reason, CRD, kind shown)
const FEATURES: [(CustomKind, &str, &str, &str, &str, &str); 4] = [
    (
        CustomKind::ServiceMonitor,
        "ServiceMonitorReady",
        "ServiceMonitorReconciled",
        "CRDNotInstalled",
        "servicemonitors.monitoring.coreos.com",
        "ServiceMonitor",
    ),
    (
        CustomKind::PrometheusRule,
        "PrometheusRuleReady",
        "PrometheusRuleReconciled",
        "CRDNotInstalled",
        "prometheusrules.monitoring.coreos.com",
        "PrometheusRule",
    ),
    (
        CustomKind::HttpRoute,
        "HTTPRouteReady",
        "HTTPRouteReconciled",
        "GatewayAPINotInstalled",
        "httproutes.gateway.networking.k8s.io",
        "HTTPRoute",
    ),
    (
        CustomKind::TraefikMiddleware,
        "IngressReady",
        "IngressReconciled",
        "TraefikMiddlewareCRDNotInstalled",
        "middlewares.traefik.io",
        "Middleware",
    ),
];

#[test]
fn feature_reconciled() {
    for (kind, type_, ok, _, _, shown) in FEATURES {
        let r = first(&with_custom(&[(kind, KindResult::Reconciled)], false));
        assert_eq!(
            has(&r, type_, TRUE, ok).message,
            format!("{shown} reconciled")
        );
        assert!(warnings(&r).is_empty());
        assert_eq!(phase_of(&r), phase::RUNNING);
        // Only this feature's condition.
        for (_, other, ..) in FEATURES {
            if other != type_ {
                absent(&r, other);
            }
        }
    }
}

#[test]
fn feature_crd_not_installed_is_reported_not_failed() {
    for (kind, type_, _, absent_reason, crd, _) in FEATURES {
        let f = with_custom(&[(kind, KindResult::NotInstalled)], false);
        let r = first(&f);
        let message = format!("the CRD {crd} is not installed; nothing was created");
        assert_eq!(has(&r, type_, FALSE, absent_reason).message, message);
        // The event reason is CRDNotInstalled for every kind.
        assert!(
            events(&r).contains(&(EventType::Warning, "CRDNotInstalled".to_string(), message)),
            "{:?}",
            events(&r)
        );
        // The phase and Ready do not change.
        assert_eq!(phase_of(&r), phase::RUNNING);
        has(&r, "Ready", TRUE, "ReconcileSucceeded");
        assert_eq!(r.next, Next::Requeue(RESYNC));
        // Once.
        let r2 = again(&r, &f);
        assert!(r2.events.is_empty(), "{type_}: {:?}", events(&r2));
        assert_eq!(r2.status, r.status);
    }
}

#[test]
fn feature_forbidden() {
    for (kind, type_, _, _, crd, _) in FEATURES {
        let f = with_custom(&[(kind, KindResult::Forbidden("no RBAC".into()))], false);
        let r = first(&f);
        let message = format!("the operator may not manage {crd}: no RBAC");
        assert_eq!(has(&r, type_, FALSE, "Forbidden").message, message);
        assert_eq!(
            events(&r)
                .into_iter()
                .filter(|e| e.0 == EventType::Warning)
                .collect::<Vec<_>>(),
            vec![(EventType::Warning, "Forbidden".to_string(), message)]
        );
        assert_eq!(phase_of(&r), phase::RUNNING);
        assert!(again(&r, &f).events.is_empty());
    }
}

#[test]
fn feature_reason_change_warns_again() {
    let (kind, type_, ..) = FEATURES[0];
    let forbidden = first(&with_custom(
        &[(kind, KindResult::Forbidden("x".into()))],
        false,
    ));
    let absent_crd = again(
        &forbidden,
        &with_custom(&[(kind, KindResult::NotInstalled)], false),
    );
    has(&absent_crd, type_, FALSE, "CRDNotInstalled");
    assert_eq!(warnings(&absent_crd), vec!["CRDNotInstalled"]);
    let ok = again(
        &absent_crd,
        &with_custom(&[(kind, KindResult::Reconciled)], false),
    );
    assert_eq!(
        has(&ok, type_, TRUE, "ServiceMonitorReconciled").last_transition_time,
        later()
    );
    assert!(warnings(&ok).is_empty());
}

#[test]
fn feature_pending_without_a_previous_condition() {
    for (kind, type_, _, _, _, shown) in FEATURES {
        let f = Facts {
            applied: Some(AppliedFacts {
                managed: managed(),
                custom: [(kind, KindResult::Pending)].into_iter().collect(),
                ingress: false,
                soon: true,
            }),
            ..running()
        };
        let r = first(&f);
        assert_eq!(
            has(&r, type_, FALSE, "Pending").message,
            format!("waiting for the {shown} cache")
        );
        // Not announced, not a phase change.
        assert!(warnings(&r).is_empty(), "{:?}", events(&r));
        assert_eq!(phase_of(&r), phase::RUNNING);
        assert_eq!(r.next, Next::Requeue(Duration::from_secs(3)));
    }
}

#[test]
fn feature_pending_keeps_the_previous_condition() {
    for (kind, type_, ..) in FEATURES {
        for previous in [
            KindResult::Reconciled,
            KindResult::NotInstalled,
            KindResult::Forbidden("x".into()),
        ] {
            let r1 = first(&with_custom(&[(kind, previous.clone())], false));
            // A restart: the cache is listing again, at a new generation.
            let f = Facts {
                generation: Some(GEN + 1),
                ..with_custom(&[(kind, KindResult::Pending)], false)
            };
            let r2 = report(&r1.status, &f, &later());
            assert_eq!(
                cond(&r2.status, type_),
                cond(&r1.status, type_),
                "{type_} after {previous:?}"
            );
            assert!(warnings(&r2).is_empty());
        }
    }
}

#[test]
fn feature_removed_when_switched_off() {
    let all: Vec<(CustomKind, KindResult)> = FEATURES
        .iter()
        .map(|f| (f.0, KindResult::Reconciled))
        .collect();
    let r1 = first(&with_custom(&all, true));
    for (_, type_, ok, ..) in FEATURES {
        has(&r1, type_, TRUE, ok);
    }
    let r2 = again(&r1, &running());
    for (_, type_, ..) in FEATURES {
        absent(&r2, type_);
    }
}

#[test]
fn ingress_ready_from_an_ingress_without_middleware() {
    let r = first(&with_custom(&[], true));
    has(&r, "IngressReady", TRUE, "IngressReconciled");
    absent(&r, "ServiceMonitorReady");
    absent(&r, "HTTPRouteReady");
    // With the Middleware's CRD absent, the Ingress reports it.
    let r = first(&with_custom(
        &[(CustomKind::TraefikMiddleware, KindResult::NotInstalled)],
        true,
    ));
    has(
        &r,
        "IngressReady",
        FALSE,
        "TraefikMiddlewareCRDNotInstalled",
    );
    assert_eq!(warnings(&r), vec!["CRDNotInstalled"]);
}

#[test]
fn several_features_fare_independently() {
    let f = with_custom(
        &[
            (CustomKind::ServiceMonitor, KindResult::Reconciled),
            (CustomKind::PrometheusRule, KindResult::NotInstalled),
            (
                CustomKind::HttpRoute,
                KindResult::Forbidden("denied".into()),
            ),
            (CustomKind::TraefikMiddleware, KindResult::Pending),
        ],
        true,
    );
    let r = first(&f);
    has(&r, "ServiceMonitorReady", TRUE, "ServiceMonitorReconciled");
    has(&r, "PrometheusRuleReady", FALSE, "CRDNotInstalled");
    has(&r, "HTTPRouteReady", FALSE, "Forbidden");
    has(&r, "IngressReady", FALSE, "Pending");
    let mut w = warnings(&r);
    w.sort();
    assert_eq!(w, vec!["CRDNotInstalled", "Forbidden"]);
    assert_eq!(phase_of(&r), phase::RUNNING);
}

// ---------------------------------------------------------------------------------------------
// Events: RenderWarning, GatewayTokenCreated
// ---------------------------------------------------------------------------------------------

#[test]
fn render_warnings_once_per_generation() {
    let f = Facts {
        render: Some(Ok(vec!["w1".into(), "w2".into()])),
        ..running()
    };
    let r = first(&f);
    let render: Vec<_> = events(&r)
        .into_iter()
        .filter(|e| e.1 == "RenderWarning")
        .collect();
    assert_eq!(
        render,
        vec![
            (EventType::Warning, "RenderWarning".into(), "w1".into()),
            (EventType::Warning, "RenderWarning".into(), "w2".into()),
        ]
    );
    // Same generation: silent.
    let r2 = again(&r, &f);
    assert!(r2.events.is_empty(), "{:?}", events(&r2));
    // A new generation: again.
    let r3 = again(
        &r2,
        &Facts {
            generation: Some(GEN + 1),
            ..f.clone()
        },
    );
    assert_eq!(warnings(&r3), vec!["RenderWarning", "RenderWarning"]);
    // The warnings also come with a pass that fails later.
    let failing = Facts {
        generation: Some(GEN + 2),
        failure: Some(Failure {
            class: FailureClass::Transient,
            message: "x".into(),
        }),
        ..f
    };
    let r4 = again(&r3, &failing);
    assert_eq!(
        warnings(&r4),
        vec!["RenderWarning", "RenderWarning", "ReconcileFailed"]
    );
}

#[test]
fn gateway_token_created_event() {
    let f = with_inputs(InputFacts {
        token_generated: true,
        ..InputFacts::default()
    });
    let r = first(&f);
    assert!(
        events(&r).contains(&(
            EventType::Normal,
            "GatewayTokenCreated".to_string(),
            "Generated the gateway token Secret".to_string()
        )),
        "{:?}",
        events(&r)
    );
    assert!(!normals(&first(&running())).contains(&"GatewayTokenCreated".to_string()));
    // Not in the status: a converged pass after it writes nothing.
    let r2 = again(&r, &running());
    assert_eq!(r2.status, r.status);
    assert!(r2.events.is_empty());
}

#[test]
fn converged_instance_emits_nothing() {
    let r = first(&running());
    for _ in 0..3 {
        let r2 = again(&r, &running());
        assert!(r2.events.is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// Idempotence and transition times
// ---------------------------------------------------------------------------------------------

#[test]
fn converged_running_pass_writes_nothing() {
    let r1 = first(&running());
    let r2 = again(&r1, &running());
    assert_eq!(r2.status, r1.status);
    let r3 = report(&r2.status, &running(), &at(1_800_000_000));
    assert_eq!(r3.status, r1.status);
    // Times are those of the first pass.
    for c in r3.status.conditions.iter().flatten() {
        assert_eq!(c.last_transition_time, now(), "{}", c.type_);
    }
    assert_eq!(r3.status.last_reconcile_time, Some(now()));
}

#[test]
fn rich_running_instance_converges() {
    let f = Facts {
        not_acted_on: vec![not_acted_on("spec.x", "y")],
        render: Some(Ok(vec!["w".into()])),
        applied: Some(AppliedFacts {
            managed: ManagedResources {
                network_policy: Some(NAME.into()),
                ..managed()
            },
            custom: FEATURES
                .iter()
                .map(|f| (f.0, KindResult::Reconciled))
                .collect(),
            ingress: true,
            soon: false,
        }),
        workload: Workload {
            autoscaling: true,
            old_data_pvc: true,
            replicas: 3,
            ready_replicas: 2,
            ..ready_workload()
        },
        ..with_inputs(InputFacts {
            workspace_refs: 2,
            ..InputFacts::default()
        })
    };
    let r1 = first(&f);
    assert_eq!(phase_of(&r1), phase::RUNNING);
    assert!(!r1.events.is_empty());
    let r2 = again(&r1, &f);
    assert_eq!(r2.status, r1.status);
    assert!(r2.events.is_empty(), "{:?}", events(&r2));
}

#[test]
fn transition_time_moves_only_when_a_condition_flips() {
    let r1 = first(&running());
    let not_ready = again(&r1, &with_workload(Workload::default()));
    assert_eq!(phase_of(&not_ready), phase::PROVISIONING);
    assert_eq!(
        has(&not_ready, "Ready", FALSE, "StatefulSetNotReady").last_transition_time,
        later()
    );
    assert_eq!(
        has(&not_ready, "StatefulSetReady", FALSE, "StatefulSetNotReady").last_transition_time,
        later()
    );
    // Unchanged ones keep theirs.
    assert_eq!(
        has(&not_ready, "ServiceReady", TRUE, "ServiceCreated").last_transition_time,
        now()
    );
    // Provisioning -> Degraded (both Ready=False): reason changes, time does not.
    let f = Facts {
        workload: Workload::default(),
        ..with_inputs(InputFacts {
            missing_secrets: vec!["s".into()],
            ..InputFacts::default()
        })
    };
    let degraded = report(&not_ready.status, &f, &at(1_800_000_000));
    assert_eq!(phase_of(&degraded), phase::DEGRADED);
    assert_eq!(
        has(&degraded, "Ready", FALSE, "StatefulSetNotReady").last_transition_time,
        later()
    );
}

#[test]
fn last_reconcile_time_only_on_a_new_generation() {
    let r1 = first(&running());
    assert_eq!(r1.status.last_reconcile_time, Some(now()));
    let r2 = again(&r1, &running());
    assert_eq!(r2.status.last_reconcile_time, Some(now()));
    let bumped = Facts {
        generation: Some(GEN + 1),
        ..running()
    };
    let r3 = again(&r2, &bumped);
    assert_eq!(r3.status.last_reconcile_time, Some(later()));
    assert_eq!(r3.status.observed_generation, Some(GEN + 1));
    for c in r3.status.conditions.iter().flatten() {
        assert_eq!(c.observed_generation, Some(GEN + 1), "{}", c.type_);
    }
}

#[test]
fn observed_generation_follows_every_pass() {
    let cases = [
        Facts {
            invalid_spec: Some("bad".into()),
            ..running()
        },
        Facts {
            render: Some(Err("bad".into())),
            ..running()
        },
        with_inputs(InputFacts {
            config_problem: Some(problem("ConfigMapNotFound", "gone")),
            ..InputFacts::default()
        }),
        Facts {
            failure: Some(Failure {
                class: FailureClass::Transient,
                message: "x".into(),
            }),
            ..running()
        },
        Facts {
            applied: None,
            ..running()
        },
        running(),
        deleting(waiting()),
        deleting(released(Release::Done)),
    ];
    for f in cases {
        let old = OpenClawInstanceStatus {
            observed_generation: Some(1),
            ..OpenClawInstanceStatus::default()
        };
        assert_eq!(
            report(&old, &f, &now()).status.observed_generation,
            Some(GEN)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Next
// ---------------------------------------------------------------------------------------------

#[test]
fn next_of_every_outcome() {
    let soon = |f: Facts| Facts {
        applied: Some(AppliedFacts {
            managed: managed(),
            soon: true,
            ..AppliedFacts::default()
        }),
        ..f
    };
    let cases: Vec<(&str, Facts, Next)> = vec![
        (
            "invalid spec",
            Facts {
                invalid_spec: Some("bad".into()),
                ..running()
            },
            Next::AwaitChange,
        ),
        (
            "invalid config",
            Facts {
                render: Some(Err("bad".into())),
                ..running()
            },
            Next::AwaitChange,
        ),
        (
            "config problem",
            with_inputs(InputFacts {
                config_problem: Some(problem("ConfigMapNotFound", "gone")),
                ..InputFacts::default()
            }),
            Next::Requeue(RESYNC),
        ),
        (
            "spec failure",
            Facts {
                failure: Some(Failure {
                    class: FailureClass::Spec,
                    message: "x".into(),
                }),
                ..running()
            },
            Next::Backoff,
        ),
        (
            "transient failure",
            Facts {
                failure: Some(Failure {
                    class: FailureClass::Transient,
                    message: "x".into(),
                }),
                ..running()
            },
            Next::Backoff,
        ),
        ("pending", Facts::default(), Next::Requeue(RESYNC)),
        ("running", running(), Next::Requeue(RESYNC)),
        (
            "soon",
            soon(running()),
            Next::Requeue(Duration::from_secs(3)),
        ),
        (
            "missing claim",
            with_inputs(InputFacts {
                missing_claim: Some("c".into()),
                ..InputFacts::default()
            }),
            Next::Requeue(Duration::from_secs(15)),
        ),
        (
            "soon wins over the missing claim",
            soon(with_inputs(InputFacts {
                missing_claim: Some("c".into()),
                ..InputFacts::default()
            })),
            Next::Requeue(Duration::from_secs(3)),
        ),
        (
            "suspended",
            with_workload(Workload {
                suspended: true,
                ..Workload::default()
            }),
            Next::Requeue(RESYNC),
        ),
        (
            "backing up",
            deleting(waiting()),
            Next::Requeue(Duration::from_secs(10)),
        ),
        (
            "released",
            deleting(released(Release::Done)),
            Next::AwaitChange,
        ),
        (
            "timed out",
            deleting(released(Release::TimedOut(Duration::from_secs(300)))),
            Next::AwaitChange,
        ),
    ];
    for (what, f, next) in cases {
        assert_eq!(first(&f).next, next, "{what}");
    }
}

// ---------------------------------------------------------------------------------------------
// Every combination: a phase, and a second pass that writes and warns nothing
// ---------------------------------------------------------------------------------------------

#[test]
fn every_combination_has_a_phase_and_converges() {
    let invalid_specs = [None, Some("invalid spec: x".to_string())];
    let not_acted: [Vec<NotActedOn>; 2] = [Vec::new(), vec![not_acted_on("spec.a", "b")]];
    let inputs = [
        None,
        Some(InputFacts::default()),
        Some(InputFacts {
            missing_secrets: vec!["s".into()],
            token_generated: true,
            ..InputFacts::default()
        }),
        Some(InputFacts {
            workspace_refs: 1,
            workspace_problems: vec![problem("InvalidFilename", "bad")],
            ..InputFacts::default()
        }),
        Some(InputFacts {
            missing_claim: Some("c".into()),
            workspace_refs: 1,
            ..InputFacts::default()
        }),
        Some(InputFacts {
            config_problem: Some(problem("ConfigMapKeyNotFound", "no key")),
            ..InputFacts::default()
        }),
    ];
    let renders = [
        None,
        Some(Ok(Vec::new())),
        Some(Ok(vec!["w".to_string()])),
        Some(Err("bad config".to_string())),
    ];
    let failures = [
        None,
        Some(Failure {
            class: FailureClass::Spec,
            message: "rejected".into(),
        }),
        Some(Failure {
            class: FailureClass::Transient,
            message: "timeout".into(),
        }),
    ];
    let applieds = [
        None,
        Some(AppliedFacts::default()),
        Some(AppliedFacts {
            managed: ManagedResources {
                network_policy: Some("np".into()),
                ..managed()
            },
            custom: [
                (CustomKind::ServiceMonitor, KindResult::Reconciled),
                (CustomKind::PrometheusRule, KindResult::NotInstalled),
                (CustomKind::HttpRoute, KindResult::Forbidden("no".into())),
                (CustomKind::TraefikMiddleware, KindResult::Pending),
            ]
            .into_iter()
            .collect(),
            ingress: true,
            soon: true,
        }),
    ];
    let workloads = [
        Workload::default(),
        ready_workload(),
        Workload {
            suspended: true,
            current: true,
            ..Workload::default()
        },
        Workload {
            suspended: true,
            replicas: 1,
            ..Workload::default()
        },
        Workload {
            autoscaling: true,
            old_data_pvc: true,
            persistence_disabled: false,
            ..ready_workload()
        },
        Workload {
            persistence_disabled: true,
            ..Workload::default()
        },
    ];
    let lifecycles = [None, Some(("Restoring", "restoring".to_string()))];
    let deletions = [
        None,
        Some(waiting()),
        Some(released(Release::Done)),
        Some(released(Release::Skipped)),
        Some(released(Release::TimedOut(Duration::from_secs(1800)))),
    ];
    let olds = [
        OpenClawInstanceStatus::default(),
        running_status(),
        OpenClawInstanceStatus {
            phase: Some(String::new()),
            conditions: Some(Vec::new()),
            ..OpenClawInstanceStatus::default()
        },
        first(&Facts {
            invalid_spec: Some("other".into()),
            ..running()
        })
        .status,
    ];
    let known = [
        phase::PENDING,
        phase::PROVISIONING,
        phase::RUNNING,
        phase::DEGRADED,
        phase::FAILED,
        phase::SUSPENDED,
        phase::BACKING_UP,
        phase::TERMINATING,
        "Restoring",
    ];
    let mut all = vec![Facts {
        generation: Some(GEN),
        name: NAME.into(),
        namespace: NS.into(),
        ..Facts::default()
    }];
    all = vary(all, &invalid_specs, |f, v| f.invalid_spec = v.clone());
    all = vary(all, &not_acted, |f, v| f.not_acted_on = v.clone());
    all = vary(all, &inputs, |f, v| f.inputs = v.clone());
    all = vary(all, &renders, |f, v| f.render = v.clone());
    all = vary(all, &failures, |f, v| f.failure = v.clone());
    all = vary(all, &applieds, |f, v| f.applied = v.clone());
    all = vary(all, &workloads, |f, v| f.workload = v.clone());
    all = vary(all, &lifecycles, |f, v| f.lifecycle_phase = v.clone());
    all = vary(all, &deletions, |f, v| f.deletion = v.clone());
    let mut passes = 0usize;
    for f in &all {
        for old in &olds {
            check_combination(old, f, &known);
            passes += 1;
        }
    }
    assert!(passes > 100_000, "{passes}");
}

/// Every fact set of `facts`, with each of `values` set by `set`.
fn vary<T>(facts: Vec<Facts>, values: &[T], set: impl Fn(&mut Facts, &T)) -> Vec<Facts> {
    let mut out = Vec::with_capacity(facts.len() * values.len());
    for f in facts {
        for v in values {
            let mut f = f.clone();
            set(&mut f, v);
            out.push(f);
        }
    }
    out
}

#[track_caller]
fn check_combination(old: &OpenClawInstanceStatus, f: &Facts, known: &[&str]) {
    let r1 = report(old, f, &now());
    let phase = r1.status.phase.as_deref().unwrap_or("");
    assert!(
        !phase.is_empty() && known.contains(&phase),
        "phase {phase:?} for {f:?} over {old:?}"
    );
    assert_eq!(r1.status.observed_generation, Some(GEN));
    assert!(r1.status.conditions.is_some());
    // Ready is reported by every pass that got past the start.
    if f.deletion.is_some()
        || f.invalid_spec.is_some()
        || f.failure.is_some()
        || f.applied.is_some()
        || matches!(f.render, Some(Err(_)))
    {
        assert!(
            cond(&r1.status, "Ready").is_some(),
            "no Ready for {f:?} over {old:?}"
        );
    }
    // The same facts again, later: the same status, no Warning, no announcement.
    let r2 = report(&r1.status, f, &later());
    assert_eq!(r2.status, r1.status, "not converged for {f:?} over {old:?}");
    for e in &r2.events {
        let repeatable = matches!(
            e.reason.as_str(),
            "GatewayTokenCreated" | "BackupSkipped" | "BackupTimedOut"
        );
        assert!(
            repeatable,
            "event {} {:?} repeated for {f:?} over {old:?}",
            e.reason, e.note
        );
    }
}

fn released(release: Release) -> Deletion {
    Deletion::Released {
        since: None,
        release,
    }
}

#[test]
fn a_retried_release_keeps_backing_up_since_and_repeats_no_event() {
    let backing_up = report(&running_status(), &deleting(waiting()), &now());
    let since = backing_up.status.backing_up_since.clone();
    assert!(since.is_some());
    let limit = Duration::from_secs(30 * 60);
    let first = again(
        &backing_up,
        &deleting(Deletion::Released {
            since: since.clone(),
            release: Release::TimedOut(limit),
        }),
    );
    assert_eq!(first.status.backing_up_since, since);
    assert_eq!(first.events.len(), 1);
    // The finalizer patch failed; the next pass releases again: same status, no event.
    let second = again(
        &first,
        &deleting(Deletion::Released {
            since: since.clone(),
            release: Release::TimedOut(limit),
        }),
    );
    assert_eq!(second.status, first.status);
    assert!(second.events.is_empty());
}

#[test]
fn warnings_of_the_defaults_are_a_condition_not_events() {
    let f = Facts {
        default_warnings: vec!["d1".into(), "d2".into()],
        ..running()
    };
    let r = first(&f);
    let c = has(&r, CONFIG_WARNINGS, TRUE, "OperatorDefaults");
    assert_eq!(c.message, "d1; d2");
    assert!(
        events(&r).iter().all(|e| e.1 != "RenderWarning"),
        "{:?}",
        events(&r)
    );
    // Converged: the same status, no write.
    let again_r = again(&r, &f);
    assert_eq!(again_r.status, r.status);
    // Gone when the defaults no longer warn.
    let cleared = again(&r, &running());
    absent(&cleared, CONFIG_WARNINGS);
}

// ---------------------------------------------------------------------------------------------
// Data protection: periodic, restore, on demand
// ---------------------------------------------------------------------------------------------

fn with_backup(backup: crate::controller::backup::BackupFacts) -> Facts {
    Facts {
        backup,
        ..running()
    }
}

#[test]
fn scheduled_backups_have_one_condition_with_a_reason_per_state() {
    use crate::controller::backup::{BackupFacts, Scheduled};
    let r = first(&running());
    absent(&r, SCHEDULED_BACKUP_READY);
    let ready = first(&with_backup(BackupFacts {
        scheduled: Scheduled::Ready {
            cron_job: "claw-backup-periodic".into(),
            schedule: "0 3 * * *".into(),
        },
        ..BackupFacts::default()
    }));
    has(&ready, SCHEDULED_BACKUP_READY, TRUE, "CronJobReady");
    for (state, reason) in [
        (Scheduled::NoVolume, "PersistenceDisabled"),
        (
            Scheduled::Credentials("the Secret has no S3_BUCKET".into()),
            "S3CredentialsMissing",
        ),
    ] {
        let r = again(
            &ready,
            &with_backup(BackupFacts {
                scheduled: state,
                ..BackupFacts::default()
            }),
        );
        has(&r, SCHEDULED_BACKUP_READY, FALSE, reason);
        assert_eq!(phase_of(&r), phase::RUNNING);
    }
    // The schedule removed: the condition goes.
    absent(&again(&ready, &running()), SCHEDULED_BACKUP_READY);
}

#[test]
fn a_newer_periodic_backup_is_recorded_once() {
    use crate::controller::backup::BackupFacts;
    let facts = with_backup(BackupFacts {
        periodic: Some((
            at(1_600_000_000),
            "backups/team/claw/periodic/snapshots/2020-09-13".into(),
        )),
        ..BackupFacts::default()
    });
    let r = first(&facts);
    assert_eq!(r.status.last_backup_time, Some(at(1_600_000_000)));
    let r2 = again(&r, &facts);
    assert_eq!(r2.status, r.status);
    // An older one never replaces a newer record (an on-demand backup since).
    let mut newer = r.status.clone();
    newer.last_backup_time = Some(at(1_650_000_000));
    let r3 = report(&newer, &facts, &later());
    assert_eq!(r3.status.last_backup_time, Some(at(1_650_000_000)));
}

#[test]
fn a_restore_reports_start_success_and_failure_once() {
    use crate::controller::backup::{BackupFacts, RestoreState};
    let restore = |s: RestoreState| {
        with_backup(BackupFacts {
            restore: Some(s),
            ..BackupFacts::default()
        })
    };
    let base = first(&running());
    let started = again(
        &base,
        &restore(RestoreState::Started {
            job: "claw-restore".into(),
            path: "backups/t/old/x".into(),
        }),
    );
    assert_eq!(normals(&started), vec!["RestoreStarted"]);
    assert_eq!(
        started.status.restore_job_name.as_deref(),
        Some("claw-restore")
    );
    let done = again(
        &started,
        &restore(RestoreState::Succeeded {
            path: "backups/t/old/x".into(),
        }),
    );
    has(&done, RESTORE_COMPLETE, TRUE, "RestoreSucceeded");
    assert_eq!(
        done.status.restored_from.as_deref(),
        Some("backups/t/old/x")
    );
    assert_eq!(normals(&done), vec!["RestoreComplete"]);
    let failed = restore(RestoreState::Failed {
        path: "p".into(),
        job: "claw-restore-3".into(),
        message: "BackoffLimitExceeded".into(),
        attempts: 3,
    });
    let f1 = again(&started, &failed);
    has(&f1, RESTORE_COMPLETE, FALSE, "RestoreFailed");
    assert_eq!(warnings(&f1), vec!["RestoreFailed"]);
    assert!(warnings(&again(&f1, &failed)).is_empty());
    let creds = restore(RestoreState::Credentials(
        "S3 credentials Secret not found".into(),
    ));
    let c1 = first(&creds);
    has(&c1, RESTORE_COMPLETE, FALSE, "S3CredentialsMissing");
    assert_eq!(warnings(&c1), vec!["RestoreCredentialsFailed"]);
    assert!(warnings(&again(&c1, &creds)).is_empty());
}

#[test]
fn an_on_demand_backup_records_its_request_path_and_time() {
    use crate::controller::backup::{BackupFacts, OnDemandState};
    let on_demand = |s: OnDemandState| {
        with_backup(BackupFacts {
            on_demand: Some(s),
            ..BackupFacts::default()
        })
    };
    let base = first(&running());
    let started = again(
        &base,
        &on_demand(OnDemandState::Started {
            job: "claw-backup-now".into(),
            path: "backups/team/claw/on-demand-x".into(),
        }),
    );
    assert_eq!(normals(&started), vec!["BackupStarted"]);
    let ok = on_demand(OnDemandState::Succeeded {
        request: "r1".into(),
        path: "backups/team/claw/on-demand-x".into(),
        at: Some(at(1_700_000_300)),
    });
    let done = again(&started, &ok);
    has(&done, BACKUP_COMPLETE, TRUE, "BackupSucceeded");
    assert_eq!(done.status.last_backup_request.as_deref(), Some("r1"));
    assert_eq!(done.status.last_backup_time, Some(at(1_700_000_300)));
    assert_eq!(normals(&done), vec!["BackupComplete"]);
    assert!(normals(&again(&done, &ok)).is_empty());
    // A failed attempt is explained while the next one waits: one warning, a stable status.
    let retrying = on_demand(OnDemandState::Retrying(
        "backup attempt 1 failed (rclone exited with code 5: ...); attempt 2 starts 15s after it"
            .into(),
    ));
    let waiting = again(&done, &retrying);
    has(&waiting, BACKUP_COMPLETE, FALSE, "BackupRetrying");
    assert_eq!(warnings(&waiting), vec!["BackupRetrying"]);
    let still = again(&waiting, &retrying);
    assert!(warnings(&still).is_empty());
    assert_eq!(still.status, waiting.status);
    let failed = again(
        &done,
        &on_demand(OnDemandState::Failed {
            request: "r2".into(),
            message: "backup Job claw-backup-now-3 failed (3 attempts): boom".into(),
        }),
    );
    has(&failed, BACKUP_COMPLETE, FALSE, "BackupFailed");
    assert_eq!(warnings(&failed), vec!["BackupFailed"]);
    assert_eq!(failed.status.last_backup_request.as_deref(), Some("r2"));
    // The last successful backup stays recorded.
    assert_eq!(failed.status.last_backup_time, Some(at(1_700_000_300)));
}

fn with_packs(packs: SkillPackFacts) -> Facts {
    Facts {
        skill_packs: Some(packs),
        ..running()
    }
}

#[test]
fn resolved_skill_packs_are_ready_and_keep_running() {
    let r = first(&with_packs(SkillPackFacts {
        resolved: 2,
        ..Default::default()
    }));
    let c = has(&r, SKILL_PACKS_READY, TRUE, "Resolved");
    assert_eq!(c.message, "Successfully resolved 2 skill pack(s)");
    assert_eq!(phase_of(&r), "Running");
    assert!(warnings(&r).is_empty());
    // A stale copy is still ready, and says so.
    let r = again(
        &r,
        &with_packs(SkillPackFacts {
            resolved: 2,
            stale: vec!["pack:a/b/c: the copy fetched at T (GitHub answered 502)".into()],
            ..Default::default()
        }),
    );
    let c = has(&r, SKILL_PACKS_READY, TRUE, "Resolved");
    assert!(c.message.contains("earlier copy: pack:a/b/c"), "{c:?}");
    assert_eq!(phase_of(&r), "Running");
    // No pack left: the condition goes (the Go operator kept it forever).
    let r = again(&r, &running());
    absent(&r, SKILL_PACKS_READY);
}

#[test]
fn a_failed_skill_pack_degrades_warns_once_and_requeues() {
    let failed = with_packs(SkillPackFacts {
        resolved: 1,
        errors: vec!["pack:a/missing/x: a/missing: repository, path or ref not found".into()],
        ..Default::default()
    });
    let r = first(&failed);
    let c = has(&r, SKILL_PACKS_READY, FALSE, "ResolutionFailed");
    assert_eq!(
        c.message,
        "Failed to resolve skill packs: pack:a/missing/x: a/missing: repository, path or ref not found"
    );
    assert_eq!(phase_of(&r), "Degraded");
    assert_eq!(warnings(&r), ["SkillPackResolutionFailed"]);
    assert!(
        events(&r)[0]
            .2
            .ends_with("runs without these packs; what they seeded earlier stays."),
        "{:?}",
        events(&r)
    );
    assert_eq!(r.next, Next::Requeue(Duration::from_secs(300)));
    // The same failure again: no second event, nothing changes.
    let r2 = again(&r, &failed);
    assert!(warnings(&r2).is_empty());
    assert_eq!(r2.status, r.status);
    // Rate limited: requeued at the reset.
    let limited = with_packs(SkillPackFacts {
        errors: vec!["pack:a/b/c: GitHub API rate limit exhausted".into()],
        retry_in: Some(Duration::from_secs(42)),
        ..Default::default()
    });
    assert_eq!(first(&limited).next, Next::Requeue(Duration::from_secs(42)));
    // Fixed: ready again, Running.
    let r3 = again(
        &r2,
        &with_packs(SkillPackFacts {
            resolved: 2,
            ..Default::default()
        }),
    );
    has(&r3, SKILL_PACKS_READY, TRUE, "Resolved");
    assert_eq!(phase_of(&r3), "Running");
}

#[test]
fn update_plan_conditions_events_and_status_reach_the_report_and_warn_once() {
    use crate::controller::update_plan::{BACKUP_REQUIRED, Cond, Plan};
    let au = openclaw_api::AutoUpdateStatus {
        pending_version: Some("1.1.0".into()),
        ..Default::default()
    };
    let plan = Plan {
        status: Some(au.clone()),
        conditions: vec![Cond::Set(
            BACKUP_REQUIRED,
            "True",
            "S3CredentialsMissing",
            "needs a backup".into(),
        )],
        warn_on_change: vec![(BACKUP_REQUIRED, "BackupRequired")],
        events: vec![(false, "AutoUpdateAvailable", "New version 1.1.0".into())],
        requeue: Some(Duration::from_secs(60)),
        ..Plan::default()
    };
    let f = Facts {
        update: Some(plan.clone()),
        ..running()
    };
    let r1 = first(&f);
    has(&r1, BACKUP_REQUIRED, TRUE, "S3CredentialsMissing");
    assert_eq!(r1.status.auto_update.as_ref(), Some(&au));
    let reasons: Vec<&str> = r1.events.iter().map(|e| e.reason.as_str()).collect();
    assert!(reasons.contains(&"BackupRequired"), "{reasons:?}");
    assert!(reasons.contains(&"AutoUpdateAvailable"), "{reasons:?}");
    assert_eq!(r1.next, Next::Requeue(Duration::from_secs(60)));
    // The same condition again: no second warning.
    let f2 = Facts {
        update: Some(Plan {
            events: Vec::new(),
            ..plan
        }),
        ..running()
    };
    let r2 = again(&r1, &f2);
    assert!(!warnings(&r2).contains(&"BackupRequired".to_string()));
    // Removed by the plan: gone.
    let f3 = Facts {
        update: Some(Plan {
            conditions: vec![Cond::Remove(BACKUP_REQUIRED)],
            ..Plan::default()
        }),
        ..running()
    };
    let r3 = again(&r2, &f3);
    assert!(cond(&r3.status, BACKUP_REQUIRED).is_none());
    // A plan without a status keeps the recorded one.
    assert_eq!(r3.status.auto_update.as_ref(), Some(&au));
}
