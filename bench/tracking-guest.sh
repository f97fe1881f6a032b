#!/bin/bash
# Runs inside the bench VM (see bench/run-all). Measures fio 4 KiB random
# direct writes on a brd ramdisk: bare (the module loaded, nothing tracked,
# so its hook is not in place), tracked by cbt, with another device tracked
# (the hook's cost for untracked devices), and under dm-era with the
# same block size. Setups run interleaved in rounds (the brief's method:
# the ratio within each round, then the median over rounds). Also: map
# memory per TiB written, and how long `changes` takes on a 16 TiB null_blk
# volume with 1% of it written. Writes JSON to $1.
set -euo pipefail
out=$1
secs=${BENCH_SECS:-5}
rounds=${BENCH_ROUNDS:-5}
CBT=tools/cbt-snap
tmp=$(mktemp -d)

# Touch most of the guest's RAM once: QEMU backs guest memory on first
# touch (host page faults, huge-page zeroing), a cost that would otherwise
# land on whichever setup first uses fresh memory.
python3 -c "import sys; x = b'w' * (int(sys.argv[1]) << 20)" "${BENCH_WARM_MB:-2000}"

modprobe brd rd_nr=3 rd_size=131072
modprobe dm-era
nsect=$(blockdev --getsz /dev/ram0)

fio_iops() { # DEVICE IODEPTH
	fio --name=b --filename="$1" --rw=randwrite --bs=4k --direct=1 \
		--ioengine=libaio --iodepth="$2" --time_based --runtime="$secs" \
		--randrepeat=0 --norandommap --output-format=json --output="$tmp/fio.json" >/dev/null
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["jobs"][0]["write"]["iops"])' "$tmp/fio.json"
}

# Bare means the module's hook is not in place: it is registered only while
# something is tracked, and goes shortly after the last detach.
hook_gone() {
	local i
	for i in $(seq 1 100); do
		[ "$(cat /sys/kernel/debug/cbt/hook)" = unregistered ] && return 0
		sleep 0.1
	done
	echo "bench: the hook is still registered" >&2
	return 1
}

run_setup() { # NAME IODEPTH -> iops
	local dev=/dev/ram0 iops
	case "$1" in
	bare | dm_era) hook_gone ;;
	esac
	case "$1" in
	bare) ;;
	tracked) $CBT attach /dev/ram0 --block-size 64K ;;
	other_tracked) $CBT attach /dev/ram1 --block-size 64K ;;
	dm_era)
		dd if=/dev/zero of=/dev/ram2 bs=1M count=4 status=none
		dmsetup create --noudevsync cbt-era --table "0 $nsect era /dev/ram2 /dev/ram0 128"
		dev=/dev/dm-$(dmsetup info -c --noheadings -o minor cbt-era | tr -d ' ')
		;;
	esac
	# Steady phase: every block already written once in this setup.
	[ "$1" = bare ] || [ "$1" = other_tracked ] ||
		dd if=/dev/zero of="$dev" bs=1M count=$((nsect / 2048)) oflag=direct status=none
	[ "$1" != tracked ] || $CBT checkpoint /dev/ram0 >/dev/null
	iops=$(fio_iops "$dev" "$2")
	case "$1" in
	tracked) $CBT detach /dev/ram0 ;;
	other_tracked) $CBT detach /dev/ram1 ;;
	dm_era) dmsetup remove --noudevsync cbt-era ;;
	esac
	echo "$iops"
}

: >"$tmp/runs"
for qd in 1 32; do
	for r in $(seq 1 "$rounds"); do
		# Rotate the order each round so no setup always runs first.
		order=(bare tracked other_tracked dm_era)
		for i in 0 1 2 3; do
			s=${order[$(((i + r) % 4))]}
			echo "$qd $r $s $(run_setup "$s" "$qd")" >>"$tmp/runs"
		done
	done
done

modprobe null_blk nr_devices=0
mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
nullb_create() { # NAME SIZE_MIB -> device path (not memory backed: data is dropped)
	mkdir "/sys/kernel/config/nullb/$1"
	echo "$2" >"/sys/kernel/config/nullb/$1/size"
	echo 1 >"/sys/kernel/config/nullb/$1/power"
	if [ -b "/dev/$1" ]; then echo "/dev/$1"; else echo "/dev/nullb$(cat "/sys/kernel/config/nullb/$1/index")"; fi
}
nullb_remove() { echo 0 >"/sys/kernel/config/nullb/$1/power"; rmdir "/sys/kernel/config/nullb/$1"; }
map_bytes() { $CBT status "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["volumes"][0]["map-bytes"])'; }

# Map memory per TiB written: every block of a 64 GiB volume written once.
mid=$(nullb_create cbtmid 65536)
$CBT attach "$mid" --block-size 64K
map_idle=$(map_bytes "$mid")
fio --name=full --filename="$mid" --rw=write --bs=1m --direct=1 --ioengine=libaio \
	--iodepth=32 --output=/dev/null
map_full=$(map_bytes "$mid")
$CBT detach "$mid"
nullb_remove cbtmid

# changes on a 16 TiB null_blk volume with 1% of its blocks written:
# 1 MiB written every 100 MiB (16 blocks of 64 KiB); io_size stops fio after
# one pass (it would otherwise count the skipped gaps and run for 45 minutes).
big=$(nullb_create cbtbig $((16 * 1024 * 1024)))
$CBT attach "$big" --block-size 64K
map_16t_idle=$(map_bytes "$big")
S=$($CBT checkpoint "$big")
fio --name=fill --filename="$big" --rw=write:99m --bs=1m --io_size=$((16 * 1024 * 1024 / 100))m --direct=1 --ioengine=libaio \
	--iodepth=32 --output=/dev/null
read -r blocks written map_16t < <($CBT status "$big" --json | python3 -c 'import json,sys; s=json.load(sys.stdin)["volumes"][0]; print(s["blocks"], s["changed"], s["map-bytes"])')
t0=$(date +%s.%N)
extents=$($CBT changes "$big" --since "$S" | wc -l)
t1=$(date +%s.%N)
$CBT detach "$big"
nullb_remove cbtbig

python3 - "$tmp/runs" "$out" "$map_full" "$map_idle" "$map_16t_idle" "$blocks" "$written" "$map_16t" "$extents" "$t0" "$t1" "$secs" "$nsect" <<'PY'
import json, os, statistics, sys, platform
runs, out = sys.argv[1], sys.argv[2]
map_full, map_idle, map_16t_idle, blocks, written, map_16t, extents = map(int, sys.argv[3:10])
t0, t1, secs = float(sys.argv[10]), float(sys.argv[11]), int(sys.argv[12])
dev_bytes = int(sys.argv[13]) * 512
data = {}
for line in open(runs):
    qd, r, s, iops = line.split()
    data.setdefault(int(qd), {}).setdefault(int(r), {})[s] = float(iops)
res = {"kernel": platform.release(), "clock": os.environ.get("BENCH_CLOCK", "wall"), "seconds_per_run": secs, "device": f"brd {dev_bytes >> 20} MiB",
       "fio": "4k randwrite direct libaio", "block_size": 65536, "ratios": {}, "runs": data}
for qd, rounds in data.items():
    for s in ("tracked", "other_tracked", "dm_era"):
        ratios = sorted(v[s] / v["bare"] for v in rounds.values())
        res["ratios"][f"{s}_qd{qd}"] = {
            "median": round(statistics.median(ratios), 3),
            "min": round(ratios[0], 3), "max": round(ratios[-1], 3),
            "bare_iops_median": round(statistics.median(v["bare"] for v in rounds.values()))}
tib = 1 << 40
res["map"] = {
    "bytes_per_tib_written_64k_blocks": map_full * tib // (64 << 30),
    "idle_bytes_64gib": map_idle,
    "idle_bytes_16tib": map_16t_idle,
}
res["changes_16tib"] = {"blocks": blocks, "blocks_written": written,
                        "percent_written": round(100.0 * written / blocks, 2),
                        "extents": extents, "map_bytes": map_16t,
                        "seconds": round(t1 - t0, 3)}
json.dump(res, open(out, "w"), indent=2)
PY
echo "bench: wrote $out"
