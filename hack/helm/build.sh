#!/usr/bin/env bash
# Builds helm at the version pinned in hack/helm/versions.sh from its Go module (through the
# Go module proxy only: no git, no release tarballs) and caches it in
#   $OPENCLAW_CACHE_DIR/helm/<version>/bin/helm      (OPENCLAW_CACHE_DIR: ~/.cache/openclaw-operator)
# A complete cache directory is reused as is; `--force` rebuilds it. Prints the path of the
# helm binary on stdout (progress goes to stderr), so callers can do
#   HELM=$(hack/helm/build.sh)
#
# The compile is time-boxed: OPENCLAW_HELM_BUILD_TIMEOUT seconds (default 1200).
# Go's own caches (GOMODCACHE, GOCACHE) are used normally.
set -euo pipefail

HELM_SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/helm/versions.sh
source "$HELM_SCRIPT_DIR/versions.sh"

CACHE_DIR=${OPENCLAW_CACHE_DIR:-$HOME/.cache/openclaw-operator}
HELM_ROOT=$CACHE_DIR/helm
OUT=$HELM_ROOT/$HELM_VERSION
TIMEOUT=${OPENCLAW_HELM_BUILD_TIMEOUT:-1200}
TMP_OUT=""

log() {
	printf '[helm %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

die() {
	log "ERROR: $*"
	exit 1
}

cleanup() {
	if [[ -n $TMP_OUT ]]; then
		rm -rf "$TMP_OUT"
	fi
}

cached() {
	[[ -f $OUT/.complete && -x $OUT/bin/helm ]]
}

main() {
	local force=0
	case "${1:-}" in
	--force) force=1 ;;
	"") ;;
	*) die "usage: $0 [--force]" ;;
	esac

	if cached && ((force == 0)); then
		printf '%s\n' "$OUT/bin/helm"
		return 0
	fi
	command -v go >/dev/null 2>&1 || die "go is not installed (needed to build helm)"

	mkdir -p "$HELM_ROOT"
	exec 9>"$HELM_ROOT/.build.lock"
	if ! flock -n 9; then
		log "another helm build is running; waiting for it to finish"
		flock 9
	fi
	if cached && ((force == 0)); then
		printf '%s\n' "$OUT/bin/helm"
		return 0
	fi

	export GOTOOLCHAIN=local # never download another Go toolchain
	export CGO_ENABLED=0     # a static, pure-Go binary, as upstream releases it
	export GOFLAGS="-trimpath -buildvcs=false"
	export GOWORK=off
	# Module proxy only: drop "direct" (git) fallbacks.
	local proxy
	proxy=$(go env GOPROXY | tr '|' ',' | tr ',' '\n' | grep -vE '^(direct|off)$' | paste -sd, - || true)
	export GOPROXY=${OPENCLAW_GOPROXY:-${proxy:-https://proxy.golang.org}}

	TMP_OUT=$OUT.tmp.$$
	trap cleanup EXIT
	rm -rf "$TMP_OUT"
	mkdir -p "$TMP_OUT/bin" "$TMP_OUT/logs"
	local start=$SECONDS
	log "building helm $HELM_VERSION with $(go env GOVERSION) into $OUT (cold: a few minutes on 2 cores; limit ${TIMEOUT}s)"
	log "GOPROXY=$GOPROXY GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)"

	# Upstream's Makefile stamps the version the same way; the Kubernetes version that
	# `helm template` assumes comes from the client-go version in the build info.
	local ld="-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION"
	ld+=" -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
	local rc=0
	(cd "$TMP_OUT" && GOBIN="$TMP_OUT/bin" timeout "$TIMEOUT" \
		go install -v -ldflags "$ld" "helm.sh/helm/v4/cmd/helm@$HELM_VERSION") \
		>"$TMP_OUT/logs/build.log" 2>&1 || rc=$?
	if ((rc != 0)); then
		if ((rc == 124)); then
			log "helm build timed out after ${TIMEOUT}s (OPENCLAW_HELM_BUILD_TIMEOUT)"
		fi
		log "helm build FAILED (exit $rc); last lines of the log:"
		tail -n 40 "$TMP_OUT/logs/build.log" >&2
		exit 1
	fi
	local got
	got=$("$TMP_OUT/bin/helm" version --template '{{.Version}}') || die "the built helm does not run"
	[[ $got == "$HELM_VERSION" ]] || die "built helm reports '$got', expected $HELM_VERSION"
	printf '%s built with %s in %ss\n' "$HELM_VERSION" "$(go env GOVERSION)" "$((SECONDS - start))" >"$TMP_OUT/versions.txt"

	rm -rf "$OUT"
	mv "$TMP_OUT" "$OUT"
	TMP_OUT=""
	touch "$OUT/.complete"
	log "helm $HELM_VERSION built in $((SECONDS - start))s: $OUT/bin/helm"
	printf '%s\n' "$OUT/bin/helm"
}

main "$@"
