#!/usr/bin/env bash
# Runs every check of the project; CI runs it through .ci/run.
#
#   0. shellcheck (when installed)
#   1. cargo fmt --all -- --check
#   2. cargo clippy --workspace --all-targets -- -D warnings
#   3. build (or reuse) the cached control-plane binaries
#   4. start the local cluster, or reuse one that is already up (and leave it up)
#   5. install (or reuse) the real OpenClaw and nginx for the conformance tests, fetch
#      the third-party CRDs, build (or reuse) the S3 server and rclone for the backup
#      tests, build (or reuse) an OpenTelemetry Collector for the telemetry tests, and
#      build (or reuse) the CNCF Distribution registry and crane for the registry-resolver
#      tests (all from package registries / the Go module proxy)
#   6. cargo test --workspace --all-targets, then --doc, with OPENCLAW_REQUIRE_CLUSTER=1,
#      OPENCLAW_REQUIRE_RUNTIME=1, OPENCLAW_REQUIRE_S3=1, OPENCLAW_REQUIRE_OTELCOL=1 and
#      OPENCLAW_REQUIRE_REGISTRY=1
#   7. every hack/test-extra.d/*.sh, in name order (optional extra steps)
#   8. stop the cluster if step 4 started it (also on failure or Ctrl-C)
#
# Cargo's target dir defaults to a cache outside the repo, keyed by the rustc
# version: $OPENCLAW_CACHE_DIR/cargo-target/<rustc version> (OPENCLAW_CACHE_DIR
# defaults to ~/.cache/openclaw-operator). An explicit CARGO_TARGET_DIR wins.
#
# Extra steps: drop a bash script into hack/test-extra.d/.
# It runs with the repo as working directory and KUBECONFIG,
# OPENCLAW_REQUIRE_CLUSTER and CARGO_TARGET_DIR exported; a non-zero exit fails
# the run.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"

CLUSTER=hack/control-plane/cluster.sh
export OPENCLAW_CACHE_DIR=${OPENCLAW_CACHE_DIR:-$HOME/.cache/openclaw-operator}
RUN_START=$SECONDS
STARTED_CLUSTER=0
TIMINGS=()

step() {
	STEP_NAME=$1
	STEP_START=$SECONDS
	printf '\n==== [test.sh] %s\n' "$STEP_NAME"
}

step_done() {
	local took=$((SECONDS - STEP_START))
	TIMINGS+=("$(printf '%4ds  %s' "$took" "$STEP_NAME")")
}

finish() {
	local rc=$?
	set +e
	if ((STARTED_CLUSTER)); then
		printf '\n==== [test.sh] stopping the cluster started by this run\n'
		bash "$CLUSTER" down
	fi
	printf '\n==== [test.sh] step timings\n'
	local t
	for t in "${TIMINGS[@]}"; do
		echo "$t"
	done
	if ((rc == 0)); then
		echo "[test.sh] all checks passed in $((SECONDS - RUN_START))s"
	else
		echo "[test.sh] FAILED (exit $rc) after $((SECONDS - RUN_START))s${STEP_NAME:+ in step: $STEP_NAME}"
		echo "[test.sh] control-plane logs, if it ran: bash $CLUSTER logs [NAME]"
	fi
	exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z ${CARGO_TARGET_DIR:-} ]]; then
	rustc_version=$(rustc --version | awk '{gsub(/[()]/, ""); print $2 "-" $3}')
	export CARGO_TARGET_DIR=$OPENCLAW_CACHE_DIR/cargo-target/$rustc_version
fi
echo "[test.sh] CARGO_TARGET_DIR=$CARGO_TARGET_DIR"

if command -v shellcheck >/dev/null 2>&1; then
	step "shellcheck"
	shellcheck -x hack/*.sh hack/*/*.sh .ci/run crates/render/src/workspace/selfconfig.sh
	step_done
else
	echo "[test.sh] shellcheck not installed; skipping it (apt-get install shellcheck)"
fi

step "cargo fmt --all -- --check"
cargo fmt --all -- --check
step_done

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
step_done

step "control-plane binaries (build or reuse)"
bash "$CLUSTER" build
step_done

step "local cluster up"
if bash "$CLUSTER" status >/dev/null 2>&1; then
	echo "[test.sh] a cluster is already running; reusing it (it stays up afterwards)"
else
	if bash "$CLUSTER" status 2>/dev/null | grep -q 'running (pid'; then
		echo "[test.sh] found a partially running cluster; stopping it first"
		bash "$CLUSTER" down
	fi
	STARTED_CLUSTER=1
	bash "$CLUSTER" up
fi
eval "$(bash "$CLUSTER" env)"
export KUBECONFIG
export OPENCLAW_REQUIRE_CLUSTER=1
step_done

# The real OpenClaw (Node 26 + openclaw from the npm registry) and Debian's nginx, for the
# conformance tests of the generated config; cached by version like the control plane.
step "real OpenClaw runtimes and nginx (install or reuse)"
bash hack/openclaw/install.sh
export OPENCLAW_REQUIRE_RUNTIME=1
step_done

# The third-party CRDs the optional features write (ServiceMonitor, PrometheusRule, HTTPRoute,
# Traefik Middleware), from their Go modules; cached by version.
step "third-party CRDs (fetch or reuse)"
bash hack/third-party-crds/fetch.sh
step_done

# versitygw (a real S3 server) and rclone, for the backup round-trip tests; built from their Go
# modules and cached by version (hack/s3/versions.sh). The tests find them through OPENCLAW_S3_BIN.
step "S3 server and rclone (build or reuse)"
OPENCLAW_S3_BIN=$(bash hack/s3/build.sh)
export OPENCLAW_S3_BIN
export OPENCLAW_REQUIRE_S3=1
echo "[test.sh] OPENCLAW_S3_BIN=$OPENCLAW_S3_BIN"
step_done

# An OpenTelemetry Collector (OTLP receiver, file and debug exporters), for the tests of the
# operator's OTLP telemetry; built from its Go modules and cached by version
# (hack/otelcol/versions.sh). The tests find it through OPENCLAW_OTELCOL_BIN (the binary).
step "OpenTelemetry Collector (build or reuse)"
OPENCLAW_OTELCOL_BIN=$(bash hack/otelcol/build.sh)
export OPENCLAW_OTELCOL_BIN
export OPENCLAW_REQUIRE_OTELCOL=1
echo "[test.sh] OPENCLAW_OTELCOL_BIN=$OPENCLAW_OTELCOL_BIN"
step_done

# The CNCF Distribution registry and crane, for the tests of the auto-update registry resolver;
# built from their Go modules and cached by version (hack/registry/versions.sh). The tests find
# them through OPENCLAW_REGISTRY_BIN_DIR (the directory of both).
step "OCI registry and crane (build or reuse)"
OPENCLAW_REGISTRY_BIN_DIR=$(bash hack/registry/build.sh)
export OPENCLAW_REGISTRY_BIN_DIR
export OPENCLAW_REQUIRE_REGISTRY=1
echo "[test.sh] OPENCLAW_REGISTRY_BIN_DIR=$OPENCLAW_REGISTRY_BIN_DIR"
step_done

step "cargo test --workspace --all-targets"
cargo test --workspace --all-targets
step_done

# --all-targets does not include doctests; run them too (examples must compile).
step "cargo test --workspace --doc"
cargo test --workspace --doc
step_done

shopt -s nullglob
for extra in hack/test-extra.d/*.sh; do
	step "extra: $extra"
	bash "$extra"
	step_done
done
shopt -u nullglob
