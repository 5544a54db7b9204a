//! Cron schedules as a Kubernetes CronJob reads them (`spec.backup.schedule`): checked before
//! a CronJob is rendered (an invalid one would be refused by the API server and stop the whole
//! apply), and measured, so that an alert can say "older than twice the schedule".

use std::str::FromStr;
use std::time::Duration;

use chrono::{TimeZone, Utc};
use croner::Cron;

/// Check a schedule (cheap: parsed, and its next run found).
pub fn check(schedule: &str) -> Result<(), String> {
    parse(schedule).map(|_| ())
}

/// Check a schedule and return the longest gap between two of its runs (over its first 1,000
/// runs or a year, from a fixed date, so the answer never depends on the clock). The syntax is the CronJob's:
/// five fields, or one of `@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
/// `@midnight`, `@hourly`; no time zone prefix (a CronJob takes `spec.timeZone` instead).
pub fn longest_gap(schedule: &str) -> Result<Duration, String> {
    let (s, cron) = parse(schedule)?;
    gap(s, &cron)
}

fn parse(schedule: &str) -> Result<(&str, Cron), String> {
    let s = schedule.trim();
    if s.is_empty() {
        return Err("the schedule is empty".into());
    }
    if s.starts_with("TZ=") || s.starts_with("CRON_TZ=") {
        return Err(format!(
            "{s:?}: a time zone prefix is not accepted in a CronJob schedule"
        ));
    }
    let pattern = if s.eq_ignore_ascii_case("@midnight") {
        "0 0 * * *"
    } else {
        s
    };
    if !pattern.starts_with('@') {
        let fields = pattern.split_whitespace().count();
        if fields != 5 {
            return Err(format!(
                "{s:?} has {fields} fields; a schedule has 5 (minute hour day-of-month month \
                 day-of-week)"
            ));
        }
        if pattern.contains(['L', 'W', '#']) {
            return Err(format!(
                "{s:?}: L, W and # are not part of the CronJob schedule syntax"
            ));
        }
    }
    let cron = Cron::from_str(pattern).map_err(|e| format!("{s:?} is not a cron schedule: {e}"))?;
    let Some(at) = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single() else {
        return Err("no reference time".into());
    };
    cron.find_next_occurrence(&at, false)
        .map_err(|e| format!("{s:?} never runs: {e}"))?;
    Ok((s, cron))
}

fn gap(s: &str, cron: &Cron) -> Result<Duration, String> {
    let Some(mut at) = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single() else {
        return Err("no reference time".into());
    };
    let Some(end) = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single() else {
        return Err("no reference time".into());
    };
    let mut longest = 0i64;
    let mut previous: Option<chrono::DateTime<Utc>> = None;
    for _ in 0..1_000 {
        let next = cron
            .find_next_occurrence(&at, false)
            .map_err(|e| format!("{s:?} never runs: {e}"))?;
        if let Some(p) = previous {
            longest = longest.max(next.signed_duration_since(p).num_seconds());
        }
        if next > end {
            break;
        }
        previous = Some(next);
        at = next;
    }
    if previous.is_none() {
        return Err(format!("{s:?} never runs"));
    }
    Ok(Duration::from_secs(longest.max(60).unsigned_abs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_of_common_schedules() {
        assert_eq!(longest_gap("0 3 * * *"), Ok(Duration::from_secs(86_400)));
        assert_eq!(longest_gap("@daily"), Ok(Duration::from_secs(86_400)));
        assert_eq!(longest_gap("@midnight"), Ok(Duration::from_secs(86_400)));
        assert_eq!(longest_gap("*/15 * * * *"), Ok(Duration::from_secs(900)));
        assert_eq!(longest_gap("@hourly"), Ok(Duration::from_secs(3_600)));
        // Weekdays only: the weekend makes the longest gap three days.
        assert_eq!(
            longest_gap("0 2 * * 1-5"),
            Ok(Duration::from_secs(3 * 86_400))
        );
    }

    #[test]
    fn bad_schedules_say_why() {
        for bad in [
            "",
            "every day",
            "0 3 * *",
            "0 0 3 * * *",
            "61 * * * *",
            "TZ=UTC 0 3 * * *",
            "0 0 L * *",
        ] {
            let e = longest_gap(bad).unwrap_err();
            assert!(!e.is_empty(), "{bad}");
        }
        assert!(longest_gap("0 3 * *").unwrap_err().contains("4 fields"));
    }
}
