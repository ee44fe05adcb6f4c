//! Records snapshots of a metric profile every interval into a JSON Lines file.
//!
//! The same tool as `hive-scale record`; see [`hive_scale::cli::record`].

fn main() -> std::process::ExitCode {
    hive_scale::cli::example(hive_scale::cli::record::main)
}
