#!/usr/bin/env bash
# The planner's speed, as one reruns it while thinking: wall time and peak memory of
#   1. 1000 x 60 x 10 in both pipelines (c5.24xlarge-2020, server-side, 100 workers),
#   2. 10,000 x 60 x 10 in today's pipeline (6 M modeled applies),
#   3. --recommend for 1000 x 60 x 10 (closed-form search plus the simulation's confirmation).
# Each is printed against its target and as microseconds per modeled apply, so runs on other
# machines compare by ratio. The baseline is the 100-cluster plan measured first in the same run.
# SKIP_10K=1 leaves out the 10,000-cluster plan (a few minutes).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet -p hive-scale-examples --bin hive-scale
bin=target/release/hive-scale
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run NAME TARGET_S TARGET_MB ARGS...: wall seconds and peak RSS from GNU time.
run() {
  local name=$1 target_s=$2 target_mb=$3
  shift 3
  /usr/bin/time -f '%e %M' -o "$tmp/time" "$bin" plan "$@" --json >"$tmp/out.json" || true
  read -r wall kb <"$tmp/time"
  local mb=$((kb / 1024))
  local applies
  applies=$(python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); v=v if isinstance(v,list) else [v]; print(sum(r.get("applies",0) for r in v))' "$tmp/out.json" 2>/dev/null || echo 0)
  local per_apply="-"
  if [ "$applies" -gt 0 ]; then
    per_apply=$(python3 -c "print(f'{$wall * 1e6 / $applies:.1f}')")
  fi
  local ratio
  ratio=$(python3 -c "b=float('${baseline_us:-0}'); p='$per_apply'; print('-' if p=='-' or b==0 else f'{float(p)/b:.2f}x')")
  printf '%-44s %8.1f s %7d MB   target %5s s %5s MB   %8s us/apply  %s of baseline\n' \
    "$name" "$wall" "$mb" "$target_s" "$target_mb" "$per_apply" "$ratio"
  last_per_apply=$per_apply
}

fleet=(--selectorsyncsets 60 --configmaps 10 --preset c5.24xlarge-2020 --apply server-side --workers 100)
baseline_us=0
run "baseline: 100 x 60 x 10, clustersync" - - --clusters 100 "${fleet[@]}"
baseline_us=$last_per_apply
run "1000 x 60 x 10, clustersync" 10 500 --clusters 1000 "${fleet[@]}"
run "1000 x 60 x 10, 2020 pipeline" 10 500 --clusters 1000 "${fleet[@]}" --pipeline syncsetinstance
if [ -z "${SKIP_10K:-}" ]; then
  run "10,000 x 60 x 10, clustersync" 100 2048 --clusters 10000 "${fleet[@]}" --no-probe
fi
run "recommend 1000 x 60 x 10 (c5.9xlarge)" 60 - --recommend --clusters 1000 \
  --selectorsyncsets 60 --configmaps 10 --preset c5.9xlarge --target-fanout 5m --target-reapply 2h
python3 - "$tmp/out.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["recommendation"]
c = r.get("chosen") or {}
print(f"  recommended: {c.get('replicas')} replicas x {c.get('workers')} workers x {c.get('cores')} cores, "
      f"{r['searched']} configurations searched; confirmed: {c.get('confirmed')}")
EOF
