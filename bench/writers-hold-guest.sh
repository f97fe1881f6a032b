#!/bin/bash
# Runs inside the bench VM (see bench/writers-hold). What a writer round
# adds to taking a snapshot set: three tracked ext4 volumes on brd, one with
# no writer, one with 1 and one with 16 `cbt-snap writer run` writers whose
# hooks do nothing (/bin/sh -c :), so what is measured is the round itself
# (events, acks, the hooks' process starts). Interleaved rounds of
# `snapshot create --writers require` on each volume: the command's wall
# time and the module's freeze-to-thaw hold (hold-ns). Writes JSON to $1.
set -euo pipefail
out=$1
rounds=${BENCH_ROUNDS:-5}
CBT=tools/cbt-snap
tmp=$(mktemp -d)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

modprobe -r brd 2>/dev/null || true
modprobe brd rd_nr=3 rd_size=131072
declare -A vol=([0]=/dev/ram0 [1]=/dev/ram1 [16]=/dev/ram2)
for n in 0 1 16; do
	mkfs.ext4 -q -F "${vol[$n]}"
	mkdir -p "$tmp/m$n"
	mount "${vol[$n]}" "$tmp/m$n"
	$CBT attach "${vol[$n]}"
done
for n in 1 16; do
	for ((i = 0; i < n; i++)); do
		$CBT writer run --name "w$n-$i" --volume "${vol[$n]}" --freeze : --thaw : \
			>"$tmp/writer-$n-$i.log" 2>&1 &
		pids+=($!)
	done
done
for _ in $(seq 1 1200); do
	[ "$(cat "$tmp"/writer-*.log | grep -c ' registered')" -eq 17 ] && break
	sleep 0.1
done
[ "$($CBT writers --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["writers"]))')" -eq 17 ]

now_ns() { python3 -c 'import time; print(time.time_ns())'; }
take() { # N -> "N wall_ns hold_ns"
	local json id t0 t1
	t0=$(now_ns)
	json=$($CBT snapshot create "${vol[$1]}" --store "$tmp/store-$1:32M" --writers require --json)
	t1=$(now_ns)
	id=$(echo "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapsets"][0]["id"])')
	echo "$1 $((t1 - t0)) $(echo "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapsets"][0]["hold-ns"])')"
	$CBT snapshot destroy "$id"
}
: >"$tmp/runs"
take 0 >/dev/null # warm: the first create pays for loading what it runs
for ((r = 0; r < rounds; r++)); do
	for n in 0 1 16; do take "$n" >>"$tmp/runs"; done
done
cleanup
pids=()
for n in 0 1 16; do
	umount "$tmp/m$n"
	$CBT detach "${vol[$n]}"
done

python3 - "$tmp/runs" "$out" <<'PY'
import json, os, platform, statistics, sys
runs, out = sys.argv[1:3]
d = {}
for line in open(runs):
    n, wall, hold = map(int, line.split())
    d.setdefault(n, []).append((wall, hold))
res = {"kernel": platform.release(), "clock": os.environ.get("BENCH_CLOCK", "wall"),
       "device": "ext4 on brd (128 MiB), one tracked volume per case",
       "hooks": "/bin/sh -c : (freeze and thaw)", "cases": {}}
base = statistics.median(w for w, _ in d[0])
for n, v in sorted(d.items()):
    walls = sorted(w for w, _ in v)
    holds = sorted(h for _, h in v)
    res["cases"][str(n)] = {
        "writers": n,
        "create_ms": {"median": round(statistics.median(walls) / 1e6, 1),
                      "min": round(walls[0] / 1e6, 1), "max": round(walls[-1] / 1e6, 1)},
        "added_ms": round((statistics.median(walls) - base) / 1e6, 1),
        "hold_ms": {"median": round(statistics.median(holds) / 1e6, 2), "max": round(holds[-1] / 1e6, 2)},
        "runs": v}
json.dump(res, open(out, "w"), indent=2)
PY
echo "bench: writers-hold done"
