# Shared helpers for the VM suites (run as root inside the test VM).
REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
CBT=$REPO/tools/cbt-snap
TLIB=$REPO/tests/lib
KO=$REPO/kmod/out/$(uname -r)/cbt.ko
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

# The same through the page cache, then fsync.
write_buffered() {
	dd if=/dev/urandom of="$1" bs="$3" count=1 seek="$2" \
		oflag=seek_bytes conv=notrunc,fsync status=none
	echo "$(($4 + $2)) $3" >>"$WRITTEN"
}

# Check `changes --since $STAMP` of $1 against $WRITTEN. Extra args go to
# verify_changes.py (--exact: no block reported that was not written).
verify_changes() {
	local dev=$1 bs=$2
	shift 2
	cbt changes "$dev" --since "$STAMP" >"$BATS_TEST_TMPDIR/changes"
	python3 "$TLIB/verify_changes.py" "$bs" "$WRITTEN" "$BATS_TEST_TMPDIR/changes" "$@"
}

common_setup() {
	ensure_module
	WRITTEN=$BATS_TEST_TMPDIR/written
	: >"$WRITTEN"
}
