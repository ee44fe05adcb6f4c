#!/usr/bin/env bash
# The 2020 script's name, kept as a thin wrapper: same job, now idempotent and exactly --count sets.
exec cargo run --quiet --manifest-path "$(dirname "$0")/../../Cargo.toml" --example setup_selectorsyncsets -- "$@"
