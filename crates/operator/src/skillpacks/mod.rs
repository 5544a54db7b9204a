//! Skill packs: resolving `pack:owner/repo/path[@ref]` references against the GitHub API
//! into `ResolvedPacks` for the renderer. The pure parts: [`pack`] (manifest, tree mapping,
//! merge), [`github`] (URLs, answers, headers) and [`cache`] (policies).

pub mod cache;
pub mod error;
pub mod github;
pub mod pack;

pub use error::{ResolveError, SetupError};
pub use github::DEFAULT_BASE_URL;
pub use pack::WORKSPACE_BUDGET_BYTES;
