//! The small Node.js programs the pod runs. They are passed as `node -e <program> <args...>`
//! (every OpenClaw image has Node), so no value is ever interpolated into code or a shell
//! command line: no quoting bugs, no shell history expansion, any file name works.

/// Applies the operator's `openclaw.json` and, when a seed directory is given, seeds the
/// workspaces from the plan in the workspace ConfigMap.
///
/// Arguments: `mode` (`overwrite` or `merge`), `forcePaths` (JSON list, used in merge mode),
/// the data directory, the operator's `openclaw.json`, and optionally the mounted workspace
/// ConfigMap.
///
/// The file is `<data>/config/openclaw.json` (the main container's `OPENCLAW_CONFIG_PATH`), in
/// a folder this program creates as the pod's user: OpenClaw 2026.9 `fchmod`s the folder of its
/// config on every write, which fails with `EPERM` when that folder is the volume's root, owned
/// by root on real clusters (Go operator #607). The Go operator's layout kept the file at
/// `<data>/openclaw.json`; merge mode starts from that file while the new one does not exist
/// yet, and the old file is left in place (a rollback to the Go operator finds it).
///
/// - overwrite: the file becomes the operator's.
/// - merge: the file on the volume is parsed (when it is not a JSON object it is kept as
///   `openclaw.json.invalid` and replaced), every `forcePaths` entry is deleted from it, then the
///   operator's config is deep-merged in: objects merge key by key, anything else from the
///   operator replaces the value on the volume, keys only on the volume stay.
/// - The file is written only when its content changes, through a temporary file in the same
///   directory and a rename, so the gateway never reads a half-written file.
/// - Seeding follows the plan (see `crate::workspace`); paths are checked to stay inside the
///   data directory. A file that cannot be seeded is reported on stderr and skipped, so one bad
///   file does not keep the gateway from starting; a config that cannot be applied fails.
/// - A workspace with a skill-pack `manifest` (Replace policy) is first pruned: every entry of
///   the manifest on the volume (one relative path a line) that the plan no longer lists as a
///   `replace` file is removed when it is a file or a symbolic link whose directory really lies
///   inside the workspace, then its parent directories while they are empty. Nothing the
///   manifest does not name is ever removed. After seeding, the manifest lists the plan's
///   `replace` files (it is removed when there are none).
pub const APPLY: &str = r#"'use strict';
const fs = require('fs');
const path = require('path');
const [mode, forcePaths, dataDir, configFile, seedDir] = process.argv.slice(1);
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const own = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
const put = (o, k, v) => Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
function merge(base, over) {
  for (const k of Object.keys(over)) {
    if (isObject(over[k]) && own(base, k) && isObject(base[k])) merge(base[k], over[k]);
    else put(base, k, over[k]);
  }
  return base;
}
function drop(obj, dotted) {
  const keys = dotted.split('.');
  let o = obj;
  for (const k of keys.slice(0, -1)) {
    if (o === null || typeof o !== 'object' || !own(o, k)) return;
    o = o[k];
  }
  if (o !== null && typeof o === 'object') delete o[keys[keys.length - 1]];
}
function read(file) {
  try { return fs.readFileSync(file); } catch (e) { if (e.code === 'ENOENT') return null; throw e; }
}
function write(file, content) {
  const current = read(file);
  if (current !== null && current.equals(content)) return;
  const tmp = path.join(path.dirname(file), '.' + path.basename(file) + '.operator-tmp');
  fs.writeFileSync(tmp, content);
  fs.renameSync(tmp, file);
}
function exists(file) {
  try { fs.lstatSync(file); return true; } catch (e) { if (e.code === 'ENOENT') return false; throw e; }
}
function inside(root, rel) {
  const r = path.resolve(root);
  const p = path.resolve(r, rel);
  if (p !== r && !p.startsWith(r + path.sep)) throw new Error('path escapes ' + r + ': ' + rel);
  return p;
}
function applyConfig() {
  const dir = path.join(dataDir, 'config');
  const target = path.join(dir, 'openclaw.json');
  fs.mkdirSync(dir, { recursive: true });
  let out = fs.readFileSync(configFile);
  if (mode === 'merge') {
    let base = {};
    let current = read(target);
    if (current === null) current = read(path.join(dataDir, 'openclaw.json'));
    if (current !== null) {
      try { base = JSON.parse(current.toString('utf8')); } catch (e) { base = null; }
      if (!isObject(base)) {
        fs.writeFileSync(target + '.invalid', current);
        console.error('openclaw.json on the data volume is not a JSON object; kept as openclaw.json.invalid');
        base = {};
      }
    }
    for (const p of JSON.parse(forcePaths)) drop(base, p);
    out = Buffer.from(JSON.stringify(merge(base, JSON.parse(out.toString('utf8'))), null, 2) + '\n');
  }
  write(target, out);
}
function prune(root, manifest, keep) {
  const old = read(manifest);
  if (old === null) return;
  const real = fs.realpathSync(root);
  for (const rel of old.toString('utf8').split('\n')) {
    if (rel === '' || keep.has(rel) || path.isAbsolute(rel) || rel.split('/').some((s) => s === '' || s === '.' || s === '..')) continue;
    try {
      const file = inside(root, rel);
      let dir;
      try { dir = fs.realpathSync(path.dirname(file)); } catch (e) { if (e.code === 'ENOENT') continue; throw e; }
      if (dir !== real && !dir.startsWith(real + path.sep)) continue;
      const target = path.join(dir, path.basename(file));
      let st = null;
      try { st = fs.lstatSync(target); } catch (e) { if (e.code !== 'ENOENT') throw e; }
      if (st !== null && st.isDirectory()) continue;
      if (st !== null) fs.unlinkSync(target);
      for (let d = dir; d !== real && d.startsWith(real + path.sep); d = path.dirname(d)) {
        try { fs.rmdirSync(d); } catch (e) { break; }
      }
    } catch (e) {
      console.error('openclaw-operator: cannot remove ' + rel + ' of an earlier skill pack: ' + e.message);
    }
  }
}
function seed() {
  const plan = JSON.parse(fs.readFileSync(path.join(seedDir, '.operator-seed-plan.json'), 'utf8'));
  for (const d of plan.directories) fs.mkdirSync(inside(dataDir, d), { recursive: true });
  for (const ws of plan.workspaces) {
    const root = inside(dataDir, ws.dir);
    const fresh = !fs.existsSync(root);
    fs.mkdirSync(root, { recursive: true });
    const manifest = ws.manifest ? inside(dataDir, ws.manifest) : null;
    const tracked = ws.files.filter((f) => f.when === 'replace').map((f) => f.path);
    if (manifest) prune(root, manifest, new Set(tracked));
    for (const d of ws.directories) fs.mkdirSync(inside(root, d), { recursive: true });
    for (const f of ws.files) {
      try {
        const dst = inside(root, f.path);
        if (f.when === 'new-workspace' && !fresh) continue;
        if (f.when !== 'always' && f.when !== 'replace' && exists(dst)) continue;
        fs.mkdirSync(path.dirname(dst), { recursive: true });
        write(dst, fs.readFileSync(path.join(seedDir, f.key)));
      } catch (e) {
        console.error('openclaw-operator: cannot seed ' + ws.dir + '/' + f.path + ': ' + e.message);
      }
    }
    try {
      if (manifest && tracked.length) write(manifest, Buffer.from(tracked.map((p) => p + '\n').join('')));
      else if (manifest) fs.rmSync(manifest, { force: true });
    } catch (e) {
      console.error('openclaw-operator: cannot update ' + ws.manifest + ': ' + e.message);
    }
  }
}
try {
  if (seedDir) fs.mkdirSync(dataDir, { recursive: true });
  applyConfig();
  if (seedDir) seed();
} catch (e) {
  console.error('openclaw-operator: ' + e.message);
  process.exit(1);
}
"#;

/// Health check of the gateway: fetches a URL on loopback and succeeds only when the JSON body
/// has `<field>: true` (OpenClaw answers every unknown path with HTTP 200, so the status code
/// proves nothing). With a directory and a size in KiB it first checks that the directory is
/// writable and has that much free space (`spec.probes.diskReadiness`).
///
/// Arguments: URL, field, timeout in milliseconds, [directory, minimum free KiB].
pub const PROBE: &str = r#"'use strict';
const [url, field, ms, dir, minKiB] = process.argv.slice(1);
const fail = (why) => { console.error(why); process.exit(1); };
if (dir) {
  const fs = require('fs');
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    const s = fs.statfsSync(dir);
    if (s.bavail * s.bsize < Number(minKiB) * 1024) fail(dir + ': less than ' + minKiB + ' KiB free');
  } catch (e) { fail(String(e)); }
}
fetch(url, { signal: AbortSignal.timeout(Number(ms)) })
  .then((r) => r.json())
  .then((b) => (b !== null && b[field] === true ? process.exit(0) : fail(JSON.stringify(b))), (e) => fail(String(e)));
"#;

/// The ClawHub CLI `init-skills` runs through `npx` (pinned: its flags `--workdir` and
/// `--no-input` and its "Already installed" message are what [`INSTALL_SKILLS`] relies on).
pub const CLAWHUB_PACKAGE: &str = "clawhub@0.23.3";

/// The retry constants and the `run(argv)` helper shared by [`INSTALL_SKILLS`] and
/// [`INSTALL_PLUGINS`]: spawns a tool with an argument array (no shell), echoes its output and
/// keeps the last 64 KiB for the retry decision.
macro_rules! install_runner {
    () => {
        r#"const RETRIES = 3;
const TRANSIENT = /\b(429|503)\b|ETIMEDOUT|Too Many Requests|Service Unavailable/i;
const BACKOFF = Number(process.env.OPENCLAW_OPERATOR_BACKOFF_MS || 2000);
const log = (m) => console.log('openclaw-operator: ' + m);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function run(argv) {
  return new Promise((resolve) => {
    let out = '';
    const keep = (sink) => (chunk) => { sink.write(chunk); out = (out + chunk.toString()).slice(-65536); };
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', keep(process.stdout));
    child.stderr.on('data', keep(process.stderr));
    child.on('error', (e) => { console.error('openclaw-operator: ' + argv[0] + ': ' + e.message); resolve({ code: null, out }); });
    child.on('close', (code) => resolve({ code, out }));
  });
}
"#
    };
}

/// Installs skills (`init-skills`). One argument: the JSON plan
/// `[{"kind": "clawhub" | "npm", "ref": "...", "workdir": "..."}]`, in install order.
///
/// - `npm`: `npm install -g <ref>` (the prefix comes from `NPM_CONFIG_PREFIX`);
/// - `clawhub`: `npx -y clawhub@<pin> --workdir <workdir> --no-input install <ref>`, which
///   installs into `<workdir>/skills/`; "Already installed" counts as success.
///
/// Every command is spawned with an argument array, never through a shell. Output that names a
/// transient registry error (429, 503, ETIMEDOUT) is retried 3 times with exponential backoff
/// (base `OPENCLAW_OPERATOR_BACKOFF_MS`, default 2000 ms). Every entry is tried; when any
/// failed, the program exits 1, so the pod does not start with skills missing.
pub const INSTALL_SKILLS: &str = concat!(
    r#"'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const CLAWHUB = 'clawhub@0.23.3';
"#,
    install_runner!(),
    r#"async function install(what, argv, done) {
  for (let attempt = 0; ; attempt++) {
    log(what + (attempt ? ' (retry ' + attempt + ' of ' + RETRIES + ')' : ''));
    const r = await run(argv);
    if (r.code === 0 || done(r.out)) return true;
    if (attempt < RETRIES && TRANSIENT.test(r.out)) {
      await sleep(BACKOFF * 2 ** attempt);
      continue;
    }
    console.error('openclaw-operator: ' + what + ' failed (exit ' + r.code + ')');
    return false;
  }
}
async function main() {
  const plan = JSON.parse(process.argv[1]);
  const failed = [];
  for (const e of plan) {
    const ref = String(e.ref);
    let ok = false;
    if (ref === '' || ref.startsWith('-')) {
      console.error('openclaw-operator: invalid reference ' + JSON.stringify(ref));
    } else if (e.kind === 'npm') {
      ok = await install('npm install -g ' + ref, ['npm', 'install', '-g', ref], () => false);
    } else if (e.kind === 'clawhub') {
      fs.mkdirSync(e.workdir, { recursive: true });
      ok = await install('clawhub install ' + ref + ' into ' + e.workdir,
        ['npx', '-y', CLAWHUB, '--workdir', e.workdir, '--no-input', 'install', ref],
        (out) => out.includes('Already installed'));
    } else {
      console.error('openclaw-operator: unknown kind ' + JSON.stringify(e.kind));
    }
    if (!ok) failed.push(ref);
  }
  if (failed.length) {
    console.error('openclaw-operator: ' + failed.length + ' of ' + plan.length + ' skills failed: ' + failed.join(', '));
    process.exit(1);
  }
  log(plan.length + ' skills installed');
}
main().catch((e) => { console.error('openclaw-operator: ' + (e && e.stack || e)); process.exit(1); });
"#
);

/// Installs plugins (`init-plugins`). One argument: the JSON list of install specs
/// (`npm:<package>` or `clawhub:<entry>`), already sorted.
///
/// Each runs `openclaw plugins install --force --accept-capabilities <spec>` (an argument
/// array, no shell). `--force` overwrites an earlier install of the same plugin (the data
/// volume keeps it across restarts); `--accept-capabilities` is the consent OpenClaw ≥ 2026.9
/// requires for a third-party plugin in a non-interactive install: listing the plugin in the
/// spec is that consent. An OpenClaw that does not know the flag is retried without it. The
/// retry and failure rules are those of [`INSTALL_SKILLS`].
pub const INSTALL_PLUGINS: &str = concat!(
    r#"'use strict';
const { spawn } = require('child_process');
"#,
    install_runner!(),
    r#"async function install(spec) {
  let consent = true;
  for (let attempt = 0; ; attempt++) {
    const argv = ['openclaw', 'plugins', 'install', '--force'].concat(consent ? ['--accept-capabilities'] : [], [spec]);
    log('openclaw plugins install ' + spec + (attempt ? ' (retry ' + attempt + ' of ' + RETRIES + ')' : ''));
    const r = await run(argv);
    if (r.code === 0) return true;
    if (consent && /unknown option '--accept-capabilities'/.test(r.out)) {
      consent = false;
      attempt--;
      continue;
    }
    if (attempt < RETRIES && TRANSIENT.test(r.out)) {
      await sleep(BACKOFF * 2 ** attempt);
      continue;
    }
    console.error('openclaw-operator: plugin ' + spec + ' failed (exit ' + r.code + ')');
    return false;
  }
}
async function main() {
  const specs = JSON.parse(process.argv[1]);
  const failed = [];
  for (const spec of specs) {
    const s = String(spec);
    const valid = /^(npm|clawhub):[^-]/.test(s);
    if (!valid) console.error('openclaw-operator: invalid plugin spec ' + JSON.stringify(s));
    if (!valid || !(await install(s))) failed.push(s);
  }
  if (failed.length) {
    console.error('openclaw-operator: ' + failed.length + ' of ' + specs.length + ' plugins failed: ' + failed.join(', '));
    process.exit(1);
  }
  log(specs.length + ' plugins installed');
}
main().catch((e) => { console.error('openclaw-operator: ' + (e && e.stack || e)); process.exit(1); });
"#
);

#[cfg(test)]
mod tests {
    use super::{APPLY, CLAWHUB_PACKAGE, INSTALL_SKILLS};
    use crate::consts::SEED_PLAN_KEY;
    use crate::workspace::When;

    #[test]
    fn apply_knows_the_plan_format() {
        assert!(APPLY.contains(&format!("'{SEED_PLAN_KEY}'")));
        for when in [When::Always, When::NewWorkspace, When::Replace] {
            let name = serde_json::to_value(when).unwrap();
            assert!(
                APPLY.contains(&format!("'{}'", name.as_str().unwrap())),
                "{name}"
            );
        }
        assert_eq!(serde_json::to_value(When::Once).unwrap(), "once");
    }

    #[test]
    fn install_skills_uses_the_pinned_clawhub() {
        assert!(INSTALL_SKILLS.contains(&format!("const CLAWHUB = '{CLAWHUB_PACKAGE}';")));
    }
}
