//! Conditions and phase of an OpenClawInstance.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Condition status values.
pub const TRUE: &str = "True";
/// Condition status values.
pub const FALSE: &str = "False";

/// Phases the instance controller sets.
pub mod phase {
    /// Seen, nothing applied yet.
    pub const PENDING: &str = "Pending";
    /// Objects applied, the pod is not Ready yet.
    pub const PROVISIONING: &str = "Provisioning";
    /// The pod is Ready.
    pub const RUNNING: &str = "Running";
    /// Running or provisioning with a missing input (Secret, ConfigMap).
    pub const DEGRADED: &str = "Degraded";
    /// Nothing can be rolled out until the spec or an input changes.
    pub const FAILED: &str = "Failed";
    /// Scaled to zero on request.
    pub const SUSPENDED: &str = "Suspended";
    /// Held at zero replicas while `spec.restoreFrom` is restored into the data volume.
    pub const RESTORING: &str = "Restoring";
    /// Deleting: cleanup steps (the backup) run before the finalizer is released.
    pub const BACKING_UP: &str = "BackingUp";
    /// Deleting: the finalizer is released.
    pub const TERMINATING: &str = "Terminating";
}

/// Set (or update) a condition. `lastTransitionTime` changes only when the status flips, so an
/// unchanged condition compares equal and causes no status write.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: &str,
    reason: &str,
    message: impl Into<String>,
    generation: Option<i64>,
    now: &Time,
) {
    let message = message.into();
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition_time = now.clone();
            }
            c.status = status.to_string();
            c.reason = reason.to_string();
            c.message = message;
            c.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: type_.to_string(),
            status: status.to_string(),
            reason: reason.to_string(),
            message,
            observed_generation: generation,
            last_transition_time: now.clone(),
        }),
    }
}

/// Remove a condition type.
pub fn remove_condition(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// The condition of a type, if set.
pub fn condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    #[test]
    fn transition_time_moves_only_on_flip() {
        let t1 = Time(Timestamp::from_second(1).unwrap_or_default());
        let t2 = Time(Timestamp::from_second(2).unwrap_or_default());
        let mut c = Vec::new();
        set_condition(&mut c, "Ready", FALSE, "A", "a", Some(1), &t1);
        set_condition(&mut c, "Ready", FALSE, "B", "b", Some(2), &t2);
        assert_eq!(c[0].last_transition_time, t1);
        assert_eq!(c[0].reason, "B");
        set_condition(&mut c, "Ready", TRUE, "C", "c", Some(2), &t2);
        assert_eq!(c[0].last_transition_time, t2);
        remove_condition(&mut c, "Ready");
        assert!(condition(&c, "Ready").is_none());
    }
}
