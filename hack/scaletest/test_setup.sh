#!/usr/bin/env bash
# The 2020 script's name, kept as a thin wrapper: test_setup.sh SPOKE_KUBECONFIG START END [flags].
exec cargo run --quiet --manifest-path "$(dirname "$0")/../../Cargo.toml" --example test_setup -- "$@"
