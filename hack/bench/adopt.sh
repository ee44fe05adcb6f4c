#!/usr/bin/env bash
# Benchmarks adoption against the embedded hub (release builds):
#   1. 1000 clones with the QPS limit off: wall time, CPU seconds per clone, peak RSS;
#   2. 100 clones, our engine vs the old approach (a shell loop running kubectl once per object
#      for the same three objects), side by side in this run, with the ratio.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet -p hive-scale-examples --example hub --example test_setup
bin=target/release/examples
work=$(mktemp -d)
trap 'kill "$hub" 2>/dev/null || true; rm -rf "$work"' EXIT
"$bin/hub" --dir "$work" >"$work/hub.out" 2>&1 &
hub=$!
for _ in $(seq 100); do [ -s "$work/hub.kubeconfig" ] && break; sleep 0.1; done
export KUBECONFIG=$work/hub.kubeconfig

/usr/bin/time -f "%e %U %S %M" -o "$work/t1000" "$bin/test_setup" "$KUBECONFIG" 1 1000 --qps 0 --json >"$work/j1000"
read -r wall user sys rss <"$work/t1000"
python3 - "$wall" "$user" "$sys" "$rss" "$work/j1000" <<'PY'
import json, sys
wall, user, sys_, rss, path = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
s = json.load(open(path))
print(f"1000 clones, QPS off: {wall:.2f}s wall (target 10s, ratio {wall/10:.2f}), {s['clones_per_second']:.0f} clones/s, "
      f"{s['requests']['requests']} requests ({s['requests']['requests']/wall:.0f}/s), "
      f"{(user+sys_)/1000*1000:.2f} ms CPU per clone, peak RSS {rss/1024:.1f} MB (target 100 MB)")
PY

start=$(date +%s.%N)
"$bin/test_setup" "$KUBECONFIG" 2001 2100 --qps 0 >/dev/null
ours=$(python3 -c "import time; print(time.time() - $start)")

spoke_b64=$(base64 -w0 "$KUBECONFIG")
start=$(date +%s.%N)
for i in $(seq 3001 3100); do
  kubectl --cache-dir "$work/cache" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Namespace
metadata: {name: ns$i, labels: {scaletest: "true"}}
YAML
  kubectl --cache-dir "$work/cache" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Secret
metadata: {name: c$i-adopted-admin-kubeconfig, namespace: ns$i}
data: {kubeconfig: $spoke_b64, raw-kubeconfig: $spoke_b64}
YAML
  kubectl --cache-dir "$work/cache" apply -f - >/dev/null <<YAML
apiVersion: hive.openshift.io/v1
kind: ClusterDeployment
metadata: {name: c$i, namespace: ns$i, labels: {scaletest: "true"}}
spec:
  clusterName: c$i
  baseDomain: new-installer.openshift.com
  installed: true
  preserveOnDelete: true
  platform: {none: {}}
  clusterMetadata: {clusterID: fake-c$i, infraID: fake-c$i, adminKubeconfigSecretRef: {name: c$i-adopted-admin-kubeconfig}}
YAML
done
base=$(python3 -c "import time; print(time.time() - $start)")
python3 - "$ours" "$base" <<'PY'
import sys
ours, base = float(sys.argv[1]), float(sys.argv[2])
print(f"100 clones: engine {100/ours:.1f} clones/s ({ours:.2f}s), kubectl loop {100/base:.2f} clones/s ({base:.1f}s); "
      f"ratio {base/ours:.0f}x (target at least 50x)")
PY
