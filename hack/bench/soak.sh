#!/usr/bin/env bash
# Soak (not CI): the default fleet (60 sets x 10 ConfigMaps, 1000 clones, the 2020 pipeline) on
# the embedded hub at a high time scale for $SOAK_MINUTES (default 30) minutes of wall time,
# sampling the hub's RSS every 10 s. Once the fleet is adopted RSS must stay flat: the script
# prints the samples, then the growth from the first sample after adoption and from the sample
# at $SOAK_WARM_MINUTES (default 5; the 2020 pipeline is still creating its 60,000
# SyncSetInstances before that) to the last.
set -euo pipefail
cd "$(dirname "$0")/../.."
minutes=${SOAK_MINUTES:-30}
scale=${SOAK_TIME_SCALE:-2000}
cargo build --release --quiet -p hive-scale-examples --example hub --example test_setup --example setup_selectorsyncsets
bin=target/release/examples
work=$(mktemp -d)
trap 'kill "$hub" 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin/hub" --dir "$work" --time-scale "$scale" --pipeline syncsetinstance --hub-qps 30 >"$work/hub.out" 2>&1 &
hub=$!
for _ in $(seq 100); do [ -s "$work/hub.kubeconfig" ] && break; sleep 0.1; done
export KUBECONFIG=$work/hub.kubeconfig
"$bin/setup_selectorsyncsets" --qps 0 >/dev/null
"$bin/test_setup" "$work/spoke.kubeconfig" 1 1000 --qps 0 >/dev/null
echo "adopted; sampling RSS every 10 s for $minutes min (time scale $scale)"
first=""
warm=""
warm_at=$(( $(date +%s) + ${SOAK_WARM_MINUTES:-5} * 60 ))
end=$(( $(date +%s) + minutes * 60 ))
while [ "$(date +%s)" -lt "$end" ]; do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$hub/status")
  [ -n "$first" ] || first=$rss
  if [ -z "$warm" ] && [ "$(date +%s)" -ge "$warm_at" ]; then warm=$rss; fi
  echo "$(date +%T) rss_kb=$rss"
  last=$rss
  sleep 10
done
python3 -c "f, w, l = $first, ${warm:-$first}, $last; print(f'RSS after adoption {f/1024:.0f} MB, warm {w/1024:.0f} MB, at the end {l/1024:.0f} MB: {100*(l-f)/f:+.1f}% since adoption, {100*(l-w)/w:+.1f}% since warm')"
