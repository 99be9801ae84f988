//! specgate's runtime: executes a [`specgate_plan::Plan`].
//!
//! The [`Engine`] is built once per plan: route table, compiled schema validators, policies. It does
//! no I/O; the sidecar around it moves bytes.
#![forbid(unsafe_code)]

pub mod engine;
pub mod sidecar;

pub use engine::{Engine, LoadError};
