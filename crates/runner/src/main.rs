//! The `agingflow` binary: parses the command line and hands it to the runner library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    runner::commands::main(runner::commands::Cli::parse())
}
