//! The main job: runs a Hive scale test end to end and leaves a report.
//!
//! The same tool as `hive-scale scaletest`; see [`hive_scale_examples::cli::scaletest`].

fn main() -> std::process::ExitCode {
    hive_scale_examples::cli::example(hive_scale_examples::cli::scaletest::main)
}
