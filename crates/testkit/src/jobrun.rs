//! A kubelet stand-in that runs one container of a pod spec as a local process: kwok runs no
//! containers, so tests of rendered Jobs (backup, restore) run them with this instead.
//!
//! What it does as the kubelet and the container runtime do:
//!
//! - **Environment**: `envFrom` (`secretRef`, with `prefix` and `optional`), then `env` in order:
//!   a plain `value` is expanded (`$(VAR)`, see [`expand`]) against the variables defined
//!   before it; `valueFrom.secretKeyRef` takes the Secret's bytes as they are (never
//!   expanded); a later duplicate wins. A missing Secret or key fails (the kubelet's
//!   `CreateContainerConfigError`) unless `optional: true`, which drops the variable.
//! - **Command line**: `command` and `args` are expanded against the final environment and run
//!   as they are: no shell unless the container's own `command` is one, no argument rewritten.
//! - **Volumes**: each `volumeMount` of the container becomes a bind mount of the local directory
//!   given for its volume (`subPath` honoured, `readOnly` remounted read-only) at its
//!   `mountPath`, in a private mount namespace (`unshare --mount --fork`), so the absolute paths
//!   the Job names (`/data`) are the ones the process sees. Mounts are made parents first.
//! - **Exact environment**: the process gets exactly the container's variables plus `PATH`
//!   (`path_prefix` first, then the usual system directories, so `rclone` resolves to the tool
//!   under test and `sh` to the system's), unless the container sets `PATH` itself. For a
//!   non-root identity `path_prefix` is bind-mounted read-only at [`NON_ROOT_PATH_DIR`] and
//!   `PATH` names that instead.
//!
//! - **Identity**: `runAsUser` and `runAsGroup` (the container's, else the pod's) become the
//!   process's user and group, and the pod's `fsGroup` and `supplementalGroups` its
//!   supplementary groups (`setpriv`, after the mounts); a non-root process has no
//!   capabilities, as in a container. A `runAsUser` without `runAsGroup` gets group 0, as with an
//!   image that does not name the user. Without either the process runs as root.
//!
//! What it does not do: images (the host's files are the container's root file system), the
//! kubelet's volume ownership change for `fsGroup` (the local directories are used as they
//! are: make them writable for the Job's user), users named in an image, resource limits,
//! probes, `workingDir` defaults of an image (the default is `/`), ConfigMaps, the downward API
//! and the service-link variables. Mount points missing on the host (`/data`) are created there
//! as empty directories and left in place (removing them could unmount them under a concurrent
//! test). Needs root (or CAP_SYS_ADMIN) for the mount namespace.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt as _, OsStringExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, VolumeMount};

/// Secrets by name, then by key: what `secretKeyRef` and `envFrom.secretRef` read.
pub type Secrets = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

/// Where `path_prefix` is bind-mounted (and named in `PATH`) for a process that does not run as
/// root, which may not reach the original (the tool cache lives under `/root`).
pub const NON_ROOT_PATH_DIR: &str = "/tmp/openclaw-jobrun-path";

/// The system directories after `path_prefix` in the `PATH` given to the process.
pub const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Sets up the mounts, changes directory and executes the rest of its arguments: `[setpriv
/// IDENTITY --] env -i VARS... COMMAND ARGS...`, so the command gets exactly the resolved
/// environment (a shell would add `PWD` of its own) and identity. Arguments: the number of
/// mounts, then per mount `source target ro|rw`, the working directory, then the command.
const MOUNT_SCRIPT: &str = r#"set -eu
n=$1
shift
while [ "$n" -gt 0 ]; do
	src=$1 dst=$2 mode=$3
	shift 3
	if [ -d "$src" ]; then
		mkdir -p "$dst"
	else
		mkdir -p "$(dirname "$dst")"
		[ -e "$dst" ] || : >"$dst"
	fi
	mount --bind "$src" "$dst"
	if [ "$mode" = ro ]; then
		mount -o remount,bind,ro "$dst"
	fi
	n=$((n - 1))
done
cd "$1"
shift
exec "$@"
"#;

/// Errors of the runner.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pod spec has no container of that name.
    #[error("the pod has no container {0:?}")]
    NoContainer(String),
    /// A variable cannot be resolved (the kubelet fails the container with
    /// `CreateContainerConfigError`).
    #[error("env {name}: {reason}")]
    Env {
        /// The variable.
        name: String,
        /// Why.
        reason: String,
    },
    /// A volume mount cannot be made.
    #[error("volume mount {mount_path}: {reason}")]
    Mount {
        /// The mount path.
        mount_path: String,
        /// Why.
        reason: String,
    },
    /// The container cannot be run as given.
    #[error("container {container}: {reason}")]
    Container {
        /// The container.
        container: String,
        /// Why.
        reason: String,
    },
    /// Starting or waiting for the process failed.
    #[error("running container {container}: {source}")]
    Io {
        /// The container.
        container: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Runs `container` of `pod` to completion (see the module docs) and returns its exit status
/// and what it printed. `volumes` maps a pod volume's name to the local directory that stands
/// for it; every volume the container mounts must be there.
pub fn run_container(
    pod: &PodSpec,
    container: &str,
    secrets: &Secrets,
    volumes: &BTreeMap<String, PathBuf>,
    path_prefix: &Path,
) -> Result<Output, Error> {
    let mut command = container_command(pod, container, secrets, volumes, path_prefix)?;
    command
        .stdin(Stdio::null())
        .output()
        .map_err(|source| Error::Io {
            container: container.to_owned(),
            source,
        })
}

/// The fully prepared process of [`run_container`], for callers that want to spawn it (and,
/// say, kill it midway) themselves. Stdin, stdout and stderr are left to the caller.
pub fn container_command(
    pod: &PodSpec,
    container: &str,
    secrets: &Secrets,
    volumes: &BTreeMap<String, PathBuf>,
    path_prefix: &Path,
) -> Result<Command, Error> {
    let spec = pod
        .containers
        .iter()
        .chain(pod.init_containers.iter().flatten())
        .find(|c| c.name == container)
        .ok_or_else(|| Error::NoContainer(container.to_owned()))?;
    let container_error = |reason: &str| Error::Container {
        container: container.to_owned(),
        reason: reason.to_owned(),
    };

    let mut env = resolve_env(spec, secrets)?;
    let argv = command_line(spec, &env);
    let Some(program) = argv.first() else {
        return Err(container_error(
            "no command and no args (the image's entrypoint is not known here)",
        ));
    };
    if program.contains(&b'=') {
        // `env` would take it for a variable.
        return Err(container_error("a command containing `=` cannot be run"));
    }
    let identity = identity(pod, spec);
    let mut mounts = mounts(pod, spec, volumes)?;
    // Another user may not reach `path_prefix` (the tool cache under /root): it gets a bind
    // mount of it at a place anyone can reach.
    let non_root = identity.as_ref().is_some_and(|id| id.uid != 0);
    let path_dir = if non_root {
        let source = path_prefix
            .canonicalize()
            .map_err(|e| container_error(&format!("path prefix {}: {e}", path_prefix.display())))?;
        mounts.push(Mount {
            source,
            target: NON_ROOT_PATH_DIR.to_owned(),
            read_only: true,
        });
        mounts.sort_by_key(|m| Path::new(&m.target).components().count());
        Path::new(NON_ROOT_PATH_DIR)
    } else {
        path_prefix
    };
    if !env.iter().any(|(name, _)| name == "PATH") {
        let mut path = path_dir.as_os_str().as_bytes().to_vec();
        path.push(b':');
        path.extend_from_slice(SYSTEM_PATH.as_bytes());
        env.push(("PATH".to_owned(), path));
    }
    let mut cmd = Command::new("unshare");
    cmd.env_clear()
        .env("PATH", SYSTEM_PATH)
        .args(["--mount", "--propagation", "private", "--fork", "--"])
        .args(["sh", "-c", MOUNT_SCRIPT, "openclaw-jobrun"])
        .arg(mounts.len().to_string());
    for mount in &mounts {
        cmd.arg(&mount.source)
            .arg(&mount.target)
            .arg(if mount.read_only { "ro" } else { "rw" });
    }
    cmd.arg(
        spec.working_dir
            .as_deref()
            .filter(|w| !w.is_empty())
            .unwrap_or("/"),
    );
    if let Some(id) = &identity {
        cmd.arg("setpriv")
            .arg(format!("--reuid={}", id.uid))
            .arg(format!("--regid={}", id.gid));
        if id.groups.is_empty() {
            cmd.arg("--clear-groups");
        } else {
            let groups: Vec<String> = id.groups.iter().map(u32::to_string).collect();
            cmd.arg(format!("--groups={}", groups.join(",")));
        }
        cmd.arg("--");
    }
    cmd.args(["env", "-i"]);
    for (name, value) in &env {
        let mut assignment = name.clone().into_bytes();
        assignment.push(b'=');
        assignment.extend_from_slice(value);
        cmd.arg(OsString::from_vec(assignment));
    }
    cmd.args(argv.iter().map(|a| OsStr::from_bytes(a)));
    Ok(cmd)
}

/// The container's environment as the kubelet resolves it (see the module docs), in the order
/// the variables were first defined.
pub fn resolve_env(
    container: &Container,
    secrets: &Secrets,
) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut env: Vec<(String, Vec<u8>)> = Vec::new();
    let set = |env: &mut Vec<(String, Vec<u8>)>, name: &str, value: Vec<u8>| match env
        .iter_mut()
        .find(|(n, _)| n == name)
    {
        Some(slot) => slot.1 = value,
        None => env.push((name.to_owned(), value)),
    };
    for source in container.env_from.iter().flatten() {
        if source.config_map_ref.is_some() {
            return Err(Error::Env {
                name: "envFrom".to_owned(),
                reason: "configMapRef is not supported by this runner".to_owned(),
            });
        }
        let Some(secret_ref) = &source.secret_ref else {
            continue;
        };
        match secrets.get(&secret_ref.name) {
            Some(data) => {
                let prefix = source.prefix.as_deref().unwrap_or_default();
                for (key, value) in data {
                    set(&mut env, &format!("{prefix}{key}"), value.clone());
                }
            }
            None if secret_ref.optional == Some(true) => {}
            None => {
                return Err(Error::Env {
                    name: "envFrom".to_owned(),
                    reason: format!("secret {:?} not found", secret_ref.name),
                });
            }
        }
    }
    for var in container.env.iter().flatten() {
        if let Some(value) = env_value(var, &env, secrets)? {
            set(&mut env, &var.name, value);
        }
    }
    Ok(env)
}

fn env_value(
    var: &EnvVar,
    defined: &[(String, Vec<u8>)],
    secrets: &Secrets,
) -> Result<Option<Vec<u8>>, Error> {
    let fail = |reason: String| Error::Env {
        name: var.name.clone(),
        reason,
    };
    let Some(from) = &var.value_from else {
        // A plain value (an empty one included) is expanded against what is defined so far.
        let value = var.value.as_deref().unwrap_or_default();
        return Ok(Some(expand(value.as_bytes(), &lookup_in(defined))));
    };
    let Some(key_ref) = &from.secret_key_ref else {
        return Err(fail(
            "only valueFrom.secretKeyRef is supported by this runner".to_owned(),
        ));
    };
    let optional = key_ref.optional == Some(true);
    let Some(secret) = secrets.get(&key_ref.name) else {
        return if optional {
            Ok(None)
        } else {
            Err(fail(format!("secret {:?} not found", key_ref.name)))
        };
    };
    match secret.get(&key_ref.key) {
        Some(value) => Ok(Some(value.clone())),
        None if optional => Ok(None),
        None => Err(fail(format!(
            "couldn't find key {} in Secret {}",
            key_ref.key, key_ref.name
        ))),
    }
}

fn lookup_in(env: &[(String, Vec<u8>)]) -> impl Fn(&[u8]) -> Option<Vec<u8>> + '_ {
    move |name| {
        env.iter()
            .find(|(n, _)| n.as_bytes() == name)
            .map(|(_, v)| v.clone())
    }
}

/// `command` followed by `args`, each expanded against `env`.
pub fn command_line(container: &Container, env: &[(String, Vec<u8>)]) -> Vec<Vec<u8>> {
    let lookup = lookup_in(env);
    container
        .command
        .iter()
        .flatten()
        .chain(container.args.iter().flatten())
        .map(|a| expand(a.as_bytes(), &lookup))
        .collect()
}

/// Kubernetes' `$(VAR)` expansion, byte for byte as the kubelet's
/// (`third_party/forked/golang/expansion`): `$(NAME)` becomes the value of `NAME` when `lookup`
/// knows it and stays `$(NAME)` otherwise; `$$` becomes `$`; a `$(` without a closing `)` stays;
/// any other `$x` stays as is. One quirk is kept on purpose: the kubelet copies the byte after
/// such a `$` as a Go `string(byte)`, which re-encodes a non-ASCII byte as the code point of the
/// same number (`"$é"` comes out as `"$Ã\u{a9}"`-like mojibake).
pub fn expand(input: &[u8], lookup: &dyn Fn(&[u8]) -> Option<Vec<u8>>) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut checkpoint = 0;
    let mut cursor = 0;
    while cursor < input.len() {
        if input[cursor] == b'$' && cursor + 1 < input.len() {
            out.extend_from_slice(&input[checkpoint..cursor]);
            let rest = &input[cursor + 1..];
            let advance = match rest[0] {
                b'$' => {
                    out.push(b'$');
                    1
                }
                b'(' => match rest.iter().position(|&b| b == b')') {
                    Some(close) => {
                        let name = &rest[1..close];
                        match lookup(name) {
                            Some(value) => out.extend_from_slice(&value),
                            None => {
                                out.extend_from_slice(b"$(");
                                out.extend_from_slice(name);
                                out.push(b')');
                            }
                        }
                        close + 1
                    }
                    None => {
                        out.extend_from_slice(b"$(");
                        1
                    }
                },
                other => {
                    out.push(b'$');
                    let mut utf8 = [0; 4];
                    out.extend_from_slice(char::from(other).encode_utf8(&mut utf8).as_bytes());
                    1
                }
            };
            cursor += advance;
            checkpoint = cursor + 1;
        }
        cursor += 1;
    }
    out.extend_from_slice(&input[checkpoint.min(input.len())..]);
    out
}

/// [`expand`] on text with a map of variables.
pub fn expand_str(input: &str, vars: &BTreeMap<String, String>) -> String {
    let lookup = |name: &[u8]| {
        std::str::from_utf8(name)
            .ok()
            .and_then(|n| vars.get(n))
            .map(|v| v.clone().into_bytes())
    };
    String::from_utf8_lossy(&expand(input.as_bytes(), &lookup)).into_owned()
}

/// The user, group and supplementary groups a container runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// `runAsUser`.
    pub uid: u32,
    /// `runAsGroup` (0 when only the user is given).
    pub gid: u32,
    /// `fsGroup` and `supplementalGroups`, sorted, without duplicates.
    pub groups: Vec<u32>,
}

/// The identity of `container` in `pod`, as the kubelet sets it; `None` for root with no
/// supplementary groups (nothing set).
pub fn identity(pod: &PodSpec, container: &Container) -> Option<Identity> {
    let pod_sc = pod.security_context.as_ref();
    let sc = container.security_context.as_ref();
    let uid = sc
        .and_then(|s| s.run_as_user)
        .or_else(|| pod_sc.and_then(|s| s.run_as_user));
    let gid = sc
        .and_then(|s| s.run_as_group)
        .or_else(|| pod_sc.and_then(|s| s.run_as_group));
    let mut groups: Vec<u32> = pod_sc
        .and_then(|s| s.fs_group)
        .into_iter()
        .chain(
            pod_sc
                .and_then(|s| s.supplemental_groups.clone())
                .into_iter()
                .flatten(),
        )
        .filter_map(|g| u32::try_from(g).ok())
        .collect();
    groups.sort_unstable();
    groups.dedup();
    if uid.is_none() && gid.is_none() && groups.is_empty() {
        return None;
    }
    let id = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
    Some(Identity {
        uid: id(uid),
        gid: id(gid),
        groups,
    })
}

#[derive(Debug)]
struct Mount {
    source: PathBuf,
    target: String,
    read_only: bool,
}

fn mounts(
    pod: &PodSpec,
    container: &Container,
    volumes: &BTreeMap<String, PathBuf>,
) -> Result<Vec<Mount>, Error> {
    let mut out = Vec::new();
    for m in container.volume_mounts.iter().flatten() {
        out.push(mount(pod, m, volumes)?);
    }
    // Parents before children, as container runtimes order them.
    out.sort_by_key(|m| Path::new(&m.target).components().count());
    Ok(out)
}

fn mount(
    pod: &PodSpec,
    m: &VolumeMount,
    volumes: &BTreeMap<String, PathBuf>,
) -> Result<Mount, Error> {
    let fail = |reason: String| Error::Mount {
        mount_path: m.mount_path.clone(),
        reason,
    };
    if !m.mount_path.starts_with('/') {
        return Err(fail("the mount path is not absolute".to_owned()));
    }
    let declared = pod.volumes.iter().flatten().any(|v| v.name == m.name);
    if !declared {
        return Err(fail(format!("the pod has no volume {:?}", m.name)));
    }
    let dir = volumes
        .get(&m.name)
        .ok_or_else(|| fail(format!("no local directory given for volume {:?}", m.name)))?;
    let mut source = dir
        .canonicalize()
        .map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    if let Some(sub) = m.sub_path.as_deref().filter(|s| !s.is_empty()) {
        if Path::new(sub).is_absolute() || sub.split('/').any(|c| c == "..") {
            return Err(fail(format!("invalid subPath {sub:?}")));
        }
        source = source.join(sub);
        if !source.exists() {
            // The kubelet creates a missing subPath as a directory.
            std::fs::create_dir_all(&source)
                .map_err(|e| fail(format!("creating {}: {e}", source.display())))?;
        }
    }
    Ok(Mount {
        source,
        target: m.mount_path.clone(),
        read_only: m.read_only == Some(true),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn expansion_follows_the_kubelet() {
        let v = vars(&[("A", "alpha"), ("B", "$(A)"), ("EMPTY", "")]);
        let cases = [
            ("", ""),
            ("plain", "plain"),
            ("$(A)", "alpha"),
            ("x$(A)y$(A)z", "xalphayalphaz"),
            ("--s3-endpoint=$(A)", "--s3-endpoint=alpha"),
            // Values are not expanded again.
            ("$(B)", "$(A)"),
            ("$(EMPTY)|", "|"),
            // Undefined: left as is.
            ("$(UNDEFINED)", "$(UNDEFINED)"),
            ("$()", "$()"),
            // Escapes.
            ("$$", "$"),
            ("$$(A)", "$(A)"),
            ("$$$(A)", "$alpha"),
            ("$$$$", "$$"),
            // Not a reference.
            ("$A", "$A"),
            ("${A}", "${A}"),
            ("a$", "a$"),
            ("$", "$"),
            ("$(A", "$(A"),
            ("$(A$(A)", "$(A$(A)"),
            ("$(A)$(", "alpha$("),
            ("100$ and $(A)", "100$ and alpha"),
            // The first `)` closes; what follows is text.
            ("$(A))", "alpha)"),
            ("$((A))", "$((A))"),
            // Names are taken as they are, spaces included.
            ("$( A )", "$( A )"),
        ];
        for (input, want) in cases {
            assert_eq!(expand_str(input, &v), want, "input {input:?}");
        }
    }

    #[test]
    fn expansion_keeps_the_kubelets_byte_quirk() {
        // Go's `string(input[0])` turns the byte 0xC3 into U+00C3.
        let out = expand("$é".as_bytes(), &|_: &[u8]| None);
        assert_eq!(out, "$\u{c3}".bytes().chain([0xa9]).collect::<Vec<u8>>());
        // Non-ASCII text elsewhere is untouched.
        assert_eq!(
            expand_str("données $(A) 日本", &vars(&[("A", "é")])),
            "données é 日本"
        );
    }

    fn container(env: serde_json::Value, command: &[&str], args: &[&str]) -> Container {
        let mut c: Container = serde_json::from_value(serde_json::json!({
            "name": "c",
            "env": env,
        }))
        .unwrap();
        c.command = Some(command.iter().map(|s| (*s).to_owned()).collect());
        c.args = Some(args.iter().map(|s| (*s).to_owned()).collect());
        c
    }

    fn text(env: &[(String, Vec<u8>)]) -> Vec<(String, String)> {
        env.iter()
            .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }

    #[test]
    fn env_resolves_in_order_with_secrets() {
        let mut secrets = Secrets::new();
        secrets.insert(
            "creds".to_owned(),
            BTreeMap::from([("key".to_owned(), b"$(A)-secret".to_vec())]),
        );
        let c = container(
            serde_json::json!([
                {"name": "LATER_REF", "value": "$(A)"},
                {"name": "A", "value": "a"},
                {"name": "B", "value": "$(A)/b"},
                {"name": "S", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "key"}}},
                {"name": "C", "value": "$(S)|$$(A)"},
                {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "k", "optional": true}}},
                {"name": "A", "value": "again $(A)"},
            ]),
            &["rclone"],
            &["--x=$(B)", "$(S)", "$(OPT)", "$(A)"],
        );
        let env = resolve_env(&c, &secrets).unwrap();
        assert_eq!(
            text(&env),
            vec![
                ("LATER_REF".to_owned(), "$(A)".to_owned()),
                ("A".to_owned(), "again a".to_owned()),
                ("B".to_owned(), "a/b".to_owned()),
                // Secret values are taken as they are.
                ("S".to_owned(), "$(A)-secret".to_owned()),
                ("C".to_owned(), "$(A)-secret|$(A)".to_owned()),
            ]
        );
        let argv: Vec<String> = command_line(&c, &env)
            .into_iter()
            .map(|a| String::from_utf8(a).unwrap())
            .collect();
        assert_eq!(
            argv,
            ["rclone", "--x=a/b", "$(A)-secret", "$(OPT)", "again a"]
        );
    }

    #[test]
    fn identity_follows_the_security_contexts() {
        let pod = |v: serde_json::Value| -> PodSpec { serde_json::from_value(v).unwrap() };
        let c = container(serde_json::json!([]), &["true"], &[]);
        assert_eq!(
            identity(&pod(serde_json::json!({"containers": []})), &c),
            None
        );
        let p = pod(serde_json::json!({"containers": [], "securityContext": {
            "runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000, "supplementalGroups": [5, 1000]}}));
        assert_eq!(
            identity(&p, &c),
            Some(Identity {
                uid: 1000,
                gid: 1000,
                groups: vec![5, 1000]
            })
        );
        let mut own = c.clone();
        own.security_context = serde_json::from_value(serde_json::json!({"runAsUser": 7})).unwrap();
        let id = identity(&p, &own).unwrap();
        assert_eq!((id.uid, id.gid), (7, 1000));
        let user_only =
            pod(serde_json::json!({"containers": [], "securityContext": {"runAsUser": 1000}}));
        assert_eq!(
            identity(&user_only, &c),
            Some(Identity {
                uid: 1000,
                gid: 0,
                groups: vec![]
            })
        );
    }

    #[test]
    fn missing_secrets_fail_like_the_kubelet() {
        let c = container(
            serde_json::json!([{"name": "S", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k"}}}]),
            &["true"],
            &[],
        );
        let err = resolve_env(&c, &Secrets::new()).unwrap_err();
        assert!(
            err.to_string().contains("secret \"creds\" not found"),
            "{err}"
        );
        let secrets = Secrets::from([("creds".to_owned(), BTreeMap::new())]);
        let err = resolve_env(&c, &secrets).unwrap_err();
        assert!(err.to_string().contains("couldn't find key k"), "{err}");
    }

    #[test]
    fn env_from_secret_comes_first() {
        let secrets = Secrets::from([(
            "all".to_owned(),
            BTreeMap::from([
                ("X".to_owned(), b"from-secret".to_vec()),
                ("Y".to_owned(), b"y".to_vec()),
            ]),
        )]);
        let mut c = container(
            serde_json::json!([{"name": "X", "value": "$(P_Y)!"}]),
            &["true"],
            &[],
        );
        c.env_from = Some(vec![
            serde_json::from_value(
                serde_json::json!({"prefix": "P_", "secretRef": {"name": "all"}}),
            )
            .unwrap(),
        ]);
        let env = resolve_env(&c, &secrets).unwrap();
        assert_eq!(
            text(&env),
            vec![
                ("P_X".to_owned(), "from-secret".to_owned()),
                ("P_Y".to_owned(), "y".to_owned()),
                ("X".to_owned(), "y!".to_owned()),
            ]
        );
    }
}
