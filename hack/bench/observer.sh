#!/usr/bin/env bash
# What observing costs the hub: the default scenario through the real-hub path (the embedded
# hub's kubeconfig, watches and Hive's metrics) against the simulated controllers' own modeled
# hub traffic in the same observe phase, and the old 5 s polling priced the same way.
# CLUSTERS, SETS and CONFIGMAPS scale the scenario down (default: 1000 x 60 x 10).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo run --release --quiet -p hive-scale-sim --example bench_observer
