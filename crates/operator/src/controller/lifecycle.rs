//! Step **lifecycle** of a reconcile: pure state machines `(spec, status, observed, now) ->
//! decision`.
//!
//! A lifecycle workflow (backup before delete, restore before start, update with health check
//! and rollback) spans several passes. Each pass it looks at the spec, at what the status
//! recorded in earlier passes and at what was observed now, and returns a [`Decision`]:
//! hold the workload at zero replicas, pin the image that runs, and the phase plus message to
//! report. The decision is applied to what `render` produced ([`Decision::apply`]) and to the
//! status (`report`). Nothing here does I/O or reads the clock: `now` is passed in, so every
//! transition is unit-tested without a cluster.
//!
//! The deletion workflow lives here too: [`before_cleanup`] and [`after_cleanup`] decide, from
//! the skip annotation, `status.backingUpSince` and the time limit (`spec.backup.timeout`),
//! whether the cleanup steps run, wait, or are cut off and the finalizer released. The async
//! driver is `super::finalizer`.
//!
//! A worked example (a workflow that restores data before the first start):
//!
//! ```
//! use openclaw_operator::controller::lifecycle::{Decision, Workflow, Observed};
//! use openclaw_api::{OpenClawInstanceSpec, OpenClawInstanceStatus};
//! use k8s_openapi::jiff::Timestamp;
//!
//! struct RestoreFirst;
//! impl Workflow for RestoreFirst {
//!     fn name(&self) -> &'static str { "restore" }
//!     fn decide(&self, spec: &OpenClawInstanceSpec, status: &OpenClawInstanceStatus,
//!               _observed: &Observed, _now: Timestamp) -> Option<Decision> {
//!         let wanted = spec.restore_from.as_deref().filter(|p| !p.is_empty())?;
//!         if status.restored_from.as_deref() == Some(wanted) {
//!             return None; // done in an earlier pass
//!         }
//!         Some(Decision {
//!             hold_replicas: true,
//!             phase: Some(("Restoring", format!("restoring from {wanted}"))),
//!             ..Decision::default()
//!         })
//!     }
//! }
//!
//! let mut spec = OpenClawInstanceSpec::default();
//! spec.restore_from = Some("backups/t/i/2026-01-01T000000Z".into());
//! let d = openclaw_operator::controller::lifecycle::decide(
//!     &[&RestoreFirst], &spec, &OpenClawInstanceStatus::default(), &Observed::default(),
//!     Timestamp::UNIX_EPOCH);
//! assert!(d.hold_replicas);
//! ```

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use openclaw_api::units::parse_go_duration;
use openclaw_api::{OpenClawInstanceSpec, OpenClawInstanceStatus};
use openclaw_render::{Object, Rendered};

/// The finalizer every instance carries (the Go operator's name, so instances it created are
/// released by us).
pub const FINALIZER: &str = "openclaw.rocks/finalizer";
/// Annotation that skips the cleanup (backup) on delete when exactly `"true"`.
pub const SKIP_BACKUP: &str = "openclaw.rocks/skip-backup";
/// Time limit of the cleanup on delete when `spec.backup.timeout` is unset or unparsable.
pub const DEFAULT_CLEANUP_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// Lower bound of `spec.backup.timeout`.
pub const MIN_CLEANUP_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// Upper bound of `spec.backup.timeout`.
pub const MAX_CLEANUP_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);
/// How often a pending cleanup is looked at again (at most; sooner when the limit is closer).
pub const CLEANUP_POLL: Duration = Duration::from_secs(10);

/// What the workflows observed beyond spec and status (filled by the observe step; grows with
/// the workflows that need it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observed {
    /// Pods of the instance that still exist.
    pub pods: usize,
}

/// What a workflow asks of this pass.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    /// Keep the StatefulSet at zero replicas (e.g. while data is restored or backed up).
    pub hold_replicas: bool,
    /// Run this image instead of the rendered one (e.g. the last healthy version).
    pub pin_image: Option<String>,
    /// The phase and message to report instead of the workload's.
    pub phase: Option<(&'static str, String)>,
}

impl Decision {
    /// Merge another workflow's decision: holds add up, the first pin and phase win.
    fn merge(&mut self, other: Decision) {
        self.hold_replicas |= other.hold_replicas;
        if self.pin_image.is_none() {
            self.pin_image = other.pin_image;
        }
        if self.phase.is_none() {
            self.phase = other.phase;
        }
    }

    /// Apply the decision to what render produced.
    pub fn apply(&self, rendered: &mut Rendered) {
        if !self.hold_replicas && self.pin_image.is_none() {
            return;
        }
        for desired in &mut rendered.objects {
            let Object::StatefulSet(sts) = &mut desired.object else {
                continue;
            };
            let Some(spec) = sts.spec.as_mut() else {
                continue;
            };
            if self.hold_replicas {
                spec.replicas = Some(0);
            }
            if let (Some(image), Some(pod)) = (&self.pin_image, spec.template.spec.as_mut())
                && let Some(main) = pod.containers.first_mut()
            {
                main.image = Some(image.clone());
            }
        }
    }
}

/// One multi-pass workflow.
pub trait Workflow: Send + Sync {
    /// A short name, for logs.
    fn name(&self) -> &'static str;
    /// The decision for this pass, or `None` when the workflow has nothing to do.
    fn decide(
        &self,
        spec: &OpenClawInstanceSpec,
        status: &OpenClawInstanceStatus,
        observed: &Observed,
        now: Timestamp,
    ) -> Option<Decision>;
}

/// The workflows' combined decision, in list order.
pub fn decide(
    workflows: &[&dyn Workflow],
    spec: &OpenClawInstanceSpec,
    status: &OpenClawInstanceStatus,
    observed: &Observed,
    now: Timestamp,
) -> Decision {
    let mut decision = Decision::default();
    for w in workflows {
        if let Some(d) = w.decide(spec, status, observed, now) {
            decision.merge(d);
        }
    }
    decision
}

/// The cleanup time limit: `spec.backup.timeout` (a Go duration), 30m when unset or
/// unparsable, clamped to 5m..24h.
pub fn cleanup_timeout(spec: &OpenClawInstanceSpec) -> Duration {
    let Some(text) = spec
        .backup
        .as_ref()
        .and_then(|b| b.timeout.as_deref())
        .filter(|t| !t.is_empty())
    else {
        return DEFAULT_CLEANUP_TIMEOUT;
    };
    match parse_go_duration(text) {
        Ok(secs) if secs.is_finite() => {
            let min = MIN_CLEANUP_TIMEOUT.as_secs_f64();
            let max = MAX_CLEANUP_TIMEOUT.as_secs_f64();
            Duration::from_secs_f64(secs.clamp(min, max))
        }
        _ => DEFAULT_CLEANUP_TIMEOUT,
    }
}

/// Why the finalizer is released.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Release {
    /// Every cleanup step finished (or there was none).
    Done,
    /// The `openclaw.rocks/skip-backup: "true"` annotation.
    Skipped,
    /// The time limit elapsed before the cleanup finished.
    TimedOut(Duration),
}

/// The deletion decision before the cleanup steps run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BeforeCleanup {
    /// Release the finalizer now; do not run the steps.
    Release(Release),
    /// Run the cleanup steps.
    Run,
}

/// Whether the cleanup runs: skipped by the annotation, cut off once `backingUpSince` is
/// `timeout` old.
pub fn before_cleanup(
    skip: bool,
    backing_up_since: Option<Timestamp>,
    timeout: Duration,
    now: Timestamp,
) -> BeforeCleanup {
    if skip {
        return BeforeCleanup::Release(Release::Skipped);
    }
    if let Some(since) = backing_up_since {
        let elapsed = now.as_second().saturating_sub(since.as_second());
        if elapsed >= 0 && elapsed.unsigned_abs() >= timeout.as_secs() {
            return BeforeCleanup::Release(Release::TimedOut(timeout));
        }
    }
    BeforeCleanup::Run
}

/// How one cleanup step stands after it ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepState {
    /// Finished: nothing left to do for this deletion.
    Done,
    /// Still working; the message says on what (reported in the status).
    Pending(String),
}

/// The deletion decision after the cleanup steps ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterCleanup {
    /// Release the finalizer.
    Release(Release),
    /// Look again after the delay; the message says what is pending.
    Wait(Duration, String),
}

/// Release when every step is done; else wait, at most until the time limit.
pub fn after_cleanup(
    states: &[StepState],
    backing_up_since: Timestamp,
    timeout: Duration,
    now: Timestamp,
) -> AfterCleanup {
    let pending: Vec<&str> = states
        .iter()
        .filter_map(|s| match s {
            StepState::Pending(m) => Some(m.as_str()),
            StepState::Done => None,
        })
        .collect();
    if pending.is_empty() {
        return AfterCleanup::Release(Release::Done);
    }
    let elapsed = now
        .as_second()
        .saturating_sub(backing_up_since.as_second())
        .max(0)
        .unsigned_abs();
    let left = timeout.as_secs().saturating_sub(elapsed).max(1);
    AfterCleanup::Wait(
        CLEANUP_POLL.min(Duration::from_secs(left)),
        pending.join("; "),
    )
}

/// Human-readable duration for messages (`30m`, `1h30m`, `45s`).
pub fn display_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, (s % 3600) / 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 || out.is_empty() {
        out.push_str(&format!("{sec}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use openclaw_api::BackupSpec;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn with_timeout(t: &str) -> OpenClawInstanceSpec {
        OpenClawInstanceSpec {
            backup: Some(BackupSpec {
                timeout: Some(t.into()),
                ..BackupSpec::default()
            }),
            ..OpenClawInstanceSpec::default()
        }
    }

    #[test]
    fn timeout_defaults_parses_and_clamps() {
        assert_eq!(
            cleanup_timeout(&OpenClawInstanceSpec::default()),
            DEFAULT_CLEANUP_TIMEOUT
        );
        assert_eq!(cleanup_timeout(&with_timeout("")), DEFAULT_CLEANUP_TIMEOUT);
        assert_eq!(
            cleanup_timeout(&with_timeout("soon")),
            DEFAULT_CLEANUP_TIMEOUT
        );
        assert_eq!(
            cleanup_timeout(&with_timeout("1h30m")),
            Duration::from_secs(5400)
        );
        assert_eq!(cleanup_timeout(&with_timeout("1m")), MIN_CLEANUP_TIMEOUT);
        assert_eq!(cleanup_timeout(&with_timeout("-1m")), MIN_CLEANUP_TIMEOUT);
        assert_eq!(cleanup_timeout(&with_timeout("48h")), MAX_CLEANUP_TIMEOUT);
    }

    #[test]
    fn skip_annotation_releases_at_once() {
        assert_eq!(
            before_cleanup(true, None, DEFAULT_CLEANUP_TIMEOUT, at(0)),
            BeforeCleanup::Release(Release::Skipped)
        );
    }

    #[test]
    fn time_limit_cuts_the_cleanup_off() {
        let t = Duration::from_secs(300);
        assert_eq!(before_cleanup(false, None, t, at(1000)), BeforeCleanup::Run);
        assert_eq!(
            before_cleanup(false, Some(at(1000)), t, at(1299)),
            BeforeCleanup::Run
        );
        assert_eq!(
            before_cleanup(false, Some(at(1000)), t, at(1300)),
            BeforeCleanup::Release(Release::TimedOut(t))
        );
        // A clock behind the recorded start never times out early.
        assert_eq!(
            before_cleanup(false, Some(at(2000)), t, at(1000)),
            BeforeCleanup::Run
        );
    }

    #[test]
    fn nothing_pending_releases_and_pending_waits_within_the_limit() {
        let t = Duration::from_secs(300);
        assert_eq!(
            after_cleanup(&[], at(0), t, at(0)),
            AfterCleanup::Release(Release::Done)
        );
        assert_eq!(
            after_cleanup(&[StepState::Done], at(0), t, at(0)),
            AfterCleanup::Release(Release::Done)
        );
        assert_eq!(
            after_cleanup(
                &[
                    StepState::Pending("a".into()),
                    StepState::Pending("b".into())
                ],
                at(0),
                t,
                at(0)
            ),
            AfterCleanup::Wait(CLEANUP_POLL, "a; b".into())
        );
        assert_eq!(
            after_cleanup(&[StepState::Pending("a".into())], at(0), t, at(297)),
            AfterCleanup::Wait(Duration::from_secs(3), "a".into())
        );
    }

    struct Hold(Option<&'static str>);
    impl Workflow for Hold {
        fn name(&self) -> &'static str {
            "hold"
        }
        fn decide(
            &self,
            _: &OpenClawInstanceSpec,
            _: &OpenClawInstanceStatus,
            _: &Observed,
            _: Timestamp,
        ) -> Option<Decision> {
            Some(Decision {
                hold_replicas: true,
                pin_image: self.0.map(String::from),
                phase: Some(("Restoring", "r".into())),
            })
        }
    }

    #[test]
    fn decisions_merge_and_apply_to_the_statefulset() {
        let spec = OpenClawInstanceSpec::default();
        let status = OpenClawInstanceStatus::default();
        let none = decide(&[], &spec, &status, &Observed::default(), at(0));
        assert_eq!(none, Decision::default());
        let d = decide(
            &[&Hold(None), &Hold(Some("img:2"))],
            &spec,
            &status,
            &Observed::default(),
            at(0),
        );
        assert!(d.hold_replicas);
        assert_eq!(d.pin_image.as_deref(), Some("img:2"));

        let mut instance = openclaw_api::OpenClawInstance::new("a", spec);
        instance.metadata.namespace = Some("ns".into());
        instance.metadata.uid = Some("u".into());
        let observed = openclaw_render::Observed {
            gateway_token: Some("t".into()),
            ..Default::default()
        };
        let mut rendered = match openclaw_render::render(&instance, &observed) {
            Ok(r) => r,
            Err(e) => panic!("render: {e}"),
        };
        d.apply(&mut rendered);
        let sts = rendered.iter().find_map(|o| match o {
            Object::StatefulSet(s) => Some(s.clone()),
            _ => None,
        });
        let spec = sts.and_then(|s| s.spec).unwrap_or_default();
        assert_eq!(spec.replicas, Some(0));
        assert_eq!(
            spec.template
                .spec
                .and_then(|p| p.containers.first().and_then(|c| c.image.clone()))
                .as_deref(),
            Some("img:2")
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(display_duration(Duration::from_secs(1800)), "30m");
        assert_eq!(display_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(display_duration(Duration::from_secs(0)), "0s");
    }
}
