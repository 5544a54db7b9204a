//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// kubectl plugin for OpenClaw instances (openclaw.rocks/v1alpha1).
#[derive(Parser, Debug)]
#[command(name = "kubectl-openclaw", bin_name = "kubectl openclaw", version)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// kubectl's connection flags.
#[derive(Args, Debug, Clone, Default)]
pub struct Global {
    /// Namespace (default: the kubeconfig context's namespace, else `default`).
    #[arg(short = 'n', long, global = true)]
    pub namespace: Option<String>,
    /// The kubeconfig context to use (default: the current context).
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Path to the kubeconfig file (default: `$KUBECONFIG`, else `~/.kube/config`).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show instances (a table), or one instance in detail with its conditions and Events.
    Status(StatusArgs),
    /// Print the gateway token of an instance.
    Token {
        /// The OpenClawInstance.
        name: String,
    },
    /// Port-forward to the gateway and print the Control UI URL (with the token); Ctrl-C stops.
    Open(OpenArgs),
    /// Print the gateway container's logs.
    Logs(LogsArgs),
    /// Start an on-demand backup (sets the `openclaw.rocks/backup-now` annotation).
    Backup(BackupArgs),
    /// Restore the data volume from a backup path (sets `spec.restoreFrom`).
    Restore(RestoreArgs),
    /// List the OpenClawSelfConfig requests of an instance.
    Selfconfig {
        /// The OpenClawInstance.
        name: String,
    },
    /// Print a shell completion script (`kubectl` prints the `kubectl_complete-openclaw` helper).
    Completion {
        /// The shell.
        shell: CompletionShell,
    },
    /// Completion candidates in kubectl's plugin protocol (used by `kubectl_complete-openclaw`).
    #[command(name = "__complete", hide = true)]
    Complete {
        /// The words after `kubectl openclaw`, the last one being completed.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        words: Vec<String>,
    },
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The OpenClawInstance (without it: a table of all instances of the namespace).
    pub name: Option<String>,
    /// List instances of every namespace.
    #[arg(short = 'A', long, conflicts_with = "name")]
    pub all_namespaces: bool,
    /// Output format (default: a table or the detail view).
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<Output>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Json,
    Yaml,
}

#[derive(Args, Debug)]
pub struct OpenArgs {
    /// The OpenClawInstance.
    pub name: String,
    /// Local port (default: 18789 if free, else any free port).
    #[arg(long)]
    pub port: Option<u16>,
    /// Local address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub address: String,
    /// Print the URL without the gateway token.
    #[arg(long)]
    pub no_token: bool,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// The OpenClawInstance.
    pub name: String,
    /// Keep streaming new lines.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Lines from the end to show.
    #[arg(long)]
    pub tail: Option<i64>,
    /// Container (default: `openclaw`, the gateway).
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// The previous (crashed) container's logs.
    #[arg(short = 'p', long)]
    pub previous: bool,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The OpenClawInstance.
    pub name: String,
    /// Wait until the backup completed or failed.
    #[arg(long)]
    pub wait: bool,
    /// How long `--wait` waits, in seconds.
    #[arg(long, default_value_t = 1800)]
    pub timeout: u64,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The OpenClawInstance.
    pub name: String,
    /// Backup path inside the bucket (e.g. `backups/team-a/agent/2026-12-01T030000Z`).
    #[arg(long = "from", value_name = "PATH")]
    pub from: String,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Wait until the restore completed or failed.
    #[arg(long)]
    pub wait: bool,
    /// How long `--wait` waits, in seconds.
    #[arg(long, default_value_t = 1800)]
    pub timeout: u64,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
    Powershell,
    Elvish,
    /// The `kubectl_complete-openclaw` script that makes `kubectl openclaw <TAB>` work.
    Kubectl,
}
