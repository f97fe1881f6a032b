#!/usr/bin/env bats
# Snapshot sets: images that hold the origin as it was at the instant,
# copy-on-write stores, growth, overflow, lifetime and bad input.

load helpers

setup() {
	long_gate
	common_setup
	mkdir -p /tmp/cbt-o /tmp/cbt-i /tmp/cbt-s
	LOOPS=()
	STACKED=()
}

teardown() {
	local id
	umount /tmp/cbt-i 2>/dev/null || true
	umount /tmp/cbt-o 2>/dev/null || true
	umount /tmp/cbt-s 2>/dev/null || true
	[ -z "${BGPID:-}" ] || { kill "$BGPID" 2>/dev/null; wait "$BGPID" 2>/dev/null || true; }
	[ ! -e /sys/module/cbt/parameters/fault_copy_comm ] || fault fault_copy_comm ''
	for p in ${RACERS:-}; do kill "$p" 2>/dev/null || true; done
	for p in ${RACERS:-}; do wait "$p" 2>/dev/null || true; done
	for id in $(cbt snapshot list --json 2>/dev/null | python3 -c 'import json,sys; [print(s["id"]) for s in json.load(sys.stdin)["snapsets"]]' 2>/dev/null); do
		cbt snapshot destroy "$id" || true
	done
	nullb_remove cbtsnap
	for d in "${STACKED[@]}"; do cbt detach "$d" 2>/dev/null || true; done
	dmsetup remove --noudevsync cbt-slin 2>/dev/null || true
	vgchange --config "$LVMCONF" -an cbtsvg >/dev/null 2>&1 || true
	vgremove --config "$LVMCONF" -f cbtsvg >/dev/null 2>&1 || true
	for l in "${LOOPS[@]}"; do
		cbt detach "$l" 2>/dev/null || true
		del_loop "$l"
	done
	for d in rd wr; do
		[ ! -d "/tmp/cbt-cg/$d" ] || rmdir "/tmp/cbt-cg/$d" 2>/dev/null || true
	done
	unload_fault_module
	# Stores and patterns live on the guest's tmpfs: free them now, not
	# when the whole run ends, or later tests run out of space.
	rm -rf "${BATS_TEST_TMPDIR:?}"/*
}

# new_loop SIZE: a loop device, cleaned up by teardown; sets $DEV.
new_loop() {
	DEV=$(make_loop "$1")
	LOOPS+=("$DEV")
}

# snap VOL... -- OPTIONS: create a set; sets $ID, $IMAGES (array), $STAMPS.
snap() {
	local out
	out=$(cbt snapshot create "$@")
	ID=$(echo "$out" | sed -n 1p)
	IMAGES=($(echo "$out" | sed -n '2,$p' | awk '{print $3}'))
	STAMPS=($(echo "$out" | sed -n '2,$p' | awk '{print $2}'))
	[ -n "$ID" ]
	[ -b "${IMAGES[0]}" ]
}

# Fill DEV with random data and keep a copy in $PATTERN.
fill_pattern() {
	PATTERN=$BATS_TEST_TMPDIR/pattern
	dd if=/dev/urandom of="$PATTERN" bs=1M count="$2" status=none
	dd if="$PATTERN" of="$1" bs=1M oflag=direct conv=notrunc status=none
}

# The first MB megabytes of IMAGE equal $PATTERN.
image_is_pattern() {
	cmp -n $(($2 * 1048576)) "$1" "$PATTERN"
}

@test "the image is the origin at the instant: fio during and after, rewrites, straddling writes, discard, write-zeroes" {
	new_loop 64M
	A=$DEV
	fill_pattern "$A" 32
	cbt attach "$A"
	# fio on the second half while the snapshot is taken and after.
	fio --name=bg --filename="$A" --offset=32M --size=32M --rw=randwrite --bs=4k \
		--direct=1 --ioengine=libaio --iodepth=8 --time_based --runtime=600 \
		--output=/dev/null &
	BGPID=$!
	sleep 2
	snap "$A" --store "$BATS_TEST_TMPDIR/store:80M"
	# The image says which volume and set it belongs to (udev names it so).
	attrs=/sys/block/$(basename "${IMAGES[0]}")/cbt
	[ "$(cat "$attrs/set")" = "$ID" ]
	[ "$(cat "$attrs/stamp")" = "${STAMPS[0]}" ]
	[ "$(cut -d' ' -f1 "$attrs/origin")" = "$(basename "$A")" ]
	# The same 4 MiB rewritten many times, across the whole first half too.
	fio --name=hot --filename="$A" --size=4M --rw=randwrite --bs=4k --direct=1 \
		--ioengine=libaio --iodepth=16 --number_ios=3000 --output=/dev/null
	fio --name=cold --filename="$A" --size=32M --rw=randwrite --bs=16k --direct=1 \
		--ioengine=libaio --iodepth=4 --number_ios=500 --output=/dev/null
	# Writes that straddle chunk boundaries (64 KiB chunks).
	for off in 61440 1015808 5177344; do
		dd if=/dev/urandom of="$A" bs=100K count=1 seek="$off" oflag=seek_bytes,direct \
			conv=notrunc status=none
	done
	blkdiscard -o 8M -l 2M "$A"
	blkdiscard -z -o 12M -l 1M "$A"
	# Many chunks are now partly preserved: image reads mix store and origin.
	image_is_pattern "${IMAGES[0]}" 32
	dd if=/dev/urandom of="$A" bs=1M count=32 oflag=direct conv=notrunc status=none
	kill "$BGPID"; wait "$BGPID" || true; BGPID=
	image_is_pattern "${IMAGES[0]}" 32
	# Unaligned small reads agree too.
	dd if="${IMAGES[0]}" bs=512 skip=12345 count=7 status=none >"$BATS_TEST_TMPDIR/a"
	dd if="$PATTERN" bs=512 skip=12345 count=7 status=none >"$BATS_TEST_TMPDIR/b"
	cmp "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
	# Read-only unless asked.
	run dd if=/dev/zero of="${IMAGES[0]}" bs=4k count=1 oflag=direct status=none
	[ "$status" -ne 0 ]
	cbt snapshot list -r -n -o ID,STATE | grep -q "^$ID ok"
}

@test "1 MiB chunks: copies larger than one bio's pages, to a device store and to a file store" {
	new_loop 64M
	A=$DEV
	new_loop 80M
	S=$DEV
	cbt attach "$A" --block-size 1M
	for store in "$S" "$BATS_TEST_TMPDIR/store:80M"; do
		fill_pattern "$A" 64
		snap "$A" --store "$store" --no-freeze
		# A 4 KiB piece, a write across two chunks, then every chunk whole.
		dd if=/dev/urandom of="$A" bs=4k count=1 seek=777 oflag=direct conv=notrunc status=none
		dd if=/dev/urandom of="$A" bs=300K count=1 seek=$((3 * 1048576 - 102400)) \
			oflag=seek_bytes,direct conv=notrunc status=none
		image_is_pattern "${IMAGES[0]}" 64
		dd if=/dev/urandom of="$A" bs=1M count=64 oflag=direct conv=notrunc status=none
		image_is_pattern "${IMAGES[0]}" 64
		cbt snapshot destroy "$ID"
	done
}

# stacked_case ORIGIN WRITER MB: snapshot ORIGIN (MB MiB, filled with a
# pattern), write through WRITER (random 4 KiB writes, then all of it) and
# check that ORIGIN's image still holds the pattern.
stacked_case() {
	local origin=$1 writer=$2 mb=$3 wmb
	wmb=$(($(blockdev --getsize64 "$writer") >> 20))
	STACKED+=("$origin")
	fill_pattern "$origin" "$mb"
	cbt attach "$origin"
	snap "$origin" --store "$BATS_TEST_TMPDIR/store:$((mb + 16))M" --no-freeze
	fio --name=s --filename="$writer" --rw=randwrite --bs=4k --direct=1 --ioengine=libaio \
		--iodepth=16 --number_ios=2000 --output=/dev/null
	image_is_pattern "${IMAGES[0]}" "$mb"
	dd if=/dev/urandom of="$writer" bs=1M count="$wmb" oflag=direct conv=notrunc status=none
	image_is_pattern "${IMAGES[0]}" "$mb"
	cbt snapshot destroy "$ID"
	cbt detach "$origin"
}

@test "real stacks: a partition, a disk under dm-linear, an LVM volume" {
	D=$(make_loop 64M -P)
	LOOPS+=("$D")
	# A partition, written through itself and through the whole disk.
	printf 'label: gpt\nstart=2048, size=32768\nstart=34816, size=65536\n' | sfdisk -q "$D"
	[ -b "${D}p2" ]
	stacked_case "${D}p2" "${D}p2" 32
	fill_pattern "${D}p2" 32
	cbt attach "${D}p2"
	snap "${D}p2" --store "$BATS_TEST_TMPDIR/store:48M" --no-freeze
	dd if=/dev/urandom of="$D" bs=1M count=8 seek=$(((34816 * 512 >> 20) + 4)) \
		oflag=direct conv=notrunc status=none
	image_is_pattern "${IMAGES[0]}" 32
	cbt snapshot destroy "$ID"
	cbt detach "${D}p2"
	# The whole disk, written through dm-linear above it (the copies run on
	# the set's workqueue: dm submits with current->bio_list set).
	dmsetup create --noudevsync cbt-slin --table "0 65536 linear $D 8192"
	stacked_case "$D" "/dev/dm-$(dmsetup info -c --noheadings -o minor cbt-slin | tr -d ' ')" 64
	dmsetup remove --noudevsync cbt-slin
	# An LVM logical volume, itself the origin.
	new_loop 64M
	pvcreate --config "$LVMCONF" -q "$DEV" >/dev/null
	vgcreate --config "$LVMCONF" -q cbtsvg "$DEV" >/dev/null
	lvcreate --config "$LVMCONF" -q -L 32M -n lv cbtsvg -y >/dev/null
	lv=/dev/dm-$(dmsetup info -c --noheadings -o minor cbtsvg-lv | tr -d ' ')
	stacked_case "$lv" "$lv" 32
}

# wr DEV OFFSET BYTES: one direct write of random data.
wr() {
	dd if=/dev/urandom of="$1" bs="$3" count=1 seek="$2" oflag=seek_bytes,direct \
		conv=notrunc status=none
}

@test "writes after the instant are tracked whether they copy old data or not" {
	new_loop 64M
	A=$DEV
	fill_pattern "$A" 64
	cbt attach "$A" --block-size 64K
	snap "$A" --store "$BATS_TEST_TMPDIR/store:80M"
	wr "$A" 1048576 4096		# first write to a chunk: copies
	wr "$A" 1056768 4096		# another piece of it: copies
	wr "$A" 1048576 4096		# preserved already: straight through
	wr "$A" 5242880 65536		# a whole chunk: copies
	wr "$A" 5242880 65536		# again: straight through
	run cbt changes "$A" --since "${STAMPS[0]}"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '1048576 65536\n5242880 65536')" ]
	# After a checkpoint, only writes whose old data is already preserved.
	S=$(cbt checkpoint "$A")
	wr "$A" 1048576 4096
	wr "$A" 5246976 512
	run cbt changes "$A" --since "$S"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '1048576 65536\n5242880 65536')" ]
	image_is_pattern "${IMAGES[0]}" 64
	# Two chunks were copied: 16 (two pieces of it) and 80.
	cbt snapshot list --json | python3 -c 'import json,sys; s = json.load(sys.stdin)["snapsets"][0]; sys.exit(s["chunks-copied"] != 2)'
}

# fs_workload_snapshot MKFS SNAP_OPTS...: a filesystem on a loop device
# under a file-copy workload, snapshotted mid-way. Sets $A, $ID, $IMAGES,
# $LOG (one "NAME SHA256" line per file, written once the file is closed),
# $BEFORE and $AFTER (lines logged when the snapshot began and returned).
fs_workload_snapshot() {
	local mkfs=$1
	shift
	LOG=$BATS_TEST_TMPDIR/closed
	new_loop 400M
	A=$DEV
	$mkfs "$A" >/dev/null 2>&1
	mount "$A" /tmp/cbt-o
	cbt attach "$A"
	: >"$LOG"
	(
		i=0
		while :; do
			i=$((i + 1))
			head -c $((100000 + i * 997)) /dev/urandom >/tmp/cbt-o/f$i
			echo "f$i $(sha256sum </tmp/cbt-o/f$i | cut -c1-64)" >>"$LOG"
		done
	) &
	BGPID=$!
	sleep 3
	BEFORE=$(wc -l <"$LOG")
	snap "$A" --store "$BATS_TEST_TMPDIR/store:200M" "$@"
	AFTER=$(wc -l <"$LOG")
	# Let the workload go on after the snapshot (up to 60 s for two more
	# files), so the check below can fail.
	for i in $(seq 1 600); do
		[ "$(wc -l <"$LOG")" -gt $((AFTER + 1)) ] && break
		sleep 0.1
	done
	kill "$BGPID"; wait "$BGPID" || true; BGPID=
	[ "$BEFORE" -gt 0 ]
	[ "$(wc -l <"$LOG")" -gt $((AFTER + 1)) ]
}

# The filesystem mounted at /tmp/cbt-i holds exactly the files closed
# before the snapshot (those still open at the instant may go either way).
check_closed_files() {
	head -n "$BEFORE" "$LOG" | while read -r f sum; do
		[ "$(sha256sum </tmp/cbt-i/"$f" | cut -c1-64)" = "$sum" ] || { echo "$f differs"; exit 1; }
	done
	tail -n +$((AFTER + 2)) "$LOG" | while read -r f sum; do
		[ ! -e /tmp/cbt-i/"$f" ] || { echo "$f should not be in the image"; exit 1; }
	done
}

@test "ext4 under a file-copy workload: the image mounts read-only, passes fsck -n, holds exactly the closed files" {
	fs_workload_snapshot "mkfs.ext4 -q -F"
	fsck.ext4 -n -f "${IMAGES[0]}"
	mount -o ro "${IMAGES[0]}" /tmp/cbt-i
	check_closed_files
	umount /tmp/cbt-i
	cbt snapshot destroy "$ID"
}

@test "xfs under a file-copy workload: the image mounts read-only (nouuid), holds exactly the closed files, passes xfs_repair -n" {
	fs_workload_snapshot "mkfs.xfs -f -q" --writable
	# A frozen xfs keeps a covered log: read-only mounts skip its replay.
	mount -o ro,nouuid,norecovery "${IMAGES[0]}" /tmp/cbt-i
	check_closed_files
	umount /tmp/cbt-i
	# xfs_repair -n wants the log replayed: a mount of the writable image
	# does that, into the store; the origin is not touched.
	mount -o nouuid "${IMAGES[0]}" /tmp/cbt-i
	umount /tmp/cbt-i
	xfs_repair -n "${IMAGES[0]}"
	mount -o ro,nouuid "${IMAGES[0]}" /tmp/cbt-i
	check_closed_files
	umount /tmp/cbt-i
	cbt snapshot destroy "$ID"
	umount /tmp/cbt-o
	xfs_repair -n "$A"
}

# Writers limited by blk-throttle in reads and writes hit fresh chunks of a
# live set: a copy's read is throttled too, and blk-throttle sends every
# held bio of the disk from one work item, which meets the hook again. A
# copy made in that work item could wait for a chunk whose copier waits
# for that work item.
@test "copy-on-write under blk-throttle limits on reads and writes: every write completes, the image holds" {
	new_loop 64M
	A=$DEV
	fill_pattern "$A" 64
	# A device store: copies to it are made by the writer itself.
	new_loop 64M
	S=$DEV
	cbt attach "$A"
	snap "$A" --no-freeze --store "$S"
	io_limited_cgroup cowthrottle "$A" "rbps=32768 wbps=32768"
	# 4 writers, 24 writes each of 4 KiB into the same 4 chunks, at 8
	# writes and 8 copy reads a second: most wait in the throttle.
	(echo $BASHPID >/tmp/cbt-cg/cowthrottle/cgroup.procs &&
		exec fio --name=t --filename="$A" --size=256k --rw=randwrite --bs=4k \
			--direct=1 --ioengine=psync --numjobs=4 --number_ios=24 \
			--output="$BATS_TEST_TMPDIR/fio") &
	BGPID=$!
	# A hang leaves the writers in their writes.
	for i in $(seq 1 180); do
		kill -0 $BGPID 2>/dev/null || break
		sleep 1
	done
	echo "after ${i} s the writers are: $(kill -0 $BGPID 2>/dev/null && echo running || echo done)"
	run kill -0 $BGPID
	[ "$status" -ne 0 ]
	wait $BGPID
	BGPID=
	image_is_pattern "${IMAGES[0]}" 64
	cbt snapshot destroy "$ID"
}

@test "a copy whose read waits in blk-throttle while the throttle's work item brings a write to its chunk: no deadlock (fault injection)" {
	load_fault_module
	new_loop 64M
	A=$DEV
	fill_pattern "$A" 64
	new_loop 64M
	S=$DEV
	cbt attach "$A"
	snap "$A" --no-freeze --store "$S"
	# Reads limited in one cgroup, writes in the other.
	io_limited_cgroup rd "$A" "rbps=16384"
	io_limited_cgroup wr "$A" "wbps=16384"
	cp /usr/bin/dd "$BATS_TEST_TMPDIR/copydd"
	fault fault_copy_comm copydd
	fault fault_copy_wait_ms 15000
	# copydd's write passes blk-throttle and copies its chunk itself,
	# holding it...
	(echo $BASHPID >/tmp/cbt-cg/rd/cgroup.procs &&
		exec "$BATS_TEST_TMPDIR/copydd" if=/dev/urandom of="$A" bs=4k count=1 \
			oflag=direct conv=notrunc status=none) &
	RACERS=$!
	wait_fault fault_copy_waiting 1
	# ...until a write to the same block, held by blk-throttle, comes to
	# the hook from the throttle's work item; then the copy's 64 KiB read
	# waits in blk-throttle (about 4 s) for that same work item.
	(echo $BASHPID >/tmp/cbt-cg/wr/cgroup.procs &&
		exec dd if=/dev/urandom of="$A" bs=4k count=1 \
			oflag=direct conv=notrunc status=none) &
	RACERS="$RACERS $!"
	wait_fault fault_copy_met 1
	for i in $(seq 1 60); do
		[ -d "/proc/${RACERS% *}" ] || [ -d "/proc/${RACERS#* }" ] || break
		sleep 1
	done
	echo "after $i s: $(ps -o pid,stat,wchan:32,comm -p "${RACERS% *},${RACERS#* }" 2>&1)"
	[ ! -d "/proc/${RACERS% *}" ]
	[ ! -d "/proc/${RACERS#* }" ]
	for p in $RACERS; do wait "$p"; done
	RACERS=
	image_is_pattern "${IMAGES[0]}" 64
}

@test "a two-volume set is one instant: sequence numbers never out of order across the images" {
	new_loop 64M; A=$DEV
	new_loop 64M; B=$DEV
	cbt attach "$A"
	cbt attach "$B"
	python3 "$TLIB/seq_writer.py" "$A" "$B" &
	BGPID=$!
	# Under load the writer can take seconds to start: wait for its
	# first number on B (both have one then), up to 60 s.
	for _ in $(seq 120); do
		n=$(head -c 20 "$B" | tr -d '\0' | sed 's/^0*//')
		[ -z "$n" ] || break
		sleep 0.5
	done
	for round in 1 2 3 4 5; do
		snap "$A" "$B" --no-freeze --store "$BATS_TEST_TMPDIR/store:64M"
		a=$(head -c 20 "${IMAGES[0]}" | sed 's/^0*//')
		b=$(head -c 20 "${IMAGES[1]}" | sed 's/^0*//')
		echo "round $round: A=$a B=$b"
		# A gets n before B does: one instant shows B <= A <= B + 1.
		[ "$a" -gt 0 ]
		[ "$b" -le "$a" ]
		[ "$a" -le $((b + 1)) ]
		cbt snapshot destroy "$ID"
		sleep 1
	done
	# The writer kept going through every snapshot.
	now=$(head -c 20 "$A" | sed 's/^0*//')
	[ "$now" -gt "$a" ]
}

# store_check STORE_SPEC: pattern, snapshot, overwrite, compare.
store_check() {
	new_loop 64M
	A=$DEV
	fill_pattern "$A" 64
	cbt attach "$A"
	snap "$A" --store "$1"
	dd if=/dev/urandom of="$A" bs=1M count=64 oflag=direct conv=notrunc status=none
	image_is_pattern "${IMAGES[0]}" 64
	cbt snapshot destroy "$ID"
	cbt detach "$A"
}

@test "stores: a loop device, a file on tmpfs, a file on another ext4" {
	new_loop 80M
	S=$DEV
	store_check "$S"
	store_check "$BATS_TEST_TMPDIR/tmpfs-store:70M"
	new_loop 120M
	mkfs.ext4 -q -F "$DEV"
	mkdir -p /tmp/cbt-s
	mount "$DEV" /tmp/cbt-s
	store_check /tmp/cbt-s/store:70M
	# Preallocated: the file's blocks are reserved.
	[ "$(du -k /tmp/cbt-s/store | cut -f1)" -ge $((70 * 1024)) ]
	umount /tmp/cbt-s
}

@test "the watcher grows the store on low space while writes go on" {
	new_loop 64M
	A=$DEV
	fill_pattern "$A" 64
	cbt attach "$A"
	snap "$A" --store "$BATS_TEST_TMPDIR/store:8M" --low-space 50
	mkdir -p "$BATS_TEST_TMPDIR/grow"
	cbt snapshot watch "$ID" --grow "$BATS_TEST_TMPDIR/grow:16M" >"$BATS_TEST_TMPDIR/watch" 2>&1 &
	BGPID=$!
	fio --name=w --filename="$A" --rw=randwrite --bs=64k --direct=1 --ioengine=libaio \
		--iodepth=1 --rate=8m --size=64M --output=/dev/null
	cbt snapshot list --json | python3 -c '
import json, sys
s = json.load(sys.stdin)["snapsets"][0]
print(s)
assert s["state"][0] == "ok", s
assert s["stores"] >= 3, s
assert s["store-used"] > 8 << 20, s'
	image_is_pattern "${IMAGES[0]}" 64
	cat "$BATS_TEST_TMPDIR/watch"
	grep -q "low space" "$BATS_TEST_TMPDIR/watch"
	grep -q "store grown" "$BATS_TEST_TMPDIR/watch"
	cbt snapshot destroy "$ID"
	wait "$BGPID"; BGPID=
	grep -q "destroyed" "$BATS_TEST_TMPDIR/watch"
}

@test "overflow invalidates the images, never the origin; the event is seen; tracking goes on" {
	new_loop 64M
	A=$DEV
	fill_pattern "$A" 64
	cbt attach "$A"
	snap "$A" --store "$BATS_TEST_TMPDIR/store:4M"
	cbt snapshot watch "$ID" >"$BATS_TEST_TMPDIR/watch" 2>&1 &
	BGPID=$!
	dd if=/dev/urandom of="$BATS_TEST_TMPDIR/new" bs=1M count=64 status=none
	dd if="$BATS_TEST_TMPDIR/new" of="$A" bs=1M oflag=direct conv=notrunc status=none
	# The origin holds exactly what was written.
	cmp "$A" "$BATS_TEST_TMPDIR/new"
	run dd if="${IMAGES[0]}" of=/dev/null bs=64k count=1 iflag=direct status=none
	[ "$status" -ne 0 ]
	st=0; wait "$BGPID" || st=$?; BGPID=
	[ "$st" -eq 1 ]
	grep -q OVERFLOW "$BATS_TEST_TMPDIR/watch"
	cbt snapshot list -r -n -o ID,STATE | grep -q "^$ID overflow"
	# Every block written after the stamp is reported.
	cbt changes "$A" --since "${STAMPS[0]}" >"$BATS_TEST_TMPDIR/changes"
	[ "$(cat "$BATS_TEST_TMPDIR/changes")" = "0 67108864" ]
	cbt snapshot destroy "$ID"
}

@test "destroy during heavy writes: writes complete and verify, images go at once" {
	new_loop 64M
	A=$DEV
	cbt attach "$A"
	snap "$A" --store "$BATS_TEST_TMPDIR/store:80M"
	fio --name=v --filename="$A" --rw=randwrite --bs=4k --direct=1 --ioengine=libaio \
		--iodepth=32 --size=64M --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_state_save=0 \
		--output="$BATS_TEST_TMPDIR/fio.out" &
	BGPID=$!
	sleep 3
	cbt snapshot destroy "$ID"
	[ ! -e "${IMAGES[0]}" ]
	st=0; wait "$BGPID" || st=$?; BGPID=
	cat "$BATS_TEST_TMPDIR/fio.out"
	[ "$st" -eq 0 ]
	cbt detach "$A"
}

@test "a member that disappears invalidates the set without harm" {
	dev=$(nullb_make cbtsnap 64)
	cbt attach "$dev"
	snap "$dev" --store "$BATS_TEST_TMPDIR/store:80M"
	fio --name=w --filename="$dev" --rw=randwrite --bs=4k --direct=1 --ioengine=libaio \
		--iodepth=8 --time_based --runtime=15 --output=/dev/null &
	BGPID=$!
	sleep 2
	nullb_remove cbtsnap
	wait "$BGPID" || true; BGPID=
	sleep 2	# the reaper runs every second
	cbt snapshot list -r -n -o ID,STATE | grep -q "^$ID invalid"
	run dd if="${IMAGES[0]}" of=/dev/null bs=4k count=1 iflag=direct status=none
	[ "$status" -ne 0 ]
	cbt snapshot destroy "$ID"
	run cbt status "$dev"
	[ "$status" -ne 0 ]
}

@test "a writable image keeps its writes in the store and marks the origin's map" {
	new_loop 64M
	A=$DEV
	fill_pattern "$A" 64
	cbt attach "$A"
	snap "$A" --writable --store "$BATS_TEST_TMPDIR/store:80M"
	dd if=/dev/urandom of="$BATS_TEST_TMPDIR/w" bs=4k count=3 status=none
	dd if="$BATS_TEST_TMPDIR/w" of="${IMAGES[0]}" bs=4k seek=300 oflag=direct conv=notrunc status=none
	dd if="${IMAGES[0]}" bs=4k skip=300 count=3 iflag=direct status=none | cmp - "$BATS_TEST_TMPDIR/w"
	# The origin is untouched; the rest of the image is still the pattern.
	cmp "$A" "$PATTERN"
	cmp -n $((300 * 4096)) "${IMAGES[0]}" "$PATTERN"
	# The next backup includes the block written through the image.
	cbt changes "$A" --since "${STAMPS[0]}" | grep -q "^1179648 65536$"
	cbt snapshot list -r -n -o STATE | grep -q "writable"
}

@test "snapshot ioctls: bad requests get the documented errors and leave nothing" {
	new_loop 64M; A=$DEV
	new_loop 64M; B=$DEV
	cbt attach "$A"
	truncate -s 16M "$BATS_TEST_TMPDIR/store"
	chmod 600 "$BATS_TEST_TMPDIR/store"	# a store must be private
	run "$REPO/tests/snap-abuse" "$A" "$B" "$BATS_TEST_TMPDIR/store"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "snapshot CLI: bad input gets one clear line and a non-zero exit" {
	new_loop 64M; A=$DEV
	new_loop 64M; B=$DEV
	cbt attach "$A"
	run cbt snapshot create "$A"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--store"* ]]
	run cbt snapshot create --store "$BATS_TEST_TMPDIR/s:8M"
	[ "$status" -eq 2 ]
	run cbt snapshot create "$B" --store "$BATS_TEST_TMPDIR/s:8M"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not tracked"* ]]
	run cbt snapshot create "$A" --store "$A"
	[ "$status" -eq 1 ]
	[[ "$output" == *"tracked volume or a snapshot member"* ]]
	run cbt snapshot create "$A" --store /nonexistent/dir/s:8M
	[ "$status" -eq 1 ]
	run cbt snapshot create "$A" --store "$BATS_TEST_TMPDIR/new-empty"
	[ "$status" -eq 1 ]
	run cbt snapshot create "$A" --store "$BATS_TEST_TMPDIR/s:8M" --hold 0
	[ "$status" -eq 2 ]
	run cbt snapshot create "$A" --store "$BATS_TEST_TMPDIR/s:8M" --low-space 95
	[ "$status" -eq 2 ]
	run cbt snapshot create /etc/passwd --store "$BATS_TEST_TMPDIR/s:8M"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a block device"* ]]
	run cbt snapshot destroy abc
	[ "$status" -eq 2 ]
	run cbt snapshot destroy 4000000
	[ "$status" -eq 1 ]
	[[ "$output" == *"no snapshot set"* ]]
	run cbt snapshot watch 4000000
	[ "$status" -eq 1 ]
	run cbt snapshot watch 1 --grow nodir
	[ "$status" -eq 2 ]
	run cbt snapshot frobnicate
	[ "$status" -eq 2 ]
	# Nothing was left behind by any of it.
	[ -z "$(cbt snapshot list)" ]
	snap "$A" --store "$BATS_TEST_TMPDIR/s:8M"
	run cbt detach "$A"
	[ "$status" -eq 1 ]
	[[ "$output" == *"snapshot set"* ]]
	run cbt snapshot create "$A" --store "$BATS_TEST_TMPDIR/s2:8M"
	[ "$status" -eq 1 ]
	[[ "$output" == *"busy"* ]]
}

@test "rmmod destroys live sets first" {
	new_loop 64M
	A=$DEV
	cbt attach "$A"
	snap "$A" --store "$BATS_TEST_TMPDIR/store:80M"
	dd if=/dev/urandom of="$A" bs=1M count=8 oflag=direct conv=notrunc status=none
	rmmod cbt
	[ ! -e "${IMAGES[0]}" ]
	ensure_module
}

@test "a hold bound that passes abandons the set: thawed, no image, no stamp, the store free" {
	new_loop 400M
	A=$DEV
	mkfs.ext4 -q -F "$A"
	mount "$A" /tmp/cbt-o
	cbt attach "$A"
	gen=$(cbt status "$A" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["volumes"][0]["generation"])')
	new_loop 80M
	S=$DEV
	# Dirty data makes the freeze alone take longer than 1 ms.
	dd if=/dev/urandom of=/tmp/cbt-o/dirty bs=1M count=64 status=none
	run cbt snapshot create "$A" --store "$S" --hold 1
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"timed out"* ]]
	[ -z "$(cbt snapshot list)" ]
	# No image node is left.
	[ -z "$(compgen -G '/dev/cbt-snap*')" ]
	# Thawed: the filesystem takes writes at once.
	timeout 20 dd if=/dev/zero of=/tmp/cbt-o/after bs=4k count=1 conv=fsync status=none
	# The store device is free again (exclusive open works).
	python3 -c 'import os,sys; os.close(os.open(sys.argv[1], os.O_RDWR | os.O_EXCL))' "$S"
	# Tracking goes on: the next checkpoint is a later generation.
	stamp=$(cbt checkpoint "$A")
	[ "${stamp##*:}" -ge "$gen" ]
	umount /tmp/cbt-o
}
