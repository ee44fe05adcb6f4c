#!/usr/bin/env bash
# Runs every test of the workspace. On a fresh machine it first installs what the tests use:
# Prometheus from Debian (the tests scrape the embedded hub with it). kubectl 1.32 comes with the
# machine (Google Cloud SDK); never install Debian's kubernetes-client, which conflicts with it
# and is 1.20.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if ! command -v kubectl >/dev/null 2>&1; then
  echo "error: kubectl is not on PATH; the tests drive the real kubectl against the embedded hub" >&2
  exit 1
fi
if ! command -v prometheus >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian's prometheus package (tests scrape the embedded hub with it)" >&2
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
fi

# The tests drive hive-scale as a user installs it (cargo install), not only as cargo builds it.
CARGO_TARGET_DIR="$root/target" cargo install --quiet --force --debug --locked --path hive-scale-examples \
  --root "$root/target/install"
export HIVE_SCALE_BIN="$root/target/install/bin/hive-scale"

# Every test runs: one that needs kubectl or Prometheus fails rather than skips.
export HIVE_SCALE_REQUIRE_TOOLS=1
cargo test --workspace "$@"
