//! Writes a report from a recording: `report.md`, `metrics-summary.json` and one SVG chart per
//!
//! The same tool as `hive-scale report`; see [`hive_scale_examples::cli::report`].

fn main() -> std::process::ExitCode {
    hive_scale_examples::cli::example(hive_scale_examples::cli::report::main)
}
