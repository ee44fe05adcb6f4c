//! Runs the embedded Hive hub until Ctrl-C: the hub API server, one spoke every clone can point
//!
//! The same tool as `hive-scale hub`; see [`hive_scale_examples::cli::hub`].

fn main() -> std::process::ExitCode {
    hive_scale_examples::cli::example(hive_scale_examples::cli::hub::main)
}
