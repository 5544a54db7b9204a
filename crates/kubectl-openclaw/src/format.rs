//! Pure formatting: tables, the detail view, ages, event ordering, the Control UI URL. No I/O
//! and no clock: callers pass `now`, so everything here is unit-tested without a cluster.

use std::fmt::Write as _;

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use openclaw_api::{OpenClawInstance, OpenClawSelfConfig};
use openclaw_render::consts::GATEWAY_PORT;

/// What is shown where a value is missing.
const NONE: &str = "<none>";

/// How many Events the detail view shows.
pub const RECENT_EVENTS: usize = 10;

/// kubectl's short age: `45s`, `3m12s`, `12m`, `2h5m`, `20h`, `3d4h`, `12d`, `2y`.
pub fn human_age(seconds: i64) -> String {
    let s = seconds.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        match s % 60 {
            0 => format!("{m}m"),
            r => format!("{m}m{r}s"),
        }
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        match m % 60 {
            0 => format!("{h}h"),
            r => format!("{h}h{r}m"),
        }
    } else if h < 48 {
        format!("{h}h")
    } else if d < 8 {
        match h % 24 {
            0 => format!("{d}d"),
            r => format!("{d}d{r}h"),
        }
    } else if d < 365 * 2 {
        format!("{d}d")
    } else {
        format!("{}y", d / 365)
    }
}

/// The age of `t` at `now`, or `<none>`.
pub fn age(t: Option<&Time>, now: Timestamp) -> String {
    match t {
        Some(t) => human_age(now.as_second() - t.0.as_second()),
        None => NONE.to_string(),
    }
}

/// A time as RFC 3339 to the second (`2026-12-01T03:00:00Z`).
pub fn rfc3339(t: &Time) -> String {
    t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Left-aligned columns separated by three spaces, like kubectl's tables. The last column is
/// not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| (*h).to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                let w = widths.get(i).copied().unwrap_or(0);
                let _ = write!(line, "{cell:<w$}   ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The status of the `Ready` condition, or `<none>`.
pub fn ready(i: &OpenClawInstance) -> String {
    condition(i, "Ready").map_or_else(|| NONE.to_string(), |c| c.status.clone())
}

fn condition<'a>(i: &'a OpenClawInstance, type_: &str) -> Option<&'a Condition> {
    i.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == type_))
}

/// The image version: `@sha256:<12 hex>` when pinned by digest, else the tag (`latest` when
/// unset, the API's default).
pub fn version(i: &OpenClawInstance) -> String {
    let image = i.spec.image.as_ref();
    if let Some(d) = image
        .and_then(|im| im.digest.as_deref())
        .filter(|d| !d.is_empty())
    {
        let short: String = d.chars().take("sha256:".len() + 12).collect();
        return format!("@{short}");
    }
    image
        .and_then(|im| im.tag.as_deref())
        .filter(|t| !t.is_empty())
        .unwrap_or("latest")
        .to_string()
}

/// The image reference as the operator renders it (repository, then `@digest` or `:tag`),
/// without the `spec.registry` override.
pub fn image(i: &OpenClawInstance) -> String {
    let repo = i
        .spec
        .image
        .as_ref()
        .and_then(|im| im.repository.as_deref())
        .filter(|r| !r.is_empty())
        .unwrap_or("ghcr.io/openclaw/openclaw");
    match version(i) {
        v if v.starts_with('@') => {
            let digest = i
                .spec
                .image
                .as_ref()
                .and_then(|im| im.digest.clone())
                .unwrap_or_default();
            format!("{repo}@{digest}")
        }
        v => format!("{repo}:{v}"),
    }
}

/// The gateway Service: `status.managedResources.service`, else `<name>` (the operator's name).
pub fn service_name(i: &OpenClawInstance) -> String {
    i.status
        .as_ref()
        .and_then(|s| s.managed_resources.as_ref())
        .and_then(|m| m.service.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| name(i).to_string())
}

/// The gateway endpoint: `status.gatewayEndpoint`, else `<service>.<namespace>.svc:18789`.
pub fn endpoint(i: &OpenClawInstance) -> String {
    i.status
        .as_ref()
        .and_then(|s| s.gateway_endpoint.clone())
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| {
            format!(
                "{}.{}.svc:{GATEWAY_PORT}",
                service_name(i),
                namespace(i).unwrap_or("default")
            )
        })
}

fn name(i: &OpenClawInstance) -> &str {
    i.metadata.name.as_deref().unwrap_or_default()
}

fn namespace(i: &OpenClawInstance) -> Option<&str> {
    i.metadata.namespace.as_deref()
}

fn phase(i: &OpenClawInstance) -> String {
    i.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "Pending".to_string())
}

/// The instance table of `status` without a name.
pub fn instance_table(items: &[OpenClawInstance], all_namespaces: bool, now: Timestamp) -> String {
    let mut header = vec![
        "NAME",
        "PHASE",
        "READY",
        "VERSION",
        "ENDPOINT",
        "LAST BACKUP",
        "AGE",
    ];
    if all_namespaces {
        header.insert(0, "NAMESPACE");
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|i| {
            let last_backup = i.status.as_ref().and_then(|s| s.last_backup_time.as_ref());
            let mut row = vec![
                name(i).to_string(),
                phase(i),
                ready(i),
                version(i),
                endpoint(i),
                last_backup.map_or_else(
                    || NONE.to_string(),
                    |t| format!("{} ago", age(Some(t), now)),
                ),
                age(i.metadata.creation_timestamp.as_ref(), now),
            ];
            if all_namespaces {
                row.insert(0, namespace(i).unwrap_or_default().to_string());
            }
            row
        })
        .collect();
    table(&header, &rows)
}

/// When an Event last happened: `lastTimestamp`, `eventTime` (events.k8s.io writers), else
/// `firstTimestamp`, else its creation.
pub fn event_time(e: &Event) -> Option<Timestamp> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// The newest `n` Events, oldest first (as `kubectl describe` lists them). Events without any
/// time sort first.
pub fn recent_events(mut events: Vec<Event>, n: usize) -> Vec<Event> {
    events.sort_by_key(event_time);
    let skip = events.len().saturating_sub(n);
    events.split_off(skip)
}

/// The detail view of `status NAME`.
pub fn instance_detail(
    i: &OpenClawInstance,
    token_secret: &str,
    events: &[Event],
    now: Timestamp,
) -> String {
    let mut out = String::new();
    let status = i.status.clone().unwrap_or_default();
    let field = |out: &mut String, k: &str, v: &str| {
        let _ = writeln!(out, "{:<16}{v}", format!("{k}:"));
    };
    field(&mut out, "Name", name(i));
    field(&mut out, "Namespace", namespace(i).unwrap_or_default());
    field(&mut out, "Phase", &phase(i));
    field(&mut out, "Ready", &ready(i));
    field(&mut out, "Image", &image(i));
    field(
        &mut out,
        "Age",
        &age(i.metadata.creation_timestamp.as_ref(), now),
    );
    field(
        &mut out,
        "Gateway",
        &format!(
            "{} (Service {}, port {GATEWAY_PORT})",
            endpoint(i),
            service_name(i)
        ),
    );
    field(
        &mut out,
        "Token",
        &format!(
            "Secret {token_secret}, key token (kubectl openclaw token {})",
            name(i)
        ),
    );
    let backup = match (&status.last_backup_time, &status.last_backup_path) {
        (None, None) => NONE.to_string(),
        (t, p) => {
            let when = t.as_ref().map_or_else(
                || "time unknown".to_string(),
                |t| format!("{} ({} ago)", rfc3339(t), age(Some(t), now)),
            );
            format!("{when}, {}", p.as_deref().unwrap_or(NONE))
        }
    };
    field(&mut out, "Last backup", &backup);
    if let Some(r) = status.last_backup_request.as_deref() {
        field(&mut out, "Backup request", r);
    }
    if let Some(r) = i.spec.restore_from.as_deref().filter(|r| !r.is_empty()) {
        field(&mut out, "Restore from", r);
    }
    if let Some(r) = status.restored_from.as_deref() {
        field(&mut out, "Restored from", r);
    }
    if let Some(u) = status.auto_update.as_ref() {
        let mut parts = Vec::new();
        let mut push = |k: &str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                parts.push(format!("{k} {v}"));
            }
        };
        push("phase", u.update_phase.clone());
        push("trigger", u.update_trigger.clone());
        push("current", u.current_version.clone());
        push("latest", u.latest_version.clone());
        push("pending", u.pending_version.clone());
        push("previous", u.previous_version.clone());
        push("failed", u.failed_version.clone());
        push(
            "rollbacks",
            u.rollback_count
                .filter(|n| *n > 0)
                .map(|n| format!("{n}/3")),
        );
        push("backup", u.pre_update_backup_path.clone());
        push("last check", u.last_check_time.as_ref().map(rfc3339));
        push("last update", u.last_update_time.as_ref().map(rfc3339));
        push("error", u.last_update_error.clone());
        let text = if parts.is_empty() {
            NONE.to_string()
        } else {
            parts.join(", ")
        };
        field(&mut out, "Update", &text);
    }
    out.push_str("Conditions:\n");
    let conditions = status.conditions.unwrap_or_default();
    if conditions.is_empty() {
        out.push_str("  <none>\n");
    } else {
        let rows: Vec<Vec<String>> = conditions
            .iter()
            .map(|c| {
                vec![
                    c.type_.clone(),
                    c.status.clone(),
                    c.reason.clone(),
                    age(Some(&c.last_transition_time), now),
                    c.message.clone(),
                ]
            })
            .collect();
        indent(
            &mut out,
            &table(&["TYPE", "STATUS", "REASON", "AGE", "MESSAGE"], &rows),
        );
    }
    out.push_str("Events:\n");
    if events.is_empty() {
        out.push_str("  <none>\n");
    } else {
        let rows: Vec<Vec<String>> = events
            .iter()
            .map(|e| {
                let seen = event_time(e).map_or_else(
                    || NONE.to_string(),
                    |t| human_age(now.as_second() - t.as_second()),
                );
                let seen = match e.count {
                    Some(c) if c > 1 => format!("{seen} (x{c})"),
                    _ => seen,
                };
                vec![
                    seen,
                    e.type_.clone().unwrap_or_default(),
                    e.reason.clone().unwrap_or_default(),
                    e.message.clone().unwrap_or_default().trim_end().to_string(),
                ]
            })
            .collect();
        indent(
            &mut out,
            &table(&["LAST SEEN", "TYPE", "REASON", "MESSAGE"], &rows),
        );
    }
    out
}

fn indent(out: &mut String, text: &str) {
    for line in text.lines() {
        let _ = writeln!(out, "  {line}");
    }
}

/// The table of `selfconfig NAME`: the instance's requests, oldest first.
pub fn selfconfig_table(items: &[OpenClawSelfConfig], now: Timestamp) -> String {
    let mut items: Vec<&OpenClawSelfConfig> = items.iter().collect();
    items.sort_by_key(|r| r.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|r| {
            let st = r.status.as_ref();
            vec![
                r.metadata.name.clone().unwrap_or_default(),
                st.and_then(|s| s.phase.clone())
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| "Pending".to_string()),
                age(r.metadata.creation_timestamp.as_ref(), now),
                st.and_then(|s| s.message.clone()).unwrap_or_default(),
            ]
        })
        .collect();
    table(&["NAME", "PHASE", "AGE", "MESSAGE"], &rows)
}

/// The Control UI address of a local port-forward, with the gateway token in the URL fragment
/// (the Control UI reads `#token=`; a fragment never reaches a server or a proxy log).
pub fn control_ui_url(address: &str, port: u16, token: Option<&str>) -> String {
    let host = if address.contains(':') && !address.starts_with('[') {
        format!("[{address}]")
    } else {
        address.to_string()
    };
    match token {
        Some(t) => format!("http://{host}:{port}/#token={}", percent_encode(t)),
        None => format!("http://{host}:{port}/"),
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2026-12-07T12:00:00Z".parse().unwrap()
    }

    fn instance() -> OpenClawInstance {
        serde_json::from_value(json!({
            "apiVersion": "openclaw.rocks/v1alpha1",
            "kind": "OpenClawInstance",
            "metadata": {"name": "demo", "namespace": "agents", "creationTimestamp": "2026-12-04T08:00:00Z"},
            "spec": {"image": {"tag": "2026.9.6"}},
            "status": {
                "phase": "Running",
                "gatewayEndpoint": "demo.agents.svc:18789",
                "lastBackupTime": "2026-12-07T03:00:00Z",
                "lastBackupPath": "backups/agents/demo/on-demand-2026-12-07T030000Z",
                "lastBackupRequest": "2026-12-07T02:59:58Z",
                "conditions": [
                    {"type": "Ready", "status": "True", "reason": "PodReady", "message": "pod demo-0 is ready",
                     "lastTransitionTime": "2026-12-07T11:00:00Z"},
                    {"type": "BackupComplete", "status": "True", "reason": "BackupSucceeded",
                     "message": "Backup completed to backups/agents/demo/on-demand-2026-12-07T030000Z",
                     "lastTransitionTime": "2026-12-07T03:00:00Z"}
                ],
                "autoUpdate": {"currentVersion": "2026.9.6", "latestVersion": "2026.9.7", "updatePhase": "HealthCheck"}
            }
        }))
        .unwrap()
    }

    fn event(reason: &str, last: Option<&str>, event_time: Option<&str>, count: i32) -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": format!("demo.{reason}"), "namespace": "agents"},
            "involvedObject": {"kind": "OpenClawInstance", "name": "demo"},
            "reason": reason,
            "message": format!("{reason} happened"),
            "type": "Normal",
            "count": count,
            "lastTimestamp": last,
            "eventTime": event_time.map(|t| t.replace('Z', ".000000Z")),
        }))
        .unwrap()
    }

    #[test]
    fn ages_read_like_kubectl() {
        let cases = [
            (-5, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (192, "3m12s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (5 * 3600 + 60 * 7, "5h7m"),
            (47 * 3600, "47h"),
            (3 * 86400 + 4 * 3600, "3d4h"),
            (12 * 86400, "12d"),
            (800 * 86400, "2y"),
        ];
        for (s, want) in cases {
            assert_eq!(human_age(s), want, "{s}s");
        }
    }

    #[test]
    fn version_prefers_the_digest_and_defaults_to_latest() {
        let mut i = instance();
        assert_eq!(version(&i), "2026.9.6");
        assert_eq!(image(&i), "ghcr.io/openclaw/openclaw:2026.9.6");
        i.spec.image = None;
        assert_eq!(version(&i), "latest");
        i.spec.image = Some(openclaw_api::ImageSpec {
            repository: Some("r.example/oc".into()),
            digest: Some(format!("sha256:{}", "ab".repeat(32))),
            tag: Some("ignored".into()),
            ..Default::default()
        });
        assert_eq!(version(&i), "@sha256:abababababab");
        assert_eq!(
            image(&i),
            format!("r.example/oc@sha256:{}", "ab".repeat(32))
        );
    }

    #[test]
    fn endpoint_falls_back_to_the_service_name() {
        let mut i = instance();
        i.status = None;
        assert_eq!(endpoint(&i), "demo.agents.svc:18789");
        assert_eq!(ready(&i), "<none>");
    }

    #[test]
    fn table_of_instances() {
        let mut second = instance();
        second.metadata.name = Some("fresh".into());
        second.metadata.namespace = Some("team-b".into());
        second.metadata.creation_timestamp = Some(Time("2026-12-07T11:59:20Z".parse().unwrap()));
        second.status = None;
        let items = [instance(), second];
        insta::assert_snapshot!(instance_table(&items, false, now()), @r"
        NAME    PHASE     READY    VERSION    ENDPOINT                 LAST BACKUP   AGE
        demo    Running   True     2026.9.6   demo.agents.svc:18789    9h ago        3d4h
        fresh   Pending   <none>   2026.9.6   fresh.team-b.svc:18789   <none>        40s
        ");
        insta::assert_snapshot!(instance_table(&items, true, now()), @r"
        NAMESPACE   NAME    PHASE     READY    VERSION    ENDPOINT                 LAST BACKUP   AGE
        agents      demo    Running   True     2026.9.6   demo.agents.svc:18789    9h ago        3d4h
        team-b      fresh   Pending   <none>   2026.9.6   fresh.team-b.svc:18789   <none>        40s
        ");
    }

    #[test]
    fn events_newest_ten_oldest_first() {
        let mut events: Vec<Event> = (0..12)
            .map(|n| {
                let t = format!("2026-12-07T11:{:02}:00Z", 59 - n);
                event(&format!("R{n}"), Some(&t), None, 1)
            })
            .collect();
        // An events.k8s.io writer: eventTime only, the newest of all.
        events.push(event("New", None, Some("2026-12-07T11:59:30Z"), 1));
        let recent = recent_events(events, 10);
        let reasons: Vec<&str> = recent.iter().filter_map(|e| e.reason.as_deref()).collect();
        assert_eq!(
            reasons,
            ["R8", "R7", "R6", "R5", "R4", "R3", "R2", "R1", "R0", "New"]
        );
    }

    #[test]
    fn detail_view() {
        let events = vec![
            event("BackupStarted", Some("2026-12-07T02:59:59Z"), None, 1),
            event("BackupComplete", Some("2026-12-07T03:00:00Z"), None, 2),
        ];
        insta::assert_snapshot!(instance_detail(&instance(), "demo-gateway-token", &events, now()), @r"
        Name:           demo
        Namespace:      agents
        Phase:          Running
        Ready:          True
        Image:          ghcr.io/openclaw/openclaw:2026.9.6
        Age:            3d4h
        Gateway:        demo.agents.svc:18789 (Service demo, port 18789)
        Token:          Secret demo-gateway-token, key token (kubectl openclaw token demo)
        Last backup:    2026-12-07T03:00:00Z (9h ago), backups/agents/demo/on-demand-2026-12-07T030000Z
        Backup request: 2026-12-07T02:59:58Z
        Update:         phase HealthCheck, current 2026.9.6, latest 2026.9.7
        Conditions:
          TYPE             STATUS   REASON            AGE   MESSAGE
          Ready            True     PodReady          60m   pod demo-0 is ready
          BackupComplete   True     BackupSucceeded   9h    Backup completed to backups/agents/demo/on-demand-2026-12-07T030000Z
        Events:
          LAST SEEN   TYPE     REASON           MESSAGE
          9h          Normal   BackupStarted    BackupStarted happened
          9h (x2)     Normal   BackupComplete   BackupComplete happened
        ");
    }

    #[test]
    fn detail_view_of_a_new_instance() {
        let mut i = instance();
        i.status = None;
        let text = instance_detail(&i, "mine", &[], now());
        assert!(text.contains("Phase:          Pending\n"), "{text}");
        assert!(text.contains("Last backup:    <none>\n"), "{text}");
        assert!(
            text.contains("Conditions:\n  <none>\nEvents:\n  <none>\n"),
            "{text}"
        );
        assert!(!text.contains("Update:"), "{text}");
    }

    #[test]
    fn selfconfig_requests_oldest_first() {
        let r = |name: &str, created: &str, status: serde_json::Value| -> OpenClawSelfConfig {
            serde_json::from_value(json!({
                "metadata": {"name": name, "creationTimestamp": created},
                "spec": {"instanceRef": "demo"},
                "status": status,
            }))
            .unwrap()
        };
        let items = [
            r(
                "demo-sc-b",
                "2026-12-07T11:59:57Z",
                json!({"phase": "Denied", "message": "actions not allowed on instance demo: config"}),
            ),
            r(
                "demo-sc-a",
                "2026-12-07T11:59:48Z",
                json!({"phase": "Applied", "message": "applied: skills"}),
            ),
            r("demo-sc-c", "2026-12-07T11:59:59Z", json!({})),
        ];
        insta::assert_snapshot!(selfconfig_table(&items, now()), @r"
        NAME        PHASE     AGE   MESSAGE
        demo-sc-a   Applied   12s   applied: skills
        demo-sc-b   Denied    3s    actions not allowed on instance demo: config
        demo-sc-c   Pending   1s
        ");
    }

    #[test]
    fn control_ui_url_carries_the_token_in_the_fragment() {
        assert_eq!(
            control_ui_url("127.0.0.1", 18789, Some("0123abcd")),
            "http://127.0.0.1:18789/#token=0123abcd"
        );
        assert_eq!(
            control_ui_url("127.0.0.1", 40001, None),
            "http://127.0.0.1:40001/"
        );
        assert_eq!(control_ui_url("::1", 18789, None), "http://[::1]:18789/");
        assert_eq!(
            control_ui_url("localhost", 1, Some("a b/c#d&e=f~")),
            "http://localhost:1/#token=a%20b%2Fc%23d%26e%3Df~"
        );
    }
}
