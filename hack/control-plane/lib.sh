# shellcheck shell=bash
# shellcheck disable=SC2034 # variables are used by the scripts that source this file
# Shared settings and helpers for hack/control-plane/*.sh. Source it; do not run it.
#
# Environment overrides (all optional):
#   OPENCLAW_CACHE_DIR    root of every cache (default: ~/.cache/openclaw-operator)
#   OPENCLAW_CLUSTER_DIR  state of the running cluster: kubeconfig, PKI, logs, pids
#                         (default: $OPENCLAW_CACHE_DIR/cluster)
#   OPENCLAW_NODES        number of fake kwok nodes created by `up` (default: 2)
#   OPENCLAW_ETCD_PORT, OPENCLAW_ETCD_PEER_PORT, OPENCLAW_API_PORT,
#   OPENCLAW_KCM_PORT, OPENCLAW_SCHEDULER_PORT, OPENCLAW_KWOK_PORT
#                         loopback ports (defaults below)

CP_SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$CP_SCRIPT_DIR/../.." && pwd)

# shellcheck source=hack/control-plane/versions.sh
source "$CP_SCRIPT_DIR/versions.sh"

# absolute PATH: makes a relative path absolute (kubeconfig and PID checks need that).
absolute() {
	case "$1" in
	/*) printf '%s' "$1" ;;
	*) printf '%s/%s' "$PWD" "$1" ;;
	esac
}

OPENCLAW_CACHE_DIR=$(absolute "${OPENCLAW_CACHE_DIR:-$HOME/.cache/openclaw-operator}")
CP_CACHE_ROOT=$OPENCLAW_CACHE_DIR/control-plane
CLUSTER_DIR=$(absolute "${OPENCLAW_CLUSTER_DIR:-$OPENCLAW_CACHE_DIR/cluster}")

# Loopback ports. All below Linux's ephemeral range (32768-60999), so outgoing
# connections never occupy them, and away from the usual 6443/2379/10257/10259.
ETCD_PORT=${OPENCLAW_ETCD_PORT:-22379}
ETCD_PEER_PORT=${OPENCLAW_ETCD_PEER_PORT:-22380}
API_PORT=${OPENCLAW_API_PORT:-26443}
KCM_PORT=${OPENCLAW_KCM_PORT:-20257}
SCHED_PORT=${OPENCLAW_SCHEDULER_PORT:-20259}
KWOK_PORT=${OPENCLAW_KWOK_PORT:-20247}

# Order in which components start; `down` stops them in reverse.
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

log() {
	printf '[control-plane %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

die() {
	log "ERROR: $*"
	exit 1
}

# Formats a number of seconds as "3m07s".
fmt_duration() {
	printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

# The Go version that builds (and therefore keys) the binaries.
go_version() {
	command -v go >/dev/null 2>&1 || die "go is not installed (needed to build the control plane)"
	go env GOVERSION
}

# Directory name of the binary cache for the pinned versions. It includes a
# hash of versions.sh and build.sh so that any change to how binaries are
# built lands in a fresh directory.
versions_key() {
	local hash
	hash=$(cat "$CP_SCRIPT_DIR/versions.sh" "$CP_SCRIPT_DIR/build.sh" | sha256sum | cut -c1-10)
	printf 'k8s-v%s_etcd-%s_kwok-%s_%s_%s' \
		"$K8S_VERSION" "$ETCD_VERSION" "$KWOK_VERSION" "$(go_version)" "$hash"
}

# Directory holding bin/, kwok/ and versions.txt for the pinned versions.
cp_build_dir() {
	printf '%s/%s' "$CP_CACHE_ROOT" "$(versions_key)"
}
