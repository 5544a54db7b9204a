#!/usr/bin/env bash
# Builds the S3 tools of the backup tests at the versions pinned in hack/s3/versions.sh, from
# their Go modules through the Go module proxy only (no git, no release downloads):
#   versitygw  the S3 server (github.com/versity/versitygw/cmd/versitygw), POSIX backend
#   rclone     the backup client the Jobs run (github.com/rclone/rclone)
# into
#   $OPENCLAW_CACHE_DIR/s3/<key>/{bin,logs,versions.txt}   (OPENCLAW_CACHE_DIR: ~/.cache/openclaw-operator)
# where <key> names both versions, the Go version and a hash of this script and versions.sh, so
# any change to how the tools are built lands in a fresh directory. A complete cache directory
# is reused as is.
#
# Usage:
#   hack/s3/build.sh [--force]      build (or reuse) and print the bin dir on stdout
#   hack/s3/build.sh --print-bin-dir
#                                   print the bin dir without building; exit 1 if not built yet
#
# Progress goes to stderr. On 2 cores a cold build (empty Go build cache, modules downloaded)
# takes about 2 minutes for versitygw and 5 for rclone; a rebuild with warm Go caches (after an
# edit of this file) seconds. See docs/development.md.
# Each compile is time-boxed: OPENCLAW_S3_BUILD_TIMEOUT seconds (default 1800).
# Go's own caches (GOMODCACHE, GOCACHE) are used normally.
set -euo pipefail

S3_SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=hack/s3/versions.sh
source "$S3_SCRIPT_DIR/versions.sh"

# absolute PATH: makes a relative path absolute (as hack/control-plane/lib.sh does).
absolute() {
	case "$1" in
	/*) printf '%s' "$1" ;;
	*) printf '%s/%s' "$PWD" "$1" ;;
	esac
}

CACHE_DIR=$(absolute "${OPENCLAW_CACHE_DIR:-$HOME/.cache/openclaw-operator}")
S3_ROOT=$CACHE_DIR/s3
TIMEOUT=${OPENCLAW_S3_BUILD_TIMEOUT:-1800}
VERSITYGW_PKG=github.com/versity/versitygw/cmd/versitygw
RCLONE_PKG=github.com/rclone/rclone
BG_PID=""
TMP_OUT=""

log() {
	printf '[s3-tools %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
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
	command -v go >/dev/null 2>&1 || die "go is not installed (needed to build the S3 tools)"
	go env GOVERSION
}

# Directory name of the cache for the pinned versions (the scheme of hack/control-plane/lib.sh).
versions_key() {
	local hash
	hash=$(cat "$S3_SCRIPT_DIR/versions.sh" "$S3_SCRIPT_DIR/build.sh" | sha256sum | cut -c1-10)
	printf 'versitygw-%s_rclone-%s_%s_%s' "$VERSITYGW_VERSION" "$RCLONE_VERSION" "$(go_version)" "$hash"
}

cached() {
	[[ -f $1/.complete && -x $1/bin/versitygw && -x $1/bin/rclone ]]
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
			log "$label timed out after ${TIMEOUT}s (OPENCLAW_S3_BUILD_TIMEOUT)"
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

build_versitygw() {
	local bin=$1 logs=$2 dir meta build_time total ld
	meta=$(cd "$TMP_OUT/work" && go mod download -json "github.com/versity/versitygw@$VERSITYGW_VERSION")
	dir=$(json_field Dir <<<"$meta")
	[[ -d $dir ]] || die "could not download github.com/versity/versitygw@$VERSITYGW_VERSION"
	build_time=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$(json_field Info <<<"$meta")")
	total=$(package_count "$dir" ./cmd/versitygw)
	# Upstream's Makefile stamps main.Version, main.Build (the git commit: not in the module
	# proxy's data, so left at its default) and main.BuildTime (here: the tag's time).
	ld="-s -w -X main.Version=$VERSITYGW_VERSION -X main.BuildTime=${build_time:-none}"
	compile "versitygw $VERSITYGW_VERSION" "$logs/versitygw-build.log" "$total" \
		env GOBIN="$bin" go install -v -ldflags "$ld" "$VERSITYGW_PKG@$VERSITYGW_VERSION"
	[[ -x $bin/versitygw ]] || die "versitygw binary missing after go install"
}

build_rclone() {
	local bin=$1 logs=$2 dir total
	dir=$(module_dir "github.com/rclone/rclone@$RCLONE_VERSION")
	total=$(package_count "$dir" .)
	# Without fs.Version the binary calls itself "v1.76.0-DEV" (fs.VersionSuffix); upstream's
	# Makefile stamps the tag, as here.
	compile "rclone $RCLONE_VERSION" "$logs/rclone-build.log" "$total" \
		env GOBIN="$bin" go install -v -ldflags "-s -w -X github.com/rclone/rclone/fs.Version=$RCLONE_VERSION" \
		"$RCLONE_PKG@$RCLONE_VERSION"
	[[ -x $bin/rclone ]] || die "rclone binary missing after go install"
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
	out=$S3_ROOT/$(versions_key)
	if ((print_only)); then
		cached "$out" || die "the S3 tools are not built yet ($out); run hack/s3/build.sh"
		printf '%s\n' "$out/bin"
		return 0
	fi
	if cached "$out" && ((force == 0)); then
		log "S3 tools are cached: $out"
		printf '%s\n' "$out/bin"
		return 0
	fi

	mkdir -p "$S3_ROOT"
	exec 9>"$S3_ROOT/.build.lock"
	if ! flock -n 9; then
		log "another build is running; waiting for it to finish"
		flock 9
	fi
	if cached "$out" && ((force == 0)); then
		log "S3 tools are cached: $out"
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
	log "building versitygw $VERSITYGW_VERSION and rclone $RCLONE_VERSION with $(go_version)"
	log "output: $out (logs in $out/logs). Cold on 2 cores: about 2 + 5 minutes; with warm Go caches seconds."
	log "GOPROXY=$GOPROXY GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)"

	build_versitygw "$TMP_OUT/bin" "$TMP_OUT/logs"
	build_rclone "$TMP_OUT/bin" "$TMP_OUT/logs"
	rm -rf "$TMP_OUT/work"

	# Smoke test: both run and report the pinned versions.
	local b=$TMP_OUT/bin vgw_v rclone_v
	vgw_v=$("$b/versitygw" --version 2>&1) || die "the built versitygw does not run"
	grep -q "^Version *: $VERSITYGW_VERSION\$" <<<"$vgw_v" || die "versitygw reports '$vgw_v', expected $VERSITYGW_VERSION"
	rclone_v=$("$b/rclone" version 2>&1 | head -n 1) || die "the built rclone does not run"
	[[ $rclone_v == "rclone $RCLONE_VERSION" ]] || die "rclone reports '$rclone_v', expected $RCLONE_VERSION"
	{
		echo "# versitygw $VERSITYGW_VERSION, rclone $RCLONE_VERSION, built with $(go_version)"
		echo "versitygw: $(tr '\n' ' ' <<<"$vgw_v")"
		echo "rclone: $rclone_v"
		echo "build seconds: versitygw $(cat "$TMP_OUT/logs/versitygw-build.log.seconds"), rclone $(cat "$TMP_OUT/logs/rclone-build.log.seconds")"
	} >"$TMP_OUT/versions.txt"
	sed 's/^/    /' "$TMP_OUT/versions.txt" >&2

	rm -rf "$out"
	mv "$TMP_OUT" "$out"
	TMP_OUT=""
	touch "$out/.complete"
	log "S3 tools built in $(fmt_duration $((SECONDS - start))): $out/bin ($(du -sh "$out/bin" | cut -f1))"
	printf '%s\n' "$out/bin"
}

main "$@"
