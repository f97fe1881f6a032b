#!/bin/bash
# Runs inside the bench VM (see bench/run-all). Measures fio 4 KiB random
# direct writes (QD1, QD32) to a brd origin with a live snapshot, in two
# phases: fresh (nearly every write is the first to its 64 KiB chunk since
# the snapshot: the copy-on-write cost) and steady (every chunk written
# already copied), for the bare device, a cbt snapshot (store on another
# brd device) and dm-snapshot (persistent store on another brd device, the
# snapshot target created before the origin target), interleaved in
# rounds. Also: the freeze-to-thaw hold of idle and busy ext4, and image
# sequential read throughput against the origin's. Writes JSON to $1.
#
# The origin holds data (random bytes) and every store is written once
# before the first run, so no run makes brd allocate a page: a disk does
# not pay for a first write, and brd's page allocation would otherwise be
# charged to whichever setup writes a fresh page (the store's, for both
# copy-on-write setups; the origin's, for all three).
set -euo pipefail
out=$1
secs=${BENCH_SECS:-5}
rounds=${BENCH_ROUNDS:-5}
fresh_ios=${BENCH_FRESH_IOS:-8000}
CBT=tools/cbt-snap
tmp=$(mktemp -d)

# Touch most of the guest's RAM once: QEMU backs guest memory on first
# touch (host page faults, huge-page zeroing), a cost that would otherwise
# land on whichever setup first uses fresh memory.
python3 -c "import sys; x = b'w' * (int(sys.argv[1]) << 20)" "${BENCH_WARM_MB:-2000}"

# A 4 GiB origin: 8000 random 4 KiB writes hit 94% distinct 64 KiB chunks.
# Stores: 1 GiB each is more than a run uses (8000 chunks, 500 MiB).
brd_fresh() { # [ORIGIN_KIB]
	modprobe -r brd 2>/dev/null || true
	modprobe brd rd_nr=3 rd_size="${1:-4194304}"
}
brd_fresh
modprobe dm-snapshot
origin=/dev/ram0 store=/dev/ram1 dmcow=/dev/ram2
nsect=$(blockdev --getsz $origin)
steady_mb=64
head -c 64M /dev/urandom >"$tmp/data"
fill() { # DEVICE MIB: write random data over the first MIB MiB
	local i
	for ((i = 0; i < $2; i += 64)); do
		dd if="$tmp/data" of="$1" bs=1M seek=$i count=64 oflag=direct status=none
	done
}
fill $origin $((nsect / 2048))
fill $store 1024
fill $dmcow 1024

fio_iops() { # DEVICE IODEPTH MODE(fresh|steady)
	local limit
	if [ "$3" = fresh ]; then
		limit="--number_ios=$fresh_ios"
	else
		limit="--time_based --runtime=$secs --size=${steady_mb}M --norandommap"
	fi
	# shellcheck disable=SC2086
	fio --name=b --filename="$1" --rw=randwrite --bs=4k --direct=1 \
		--ioengine=libaio --iodepth="$2" --randrepeat=0 $limit \
		--output-format=json --output="$tmp/fio.json" >/dev/null
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["jobs"][0]["write"]["iops"])' "$tmp/fio.json"
}

dm_minor() { dmsetup info -c --noheadings -o minor "$1" | tr -d ' '; }

# run_setup NAME IODEPTH PHASE -> "iops fresh_fraction"
run_setup() {
	local dev=$origin iops copied=0 id=
	case "$1" in
	bare | dm_snapshot) # no hook in place: nothing is tracked
		for _ in $(seq 1 100); do
			[ "$(cat /sys/kernel/debug/cbt/hook)" = registered ] || break
			sleep 0.1
		done
		;;
	esac
	case "$1" in
	bare) ;;
	cbt)
		$CBT attach $origin --block-size 64K
		id=$($CBT snapshot create $origin --store $store --no-freeze | head -n 1)
		;;
	dm_snapshot)
		dd if=/dev/zero of=$dmcow bs=1M count=1 oflag=direct status=none
		dmsetup create --noudevsync cbt-bsnap --table "0 $nsect snapshot $origin $dmcow P 128"
		dmsetup create --noudevsync cbt-borig --table "0 $nsect snapshot-origin $origin"
		dev=/dev/dm-$(dm_minor cbt-borig)
		;;
	esac
	# Steady: every chunk the run writes was copied before it starts.
	[ "$3" = fresh ] ||
		dd if="$tmp/data" of="$dev" bs=1M count=$steady_mb oflag=direct status=none
	iops=$(fio_iops "$dev" "$2" "$3")
	case "$1" in
	cbt)
		copied=$($CBT snapshot list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapsets"][0]["chunks-copied"])')
		$CBT snapshot destroy "$id"
		$CBT detach $origin
		;;
	dm_snapshot)
		dmsetup remove --noudevsync cbt-borig
		dmsetup remove --noudevsync cbt-bsnap
		;;
	esac
	echo "$iops $copied"
}

: >"$tmp/runs"
for phase in ${BENCH_PHASES:-fresh steady}; do
	for qd in 1 32; do
		for r in $(seq 1 "$rounds"); do
			order=(bare cbt dm_snapshot)
			for i in 0 1 2; do
				s=${order[$(((i + r) % 3))]}
				echo "$phase $qd $r $s $(run_setup "$s" "$qd" "$phase")" >>"$tmp/runs"
			done
		done
	done
done

# Freeze-to-thaw hold of an ext4 volume, idle and under buffered writes.
brd_fresh 1048576
vol=/dev/ram2
mkfs.ext4 -q -F $vol 1G
mkdir -p "$tmp/mnt"
mount $vol "$tmp/mnt"
$CBT attach $vol
hold() { # -> hold in microseconds of one snapshot (then destroyed)
	local json id
	json=$($CBT snapshot create $vol --store "$tmp/hold-store:64M" --json)
	id=$(echo "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapsets"][0]["id"])')
	echo "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["snapsets"][0]["hold-ns"] // 1000)'
	$CBT snapshot destroy "$id"
}
: >"$tmp/hold"
for i in 1 2 3 4 5; do echo "idle $(hold)" >>"$tmp/hold"; done
fio --name=busy --directory="$tmp/mnt" --rw=randwrite --bs=4k --size=256M \
	--ioengine=psync --time_based --runtime=600 --output=/dev/null &
busy=$!
sleep 3
for i in 1 2 3 4 5; do echo "busy $(hold)" >>"$tmp/hold"; sleep 1; done
kill $busy; wait $busy || true
umount "$tmp/mnt"
$CBT detach $vol

# Image sequential reads against the origin's: half the chunks copied.
dd if=/dev/urandom of=$origin bs=1M count=256 oflag=direct status=none
$CBT attach $origin
id=$($CBT snapshot create $origin --store $store --no-freeze | head -n 1)
image=/dev/cbt-snap$id-0
fio --name=half --filename=$origin --rw=write:64k --bs=64k --size=256M --direct=1 \
	--ioengine=libaio --iodepth=8 --output=/dev/null
read_mbs() {
	fio --name=r --filename="$1" --rw=read --bs=1m --size=256M --direct=1 \
		--ioengine=libaio --iodepth=4 --output-format=json --output="$tmp/r.json" >/dev/null
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["jobs"][0]["read"]["bw"] / 1024)' "$tmp/r.json"
}
: >"$tmp/reads"
for i in 1 2 3; do
	echo "$(read_mbs $origin) $(read_mbs "$image")" >>"$tmp/reads"
done
$CBT snapshot destroy "$id"
$CBT detach $origin

python3 - "$tmp/runs" "$tmp/hold" "$tmp/reads" "$out" "$secs" "$fresh_ios" <<'PY'
import json, os, statistics, sys, platform
runs, hold, reads, out, secs, fresh_ios = sys.argv[1:7]
data = {}
for line in open(runs):
    phase, qd, r, s, iops, copied = line.split()
    data.setdefault(phase, {}).setdefault(int(qd), {}).setdefault(int(r), {})[s] = \
        {"iops": float(iops), "chunks_copied": int(copied)}
res = {"kernel": platform.release(), "clock": os.environ.get("BENCH_CLOCK", "wall"),
       "device": "brd, 64 KiB chunks, store on brd; origin holds data, stores written once before the runs",
       "fio": "4k randwrite direct libaio", "steady_seconds_per_run": int(secs),
       "fresh_ios_per_run": int(fresh_ios), "ratios": {}, "runs": data}
for phase, qds in data.items():
    for qd, rounds in qds.items():
        for s in ("cbt", "dm_snapshot"):
            ratios = sorted(v[s]["iops"] / v["bare"]["iops"] for v in rounds.values())
            res["ratios"][f"{s}_{phase}_qd{qd}"] = {
                "median": round(statistics.median(ratios), 3),
                "min": round(ratios[0], 3), "max": round(ratios[-1], 3),
                "bare_iops_median": round(statistics.median(v["bare"]["iops"] for v in rounds.values()))}
        if phase == "fresh":
            fr = [v["cbt"]["chunks_copied"] / int(fresh_ios) for v in rounds.values()]
            res["ratios"][f"cbt_fresh_qd{qd}"]["fresh_fraction"] = round(statistics.median(fr), 3)
h = {"idle": [], "busy": []}
for line in open(hold):
    k, us = line.split()
    h[k].append(int(us))
res["hold_us"] = {k: {"median": statistics.median(v), "max": max(v), "runs": v} for k, v in h.items()}
rd = [tuple(map(float, l.split())) for l in open(reads)]
res["image_read"] = {"origin_mb_s": round(statistics.median(o for o, _ in rd), 1),
                     "image_mb_s": round(statistics.median(i for _, i in rd), 1),
                     "ratio": round(statistics.median(i / o for o, i in rd), 3),
                     "copied_fraction": 0.5}
json.dump(res, open(out, "w"), indent=2)
PY
echo "bench: wrote $out"
