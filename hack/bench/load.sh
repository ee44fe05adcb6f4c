#!/usr/bin/env bash
# The hub under 50 concurrent clients for 60 s (release build): requests/s, errors, P50/P99.
set -euo pipefail
cd "$(dirname "$0")/../.."
HIVE_SCALE_LOAD_SECONDS=${HIVE_SCALE_LOAD_SECONDS:-60} cargo test --release -q -p hive-scale-sim --test load -- --nocapture 2>&1 | grep -E "clients|test result"
