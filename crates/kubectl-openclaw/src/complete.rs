//! Completion: static scripts from clap_complete for `kubectl-openclaw`, and kubectl's plugin
//! protocol for `kubectl openclaw <TAB>`.
//!
//! kubectl (1.26+) completes a plugin's arguments by running the executable
//! `kubectl_complete-<plugin>` with the words typed after the plugin name (the last one being
//! the word to complete, possibly empty) and reading Cobra's `__complete` format: one candidate
//! a line (`value<TAB>description`), then `:<directive>`. [`KUBECTL_HELPER`] is that executable;
//! it calls `kubectl-openclaw __complete`, answered by [`candidates`] and [`cobra_output`].

use clap::CommandFactory as _;

use crate::cli::Cli;

/// `kubectl_complete-openclaw`: install it executable on `PATH` next to `kubectl-openclaw`.
pub const KUBECTL_HELPER: &str = "#!/bin/sh\n\
# kubectl calls this for `kubectl openclaw <TAB>` (kubectl 1.26+); it must be on PATH.\n\
exec kubectl-openclaw __complete \"$@\"\n";

/// Cobra's `ShellCompDirectiveNoFileComp`: do not fall back to file names.
pub const NO_FILE_COMP: u8 = 4;

/// Flags that take a value, global or of any subcommand.
fn takes_value(flag: &str) -> bool {
    let cmd = Cli::command();
    let mut all: Vec<clap::Command> = vec![cmd.clone()];
    all.extend(cmd.get_subcommands().cloned());
    all.iter().any(|c| {
        c.get_arguments().any(|a| {
            a.get_action().takes_values()
                && (a.get_long().is_some_and(|l| flag == format!("--{l}"))
                    || a.get_short().is_some_and(|s| flag == format!("-{s}")))
        })
    })
}

/// What is being completed.
#[derive(Debug, PartialEq, Eq)]
pub enum Want {
    /// Candidates known without the cluster.
    Static(Vec<(String, String)>),
    /// Instance names in the namespace (`-n` among the words, else the context's).
    Instances { namespace: Option<String> },
    /// Namespace names.
    Namespaces,
}

/// What to offer for `words` (the words after `kubectl openclaw`, the last being completed).
pub fn candidates(words: &[String]) -> Want {
    let (cur, before) = match words.split_last() {
        Some((cur, before)) => (cur.as_str(), before),
        None => ("", &[][..]),
    };
    let cmd = Cli::command();
    // Walk the words: the subcommand, the flag values, the positionals.
    let mut sub: Option<String> = None;
    let mut positionals = 0usize;
    let mut namespace = None;
    let mut i = 0;
    while let Some(w) = before.get(i) {
        if w.starts_with('-') {
            if !w.contains('=') && takes_value(w) {
                if w == "-n" || w == "--namespace" {
                    namespace = before.get(i + 1).cloned();
                }
                i += 1;
            } else if let Some(ns) = w.strip_prefix("--namespace=") {
                namespace = Some(ns.to_string());
            }
        } else if sub.is_none() {
            sub = Some(w.clone());
        } else {
            positionals += 1;
        }
        i += 1;
    }
    let prev = before.last().map(String::as_str).unwrap_or_default();
    if prev == "-n" || prev == "--namespace" {
        return Want::Namespaces;
    }
    if prev.starts_with('-') && !prev.contains('=') && takes_value(prev) {
        return Want::Static(vec![]);
    }
    let subcommand = sub
        .as_deref()
        .and_then(|s| cmd.get_subcommands().find(|c| c.get_name() == s));
    if cur.starts_with('-') {
        let target = subcommand.unwrap_or(&cmd);
        let mut flags: Vec<(String, String)> = target
            .get_arguments()
            .chain(cmd.get_arguments())
            .filter(|a| !a.is_positional() && !a.is_hide_set())
            .filter_map(|a| {
                let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
                a.get_long().map(|l| (format!("--{l}"), help))
            })
            .filter(|(f, _)| f.starts_with(cur))
            .collect();
        flags.sort();
        flags.dedup();
        return Want::Static(flags);
    }
    match subcommand {
        None if sub.is_none() => Want::Static(
            cmd.get_subcommands()
                .filter(|c| !c.is_hide_set() && c.get_name() != "help")
                .map(|c| {
                    let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
                    (c.get_name().to_string(), about)
                })
                .filter(|(n, _)| n.starts_with(cur))
                .collect(),
        ),
        Some(c) if c.get_name() == "completion" && positionals == 0 => Want::Static(
            ["bash", "zsh", "fish", "powershell", "elvish", "kubectl"]
                .iter()
                .filter(|s| s.starts_with(cur))
                .map(|s| ((*s).to_string(), String::new()))
                .collect(),
        ),
        Some(c) if c.get_name() != "completion" && positionals == 0 => {
            Want::Instances { namespace }
        }
        _ => Want::Static(vec![]),
    }
}

/// Cobra's `__complete` output for `items` filtered by the word being completed.
pub fn cobra_output(items: &[(String, String)], cur: &str) -> String {
    let mut out = String::new();
    for (value, help) in items.iter().filter(|(v, _)| v.starts_with(cur)) {
        out.push_str(value);
        if !help.is_empty() {
            out.push('\t');
            out.push_str(help);
        }
        out.push('\n');
    }
    out.push_str(&format!(":{NO_FILE_COMP}\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &[&str]) -> Vec<String> {
        s.iter().map(|w| (*w).to_string()).collect()
    }

    fn values(w: Want) -> Vec<String> {
        match w {
            Want::Static(items) => items.into_iter().map(|(v, _)| v).collect(),
            other => panic!("not static: {other:?}"),
        }
    }

    #[test]
    fn subcommands_then_instances_then_nothing() {
        assert_eq!(values(candidates(&words(&["st"]))), ["status"]);
        assert_eq!(values(candidates(&words(&["s"]))), ["status", "selfconfig"]);
        assert!(values(candidates(&[])).contains(&"open".to_string()));
        assert!(!values(candidates(&words(&[""]))).contains(&"__complete".to_string()));
        assert_eq!(
            candidates(&words(&["token", ""])),
            Want::Instances { namespace: None }
        );
        assert_eq!(
            candidates(&words(&["-n", "agents", "logs", "de"])),
            Want::Instances {
                namespace: Some("agents".into())
            }
        );
        assert_eq!(
            candidates(&words(&["open", "--namespace=team", ""])),
            Want::Instances {
                namespace: Some("team".into())
            }
        );
        assert_eq!(
            values(candidates(&words(&["token", "demo", ""]))),
            Vec::<String>::new()
        );
        assert_eq!(candidates(&words(&["status", "-n", ""])), Want::Namespaces);
        assert_eq!(
            values(candidates(&words(&["open", "demo", "--port", ""]))),
            Vec::<String>::new()
        );
        assert_eq!(values(candidates(&words(&["completion", "z"]))), ["zsh"]);
    }

    #[test]
    fn flags_of_the_subcommand_and_the_global_ones() {
        let flags = values(candidates(&words(&["open", "demo", "--"])));
        for f in [
            "--port",
            "--address",
            "--no-token",
            "--namespace",
            "--context",
            "--kubeconfig",
        ] {
            assert!(flags.contains(&f.to_string()), "{f} in {flags:?}");
        }
        assert_eq!(values(candidates(&words(&["backup", "--wa"]))), ["--wait"]);
    }

    #[test]
    fn cobra_format() {
        let items = vec![
            ("status".to_string(), "Show".to_string()),
            ("selfconfig".to_string(), String::new()),
        ];
        assert_eq!(cobra_output(&items, "st"), "status\tShow\n:4\n");
        assert_eq!(cobra_output(&[], ""), ":4\n");
    }
}
