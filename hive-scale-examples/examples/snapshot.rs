//! Evaluates a metric profile once and prints a table (or JSON).
//!
//! The same tool as `hive-scale snapshot`; see [`hive_scale_examples::cli::snapshot`].

fn main() -> std::process::ExitCode {
    hive_scale_examples::cli::example(hive_scale_examples::cli::snapshot::main)
}
