//! Capacity planning on the virtual clock: how fast would Hive sync this fleet?
//!
//! The same tool as `hive-scale plan`; see [`hive_scale::cli::plan`].

fn main() -> std::process::ExitCode {
    hive_scale::cli::example(hive_scale::cli::plan::main)
}
