# shellcheck shell=bash
# shellcheck disable=SC2034 # variables are used by the scripts that source this file
# Pinned versions of the OCI registry tools the registry resolver's tests run, built from their Go
# modules by hack/registry/build.sh. Sourced, not run.
#
# Changing anything here (or in build.sh) changes the cache key, so the next build lands in a
# new cache directory. Neither module has replace directives in its go.mod, so
# `go install <package>@<version>` builds each with exactly upstream's dependency versions.

# The registry: CNCF Distribution (github.com/distribution/distribution/v3/cmd/registry), the
# reference OCI registry (Docker Hub, GHCR and Harbor run descendants of it). Filesystem storage,
# anonymous, htpasswd and token auth.
DISTRIBUTION_VERSION=v3.1.2

# crane (github.com/google/go-containerregistry/cmd/crane): pushes, tags and deletes images in
# the tests, as a real client would.
CRANE_VERSION=v0.22.1
