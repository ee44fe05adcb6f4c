#!/usr/bin/env bash
# Benchmarks the metrics tools (release builds) against Debian's prometheus scraping the embedded
# hub, and prints each figure beside its target:
#   1. a snapshot of the default profile from local Prometheus (target: under 200 ms);
#   2. the recorder's CPU at 5 s intervals over 60 s (target: under 1% of a core);
#   3. a report over a synthetic 24 h recording at 15 s intervals, 5,760 snapshots (target: 5 s).
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v prometheus >/dev/null || { echo "error: prometheus is not installed (apt-get install prometheus)" >&2; exit 1; }
cargo build --release --quiet -p hive-scale-examples \
  --example hub --example setup_selectorsyncsets --example test_setup \
  --example snapshot --example record --example report
bin=$PWD/target/release/examples
work=$(mktemp -d)
hub="" prom=""
cleanup() {
  [ -n "$prom" ] && kill "$prom" 2>/dev/null || true
  [ -n "$hub" ] && kill "$hub" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$bin/hub" --dir "$work" --time-scale 10 >"$work/hub.out" 2>&1 &
hub=$!
for _ in $(seq 100); do grep -q "Hive metrics on" "$work/hub.out" && break; sleep 0.1; done
metrics=$(grep -o 'http://[^ ]*/metrics' "$work/hub.out")
target=${metrics#http://}; target=${target%/metrics}
port=$(free_port)
sed -e "s/127.0.0.1:2112/$target/" -e "s/127.0.0.1:9091/127.0.0.1:$port/" -e "s/scrape_interval: 15s/scrape_interval: 5s/" \
  config/prometheus/prometheus.yml >"$work/prometheus.yml"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$port" >"$work/prometheus.out" 2>&1 &
prom=$!
url=http://127.0.0.1:$port
export KUBECONFIG=$work/hub.kubeconfig

# Some work for the hub, so every query has series: 20 sets x 10 ConfigMaps, 100 clones.
"$bin/setup_selectorsyncsets" --count 20 --configmaps 10 >/dev/null
"$bin/test_setup" "$work/spoke.kubeconfig" 1 100 --qps 0 >/dev/null
for _ in $(seq 120); do
  if "$bin/snapshot" --prometheus "$url" --json 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
sys.exit(0 if all(r["status"] == "ok" and r["value"].get("series") for r in s["results"]) else 1)'; then
    break
  fi
  sleep 1
done

# 1. Snapshot latency: the snapshot's own timing (elapsed_ms), and the whole process.
python3 - "$bin/snapshot" "$url" <<'PY'
import json, subprocess, sys, time, statistics
exe, url = sys.argv[1], sys.argv[2]
inner, wall = [], []
for _ in range(30):
    t = time.perf_counter()
    out = subprocess.run([exe, "--prometheus", url, "--json"], check=True, capture_output=True, text=True).stdout
    wall.append((time.perf_counter() - t) * 1000)
    inner.append(json.loads(out)["elapsed_ms"])
inner.sort(); wall.sort()
p95 = lambda v: v[int(len(v) * 0.95) - 1]
print(f"snapshot of the default profile ({len(json.loads(out)['results'])} queries) from local Prometheus: "
      f"median {statistics.median(inner):.1f} ms, p95 {p95(inner):.1f} ms (target 200 ms); "
      f"whole process median {statistics.median(wall):.1f} ms")
PY

# 2. Recorder CPU at 5 s intervals for 60 s (process start included).
/usr/bin/time -f "%e %U %S %M" -o "$work/rec.time" \
  "$bin/record" --prometheus "$url" --interval 5s --duration 60s --out "$work/rec.jsonl" </dev/null 2>/dev/null
read -r wall user sys rss <"$work/rec.time"
python3 -c "
wall, cpu, rss = $wall, $user + $sys, $rss
print(f'recorder at 5 s intervals for {wall:.0f} s: {cpu:.2f} CPU s = {cpu / wall * 100:.2f}% of a core (target 1%), peak RSS {rss / 1024:.1f} MB')"

# 3. A synthetic 24 h recording at 15 s intervals, shaped like the real one just recorded.
python3 - "$work/rec.jsonl" "$work/day.jsonl" <<'PY'
import json, math, sys, random
src, dst = sys.argv[1], sys.argv[2]
lines = [json.loads(l) for l in open(src)]
start = next(l for l in lines if l["type"] == "start")
template = [l for l in lines if l["type"] == "snapshot"][-1]
random.seed(7)
t0, step, n = 1_800_000_000.0, 15.0, 5760
start["t"], start["interval_s"] = t0, step
controllers = ["clusterSync-controller", "clusterdeployment-controller", "machinepool", "clusterstate",
               "clusterversion", "remoteingress", "syncidentityprovider", "dnsendpoint", "controlplanecerts",
               "unreachable", "velerobackup", "metrics"]
with open(dst, "w") as out:
    out.write(json.dumps(start) + "\n")
    for i in range(n):
        t = t0 + i * step
        hour = i * step / 3600
        depth = 60000 * min(1.0, hour / 0.8) if hour < 0.8 else max(0.0, 60000 - (hour - 0.8) * 4300)
        snap = json.loads(json.dumps(template))
        # A real Hive's day: no simulator time scale.
        snap["t"], snap["modeled"] = t, False
        snap.pop("time_scale", None)
        for r in snap["results"]:
            v = r.get("value", {})
            r["converted"] = False
            if r["name"] == "workqueue_depth":
                v["series"] = [{"labels": {"name": c}, "value": round(depth if c == "clusterSync-controller" else random.random() * 5)}
                               for c in controllers]
            elif r["name"] == "reconcile_rate":
                v["series"] = [{"labels": {"controller": c}, "value": (1.2 + 0.3 * math.sin(i / 50)) if c == "clusterSync-controller" else random.random()}
                               for c in controllers]
            else:
                for s in v.get("series", []):
                    if isinstance(s["value"], (int, float)):
                        s["value"] = s["value"] * (0.8 + 0.4 * random.random())
        out.write(json.dumps(snap) + "\n")
        if i in (0, 192, 1500):
            out.write(json.dumps({"type": "phase", "name": {0: "adopt", 192: "drain", 1500: "steady"}[i], "t": t}) + "\n")
    out.write(json.dumps({"type": "stop", "t": t0 + n * step, "snapshots": n, "errors": 0}) + "\n")
PY
size=$(du -m "$work/day.jsonl" | cut -f1)
/usr/bin/time -f "%e %U %S %M" -o "$work/rep.time" \
  "$bin/report" "$work/day.jsonl" --out "$work/day-report" --pairs 60000 >/dev/null
read -r wall user sys rss <"$work/rep.time"
python3 -c "
print(f'report over 24 h at 15 s (5,760 snapshots, ${size} MB): {$wall:.2f} s wall, {$user + $sys:.2f} CPU s, peak RSS {$rss / 1024:.0f} MB (target 5 s)')"
