//! The `openclaw-operator` binary's library: command-line commands that need no cluster.

pub mod cli;
