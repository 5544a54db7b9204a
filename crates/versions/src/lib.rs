//! The OpenClaw versions the operator supports, and what differs between them.
//!
//! - [`Version`]: an OpenClaw release (`YYYY.M.P`), read leniently from an image tag
//!   (`2026.9.6`, `v2026.9.6`, `2026.9.6-slim`).
//! - [`target`]: which supported version the operator renders and checks for, given an image tag,
//!   and the warning that says so when the tag is not exactly a supported version.
//! - [`Supported`]: one supported version, its behaviour ([`Supported::has_startupz`]) and
//!   OpenClaw's own config schema ([`Supported::schema`]), embedded compressed.
//!
//! The supported set is `hack/openclaw/versions`; `hack/openclaw/add-version.sh` adds a version,
//! extracts its schema (`openclaw config schema`) into `schemas/` and regenerates
//! `src/supported.rs`. Pure: no I/O, no clock.

mod schema;
mod supported;

use std::fmt;
use std::sync::OnceLock;

pub use schema::{Issue, ROOT, Schema, SchemaError};

/// OpenClaw's name of the config's root in an issue's path (`<root>`).
pub fn schema_root() -> &'static str {
    ROOT
}

/// An OpenClaw release: calendar versioning `YYYY.M.P`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Year.
    pub year: u32,
    /// Month (1-12).
    pub month: u32,
    /// Release within the month.
    pub patch: u32,
}

impl Version {
    /// `const` constructor.
    pub const fn new(year: u32, month: u32, patch: u32) -> Self {
        Self { year, month, patch }
    }

    /// Reads a version from an image tag: an optional `v`, then `YYYY.M.P`, then nothing or a
    /// suffix after `-`, `+` or `_` (`2026.9.6-slim`, `2026.9.1-beta.1`, `2026.9.6+build`).
    /// `None` for anything else (`latest`, `stable`, `2026.9`, a digest).
    pub fn parse(tag: &str) -> Option<Self> {
        let tag = tag.trim();
        let tag = tag.strip_prefix(['v', 'V']).unwrap_or(tag);
        let end = tag.find(['-', '+', '_']).unwrap_or(tag.len());
        let mut parts = tag[..end].split('.');
        let mut next = || -> Option<u32> {
            let p = parts.next()?;
            if p.is_empty() || p.len() > 9 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            p.parse().ok()
        };
        let (year, month, patch) = (next()?, next()?, next()?);
        if parts.next().is_some() || !(2000..=9999).contains(&year) || !(1..=12).contains(&month) {
            return None;
        }
        Some(Self { year, month, patch })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.year, self.month, self.patch)
    }
}

/// The first release that serves `/startupz` (a startup check that ignores channel health).
pub const STARTUPZ_SINCE: Version = Version::new(2026, 8, 1);

/// Config keys OpenClaw still accepts but has retired (ignored, and reported by
/// `openclaw doctor` as legacy keys to remove), with the first release that retired them.
/// The operator does not add a retired key.
pub const RETIRED: &[(&str, Version)] = &[
    // "gateway.controlUi.dangerouslyDisableDeviceAuth is retired and ignored. Control UI browsers
    // pair through the normal device flow" (doctor, 2026.8.1 and later).
    (
        "gateway.controlUi.dangerouslyDisableDeviceAuth",
        Version::new(2026, 8, 1),
    ),
];

/// One supported OpenClaw version.
pub struct Supported {
    version: Version,
    text: &'static str,
    schema_gz: &'static [u8],
    schema: OnceLock<Result<Schema, SchemaError>>,
}

impl fmt::Debug for Supported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supported")
            .field("version", &self.text)
            .finish()
    }
}

impl Supported {
    /// The version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The version as written in `hack/openclaw/versions`.
    pub fn as_str(&self) -> &'static str {
        self.text
    }

    /// The gateway serves `/startupz`.
    pub fn has_startupz(&self) -> bool {
        self.version >= STARTUPZ_SINCE
    }

    /// Whether this version has retired the config key `dotted` (see [`RETIRED`]).
    pub fn retired(&self, dotted: &str) -> bool {
        RETIRED
            .iter()
            .any(|(key, since)| *key == dotted && self.version >= *since)
    }

    /// The compressed schema's size in bytes (what it adds to the binary).
    pub fn compressed_schema_len(&self) -> usize {
        self.schema_gz.len()
    }

    /// OpenClaw's own config schema for this version, decompressed and compiled on first use
    /// (then kept for the life of the process).
    pub fn schema(&self) -> Result<&Schema, &SchemaError> {
        self.schema
            .get_or_init(|| Schema::from_gzip(self.text, self.schema_gz))
            .as_ref()
    }
}

fn table() -> &'static [Supported] {
    static TABLE: OnceLock<Vec<Supported>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut v: Vec<Supported> = supported::SUPPORTED
            .iter()
            .filter_map(|(text, gz)| {
                Some(Supported {
                    version: Version::parse(text)?,
                    text,
                    schema_gz: gz,
                    schema: OnceLock::new(),
                })
            })
            .collect();
        v.sort_by_key(|s| std::cmp::Reverse(s.version));
        v
    })
}

/// Every supported version, newest first.
pub fn supported() -> &'static [Supported] {
    table()
}

/// The supported entry for exactly `version`.
pub fn find(version: Version) -> Option<&'static Supported> {
    table().iter().find(|s| s.version == version)
}

/// The newest supported version.
pub fn newest() -> Option<&'static Supported> {
    table().first()
}

/// The oldest supported version.
pub fn oldest() -> Option<&'static Supported> {
    table().last()
}

/// How an image tag maps onto the supported versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Match {
    /// The tag is exactly a supported version.
    Exact,
    /// A version between two supported ones: treated as the nearest older supported version.
    Between(Version),
    /// A version newer than every supported one: treated as the newest.
    Newer(Version),
    /// A version older than every supported one: rendered as the oldest, config not checked.
    Older(Version),
    /// No version in the tag (`latest`, `stable`, a digest only): treated as the newest.
    Unknown,
}

/// The version the operator renders and checks an instance's config for.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// The supported version whose behaviour and schema apply.
    pub supported: &'static Supported,
    /// How the image tag matched.
    pub matched: Match,
}

impl Target {
    /// Whether a config that this version's schema rejects must be refused: always, except for
    /// a version older than every supported one (the operator has no schema for it).
    pub fn enforce_schema(&self) -> bool {
        !matches!(self.matched, Match::Older(_))
    }

    /// A human-readable note when the tag is not exactly a supported version.
    pub fn note(&self, tag: &str) -> Option<String> {
        let used = self.supported.as_str();
        match self.matched {
            Match::Exact => None,
            Match::Between(v) => Some(format!(
                "OpenClaw {v} (image tag {tag:?}) is not in the tested version matrix; the operator treats it as {used}, the nearest older supported version"
            )),
            Match::Newer(v) => Some(format!(
                "OpenClaw {v} (image tag {tag:?}) is newer than every supported version; the operator treats it as {used}, the newest, and checks its config against {used}'s schema"
            )),
            Match::Older(v) => Some(format!(
                "OpenClaw {v} (image tag {tag:?}) is older than the oldest supported version {used}; the operator renders for {used} and cannot check this config against OpenClaw's schema"
            )),
            Match::Unknown => Some(format!(
                "image tag {tag:?} names no OpenClaw version; the operator assumes the newest supported version, {used} (its behaviour and config schema)"
            )),
        }
    }
}

/// The target for an image tag (`None`: no supported version is compiled in, which the tests of
/// this crate rule out).
pub fn target(tag: &str) -> Option<Target> {
    let newest = newest()?;
    let oldest = oldest()?;
    let Some(v) = Version::parse(tag) else {
        return Some(Target {
            supported: newest,
            matched: Match::Unknown,
        });
    };
    if let Some(s) = find(v) {
        return Some(Target {
            supported: s,
            matched: Match::Exact,
        });
    }
    if v > newest.version {
        return Some(Target {
            supported: newest,
            matched: Match::Newer(v),
        });
    }
    if v < oldest.version {
        return Some(Target {
            supported: oldest,
            matched: Match::Older(v),
        });
    }
    let lower = table().iter().find(|s| s.version < v).unwrap_or(oldest);
    Some(Target {
        supported: lower,
        matched: Match::Between(v),
    })
}

#[cfg(test)]
mod tests;
