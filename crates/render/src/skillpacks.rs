//! Skill packs (`pack:owner/repo/path[@ref]` entries of `spec.skills` and of each additional
//! workspace's `skills`): what the controller resolved from GitHub, as the renderer receives it
//! in [`crate::Observed::skill_packs`]. The renderer turns it into workspace object entries,
//! the seeding steps of the init script and `skills.entries` in `openclaw.json`.

use std::collections::{BTreeMap, BTreeSet};

/// The packs of one workspace, merged in the order of their references (later packs win on
/// the same file or entry).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolvedPacks {
    /// The `pack:` references that resolved, in spec order (for messages).
    pub references: Vec<String>,
    /// Workspace-relative file path (`skills/foo/SKILL.md`) -> content. Paths are relative,
    /// normalized (no `.`/`..` segments, no leading `/`); the resolver guarantees it.
    pub files: BTreeMap<String, Vec<u8>>,
    /// Workspace-relative directories to create, without duplicates.
    pub directories: BTreeSet<String>,
    /// `skills.entries.<name>` objects from the packs' manifests.
    pub skill_entries: BTreeMap<String, serde_json::Value>,
}

impl ResolvedPacks {
    /// Nothing resolved.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.directories.is_empty() && self.skill_entries.is_empty()
    }
}

/// Every workspace's resolved packs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SkillPacks {
    /// The default workspace (`spec.skills`).
    pub default: ResolvedPacks,
    /// Additional workspaces (`spec.workspace.additionalWorkspaces[].skills`), by name.
    pub workspaces: BTreeMap<String, ResolvedPacks>,
}
