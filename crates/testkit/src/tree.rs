//! File trees for backup tests: [`build`] makes a tree with everything a data volume can hold
//! that a backup must keep, [`compare`] says how two trees differ.
//!
//! The tree ([`Spec`] sets the sizes; [`Spec::acceptance`] is the round-trip test's):
//!
//! - a large file (`large/blob.bin`, pseudo-random bytes) and N small files (`many/NNN/`,
//!   100 per directory, 0 to 2 KiB, five different modes and owners);
//! - symlinks: relative (to a file, to a directory, with `..`), absolute, dangling, and a link to a
//!   link;
//! - file modes 0600, 0640, 0644, 0755, 0444, 0700 and directory modes 0700, 0750, 0755;
//! - owners: root and the non-root IDs 1000:1000 and 1001:2000 (agents run as non-root), on
//!   files, directories and a symlink;
//! - extended attributes in the `user.` namespace on a file and a directory (UTF-8 values: S3
//!   metadata is text, so rclone cannot carry other bytes);
//! - an empty file, an empty directory, a nested chain of empty directories;
//! - non-ASCII and awkward names: `données/日本語.txt`, `emoji-🦀.md`, a decomposed (NFD)
//!   `café`, spaces, `#`, `%`, `&`, `?`, quotes;
//! - an explicit mtime with nanoseconds on every entry (files, directories, symlinks), all in the
//!   past and all different.
//!
//! [`compare`] checks what [`Checks::FAITHFUL`] lists, which is everything rclone can carry
//! through S3 with the backup's flags (proved by `crates/operator/tests/backup_roundtrip.rs`):
//! every entry (empty directories included) with its type, symlink targets, sizes, SHA-256 of
//! contents, and the permission bits, owner, extended attributes and mtime (to the nanosecond)
//! of files, and the owner and mtime of symlinks. **Directory metadata is not checked** (mode,
//! owner, mtime, extended attributes): rclone's S3 backend has none (no directory metadata, no
//! `DirSetModTime`), so a restore creates directories with the restoring user, the default
//! mode, and rclone's `--default-time` (2000-01-01) as mtime. [`Checks::ALL`] checks them too.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{BufWriter, Read as _, Write as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _, lchown, symlink};
use std::path::{Path, PathBuf};

use rand::rngs::SmallRng;
use rand::{Rng as _, RngCore as _, SeedableRng as _};
use rustix::fs::{AtFlags, CWD, Timespec, Timestamps, utimensat};
use sha2::{Digest as _, Sha256};

/// What [`build`] makes.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Size of `large/blob.bin` in bytes.
    pub large_file_bytes: u64,
    /// Number of small files under `many/`.
    pub small_files: usize,
    /// Seed of the pseudo-random contents, sizes and times.
    pub seed: u64,
}

impl Spec {
    /// The round-trip acceptance tree: a 200 MiB file plus 4321 bytes (just above rclone's
    /// 200 MiB `--s3-upload-cutoff`, so it goes up as a multipart upload) and 10,000 small files.
    pub fn acceptance() -> Spec {
        Spec {
            large_file_bytes: 200 * 1024 * 1024 + 4321,
            small_files: 10_000,
            seed: 0x0c1a_5ba0,
        }
    }

    /// Everything but the bulk: a 1 MiB file and 50 small files.
    pub fn small() -> Spec {
        Spec {
            large_file_bytes: 1024 * 1024,
            small_files: 50,
            seed: 7,
        }
    }
}

/// Counts of what [`build`] made.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Regular files.
    pub files: usize,
    /// Directories, the root excluded.
    pub dirs: usize,
    /// Symbolic links.
    pub symlinks: usize,
    /// Bytes in regular files.
    pub bytes: u64,
}

/// An owner to set: `(uid, gid)`, or none (the creator's).
type Owner = Option<(u32, u32)>;

/// A base time for mtimes: 2021-03-04T05:06:07Z.
const BASE_TIME: i64 = 1_614_834_367;

fn io_context(what: impl fmt::Display) -> impl FnOnce(std::io::Error) -> std::io::Error {
    let what = what.to_string();
    move |e| std::io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Sets the mtime (and atime) of `path` itself, symlinks included.
pub fn set_mtime(path: &Path, secs: i64, nanos: u32) -> std::io::Result<()> {
    let time = Timespec {
        tv_sec: secs,
        tv_nsec: i64::from(nanos),
    };
    let times = Timestamps {
        last_access: time,
        last_modification: time,
    };
    utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(std::io::Error::from)
        .map_err(io_context(format!(
            "setting the mtime of {}",
            path.display()
        )))
}

/// Builds the tree of [`Spec`] (see the module docs) under `root`, which must be an empty or
/// missing directory. Needs root for the owners.
pub fn build(root: &Path, spec: &Spec) -> std::io::Result<Summary> {
    let mut b = Builder {
        root: root.to_owned(),
        rng: SmallRng::seed_from_u64(spec.seed),
        summary: Summary::default(),
        tick: 0,
        dir_meta: Vec::new(),
    };
    fs::create_dir_all(root).map_err(io_context(format!("creating {}", root.display())))?;

    b.large("large/blob.bin", spec.large_file_bytes)?;
    for i in 0..spec.small_files {
        let rel = format!("many/{:03}/file-{i:05}.txt", i / 100);
        let size = if i == 0 {
            0
        } else {
            b.rng.random_range(1..=2048)
        };
        let (mode, owner) = [
            (0o644, None),
            (0o600, Some((1000, 1000))),
            (0o640, Some((1001, 2000))),
            (0o755, None),
            (0o444, Some((1000, 1000))),
        ][i % 5];
        b.file(&rel, size, mode, owner)?;
    }

    b.file("secret.key", 64, 0o600, Some((1000, 1000)))?;
    b.file("bin/run.sh", 200, 0o755, None)?;
    b.file("shared/group.txt", 300, 0o640, Some((1001, 2000)))?;
    b.file("shared/read-only.txt", 10, 0o444, None)?;
    b.file("private/only-me.txt", 10, 0o700, Some((1000, 1000)))?;
    b.file("empty-file", 0, 0o644, None)?;
    b.file("données/日本語.txt", 100, 0o644, None)?;
    b.file("emoji-🦀.md", 100, 0o644, None)?;
    b.file("cafe\u{301}.txt", 20, 0o644, None)?;
    b.file(
        "weird/name with spaces, #hash, %percent & ?question.txt",
        20,
        0o644,
        None,
    )?;
    b.file("weird/'single' \"double\".txt", 20, 0o644, None)?;
    b.file(".hidden/.dotfile", 20, 0o644, None)?;
    b.xattr(
        "secret.key",
        "user.openclaw.origin",
        "agent — données 🦀".as_bytes(),
    )?;
    b.xattr("shared", "user.openclaw.note", b"a directory attribute")?;

    b.symlink("links/relative", "../secret.key")?;
    b.symlink("links/relative-dir", "../shared")?;
    b.symlink("links/same-dir", "dangling")?;
    b.symlink("links/absolute", "/etc/hostname")?;
    b.symlink("links/dangling", "does/not/exist")?;
    b.symlink("links/dangling-absolute", "/nonexistent/openclaw/target")?;
    b.symlink("données/lien-🦀", "../emoji-🦀.md")?;
    b.symlink("links/owned-by-agent", "../private/only-me.txt")?;
    lchown(root.join("links/owned-by-agent"), Some(1000), Some(1000))
        .map_err(io_context("chown links/owned-by-agent"))?;

    b.dir("empty")?;
    b.dir("nested/empty/a/b/c")?;
    b.dir("nested/empty/a/sibling")?;

    // Directory modes, owners and times last (bottom-up): adding entries changes a directory's
    // mtime, and a read-only directory takes no more entries.
    b.finish_dirs()?;
    Ok(b.summary)
}

struct Builder {
    root: PathBuf,
    rng: SmallRng,
    summary: Summary,
    tick: i64,
    dir_meta: Vec<PathBuf>,
}

impl Builder {
    /// A new distinct time: one hour and some nanoseconds later than the last.
    fn next_time(&mut self) -> (i64, u32) {
        self.tick += 1;
        let nanos = self.rng.random_range(1..1_000_000_000);
        (BASE_TIME + self.tick * 3600, nanos)
    }

    fn parent_dirs(&mut self, rel: &str) -> std::io::Result<PathBuf> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            let mut dir = parent.to_path_buf();
            let mut missing = Vec::new();
            while dir != self.root && !dir.exists() {
                missing.push(dir.clone());
                match dir.parent() {
                    Some(p) => dir = p.to_path_buf(),
                    None => break,
                }
            }
            fs::create_dir_all(parent)
                .map_err(io_context(format!("creating {}", parent.display())))?;
            self.summary.dirs += missing.len();
            self.dir_meta.extend(missing);
        }
        Ok(path)
    }

    fn file(
        &mut self,
        rel: &str,
        size: u64,
        mode: u32,
        owner: Option<(u32, u32)>,
    ) -> std::io::Result<()> {
        let path = self.parent_dirs(rel)?;
        let mut data = vec![0; usize::try_from(size).unwrap_or(usize::MAX)];
        self.rng.fill_bytes(&mut data);
        fs::write(&path, &data).map_err(io_context(format!("writing {}", path.display())))?;
        self.finish_file(&path, size, mode, owner)
    }

    fn large(&mut self, rel: &str, size: u64) -> std::io::Result<()> {
        let path = self.parent_dirs(rel)?;
        let file =
            File::create(&path).map_err(io_context(format!("creating {}", path.display())))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut chunk = vec![0; 1 << 20];
        let mut left = size;
        while left > 0 {
            let n = usize::try_from(left.min(1 << 20)).unwrap_or(1 << 20);
            self.rng.fill_bytes(&mut chunk[..n]);
            out.write_all(&chunk[..n])
                .map_err(io_context(format!("writing {}", path.display())))?;
            left -= n as u64;
        }
        out.flush()
            .map_err(io_context(format!("writing {}", path.display())))?;
        self.finish_file(&path, size, 0o644, None)
    }

    fn finish_file(
        &mut self,
        path: &Path,
        size: u64,
        mode: u32,
        owner: Option<(u32, u32)>,
    ) -> std::io::Result<()> {
        if let Some((uid, gid)) = owner {
            lchown(path, Some(uid), Some(gid))
                .map_err(io_context(format!("chown {}", path.display())))?;
        }
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(io_context(format!("chmod {}", path.display())))?;
        let (secs, nanos) = self.next_time();
        set_mtime(path, secs, nanos)?;
        self.summary.files += 1;
        self.summary.bytes += size;
        Ok(())
    }

    fn symlink(&mut self, rel: &str, target: &str) -> std::io::Result<()> {
        let path = self.parent_dirs(rel)?;
        symlink(target, &path).map_err(io_context(format!("symlink {}", path.display())))?;
        let (secs, nanos) = self.next_time();
        set_mtime(&path, secs, nanos)?;
        self.summary.symlinks += 1;
        Ok(())
    }

    /// Sets an extended attribute on an existing entry (not a symlink: Linux allows `user.`
    /// attributes only on files and directories).
    fn xattr(&mut self, rel: &str, name: &str, value: &[u8]) -> std::io::Result<()> {
        let path = self.root.join(rel);
        rustix::fs::lsetxattr(&path, name, value, rustix::fs::XattrFlags::empty())
            .map_err(std::io::Error::from)
            .map_err(io_context(format!("setting {name} on {}", path.display())))
    }

    /// An empty directory (its mode, owner and time are set by `finish_dirs`).
    fn dir(&mut self, rel: &str) -> std::io::Result<()> {
        self.parent_dirs(&format!("{rel}/x")).map(drop)
    }

    fn finish_dirs(&mut self) -> std::io::Result<()> {
        let special: BTreeMap<&str, (u32, Owner)> = BTreeMap::from([
            ("private", (0o700, Some((1000, 1000)))),
            ("shared", (0o750, Some((1001, 2000)))),
            ("nested/empty/a/sibling", (0o700, None)),
        ]);
        let mut dirs = std::mem::take(&mut self.dir_meta);
        // Deepest first.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in dirs {
            let rel = dir
                .strip_prefix(&self.root)
                .unwrap_or(&dir)
                .to_string_lossy()
                .into_owned();
            let (mode, owner) = special.get(rel.as_str()).copied().unwrap_or((0o755, None));
            if let Some((uid, gid)) = owner {
                lchown(&dir, Some(uid), Some(gid))
                    .map_err(io_context(format!("chown {}", dir.display())))?;
            }
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode))
                .map_err(io_context(format!("chmod {}", dir.display())))?;
            let (secs, nanos) = self.next_time();
            set_mtime(&dir, secs, nanos)?;
        }
        Ok(())
    }
}

/// Which metadata [`compare_with`] checks, by entry type. It always checks which entries exist,
/// their types, sizes, contents and symlink targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checks {
    /// Permission bits, owner, extended attributes and mtime of regular files.
    pub files: bool,
    /// Owner, extended attributes and mtime of symlinks (their mode is always 0777).
    pub symlinks: bool,
    /// Permission bits, owner, extended attributes and mtime of directories.
    pub dirs: bool,
    /// Whether mtimes must match to the nanosecond (else to the second).
    pub mtime_nanos: bool,
}

impl Checks {
    /// Everything rclone carries through S3 with the backup's flags (see the module docs): all
    /// but directory metadata.
    pub const FAITHFUL: Checks = Checks {
        files: true,
        symlinks: true,
        dirs: false,
        mtime_nanos: true,
    };

    /// Every check.
    pub const ALL: Checks = Checks {
        dirs: true,
        ..Checks::FAITHFUL
    };
}

/// The type of an entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// Anything else (device, FIFO, socket).
    Other,
}

/// One entry, as [`compare`] sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its type.
    pub kind: Kind,
    /// `mode & 0o7777`.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Modification time: seconds and nanoseconds.
    pub mtime: (i64, u32),
    /// Size in bytes (regular files; 0 otherwise).
    pub size: u64,
    /// SHA-256 of the contents (regular files).
    pub sha256: Option<[u8; 32]>,
    /// The target (symlinks).
    pub target: Option<PathBuf>,
    /// Extended attributes, every namespace the process can read.
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// One way two trees differ; paths are relative to the roots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// In the first tree only.
    Missing(PathBuf, Kind),
    /// In the second tree only.
    Extra(PathBuf, Kind),
    /// Different types.
    Kind(PathBuf, Kind, Kind),
    /// Different symlink targets.
    Target(PathBuf, PathBuf, PathBuf),
    /// Different sizes.
    Size(PathBuf, u64, u64),
    /// Same size, different contents.
    Content(PathBuf),
    /// Different permission bits.
    Mode(PathBuf, Kind, u32, u32),
    /// Different owner or group (`uid:gid`).
    Owner(PathBuf, Kind, (u32, u32), (u32, u32)),
    /// Different mtimes.
    Mtime(PathBuf, Kind, (i64, u32), (i64, u32)),
    /// Different extended attributes: those only in the first tree, and those only in the
    /// second or with another value there.
    Xattrs(PathBuf, Kind, Vec<String>, Vec<String>),
}

impl Difference {
    /// A short name of the kind of difference, for counting.
    pub fn label(&self) -> String {
        match self {
            Difference::Missing(_, k) => format!("missing {k:?}"),
            Difference::Extra(_, k) => format!("extra {k:?}"),
            Difference::Kind(_, a, b) => format!("type {a:?} -> {b:?}"),
            Difference::Target(..) => "symlink target".to_owned(),
            Difference::Size(..) => "size".to_owned(),
            Difference::Content(..) => "content".to_owned(),
            Difference::Mode(_, k, ..) => format!("{k:?} mode"),
            Difference::Owner(_, k, ..) => format!("{k:?} owner"),
            Difference::Mtime(_, k, ..) => format!("{k:?} mtime"),
            Difference::Xattrs(_, k, ..) => format!("{k:?} xattrs"),
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Missing(p, k) => write!(f, "{}: {k:?} missing", p.display()),
            Difference::Extra(p, k) => write!(f, "{}: extra {k:?}", p.display()),
            Difference::Kind(p, a, b) => write!(f, "{}: {a:?} became {b:?}", p.display()),
            Difference::Target(p, a, b) => {
                write!(
                    f,
                    "{}: target {} became {}",
                    p.display(),
                    a.display(),
                    b.display()
                )
            }
            Difference::Size(p, a, b) => write!(f, "{}: size {a} became {b}", p.display()),
            Difference::Content(p) => write!(f, "{}: contents differ", p.display()),
            Difference::Mode(p, k, a, b) => {
                write!(f, "{}: {k:?} mode {a:04o} became {b:04o}", p.display())
            }
            Difference::Owner(p, k, a, b) => write!(
                f,
                "{}: {k:?} owner {}:{} became {}:{}",
                p.display(),
                a.0,
                a.1,
                b.0,
                b.1
            ),
            Difference::Mtime(p, k, a, b) => write!(
                f,
                "{}: {k:?} mtime {}.{:09} became {}.{:09}",
                p.display(),
                a.0,
                a.1,
                b.0,
                b.1
            ),
            Difference::Xattrs(p, k, lost, gained) => write!(
                f,
                "{}: {k:?} xattrs lost {lost:?}, gained or changed {gained:?}",
                p.display()
            ),
        }
    }
}

/// Every entry under `root` (not `root` itself), by path relative to it; symlinks are not
/// followed.
pub fn scan(root: &Path) -> std::io::Result<BTreeMap<PathBuf, Entry>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let dir = root.join(&rel);
        for item in fs::read_dir(&dir).map_err(io_context(format!("reading {}", dir.display())))? {
            let item = item.map_err(io_context(format!("reading {}", dir.display())))?;
            let rel = rel.join(item.file_name());
            let path = root.join(&rel);
            let meta = fs::symlink_metadata(&path)
                .map_err(io_context(format!("lstat {}", path.display())))?;
            let file_type = meta.file_type();
            let kind = if file_type.is_file() {
                Kind::File
            } else if file_type.is_dir() {
                Kind::Dir
            } else if file_type.is_symlink() {
                Kind::Symlink
            } else {
                Kind::Other
            };
            let mut entry = Entry {
                kind,
                mode: meta.mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
                mtime: (meta.mtime(), u32::try_from(meta.mtime_nsec()).unwrap_or(0)),
                size: 0,
                sha256: None,
                target: None,
                xattrs: xattrs(&path)?,
            };
            match entry.kind {
                Kind::File => {
                    entry.size = meta.len();
                    entry.sha256 = Some(sha256_file(&path)?);
                }
                Kind::Dir => todo.push(rel.clone()),
                Kind::Symlink => {
                    entry.target = Some(
                        fs::read_link(&path)
                            .map_err(io_context(format!("readlink {}", path.display())))?,
                    );
                }
                Kind::Other => {}
            }
            out.insert(rel, entry);
        }
    }
    Ok(out)
}

/// The extended attributes of `path` itself (not following a symlink).
pub fn xattrs(path: &Path) -> std::io::Result<BTreeMap<String, Vec<u8>>> {
    let context = || io_context(format!("listing the xattrs of {}", path.display()));
    let mut names = vec![0; 64 * 1024];
    let n = match rustix::fs::llistxattr(path, &mut names[..]) {
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => 0,
        Err(e) => return Err(context()(e.into())),
    };
    let mut out = BTreeMap::new();
    for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let mut value = vec![0; 64 * 1024];
        let len = rustix::fs::lgetxattr(path, name.as_str(), &mut value[..])
            .map_err(|e| context()(e.into()))?;
        value.truncate(len);
        out.insert(name, value);
    }
    Ok(out)
}

fn sha256_file(path: &Path) -> std::io::Result<[u8; 32]> {
    let mut file = File::open(path).map_err(io_context(format!("opening {}", path.display())))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(io_context(format!("reading {}", path.display())))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finalize().into())
}

/// How the tree under `b` differs from the one under `a`, with [`Checks::FAITHFUL`]: **directory
/// metadata (mode, owner, xattrs, mtime) is ignored**, as rclone cannot carry it through S3
/// (see the module docs); everything else is checked, mtimes to the nanosecond. The roots
/// themselves are not compared.
pub fn compare(a: &Path, b: &Path) -> std::io::Result<Vec<Difference>> {
    compare_with(a, b, Checks::FAITHFUL)
}

/// [`compare`] with the given checks.
pub fn compare_with(a: &Path, b: &Path, checks: Checks) -> std::io::Result<Vec<Difference>> {
    let left = scan(a)?;
    let right = scan(b)?;
    Ok(compare_scans(&left, &right, checks))
}

/// [`compare_with`] on two [`scan`]s.
pub fn compare_scans(
    left: &BTreeMap<PathBuf, Entry>,
    right: &BTreeMap<PathBuf, Entry>,
    checks: Checks,
) -> Vec<Difference> {
    let mut out = Vec::new();
    for (path, x) in left {
        let Some(y) = right.get(path) else {
            out.push(Difference::Missing(path.clone(), x.kind.clone()));
            continue;
        };
        if x.kind != y.kind {
            out.push(Difference::Kind(
                path.clone(),
                x.kind.clone(),
                y.kind.clone(),
            ));
            continue;
        }
        let p = || path.clone();
        match x.kind {
            Kind::File if x.size != y.size => out.push(Difference::Size(p(), x.size, y.size)),
            Kind::File if x.sha256 != y.sha256 => out.push(Difference::Content(p())),
            Kind::Symlink if x.target != y.target => out.push(Difference::Target(
                p(),
                x.target.clone().unwrap_or_default(),
                y.target.clone().unwrap_or_default(),
            )),
            _ => {}
        }
        let check = match x.kind {
            Kind::File | Kind::Other => checks.files,
            Kind::Dir => checks.dirs,
            Kind::Symlink => checks.symlinks,
        };
        if !check {
            continue;
        }
        // A symlink's own mode is always 0777 on Linux.
        if x.kind != Kind::Symlink && x.mode != y.mode {
            out.push(Difference::Mode(p(), x.kind.clone(), x.mode, y.mode));
        }
        if (x.uid, x.gid) != (y.uid, y.gid) {
            out.push(Difference::Owner(
                p(),
                x.kind.clone(),
                (x.uid, x.gid),
                (y.uid, y.gid),
            ));
        }
        if x.xattrs != y.xattrs {
            let lost = x
                .xattrs
                .keys()
                .filter(|k| !y.xattrs.contains_key(*k))
                .cloned()
                .collect();
            let gained = y
                .xattrs
                .iter()
                .filter(|(k, v)| x.xattrs.get(*k) != Some(*v))
                .map(|(k, _)| k.clone())
                .collect();
            out.push(Difference::Xattrs(p(), x.kind.clone(), lost, gained));
        }
        let same_time = if checks.mtime_nanos {
            x.mtime == y.mtime
        } else {
            x.mtime.0 == y.mtime.0
        };
        if !same_time {
            out.push(Difference::Mtime(p(), x.kind.clone(), x.mtime, y.mtime));
        }
    }
    for (path, y) in right {
        if !left.contains_key(path) {
            out.push(Difference::Extra(path.clone(), y.kind.clone()));
        }
    }
    out
}

/// Counts of [`Difference::label`]s, and the first `max` differences, one per line: for test
/// output.
pub fn report(differences: &[Difference], max: usize) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for d in differences {
        *counts.entry(d.label()).or_default() += 1;
    }
    let mut out = format!("{} differences:", differences.len());
    for (label, n) in &counts {
        out.push_str(&format!(" {label}: {n};"));
    }
    for d in differences.iter().take(max) {
        out.push_str(&format!("\n  {d}"));
    }
    if differences.len() > max {
        out.push_str(&format!("\n  ... and {} more", differences.len() - max));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_equals_itself_and_a_copy_shows_each_change() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let summary = build(&a, &Spec::small()).unwrap();
        assert_eq!(summary.files, 50 + 1 + 12);
        assert_eq!(summary.symlinks, 8);
        assert!(compare_with(&a, &a, Checks::ALL).unwrap().is_empty());

        // The same seed builds the same tree.
        let b = dir.path().join("b");
        build(&b, &Spec::small()).unwrap();
        assert_eq!(compare_with(&a, &b, Checks::ALL).unwrap(), vec![]);

        fs::write(b.join("secret.key"), b"changed").unwrap();
        fs::set_permissions(b.join("bin/run.sh"), fs::Permissions::from_mode(0o644)).unwrap();
        set_mtime(&b.join("shared/group.txt"), BASE_TIME, 0).unwrap();
        set_mtime(&b.join("nested"), BASE_TIME, 0).unwrap();
        set_mtime(&b.join("links/relative"), BASE_TIME, 0).unwrap();
        rustix::fs::lsetxattr(
            b.join("empty-file"),
            "user.new",
            b"x",
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
        fs::remove_file(b.join("links/dangling")).unwrap();
        symlink("elsewhere", b.join("links/dangling")).unwrap();
        fs::remove_dir(b.join("empty")).unwrap();
        fs::create_dir(b.join("new-empty")).unwrap();
        lchown(b.join("emoji-🦀.md"), Some(4), Some(4)).unwrap();
        let diffs = compare(&a, &b).unwrap();
        let text = report(&diffs, 100);
        for want in [
            "secret.key: size 64 became 7",
            "bin/run.sh: File mode 0755 became 0644",
            "shared/group.txt: File mtime",
            "links/relative: Symlink mtime",
            "empty-file: File xattrs lost [], gained or changed [\"user.new\"]",
            "links/dangling: target does/not/exist became elsewhere",
            "empty: Dir missing",
            "new-empty: extra Dir",
            "emoji-🦀.md: File owner 0:0 became 4:4",
        ] {
            assert!(text.contains(want), "{want:?} not in {text}");
        }
        // Directory metadata only with Checks::ALL.
        assert!(!text.contains("nested: Dir mtime"), "{text}");
        let all = report(&compare_with(&a, &b, Checks::ALL).unwrap(), 100);
        assert!(all.contains("nested: Dir mtime"), "{all}");
    }

    #[test]
    fn mtimes_keep_nanoseconds() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        build(&a, &Spec::small()).unwrap();
        let scan = scan(&a).unwrap();
        let blob = &scan[Path::new("large/blob.bin")];
        assert_ne!(blob.mtime.1, 0);
        let link = &scan[Path::new("links/absolute")];
        assert_eq!(link.target.as_deref(), Some(Path::new("/etc/hostname")));
        assert!(link.mtime.0 > BASE_TIME && link.mtime.1 != 0, "{link:?}");
        assert_eq!(scan[Path::new("private")].mode, 0o700);
        assert_eq!(scan[Path::new("private")].uid, 1000);
        assert_eq!(scan[Path::new("links/owned-by-agent")].gid, 1000);
        assert_eq!(
            scan[Path::new("secret.key")].xattrs["user.openclaw.origin"],
            "agent — données 🦀".as_bytes()
        );
        assert!(
            scan[Path::new("shared")]
                .xattrs
                .contains_key("user.openclaw.note")
        );
    }
}
