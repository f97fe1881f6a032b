#!/bin/bash
# Runs inside a VM (see bench/changes-rss). Peak RSS of `cbt-snap changes`
# (text and --json) on a 16 TiB null_blk volume tracked with 1 MiB blocks,
# with 0.1% and then 1% of its blocks written: 4 KiB at the start of every
# 1000th, then every 100th, 1 MiB block, so each is its own extent (16,777
# and 167,772 extents). Bounded memory means the same peak at both counts.
# CBT_OLD=PATH also measures another cbt-snap's --json (format "old-json":
# the json-c CLI before the streaming output, whose JSON has "extents").
# Writes JSON to $1.
set -euo pipefail
out=$1
CBT=tools/cbt-snap
tmp=$(mktemp -d)
tib16=$((16 << 40))
mib=$((1 << 20))

modprobe null_blk nr_devices=0
mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
mkdir /sys/kernel/config/nullb/cbtrss
echo $((16 * 1024 * 1024)) >/sys/kernel/config/nullb/cbtrss/size	# MiB; not memory backed
echo 1 >/sys/kernel/config/nullb/cbtrss/power
dev=/dev/cbtrss
[ -b "$dev" ] || dev=/dev/nullb$(cat /sys/kernel/config/nullb/cbtrss/index)
[ "$(blockdev --getsize64 "$dev")" -eq "$tib16" ]

$CBT attach "$dev" --block-size 1M
S=$($CBT checkpoint "$dev")

# write EVERY_MIB: 4 KiB at offset 0, EVERY, 2*EVERY ... MiB, one pass.
write_every() {
	local n=$((16 * 1024 * 1024 / $1))
	fio --name=sparse --filename="$dev" --rw=write:$(($1 * mib - 4096)) --bs=4k \
		--io_size=$((n * 4096)) --direct=1 --ioengine=libaio --iodepth=32 --output=/dev/null
}

# measure LABEL CLI ARGS...: run CLI changes ARGS with its output to a
# file; prints "peak_kib bytes seconds". The peak is GNU time's %M: the
# child's ru_maxrss (VmHWM), the child being forked from time (a small
# process: a python parent would lend the child its own RSS until exec).
measure() {
	local label=$1 t0 t1 peak
	shift
	t0=$(date +%s.%N)
	peak=$(/usr/bin/time -f %M "$@" 2>&1 >"$tmp/$label.out")
	t1=$(date +%s.%N)
	echo "$peak $(stat -c %s "$tmp/$label.out") $(echo "$t1 - $t0" | bc)"
}

results=$tmp/results
: >"$results"
for every in 1000 100; do
	t0=$(date +%s)
	write_every "$every"
	t1=$(date +%s)
	echo "bench: wrote every ${every}th MiB in $((t1 - t0)) s"
	fmts="text json"
	[ -z "${CBT_OLD:-}" ] || fmts="$fmts old-json"
	for fmt in $fmts; do
		cli=$CBT
		[ "$fmt" != old-json ] || cli=$CBT_OLD
		args=(changes "$dev" --since "$S")
		[ "$fmt" = text ] || args+=(--json)
		read -r peak bytes secs < <(measure "$fmt-$every" "$cli" "${args[@]}")
		if [ "$fmt" = old-json ]; then
			n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["extents"]))' "$tmp/$fmt-$every.out")
		elif [ "$fmt" = json ]; then
			n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["changes"]))' "$tmp/$fmt-$every.out")
		else
			n=$(wc -l <"$tmp/$fmt-$every.out")
		fi
		echo "$every $fmt $n $peak $bytes $secs" >>"$results"
		echo "bench: every ${every}th MiB, $fmt: $n extents, peak RSS $peak KiB, $bytes bytes in $secs s"
	done
done
# A baseline: the same binary doing next to nothing.
read -r base _ _ < <(measure version "$CBT" --version)
$CBT detach "$dev"
echo 0 >/sys/kernel/config/nullb/cbtrss/power
rmdir /sys/kernel/config/nullb/cbtrss

python3 - "$results" "$out" "$base" <<'PY'
import json, os, platform, sys
rows = [l.split() for l in open(sys.argv[1])]
res = {"kernel": platform.release(), "volume": "null_blk 16 TiB", "block_size": 1 << 20,
       "write": "4 KiB at the start of every Nth 1 MiB block (one extent each)",
       "baseline_version_peak_rss_kib": int(sys.argv[3]), "runs": []}
for every, fmt, n, peak, size, secs in rows:
    res["runs"].append({"every_nth_block": int(every), "percent_written": 100 / int(every),
                        "format": fmt, "extents": int(n), "peak_rss_kib": int(peak),
                        "output_bytes": int(size), "seconds": float(secs)})
json.dump(res, open(sys.argv[2], "w"), indent=2)
PY
echo "bench: wrote $out"
