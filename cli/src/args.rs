//! Command-line arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// OpenAPI-driven API security: one spec drives linting, compiled policy plans and the sidecar.
#[derive(Debug, Parser)]
#[command(name = "specgate", version, about)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compile a spec into a plan (JSON). Exit 0 on success, 2 when the spec has errors.
    Compile {
        /// The root file of the spec (YAML or JSON, OpenAPI 3.0, 3.1 or 3.2).
        spec: PathBuf,
        /// Write the plan here instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Print a plan's routes and the policies that guard them.
    Inspect {
        /// A plan written by `specgate compile`, or a spec (compiled on the fly).
        plan: PathBuf,
    },
}
