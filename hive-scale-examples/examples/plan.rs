//! Capacity planning on the virtual clock: how fast would Hive sync this fleet?
//!
//! The same tool as `hive-scale plan`; see [`hive_scale_examples::cli::plan`].

fn main() -> std::process::ExitCode {
    hive_scale_examples::cli::example(hive_scale_examples::cli::plan::main)
}
