//! Backups and restores of the data volume to S3-compatible storage, with rclone: the
//! credentials, the remote paths, the one-shot Jobs and the periodic CronJob.
//!
//! Pure: the controller reads the `s3-backup-credentials` Secret and the clock, and passes
//! them in.

/// The rclone version the Jobs run (the image tag), and the one the tests build from its Go
/// module (`hack/s3/versions.sh`; `tests/backup_tools.rs` checks they agree).
pub const RCLONE_VERSION: &str = "1.76.0";

/// The flags that make a copy faithful, on both directions (backup and restore): symlinks
/// (dangling ones included) are kept as links, file modes and mtimes travel as object
/// metadata, and empty directories are kept as directory markers. The round-trip test
/// (`crates/operator/tests/backup_roundtrip.rs`) proves they are enough, and that the Go
/// operator's `--skip-links` is not.
pub const COPY_FLAGS: &[&str] = &[
    "--links",
    "--metadata",
    "--s3-directory-markers",
    "--create-empty-src-dirs",
];

/// Throughput flags (the Go operator's).
pub const TUNING_FLAGS: &[&str] = &["--transfers=8", "--checkers=16", "-v"];
