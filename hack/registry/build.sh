#!/usr/bin/env bash
# Builds the OCI registry tools of the registry resolver's tests at the versions pinned in
# hack/registry/versions.sh, from their Go modules through the Go module proxy only (no git, no
# release downloads):
#   registry  CNCF Distribution (github.com/distribution/distribution/v3/cmd/registry)
#   crane     the client the tests push, tag and delete with
#             (github.com/google/go-containerregistry/cmd/crane)
# into
#   $OPENCLAW_CACHE_DIR/registry/<key>/{bin,logs,versions.txt}   (OPENCLAW_CACHE_DIR: ~/.cache/openclaw-operator)
# where <key> names both versions, the Go version and a hash of this script and versions.sh, so
# any change to how the tools are built lands in a fresh directory. A complete cache directory
# is reused as is.
#
# Usage:
#   hack/registry/build.sh [--force]   build (or reuse) and print the bin dir on stdout
#   hack/registry/build.sh --print-bin-dir
#                                      print the bin dir without building; exit 1 if not built yet
#
# Progress goes to stderr. On 2 cores a cold build (empty Go build cache, modules downloaded)
# takes about 2.5 minutes (registry 115 s, crane 10 s, downloads 15 s); a rebuild with warm Go
# caches (after an edit of this file) about 10 s.
# See docs/development.md. Each compile is time-boxed: OPENCLAW_REGISTRY_BUILD_TIMEOUT seconds
# (default 1800). Go's own caches (GOMODCACHE, GOCACHE) are used normally.
set -euo pipefail

REGISTRY_SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/registry/versions.sh
source "$REGISTRY_SCRIPT_DIR/versions.sh"

# absolute PATH: makes a relative path absolute (as hack/control-plane/lib.sh does).
absolute() {
	case "$1" in
	/*) printf '%s' "$1" ;;
	*) printf '%s/%s' "$PWD" "$1" ;;
	esac
}

CACHE_DIR=$(absolute "${OPENCLAW_CACHE_DIR:-$HOME/.cache/openclaw-operator}")
REGISTRY_ROOT=$CACHE_DIR/registry
TIMEOUT=${OPENCLAW_REGISTRY_BUILD_TIMEOUT:-1800}
REGISTRY_PKG=github.com/distribution/distribution/v3/cmd/registry
CRANE_PKG=github.com/google/go-containerregistry/cmd/crane
BG_PID=""
TMP_OUT=""

log() {
	printf '[registry-tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

die() {
	log "ERROR: $*"
	exit 1
}

# Formats a number of seconds as "3m07s".
fmt_duration() {
	printf '%dm%02ds' $(($1 / 60)) $(($1 % 60))
}

cleanup() {
	if [[ -n $BG_PID ]] && kill -0 "$BG_PID" 2>/dev/null; then
		kill "$BG_PID" 2>/dev/null || true
		wait "$BG_PID" 2>/dev/null || true
	fi
	if [[ -n $TMP_OUT ]]; then
		rm -rf "$TMP_OUT"
	fi
}

go_version() {
	command -v go >/dev/null 2>&1 || die "go is not installed (needed to build the registry tools)"
	go env GOVERSION
}

# Directory name of the cache for the pinned versions (the scheme of hack/control-plane/lib.sh).
versions_key() {
	local hash
	hash=$(cat "$REGISTRY_SCRIPT_DIR/versions.sh" "$REGISTRY_SCRIPT_DIR/build.sh" | sha256sum | cut -c1-10)
	printf 'distribution-%s_crane-%s_%s_%s' "$DISTRIBUTION_VERSION" "$CRANE_VERSION" "$(go_version)" "$hash"
}

cached() {
	[[ -f $1/.complete && -x $1/bin/registry && -x $1/bin/crane ]]
}

# json_field NAME: the string value of "NAME" in `go mod download -json` output on stdin.
json_field() {
	sed -n "s/^[[:space:]]*\"$1\": \"\\(.*\\)\",\\{0,1\\}\$/\\1/p" | head -n 1
}

# module_dir MODULE@VERSION: downloads the module (a no-op when cached) and prints its dir.
module_dir() {
	local dir
	dir=$(cd "$TMP_OUT/work" && go mod download -json "$1" | json_field Dir)
	[[ -d $dir ]] || die "could not download $1"
	printf '%s' "$dir"
}

# compile LABEL LOGFILE TOTAL CMD...: runs CMD (a `go install -v`, which prints one line per
# package it compiles) with its output in LOGFILE, under the time limit, and prints a progress
# line every 30 s. TOTAL is the package count of the dependency graph (an upper bound: packages
# already in the Go build cache are not compiled again).
compile() {
	local label=$1 logf=$2 total=$3
	shift 3
	local start=$SECONDS next=$((SECONDS + 30)) rc=0 n
	log "$label ..."
	timeout "$TIMEOUT" "$@" >"$logf" 2>&1 &
	BG_PID=$!
	while kill -0 "$BG_PID" 2>/dev/null; do
		sleep 1
		if ((SECONDS >= next)); then
			next=$((SECONDS + 30))
			n=$(grep -cv '^go: ' "$logf" || true)
			log "    $label: $n of at most $total packages compiled, $(fmt_duration $((SECONDS - start))) elapsed"
		fi
	done
	wait "$BG_PID" || rc=$?
	BG_PID=""
	if ((rc != 0)); then
		if ((rc == 124)); then
			log "$label timed out after ${TIMEOUT}s (OPENCLAW_REGISTRY_BUILD_TIMEOUT)"
		fi
		log "$label FAILED (exit $rc). Last lines of $logf:"
		tail -n 40 "$logf" >&2
		exit 1
	fi
	log "$label: done in $(fmt_duration $((SECONDS - start)))"
	printf '%s' $((SECONDS - start)) >"$logf.seconds"
}

# package_count DIR PACKAGE: how many packages PACKAGE depends on (itself and std included).
package_count() {
	(cd "$1" && GOFLAGS=-mod=readonly go list -deps "$2" 2>/dev/null | wc -l) || echo "?"
}

build_registry() {
	local bin=$1 logs=$2 dir total
	dir=$(module_dir "github.com/distribution/distribution/v3@$DISTRIBUTION_VERSION")
	total=$(package_count "$dir" ./cmd/registry)
	# Upstream's Makefile stamps version.version (the tag) and version.revision (the git commit:
	# not in the module proxy's data, so left empty).
	compile "registry $DISTRIBUTION_VERSION" "$logs/registry-build.log" "$total" \
		env GOBIN="$bin" go install -v \
		-ldflags "-s -w -X github.com/distribution/distribution/v3/version.version=$DISTRIBUTION_VERSION" \
		"$REGISTRY_PKG@$DISTRIBUTION_VERSION"
	[[ -x $bin/registry ]] || die "registry binary missing after go install"
}

build_crane() {
	local bin=$1 logs=$2 dir total
	dir=$(module_dir "github.com/google/go-containerregistry@$CRANE_VERSION")
	total=$(package_count "$dir" ./cmd/crane)
	# crane reports its version from the module's build info (go install pkg@version sets it).
	compile "crane $CRANE_VERSION" "$logs/crane-build.log" "$total" \
		env GOBIN="$bin" go install -v -ldflags "-s -w" "$CRANE_PKG@$CRANE_VERSION"
	[[ -x $bin/crane ]] || die "crane binary missing after go install"
}

main() {
	local force=0 print_only=0
	case "${1:-}" in
	--force) force=1 ;;
	--print-bin-dir) print_only=1 ;;
	"") ;;
	*) die "usage: $0 [--force | --print-bin-dir]" ;;
	esac

	local out
	out=$REGISTRY_ROOT/$(versions_key)
	if ((print_only)); then
		cached "$out" || die "the registry tools are not built yet ($out); run hack/registry/build.sh"
		printf '%s\n' "$out/bin"
		return 0
	fi
	if cached "$out" && ((force == 0)); then
		log "registry tools are cached: $out"
		printf '%s\n' "$out/bin"
		return 0
	fi

	mkdir -p "$REGISTRY_ROOT"
	exec 9>"$REGISTRY_ROOT/.build.lock"
	if ! flock -n 9; then
		log "another build is running; waiting for it to finish"
		flock 9
	fi
	if cached "$out" && ((force == 0)); then
		log "registry tools are cached: $out"
		printf '%s\n' "$out/bin"
		return 0
	fi

	export GOTOOLCHAIN=local # never download another Go toolchain
	export CGO_ENABLED=0     # static, pure-Go binaries, as upstream releases them
	export GOFLAGS="-trimpath -buildvcs=false"
	export GOWORK=off
	# Module proxy only: drop "direct" (git) fallbacks.
	local proxy
	proxy=$(go env GOPROXY | tr '|' ',' | tr ',' '\n' | grep -vE '^(direct|off)$' | paste -sd, - || true)
	export GOPROXY=${OPENCLAW_GOPROXY:-${proxy:-https://proxy.golang.org}}

	local start=$SECONDS
	TMP_OUT=$out.tmp.$$
	trap cleanup EXIT
	rm -rf "$TMP_OUT"
	mkdir -p "$TMP_OUT/bin" "$TMP_OUT/logs" "$TMP_OUT/work"
	log "building registry $DISTRIBUTION_VERSION and crane $CRANE_VERSION with $(go_version)"
	log "output: $out (logs in $out/logs). Cold on 2 cores: about 2.5 minutes; with warm Go caches about 10 s."
	log "GOPROXY=$GOPROXY GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)"

	build_registry "$TMP_OUT/bin" "$TMP_OUT/logs"
	build_crane "$TMP_OUT/bin" "$TMP_OUT/logs"
	rm -rf "$TMP_OUT/work"

	# Smoke test: both run and report the pinned versions.
	local b=$TMP_OUT/bin registry_v crane_v
	registry_v=$("$b/registry" --version 2>&1 | awk '{print $2, $3}') || die "the built registry does not run"
	grep -qF "$DISTRIBUTION_VERSION" <<<"$registry_v" || die "registry reports '$registry_v', expected $DISTRIBUTION_VERSION"
	crane_v=$("$b/crane" version 2>&1) || die "the built crane does not run"
	[[ $crane_v == "$CRANE_VERSION" || $crane_v == "${CRANE_VERSION#v}" ]] || die "crane reports '$crane_v', expected $CRANE_VERSION"
	{
		echo "# registry $DISTRIBUTION_VERSION, crane $CRANE_VERSION, built with $(go_version)"
		echo "registry: $registry_v"
		echo "crane: $crane_v"
		echo "build seconds: registry $(cat "$TMP_OUT/logs/registry-build.log.seconds"), crane $(cat "$TMP_OUT/logs/crane-build.log.seconds")"
	} >"$TMP_OUT/versions.txt"
	sed 's/^/    /' "$TMP_OUT/versions.txt" >&2

	rm -rf "$out"
	mv "$TMP_OUT" "$out"
	TMP_OUT=""
	touch "$out/.complete"
	log "registry tools built in $(fmt_duration $((SECONDS - start))): $out/bin ($(du -sh "$out/bin" | cut -f1))"
	printf '%s\n' "$out/bin"
}

main "$@"
