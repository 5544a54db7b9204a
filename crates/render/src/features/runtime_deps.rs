//! Runtime dependencies (`docs/design/optional-features.md` §1.6): `init-pnpm` and
//! `init-python` install pnpm and Python 3.12 (with uv) into the data volume's `.local`, which
//! the main container mounts at `/home/openclaw/.local`; its `bin/` goes first on `PATH`.
//!
//! Both run constant `sh` scripts: nothing from the spec reaches them. The Go operator's
//! `init-uv`, `init-pip` and `init-plugin-runtime-deps` are not rendered (uv comes with Python;
//! `ensurepip` swallowed its own failure; OpenClaw 2026.9.6 no longer resolves
//! `plugin-runtime-deps`, see `docs/features/init.md`).

use k8s_openapi::api::core::v1::Container;

use super::hooks::{Feature, PodParts};
use super::install::{LOCAL_BIN, env, main_image};
use crate::consts::{STATE_DIR, volume};
use crate::image::with_registry;
use crate::k8s::security::{helper_security, pod_run_as_non_root};
use crate::k8s::volume::{empty_dir, mount};
use crate::model::Model;

/// Name of the pnpm init container.
pub const INIT_PNPM: &str = "init-pnpm";
/// Name of the Python init container.
pub const INIT_PYTHON: &str = "init-python";
/// Scratch volume of `init-pnpm`.
pub const PNPM_TMP: &str = "pnpm-tmp";
/// Scratch volume of `init-python`.
pub const PYTHON_TMP: &str = "python-tmp";
/// Image of `init-python` (before the registry override).
pub const UV_IMAGE: &str = "ghcr.io/astral-sh/uv:0.6-bookworm-slim";

/// Installs pnpm into the data volume's `.local/bin` once: through corepack when the image has
/// it (Node ≥ 25 no longer ships corepack), otherwise with `npm install -g pnpm`. Corepack's
/// home is the data volume's `.cache/node/corepack`, the default of the main container
/// (`~/.cache` is the same directory there), so the pnpm downloaded here is reused.
pub const PNPM_SCRIPT: &str = r#"set -e
INSTALL_DIR=/home/openclaw/.openclaw/.local
export COREPACK_HOME=/home/openclaw/.openclaw/.cache/node/corepack
export COREPACK_ENABLE_DOWNLOAD_PROMPT=0
mkdir -p "$INSTALL_DIR/bin"
if [ -x "$INSTALL_DIR/bin/pnpm" ]; then
  echo "pnpm already installed"
elif command -v corepack >/dev/null 2>&1; then
  corepack enable pnpm --install-directory "$INSTALL_DIR/bin"
else
  echo "corepack not found; installing pnpm with npm"
  NPM_CONFIG_PREFIX="$INSTALL_DIR" npm install -g pnpm
fi
"$INSTALL_DIR/bin/pnpm" --version
"#;

/// Installs Python 3.12 with uv into the data volume's `.local/python` once, links
/// `bin/python3` and `bin/python` to it (relative links, valid under both mount points), and
/// keeps `bin/uv` equal to the image's uv.
pub const PYTHON_SCRIPT: &str = r#"set -e
INSTALL_DIR=/home/openclaw/.openclaw/.local
BIN="$INSTALL_DIR/bin"
mkdir -p "$BIN"
if [ -x "$BIN/python3" ]; then
  echo "python already installed"
else
  UV_PYTHON_INSTALL_DIR="$INSTALL_DIR/python" uv python install 3.12
  PY=
  for p in "$INSTALL_DIR"/python/cpython-3.12*/bin/python3; do
    if [ -x "$p" ]; then PY="$p"; break; fi
  done
  if [ -z "$PY" ]; then echo "python 3.12 not found after uv python install" >&2; exit 1; fi
  REL="../python/${PY#"$INSTALL_DIR/python/"}"
  ln -sfn "$REL" "$BIN/python3"
  ln -sfn "$REL" "$BIN/python"
fi
UV=$(command -v uv)
if [ "$("$BIN/uv" --version 2>/dev/null || true)" != "$("$UV" --version)" ]; then
  cp "$UV" "$BIN/.uv.tmp"
  mv -f "$BIN/.uv.tmp" "$BIN/uv"
fi
"$BIN/python3" --version
"$BIN/uv" --version
"#;

/// Runtime dependencies (pnpm, Python).
pub struct RuntimeDeps;

/// The registry entry.
pub static T: RuntimeDeps = RuntimeDeps;

fn wants(m: &Model) -> (bool, bool) {
    let rd = m.spec.runtime_deps.as_ref();
    (
        rd.and_then(|r| r.pnpm) == Some(true),
        rd.and_then(|r| r.python) == Some(true),
    )
}

fn sh_container(
    m: &Model,
    name: &str,
    image: String,
    pull_policy: String,
    script: &str,
    env_vars: &[(&str, &str)],
    tmp: &str,
) -> Container {
    Container {
        name: name.to_string(),
        image: Some(image),
        image_pull_policy: Some(pull_policy),
        command: Some(vec!["sh".to_string(), "-c".to_string(), script.to_string()]),
        env: Some(env_vars.iter().map(|(k, v)| env(k, v)).collect()),
        security_context: Some(helper_security(pod_run_as_non_root(m), None)),
        volume_mounts: Some(vec![
            mount(volume::DATA, STATE_DIR, None, false),
            mount(tmp, "/tmp", None, false),
        ]),
        ..Default::default()
    }
}

impl Feature for RuntimeDeps {
    fn name(&self) -> &'static str {
        "runtime-deps"
    }

    fn enabled(&self, m: &Model) -> bool {
        let (pnpm, python) = wants(m);
        pnpm || python
    }

    fn pod(&self, m: &Model, parts: &mut PodParts, _warnings: &mut Vec<String>) {
        let (pnpm, python) = wants(m);
        if pnpm {
            parts.init_containers.push(sh_container(
                m,
                INIT_PNPM,
                main_image(m),
                m.pull_policy(),
                PNPM_SCRIPT,
                &[("HOME", "/tmp"), ("NPM_CONFIG_CACHE", "/tmp/.npm")],
                PNPM_TMP,
            ));
            parts.volumes.push(empty_dir(PNPM_TMP));
        }
        if python {
            parts.init_containers.push(sh_container(
                m,
                INIT_PYTHON,
                with_registry(UV_IMAGE, m.registry()),
                "IfNotPresent".to_string(),
                PYTHON_SCRIPT,
                &[("HOME", "/tmp"), ("XDG_CACHE_HOME", "/tmp/.cache")],
                PYTHON_TMP,
            ));
            parts.volumes.push(empty_dir(PYTHON_TMP));
        }
        parts.path_prefixes.push(LOCAL_BIN.to_string());
    }
}
