//! `hive-scale`: every tool of the toolkit as a subcommand.

use std::process::ExitCode;

fn main() -> ExitCode {
    hive_scale_examples::cli::example(hive_scale_examples::cli::Cli::main)
}
