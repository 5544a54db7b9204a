//! Skill packs (`pack:owner/repo/path[@ref]` entries of `spec.skills` and of each additional
//! workspace's `skills`): what the controller resolved from GitHub, as the renderer receives it
//! in [`crate::Observed::skill_packs`]. The renderer turns it into workspace object entries,
//! the seed plan `init-config` follows and `skills.entries` in `openclaw.json` (see
//! [`crate::workspace`] and [`crate::features::skills`]).

// The types are items of the crate root (the vocabulary layer, which uses no module: see
// `lib.rs` "Layers"), named here too.
pub use crate::{ResolvedPacks, SkillPacks};
