#!/usr/bin/env bash
# Benchmarks the embedded hub (release build): throughput (and its ratio to a bare hyper+rustls
# server answering the same requests in the same run), a 60,000-object paged list, bytes
# per stored object, and applying the 60 SelectorSyncSets. Prints each figure with its target.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo run --release --quiet -p hive-scale-sim --example bench_hub
