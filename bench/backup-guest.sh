#!/bin/bash
# Runs inside the bench VM (see bench/backup-vm). A 4 GiB tracked volume
# (a loop device over a file on an ext4 on the guest's data disk; the
# repositories on the same ext4), filled half with random bytes, half with
# compressible text; a full backup timed; then 1% of its 64 KiB tracking
# blocks rewritten at random offsets and an incremental timed. Once into a
# repository of each chunk size in BENCH_CHUNKS (default "1M").
# Each backup's guest time, its user+system CPU time, and "bench-mark"
# lines on stdout that the host stamps with its own clock (the host's wall
# time of each step). Restores are checked by the VM suites (85, 86, 87),
# not here. Writes JSON to $1.
set -euo pipefail
out=$1
CBT=$PWD/tools/cbt-snap
size_mib=${BENCH_VOL_MIB:-4096}
pct=${BENCH_CHANGE_PCT:-1}
disk=/dev/vda
mnt=/tmp/bk
mkdir -p $mnt
mkfs.ext4 -q -F $disk
mount $disk $mnt
[ -e /dev/loop-control ] || modprobe loop
vol=$(losetup -f --show "$(truncate -s "${size_mib}M" $mnt/vol.img && echo $mnt/vol.img)")
# Half random (2 GiB of distinct bytes), half compressible text.
half=$((size_mib / 2))
dd if=/dev/urandom of="$vol" bs=1M count=$half oflag=direct status=none
{ yes "a compressible line of text in a disk image, 0123456789" || true; } |
	dd of="$vol" bs=1M seek=$half count=$((size_mib - half)) iflag=fullblock oflag=direct status=none
sync
blocks=$((size_mib * 16))	# 64 KiB tracking blocks
nchange=$((blocks * pct / 100))
# The same random block numbers for both repositories: distinct, sorted.
python3 -c "
import random
random.seed(12)
print('\n'.join(str(b) for b in sorted(random.sample(range($blocks), $nchange))))" >/tmp/blocks

mark() { echo "bench-mark: $*"; }
TIMEFORMAT='%3R %3U %3S'
# timed NAME CMD...: guest real, user, sys seconds into /tmp/t.NAME
timed() {
	local name=$1
	shift
	mark "$name start"
	{ time "$@" >/tmp/o."$name" 2>/tmp/e."$name"; } 2>/tmp/t."$name" ||
		{ cat /tmp/e."$name" >&2; exit 1; }
	mark "$name end"
}
rewrite() { # write fresh random bytes over the chosen blocks (one process)
	python3 - "$vol" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
data = open("/tmp/newdata", "rb")
for line in open("/tmp/blocks"):
    os.pwrite(fd, data.read(65536), int(line) * 65536)
os.fsync(fd)
os.close(fd)
EOF
}

chunks=${BENCH_CHUNKS:-1M}
declare -A res
for cs in $chunks; do
	repo=$mnt/repo-$cs state=$mnt/state-$cs
	$CBT attach "$vol" --block-size 64K
	echo 3 >/proc/sys/vm/drop_caches
	timed "full-$cs" "$CBT" backup "$vol" --to "$repo" --state-dir "$state" --type full \
		--chunk-size "$cs" --json --quiet
	cp /tmp/o."full-$cs" /tmp/j."full-$cs"
	head -c $((nchange * 65536)) /dev/urandom >/tmp/newdata	# new bytes each run
	rewrite
	echo 3 >/proc/sys/vm/drop_caches
	timed "incr-$cs" "$CBT" backup "$vol" --to "$repo" --state-dir "$state" --type incremental \
		--json --quiet
	cp /tmp/o."incr-$cs" /tmp/j."incr-$cs"
	res[repo-$cs]=$(du -sb "$repo" | cut -f1)
	$CBT detach "$vol"
	rm -rf "$repo" "$state"
	mark "$cs done"
done

python3 - "$out" "$size_mib" "$nchange" "$pct" $(for cs in $chunks; do echo "$cs=${res[repo-$cs]}"; done) <<'EOF'
import json, os, sys
out, size_mib, nchange, pct = sys.argv[1:5]
repos = [a.split("=", 1) for a in sys.argv[5:]]
def t(name):
    real, user, sys_ = (float(x) for x in open(f"/tmp/t.{name}").read().split())
    j = json.load(open(f"/tmp/j.{name}"))
    return {"guest_seconds": real, "cpu_seconds": round(user + sys_, 3),
            "bytes_read": j["bytes-read"], "bytes_stored": j["bytes-stored"],
            "type": j["type"]}
r = {"kernel": os.uname().release, "clock": os.environ.get("BENCH_CLOCK", "wall"),
     "volume_mib": int(size_mib), "tracking_block": 65536, "changed_blocks": int(nchange),
     "changed_percent": int(pct), "content": "half random, half compressible text",
     "chunks": {}}
for cs, rb in repos:
    f, i = t(f"full-{cs}"), t(f"incr-{cs}")
    r["chunks"][cs] = {"full": f, "incremental": i, "repo_bytes": int(rb),
                       "ratio_guest": round(i["guest_seconds"] / f["guest_seconds"], 4),
                       "ratio_cpu": round(i["cpu_seconds"] / f["cpu_seconds"], 4)}
json.dump(r, open(out, "w"), indent=1)
print("bench: wrote", out)
EOF
