//! Prints the admin kubeconfig of a ClusterDeployment (replaces `hack/get-kubeconfig.sh`).
//!
//! The same tool as `hive-scale get-kubeconfig`; see [`hive_scale_examples::cli::get_kubeconfig`].

fn main() -> std::process::ExitCode {
    hive_scale_examples::cli::example(hive_scale_examples::cli::get_kubeconfig::main)
}
