#!/usr/bin/env bash
# Fetches the third-party CRDs the optional features write (ServiceMonitor, PrometheusRule,
# Gateway API HTTPRoute, Traefik Middleware) from their Go modules through the Go module proxy,
# like the control plane, into $OPENCLAW_CACHE_DIR/crds/<version key>/ and prints that dir.
# The cluster tests install them (testkit::install_third_party_crds). Cached by version.
set -euo pipefail

CACHE=${OPENCLAW_CACHE_DIR:-$HOME/.cache/openclaw-operator}
# module@version path-in-module ...
SOURCES=(
	"sigs.k8s.io/gateway-api@v1.2.1 config/crd/standard/gateway.networking.k8s.io_httproutes.yaml"
	"github.com/prometheus-operator/prometheus-operator@v0.79.2 example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"
	"github.com/prometheus-operator/prometheus-operator@v0.79.2 example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"
	"github.com/traefik/traefik/v3@v3.3.4 docs/content/reference/dynamic-configuration/traefik.io_middlewares.yaml"
)
KEY=gateway-api-1.2.1_prometheus-operator-0.79.2_traefik-3.3.4
OUT=$CACHE/crds/$KEY
if [[ -f $OUT/.complete ]]; then
	echo "$OUT"
	exit 0
fi

command -v go >/dev/null || {
	echo "fetch.sh: go is needed to download the CRDs" >&2
	exit 1
}
export GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=mod
proxy=$(go env GOPROXY | tr '|' ',' | tr ',' '\n' | grep -vE '^(direct|off)$' | paste -sd, - || true)
export GOPROXY=${OPENCLAW_GOPROXY:-${proxy:-https://proxy.golang.org}}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/mod" "$tmp/out"
for source in "${SOURCES[@]}"; do
	read -r module path <<<"$source"
	dir=$(cd "$tmp/mod" && go mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	[[ -n $dir && -f $dir/$path ]] || {
		echo "fetch.sh: $module has no $path" >&2
		exit 1
	}
	cp "$dir/$path" "$tmp/out/"
	chmod u+w "$tmp/out/$(basename "$path")"
	echo "# from $module $path" >"$tmp/out/$(basename "$path").source"
done
mkdir -p "$(dirname "$OUT")"
rm -rf "$OUT"
cp -r "$tmp/out" "$OUT"
touch "$OUT/.complete"
echo "$OUT"
