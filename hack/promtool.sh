#!/usr/bin/env bash
# Fetches promtool from Debian's `prometheus` package without installing the package (no
# service user, no daemon, no root needed): `apt-get download` the .deb, `dpkg-deb -x` it into a
# scratch directory and keep only usr/bin/promtool, cached in
#   $OPENCLAW_CACHE_DIR/promtool/<version>/promtool   (OPENCLAW_CACHE_DIR: ~/.cache/openclaw-operator)
# Prints the path of promtool on stdout (progress goes to stderr), so callers can do
#   PROMTOOL=$(hack/promtool.sh)
# A cached binary is reused as is; `--force` fetches it again. Exit 2: apt cannot provide the
# package here (no apt, no candidate, or the download failed).
#
# Environment: OPENCLAW_PROMTOOL_VERSION (a Debian version of `prometheus`; default: the
# candidate of `apt-cache policy prometheus`, 2.42.0+ds-5+deb12u1 on bookworm).
set -euo pipefail

CACHE_DIR=${OPENCLAW_CACHE_DIR:-$HOME/.cache/openclaw-operator}
ROOT=$CACHE_DIR/promtool
TMP_DIR=""

log() {
	printf '[promtool %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

unavailable() {
	log "unavailable: $*"
	exit 2
}

cleanup() {
	if [[ -n $TMP_DIR ]]; then
		rm -rf "$TMP_DIR"
	fi
}

main() {
	local force=0
	case "${1:-}" in
	--force) force=1 ;;
	"") ;;
	*)
		log "usage: $0 [--force]"
		exit 1
		;;
	esac
	command -v apt-cache >/dev/null 2>&1 || unavailable "apt-cache not found (not a Debian system)"
	command -v dpkg-deb >/dev/null 2>&1 || unavailable "dpkg-deb not found"

	local version=${OPENCLAW_PROMTOOL_VERSION:-}
	if [[ -z $version ]]; then
		version=$(apt-cache policy prometheus 2>/dev/null | awk '/Candidate:/ {print $2}')
	fi
	if [[ -z $version || $version == "(none)" ]] && [[ $(id -u) == 0 ]]; then
		# A fresh machine may have no package lists yet (hack/openclaw/install.sh does the same).
		log "no candidate for prometheus: apt-get update"
		apt-get update -qq >&2 || true
		version=$(apt-cache policy prometheus 2>/dev/null | awk '/Candidate:/ {print $2}')
	fi
	[[ -n $version && $version != "(none)" ]] ||
		unavailable "apt-cache policy prometheus shows no candidate (apt-get update, or add Debian main)"
	local out=$ROOT/$version
	if [[ -x $out/promtool && $force == 0 ]]; then
		printf '%s\n' "$out/promtool"
		return 0
	fi

	mkdir -p "$ROOT"
	exec 9>"$ROOT/.fetch.lock"
	flock 9
	if [[ -x $out/promtool && $force == 0 ]]; then
		printf '%s\n' "$out/promtool"
		return 0
	fi
	TMP_DIR=$(mktemp -d "$ROOT/.fetch.XXXXXX")
	trap cleanup EXIT
	log "downloading prometheus=$version with apt-get download"
	if ! (cd "$TMP_DIR" && apt-get download -q "prometheus=$version" >"$TMP_DIR/download.log" 2>&1); then
		cat "$TMP_DIR/download.log" >&2
		unavailable "apt-get download prometheus=$version failed"
	fi
	local deb
	deb=$(find "$TMP_DIR" -maxdepth 1 -name 'prometheus_*.deb' -print -quit)
	[[ -n $deb ]] || unavailable "apt-get download left no .deb"
	dpkg-deb -x "$deb" "$TMP_DIR/root"
	[[ -x $TMP_DIR/root/usr/bin/promtool ]] || unavailable "the package has no usr/bin/promtool"
	rm -rf "$out"
	mkdir -p "$out"
	mv "$TMP_DIR/root/usr/bin/promtool" "$out/promtool"
	log "promtool $("$out/promtool" --version 2>&1 | awk 'NR == 1 {print $3}') cached in $out"
	printf '%s\n' "$out/promtool"
}

main "$@"
