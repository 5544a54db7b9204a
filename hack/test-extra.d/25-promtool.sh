#!/usr/bin/env bash
# promtool checks of the monitoring objects (docs/rendering.md "Monitoring objects"), run by
# hack/test.sh; needs no cluster:
#
#   1. `openclaw-operator render` of config/samples/openclawinstance-minimal.yaml with the
#      PrometheusRule and the dashboards on, under a dotted name (escaping) and with an
#      autoscaling-style claim; the rule's spec.groups must pass `promtool check rules`;
#   2. `promtool test rules`: the PVC alert fires for both `<name>-data` and `data-<name>-0`,
#      not for another instance's claims (the regex fix over the Go operator); the stale-backup
#      alert; the auto-update rollback alert (fires after a rollback, also the one that creates
#      the counter's series, resolves an hour later, stays silent without one);
#   3. every dashboard expression, with the Grafana variables replaced by literals, goes into a
#      recording-rule file that must pass `promtool check rules` (a PromQL syntax check).
#
# promtool comes from hack/promtool.sh (or PROMTOOL). When it cannot be had (no apt, no
# network), the script skips with a message, unless OPENCLAW_REQUIRE_PROMTOOL is set.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO_ROOT"
OPENCLAW_CACHE_DIR=${OPENCLAW_CACHE_DIR:-$HOME/.cache/openclaw-operator}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/openclaw-promtool.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

log() {
	printf '[25-promtool %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

die() {
	log "ERROR: $*"
	exit 1
}

PROMTOOL=${PROMTOOL:-}
if [[ -z $PROMTOOL ]]; then
	rc=0
	PROMTOOL=$(bash hack/promtool.sh) || rc=$?
	if ((rc != 0)); then
		if [[ -n ${OPENCLAW_REQUIRE_PROMTOOL:-} ]]; then
			die "promtool is not available (hack/promtool.sh exit $rc) and OPENCLAW_REQUIRE_PROMTOOL is set"
		fi
		log "SKIP: promtool is not available (hack/promtool.sh exit $rc); set OPENCLAW_REQUIRE_PROMTOOL=1 to fail instead"
		exit 0
	fi
fi
[[ -x $PROMTOOL ]] || die "promtool not found at $PROMTOOL"
log "promtool: $("$PROMTOOL" --version 2>&1 | head -n 1)"

if [[ -z ${CARGO_TARGET_DIR:-} ]]; then
	rustc_version=$(rustc --version | awk '{gsub(/[()]/, ""); print $2 "-" $3}')
	export CARGO_TARGET_DIR=$OPENCLAW_CACHE_DIR/cargo-target/$rustc_version
fi

# 1. Render: the minimal sample renamed, with the rule and the dashboards on.
python3 - config/samples/openclawinstance-minimal.yaml >"$WORK/instance.yaml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
doc["metadata"]["name"] = "agent.v2"
metrics = doc["spec"].setdefault("observability", {}).setdefault("metrics", {})
metrics["prometheusRule"] = {"enabled": True}
metrics["grafanaDashboard"] = {"enabled": True}
doc["spec"]["backup"] = {"schedule": "0 3 * * *"}
yaml.safe_dump(doc, sys.stdout)
PY
log "rendering $WORK/instance.yaml"
cargo run -q -p openclaw-operator -- render -f "$WORK/instance.yaml" >"$WORK/rendered.yaml"

python3 - "$WORK" <<'PY'
import json, re, sys, yaml
work = sys.argv[1]
docs = [d for d in yaml.safe_load_all(open(f"{work}/rendered.yaml")) if d]
rules = [d for d in docs if d.get("kind") == "PrometheusRule"]
if len(rules) != 1:
    sys.exit(f"expected one PrometheusRule, got {len(rules)}")
yaml.safe_dump({"groups": rules[0]["spec"]["groups"]}, open(f"{work}/rules.yaml", "w"))

# Dashboard expressions as recording rules, variables replaced by literals.
subst = [("$__rate_interval", "5m"), ("${datasource}", "prometheus"),
         ("$namespace", "default"), ("$instance", "demo"), ("$job", "openclaw-operator")]
exprs = []
def walk(v):
    if isinstance(v, dict):
        for k, x in v.items():
            if k == "expr" and isinstance(x, str):
                exprs.append(x)
            else:
                walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
boards = 0
for d in docs:
    if d.get("kind") == "ConfigMap" and d["metadata"]["name"].endswith(("-dashboard-operator", "-dashboard-instance")):
        for text in d["data"].values():
            walk(json.loads(text))
            boards += 1
if boards != 2:
    sys.exit(f"expected two dashboards, got {boards}")
records = []
for i, e in enumerate(exprs):
    for a, b in subst:
        e = e.replace(a, b)
    records.append({"record": f"dashboard:expr_{i}", "expr": e})
yaml.safe_dump({"groups": [{"name": "dashboards", "rules": records}]}, open(f"{work}/dashboards.yaml", "w"))
print(f"{len(rules[0]['spec']['groups'][0]['rules'])} alerts, {len(exprs)} dashboard expressions", file=sys.stderr)
PY

log "promtool check rules (the PrometheusRule)"
"$PROMTOOL" check rules "$WORK/rules.yaml" >&2

# 2. The PVC alert: both claim layouts of this instance fire, another instance's do not.
cat >"$WORK/pvc-test.yaml" <<'EOF2'
rule_files:
  - rules.yaml
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'kubelet_volume_stats_used_bytes{namespace="default",persistentvolumeclaim="agent.v2-data"}'
        values: '90x10'
      - series: 'kubelet_volume_stats_capacity_bytes{namespace="default",persistentvolumeclaim="agent.v2-data"}'
        values: '100x10'
      - series: 'kubelet_volume_stats_used_bytes{namespace="default",persistentvolumeclaim="data-agent.v2-0"}'
        values: '85x10'
      - series: 'kubelet_volume_stats_capacity_bytes{namespace="default",persistentvolumeclaim="data-agent.v2-0"}'
        values: '100x10'
      - series: 'kubelet_volume_stats_used_bytes{namespace="default",persistentvolumeclaim="agentxv2-data"}'
        values: '95x10'
      - series: 'kubelet_volume_stats_capacity_bytes{namespace="default",persistentvolumeclaim="agentxv2-data"}'
        values: '100x10'
      - series: 'kubelet_volume_stats_used_bytes{namespace="default",persistentvolumeclaim="data-agent.v2-extra-0"}'
        values: '95x10'
      - series: 'kubelet_volume_stats_capacity_bytes{namespace="default",persistentvolumeclaim="data-agent.v2-extra-0"}'
        values: '100x10'
    alert_rule_test:
      - eval_time: 8m
        alertname: OpenClawPVCNearlyFull
        exp_alerts:
          - exp_labels:
              severity: warning
              namespace: default
              persistentvolumeclaim: agent.v2-data
            exp_annotations:
              summary: "Volume default/agent.v2-data of an OpenClaw instance is over 80% full."
              description: "The data volume is 90% full. Expand the PersistentVolumeClaim (the operator creates it once and never resizes it) or free space."
              runbook_url: "https://github.com/openclaw-rs/openclaw-operator/blob/main/docs/runbooks/OpenClawPVCNearlyFull.md"
          - exp_labels:
              severity: warning
              namespace: default
              persistentvolumeclaim: data-agent.v2-0
            exp_annotations:
              summary: "Volume default/data-agent.v2-0 of an OpenClaw instance is over 80% full."
              description: "The data volume is 85% full. Expand the PersistentVolumeClaim (the operator creates it once and never resizes it) or free space."
              runbook_url: "https://github.com/openclaw-rs/openclaw-operator/blob/main/docs/runbooks/OpenClawPVCNearlyFull.md"
EOF2
log "promtool test rules (the PVC alert)"
(cd "$WORK" && "$PROMTOOL" test rules pvc-test.yaml >&2)

# 2b. The stale-backup alert (daily schedule: fires past two days without a backup), only for
#     this instance.
cat >"$WORK/backup-test.yaml" <<'EOF2'
rule_files:
  - rules.yaml
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'openclaw_backup_last_success_timestamp_seconds{namespace="default",instance="agent.v2"}'
        values: '-172000x20'
      - series: 'openclaw_backup_last_success_timestamp_seconds{namespace="default",instance="other"}'
        values: '-900000x20'
    alert_rule_test:
      - eval_time: 2m
        alertname: OpenClawScheduledBackupStale
        exp_alerts: []
      - eval_time: 20m
        alertname: OpenClawScheduledBackupStale
        exp_alerts:
          - exp_labels:
              severity: warning
              namespace: default
              instance: agent.v2
            exp_annotations:
              summary: "The last backup of OpenClaw instance default/agent.v2 is older than twice its schedule."
              description: "Periodic backups of the instance have not succeeded for two scheduled runs: the <name>-backup-periodic CronJob's Jobs fail or do not start. Their pods' logs and the instance's ScheduledBackupReady condition say why."
              runbook_url: "https://github.com/openclaw-rs/openclaw-operator/blob/main/docs/runbooks/OpenClawScheduledBackupStale.md"
EOF2
log "promtool test rules (the stale-backup alert)"
(cd "$WORK" && "$PROMTOOL" test rules backup-test.yaml >&2)

# 2c. The auto-update rollback alert, for this instance only:
#     - a counter that exists at 0 and grows (Go's `increase(...[1h]) > 0`): fires, and
#       resolves an hour later;
#     - a counter whose series is created by the rollback (series are created on first use):
#       fires as well (`increase` alone needs two samples), and resolves an hour later;
#     - no rollback (the counter stays at 0): silent;
#     - Prometheus starting to scrape an operator whose counter is already non-zero (lost data,
#       new ServiceMonitor): silent, both series start together.
cat >"$WORK/rollback-test.yaml" <<'EOF2'
rule_files:
  - rules.yaml
evaluation_interval: 1m
tests:
  - name: counter grows
    interval: 1m
    input_series:
      - series: 'openclaw_instance_ready{namespace="default",instance="agent.v2",pod="operator-a"}'
        values: '1x180'
      - series: 'openclaw_autoupdate_rollbacks_total{namespace="default",instance="agent.v2",pod="operator-a"}'
        values: '0x29 1x150'
      - series: 'openclaw_instance_ready{namespace="default",instance="other",pod="operator-a"}'
        values: '1x180'
      - series: 'openclaw_autoupdate_rollbacks_total{namespace="default",instance="other",pod="operator-a"}'
        values: '0x9 1x10 2x160'
    alert_rule_test:
      - eval_time: 20m
        alertname: OpenClawAutoUpdateRollback
        exp_alerts: []
      - eval_time: 35m
        alertname: OpenClawAutoUpdateRollback
        exp_alerts:
          - exp_labels:
              severity: warning
              namespace: default
              instance: agent.v2
            exp_annotations:
              summary: "OpenClaw instance default/agent.v2 rolled back an auto-update in the last hour."
              description: "An automatic update did not pass its health check and the instance was returned to its previous version. status.autoUpdate.failedVersion is not retried; after 3 rollbacks in a row auto-update pauses until spec.image.tag is changed by hand."
              runbook_url: "https://github.com/openclaw-rs/openclaw-operator/blob/main/docs/runbooks/OpenClawAutoUpdateRollback.md"
      - eval_time: 85m
        alertname: OpenClawAutoUpdateRollback
        exp_alerts:
          - exp_labels:
              severity: warning
              namespace: default
              instance: agent.v2
            exp_annotations:
              summary: "OpenClaw instance default/agent.v2 rolled back an auto-update in the last hour."
              description: "An automatic update did not pass its health check and the instance was returned to its previous version. status.autoUpdate.failedVersion is not retried; after 3 rollbacks in a row auto-update pauses until spec.image.tag is changed by hand."
              runbook_url: "https://github.com/openclaw-rs/openclaw-operator/blob/main/docs/runbooks/OpenClawAutoUpdateRollback.md"
      - eval_time: 100m
        alertname: OpenClawAutoUpdateRollback
        exp_alerts: []
  - name: series created by the rollback
    interval: 1m
    input_series:
      - series: 'openclaw_instance_ready{namespace="default",instance="agent.v2",pod="operator-a"}'
        values: '1x180'
      - series: 'openclaw_autoupdate_rollbacks_total{namespace="default",instance="agent.v2",pod="operator-a"}'
        values: '_x39 1x140'
    alert_rule_test:
      - eval_time: 30m
        alertname: OpenClawAutoUpdateRollback
        exp_alerts: []
      - eval_time: 41m
        alertname: OpenClawAutoUpdateRollback
        exp_alerts:
          - exp_labels:
              severity: warning
              namespace: default
              instance: agent.v2
            exp_annotations:
              summary: "OpenClaw instance default/agent.v2 rolled back an auto-update in the last hour."
              description: "An automatic update did not pass its health check and the instance was returned to its previous version. status.autoUpdate.failedVersion is not retried; after 3 rollbacks in a row auto-update pauses until spec.image.tag is changed by hand."
              runbook_url: "https://github.com/openclaw-rs/openclaw-operator/blob/main/docs/runbooks/OpenClawAutoUpdateRollback.md"
      - eval_time: 95m
        alertname: OpenClawAutoUpdateRollback
        exp_alerts:
          - exp_labels:
              severity: warning
              namespace: default
              instance: agent.v2
            exp_annotations:
              summary: "OpenClaw instance default/agent.v2 rolled back an auto-update in the last hour."
              description: "An automatic update did not pass its health check and the instance was returned to its previous version. status.autoUpdate.failedVersion is not retried; after 3 rollbacks in a row auto-update pauses until spec.image.tag is changed by hand."
              runbook_url: "https://github.com/openclaw-rs/openclaw-operator/blob/main/docs/runbooks/OpenClawAutoUpdateRollback.md"
      - eval_time: 110m
        alertname: OpenClawAutoUpdateRollback
        exp_alerts: []
  - name: no rollback, or an old one Prometheus has just started to see
    interval: 1m
    input_series:
      - series: 'openclaw_instance_ready{namespace="default",instance="agent.v2",pod="operator-a"}'
        values: '1x180'
      - series: 'openclaw_autoupdate_rollbacks_total{namespace="default",instance="agent.v2",pod="operator-a"}'
        values: '0x180'
      - series: 'openclaw_instance_ready{namespace="default",instance="agent.v2",pod="operator-b"}'
        values: '_x9 1x170'
      - series: 'openclaw_autoupdate_rollbacks_total{namespace="default",instance="agent.v2",pod="operator-b"}'
        values: '_x9 2x170'
    alert_rule_test:
      - eval_time: 5m
        alertname: OpenClawAutoUpdateRollback
        exp_alerts: []
      - eval_time: 11m
        alertname: OpenClawAutoUpdateRollback
        exp_alerts: []
      - eval_time: 40m
        alertname: OpenClawAutoUpdateRollback
        exp_alerts: []
      - eval_time: 120m
        alertname: OpenClawAutoUpdateRollback
        exp_alerts: []
EOF2
log "promtool test rules (the auto-update rollback alert)"
(cd "$WORK" && "$PROMTOOL" test rules rollback-test.yaml >&2)

# 3. Every dashboard expression parses.
log "promtool check rules (the dashboard expressions)"
"$PROMTOOL" check rules "$WORK/dashboards.yaml" >&2
log "all promtool checks passed"
