#!/usr/bin/env bash
# Runs the operator on the local cluster with the sample instance:
#   1. starts the local Kubernetes cluster (building it on first use, about 10 minutes);
#   2. installs the CRDs;
#   3. builds and starts `openclaw-operator run` in the background (log and PID in the
#      cluster's state directory);
#   4. applies config/samples/openclawinstance-minimal.yaml (with a placeholder API-key Secret)
#      and waits until it is Running.
#
#   hack/run-local.sh          start everything (again: restarts the operator)
#   hack/run-local.sh down     stop the operator and the cluster
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"
CLUSTER=hack/control-plane/cluster.sh
OPENCLAW_CACHE_DIR=${OPENCLAW_CACHE_DIR:-$HOME/.cache/openclaw-operator}
STATE=${OPENCLAW_CLUSTER_DIR:-$OPENCLAW_CACHE_DIR/cluster}
PID_FILE=$STATE/operator.pid
LOG_FILE=$STATE/operator.log

stop_operator() {
	if [[ -f $PID_FILE ]]; then
		local pid
		pid=$(<"$PID_FILE")
		if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
			kill "$pid" 2>/dev/null || true
			for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			kill -9 "$pid" 2>/dev/null || true
			echo "[run-local] stopped the operator (pid $pid)"
		fi
		rm -f "$PID_FILE"
	fi
}

if [[ ${1:-} == down ]]; then
	stop_operator
	bash "$CLUSTER" down
	exit 0
fi

bash "$CLUSTER" up
eval "$(bash "$CLUSTER" env)"

echo "[run-local] installing the CRDs"
kubectl apply --server-side --field-manager=openclaw-operator --force-conflicts -f config/crd/ >/dev/null
kubectl wait --for=condition=Established --timeout=60s -f config/crd/ >/dev/null

if [[ -z ${CARGO_TARGET_DIR:-} ]]; then
	rustc_version=$(rustc --version | awk '{gsub(/[()]/, ""); print $2 "-" $3}')
	export CARGO_TARGET_DIR=$OPENCLAW_CACHE_DIR/cargo-target/$rustc_version
fi
echo "[run-local] building the operator"
cargo build --quiet -p openclaw-operator
stop_operator
mkdir -p "$STATE"
nohup "$CARGO_TARGET_DIR/debug/openclaw-operator" run >"$LOG_FILE" 2>&1 &
echo $! >"$PID_FILE"
echo "[run-local] operator running (pid $(<"$PID_FILE"), log $LOG_FILE)"

if ! kubectl get secret openclaw-api-keys >/dev/null 2>&1; then
	kubectl create secret generic openclaw-api-keys \
		--from-literal=ANTHROPIC_API_KEY=replace-me >/dev/null
fi
kubectl apply --server-side --field-manager=run-local -f config/samples/openclawinstance-minimal.yaml >/dev/null
echo "[run-local] waiting for the sample instance to be Running"
if ! kubectl wait openclawinstance/demo --for=jsonpath='{.status.phase}'=Running --timeout=180s >/dev/null; then
	kubectl get openclawinstance demo -o yaml || true
	tail -n 30 "$LOG_FILE" || true
	exit 1
fi
kubectl get openclawinstances

cat <<EOT

The operator runs against the local cluster (2 fake kwok nodes: pods become Ready, PVCs bound).
To use the cluster from this shell:

  eval "\$($CLUSTER env)"      # sets KUBECONFIG and puts the pinned kubectl on PATH
  kubectl get openclawinstances,statefulsets,pods
  kubectl describe openclawinstance demo

Operator log: $LOG_FILE
Stop everything: hack/run-local.sh down
Details: docs/development.md, docs/controller.md
EOT
