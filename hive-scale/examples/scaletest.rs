//! The main job: runs a Hive scale test end to end and leaves a report.
//!
//! The same tool as `hive-scale scaletest`; see [`hive_scale::cli::scaletest`].

// Many small JSON trees are built and dropped; see the note in hive-scale's main.rs.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    hive_scale::cli::example(hive_scale::cli::scaletest::main)
}
