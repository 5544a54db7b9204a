# shellcheck shell=bash
# shellcheck disable=SC2034 # variables are used by the scripts that source this file
# Pinned version of helm, built from its Go module by hack/helm/build.sh. Sourced, not run.
#
# helm.sh/helm/v4 has no replace directives in its go.mod, so `go install
# helm.sh/helm/v4/cmd/helm@<version>` builds it with exactly upstream's dependency versions.
# Changing the version builds into a new cache directory on the next run.
HELM_VERSION=v4.3.1
