#!/usr/bin/env bash
# Scale and efficiency harness (docs/performance.md): for each N, start the operator on the local
# cluster, create N OpenClawInstances across several namespaces, wait until all are Running,
# measure a steady window, delete them all and wait until what they owned is gone. Prints a table
# per N and writes target/scale/<N>.json. Exits non-zero if the operator wrote anything in the
# steady window, or an instance did not become Running, or the cleanup timed out.
#
#   hack/scale/run.sh                 N = 100 500 1000, 5-minute steady window
#   hack/scale/run.sh 1000            one N
#   STEADY_SECS=30 hack/scale/run.sh 20
#   REGISTRY=token hack/scale/run.sh 100
#                                     auto-update on in every instance, against a real registry
#                                     (hack/registry/build.sh) with token auth; also counts the
#                                     registry's requests (REGISTRY=anonymous: no token service)
#
# Environment: STEADY_SECS (300), SETTLE_SECS (15), NAMESPACES (10), CONCURRENCY (4, the
# operator's --concurrency), PROFILE (release; `debug` reuses the test build), TIMEOUT_SECS (1200
# per phase). The cluster is started if it is not running (and left running); a cluster started
# by an older cluster.sh (without the operator identity and audit log) must be restarted.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO_ROOT"
CLUSTER=hack/control-plane/cluster.sh
export OPENCLAW_CACHE_DIR=${OPENCLAW_CACHE_DIR:-$HOME/.cache/openclaw-operator}
export OPENCLAW_CLUSTER_DIR=${OPENCLAW_CLUSTER_DIR:-$OPENCLAW_CACHE_DIR/cluster}
PROFILE=${PROFILE:-release}

if [[ $# -eq 0 ]]; then
	set -- 100 500 1000
fi

if [[ -z ${CARGO_TARGET_DIR:-} ]]; then
	rustc_version=$(rustc --version | awk '{gsub(/[()]/, ""); print $2 "-" $3}')
	export CARGO_TARGET_DIR=$OPENCLAW_CACHE_DIR/cargo-target/$rustc_version
fi
profile_flag=()
profile_dir=debug
if [[ $PROFILE == release ]]; then
	profile_flag=(--release)
	profile_dir=release
fi
echo "[scale] building the operator and the harness ($PROFILE)"
cargo build --quiet "${profile_flag[@]}" -p openclaw-operator -p openclaw-scale

if ! bash "$CLUSTER" status >/dev/null 2>&1; then
	bash "$CLUSTER" up
fi
if [[ ${REGISTRY:-none} != none && -z ${OPENCLAW_REGISTRY_BIN_DIR:-} ]]; then
	OPENCLAW_REGISTRY_BIN_DIR=$(bash hack/registry/build.sh)
	export OPENCLAW_REGISTRY_BIN_DIR
fi
eval "$(bash "$CLUSTER" env)"
export KUBECONFIG

rc=0
for n in "$@"; do
	echo "[scale] ==== N=$n"
	"$CARGO_TARGET_DIR/$profile_dir/openclaw-scale" \
		--instances "$n" \
		--namespaces "${NAMESPACES:-10}" \
		--steady-secs "${STEADY_SECS:-300}" \
		--settle-secs "${SETTLE_SECS:-15}" \
		--timeout-secs "${TIMEOUT_SECS:-1200}" \
		--concurrency "${CONCURRENCY:-4}" \
		--operator-bin "$CARGO_TARGET_DIR/$profile_dir/openclaw-operator" \
		--cluster-dir "$OPENCLAW_CLUSTER_DIR" \
		--registry "${REGISTRY:-none}" \
		--out-dir target/scale || rc=$?
done
exit "$rc"
