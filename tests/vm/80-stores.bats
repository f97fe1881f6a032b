#!/usr/bin/env bats
# Stores and the hold bound under faults: file stores on journaled
# filesystems while the origin's filesystem writes under its own journal
# (lazy inode-table init, writeback), swap on a member under memory
# pressure, every kind of store that would corrupt a set refused, detach
# racing snapshot creation, and the hold bound kept while a drain or a
# query holds a tracker.

load helpers

setup() {
	long_gate
	common_setup
	LOOPS=()
	OUT=$BATS_TEST_TMPDIR
	mkdir -p /tmp/cbt-o /tmp/cbt-s /tmp/cbt-i
}

teardown() {
	local d id
	# Thawed first: a writer blocked on the frozen filesystem cannot die.
	fsfreeze -u /tmp/cbt-o 2>/dev/null || true
	[ -z "${BGPID:-}" ] || { kill $BGPID 2>/dev/null; wait $BGPID 2>/dev/null || true; }
	[ -z "${SWAP:-}" ] || { swapoff "$SWAP" 2>/dev/null; cbt detach "$SWAP" 2>/dev/null; } || true
	[ ! -d /tmp/cbt-cg/tight ] || rmdir /tmp/cbt-cg/tight 2>/dev/null || true
	umount /tmp/cbt-i 2>/dev/null || true
	for id in $(cbt snapshot list --json 2>/dev/null | python3 -c 'import json,sys; [print(s["id"]) for s in json.load(sys.stdin)["snapsets"]]' 2>/dev/null); do
		cbt snapshot destroy "$id" || true
	done
	# The loop over a file on /tmp/cbt-o before its filesystem goes.
	[ -z "${STLOOP:-}" ] || del_loop "$STLOOP"
	umount /tmp/cbt-o 2>/dev/null || true
	umount /tmp/cbt-s 2>/dev/null || true
	[ ! -e /dev/mapper/cbt-sdelay ] || cbt detach /dev/mapper/cbt-sdelay 2>/dev/null || true
	dmsetup remove --noudevsync cbt-sdelay 2>/dev/null || true
	vgchange --config "$LVMCONF" -an cbtstvg >/dev/null 2>&1 || true
	vgremove --config "$LVMCONF" -f cbtstvg >/dev/null 2>&1 || true
	[ -z "${DNLOOP:-}" ] || losetup -d "$DNLOOP" 2>/dev/null || true
	for d in "${LOOPS[@]}"; do
		cbt detach "$d" 2>/dev/null || true
		cbt detach "${d}p1" 2>/dev/null || true
	done
	for d in "${LOOPS[@]}"; do del_loop "$d"; done
	unload_fault_module
	[ -z "${SYSCTLS:-}" ] || sysctl -q -w $SYSCTLS || true
	rm -rf /tmp/cbt-plant /tmp/cbt-root-target*
	rm -rf "${BATS_TEST_TMPDIR:?}"/*
}

new_loop() {
	DEV=$(make_loop "$1" "${@:2}")
	LOOPS+=("$DEV")
}

# store_fs TYPE: a fresh TYPE filesystem on a loop device at /tmp/cbt-s.
store_fs() {
	new_loop 512M
	case "$1" in
	ext4) mkfs.ext4 -q "$DEV" ;;
	xfs) mkfs.xfs -q -f "$DEV" ;;
	esac
	mount "$DEV" /tmp/cbt-s
}

# Files closed in the origin's filesystem, some fsync'd, while the set lives.
busy_origin() {
	local i
	for i in $(seq 1 40); do
		head -c 262144 /dev/urandom >"/tmp/cbt-o/w$i"
		[ $((i % 4)) -ne 0 ] || sync -f "/tmp/cbt-o/w$i"
	done
	sync
}

# origin_case FSTYPE STORE_FSTYPE: a file store on STORE_FSTYPE while the
# origin's FSTYPE writes under its journal; the image holds the closed
# files and the kernel log stays clean (scripts/vm-run checks it).
origin_case() {
	local img
	store_fs "$2"
	new_loop 512M
	O=$DEV
	case "$1" in
	ext4) mkfs.ext4 -q -E lazy_itable_init=1,lazy_journal_init=1 "$O"
	      mount -o init_itable=0 "$O" /tmp/cbt-o ;;
	xfs) mkfs.xfs -q -f "$O"
	     mount "$O" /tmp/cbt-o ;;
	esac
	cbt attach "$O"
	head -c 4194304 /dev/urandom >/tmp/cbt-o/before
	sha256sum /tmp/cbt-o/before | awk '{print $1}' >"$OUT/sum"
	out=$(cbt snapshot create "$O" --store /tmp/cbt-s/store:256M)
	img=$(echo "$out" | sed -n 2p | awk '{print $3}')
	busy_origin
	# ext4's lazy inode-table init zeroes under a journal handle meanwhile.
	sleep 2
	case "$1" in
	ext4) mount -o ro,noload "$img" /tmp/cbt-i ;;
	xfs) mount -o ro,norecovery,nouuid "$img" /tmp/cbt-i ;;
	esac
	[ "$(sha256sum /tmp/cbt-i/before | awk '{print $1}')" = "$(cat "$OUT/sum")" ]
	[ ! -e /tmp/cbt-i/w1 ]
	umount /tmp/cbt-i
	cbt snapshot destroy "$(echo "$out" | sed -n 1p)"
}

@test "a file store on ext4 while a fresh ext4 origin initialises its inode tables and writes back" {
	origin_case ext4 ext4
}

@test "a file store on xfs while an xfs origin takes buffered writes and fsync" {
	origin_case xfs xfs
}

@test "a file store on xfs while a fresh ext4 origin initialises; on ext4 while xfs writes" {
	origin_case ext4 xfs
	umount /tmp/cbt-o
	umount /tmp/cbt-s
	origin_case xfs ext4
}

@test "swap on a member with a file store under memory pressure: no deadlock, the kernel goes on" {
	# The test module counts store I/O that could start reclaim I/O.
	load_fault_module
	# Both on the guest's disk, not in its memory: swap on a partition
	# (the member), the store a file on ext4 on the other.
	[ -b /dev/vda ]
	wipefs -aq /dev/vda
	printf 'label: dos\nstart=2048, size=1048576, type=82\nstart=1050624, type=83\n' |
		sfdisk -q /dev/vda
	for i in $(seq 1 50); do [ -b /dev/vda2 ] && break; sleep 0.1; done
	mkfs.ext4 -q /dev/vda2
	mount /dev/vda2 /tmp/cbt-s
	SWAP=/dev/vda1
	mkswap -q "$SWAP" >/dev/null
	swapon "$SWAP"
	cbt attach "$SWAP"
	out=$(cbt snapshot create "$SWAP" --store /tmp/cbt-s/store:600M --no-freeze)
	id=$(echo "$out" | sed -n 1p)
	# A memory cgroup of 96 MiB holding 384 MiB: most of it goes to swap,
	# on the member, and every page swapped out is a write held for a
	# copy into the file store.
	mkdir -p /tmp/cbt-cg
	mountpoint -q /tmp/cbt-cg || mount -t cgroup2 none /tmp/cbt-cg
	echo +memory >/tmp/cbt-cg/cgroup.subtree_control
	mkdir -p /tmp/cbt-cg/tight
	echo 96M >/tmp/cbt-cg/tight/memory.max
	run timeout 600 bash -c 'echo $$ >/tmp/cbt-cg/tight/cgroup.procs && exec python3 -c "
chunks = [bytearray(b\"x\") * 1048576 for i in range(384)]
print(len(chunks), sum(c[0] for c in chunks))"'
	echo "status $status: $output"
	[ "$status" -eq 0 ]
	# Every page came back from swap intact.
	[ "$output" = "384 46080" ]
	# The image reads what swap wrote over from the store.
	img=$(echo "$out" | sed -n 2p | awk '{print $3}')
	timeout 600 dd if="$img" of=/dev/null bs=1M count=256 status=none
	# No copy and no image I/O ran where reclaim could write to the member.
	[ "$(fault fault_store_reclaim_io)" -eq 0 ]
	# The set lives on or gave way; either way tracking goes on.
	cbt snapshot list >/dev/null
	cbt snapshot destroy "$id"
	cbt checkpoint "$SWAP" >/dev/null
	swapoff "$SWAP"
	cbt detach "$SWAP"
	SWAP=
	umount /tmp/cbt-s
	wipefs -aq /dev/vda
}

# refused SPEC MESSAGE: snapshot create of $A with store SPEC fails with
# MESSAGE and leaves no set behind.
refused() {
	local before
	before=$(count_sets)
	run cbt snapshot create "$A" --store "$1" --no-freeze
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"$2"* ]]
	[ "$(count_sets)" -eq "$before" ]
}

@test "stores that would corrupt a set are refused, each with a clear error" {
	new_loop 256M
	A=$DEV
	new_loop 256M
	B=$DEV
	new_loop 128M
	C=$DEV
	cbt attach "$A"
	cbt attach "$B"
	# A tracked volume: its writes from the store would go unrecorded.
	refused "$B" "tracked volume"
	# A member of another set.
	cbt detach "$B"
	cbt attach "$B"
	other=$(cbt snapshot create "$B" --store "$C" --no-freeze | sed -n 1p)
	refused "$B" "tracked volume"
	# A loop device over a file on a member (A's own filesystem).
	mkfs.ext4 -q "$A"
	mount "$A" /tmp/cbt-o
	truncate -s 64M /tmp/cbt-o/backing
	STLOOP=$(losetup -f --show /tmp/cbt-o/backing)
	refused "$STLOOP" "snapshot member"
	del_loop "$STLOOP"
	STLOOP=
	# A file on the member's own filesystem.
	refused /tmp/cbt-o/store:32M "snapshot member"
	umount /tmp/cbt-o
	# LVM on a member: a logical volume whose writes land on A.
	cbt snapshot destroy "$other"
	cbt detach "$A"
	pvcreate --config "$LVMCONF" -q -ff -y "$A" >/dev/null
	vgcreate --config "$LVMCONF" -q cbtstvg "$A" >/dev/null
	lvcreate --config "$LVMCONF" -q -y -n st -L 64M cbtstvg >/dev/null
	cbt attach "$A"
	lv=/dev/dm-$(dmsetup info -c --noheadings -o minor cbtstvg-st | tr -d ' ')
	refused "$lv" "snapshot member"
	# Under a member: the physical volume of a tracked LV is held by LVM.
	lvcreate --config "$LVMCONF" -q -y -n m -L 64M cbtstvg >/dev/null
	mlv=/dev/dm-$(dmsetup info -c --noheadings -o minor cbtstvg-m | tr -d ' ')
	cbt detach "$A"
	PV=$A
	cbt attach "$mlv"
	A=$mlv
	refused "$PV" "busy"
	cbt detach "$mlv"
}

# taken SPEC: snapshot create of $A with store SPEC succeeds; the set goes.
taken() {
	local out
	out=$(cbt snapshot create "$A" --store "$1" --no-freeze)
	echo "$out"
	[ -n "$(echo "$out" | sed -n 1p)" ]
	cbt snapshot destroy "$(echo "$out" | sed -n 1p)"
}

@test "a store beside a member is taken; one on it by any path is refused" {
	D=$(make_loop 600M -P)
	LOOPS+=("$D")
	sfdisk -q "$D" <<<$'label: dos\nstart=2048, size=614400, type=83\nstart=616448, type=83'
	blockdev --rereadpt "$D" 2>/dev/null || partx -u "$D" || true
	for i in $(seq 1 50); do [ -b "${D}p2" ] && break; sleep 0.1; done
	A=${D}p1
	cbt attach "$A"
	# The sibling partition: other sectors of the same disk.
	taken "${D}p2"
	# A loop device over the member's device node writes onto the member;
	# over the sibling's, beside it.
	DNLOOP=$(losetup -f --show "$A")
	refused "$DNLOOP" "snapshot member"
	losetup -d "$DNLOOP"
	DNLOOP=$(losetup -f --show "${D}p2")
	taken "$DNLOOP"
	losetup -d "$DNLOOP"
	DNLOOP=
	# A partition of a loop device whose file is on the member.
	mkfs.ext4 -q "$A"
	mount "$A" /tmp/cbt-o
	truncate -s 64M /tmp/cbt-o/backing
	STLOOP=$(losetup -f --show -P /tmp/cbt-o/backing)
	sfdisk -q "$STLOOP" <<<$'label: dos\nstart=2048, type=83'
	blockdev --rereadpt "$STLOOP" 2>/dev/null || partx -u "$STLOOP" || true
	for i in $(seq 1 50); do [ -b "${STLOOP}p1" ] && break; sleep 0.1; done
	refused "${STLOOP}p1" "snapshot member"
	losetup -d "$STLOOP"
	STLOOP=
	umount /tmp/cbt-o
	# A file on btrfs (no one device in its super block) on the member is
	# refused; on btrfs beside it, taken.
	mkfs.btrfs -q -f "$A"
	mount "$A" /tmp/cbt-o
	refused /tmp/cbt-o/store:32M "snapshot member"
	umount /tmp/cbt-o
	mkfs.btrfs -q -f "${D}p2"
	mount "${D}p2" /tmp/cbt-s
	taken /tmp/cbt-s/store:32M
	umount /tmp/cbt-s
}

@test "store files opened for appending or direct I/O, and devices of a larger block size, are refused" {
	new_loop 64M
	A=$DEV
	cbt attach "$A"
	# On ext4, which opens files for direct I/O (tmpfs does not on 6.1).
	new_loop 64M
	mkfs.ext4 -q "$DEV"
	mount "$DEV" /tmp/cbt-s
	truncate -s 32M /tmp/cbt-s/store
	chmod 600 /tmp/cbt-s/store
	run python3 "$TLIB/snap_create_raw.py" "$A" /tmp/cbt-s/store append
	echo "append: $output"
	[ "$output" = "EINVAL" ]
	run python3 "$TLIB/snap_create_raw.py" "$A" /tmp/cbt-s/store direct
	echo "direct: $output"
	[ "$output" = "EINVAL" ]
	run python3 "$TLIB/snap_create_raw.py" "$A" /tmp/cbt-s/store plain
	[ "$output" = "ok" ]
	f=$(mktemp /tmp/cbt-4k.XXXXXX)
	truncate -s 64M "$f"
	STLOOP=$(losetup -f --show --sector-size 4096 "$f")
	run python3 "$TLIB/snap_create_raw.py" "$A" "$STLOOP" plain
	[ "$output" = "EINVAL" ]
	rm -f "$f"
}

@test "detach racing snapshot creation: a set's members stay tracked while it lives" {
	new_loop 64M
	A=$DEV
	cbt attach "$A"
	# The racer fails whenever a set holds the member: that is the point.
	# It runs until told to stop, a line for each detach it got in.
	: >"$OUT/detached"
	( while [ ! -e "$OUT/stop" ]; do
		if cbt detach "$A" 2>/dev/null; then echo >>"$OUT/detached"; fi
		cbt attach "$A" 2>/dev/null || true
	done ) &
	BGPID=$!
	# Creates that meet a detached member fail; go on until 5 sets were
	# made and the racer got a detach in between (at most 300 tries).
	made=0
	tries=0
	while { [ "$made" -lt 5 ] || [ ! -s "$OUT/detached" ]; } && [ "$tries" -lt 300 ]; do
		tries=$((tries + 1))
		out=$(cbt snapshot create "$A" --store "$OUT/store:16M" --no-freeze 2>/dev/null) || continue
		made=$((made + 1))
		id=$(echo "$out" | sed -n 1p)
		# While the set lives its member is tracked and cannot be detached.
		run cbt status "$A"
		echo "status: $status $output"
		[ "$status" -eq 0 ]
		run cbt detach "$A"
		echo "detach: $status $output"
		[ "$status" -ne 0 ]
		cbt snapshot destroy "$id"
		rm -f "$OUT/store"
	done
	touch "$OUT/stop"
	wait $BGPID
	BGPID=
	echo "sets made: $made in $tries tries, racer detaches: $(wc -l <"$OUT/detached")"
	[ "$made" -ge 5 ]
	[ -s "$OUT/detached" ]
}

# The window the loop above can only hope to hit, held open: the set has
# found its member's tracker but not claimed it yet when detach comes (the
# set waits there until the member is detached, 30 s at most).
@test "a member detached while its snapshot set is being made fails the set (fault injection)" {
	load_fault_module
	new_loop 64M
	A=$DEV
	cbt attach "$A"
	fault fault_member_wait_ms 30000
	cbt snapshot create "$A" --store "$OUT/store:16M" --no-freeze \
		>"$OUT/out" 2>"$OUT/err" &
	BGPID=$!
	wait_fault fault_member_waiting 1
	# Not claimed yet: the member can still be detached.
	cbt detach "$A"
	st=0
	wait $BGPID || st=$?
	BGPID=
	fault fault_member_wait_ms 0
	cat "$OUT/out" "$OUT/err"
	[ "$st" -ne 0 ]
	grep -q "was detached" "$OUT/err"
	[ "$(count_sets)" -eq 0 ]
	run cbt status "$A"
	[ "$status" -ne 0 ]
}

@test "the hold bound holds while a checkpoint drains a held write: nothing stays frozen" {
	new_loop 256M
	L=$DEV
	sz=$(blockdev --getsz "$L")
	modprobe dm-delay
	# The last 64 KiB of the volume hold writes 30 s, not flushes
	# (the filesystem, before it, could not freeze in time otherwise); a
	# debug kernel takes seconds to fail the set and sync a file.
	dmsetup create --noudevsync cbt-sdelay --table "0 $((sz - 128)) linear $L 0
$((sz - 128)) 128 delay $L $((sz - 128)) 0 $L $((sz - 128)) 30000 $L $((sz - 128)) 0"
	D=/dev/dm-$(dmsetup info -c --noheadings -o minor cbt-sdelay | tr -d ' ')
	mkfs.ext4 -q "$D" $(((sz - 2048) / 2))k
	mount "$D" /tmp/cbt-o
	cbt attach "$D"
	python3 "$TLIB/timed_write.py" "$D" $(((sz - 64) * 512)) 4096 "$OUT/done" &
	BGPID=$!
	wait_delayed_write cbt-sdelay
	"$CBT" checkpoint "$D" --timeout 60000 >/dev/null &
	CK=$!
	wait_blocked $CK cbt_tracker_checkpoint
	t0=$(now_ns)
	run cbt snapshot create "$D" --store "$OUT/store:64M" --hold 1000
	echo "snapshot create: $status after $((($(now_ns) - t0) / 1000000)) ms: $output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"timed out"* ]]
	# Not frozen: the filesystem takes a synced write while the held one
	# is still held.
	timeout 10 dd if=/dev/urandom of=/tmp/cbt-o/after bs=4k count=1 conv=fsync status=none
	[ "$(delayed_writes cbt-sdelay)" -gt 0 ]
	wait $BGPID
	BGPID=
	wait $CK
}

@test "a query writing into a MAP_SHARED buffer on a frozen filesystem does not hold up a snapshot" {
	new_loop 256M
	L=$DEV
	mkfs.ext4 -q "$L"
	mount "$L" /tmp/cbt-o
	cbt attach "$L"
	S=$(cbt checkpoint "$L")
	dd if=/dev/urandom of=/tmp/cbt-o/data bs=64k count=64 conv=fsync status=none
	truncate -s 1M /tmp/cbt-o/buf
	sync
	fsfreeze -f /tmp/cbt-o
	# The query's buffer is a page of a file on the frozen filesystem: its
	# first write to it waits for the thaw.
	python3 "$TLIB/changes_mmap.py" "$L" "$S" /tmp/cbt-o/buf >"$OUT/q" &
	BGPID=$!
	wait_blocked $BGPID do_page_mkwrite
	run timeout 60 "$CBT" snapshot create "$L" --store "$OUT/store:64M" --hold 5000
	echo "$output"
	[ "$status" -eq 0 ]
	fsfreeze -u /tmp/cbt-o
	wait $BGPID
	BGPID=
	grep -q "^extents [1-9]" "$OUT/q"
}

# ---- old disk data stays private ---------------------------------------

# as_nobody CMD...: run CMD as an unprivileged user (the guest's /etc is
# read-only: no useradd), with no supplementary groups.
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

# A volume $A full of a secret marker, attached; a world-writable sticky
# directory /tmp/cbt-plant; the kernel's protected_symlinks/hardlinks off,
# as on a system without them: cbt must not rely on them.
plant_setup() {
	SYSCTLS="fs.protected_symlinks=$(sysctl -n fs.protected_symlinks) fs.protected_hardlinks=$(sysctl -n fs.protected_hardlinks)"
	sysctl -q -w fs.protected_symlinks=0 fs.protected_hardlinks=0
	new_loop 16M
	A=$DEV
	MARK="cbtsecret$(od -An -tx8 -N8 /dev/urandom | tr -d ' ')"
	cbt attach "$A"
	mkdir -m 1777 /tmp/cbt-plant
	chmod 1777 /tmp/cbt-plant
}

# plant_try SPEC: fill $A with the secret, try a snapshot with store SPEC
# (status in $TRY_STATUS, output in $TRY_OUT), then overwrite $A, which
# copies its old blocks to the store of a set if one was made.
plant_try() {
	yes "$MARK" | head -c 16M | dd of="$A" bs=1M oflag=direct iflag=fullblock conv=notrunc status=none
	run cbt snapshot create "$A" --store "$1" --no-freeze
	TRY_STATUS=$status
	TRY_OUT=$output
	dd if=/dev/zero of="$A" bs=1M count=16 oflag=direct conv=notrunc status=none
	sync
}

# Nothing the unprivileged user can read holds the volume's old data.
no_leak() {
	# -s: files it may not read are not its to leak.
	run as_nobody grep -rlsF "$MARK" /tmp/cbt-plant
	echo "readable by nobody with the secret: $output"
	[ -z "$output" ]
}

@test "store paths planted by an unprivileged user (own file, symlinks, hard link) are refused and leak nothing" {
	plant_setup
	# A file of theirs, readable and writable by them.
	as_nobody truncate -s 8M /tmp/cbt-plant/own
	as_nobody chmod 666 /tmp/cbt-plant/own
	sum=$(sha256sum </tmp/cbt-plant/own)
	plant_try /tmp/cbt-plant/own:8M
	echo "own file: $TRY_STATUS $TRY_OUT"
	no_leak
	[ "$TRY_STATUS" -ne 0 ]
	[[ "$TRY_OUT" == *"store refused"* ]]
	[ "$(sha256sum </tmp/cbt-plant/own)" = "$sum" ]
	[ "$(count_sets)" -eq 0 ]
	# A symlink to a root file, in place before root names the store.
	head -c 8M /dev/urandom >/tmp/cbt-root-target
	chmod 600 /tmp/cbt-root-target
	sum=$(sha256sum </tmp/cbt-root-target)
	as_nobody ln -s /tmp/cbt-root-target /tmp/cbt-plant/link
	plant_try /tmp/cbt-plant/link:8M
	echo "symlink: $TRY_STATUS $TRY_OUT"
	no_leak
	[ "$TRY_STATUS" -ne 0 ]
	[[ "$TRY_OUT" == *"store refused"* ]]
	[ "$(sha256sum </tmp/cbt-root-target)" = "$sum" ]
	[ "$(count_sets)" -eq 0 ]
	# A hard link to a root-owned file.
	head -c 8M /dev/urandom >/tmp/cbt-root-target2
	chmod 600 /tmp/cbt-root-target2
	sum=$(sha256sum </tmp/cbt-root-target2)
	as_nobody ln /tmp/cbt-root-target2 /tmp/cbt-plant/hard
	plant_try /tmp/cbt-plant/hard:8M
	echo "hard link: $TRY_STATUS $TRY_OUT"
	no_leak
	[ "$TRY_STATUS" -ne 0 ]
	[[ "$TRY_OUT" == *"store refused"* ]]
	[ "$(sha256sum </tmp/cbt-root-target2)" = "$sum" ]
	[ "$(count_sets)" -eq 0 ]
	# A symlink to a block device: theirs is refused; root's (as LVM's
	# /dev/VG/LV) is followed.
	new_loop 16M
	C=$DEV
	head -c 16M /dev/urandom | dd of="$C" bs=1M iflag=fullblock oflag=direct status=none
	sum=$(sha256sum <"$C")
	as_nobody ln -s "$C" /tmp/cbt-plant/blk
	plant_try /tmp/cbt-plant/blk
	echo "symlink to a device: $TRY_STATUS $TRY_OUT"
	[ "$TRY_STATUS" -ne 0 ]
	[[ "$TRY_OUT" == *"store refused"* ]]
	[ "$(sha256sum <"$C")" = "$sum" ]
	[ "$(count_sets)" -eq 0 ]
	ln -s "$C" "$OUT/rootblk"
	out=$(cbt snapshot create "$A" --store "$OUT/rootblk" --no-freeze)
	cbt snapshot destroy "$(echo "$out" | sed -n 1p)"
	# A name still free in the same directory: taken, made root's, 0600,
	# and what it receives stays root's.
	plant_try /tmp/cbt-plant/free:8M
	echo "free name: $TRY_STATUS $TRY_OUT"
	[ "$TRY_STATUS" -eq 0 ]
	[ "$(stat -c %a:%u /tmp/cbt-plant/free)" = 600:0 ]
	no_leak
	cbt snapshot destroy "$(echo "$TRY_OUT" | sed -n 1p)"
}

@test "a store the library makes is 0600 under umask 000; a pre-made 0644 file is refused, not fixed" {
	new_loop 16M
	A=$DEV
	cbt attach "$A"
	out=$(umask 000; cbt snapshot create "$A" --store "$OUT/made:8M" --no-freeze)
	[ "$(stat -c %a:%u "$OUT/made")" = 600:0 ]
	cbt snapshot destroy "$(echo "$out" | sed -n 1p)"
	truncate -s 8M "$OUT/premade"
	chmod 644 "$OUT/premade"
	run cbt snapshot create "$A" --store "$OUT/premade" --no-freeze
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"store refused"* ]]
	[ "$(stat -c %a "$OUT/premade")" = 644 ]
	[ "$(count_sets)" -eq 0 ]
}

@test "a failed snapshot create removes the store file it made, never one that was there" {
	new_loop 16M
	A=$DEV
	new_loop 16M
	B=$DEV
	cbt attach "$A"
	# B is not tracked: the kernel refuses the set after the file is made.
	run cbt snapshot create "$B" --store "$OUT/new:8M" --no-freeze
	echo "$output"
	[ "$status" -ne 0 ]
	[ ! -e "$OUT/new" ]
	head -c 1M /dev/urandom >"$OUT/was"
	chmod 600 "$OUT/was"
	sum=$(sha256sum <"$OUT/was")
	run cbt snapshot create "$B" --store "$OUT/was" --no-freeze
	[ "$status" -ne 0 ]
	[ "$(sha256sum <"$OUT/was")" = "$sum" ]
	# A second store that cannot be had fails the set; the first, made
	# for it, goes too.
	run cbt snapshot create "$A" --store "$OUT/first:8M" --store "$OUT/nodir/second:8M" --no-freeze
	echo "$output"
	[ "$status" -ne 0 ]
	[ ! -e "$OUT/first" ]
	[ "$(count_sets)" -eq 0 ]
}

@test "the module refuses a store file that is not private, on the descriptor it is given (EACCES)" {
	new_loop 16M
	A=$DEV
	cbt attach "$A"
	truncate -s 8M "$OUT/f"
	chmod 600 "$OUT/f"
	run python3 "$TLIB/snap_create_raw.py" "$A" "$OUT/f" plain
	echo "0600 root: $output"
	[ "$output" = ok ]
	chmod 644 "$OUT/f"
	run python3 "$TLIB/snap_create_raw.py" "$A" "$OUT/f" plain
	echo "0644 root: $output"
	[ "$output" = EACCES ]
	chmod 660 "$OUT/f"
	run python3 "$TLIB/snap_create_raw.py" "$A" "$OUT/f" plain
	echo "0660 root: $output"
	[ "$output" = EACCES ]
	chmod 600 "$OUT/f"
	ln "$OUT/f" "$OUT/g"
	run python3 "$TLIB/snap_create_raw.py" "$A" "$OUT/f" plain
	echo "hard-linked: $output"
	[ "$output" = EACCES ]
	rm "$OUT/g"
	chown 65534:65534 "$OUT/f"
	run python3 "$TLIB/snap_create_raw.py" "$A" "$OUT/f" plain
	echo "nobody's: $output"
	[ "$output" = EACCES ]
	run python3 "$TLIB/snap_create_raw.py" "$A" /proc/self/mem plain
	echo "/proc/self/mem: $output"
	[ "$output" = EACCES ]
	# Its owner, even with the capabilities the ioctl needs, may not have
	# it: an owner can read it, chmod it or link it whenever it likes.
	run setpriv --reuid=65534 --regid=65534 --clear-groups \
		--inh-caps=+sys_admin,+dac_override --ambient-caps=+sys_admin,+dac_override \
		python3 "$TLIB/snap_create_raw.py" "$A" "$OUT/f" plain
	echo "nobody's, by nobody with CAP_SYS_ADMIN: $output"
	[ "$output" = EACCES ]
	[ "$(count_sets)" -eq 0 ]
}

@test "a loop device over a file that is not private is no store either (EACCES)" {
	new_loop 16M
	A=$DEV
	cbt attach "$A"
	f=$(mktemp /tmp/cbt-lf.XXXXXX)
	truncate -s 16M "$f"
	L=$(losetup -f --show "$f")
	run python3 "$TLIB/snap_create_raw.py" "$A" "$L" plain
	echo "loop over a root 0600 file: $output"
	[ "$output" = ok ]
	chmod 644 "$f"
	run python3 "$TLIB/snap_create_raw.py" "$A" "$L" plain
	echo "loop over a 0644 file: $output"
	losetup -d "$L"
	[ "$output" = EACCES ]
	chmod 600 "$f"
	chown 65534:65534 "$f"
	L=$(losetup -f --show "$f")
	run python3 "$TLIB/snap_create_raw.py" "$A" "$L" plain
	echo "loop over nobody's file: $output"
	losetup -d "$L"
	rm -f "$f"
	[ "$output" = EACCES ]
	[ "$(count_sets)" -eq 0 ]
}
