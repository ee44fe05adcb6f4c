//! Puts two scaletest result directories side by side and fails when a metric regressed.
//!
//! The same tool as `hive-scale compare`; see [`hive_scale_examples::cli::compare`].

fn main() -> std::process::ExitCode {
    hive_scale_examples::cli::example(hive_scale_examples::cli::compare::main)
}
