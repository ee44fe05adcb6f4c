//! Prints the admin kubeconfig of a ClusterDeployment (replaces `hack/get-kubeconfig.sh`).
//!
//! The same tool as `hive-scale get-kubeconfig`; see [`hive_scale::cli::get_kubeconfig`].

fn main() -> std::process::ExitCode {
    hive_scale::cli::example(hive_scale::cli::get_kubeconfig::main)
}
