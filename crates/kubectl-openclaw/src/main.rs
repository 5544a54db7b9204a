//! `kubectl openclaw`: a kubectl plugin for OpenClaw instances (docs/kubectl-plugin.md).

mod cli;
mod commands;
mod complete;
mod format;
mod kube_ctx;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};
use kube::Api;
use kube::api::ListParams;

use crate::cli::{Cli, Command, CompletionShell, Global};
use crate::complete::Want;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let g = &cli.global;
    match &cli.command {
        Command::Completion { shell } => {
            completion(*shell);
            Ok(())
        }
        Command::Complete { words } => {
            complete(g, words).await;
            Ok(())
        }
        command => {
            let ctx = kube_ctx::connect(g).await?;
            match command {
                Command::Status(a) => commands::status(&ctx, a).await,
                Command::Token { name } => commands::token(&ctx, name).await,
                Command::Open(a) => commands::open(&ctx, a).await,
                Command::Logs(a) => commands::logs(&ctx, a).await,
                Command::Backup(a) => commands::backup(&ctx, a).await,
                Command::Restore(a) => commands::restore(&ctx, a).await,
                Command::Selfconfig { name } => commands::selfconfig(&ctx, name).await,
                Command::Completion { .. } | Command::Complete { .. } => Ok(()),
            }
        }
    }
}

fn completion(shell: CompletionShell) {
    use clap_complete::Shell;
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
        CompletionShell::Powershell => Shell::PowerShell,
        CompletionShell::Elvish => Shell::Elvish,
        CompletionShell::Kubectl => {
            print!("{}", complete::KUBECTL_HELPER);
            return;
        }
    };
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "kubectl-openclaw", &mut std::io::stdout());
}

/// `__complete`: best effort; a cluster that cannot be reached completes nothing.
async fn complete(g: &Global, words: &[String]) {
    let cur = words.last().map(String::as_str).unwrap_or_default();
    let items = match complete::candidates(words) {
        Want::Static(items) => items,
        Want::Instances { namespace } => {
            let g = Global {
                namespace: namespace.or_else(|| g.namespace.clone()),
                ..g.clone()
            };
            match kube_ctx::connect(&g).await {
                Ok(ctx) => {
                    names(Api::<openclaw_api::OpenClawInstance>::namespaced(
                        ctx.client,
                        &ctx.namespace,
                    ))
                    .await
                }
                Err(_) => vec![],
            }
        }
        Want::Namespaces => match kube_ctx::connect(g).await {
            Ok(ctx) => {
                names(Api::<k8s_openapi::api::core::v1::Namespace>::all(
                    ctx.client,
                ))
                .await
            }
            Err(_) => vec![],
        },
    };
    print!("{}", complete::cobra_output(&items, cur));
}

async fn names<K>(api: Api<K>) -> Vec<(String, String)>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let list = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        api.list_metadata(&ListParams::default()),
    )
    .await;
    match list {
        Ok(Ok(list)) => list
            .items
            .into_iter()
            .filter_map(|o| o.metadata.name)
            .map(|n| (n, String::new()))
            .collect(),
        _ => vec![],
    }
}
