#!/usr/bin/env bash
# Packaging checks (docs/install.md), run by hack/test.sh with the local cluster up:
#
#   1. helm lint and helm template of charts/openclaw-operator for the default values and the
#      main combinations, with assertions on what each renders; the Go chart's values file
#      (lint --strict; a typo in any key must fail) and the values examples of docs/install.md;
#      `kubectl kustomize` of config/default (alone and with the webhook and prometheus
#      components);
#   2. the rendered chart (webhook and ServiceMonitor off: the cluster has neither cert-manager
#      nor the Prometheus Operator) is applied with `kubectl apply --server-side`, in a
#      namespace enforcing the `restricted` Pod Security profile; so is the chart rendered with
#      the Go chart's values file (hack/helm/go-chart-values.yaml) unchanged;
#   3. the operator binary runs locally with exactly the chart Deployment's arguments (leader
#      election on, secure metrics) and the chart ServiceAccount's identity, reconciles
#      config/samples/openclawinstance-minimal.yaml to Running, serves /metrics to a token bound
#      to the metrics-reader role only; then the API server's audit log must show no 403 for
#      that ServiceAccount. Once with all namespaces watched, once with watchNamespaces.
#
# The ServiceAccount identity: `kubectl proxy --as=system:serviceaccount:NS:SA` with the
# cluster's audited `openclaw-operator` user (the audit policy records only that user, and the
# audit filter runs before impersonation, so each request is logged with
# impersonatedUser = the ServiceAccount and authorized as the ServiceAccount alone).
#
# Everything it creates is deleted at the end (namespaces, cluster-scoped RBAC); the CRDs are
# applied (identical to config/crd) and left in place. The cluster stays up.
#
# Environment: HELM (a helm binary; default: hack/helm/build.sh builds or reuses one),
# OPENCLAW_PKG_E2E=0 skips steps 2-3, OPENCLAW_KEEP_PKG_E2E=1 keeps the namespaces for
# debugging, PKG_E2E_TIMEOUT (seconds to reach Running, default 240), PKG_E2E_MODES (default
# "cluster namespaced").
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO_ROOT"
CLUSTER=hack/control-plane/cluster.sh
CHART=charts/openclaw-operator
OPENCLAW_CACHE_DIR=${OPENCLAW_CACHE_DIR:-$HOME/.cache/openclaw-operator}
CLUSTER_DIR=${OPENCLAW_CLUSTER_DIR:-$OPENCLAW_CACHE_DIR/cluster}
AUDIT_LOG=$CLUSTER_DIR/logs/audit.log
TIMEOUT=${PKG_E2E_TIMEOUT:-240}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/openclaw-helm.XXXXXX")
OPERATOR_PID=""
PROXY_PID=""
CREATED_NAMESPACES=()
RELEASES=()
FAILURES=0

log() {
	printf '[30-helm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

fail() {
	log "FAIL: $*"
	FAILURES=$((FAILURES + 1))
}

die() {
	log "ERROR: $*"
	exit 1
}

stop_pid() {
	local pid=$1 i
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 300; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	set +e
	stop_pid "$OPERATOR_PID"
	stop_pid "$PROXY_PID"
	if [[ ${OPENCLAW_KEEP_PKG_E2E:-0} == 1 ]]; then
		log "keeping namespaces ${CREATED_NAMESPACES[*]:-} and $WORK (OPENCLAW_KEEP_PKG_E2E=1)"
	else
		delete_created
		rm -rf "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT

# Instances keep the finalizer openclaw.rocks/finalizer until an operator releases it; the
# operator of this test may be gone already, so release it before deleting a namespace.
release_instances() {
	kubectl get openclawinstances.openclaw.rocks -n "$1" -o name 2>/dev/null |
		xargs -r -I{} kubectl patch -n "$1" {} --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null 2>&1 || true
}

delete_created() {
	local r ns
	for r in "${RELEASES[@]}"; do
		kubectl delete clusterrole,clusterrolebinding,validatingwebhookconfiguration,mutatingwebhookconfiguration \
			-l "app.kubernetes.io/instance=$r" \
			--ignore-not-found --wait=false >/dev/null 2>&1
	done
	for ns in "${CREATED_NAMESPACES[@]}"; do
		release_instances "$ns"
		kubectl delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1
	done
	RELEASES=()
	CREATED_NAMESPACES=()
}

# ------------------------------------------------------------ 1. lint/template --

HELM=${HELM:-$(bash hack/helm/build.sh)}
[[ -x $HELM ]] || die "helm not found at $HELM"
eval "$(bash "$CLUSTER" env)"
export KUBECONFIG
command -v kubectl >/dev/null 2>&1 || die "kubectl not found (cluster.sh env)"
log "helm: $("$HELM" version --template '{{.Version}}'), kubectl: $(kubectl version --client 2>/dev/null | head -n 1)"

# render NAME ARGS...: helm lint and helm template with the given --set flags into $WORK/NAME.yaml.
render() {
	local name=$1
	shift
	if ! "$HELM" lint --quiet --strict "$CHART" --namespace openclaw-system "$@" >"$WORK/$name.lint" 2>&1; then
		cat "$WORK/$name.lint" >&2
		fail "helm lint ($name)"
	fi
	if ! "$HELM" template oc "$CHART" --namespace openclaw-system "$@" >"$WORK/$name.yaml" 2>"$WORK/$name.err"; then
		cat "$WORK/$name.err" >&2
		fail "helm template ($name)"
		return 0
	fi
	log "rendered $name: $(grep -c '^kind:' "$WORK/$name.yaml") objects"
}

# has NAME REGEX / lacks NAME REGEX: the rendered output (does not) match(es) an extended regex.
has() {
	grep -Eq -- "$2" "$WORK/$1.yaml" || fail "$1: expected to render /$2/"
}
lacks() {
	if grep -Eq -- "$2" "$WORK/$1.yaml"; then
		fail "$1: did not expect /$2/"
	fi
}

# objects NAME: "Kind/name/namespace" of every rendered object, one per line.
objects() {
	awk '
		function out() { if (kind != "") print kind "/" name "/" ns; kind = ""; name = ""; ns = ""; meta = 0 }
		/^---/ { out(); next }
		/^kind: / { kind = $2 }
		/^metadata:/ { meta = 1; next }
		/^[^ ]/ { meta = 0 }
		meta && /^  name: / && name == "" { name = $2 }
		meta && /^  namespace: / && ns == "" { ns = $2 }
		END { out() }
	' "$WORK/$1.yaml"
}
has_obj() {
	objects "$1" | grep -qx -- "$2" || fail "$1: expected object $2"
}
lacks_obj() {
	if objects "$1" | grep -qx -- "$2"; then
		fail "$1: did not expect object $2"
	fi
}

render default
has default '^kind: Deployment$'
has default '^kind: CustomResourceDefinition$'
has default 'helm.sh/resource-policy: keep'
has default '- --metrics-secure=true$'
has default '- --metrics-bind-address=:8443$'
has default '- --leader-elect=true$'
has default '- --leader-election-id=openclaw-operator.openclaw.rocks$'
has default '- --log-level=info$'
has_obj default 'ClusterRole/oc-openclaw-operator-manager-role/'
has_obj default 'ClusterRoleBinding/oc-openclaw-operator-manager-rolebinding/'
has_obj default 'ClusterRole/oc-openclaw-operator-metrics-auth-role/'
has_obj default 'ClusterRole/oc-openclaw-operator-metrics-reader/'
has_obj default 'Role/oc-openclaw-operator-leader-election-role/openclaw-system'
has_obj default 'Deployment/oc-openclaw-operator/openclaw-system'
has_obj default 'Service/oc-openclaw-operator-metrics/openclaw-system'
has_obj default 'CustomResourceDefinition/openclawinstances.openclaw.rocks/'
has default '- tokenreviews$'
has default '- subjectaccessreviews$'
has default '^kind: NetworkPolicy$'
has default 'rbac.authorization.k8s.io/aggregate-to-edit: "true"'
has default 'control-plane: controller-manager'
lacks default 'escalate'
lacks default 'watch-namespaces'
lacks default '--webhook'
lacks_obj default 'Service/oc-openclaw-operator-webhook/openclaw-system'
lacks default '^kind: ServiceMonitor$'

render watch --set 'watchNamespaces={team-a,team-b}'
has watch '- --watch-namespaces=team-a,team-b$'
has watch 'name: oc-openclaw-operator-manager-role-cluster$'
has_obj watch 'Role/oc-openclaw-operator-manager-role/team-a'
has_obj watch 'RoleBinding/oc-openclaw-operator-manager-rolebinding/team-b'
has_obj watch 'Role/oc-openclaw-operator-leader-election-role/openclaw-system'
has_obj watch 'Role/oc-openclaw-operator-backup-credentials-role/openclaw-system'
has_obj watch 'ClusterRoleBinding/oc-openclaw-operator-manager-rolebinding-cluster/'
lacks_obj watch 'ClusterRole/oc-openclaw-operator-manager-role/'
# The same, given as a string (the Go chart's README used --set watchNamespaces="a,b").
render watch-string --set 'watchNamespaces=team-a\,team-b'
has watch-string '- --watch-namespaces=team-a,team-b$'
if [[ -f $WORK/watch.yaml ]]; then
	# Manager Roles in exactly the two namespaces, a ClusterRole holding only ClusterDefaults.
	n=$(grep -c '^kind: Role$' "$WORK/watch.yaml")
	((n == 4)) || fail "watch: expected 4 Roles (team-a, team-b, leader election, backup credentials), got $n"
	if awk '/name: oc-openclaw-operator-manager-role-cluster$/{f=1} f&&/^---/{exit} f' "$WORK/watch.yaml" |
		grep -Eq -- '- (secrets|statefulsets)$'; then
		fail "watch: the cluster-scoped ClusterRole holds namespaced rules"
	fi
fi

render cert-manager --set webhook.enabled=true
has cert-manager '^kind: ValidatingWebhookConfiguration$'
has cert-manager '^kind: MutatingWebhookConfiguration$'
has cert-manager '^kind: Certificate$'
has cert-manager '^kind: Issuer$'
has cert-manager 'cert-manager.io/inject-ca-from: openclaw-system/oc-openclaw-operator-webhook$'
has cert-manager '- --webhook-bind-address=:9443$'
has cert-manager '- --webhook-cert-dir=/tmp/k8s-webhook-server/serving-certs$'
has cert-manager 'path: /validate-openclaw-rocks-v1alpha1-openclawinstance$'
has cert-manager 'path: /mutate-openclaw-rocks-v1alpha1-openclawinstance$'
has cert-manager 'path: /validate-openclaw-rocks-v1alpha1-openclawselfconfig$'
has cert-manager 'failurePolicy: Ignore$'
lacks cert-manager 'webhook-self-signed-secret'
lacks cert-manager 'webhook-configuration-role'

render cert-manager-issuer --set webhook.enabled=true --set webhook.certManager.issuerRef.name=corp-ca \
	--set webhook.certManager.issuerRef.kind=ClusterIssuer --set webhook.failurePolicy=Fail \
	--set 'watchNamespaces={team-a}'
has cert-manager-issuer 'kind: ClusterIssuer$'
has cert-manager-issuer 'failurePolicy: Fail$'
has cert-manager-issuer 'key: kubernetes.io/metadata.name$'
lacks cert-manager-issuer '^kind: Issuer$'

render self-signed --set webhook.enabled=true --set webhook.certManager.enabled=false
has self-signed '- --webhook-self-signed-secret=oc-openclaw-operator-webhook-cert$'
has self-signed '- --webhook-configuration=oc-openclaw-operator$'
has self-signed '- --webhook-cert-host=oc-openclaw-operator-webhook.openclaw-system.svc$'
has self-signed 'name: oc-openclaw-operator-webhook-cert-role$'
has self-signed 'name: oc-openclaw-operator-webhook-configuration-role$'
has self-signed '- "oc-openclaw-operator-webhook-cert"$'
has self-signed '- validatingwebhookconfigurations$'
lacks self-signed '^kind: Certificate$'
lacks self-signed 'cert-manager.io'
lacks self-signed 'webhook-cert-dir'

render monitoring --set metrics.serviceMonitor.enabled=true --set metrics.serviceMonitor.interval=30s \
	--set 'metrics.reader.subjects[0].kind=ServiceAccount' \
	--set 'metrics.reader.subjects[0].name=prometheus-k8s' \
	--set 'metrics.reader.subjects[0].namespace=monitoring'
has monitoring '^kind: ServiceMonitor$'
has monitoring 'scheme: https$'
has monitoring 'interval: 30s$'
has monitoring 'name: oc-openclaw-operator-metrics-reader-rolebinding$'
has monitoring 'name: prometheus-k8s$'

render insecure-metrics --set metrics.secure=false --set metrics.bindAddress=:8080 --set metrics.service.port=8080
has insecure-metrics '- --metrics-secure=false$'
has insecure-metrics 'containerPort: 8080$'
lacks insecure-metrics 'tokenreviews'

render no-metrics --set metrics.enabled=false --set leaderElection.enabled=false
has no-metrics '- --metrics-bind-address=0$'
has no-metrics '- --leader-elect=false$'
lacks no-metrics 'leader-election-role'
lacks no-metrics 'metrics-secure'

render no-rbac --set rbac.create=false
lacks no-rbac '^kind: (Cluster)?Role(Binding)?$'
has no-rbac '^kind: ServiceAccount$'

render no-crds --set crds.install=false
lacks no-crds '^kind: CustomResourceDefinition$'

render crds-not-kept --set crds.keep=false
has crds-not-kept '^kind: CustomResourceDefinition$'
lacks crds-not-kept 'helm.sh/resource-policy'

render escalation --set rbac.allowEscalation=true --set 'watchNamespaces={team-a}'
has escalation '- escalate$'
has escalation '- bind$'

render everything --set webhook.enabled=true --set metrics.serviceMonitor.enabled=true \
	--set otlp.enabled=true --set otlp.endpoint=collector:4318 --set otlp.protocol=http/protobuf --set replicaCount=2 \
	--set podDisruptionBudget.enabled=true --set 'extraArgs={--log-level=debug}' \
	--set image.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
has everything '- --otlp-endpoint=collector:4318$'
has everything '- --otlp-protocol=http/protobuf$'
has everything '^kind: PodDisruptionBudget$'
has everything 'image: ghcr.io/openclaw-rs/openclaw-operator@sha256:'

# The Go chart's integer log level (zap: 1 = debug) is accepted and passed on; the binary maps it.
render zaplevel --set logLevel=1
has zaplevel '- --log-level=1$'

# A values file written for the Go chart (every key it has) passes the schema unchanged
# (lint --strict, template); step 2 applies this render to the cluster.
GO_VALUES=hack/helm/go-chart-values.yaml
render govalues -f "$GO_VALUES"
has govalues '- --log-level=info$'
# What the cluster lacks (cert-manager, the Prometheus Operator) is off in the Go values, as in
# the Go chart's defaults, so step 2 can apply the whole render.
lacks govalues '^kind: (Certificate|Issuer|ServiceMonitor)$'
# ... and a typo in any of its keys, top-level or nested, fails lint --strict and template.
for typo in 's/^replicaCount:/replicaCont:/' 's/^  serviceMonitor:/  servicMonitor:/' \
	's/^    issuerRef:/    issuerRefs:/' 's/^  resourceName:/  resourcename:/'; do
	sed "$typo" "$GO_VALUES" >"$WORK/go-values-typo.yaml"
	if cmp -s "$GO_VALUES" "$WORK/go-values-typo.yaml"; then
		fail "go values typo '$typo' changed nothing (the file changed?)"
		continue
	fi
	if "$HELM" lint --quiet --strict "$CHART" -f "$WORK/go-values-typo.yaml" >/dev/null 2>&1; then
		fail "helm lint --strict passed the Go values with a typo ($typo)"
	fi
	if "$HELM" template oc "$CHART" -f "$WORK/go-values-typo.yaml" >/dev/null 2>&1; then
		fail "helm template rendered the Go values with a typo ($typo)"
	fi
done

# The Helm values examples of the install guide and the chart's README (their ```yaml blocks),
# unchanged.
n=0
for doc in docs/install.md "$CHART/README.md"; do
	awk -v out="$WORK/doc-values" '
		/^```ya?ml[[:space:]]*$/ { inblock = 1; n++; file = out "-" n ".yaml"; printf "" > file; next }
		inblock && /^```/ { inblock = 0; close(file); next }
		inblock { print > file }
	' "$doc"
	for f in "$WORK"/doc-values-*.yaml; do
		[[ -e $f ]] || continue
		n=$((n + 1))
		mv "$f" "$WORK/docvalues-$n.yaml"
		render "docvalues-$n" -f "$WORK/docvalues-$n.yaml"
		log "  (a values example of $doc)"
	done
done
((n > 0)) || fail "no Helm values example found in docs/install.md"

# Invalid values must fail the render.
for typo in replicaCont=2 metrics.servicMonitor.enabled=true webhook.enable=true crds.instal=false; do
	if "$HELM" template oc "$CHART" --set "$typo" >/dev/null 2>&1; then
		fail "a misspelled key rendered: --set $typo"
	fi
done
if "$HELM" template oc "$CHART" --set otlp.enabled=true >/dev/null 2>&1; then
	fail "otlp.enabled without otlp.endpoint rendered"
fi
if "$HELM" template oc "$CHART" --set webhook.enabled=true --set webhook.failurePolicy=Sometimes >/dev/null 2>&1; then
	fail "webhook.failurePolicy=Sometimes rendered"
fi

# kustomize: config/default alone, and with the optional components.
if kubectl kustomize config/default >"$WORK/kustomize.yaml" 2>"$WORK/kustomize.err"; then
	log "kustomize config/default: $(grep -c '^kind:' "$WORK/kustomize.yaml") objects"
	grep -q -- '- --leader-elect=true$' "$WORK/kustomize.yaml" || fail "kustomize: no --leader-elect"
	grep -q "^kind: CustomResourceDefinition" "$WORK/kustomize.yaml" || fail "kustomize: no CRDs"
else
	cat "$WORK/kustomize.err" >&2
	fail "kubectl kustomize config/default"
fi
mkdir -p "$WORK/kustomize-all"
# (kustomize wants relative paths)
config_rel=$(realpath --relative-to="$WORK/kustomize-all" "$REPO_ROOT/config")
cat >"$WORK/kustomize-all/kustomization.yaml" <<EOF
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $config_rel/default
components:
  - $config_rel/webhook
  - $config_rel/prometheus
EOF
if kubectl kustomize "$WORK/kustomize-all" >"$WORK/kustomize-all.yaml" 2>"$WORK/kustomize-all.err"; then
	for k in ValidatingWebhookConfiguration MutatingWebhookConfiguration ServiceMonitor; do
		grep -q "^kind: $k\$" "$WORK/kustomize-all.yaml" || fail "kustomize with components: no $k"
	done
	grep -q -- '- --webhook-self-signed-secret=' "$WORK/kustomize-all.yaml" ||
		fail "kustomize with components: the webhook args are not patched in"
else
	cat "$WORK/kustomize-all.err" >&2
	fail "kubectl kustomize config/default + components"
fi

if ((FAILURES > 0)); then
	die "$FAILURES static check(s) failed"
fi
log "static checks passed"

if [[ ${OPENCLAW_PKG_E2E:-1} == 0 ]]; then
	log "OPENCLAW_PKG_E2E=0: skipping the install and RBAC checks"
	exit 0
fi

# ------------------------------------------------- 2-3. install and RBAC check --

bash "$CLUSTER" status >/dev/null 2>&1 || die "the local cluster is not up (hack/control-plane/cluster.sh up)"
[[ -f $CLUSTER_DIR/operator.kubeconfig ]] || die "no $CLUSTER_DIR/operator.kubeconfig"
[[ -f $AUDIT_LOG ]] || die "no audit log at $AUDIT_LOG"
# apply_go_values: the chart rendered with the Go chart's values file, unchanged, applied with
# `kubectl apply --server-side` into a fresh namespace enforcing the `restricted` Pod Security
# profile; the Deployment must become available (kwok runs the pod). The Go values keep the
# webhook (cert-manager) and the ServiceMonitor off, so nothing needs a CRD the cluster lacks
# (the static checks fail first should that change). Deleted again afterwards.
apply_go_values() {
	local release=pkg-go-values ns=openclaw-pkg-go-values-system
	log "==== the Go chart's values ($GO_VALUES): release $release in $ns"
	RELEASES+=("$release")
	release_instances "$ns"
	kubectl delete namespace "$ns" --ignore-not-found --wait=true --timeout=120s >/dev/null
	kubectl create namespace "$ns" >/dev/null
	CREATED_NAMESPACES+=("$ns")
	kubectl label namespace "$ns" pod-security.kubernetes.io/enforce=restricted >/dev/null
	"$HELM" template "$release" "$CHART" --namespace "$ns" -f "$GO_VALUES" >"$WORK/$release.yaml"
	log "applying the rendered chart ($(grep -c '^kind:' "$WORK/$release.yaml") objects) with kubectl apply --server-side"
	# --force-conflicts: the CRDs exist already (same content, other field managers).
	if ! kubectl apply --server-side --force-conflicts --field-manager=pkg-e2e -f "$WORK/$release.yaml" >"$WORK/$release.apply" 2>&1; then
		cat "$WORK/$release.apply" >&2
		fail "go values: kubectl apply of the chart rendered with $GO_VALUES"
	elif ! kubectl -n "$ns" rollout status "deployment/$release-openclaw-operator" --timeout=120s >/dev/null; then
		kubectl -n "$ns" get deployment,replicaset,pods -o wide >&2 || true
		kubectl -n "$ns" get events >&2 || true
		fail "go values: the operator Deployment did not become available (restricted Pod Security?)"
	else
		log "go values: $(grep -c '^kind:' "$WORK/$release.yaml") objects applied, the operator Deployment is available"
	fi
	if [[ ${OPENCLAW_KEEP_PKG_E2E:-0} != 1 ]]; then
		delete_created
	fi
}
apply_go_values

if [[ -z ${CARGO_TARGET_DIR:-} ]]; then
	rustc_version=$(rustc --version | awk '{gsub(/[()]/, ""); print $2 "-" $3}')
	export CARGO_TARGET_DIR=$OPENCLAW_CACHE_DIR/cargo-target/$rustc_version
fi
log "building the operator"
cargo build --quiet -p openclaw-operator
BIN=$CARGO_TARGET_DIR/debug/openclaw-operator

# free_ports N: N distinct free loopback ports, space-separated.
free_ports() {
	python3 -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
' "$1"
}

# wait_for SECONDS WHAT CMD...: polls CMD every second.
wait_for() {
	local timeout=$1 what=$2
	shift 2
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			log "timed out after ${timeout}s waiting for $what"
			return 1
		fi
		sleep 1
	done
}

http_code() {
	curl -ks -o /dev/null -w '%{http_code}' --max-time 10 "$@" || true
}

# The requests of one ServiceAccount in the audit log after byte OFFSET, by verb and resource,
# and the denied (403) ones. Exit 2: some were denied; 3: none found; 4: no status write.
audit_report() {
	local offset=$1 user=$2
	tail -c +"$((offset + 1))" "$AUDIT_LOG" | python3 -c '
import json, sys, collections
user = sys.argv[1]
total, denied, seen = 0, [], collections.Counter()
for line in sys.stdin:
    try:
        e = json.loads(line)
    except ValueError:
        continue
    if (e.get("impersonatedUser") or {}).get("username") != user:
        continue
    total += 1
    ref = e.get("objectRef") or {}
    what = "/".join(x for x in (ref.get("apiGroup") or "core", ref.get("resource", e.get("requestURI", "")), ref.get("subresource", "")) if x)
    seen[(e.get("verb"), what)] += 1
    if (e.get("responseStatus") or {}).get("code") == 403:
        denied.append("%s %s" % (e.get("verb"), e.get("requestURI")))
print("requests by %s: %d" % (user, total))
for (verb, what), n in sorted(seen.items()):
    print("  %5d  %-8s %s" % (n, verb, what))
if denied:
    print("DENIED (403): %d" % len(denied))
    for d in sorted(set(denied)):
        print("  " + d)
reconciled = seen[("patch", "openclaw.rocks/openclawinstances/status")] > 0
sys.exit(2 if denied else (3 if total == 0 else (4 if not reconciled else 0)))
' "$user"
}

# Every flag the chart can pass must exist (the operator process is being built alongside).
# Those of the install below are needed right away; the others fail the run at the end.
RUN_HELP=$("$BIN" run --help 2>&1 || true)
MISSING_FLAGS=()
for flag in --watch-namespaces --concurrency --metrics-bind-address --metrics-secure \
	--metrics-cert-dir --health-probe-bind-address --leader-elect --leader-election-id \
	--log-format --log-level --webhook-bind-address --webhook-cert-dir \
	--webhook-self-signed-secret --webhook-configuration --webhook-cert-host --otlp-endpoint \
	--otlp-insecure --otlp-protocol; do
	grep -q -- "$flag" <<<"$RUN_HELP" || MISSING_FLAGS+=("$flag")
done
if ((${#MISSING_FLAGS[@]} > 0)); then
	log "openclaw-operator run lacks flags the chart can pass: ${MISSING_FLAGS[*]}"
fi

# check_self_signed_webhook MODE RELEASE NAMESPACE PORT: the operator stored its CA and serving
# certificate in the Secret, patched the CA into both webhook configurations, and serves the
# certificate for the Service's name.
check_self_signed_webhook() {
	local mode=$1 release=$2 ns=$3 port=$4
	local secret=$release-openclaw-operator-webhook-cert cfg=$release-openclaw-operator
	local host=$release-openclaw-operator-webhook.$ns.svc kind ca
	if ! wait_for 60 "the webhook Secret $ns/$secret" kubectl -n "$ns" get secret "$secret"; then
		fail "$mode: the operator did not create the webhook Secret $secret"
		return 0
	fi
	kubectl -n "$ns" get secret "$secret" -o jsonpath='{.data.ca\.crt}' | base64 -d >"$WORK/$release.ca.crt"
	for kind in validatingwebhookconfiguration mutatingwebhookconfiguration; do
		ca=""
		for _ in $(seq 60); do
			ca=$(kubectl get "$kind" "$cfg" -o jsonpath='{.webhooks[*].clientConfig.caBundle}')
			[[ -n $ca ]] && break
			sleep 1
		done
		[[ -n $ca ]] || fail "$mode: no caBundle in $kind/$cfg"
	done
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$WORK/$release.ca.crt" \
		--resolve "$host:$port:127.0.0.1" "https://$host:$port/validate-openclaw-rocks-v1alpha1-openclawinstance" || true)
	if [[ $code == 000 ]]; then
		fail "$mode: the webhook does not serve a certificate for $host signed by the CA in $secret"
	else
		log "$mode: self-signed webhook: Secret, caBundles and the served certificate are in place"
	fi
}

# install_and_check MODE: MODE is "cluster" (all namespaces) or "namespaced".
install_and_check() {
	local mode=$1
	local release=pkg-e2e-$mode
	local opns=openclaw-pkg-e2e-$mode-system appns=openclaw-pkg-e2e-$mode-apps
	local sa=$release-openclaw-operator
	local user=system:serviceaccount:$opns:$sa
	local values=(--set webhook.enabled=false --set metrics.serviceMonitor.enabled=false
		--set 'metrics.reader.subjects[0].kind=ServiceAccount'
		--set 'metrics.reader.subjects[0].name=scraper'
		--set "metrics.reader.subjects[0].namespace=$opns")
	if [[ $mode == namespaced ]]; then
		# Also the self-signed webhooks (their Secret and caBundle RBAC). The configurations
		# only match $appns (namespaceSelector), and failurePolicy Ignore keeps the API server
		# going when it cannot reach the (pod-less) webhook Service.
		values+=(--set "watchNamespaces={$appns}" --set webhook.enabled=true
			--set webhook.certManager.enabled=false --set webhook.failurePolicy=Ignore
			--set webhook.timeoutSeconds=2)
	fi
	log "==== $mode mode: release $release in $opns, instance in $appns"
	RELEASES+=("$release")
	local ns
	for ns in "$opns" "$appns"; do
		release_instances "$ns"
		kubectl delete namespace "$ns" --ignore-not-found --wait=true --timeout=120s >/dev/null
		kubectl create namespace "$ns" >/dev/null
		CREATED_NAMESPACES+=("$ns")
	done
	# The operator pod must pass the restricted Pod Security profile.
	kubectl label namespace "$opns" pod-security.kubernetes.io/enforce=restricted >/dev/null

	"$HELM" template "$release" "$CHART" --namespace "$opns" "${values[@]}" >"$WORK/$release.yaml"
	log "applying the rendered chart ($(grep -c '^kind:' "$WORK/$release.yaml") objects) with kubectl apply --server-side"
	# --force-conflicts: the CRDs usually exist already (same content, other field managers).
	kubectl apply --server-side --force-conflicts --field-manager=pkg-e2e -f "$WORK/$release.yaml" >"$WORK/$release.apply" ||
		{
			cat "$WORK/$release.apply" >&2
			fail "$mode: kubectl apply of the chart"
			return 0
		}
	kubectl wait --for=condition=Established --timeout=60s crd/openclawinstances.openclaw.rocks >/dev/null
	if ! kubectl -n "$opns" rollout status "deployment/$release-openclaw-operator" --timeout=120s >/dev/null; then
		kubectl -n "$opns" get deployment,replicaset,pods -o wide >&2 || true
		kubectl -n "$opns" get events >&2 || true
		fail "$mode: the operator Deployment did not become available (restricted Pod Security?)"
	fi
	kubectl -n "$opns" create serviceaccount scraper >/dev/null

	# The arguments of the chart's Deployment, with local listen addresses.
	local args=() arg mport hport wport
	read -r mport hport wport < <(free_ports 3)
	while IFS= read -r arg; do
		case "$arg" in
		--metrics-bind-address=*) args+=("--metrics-bind-address=127.0.0.1:$mport") ;;
		--health-probe-bind-address=*) args+=("--health-probe-bind-address=127.0.0.1:$hport") ;;
		--webhook-bind-address=*) args+=("--webhook-bind-address=127.0.0.1:$wport") ;;
		*) args+=("$arg") ;;
		esac
	done < <(kubectl -n "$opns" get "deployment/$release-openclaw-operator" \
		-o jsonpath='{range .spec.template.spec.containers[0].args[*]}{@}{"\n"}{end}')
	log "operator args: ${args[*]}"
	local missing
	for arg in "${args[@]}"; do
		missing=${arg%%=*}
		if [[ " ${MISSING_FLAGS[*]} " == *" $missing "* ]]; then
			fail "$mode: openclaw-operator run lacks $missing, which the chart passes"
			return 0
		fi
	done
	[[ ${args[0]:-} == run ]] || {
		fail "$mode: the Deployment's first argument is not 'run'"
		return 0
	}

	# A proxy that acts as the chart's ServiceAccount (see the header).
	local offset
	offset=$(stat -c %s "$AUDIT_LOG")
	kubectl --kubeconfig "$CLUSTER_DIR/operator.kubeconfig" proxy --port=0 --address=127.0.0.1 \
		--as="$user" >"$WORK/$release.proxy" 2>&1 &
	PROXY_PID=$!
	local port=""
	for _ in $(seq 100); do
		port=$(sed -n 's/^Starting to serve on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/$release.proxy")
		[[ -n $port ]] && break
		sleep 0.1
	done
	[[ -n $port ]] || die "kubectl proxy did not start: $(cat "$WORK/$release.proxy")"
	cat >"$WORK/$release.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sa-proxy
  cluster:
    server: http://127.0.0.1:$port
users:
- name: sa
  user: {}
contexts:
- name: sa
  context: {cluster: sa-proxy, user: sa, namespace: $opns}
current-context: sa
EOF

	env -u WATCH_NAMESPACES -u WATCH_NAMESPACE -u RUST_LOG KUBECONFIG="$WORK/$release.kubeconfig" \
		POD_NAMESPACE="$opns" POD_NAME="$release-local" \
		"$BIN" "${args[@]}" >"$WORK/$release.operator.log" 2>&1 &
	OPERATOR_PID=$!
	local ok=1
	if ! wait_for 120 "/readyz of the operator" curl -fs --max-time 5 "http://127.0.0.1:$hport/readyz"; then
		ok=0
		fail "$mode: the operator never became ready"
	fi

	if ((ok)); then
		kubectl -n "$appns" create secret generic openclaw-api-keys --from-literal=ANTHROPIC_API_KEY=replace-me >/dev/null
		kubectl -n "$appns" apply --server-side --field-manager=pkg-e2e -f config/samples/openclawinstance-minimal.yaml >/dev/null
		if kubectl -n "$appns" wait openclawinstance/demo --for=jsonpath='{.status.phase}'=Running --timeout="${TIMEOUT}s" >/dev/null; then
			log "$mode: the sample instance is Running"
		else
			kubectl -n "$appns" get openclawinstance demo -o yaml >&2 || true
			fail "$mode: the sample instance did not become Running within ${TIMEOUT}s"
		fi
		local holder
		holder=$(kubectl -n "$opns" get lease openclaw-operator.openclaw.rocks -o jsonpath='{.spec.holderIdentity}' 2>/dev/null || true)
		[[ -n $holder ]] || fail "$mode: no leader-election Lease in $opns"
		# Secure metrics: the reader's token is let in, anyone else is not.
		local token code
		token=$(kubectl -n "$opns" create token scraper --duration=10m)
		code=$(http_code -H "Authorization: Bearer $token" "https://127.0.0.1:$mport/metrics")
		[[ $code == 200 ]] || fail "$mode: /metrics with the metrics-reader token answered $code, expected 200"
		token=$(kubectl -n "$opns" create token default --duration=10m)
		code=$(http_code -H "Authorization: Bearer $token" "https://127.0.0.1:$mport/metrics")
		[[ $code == 403 ]] || fail "$mode: /metrics with an unbound token answered $code, expected 403"
		code=$(http_code "https://127.0.0.1:$mport/metrics")
		[[ $code == 401 ]] || fail "$mode: /metrics without a token answered $code, expected 401"
		if [[ " ${args[*]} " == *" --webhook-self-signed-secret="* ]]; then
			check_self_signed_webhook "$mode" "$release" "$opns" "$wport"
		fi
	fi

	# Stop (releasing the lease is part of what must be allowed), then read the audit log.
	stop_pid "$OPERATOR_PID"
	OPERATOR_PID=""
	sleep 1 # the audit backend writes asynchronously
	stop_pid "$PROXY_PID"
	PROXY_PID=""
	local rc=0
	audit_report "$offset" "$user" >"$WORK/$release.audit" || rc=$?
	cat "$WORK/$release.audit" >&2
	case $rc in
	0) log "$mode: no request of $user was denied" ;;
	2) fail "$mode: $user was denied requests (403), see above" ;;
	3) fail "$mode: no audited request of $user found (is the audit log written?)" ;;
	4) fail "$mode: $user never wrote an instance status (did another operator reconcile it?)" ;;
	*) fail "$mode: reading the audit log failed ($rc)" ;;
	esac
	if grep -qiE 'forbidden' "$WORK/$release.operator.log"; then
		grep -iE 'forbidden' "$WORK/$release.operator.log" | head -n 20 | cut -c1-400 >&2
		fail "$mode: the operator logged 'forbidden'"
	fi
	if ((FAILURES > 0)); then
		log "last lines of the operator log:"
		tail -n 40 "$WORK/$release.operator.log" | cut -c1-400 >&2
	fi
	if [[ ${OPENCLAW_KEEP_PKG_E2E:-0} != 1 ]]; then
		delete_created
	fi
}

for mode in ${PKG_E2E_MODES:-cluster namespaced}; do
	install_and_check "$mode"
done
if ((${#MISSING_FLAGS[@]} > 0)); then
	fail "openclaw-operator run lacks flags the chart can pass: ${MISSING_FLAGS[*]}"
fi

if ((FAILURES > 0)); then
	die "$FAILURES check(s) failed"
fi
log "all packaging checks passed"
