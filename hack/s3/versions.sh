# shellcheck shell=bash
# shellcheck disable=SC2034 # variables are used by the scripts that source this file
# Pinned versions of the S3 tools the backup tests run, built from their Go modules by
# hack/s3/build.sh. Sourced, not run.
#
# Changing anything here (or in build.sh) changes the cache key, so the next build lands in a
# new cache directory. Neither module has replace directives in its go.mod, so
# `go install <package>@<version>` builds each with exactly upstream's dependency versions.

# The S3 server: Versity S3 Gateway, with its POSIX backend (objects are plain files under a
# root dir, metadata in extended attributes).
VERSITYGW_VERSION=v1.8.0

# rclone, the backup and restore client. Must match openclaw_render::features::backup::RCLONE_VERSION
# (the image tag of the Jobs); crates/operator/tests/backup_roundtrip.rs checks they agree.
RCLONE_VERSION=v1.76.0
