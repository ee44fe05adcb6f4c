//! Creates the scale test's SelectorSyncSets on a hub (replaces `setup-selectorsyncsets.sh`).
//!
//! The same tool as `hive-scale setup-selectorsyncsets`; see [`hive_scale_examples::cli::setup_selectorsyncsets`].

fn main() -> std::process::ExitCode {
    hive_scale_examples::cli::example(hive_scale_examples::cli::setup_selectorsyncsets::main)
}
