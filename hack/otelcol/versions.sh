# shellcheck shell=bash
# shellcheck disable=SC2034 # variables are used by the scripts that source this file
# Pinned versions of the OpenTelemetry Collector the telemetry tests run, built from its Go
# modules by hack/otelcol/build.sh. Sourced, not run.
#
# Changing anything here (or in build.sh) changes the cache key, so the next build lands in a
# new cache directory. The three versions are one Collector release and must move together:
# every core release v0.N.0 ships its stable modules (component, confmap, pdata, ...) as
# v1.(N-94).0, and the contrib release v0.N.x requires exactly those.

# The core modules that are still v0: otelcol (the command), the OTLP receiver, the debug
# exporter, and service (the telemetry factory).
OTELCOL_VERSION=v0.161.0

# The core modules that are v1 and released with OTELCOL_VERSION: the confmap providers.
OTELCOL_STABLE_VERSION=v1.67.0

# opentelemetry-collector-contrib, for the file exporter. v0.161.0 is the newest release of it
# known to resolve and build with this Go from the module proxy alone.
OTELCOL_CONTRIB_VERSION=v0.161.0
