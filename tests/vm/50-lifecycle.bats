#!/usr/bin/env bats
# Lifetimes: checkpoints under concurrent writes, devices that vanish or
# change size while tracked, detach and rmmod while writes run.

load helpers

setup() {
	long_gate
	common_setup
}

teardown() {
	[ -e /dev/cbt-ctl ] || insmod "$KO"
	[ -z "${LOOP:-}" ] || { cbt detach "$LOOP" 2>/dev/null || true; del_loop "$LOOP"; }
	[ -z "${LOOP2:-}" ] || { cbt detach "$LOOP2" 2>/dev/null || true; del_loop "$LOOP2"; }
	nullb_remove cbtn
}

@test "checkpoints under concurrent writers: nothing missed, nothing early" {
	LOOP=$(make_loop 64M)
	cbt attach "$LOOP" --block-size 4K
	python3 "$TLIB/concurrent_checkpoints.py" "$CBT" "$LOOP" 4000
}

@test "a tracked device removed under writes drops its tracker cleanly" {
	dev=$(nullb_make cbtn 256)
	[ -b "$dev" ]
	majmin=$(lsblk -dno MAJ:MIN "$dev" | tr -d ' ')
	cbt attach "$dev"
	cbt checkpoint "$dev" >/dev/null
	( while dd if=/dev/zero of="$dev" bs=64k count=64 oflag=direct conv=nocreat,notrunc status=none; do :; done ) 2>/dev/null &
	writer=$!
	sleep 1
	nullb_remove cbtn
	wait "$writer" || true
	for i in $(seq 1 10); do
		cbt status | grep -qE "(^|[^0-9])$majmin([^0-9]|\$)" || break
		sleep 1
	done
	# No tracker is left for the device number: not by its name, and not
	# under its bare MAJ:MIN (how a leaked tracker of a gone disk prints).
	run cbt status
	echo "$output"
	[[ "$output" != *"$dev "* ]]
	run grep -cE "(^|[^0-9])$majmin([^0-9]|\$)" <<<"$output"
	[ "$output" = 0 ]
	# The kernel's own answers: LIST does not hold it, STATUS of the
	# number says ENOENT, and debugfs lists no tracker for it.
	PYTHONPATH=$TLIB python3 - "$majmin" <<'PY'
import errno, sys
import cbt_ioctl as c
maj, mnr = map(int, sys.argv[1].split(":"))
fd = c.ctl()
devs = c.list_devs(fd)
assert (maj, mnr) not in devs, f"{maj}:{mnr} still tracked: {devs}"
try:
    c.status_dev(fd, maj, mnr)
    raise SystemExit(f"STATUS of {maj}:{mnr} still answers")
except OSError as e:
    assert e.errno == errno.ENOENT, e
PY
	if [ -e /sys/kernel/debug/cbt/trackers ]; then
		run grep -c " $majmin " /sys/kernel/debug/cbt/trackers
		[ "$output" = 0 ]
	fi
	# The module still works.
	LOOP=$(make_loop 16M)
	cbt attach "$LOOP"
	cbt checkpoint "$LOOP" >/dev/null
}

@test "rmmod under writes detaches everything and does not hang" {
	LOOP=$(make_loop 128M)
	cbt attach "$LOOP"
	cbt checkpoint "$LOOP" >/dev/null
	fio --name=w --filename="$LOOP" --rw=randwrite --bs=4k --direct=1 \
		--ioengine=libaio --iodepth=16 --time_based --runtime=6 --output=/dev/null &
	fiopid=$!
	sleep 2
	timeout 60 rmmod cbt
	[ ! -e /dev/cbt-ctl ]
	wait "$fiopid"
	insmod "$KO"
	run cbt status
	[ "$status" -eq 0 ]
	[ -z "$output" ] || [[ "$output" != *"$LOOP"* ]]
}

@test "detach while writes run, then attach again: the new tracker misses nothing" {
	LOOP=$(make_loop 128M)
	cbt attach "$LOOP"
	fio --name=w --filename="$LOOP" --rw=randwrite --bs=4k --direct=1 \
		--ioengine=libaio --iodepth=16 --time_based --runtime=4 --output=/dev/null &
	fiopid=$!
	# A second writer logs when each of its writes began: the truth.
	python3 "$TLIB/logged_writer.py" "$LOOP" "$BATS_TEST_TMPDIR/log" "$BATS_TEST_TMPDIR/stop" &
	logpid=$!
	sleep 1
	cbt checkpoint "$LOOP" >/dev/null
	cbt detach "$LOOP"
	cbt attach "$LOOP" --block-size 4K
	STAMP=$(cbt checkpoint "$LOOP")
	after=$(now_ns)
	# Writes of our own after the re-attach, at known places.
	write_direct "$LOOP" $((4096 * 7)) 4096 0
	write_direct "$LOOP" $((64 << 20)) 65536 0
	write_direct "$LOOP" $(((128 << 20) - 4096)) 4096 0
	sleep 1
	touch "$BATS_TEST_TMPDIR/stop"
	wait "$logpid"
	wait "$fiopid"
	# Every logged write issued after the checkpoint returned.
	awk -v t="$after" '$1 > t { print $2, $3 }' "$BATS_TEST_TMPDIR/log" >>"$WRITTEN"
	[ "$(awk -v t="$after" '$1 > t' "$BATS_TEST_TMPDIR/log" | wc -l)" -gt 0 ]
	verify_changes "$LOOP" 4096
	# The tracker's count of blocks written since attach covers at least
	# the distinct blocks written after the re-attach.
	PYTHONPATH=$TLIB python3 - "$LOOP" "$WRITTEN" <<'PY'
import sys
import cbt_ioctl as c
blocks = set()
for line in open(sys.argv[2]):
    off, ln = map(int, line.split())
    blocks.update(range(off // 4096, (off + ln - 1) // 4096 + 1))
st = c.status_dev(c.ctl(), *c.devno(sys.argv[1]))
print(f"{len(blocks)} blocks written after the re-attach; the tracker counts {st[9]}")
assert st[9] >= len(blocks), st
PY
}

@test "a device that grows loses continuity: ESTALE, then a new uuid" {
	LOOP=$(make_loop 32M)
	cbt attach "$LOOP"
	STAMP=$(cbt checkpoint "$LOOP")
	uuid1=${STAMP%:*}
	truncate -s 64M "$(losetup -n -O BACK-FILE "$LOOP" | tr -d ' ')"
	losetup -c "$LOOP"
	dd if=/dev/urandom of="$LOOP" bs=4096 count=1 seek=12000 oflag=direct conv=notrunc status=none
	run cbt status "$LOOP" -r -n -o LOST
	[ "$output" = "yes" ]
	run cbt changes "$LOOP" --since "$STAMP"
	[ "$status" -eq 1 ]
	[[ "$output" == *"full backup"* ]]
	S2=$(cbt checkpoint "$LOOP")
	[ "${S2%:*}" != "$uuid1" ]
	size=$(cbt status "$LOOP" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["volumes"][0]["size"])')
	[ "$size" -eq 67108864 ]
}

# Waits up to 10 s for the hook to be in state $1 (registered|unregistered).
hook_state() {
	local i
	for i in $(seq 1 50); do
		[ "$(cat /sys/kernel/debug/cbt/hook)" = "$1" ] && return 0
		sleep 0.2
	done
	echo "hook is $(cat /sys/kernel/debug/cbt/hook), not $1" >&2
	return 1
}

@test "the write hook is in place only while something is tracked" {
	[ -z "$(cbt status)" ]
	hook_state unregistered
	LOOP=$(make_loop 16M)
	LOOP2=$(make_loop 16M)
	cbt attach "$LOOP"
	hook_state registered
	cbt attach "$LOOP2"
	cbt detach "$LOOP"
	sleep 1
	hook_state registered
	# The remaining tracker still sees writes.
	s=$(cbt checkpoint "$LOOP2")
	dd if=/dev/urandom of="$LOOP2" bs=64k count=1 seek=3 oflag=direct status=none
	run cbt changes "$LOOP2" --since "$s"
	[ "$output" = "196608 65536" ]
	cbt detach "$LOOP2"
	del_loop "$LOOP2"
	hook_state unregistered
	# Registered again on the next attach, and writes are seen again.
	cbt attach "$LOOP"
	hook_state registered
	s=$(cbt checkpoint "$LOOP")
	dd if=/dev/urandom of="$LOOP" bs=4k count=1 seek=100 oflag=direct status=none
	run cbt changes "$LOOP" --since "$s"
	[ "$output" = "393216 65536" ]
}
