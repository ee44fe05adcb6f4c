//! Adopts copies of one real cluster into a hub (replaces `hack/scaletest/test_setup.sh`).
//!
//! The same tool as `hive-scale test-setup`; see [`hive_scale_examples::cli::test_setup`].

fn main() -> std::process::ExitCode {
    hive_scale_examples::cli::example(hive_scale_examples::cli::test_setup::main)
}
