//! Creates the scale test's SelectorSyncSets on a hub (replaces `setup-selectorsyncsets.sh`).
//!
//! The same tool as `hive-scale setup-selectorsyncsets`; see [`hive_scale::cli::setup_selectorsyncsets`].

fn main() -> std::process::ExitCode {
    hive_scale::cli::example(hive_scale::cli::setup_selectorsyncsets::main)
}
