//! The `openclaw-operator` binary's library: the controller, the admission webhooks, the
//! operator process (metrics, health, leader election) and the offline commands.

pub mod apidoc;
pub mod cli;
pub mod controller;
pub mod http;
pub mod logging;
pub mod metrics;
pub mod process;
pub mod rbac;
pub mod registry;
pub mod skillpacks;
pub mod telemetry;
pub mod tls;
pub mod webhook;
