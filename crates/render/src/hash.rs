//! The `openclaw.rocks/config-hash` pod annotation.
//!
//! SHA-256 (first 8 bytes, hex) over everything that decides what `init-config` writes as
//! `openclaw.json`: the rendered config ConfigMap data (`openclaw.json` after enrichment and the
//! proxy's `nginx.conf`), the apply program and its arguments (merge mode, forcePaths). The
//! token never enters it (the ConfigMap holds only the `${OPENCLAW_GATEWAY_TOKEN}` reference;
//! Secret changes roll the pod through `openclaw.rocks/secret-hash`). Workspace files from the
//! spec never enter it, and no workspace input reaches the pod template, so workspace edits do
//! not restart the pod (they apply at the next start). Skill packs do: the digest of what they
//! seed ([`crate::workspace::RenderedWorkspace::packs_digest`]) enters it when there is one, so
//! a new pack revision restarts the pod and `init-config` seeds it.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::json;

/// First 8 bytes of the SHA-256 of `bytes`, as 16 lower-case hex characters: the one short
/// hash of the renderers (config hash, generated workspace keys). The operator's
/// `controller::apply::hash_value(v)` is `short_sha256(v.to_string().as_bytes())`.
pub fn short_sha256(bytes: &[u8]) -> String {
    let mut h = ShortHasher::default();
    h.update(bytes);
    h.finish()
}

/// [`short_sha256`] fed in pieces (the operator's secret hash streams each Secret's data).
#[derive(Clone, Debug, Default)]
pub struct ShortHasher(Sha256);

impl ShortHasher {
    /// Add bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The first 8 bytes of the digest, as 16 lower-case hex characters.
    pub fn finish(self) -> String {
        self.0.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// The config hash from the config ConfigMap data, the `init-config` command and the digest
/// of the skill packs (absent when they seed nothing, so the hash of an instance without packs
/// does not depend on them).
pub fn config_hash(
    config_data: &BTreeMap<String, String>,
    init_command: &[String],
    skill_packs: Option<&str>,
) -> String {
    let mut input = Value::Object(
        [
            ("version".to_string(), Value::from(1)),
            (
                "configMap".to_string(),
                Value::Object(
                    config_data
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                        .collect(),
                ),
            ),
            (
                "initCommand".to_string(),
                Value::from(init_command.to_vec()),
            ),
        ]
        .into_iter()
        .collect(),
    );
    if let (Some(digest), Value::Object(map)) = (skill_packs, &mut input) {
        map.insert("skillPacks".to_string(), Value::from(digest));
    }
    short_sha256(json::compact(&input).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixteen_hex_chars_and_stable() {
        let data = BTreeMap::from([("openclaw.json".to_string(), "{}\n".to_string())]);
        let h = config_hash(&data, &["node".into()], None);
        assert_eq!(h.len(), 16);
        assert!(
            h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(h, config_hash(&data.clone(), &["node".into()], None));
        assert_ne!(
            h,
            config_hash(&data, &["node".into(), "merge".into()], None)
        );
        let packs = config_hash(&data, &["node".into()], Some("0123456789abcdef"));
        assert_ne!(h, packs);
        assert_ne!(
            packs,
            config_hash(&data, &["node".into()], Some("fedcba9876543210"))
        );
    }
}
