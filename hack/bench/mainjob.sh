#!/usr/bin/env bash
# The README's main job (`cargo run --release --example scaletest`: 1000 clusters x 60 sets x
# 10 ConfigMaps on the embedded hub, the 2020 pipeline) as a user runs it: wall time and peak
# resident memory from GNU time, each as a ratio to its target (under 1 meets it). The wall
# target is the 173 s the main job took before its memory was cut (issue 24): "unchanged".
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet -p hive-scale-examples --example scaletest
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && /usr/bin/time -f '%e %M' -o "$tmp/time" "$OLDPWD/target/release/examples/scaletest" \
  >"$tmp/out" 2>"$tmp/err") || { tail -5 "$tmp/err" >&2; exit 1; }
read -r wall kb <"$tmp/time"
python3 - "$wall" "$kb" <<'PY'
import sys
wall, kb = float(sys.argv[1]), int(sys.argv[2])
mb = kb / 1024
print(f"main job: {wall:.1f} s wall ({wall / 173:.2f}x of 173 s), peak RSS {mb:.0f} MB ({mb / 800:.2f}x of 800 MB)")
PY
tail -1 "$tmp/out"
