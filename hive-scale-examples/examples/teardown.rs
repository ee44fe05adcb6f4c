//! Removes adopted clones (and optionally the SelectorSyncSets), safely.
//!
//! The same tool as `hive-scale teardown`; see [`hive_scale_examples::cli::teardown`].

fn main() -> std::process::ExitCode {
    hive_scale_examples::cli::example(hive_scale_examples::cli::teardown::main)
}
