# Shared helpers for the VM suites (run as root inside the test VM).
REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
CBT=$REPO/tools/cbt-snap
TLIB=$REPO/tests/lib
# CBT_KO: another build of the module to test (the one before a fix, say).
KO=${CBT_KO:-$REPO/kmod/out/$(uname -r)/cbt.ko}
LVMCONF='devices{obtain_device_list_from_udev=0 filter=["a|/dev/loop|","r|.*|"]} activation{udev_sync=0 udev_rules=0} backup{backup=0 archive=0}'

cbt() { "$CBT" "$@"; }

ensure_module() {
	[ -e /dev/cbt-ctl ] || insmod "$KO"
}

# A loop device over a sparse file on tmpfs: make_loop SIZE [-P]
make_loop() {
	local f
	[ -e /dev/loop-control ] || modprobe loop
	f=$(mktemp /tmp/cbt-loop.XXXXXX)
	truncate -s "$1" "$f"
	shift
	losetup -f --show "$@" "$f"
}

del_loop() {
	local f
	f=$(losetup -n -O BACK-FILE "$1" 2>/dev/null | tr -d ' ')
	losetup -d "$1" 2>/dev/null || true
	[ -z "$f" ] || rm -f "$f"
}

# Write LEN random bytes at byte OFFSET with O_DIRECT, and record it.
write_direct() {
	dd if=/dev/urandom of="$1" bs="$3" count=1 seek="$2" \
		oflag=seek_bytes,direct conv=notrunc status=none
	echo "$(($4 + $2)) $3" >>"$WRITTEN"
}

# write_direct at many offsets in one process (a process costs most of a
# second under TCG): write_direct_many DEV LEN BASE OFFSET...
write_direct_many() {
	local dev=$1 len=$2 base=$3 off
	shift 3
	python3 -c '
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_DIRECT)
n = int(sys.argv[2])
buf = mmap.mmap(-1, max(n, 4096))
for off in sys.argv[3:]:
    buf[:n] = os.urandom(n)
    if os.pwrite(fd, memoryview(buf)[:n], int(off)) != n:
        sys.exit("short write at " + off)
' "$dev" "$len" "$@"
	for off; do echo "$((base + off)) $len"; done >>"$WRITTEN"
}

# The same through the page cache, then fsync.
write_buffered() {
	dd if=/dev/urandom of="$1" bs="$3" count=1 seek="$2" \
		oflag=seek_bytes conv=notrunc,fsync status=none
	echo "$(($4 + $2)) $3" >>"$WRITTEN"
}

# Check `changes --since $STAMP` of $1 against $WRITTEN: extents sorted,
# disjoint, inside the device, covering every written byte. Extra args go
# to verify_changes.py (--exact: no block reported that was not written).
verify_changes() {
	local dev=$1 bs=$2
	shift 2
	cbt changes "$dev" --since "$STAMP" >"$BATS_TEST_TMPDIR/changes"
	python3 "$TLIB/verify_changes.py" "$bs" "$WRITTEN" "$BATS_TEST_TMPDIR/changes" \
		--device-size "$(blockdev --getsize64 "$dev")" "$@"
}

# make check leaves the tests named in tests/vm/long-tests to make
# check-long, which sets CBT_LONG=1. Every suite's setup() calls this first.
long_gate() {
	[ -z "${CBT_LONG:-}" ] || return 0
	grep -qxF -- "$BATS_TEST_DESCRIPTION" "$BATS_TEST_DIRNAME/long-tests" || return 0
	skip "a long test: make check-long runs it"
}

common_setup() {
	ensure_module
	WRITTEN=$BATS_TEST_TMPDIR/written
	: >"$WRITTEN"
}

# A memory-backed null_blk device made through configfs: nullb_make NAME MB.
# Prints its /dev path (named after NAME; older kernels: nullb<index>).
nullb_make() {
	local d=/sys/kernel/config/nullb/$1
	modprobe null_blk nr_devices=0
	mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
	mkdir "$d"
	echo "$2" >"$d/size"
	echo 1 >"$d/memory_backed"
	echo 1 >"$d/power"
	if [ -b "/dev/$1" ]; then echo "/dev/$1"; else echo "/dev/nullb$(cat "$d/index")"; fi
}

# Remove it (the device disappears, as in a hot removal): nullb_remove NAME
nullb_remove() {
	local d=/sys/kernel/config/nullb/$1
	[ -d "$d" ] || return 0
	echo 0 >"$d/power" 2>/dev/null || true
	rmdir "$d"
}

# Wall-clock nanoseconds (comparable with tests/lib/timed_write.py).
now_ns() {
	python3 -c 'import time; print(time.time_ns())'
}

# A dm device NAME over DEV whose writes are held MS milliseconds (reads
# are not): dm_delay NAME DEV MS. Prints its /dev/dm-N path.
dm_delay() {
	local sz
	modprobe dm-delay
	sz=$(blockdev --getsz "$2")
	dmsetup create --noudevsync "$1" --table "0 $sz delay $2 0 0 $2 0 $3"
	echo "/dev/dm-$(dmsetup info -c --noheadings -o minor "$1" | tr -d ' ')"
}

# How many writes the dm-delay device NAME holds now (its status: start
# length "delay" reads writes flushes, a line per delay segment).
delayed_writes() {
	dmsetup status "$1" | awk '$3 == "delay" { n += $5 } END { print n + 0 }'
}

# Wait until the dm-delay device NAME holds a write, up to 20 s.
wait_delayed_write() {
	local i
	for i in $(seq 1 200); do
		[ "$(delayed_writes "$1")" -gt 0 ] && return 0
		sleep 0.1
	done
	echo "no write held by $1" >&2
	return 1
}

# wait_blocked PID FUNCTION: until process PID sleeps uninterruptibly (D)
# with FUNCTION on its kernel stack, up to 30 s. The function tells where
# (a D state alone may be a page of the program being read in over 9p).
wait_blocked() {
	local i
	for i in $(seq 1 300); do
		if [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = D ] &&
			grep -q "$2" "/proc/$1/stack" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "process $1 never blocked in $2" >&2
	cat "/proc/$1/stack" >&2 2>/dev/null || true
	return 1
}

# io_limited_cgroup NAME DEV LIMITS: a cgroup (v2) /tmp/cbt-cg/NAME whose
# I/O to the whole disk DEV blk-throttle limits by LIMITS (io.max keys,
# e.g. "wiops=2"). A process joins it with
#   echo $BASHPID >/tmp/cbt-cg/NAME/cgroup.procs
io_limited_cgroup() {
	mkdir -p /tmp/cbt-cg
	mountpoint -q /tmp/cbt-cg || mount -t cgroup2 none /tmp/cbt-cg
	echo +io >/tmp/cbt-cg/cgroup.subtree_control
	mkdir -p "/tmp/cbt-cg/$1"
	echo "$(lsblk -dno MAJ:MIN "$2" | tr -d ' ') $3" >"/tmp/cbt-cg/$1/io.max"
}

# The number of live snapshot sets.
count_sets() {
	cbt snapshot list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["snapsets"]))'
}

# Does `changes DEV --since STAMP` report byte OFFSET? changes_include DEV STAMP OFFSET
changes_include() {
	cbt changes "$1" --since "$2" |
		awk -v o="$3" '$1 <= o && o < $1 + $2 { found = 1 } END { exit !found }'
}

# Swap in the test module with fault injection (kmod/out/<kernel>/faults).
load_fault_module() {
	rmmod cbt 2>/dev/null || true
	insmod "${CBT_FAULT_KO:-$REPO/kmod/out/$(uname -r)/faults/cbt.ko}"
	[ -e /sys/module/cbt/parameters/fault_mark_comm ]
}

# fault KNOB [VALUE]: set a knob of the fault injection module, or print it.
fault() {
	if [ $# -eq 2 ]; then
		echo "$2" >"/sys/module/cbt/parameters/$1"
	else
		cat "/sys/module/cbt/parameters/$1"
	fi
}

# wait_fault KNOB N: until its counter KNOB reaches N, up to 30 s.
wait_fault() {
	local v end=$((SECONDS + 30))
	while [ $SECONDS -lt $end ]; do
		read -r v <"/sys/module/cbt/parameters/$1"
		[ "$v" -ge "$2" ] && return 0
		sleep 0.05
	done
	echo "$1 never reached $2" >&2
	return 1
}

# And back to the regular one.
unload_fault_module() {
	if [ -e /sys/module/cbt/parameters/fault_mark_comm ]; then
		rmmod cbt
		insmod "$KO"
	fi
}
