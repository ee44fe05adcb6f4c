//! Capacity planning on the virtual clock: how fast would Hive sync this fleet?
//!
//! The same tool as `hive-scale plan`; see [`hive_scale::cli::plan`].

// Many small JSON trees are built and dropped; see the note in hive-scale's main.rs.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    hive_scale::cli::example(hive_scale::cli::plan::main)
}
