//! Puts two scaletest result directories side by side and fails when a metric regressed.
//!
//! The same tool as `hive-scale compare`; see [`hive_scale::cli::compare`].

fn main() -> std::process::ExitCode {
    hive_scale::cli::example(hive_scale::cli::compare::main)
}
