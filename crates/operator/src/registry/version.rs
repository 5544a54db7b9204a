//! Lenient semantic versions of image tags, as the Go operator reads them (Masterminds semver
//! v3 `NewVersion`): an optional `v`, missing minor and patch allowed (`1.2` is `1.2.0`), leading
//! zeros accepted (`01.002` is `1.2.0`), the whole tag must match, build metadata ignored.

use std::cmp::Ordering;

/// A parsed tag. Ordered by semver precedence (build metadata ignored).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// Major, minor, patch.
    pub numbers: [u64; 3],
    /// How many of the three were written in the tag (1 to 3).
    pub written: usize,
    /// The pre-release identifiers (after `-`), empty for a release.
    pub pre: Vec<String>,
}

impl Version {
    /// Whether the tag has a pre-release part (`1.0.0-rc1`).
    pub fn is_prerelease(&self) -> bool {
        !self.pre.is_empty()
    }
}

fn cmp_identifier(a: &str, b: &str) -> Ordering {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    match (numeric(a), numeric(b)) {
        (true, true) => {
            let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
            a.len().cmp(&b.len()).then_with(|| a.cmp(b))
        }
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.cmp(b),
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers.cmp(&other.numbers).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(&other.pre) {
                        let o = cmp_identifier(a, b);
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    self.pre.len().cmp(&other.pre.len())
                }
            }
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn identifiers(s: &str) -> Option<Vec<String>> {
    let ids: Vec<String> = s.split('.').map(str::to_string).collect();
    ids.iter()
        .all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .then_some(ids)
}

/// Parses `tag` leniently; `None` when it is not a version (`latest`, `main`, `sha-abc`).
pub fn parse_version(tag: &str) -> Option<Version> {
    let rest = tag.strip_prefix('v').unwrap_or(tag);
    let (rest, _build) = match rest.split_once('+') {
        Some((r, b)) => (r, Some(identifiers(b)?)),
        None => (rest, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, identifiers(p)?),
        None => (rest, Vec::new()),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let mut numbers = [0u64; 3];
    for (slot, part) in numbers.iter_mut().zip(&parts) {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *slot = part.parse().ok()?;
    }
    Some(Version {
        numbers,
        written: parts.len(),
        pre,
    })
}

/// Whether `candidate` is a greater version than `current`; `None` when either is not one.
pub fn newer(candidate: &str, current: &str) -> Option<bool> {
    Some(parse_version(candidate)? > parse_version(current)?)
}

/// A version prefix such as `2026.9` ("stay on 2026.9.x"): one to three numbers, optional `v`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint(Vec<u64>);

impl Constraint {
    /// Parses `2026`, `2026.9`, `v2026.9.1`.
    pub fn parse(text: &str) -> Option<Constraint> {
        let rest = text.trim();
        let rest = rest.strip_prefix('v').unwrap_or(rest);
        let rest = rest.strip_suffix(".x").unwrap_or(rest);
        let parts: Vec<&str> = rest.split('.').collect();
        if parts.len() > 3 {
            return None;
        }
        let mut numbers = Vec::new();
        for part in parts {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            numbers.push(part.parse().ok()?);
        }
        Some(Constraint(numbers))
    }

    /// Whether `version` starts with these numbers.
    pub fn matches(&self, version: &Version) -> bool {
        self.0.iter().zip(&version.numbers).all(|(a, b)| a == b)
    }
}

/// The greatest stable (non-pre-release) version among `tags` that matches `constraint`, as
/// its original tag string; the first one seen wins among equal versions (`1.0` and `1.0.0`).
pub fn latest_stable<'t>(
    tags: impl IntoIterator<Item = &'t str>,
    constraint: Option<&Constraint>,
) -> Option<&'t str> {
    let mut best: Option<(Version, &str)> = None;
    for tag in tags {
        let Some(v) = parse_version(tag) else {
            continue;
        };
        if v.is_prerelease() || constraint.is_some_and(|c| !c.matches(&v)) {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| v > *b) {
            best = Some((v, tag));
        }
    }
    best.map(|(_, tag)| tag)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn n(tag: &str) -> [u64; 3] {
        parse_version(tag).unwrap().numbers
    }

    #[test]
    fn lenient_parsing() {
        assert_eq!(n("1.2.3"), [1, 2, 3]);
        assert_eq!(n("v1.2.3"), [1, 2, 3]);
        assert_eq!(n("1.2"), [1, 2, 0]);
        assert_eq!(n("v1"), [1, 0, 0]);
        assert_eq!(n("01.002.0003"), [1, 2, 3]);
        assert_eq!(n("2026.3.1"), [2026, 3, 1]);
        assert_eq!(n("1.2.3+build.5"), [1, 2, 3]);
        assert!(parse_version("1.0.0-rc1").unwrap().is_prerelease());
        assert!(parse_version("1.0.0-rc.1+b").unwrap().is_prerelease());
        assert!(!parse_version("1.0.0").unwrap().is_prerelease());
        for bad in [
            "latest",
            "main",
            "sha-abc",
            "",
            "v",
            "1.2.3.4",
            "1..2",
            "1.2.3-",
            "1.2.3+",
            "x1.2.3",
            "1.2.3 ",
            "V1.2.3",
            "1.2.3-rc..1",
            "99999999999999999999999.0.0",
            "1.2.3_4",
        ] {
            assert!(parse_version(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn ordering() {
        assert!(parse_version("1.10.0") > parse_version("1.9.9"));
        assert!(parse_version("1.0.0") > parse_version("1.0.0-rc1"));
        assert!(parse_version("1.0.0-rc.10") > parse_version("1.0.0-rc.9"));
        assert!(parse_version("1.0.0-alpha") < parse_version("1.0.0-alpha.1"));
        assert_eq!(
            parse_version("1.0")
                .unwrap()
                .cmp(&parse_version("v1.0.0+x").unwrap()),
            Ordering::Equal
        );
        assert_eq!(newer("2026.3.1", "2026.2.9"), Some(true));
        assert_eq!(newer("2026.3.1", "2026.3.1"), Some(false));
        assert_eq!(newer("v2", "1.99"), Some(true));
        assert_eq!(newer("latest", "1.0"), None);
        assert_eq!(newer("1.0", "main"), None);
    }

    #[test]
    fn selection() {
        let tags = [
            "latest",
            "main",
            "sha-abc",
            "1.0.0",
            "2026.3.1",
            "2026.10.0-rc1",
            "2026.9",
            "v2026.9.0",
            "1.0.0-rc1",
        ];
        assert_eq!(
            latest_stable(tags, None),
            Some("2026.9"),
            "first seen on ties; pre-releases skipped"
        );
        let c = Constraint::parse("2026.3").unwrap();
        assert_eq!(latest_stable(tags, Some(&c)), Some("2026.3.1"));
        let c = Constraint::parse("1").unwrap();
        assert_eq!(latest_stable(tags, Some(&c)), Some("1.0.0"));
        let c = Constraint::parse("3").unwrap();
        assert_eq!(latest_stable(tags, Some(&c)), None);
        assert_eq!(latest_stable(["latest", "main", "1.0.0-rc1"], None), None);
        // Build metadata is ignored: equal versions, the first wins.
        assert_eq!(
            latest_stable(["1.2.3+b2", "1.2.3+b1"], None),
            Some("1.2.3+b2")
        );
        assert_eq!(latest_stable(["1.2.3", "1.2.4+b1"], None), Some("1.2.4+b1"));
    }

    #[test]
    fn constraints() {
        assert_eq!(Constraint::parse("2026.9"), Some(Constraint(vec![2026, 9])));
        assert_eq!(
            Constraint::parse("v2026.9.x"),
            Some(Constraint(vec![2026, 9]))
        );
        assert_eq!(
            Constraint::parse("2026.9.1"),
            Some(Constraint(vec![2026, 9, 1]))
        );
        for bad in ["", ">=1.0", "1.2.3.4", "latest", "1.x.2"] {
            assert_eq!(Constraint::parse(bad), None, "{bad:?}");
        }
        let c = Constraint::parse("2026.9").unwrap();
        assert!(c.matches(&parse_version("2026.9.3").unwrap()));
        assert!(c.matches(&parse_version("2026.9").unwrap()));
        assert!(!c.matches(&parse_version("2026.10.0").unwrap()));
        assert!(!c.matches(&parse_version("2027.9.0").unwrap()));
    }
}
