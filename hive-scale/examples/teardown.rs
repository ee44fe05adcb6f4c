//! Removes adopted clones (and optionally the SelectorSyncSets), safely.
//!
//! The same tool as `hive-scale teardown`; see [`hive_scale::cli::teardown`].

fn main() -> std::process::ExitCode {
    hive_scale::cli::example(hive_scale::cli::teardown::main)
}
