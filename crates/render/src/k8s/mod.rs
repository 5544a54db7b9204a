//! The bottom layer of the renderers: generic Kubernetes builders that know nothing about
//! OpenClaw's objects or features (object metadata and labels, container ports, env values,
//! resources, security contexts, volumes and mounts, Service and NetworkPolicy ports). Core
//! renderers and features both build on them; they import only [`crate::model`],
//! [`crate::consts`], [`crate::quantity`] and [`crate::clean`].

pub mod container;
pub mod meta;
pub mod net;
pub mod security;
pub mod volume;
