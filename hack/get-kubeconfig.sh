#!/usr/bin/env bash
# The old script's name, kept as a thin wrapper: get-kubeconfig.sh [NAMESPACE/]NAME > spoke.kubeconfig
exec cargo run --quiet --manifest-path "$(dirname "$0")/../Cargo.toml" --example get_kubeconfig -- "$@"
