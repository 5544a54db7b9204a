#!/usr/bin/env bash
# A small run of the scale harness (docs/performance.md): 20 instances, a 20-second steady
# window. Fails if an instance does not become Running, if the operator sends any write in the
# steady window, or if the cleanup does not finish. Uses the debug build of `cargo test`.
set -euo pipefail
PROFILE=${PROFILE:-debug} STEADY_SECS=${STEADY_SECS:-20} SETTLE_SECS=${SETTLE_SECS:-10} \
	NAMESPACES=${NAMESPACES:-4} TIMEOUT_SECS=${TIMEOUT_SECS:-300} \
	exec bash hack/scale/run.sh 20
