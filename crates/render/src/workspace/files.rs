//! The files the operator places in the workspaces: `ENVIRONMENT.md` (how the pod works, kept
//! current on every start), `BOOTSTRAP.md` (first-run onboarding, only in a new workspace) and,
//! with self-configuration, `SELFCONFIG.md` and `selfconfig.sh` (how the agent asks for changes
//! to its own instance; default workspace only, kept current on every start).

use openclaw_api::validation::PROTECTED_ENV_VARS;

use crate::model::{MergeMode, Model};

/// `ENVIRONMENT.md`, describing this instance's pod as rendered.
pub fn environment_md(m: &Model, mode: MergeMode) -> String {
    let mut s = String::from(
        "# Your runtime environment\n\
         \n\
         You run in a Kubernetes pod managed by openclaw-operator. The operator rewrites this file\n\
         on every start, so it always describes the pod you are in.\n\
         \n\
         ## Where you can write\n\
         \n",
    );
    if m.persistence_enabled() {
        s.push_str(
            "| Path | Kept across restarts |\n\
             |---|---|\n\
             | `~/.openclaw/` (config, state, workspaces) | yes |\n\
             | `~/.local/`, `~/.cache/`, `~/.config/` | yes |\n\
             | `/tmp` | no, emptied when the pod restarts |\n",
        );
    } else {
        s.push_str(
            "| Path | Kept across restarts |\n\
             |---|---|\n\
             | `~/.openclaw/` (config, state, workspaces) | no: this instance has no persistent volume |\n\
             | `~/.local/`, `~/.cache/`, `~/.config/` | no |\n\
             | `/tmp` | no |\n",
        );
    }
    s.push_str(
        "\nThe rest of the file system is read-only; writes to system directories fail.\n\
         \n\
         ## OpenClaw CLI\n\
         \n\
         The `openclaw` command is on your PATH:\n\
         \n\
         ```bash\n\
         openclaw --help      # list the commands\n\
         openclaw doctor      # check the installation\n\
         openclaw --version\n\
         ```\n\
         \n\
         ## Your config file\n\
         \n",
    );
    match mode {
        MergeMode::Overwrite => s.push_str(
            "`~/.openclaw/config/openclaw.json` (`$OPENCLAW_CONFIG_PATH`) is owned by the operator: it\n\
             is replaced with the operator's version whenever the gateway container starts, so edits\n\
             made here do not last. Ask the administrator to change the instance's config instead.\n",
        ),
        MergeMode::Merge => s.push_str(
            "`~/.openclaw/config/openclaw.json` (`$OPENCLAW_CONFIG_PATH`) is merged with the operator's\n\
             version whenever the gateway container starts: your edits are kept, except where the\n\
             operator's config sets the same key (its value wins) and under the paths the operator\n\
             owns completely.\n",
        ),
    }
    s.push_str(
        "\n## Installing tools\n\
         \n\
         You have no root access: `apt-get`, `sudo` and `su` do not work. Install into your home\n\
         directory instead:\n\
         \n\
         - npm packages: `npm install -g <package>` (goes to `~/.local`; `npx <package>` also works).\n\
         - Python packages: `pip install <package>` (installs for your user, into `~/.local`).\n\
         - Single binaries: download them into `~/.local/bin` and make them executable.\n\
         \n\
         If something needs system libraries, ask the administrator for a custom image.\n",
    );
    if m.network_policy_enabled() {
        s.push_str(
            "\n## Network\n\
             \n\
             A network policy limits outgoing traffic: DNS and HTTPS (port 443) work; plain HTTP on\n\
             port 80 is blocked, so use `https://` URLs. Other destinations only work if the\n\
             administrator allowed them.\n",
        );
    }
    s
}

/// `BOOTSTRAP.md`: what the agent does the first time it runs.
pub const BOOTSTRAP_MD: &str = r#"# First run

This workspace is brand new. Before starting on tasks, take a few minutes to get to know the
person you work with and to settle who you are.

1. **Say hello and ask.** Find out the person's name, their time zone, what they want your help
   with, and how they like you to communicate (brief or detailed, formal or casual).
2. **Choose who you are.** Pick a name, a personality and an emoji that suit the way they want
   to work with you. Suggest something and let them change it.
3. **Write it down** in this workspace, so you remember it next time:
   - `IDENTITY.md`: your name, personality and emoji;
   - `USER.md`: who the person is and how they like to work;
   - `SOUL.md`: the values and tone you want to keep;
   - `MEMORY.md`: anything else worth remembering.
4. **Delete this file** (`BOOTSTRAP.md`) when you are done. The operator only places it in a new
   workspace, so it will not come back.
"#;

/// `selfconfig.sh`: the agent's client for OpenClawSelfConfig requests (interface in its usage
/// text and in `docs/features/selfconfig.md`).
pub const SELFCONFIG_SH: &str = include_str!("selfconfig.sh");

/// `SELFCONFIG.md`: how the agent changes its own instance with `selfconfig.sh`.
pub fn selfconfig_md(m: &Model) -> String {
    let allowed: Vec<String> = m
        .spec
        .self_configure
        .as_ref()
        .and_then(|s| s.allowed_actions.clone())
        .unwrap_or_default()
        .into_iter()
        .map(|a| format!("`{a}`"))
        .collect();
    let allowed = if allowed.is_empty() {
        "none: every request is denied until the administrator allows some".to_string()
    } else {
        allowed.join(", ")
    };
    let protected = PROTECTED_ENV_VARS
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r##"# Changing your own setup

You can ask openclaw-operator to change the instance you run in: install or remove skills,
change your `openclaw.json`, add workspace files and set environment variables. You do not edit
Kubernetes objects yourself. Each change is a request (an `OpenClawSelfConfig` object) that the
operator checks and then applies to your instance. The helper `selfconfig.sh`, next to this
file in your workspace, creates the requests and waits for the answer. The operator rewrites
both files when they change, so edits to them do not last.

## What you may change

The administrator decides, in the instance's `spec.selfConfigure.allowedActions`, which kinds of
change are allowed:

| category | commands |
|---|---|
| `skills` | `add-skill`, `remove-skill` |
| `config` | `patch-config` |
| `workspaceFiles` | `add-file`, `remove-file` |
| `envVars` | `set-env`, `unset-env` |

A request that needs a category not in the list is denied as a whole. An empty list denies
everything. When this pod started, the list was: {allowed}. The operator checks the list as it is
when your request arrives; `selfconfig.sh get-instance` shows the current one.

## Commands

Run them from your workspace directory with bash:

```bash
bash selfconfig.sh add-skill weather                 # install a skill (spec.skills)
bash selfconfig.sh remove-skill weather
bash selfconfig.sh patch-config '{{"agents": {{"defaults": {{"model": {{"primary": "openai/gpt-5"}}}}}}}}'
bash selfconfig.sh add-file NOTES.md notes-draft.md   # content from a file
echo "# Plan" | bash selfconfig.sh add-file PLAN.md  # content from stdin (or use -)
bash selfconfig.sh remove-file PLAN.md
bash selfconfig.sh set-env LOG_LEVEL=debug TZ=Europe/Berlin
bash selfconfig.sh unset-env LOG_LEVEL
bash selfconfig.sh status <request>                  # the state of one request
bash selfconfig.sh get-instance                      # your instance as JSON (spec and status)
bash selfconfig.sh help
```

- `patch-config` takes a JSON object and deep-merges it into your config: objects merge key by
  key, anything else (strings, numbers, lists) replaces the old value.
- `add-file` and `remove-file` change the instance's initial workspace files. A file is only
  written into the workspace when nothing exists at its path yet (at the next start), so to change
  a file you already have, edit it directly instead.
- The commands that take names take several at once: `./selfconfig.sh add-skill a b c`.

A change prints the request's name, then waits (up to 5 minutes; `--timeout SECONDS` changes
that) and prints `<request>: <phase>: <message>`. With `--no-wait` (before the command) it
prints only the name; look at the result later with `status`.

## Outcomes

| phase | exit code | meaning |
|---|---|---|
| `Applied` | 0 | Your instance was changed. Skill, config and environment changes restart your pod to take effect, so expect this session to end soon after; new workspace files are written at the next start. |
| `Denied` | 2 | Not allowed: self-configuration is off, a category is not allowed, or the request breaks one of the limits below. The message says why; the same request will be denied again. |
| `Failed` | 3 | Allowed, but the operator could not apply it (for example the changed instance was rejected). The message says why. |
| (none yet) | 4 | Still waiting for the operator after the timeout; check later with `status`. |

Exit code 1 means the request was not made: a usage error, or the Kubernetes API refused or
could not be reached (the API's message is printed). Finished requests are deleted about an hour
after they finish, so `status` then reports that the request does not exist.

## Limits

A request that breaks one of these rules is not applied; the message says which.

- The `gateway` key of the config belongs to the operator and cannot be patched.
- These environment variables are set by the operator and cannot be changed: {protected}.
- Requests are rate-limited per instance: several requests in a short time are applied together
  in one change, so ask for everything you need in as few requests as possible.
- Very large requests (many items, big files) are denied.
- Only requests created with this pod's own ServiceAccount token can change this instance; the
  helper uses it automatically.
"##
    )
}
