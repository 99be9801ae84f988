//! specgate's compiler: loads OpenAPI 3.0/3.1 specs (YAML or JSON, across files), reads their
//! `x-security` extensions, and compiles them into a [`specgate_plan::Plan`].
//!
//! ```text
//! spec files ──load──▶ Spec (values + source positions) ──compile──▶ Plan
//! ```
#![forbid(unsafe_code)]

pub mod compile;
pub mod diagnostic;
pub mod lint;
pub mod load;
mod normalize;
pub mod policy;

use std::path::Path;

pub use compile::{Compiled, compile};
pub use diagnostic::{Diagnostic, Location, Severity};
pub use load::{Limits, Spec};

/// Loads the spec rooted at `path` and compiles it.
pub fn compile_file(path: &Path) -> Result<Compiled, Vec<Diagnostic>> {
    let spec = Spec::load(path, Limits::default()).map_err(|d| vec![d])?;
    compile(&spec)
}
