#!/usr/bin/env bash
# Builds the local control plane at the versions pinned in versions.sh:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kwok
# through the Go module proxy only (no git, no container images, no downloads
# of release tarballs), plus kwok's stage files, into
#   $OPENCLAW_CACHE_DIR/control-plane/<versions-key>/{bin,kwok,logs,versions.txt}
# A complete cache directory is reused as is; `--force` rebuilds it.
#
# Usage: hack/control-plane/build.sh [--force]
#
# Go's own caches (GOMODCACHE, GOCACHE) are used normally, so a rebuild after a
# version bump only compiles what changed.
set -euo pipefail

# shellcheck source=hack/control-plane/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

BG_PID=""
TMP_OUT=""

cleanup() {
	if [[ -n $BG_PID ]] && kill -0 "$BG_PID" 2>/dev/null; then
		kill "$BG_PID" 2>/dev/null || true
		wait "$BG_PID" 2>/dev/null || true
	fi
	if [[ -n $TMP_OUT ]]; then
		rm -rf "$TMP_OUT"
	fi
}

# run_step LABEL LOGFILE KIND TOTAL CMD...
# Runs CMD with its output in LOGFILE and prints a progress line every 30 s.
# KIND is "build" (count compiled packages; go build -v prints one line per
# package) or "download" (count `go: downloading` lines). TOTAL, if > 0, is the
# expected number of packages.
run_step() {
	local label=$1 logf=$2 kind=$3 total=$4
	shift 4
	local start=$SECONDS next=$((SECONDS + 30)) rc=0 n progress
	log "$label ..."
	"$@" >"$logf" 2>&1 &
	BG_PID=$!
	while kill -0 "$BG_PID" 2>/dev/null; do
		sleep 1
		if ((SECONDS >= next)); then
			next=$((SECONDS + 30))
			if [[ $kind == download ]]; then
				n=$(grep -c '^go: downloading' "$logf" || true)
				progress="$n modules downloaded"
			else
				n=$(grep -cv '^go: ' "$logf" || true)
				progress="$n packages compiled"
				if ((total > 0)); then
					progress="$n of ~$total packages compiled"
				fi
			fi
			log "    $label: $progress, $(fmt_duration $((SECONDS - start))) elapsed"
		fi
	done
	wait "$BG_PID" || rc=$?
	BG_PID=""
	if ((rc != 0)); then
		log "$label FAILED (exit $rc). Last lines of $logf:"
		tail -n 40 "$logf" >&2
		exit "$rc"
	fi
	log "$label: done in $(fmt_duration $((SECONDS - start)))"
}

# json_field NAME: the string value of "NAME" in `go mod download -json` output on stdin.
json_field() {
	sed -n "s/^[[:space:]]*\"$1\": \"\\(.*\\)\",\\{0,1\\}\$/\\1/p" | head -n 1
}

# Kubernetes: a throw-away main module that requires k8s.io/kubernetes and
# replaces every staging module (which k8s.io/kubernetes maps to ./staging/...
# and requires at the non-existent v0.0.0) with its published v0.X.Y tag.
build_kubernetes() {
	local work=$1 bin=$2 logs=$3
	local staging_version="v0.${K8S_VERSION#1.}"
	local minor
	minor=$(cut -d. -f2 <<<"$K8S_VERSION")
	local cmds=(
		k8s.io/kubernetes/cmd/kube-apiserver
		k8s.io/kubernetes/cmd/kube-controller-manager
		k8s.io/kubernetes/cmd/kube-scheduler
		k8s.io/kubernetes/cmd/kubectl
	)

	mkdir -p "$work"
	cd "$work"
	log "kubernetes: fetching k8s.io/kubernetes@v$K8S_VERSION metadata"
	local meta upstream_mod upstream_info
	meta=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION")
	upstream_mod=$(json_field GoMod <<<"$meta")
	upstream_info=$(json_field Info <<<"$meta")
	[[ -f $upstream_mod && -f $upstream_info ]] || die "could not download k8s.io/kubernetes@v$K8S_VERSION"

	go mod init openclaw.local/control-plane/kubernetes >/dev/null 2>&1
	# Keep upstream's runtime defaults: GODEBUG follows the main module.
	local godebug
	godebug=$(sed -n 's/^godebug \(default=.*\)$/\1/p' "$upstream_mod")
	if [[ -n $godebug ]]; then
		go mod edit -godebug="$godebug"
	fi
	# Derive the staging module list from upstream's go.mod of this exact release.
	local edits=() m
	while read -r m; do
		edits+=("-replace=$m=$m@$staging_version")
	done < <(sed -n 's#^[[:space:]]*\(k8s\.io/[A-Za-z0-9._-]*\) => \./staging/src/.*#\1#p' "$upstream_mod")
	((${#edits[@]} > 0)) || die "no staging replace directives found in $upstream_mod"
	go mod edit "${edits[@]}"
	log "kubernetes: ${#edits[@]} staging modules pinned to $staging_version"

	local tools=() c
	for c in "${cmds[@]}"; do
		tools+=("$c@v$K8S_VERSION")
	done
	run_step "kubernetes: resolving and downloading modules" "$logs/kubernetes-get.log" download 0 \
		go get -tool "${tools[@]}"

	local graph_etcd
	graph_etcd=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/client/v3 2>/dev/null || true)
	if [[ -n $graph_etcd && $graph_etcd != "$ETCD_VERSION" ]]; then
		log "WARNING: k8s v$K8S_VERSION uses etcd client $graph_etcd but versions.sh pins etcd $ETCD_VERSION"
	fi

	# Version stamping, the same variables as upstream's hack/lib/version.sh.
	local commit build_date ld p
	commit=$(sed -n 's/.*"Hash":"\([0-9a-f]*\)".*/\1/p' "$upstream_info")
	build_date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$upstream_info")
	ld="-s -w"
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ld+=" -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
		ld+=" -X $p.gitCommit=${commit:-unknown} -X $p.gitTreeState=clean"
		ld+=" -X $p.buildDate=${build_date:-1970-01-01T00:00:00Z}"
	done

	local total
	total=$(go list -deps "${cmds[@]}" | wc -l)
	run_step "kubernetes: compiling ${cmds[*]##*/}" "$logs/kubernetes-build.log" build "$total" \
		go build -v -tags selinux,notest -ldflags "$ld" -o "$bin/" "${cmds[@]}"
}

# etcd: its own throw-away module, so its dependency graph stays separate.
# (go install go.etcd.io/etcd/server/v3@... fails: its go.mod has replaces.)
build_etcd() {
	local work=$1 bin=$2 logs=$3
	mkdir -p "$work"
	cd "$work"
	go mod init openclaw.local/control-plane/etcd >/dev/null 2>&1
	run_step "etcd: resolving and downloading modules" "$logs/etcd-get.log" download 0 \
		go get -tool "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
	local total
	total=$(go list -deps go.etcd.io/etcd/server/v3 | wc -l)
	# The etcd version is a constant in go.etcd.io/etcd/api/v3/version: no -X needed.
	run_step "etcd: compiling etcd $ETCD_VERSION" "$logs/etcd-build.log" build "$total" \
		go build -v -ldflags "-s -w" -o "$bin/etcd" go.etcd.io/etcd/server/v3
}

# kwok: kwok's go.mod has no replace directives, so `go install pkg@version`
# works and builds with exactly kwok's own dependency versions. Its version
# is a constant in sigs.k8s.io/kwok/pkg/consts.
build_kwok() {
	local work=$1 bin=$2 logs=$3
	mkdir -p "$work"
	cd "$work"
	run_step "kwok: compiling kwok $KWOK_VERSION" "$logs/kwok-build.log" build 0 \
		env GOBIN="$bin" go install -v -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
	[[ -x $bin/kwok ]] || die "kwok binary missing after go install"
}

# kwok v0.8.0 has no built-in stages: take upstream's from the module source.
#   node-initialize, node-heartbeat-with-lease: nodes become and stay Ready
#   pod-ready: pods on kwok nodes become Running and Ready
#   pod-complete: Running pods owned by a Job succeed (exit code 0)
#   pod-delete: pods with a deletionTimestamp are removed (no kubelet to do it)
#   pvc-provision, pv-bind, pv-delete, pvc-delete: a fake provisioner for the
#     "kwok-volume" StorageClass (made the default class by `up`)
install_kwok_stages() {
	local kwok_dir=$1 out=$2
	local stage_dir=$kwok_dir/kustomize/stage
	local f
	local files=(
		node/fast/node-initialize.yaml
		node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
		pod/fast/pod-ready.yaml
		pod/fast/pod-complete.yaml
		pod/fast/pod-delete.yaml
		volume/fast/pvc-provision.yaml
		volume/fast/pv-bind.yaml
		volume/fast/pv-delete.yaml
		volume/fast/pvc-delete.yaml
	)
	mkdir -p "$out"
	{
		echo "# kwok $KWOK_VERSION stages, concatenated by hack/control-plane/build.sh from"
		echo "# sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage/"
		for f in "${files[@]}"; do
			[[ -f $stage_dir/$f ]] || die "kwok stage file missing: $stage_dir/$f"
			echo "---"
			echo "# $f"
			cat "$stage_dir/$f"
		done
	} >"$out/stages.yaml"
	[[ -f $stage_dir/volume/fast/storage-class.yaml ]] || die "kwok storage class missing"
	cat "$stage_dir/volume/fast/storage-class.yaml" >"$out/storage-class.yaml"
	log "kwok: ${#files[@]} stages written to $out/stages.yaml"
}

main() {
	local force=0
	case "${1:-}" in
	--force) force=1 ;;
	"") ;;
	*) die "usage: $0 [--force]" ;;
	esac

	local out
	out=$(cp_build_dir)
	if [[ -f $out/.complete && $force == 0 ]]; then
		log "control-plane binaries are cached: $out"
		return 0
	fi

	mkdir -p "$CP_CACHE_ROOT"
	exec 9>"$CP_CACHE_ROOT/.build.lock"
	if ! flock -n 9; then
		log "another build is running; waiting for it to finish"
		flock 9
	fi
	if [[ -f $out/.complete && $force == 0 ]]; then
		log "control-plane binaries are cached: $out"
		return 0
	fi

	export GOTOOLCHAIN=local # never download another Go toolchain
	export CGO_ENABLED=0     # static, pure-Go binaries (as upstream builds the servers)
	export GOFLAGS="-trimpath -buildvcs=false -mod=mod"
	export GOWORK=off
	# Module proxy only: drop "direct" (git) fallbacks.
	local proxy
	proxy=$(go env GOPROXY | tr '|' ',' | tr ',' '\n' | grep -vE '^(direct|off)$' | paste -sd, - || true)
	export GOPROXY=${OPENCLAW_GOPROXY:-${proxy:-https://proxy.golang.org}}

	local start=$SECONDS
	TMP_OUT=$out.tmp.$$
	trap cleanup EXIT
	rm -rf "$TMP_OUT"
	mkdir -p "$TMP_OUT/bin" "$TMP_OUT/kwok" "$TMP_OUT/logs" "$TMP_OUT/work"
	log "building the control plane (Kubernetes v$K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION, $(go_version))"
	log "output: $out (logs in $out/logs). A cold build takes about 12 minutes on 2 cores; a rebuild with warm Go caches about 1."
	log "GOPROXY=$GOPROXY GOMODCACHE=$(go env GOMODCACHE) GOCACHE=$(go env GOCACHE)"

	build_kubernetes "$TMP_OUT/work/kubernetes" "$TMP_OUT/bin" "$TMP_OUT/logs"
	build_etcd "$TMP_OUT/work/etcd" "$TMP_OUT/bin" "$TMP_OUT/logs"

	local kwok_dir
	kwok_dir=$(cd "$TMP_OUT/work" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | json_field Dir)
	[[ -d $kwok_dir ]] || die "could not download sigs.k8s.io/kwok@$KWOK_VERSION"
	build_kwok "$TMP_OUT/work/kwok" "$TMP_OUT/bin" "$TMP_OUT/logs"
	install_kwok_stages "$kwok_dir" "$TMP_OUT/kwok"

	cd "$TMP_OUT"
	rm -rf "$TMP_OUT/work"

	# Smoke test: every binary runs and reports the pinned version.
	local b="$TMP_OUT/bin" apiserver_v etcd_v kwok_v versions
	apiserver_v=$("$b/kube-apiserver" --version)
	[[ $apiserver_v == "Kubernetes v$K8S_VERSION" ]] || die "kube-apiserver reports '$apiserver_v', expected v$K8S_VERSION"
	etcd_v=$("$b/etcd" --version)
	[[ $etcd_v == *"etcd Version: ${ETCD_VERSION#v}"* ]] || die "etcd reports '$etcd_v', expected ${ETCD_VERSION#v}"
	kwok_v=$("$b/kwok" --version 2>&1 || true)
	versions=$(
		echo "# Kubernetes v$K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION, built with $(go_version)"
		echo "kube-apiserver: $apiserver_v"
		echo "kube-controller-manager: $("$b/kube-controller-manager" --version)"
		echo "kube-scheduler: $("$b/kube-scheduler" --version)"
		echo "kubectl: $("$b/kubectl" version --client | tr '\n' ' ')"
		echo "etcd: $(sed -n 1p <<<"$etcd_v")"
		echo "kwok: $(sed -n 1p <<<"$kwok_v")"
	)
	printf '%s\n' "$versions" >"$TMP_OUT/versions.txt"
	printf '%s\n' "$versions" | sed 's/^/    /' >&2

	rm -rf "$out"
	mv "$TMP_OUT" "$out"
	TMP_OUT=""
	touch "$out/.complete"
	log "control plane built in $(fmt_duration $((SECONDS - start))): $out ($(du -sh "$out/bin" | cut -f1))"
}

main "$@"
