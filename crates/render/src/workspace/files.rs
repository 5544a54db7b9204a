//! The files the operator places in every workspace: `ENVIRONMENT.md` (how the pod works, kept
//! current on every start) and `BOOTSTRAP.md` (first-run onboarding, only in a new workspace).

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
            "`~/.openclaw/openclaw.json` is owned by the operator: it is replaced with the operator's\n\
             version whenever the gateway container starts, so edits made here do not last. Ask the\n\
             administrator to change the instance's config instead.\n",
        ),
        MergeMode::Merge => s.push_str(
            "`~/.openclaw/openclaw.json` is merged with the operator's version whenever the gateway\n\
             container starts: your edits are kept, except where the operator's config sets the same\n\
             key (its value wins) and under the paths the operator owns completely.\n",
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
