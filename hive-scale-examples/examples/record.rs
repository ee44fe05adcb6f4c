//! Records snapshots of a metric profile every interval into a JSON Lines file.
//!
//! The same tool as `hive-scale record`; see [`hive_scale_examples::cli::record`].

fn main() -> std::process::ExitCode {
    hive_scale_examples::cli::example(hive_scale_examples::cli::record::main)
}
