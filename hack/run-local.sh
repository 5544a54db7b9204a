#!/usr/bin/env bash
# Starts the local Kubernetes cluster (building the control plane on first use,
# which takes about 10 minutes) and prints how to use it. Stop it with
#   hack/control-plane/cluster.sh down
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO_ROOT"
CLUSTER=hack/control-plane/cluster.sh

bash "$CLUSTER" up
eval "$(bash "$CLUSTER" env)"

# Start the operator here once it exists, e.g.:
#   cargo run -p openclaw-operator -- ...
# (it finds the cluster through the KUBECONFIG exported above).

cat <<EOT

The local cluster is running (2 fake kwok nodes; StatefulSet pods become Ready,
PVCs get bound, Job pods succeed). To use it from this shell:

  eval "\$($CLUSTER env)"      # sets KUBECONFIG and puts the pinned kubectl on PATH
  kubectl get nodes
  OPENCLAW_REQUIRE_CLUSTER=1 cargo test -p testkit

More:   $CLUSTER status | logs [NAME] | add-nodes N | kubectl ARGS...
Stop:   $CLUSTER down
Details: docs/development.md
EOT
