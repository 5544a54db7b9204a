//! The `openclaw-operator` binary's library: the controller and the offline commands.

pub mod cli;
pub mod controller;
