//! Backups and restores of the data volume to S3-compatible storage, with rclone: the
//! credentials, the remote paths, the one-shot Jobs and the periodic CronJob.
//!
//! Pure: the controller reads the `s3-backup-credentials` Secret and the clock, and passes
//! them in.

/// The rclone version the Jobs run (the image tag), and the one the tests build from its Go
/// module (`hack/s3/versions.sh`; `crates/operator/tests/backup_roundtrip.rs` checks they agree).
pub const RCLONE_VERSION: &str = "1.76.0";

/// The flags that make a copy faithful, on both directions (backup and restore). Each is needed;
/// `crates/operator/tests/backup_roundtrip.rs` proves the set is enough (and each flag
/// necessary), and that the Go operator's `--skip-links` loses data:
///
/// - `--links`: a symlink travels as a `<name>.rclonelink` object holding its target, and comes
///   back as the same symlink (relative, absolute or dangling). Without it rclone skips links.
/// - `--metadata`: file modes, owners (uid/gid), `user.` extended attributes and the mtime (to
///   the nanosecond) travel as object metadata and are applied on restore, the owner and mtime
///   of symlinks too. Without it files come back as `0644`, owned by the restoring user.
/// - `--s3-directory-markers`: every directory is stored as a `dir/` marker object, so an empty
///   directory exists in the bucket at all. Without it, empty directories are lost.
/// - `--create-empty-src-dirs`: `sync` creates the empty directories it finds (markers on
///   restore, directories on backup). Without it, empty directories are lost.
///
/// What no flag can keep: directory metadata. rclone's S3 backend has no directory metadata, so
/// restored directories get the restoring user as owner, the default mode (0755 with a 022
/// umask) and rclone's `--default-time` (2000-01-01) as mtime. Also not kept: hard links (each
/// name becomes its own file), setuid/setgid/sticky bits on files (rclone strips them unless
/// `--local-metadata-restore-special-bits`), and extended attribute values that are not UTF-8
/// (S3 metadata is text; the bytes come back altered).
pub const COPY_FLAGS: &[&str] = &[
    "--links",
    "--metadata",
    "--s3-directory-markers",
    "--create-empty-src-dirs",
];

/// Flags of the restore direction only (with [`COPY_FLAGS`]).
///
/// `--metadata-mapper`: rclone 1.76 hands the object's system metadata `content-type` and
/// `tier` to the local backend, which writes unknown keys as `user.` extended attributes. On a
/// symlink that fails (Linux allows `user.` attributes only on files and directories: EPERM),
/// the link's owner is then never set, and the sync attempt fails (the retry passes, but with
/// `--retries 1` the restore fails); on files they add two attributes the source never had. The
/// mapper, run by rclone for each restored file with its metadata as indented JSON on stdin,
/// renames those two keys to `rdev`, a key the local backend owns and ignores. It runs `sed`
/// (busybox's in the rclone image), without a shell; its arguments hold no spaces or quotes, as
/// rclone splits the flag's value on spaces.
pub const RESTORE_FLAGS: &[&str] = &[
    r"--metadata-mapper=sed -e s/^\([[:space:]]*.\)tier\(.:\)/\1rdev\2/ -e s/^\([[:space:]]*.\)content-type\(.:\)/\1rdev\2/",
];

/// Throughput flags (the Go operator's).
pub const TUNING_FLAGS: &[&str] = &["--transfers=8", "--checkers=16", "-v"];
