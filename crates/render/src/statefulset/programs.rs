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
  const target = path.join(dataDir, 'openclaw.json');
  let out = fs.readFileSync(configFile);
  if (mode === 'merge') {
    let base = {};
    const current = read(target);
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
function seed() {
  const plan = JSON.parse(fs.readFileSync(path.join(seedDir, '.operator-seed-plan.json'), 'utf8'));
  for (const d of plan.directories) fs.mkdirSync(inside(dataDir, d), { recursive: true });
  for (const ws of plan.workspaces) {
    const root = inside(dataDir, ws.dir);
    const fresh = !fs.existsSync(root);
    fs.mkdirSync(root, { recursive: true });
    for (const d of ws.directories) fs.mkdirSync(inside(root, d), { recursive: true });
    for (const f of ws.files) {
      try {
        const dst = inside(root, f.path);
        if (f.when === 'new-workspace' && !fresh) continue;
        if (f.when !== 'always' && exists(dst)) continue;
        fs.mkdirSync(path.dirname(dst), { recursive: true });
        write(dst, fs.readFileSync(path.join(seedDir, f.key)));
      } catch (e) {
        console.error('openclaw-operator: cannot seed ' + ws.dir + '/' + f.path + ': ' + e.message);
      }
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

#[cfg(test)]
mod tests {
    use super::APPLY;
    use crate::consts::SEED_PLAN_KEY;
    use crate::workspace::When;

    #[test]
    fn apply_knows_the_plan_format() {
        assert!(APPLY.contains(&format!("'{SEED_PLAN_KEY}'")));
        for when in [When::Always, When::NewWorkspace] {
            let name = serde_json::to_value(when).unwrap();
            assert!(
                APPLY.contains(&format!("'{}'", name.as_str().unwrap())),
                "{name}"
            );
        }
        assert_eq!(serde_json::to_value(When::Once).unwrap(), "once");
    }
}
