#!/usr/bin/env bash
# A local Kubernetes control plane for tests and local runs: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and kwok (fake nodes),
# all on 127.0.0.1, built from Go modules by build.sh. See docs/development.md.
#
# Usage: hack/control-plane/cluster.sh COMMAND
#   build          build (or reuse) the cached binaries
#   up             build if needed, start everything, wait until nodes are Ready
#   down           stop every component (by recorded PID)
#   status         show components, API health and nodes (exit 0 only if fully up)
#   env            print `export KUBECONFIG=...` (and PATH with the pinned kubectl)
#   kubectl ARGS   run the pinned kubectl against the cluster
#   add-nodes N    add N more fake nodes
#   logs [NAME]    list the log files, or print the tail of one component's log
#   prune          delete cached builds other than the current one (and the one in use)
set -euo pipefail

# shellcheck source=hack/control-plane/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KUBECONFIG_PATH=$CLUSTER_DIR/kubeconfig
PKI=$CLUSTER_DIR/pki
LOGS=$CLUSTER_DIR/logs
PIDS=$CLUSTER_DIR/pids
STATE_FILE=$CLUSTER_DIR/cluster.env
NODE_ANNOTATION="kwok.x-k8s.io/node=fake"

# ---------------------------------------------------------------- processes --

# pid_of NAME: the recorded PID of a component if that process is alive (and
# is still that component: guards against PID reuse); empty otherwise.
pid_of() {
	local name=$1 pidfile=$PIDS/$1.pid pid state
	[[ -f $pidfile ]] || return 0
	pid=$(<"$pidfile")
	[[ $pid =~ ^[0-9]+$ ]] || return 0
	[[ -r /proc/$pid/cmdline ]] || return 0
	state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\) .*/\1/p' "/proc/$pid/stat" 2>/dev/null || true)
	[[ $state != Z ]] || return 0
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "/$name " || return 0
	printf '%s' "$pid"
}

# start_component NAME BINARY ARGS...: starts a daemon in its own session with
# stdin from /dev/null and all output in logs/NAME.log, and records its PID.
start_component() {
	local name=$1
	shift
	local pidfile=$PIDS/$name.pid
	rm -f "$pidfile"
	# The inner shell writes its own PID and then execs the binary, so the
	# recorded PID is the daemon's, whether or not setsid had to fork.
	# shellcheck disable=SC2016 # $$ and $@ are for the inner shell
	setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" </dev/null >>"$LOGS/$name.log" 2>&1 &
	local i
	for ((i = 0; i < 50; i++)); do
		[[ -s $pidfile ]] && break
		sleep 0.1
	done
	# /proc/PID/cmdline reads empty while the inner shell is in execve, so a
	# single look can miss a live daemon: look again for up to 2 s, and fail
	# only when the process is really gone.
	local pid
	pid=$(cat "$pidfile" 2>/dev/null || true)
	for ((i = 0; i < 20; i++)); do
		[[ -n $(pid_of "$name") ]] && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	[[ -n $(pid_of "$name") ]] || fail_up "$name exited right after start"
	log "started $name (pid $(<"$pidfile"), log $LOGS/$name.log)"
}

# stop_component NAME: SIGTERM, wait up to 30 s, then SIGKILL.
stop_component() {
	local name=$1 pid i
	pid=$(pid_of "$name")
	if [[ -z $pid ]]; then
		rm -f "$PIDS/$name.pid"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 300; i++)); do
		[[ -n $(pid_of "$name") ]] || break
		sleep 0.1
	done
	if [[ -n $(pid_of "$name") ]]; then
		log "$name (pid $pid) did not stop after 30s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			[[ -n $(pid_of "$name") ]] || break
			sleep 0.1
		done
	fi
	rm -f "$PIDS/$name.pid"
	STOPPED_PIDS+=("$pid")
	log "stopped $name (pid $pid)"
}

STOPPED_PIDS=()

stop_all() {
	local i pid
	for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
		stop_component "${COMPONENTS[i]}"
	done
	# The daemons are not our children: give their reaper (init) a moment to
	# collect the zombies, so that process listings right after `down` are clean.
	for ((i = 0; i < 50; i++)); do
		for pid in "${STOPPED_PIDS[@]}"; do
			[[ -e /proc/$pid ]] && break
			pid=""
		done
		[[ -z ${pid:-} ]] && break
		sleep 0.1
	done
}

# Prints how many components are alive.
running_count() {
	local c n=0
	for c in "${COMPONENTS[@]}"; do
		if [[ -n $(pid_of "$c") ]]; then
			n=$((n + 1))
		fi
	done
	printf '%s' "$n"
}

# ------------------------------------------------------------------ helpers --

port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_until SECONDS DESCRIPTION CMD...: polls CMD every 0.5 s.
wait_until() {
	local timeout=$1 what=$2
	shift 2
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			fail_up "timed out after ${timeout}s waiting for $what"
		fi
		sleep 0.5
	done
}

# The binaries of the running cluster, else those of the current build.
bin_dir() {
	if [[ -f $STATE_FILE && $(running_count) != 0 ]]; then
		sed -n 's/^BIN=//p' "$STATE_FILE"
	else
		printf '%s/bin' "$(cp_build_dir)"
	fi
}

kc() {
	"$(bin_dir)/kubectl" --kubeconfig="$KUBECONFIG_PATH" "$@"
}

api_ready() {
	curl -fsS --max-time 5 --cacert "$PKI/ca.crt" -H "Authorization: Bearer $(<"$PKI/token")" \
		"https://127.0.0.1:$API_PORT/readyz" | grep -qx ok
}

https_healthy() {
	curl -fsSk --max-time 5 "https://127.0.0.1:$1/healthz" | grep -qx ok
}

etcd_healthy() {
	curl -fsS --max-time 5 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'
}

no_not_ready_taints() {
	local taints
	taints=$(kc get nodes -o 'jsonpath={.items[*].spec.taints[*].key}') || return 1
	[[ $taints != *node.kubernetes.io/not-ready* && $taints != *node.kubernetes.io/unreachable* ]]
}

# Set while `up` runs, so that a failure stops what was started.
UP_IN_PROGRESS=0

fail_up() {
	log "ERROR: $*"
	if ((UP_IN_PROGRESS)); then
		local c
		for c in "${COMPONENTS[@]}"; do
			if [[ -s $LOGS/$c.log ]]; then
				log "---- last lines of $LOGS/$c.log"
				tail -n 15 "$LOGS/$c.log" >&2
			fi
		done
	fi
	exit 1
}

on_up_exit() {
	if ((UP_IN_PROGRESS)); then
		log "up failed; stopping the components that were started"
		UP_IN_PROGRESS=0
		stop_all
	fi
}

# --------------------------------------------------------------------- PKI --

# A CA, a serving cert for the API server (SAN 127.0.0.1, localhost and the
# in-cluster names), a service-account key pair, a static admin token in
# group system:masters, and a second token of the same power for user
# `openclaw-operator` (operator.kubeconfig), so that the operator's requests
# can be told apart from everyone else's in the audit log (logs/audit.log, which
# records that user's requests only; hack/scale counts them). The CA key stays in pki/ so that tests can sign more
# certs (e.g. for admission webhooks on https://127.0.0.1:PORT).
make_pki() {
	rm -rf "$PKI"
	mkdir -p "$PKI"
	(
		cd "$PKI"
		umask 077
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 -subj "/CN=openclaw-local-ca" \
			-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
			-keyout ca.key -out ca.crt
		openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout apiserver.key -out apiserver.csr
		cat >apiserver.ext <<-EOF
			subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
			basicConstraints=CA:FALSE
			keyUsage=digitalSignature,keyEncipherment
			extendedKeyUsage=serverAuth
		EOF
		openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -sha256 \
			-extfile apiserver.ext -out apiserver.crt
		openssl genrsa -out sa.key 2048
		openssl rsa -in sa.key -pubout -out sa.pub
		od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >token
		od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >operator-token
		{
			printf '%s,admin,admin,"system:masters"\n' "$(<token)"
			printf '%s,openclaw-operator,openclaw-operator,"system:masters"\n' "$(<operator-token)"
		} >tokens.csv
		cat >audit-policy.yaml <<-EOF
			apiVersion: audit.k8s.io/v1
			kind: Policy
			omitStages: [RequestReceived]
			rules:
			- level: Metadata
			  users: [openclaw-operator]
			- level: None
		EOF
		chmod 644 ca.crt apiserver.crt
	) >"$LOGS/pki.log" 2>&1 || fail_up "openssl failed; see $LOGS/pki.log"
}

# write_kubeconfig [PATH USER TOKEN_FILE]: the admin kubeconfig by default.
write_kubeconfig() {
	local path=${1:-$KUBECONFIG_PATH} user=${2:-admin} token_file=${3:-$PKI/token}
	local tmp=$path.tmp
	umask 077
	cat >"$tmp" <<-EOF
		apiVersion: v1
		kind: Config
		clusters:
		- name: openclaw-local
		  cluster:
		    server: https://127.0.0.1:$API_PORT
		    certificate-authority: $PKI/ca.crt
		users:
		- name: $user
		  user:
		    token: $(<"$token_file")
		contexts:
		- name: openclaw-local
		  context:
		    cluster: openclaw-local
		    user: $user
		    namespace: default
		current-context: openclaw-local
	EOF
	mv "$tmp" "$path"
	umask 022
}

# ------------------------------------------------------------------- nodes --

# Fake nodes managed by kwok (it manages nodes with the annotation
# kwok.x-k8s.io/node=fake). No taints, so ordinary pods schedule on them.
node_manifest() {
	local name=$1
	cat <<-EOF
		apiVersion: v1
		kind: Node
		metadata:
		  name: $name
		  annotations:
		    node.alpha.kubernetes.io/ttl: "0"
		    kwok.x-k8s.io/node: fake
		  labels:
		    kubernetes.io/arch: amd64
		    kubernetes.io/os: linux
		    kubernetes.io/hostname: $name
		    type: kwok
		spec:
		  providerID: kwok://$name
		status:
		  allocatable: {cpu: "1000", memory: 4Ti, ephemeral-storage: 10Ti, pods: "1000"}
		  capacity: {cpu: "1000", memory: 4Ti, ephemeral-storage: 10Ti, pods: "1000"}
		---
	EOF
}

# add_nodes COUNT: creates kwok-node-<i> for the next COUNT free indexes.
add_nodes() {
	local count=$1 existing i=0 made=0 manifest=""
	existing=" $(kc get nodes -o 'jsonpath={.items[*].metadata.name}') "
	while ((made < count)); do
		if [[ $existing != *" kwok-node-$i "* ]]; then
			manifest+=$(node_manifest "kwok-node-$i")$'\n'
			made=$((made + 1))
		fi
		i=$((i + 1))
	done
	kc create -f - <<<"$manifest" >&2
}

wait_nodes_ready() {
	kc wait --for=condition=Ready node --all --timeout=120s >&2 || fail_up "nodes did not become Ready"
	wait_until 120 "the node.kubernetes.io/not-ready taints to be removed" no_not_ready_taints
}

# ---------------------------------------------------------------- commands --

cmd_build() {
	"$CP_SCRIPT_DIR/build.sh" "$@"
}

cmd_up() {
	local running
	running=$(running_count)
	if ((running == ${#COMPONENTS[@]})) && api_ready; then
		log "cluster is already running; nothing to do (KUBECONFIG=$KUBECONFIG_PATH)"
		return 0
	fi
	if ((running == ${#COMPONENTS[@]})); then
		die "all components run but the API server is not ready (see '$0 logs kube-apiserver'); run '$0 down' first"
	fi
	if ((running > 0)); then
		die "cluster is partially running ($running of ${#COMPONENTS[@]} components); run '$0 down' first"
	fi
	local tool
	for tool in openssl curl setsid; do
		command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
	done

	local p
	for p in "$ETCD_PORT" "$ETCD_PEER_PORT" "$API_PORT" "$KCM_PORT" "$SCHED_PORT" "$KWOK_PORT"; do
		if port_in_use "$p"; then
			die "port 127.0.0.1:$p is already in use (see the OPENCLAW_*_PORT variables in hack/control-plane/lib.sh)"
		fi
	done

	cmd_build
	local build bin
	build=$(cp_build_dir)
	bin=$build/bin

	UP_IN_PROGRESS=1
	trap on_up_exit EXIT
	local start=$SECONDS
	log "starting the control plane in $CLUSTER_DIR"
	# A fresh cluster every time: no state survives `down` except the logs of
	# the last run, which are replaced here.
	rm -rf "$CLUSTER_DIR/etcd-data" "$LOGS" "$PIDS" "$STATE_FILE" "$CLUSTER_DIR/apiserver-certs"
	mkdir -p "$CLUSTER_DIR" "$LOGS" "$PIDS"
	make_pki
	write_kubeconfig
	write_kubeconfig "$CLUSTER_DIR/operator.kubeconfig" openclaw-operator "$PKI/operator-token"
	cat >"$STATE_FILE" <<-EOF
		BIN=$bin
		KWOK=$build/kwok
		STARTED=$(date -u +%Y-%m-%dT%H:%M:%SZ)
	EOF

	start_component etcd "$bin/etcd" \
		--name=openclaw --data-dir="$CLUSTER_DIR/etcd-data" \
		--listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
		--listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-cluster="openclaw=http://127.0.0.1:$ETCD_PEER_PORT" \
		--unsafe-no-fsync=true --log-level=warn
	wait_until 30 "etcd /health" etcd_healthy

	# Default admission plugins stay enabled, including MutatingAdmissionWebhook
	# and ValidatingAdmissionWebhook (webhooks at https://127.0.0.1:PORT work).
	start_component kube-apiserver "$bin/kube-apiserver" \
		--etcd-servers="http://127.0.0.1:$ETCD_PORT" \
		--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$API_PORT" \
		--tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
		--client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
		--service-cluster-ip-range=10.0.0.0/16 \
		--authorization-mode=Node,RBAC --allow-privileged=true \
		--cert-dir="$CLUSTER_DIR/apiserver-certs" \
		--endpoint-reconciler-type=none \
		--enable-priority-and-fairness=false \
		--audit-policy-file="$PKI/audit-policy.yaml" --audit-log-path="$LOGS/audit.log" \
		--audit-log-format=json
	wait_until 120 "kube-apiserver /readyz" api_ready
	log "kube-apiserver is ready ($(fmt_duration $((SECONDS - start))))"

	start_component kube-controller-manager "$bin/kube-controller-manager" \
		--kubeconfig="$KUBECONFIG_PATH" \
		--authentication-kubeconfig="$KUBECONFIG_PATH" --authorization-kubeconfig="$KUBECONFIG_PATH" \
		--bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
		--leader-elect=false --controllers='*' \
		--service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
		--cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key"
	start_component kube-scheduler "$bin/kube-scheduler" \
		--kubeconfig="$KUBECONFIG_PATH" \
		--authentication-kubeconfig="$KUBECONFIG_PATH" --authorization-kubeconfig="$KUBECONFIG_PATH" \
		--bind-address=127.0.0.1 --secure-port="$SCHED_PORT" --leader-elect=false

	# The fake provisioner's StorageClass, as the default class.
	kc apply -f "$build/kwok/storage-class.yaml" >&2

	# kwok's stages, with the pods of backup Jobs left to hack/control-plane/stages/, and the
	# pods of a "broken" OpenClaw version (an image tag ending in .999, other than Job pods)
	# never made Ready, so that the auto-update tests see a failed rollout for real.
	local stages=$CLUSTER_DIR/kwok-stages.yaml
	awk '
		/^  name: / { stage = $2 }
		{ print }
		stage == "pod-complete" && /^      - .Job.$/ {
			print "    - key: '"'"'.metadata.labels[\"openclaw.rocks/job-type\"]'"'"'"
			print "      operator: '"'"'DoesNotExist'"'"'"
		}
		stage == "pod-ready" && /^    matchExpressions:$/ {
			print "    - key: '"'"'(.spec.containers.[0].image | endswith(\".999\")) and (.metadata.labels[\"openclaw.rocks/job-type\"] == null)'"'"'"
			print "      operator: '"'"'NotIn'"'"'"
			print "      values:"
			print "      - '"'"'true'"'"'"
		}
	' "$build/kwok/stages.yaml" >"$stages"
	grep -q 'openclaw.rocks/job-type' "$stages" || die "kwok stages: pod-complete not found in $build/kwok/stages.yaml"
	grep -q 'endswith' "$stages" || die "kwok stages: pod-ready not found in $build/kwok/stages.yaml"
	{
		echo "---"
		cat "$CP_SCRIPT_DIR/stages/backup-jobs.yaml"
	} >>"$stages"

	start_component kwok "$bin/kwok" \
		--kubeconfig="$KUBECONFIG_PATH" \
		--config="$stages" \
		--manage-all-nodes=false \
		--manage-nodes-with-annotation-selector="$NODE_ANNOTATION" \
		--cidr=10.244.0.0/16 --node-ip=10.0.0.2 \
		--node-lease-duration-seconds=40 \
		--server-address="127.0.0.1:$KWOK_PORT"

	wait_until 60 "kube-controller-manager /healthz" https_healthy "$KCM_PORT"
	wait_until 60 "kube-scheduler /healthz" https_healthy "$SCHED_PORT"

	add_nodes "${OPENCLAW_NODES:-2}"
	wait_nodes_ready
	# Pods need the namespace's default ServiceAccount (created by kcm).
	wait_until 60 "the default ServiceAccount" kc get serviceaccount default -n default

	UP_IN_PROGRESS=0
	trap - EXIT
	log "cluster is up in $(fmt_duration $((SECONDS - start))):"
	kc get nodes >&2
	log "use it with:  eval \"\$($0 env)\"   (KUBECONFIG=$KUBECONFIG_PATH)"
}

cmd_down() {
	local running
	running=$(running_count)
	if ((running == 0)); then
		log "cluster is not running"
		rm -f "$PIDS"/*.pid
		return 0
	fi
	stop_all
	log "cluster stopped (logs kept in $LOGS)"
}

cmd_status() {
	local c pid up=0
	echo "state dir:  $CLUSTER_DIR"
	echo "kubeconfig: $KUBECONFIG_PATH"
	for c in "${COMPONENTS[@]}"; do
		pid=$(pid_of "$c")
		if [[ -n $pid ]]; then
			printf '  %-24s running (pid %s)\n' "$c" "$pid"
			up=$((up + 1))
		else
			printf '  %-24s stopped\n' "$c"
		fi
	done
	if ((up == 0)); then
		echo "cluster is not running"
		return 1
	fi
	if api_ready; then
		echo "kube-apiserver: ready at https://127.0.0.1:$API_PORT"
		kc get nodes || true
	else
		echo "kube-apiserver: NOT ready at https://127.0.0.1:$API_PORT"
		return 1
	fi
	if ((up != ${#COMPONENTS[@]})); then
		echo "cluster is only partially running"
		return 1
	fi
}

cmd_env() {
	echo "export KUBECONFIG=$KUBECONFIG_PATH"
	local bin
	bin=$(bin_dir)
	if [[ -x $bin/kubectl ]]; then
		echo "export PATH=\"$bin:\$PATH\""
	fi
}

cmd_add_nodes() {
	local count=${1:-1}
	[[ $count =~ ^[1-9][0-9]*$ ]] || die "usage: $0 add-nodes COUNT"
	[[ $(running_count) == "${#COMPONENTS[@]}" ]] || die "cluster is not running"
	add_nodes "$count"
	wait_nodes_ready
	kc get nodes >&2
}

cmd_logs() {
	if [[ -n ${1:-} ]]; then
		[[ -f $LOGS/$1.log ]] || die "no log for '$1' in $LOGS"
		tail -n "${LINES_TO_SHOW:-100}" "$LOGS/$1.log"
	else
		ls -l "$LOGS"
	fi
}

cmd_prune() {
	local current in_use="" d
	current=$(cp_build_dir)
	if [[ $(running_count) != 0 && -f $STATE_FILE ]]; then
		in_use=$(dirname "$(sed -n 's/^BIN=//p' "$STATE_FILE")")
	fi
	shopt -s nullglob
	for d in "$CP_CACHE_ROOT"/k8s-*; do
		if [[ $d == "$current" || $d == "$in_use" ]]; then
			continue
		fi
		log "removing $d ($(du -sh "$d" | cut -f1))"
		rm -rf "$d"
	done
	shopt -u nullglob
	log "kept $current"
}

main() {
	local cmd=${1:-}
	shift || true
	case "$cmd" in
	build) cmd_build "$@" ;;
	up) cmd_up ;;
	down) cmd_down ;;
	status) cmd_status ;;
	env) cmd_env ;;
	kubectl) kc "$@" ;;
	add-nodes) cmd_add_nodes "$@" ;;
	logs) cmd_logs "$@" ;;
	prune) cmd_prune ;;
	*)
		sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
		exit 2
		;;
	esac
}

main "$@"
