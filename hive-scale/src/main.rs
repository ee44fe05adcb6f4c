//! `hive-scale`: every tool of the toolkit as a subcommand.

use std::process::ExitCode;

// The embedded hub and the planner build and drop many small JSON trees; glibc's allocator
// spent about half the planner's time in malloc and free (perf), mimalloc a fraction of that.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    hive_scale::cli::example(hive_scale::cli::Cli::main)
}
