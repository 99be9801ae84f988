//! The `specgate` binary: parses arguments once, runs one command, maps its outcome to an exit code.
#![forbid(unsafe_code)]

mod args;
mod commands;

use std::process::ExitCode;

use clap::Parser;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = args::Args::parse();
    ExitCode::from(commands::run(args).code())
}
