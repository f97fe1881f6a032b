#!/usr/bin/env bats
# Setups users have: large writes split under a partition of a blk-mq disk
# with a small max_sectors_kb, filesystems on a partition of a snapshotted
# disk and on LVM over it, zoned devices, passthrough commands.

load helpers

setup() {
	long_gate
	common_setup
	LOOPS=()
	OUT=$BATS_TEST_TMPDIR
	mkdir -p /tmp/cbt-o /tmp/cbt-i
}

teardown() {
	local d id
	if [ -e /sys/module/cbt/parameters/fault_instant_wait_ms ]; then
		fault fault_instant_wait_ms 0
		fault fault_mark_comm ''
		fault fault_mark_remainders 0
	fi
	[ -z "${BGPID:-}" ] || { kill $BGPID 2>/dev/null; wait $BGPID 2>/dev/null || true; }
	umount /tmp/cbt-i 2>/dev/null || true
	umount /tmp/cbt-o 2>/dev/null || true
	dmsetup remove --noudevsync cbt-imglv 2>/dev/null || true
	[ -z "${IMGLOOP:-}" ] || losetup -d "$IMGLOOP" 2>/dev/null || true
	for id in $(cbt snapshot list --json 2>/dev/null | python3 -c 'import json,sys; [print(s["id"]) for s in json.load(sys.stdin)["snapsets"]]' 2>/dev/null); do
		cbt snapshot destroy "$id" || true
	done
	vgchange --config "$LVMCONF" -an cbtfvg >/dev/null 2>&1 || true
	vgremove --config "$LVMCONF" -f cbtfvg >/dev/null 2>&1 || true
	for d in "${LOOPS[@]}"; do
		for p in "$d" "${d}p1" "${d}p2" "${d}1" "${d}2"; do cbt detach "$p" 2>/dev/null || true; done
	done
	for d in "${LOOPS[@]}"; do
		case "$d" in /dev/loop*) del_loop "$d" ;; esac
	done
	[ -z "${ZONED:-}" ] || { cbt detach "$ZONED" 2>/dev/null || true; nullb_remove cbtzoned; }
	unload_fault_module
	rm -rf "${BATS_TEST_TMPDIR:?}"/*
}

# Two partitions: p1 from 1 MiB (100 MiB), p2 from 101 MiB to the end.
partition() {
	printf 'label: dos\nstart=2048, size=204800, type=83\nstart=206848, type=83\n' |
		sfdisk -q "$1"
	blockdev --rereadpt "$1" 2>/dev/null || partx -u "$1" || true
	udev_wait_part "$1" 2
}

# The device node of partition N of DISK (loop0p2, vda2).
part() {
	case "$1" in *[0-9]) echo "${1}p$2" ;; *) echo "$1$2" ;; esac
}

udev_wait_part() {
	local i
	for i in $(seq 1 50); do
		[ -b "$(part "$1" "$2")" ] && return 0
		sleep 0.1
	done
	return 1
}

# split_case DISK: the disk's queue takes 64 KiB requests; a 4 MiB O_DIRECT
# write at 10 MiB into partition 2 is split there and its remainders pass
# the hook again.
split_case() {
	local disk=$1 p2 w
	p2=$(part "$disk" 2)
	echo 64 >"/sys/block/$(basename "$disk")/queue/max_sectors_kb"
	cbt attach "$p2" --block-size 64K
	cbt attach "$disk" --block-size 64K
	SP=$(cbt checkpoint "$p2")
	SD=$(cbt checkpoint "$disk")
	write_direct "$p2" 10485760 4194304 0
	write_direct "$p2" 50331648 1048576 0
	STAMP=$SP verify_changes "$p2" 65536 --exact --device-size "$(blockdev --getsize64 "$p2")"
	# The same writes, seen on the whole disk: 101 MiB further.
	w=$WRITTEN
	WRITTEN=$OUT/written-disk
	awk '{ print $1 + 105906176, $2 }' "$w" >"$WRITTEN"
	STAMP=$SD verify_changes "$disk" 65536 --exact --device-size "$(blockdev --getsize64 "$disk")"
	WRITTEN=$w
	cbt detach "$disk"
	cbt detach "$p2"
}

@test "large O_DIRECT writes to a partition of a loop disk with max_sectors_kb 64: changes exact, offset added once" {
	D=$(make_loop 256M -P)
	LOOPS+=("$D")
	partition "$D"
	split_case "$D"
}

@test "large O_DIRECT writes to a partition of a virtio disk with max_sectors_kb 64: changes exact, offset added once" {
	[ -b /dev/vda ]
	LOOPS+=(/dev/vda)
	wipefs -aq /dev/vda
	partition /dev/vda
	split_case /dev/vda
	wipefs -aq /dev/vda
}

@test "a snapshot of a partition taken while split writes stream to it neither stalls nor tears" {
	D=$(make_loop 256M -P)
	LOOPS+=("$D")
	partition "$D"
	P2=$(part "$D" 2)
	echo 64 >"/sys/block/$(basename "$D")/queue/max_sectors_kb"
	dd if=/dev/urandom of="$OUT/pattern" bs=1M count=32 status=none
	dd if="$OUT/pattern" of="$P2" bs=1M oflag=direct conv=notrunc status=none
	cbt attach "$P2"
	# 4 MiB writes, one after another, to a region the pattern is not in.
	( while :; do dd if=/dev/zero of="$P2" bs=4M count=1 seek=16 oflag=direct conv=notrunc status=none; done ) &
	BGPID=$!
	sleep 1
	out=$(cbt snapshot create "$P2" --store "$OUT/store:96M" --no-freeze --hold 5000)
	img=$(echo "$out" | sed -n 2p | awk '{print $3}')
	# Split writes into the pattern after the instant stay out of the image.
	dd if=/dev/urandom of="$P2" bs=4M count=8 oflag=direct conv=notrunc status=none
	cmp -n 33554432 "$img" "$OUT/pattern"
	kill $BGPID
	wait $BGPID || true
	BGPID=
}

@test "a snapshot instant between a split write's first pass and its remainder's neither stalls nor tears (fault injection)" {
	# The remainder waits in the hook with preemption off: on CPU 0,
	# everything else on CPU 1.
	[ "$(nproc)" -ge 2 ] || skip "needs two CPUs"
	load_fault_module
	D=$(make_loop 256M -P)
	LOOPS+=("$D")
	partition "$D"
	P2=$(part "$D" 2)
	echo 64 >"/sys/block/$(basename "$D")/queue/max_sectors_kb"
	dd if=/dev/urandom of="$OUT/pattern" bs=1M count=8 status=none
	dd if="$OUT/pattern" of="$P2" bs=1M oflag=direct conv=notrunc status=none
	head -c 524288 /dev/urandom >"$OUT/w"
	cbt attach "$P2"
	cp /usr/bin/dd "$OUT/splitdd"
	taskset -pc 1 $BASHPID >/dev/null
	# splitdd's one 512 KiB bio passes the hook (marked before the
	# instant) and is split; the remainder waits on its way back to the
	# hook until the set holds new writes.
	fault fault_mark_comm splitdd
	fault fault_mark_remainders 1
	fault fault_mark_wait_ms 10000
	fault fault_instant_wait_ms 20000
	seen=$(fault fault_mark_seen)
	taskset -c 1 "$CBT" snapshot create "$P2" --store "$OUT/store:64M" --no-freeze \
		--hold 30000 >"$OUT/out" 2>"$OUT/err" &
	BGPID=$!
	wait_fault fault_instant_waiting 1
	taskset -c 0 "$OUT/splitdd" if="$OUT/w" of="$P2" bs=512k count=1 seek=4 \
		oflag=direct conv=notrunc status=none
	st=0
	wait $BGPID || st=$?
	BGPID=
	fault fault_instant_wait_ms 0
	fault fault_mark_comm ''
	cat "$OUT/out" "$OUT/err"
	# The remainder was held across the set's publication...
	[ "$(fault fault_mark_seen)" -gt "$seen" ]
	# ...and the set was made: the write it belongs to drained.
	[ "$st" -eq 0 ]
	# That write is before the instant: wholly in the image.
	cp "$OUT/pattern" "$OUT/expect"
	dd if="$OUT/w" of="$OUT/expect" bs=512k seek=4 conv=notrunc status=none
	img=$(sed -n 2p "$OUT/out" | awk '{print $3}')
	cmp -n 8388608 "$img" "$OUT/expect"
}

# Files written and closed (not synced) before the snapshot.
write_files() {
	local i
	for i in $(seq 1 8); do
		head -c 1048576 /dev/urandom >"/tmp/cbt-o/f$i"
	done
	(cd /tmp/cbt-o && sha256sum f*) >"$OUT/sums"
}

# member_frozen JSON: the first member's count of filesystems frozen.
member_frozen() {
	python3 -c 'import json,sys; print(json.load(sys.stdin)["snapsets"][0]["children"][0]["frozen"])'
}

@test "ext4 on a partition of a snapshotted disk is frozen: closed files are in the image without journal replay" {
	D=$(make_loop 256M -P)
	LOOPS+=("$D")
	partition "$D"
	mkfs.ext4 -q "$(part "$D" 1)"
	mount "$(part "$D" 1)" /tmp/cbt-o
	cbt attach "$D"
	write_files
	cbt snapshot create "$D" --store "$OUT/store:128M" --json >"$OUT/set"
	img=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["snapsets"][0]["children"][0]["image"])' <"$OUT/set")
	IMGLOOP=$(losetup -f --show -r -P "$img")
	udev_wait_part "$IMGLOOP" 1
	mount -o ro,noload "${IMGLOOP}p1" /tmp/cbt-i
	(cd /tmp/cbt-i && sha256sum -c --quiet "$OUT/sums")
	[ "$(member_frozen <"$OUT/set")" -ge 1 ]
}

@test "ext4 on LVM over a snapshotted disk is frozen: closed files are in the image without journal replay" {
	D=$(make_loop 256M)
	LOOPS+=("$D")
	pvcreate --config "$LVMCONF" -q "$D" >/dev/null
	vgcreate --config "$LVMCONF" -q cbtfvg "$D" >/dev/null
	lvcreate --config "$LVMCONF" -q -y -n lv -L 128M cbtfvg >/dev/null
	lv=/dev/dm-$(dmsetup info -c --noheadings -o minor cbtfvg-lv | tr -d ' ')
	mkfs.ext4 -q "$lv"
	mount "$lv" /tmp/cbt-o
	cbt attach "$D"
	write_files
	cbt snapshot create "$D" --store "$OUT/store:128M" --json >"$OUT/set"
	img=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["snapsets"][0]["children"][0]["image"])' <"$OUT/set")
	# The LV's extent of the PV, read from the image.
	read -r start len _ _ off < <(dmsetup table cbtfvg-lv)
	dmsetup create --noudevsync -r cbt-imglv --table "0 $len linear $img $off"
	mount -o ro,noload "/dev/dm-$(dmsetup info -c --noheadings -o minor cbt-imglv | tr -d ' ')" /tmp/cbt-i
	(cd /tmp/cbt-i && sha256sum -c --quiet "$OUT/sums")
	[ "$(member_frozen <"$OUT/set")" -ge 1 ]
}

@test "a raw member with nothing mounted is reported as not quiesced" {
	D=$(make_loop 64M)
	LOOPS+=("$D")
	cbt attach "$D"
	cbt snapshot create "$D" --store "$OUT/store:16M" --json >"$OUT/set"
	[ "$(member_frozen <"$OUT/set")" -eq 0 ]
	python3 -c 'import json,sys; m = json.load(sys.stdin)["snapsets"][0]["children"][0]; sys.exit(m["quiesced"] is not False)' <"$OUT/set"
}

@test "zone resets and a reset of every zone are reported" {
	modprobe null_blk nr_devices=0
	mountpoint -q /sys/kernel/config || mount -t configfs configfs /sys/kernel/config
	d=/sys/kernel/config/nullb/cbtzoned
	mkdir "$d"
	echo 64 >"$d/size"
	echo 1 >"$d/memory_backed"
	echo 1 >"$d/zoned"
	echo 4 >"$d/zone_size"
	echo 1 >"$d/power"
	ZONED=/dev/cbtzoned
	[ -b "$ZONED" ] || ZONED=/dev/nullb$(cat "$d/index")
	# Zones 1 and 2 hold data.
	dd if=/dev/urandom of="$ZONED" bs=1M count=8 seek=4 oflag=direct status=none
	cbt attach "$ZONED" --block-size 64K
	STAMP=$(cbt checkpoint "$ZONED")
	blkzone reset -o 8192 -c 1 "$ZONED"
	: >"$WRITTEN"
	echo "4194304 4194304" >>"$WRITTEN"
	verify_changes "$ZONED" 65536 --exact
	S2=$(cbt checkpoint "$ZONED")
	blkzone reset "$ZONED"
	cbt changes "$ZONED" --since "$S2" >"$OUT/changes"
	[ "$(cat "$OUT/changes")" = "0 67108864" ]
}

# The guest's SCSI disk (virtio-scsi, scripts/vm-run).
scsi_disk() {
	local d i
	modprobe virtio_scsi
	modprobe sd_mod
	for i in $(seq 1 100); do
		for d in /sys/block/sd*; do
			[ -e "$d" ] && { echo "/dev/$(basename "$d")"; return 0; }
		done
		sleep 0.1
	done
	return 1
}

@test "a SCSI passthrough write to a tracked virtio-scsi disk is not missed; a live set on it gives way" {
	SD=$(scsi_disk)
	LOOPS+=("$SD")
	cbt attach "$SD" --block-size 64K
	S=$(cbt checkpoint "$SD")
	head -c 512 /dev/urandom >"$OUT/sector"
	# WRITE(10), LBA 128 (byte 65536), one 512-byte block, through SG_IO.
	sg_raw -s 512 -i "$OUT/sector" "$SD" 2a 00 00 00 00 80 00 00 01 00
	dd if="$SD" bs=512 skip=128 count=1 iflag=direct status=none | cmp - "$OUT/sector"
	# Reported, or the stamp refused: "take a full backup".
	run cbt changes "$SD" --since "$S"
	echo "$output"
	[[ "$output" == *"take a full backup"* ]] || changes_include "$SD" "$S" 65536
	# Tracking goes on under a new identity.
	S2=$(cbt checkpoint "$SD")
	[ "${S2%%:*}" != "${S%%:*}" ]
	# A set whose member takes a passthrough write cannot keep its image.
	cbt snapshot create "$SD" --store "$OUT/store:64M" --no-freeze >"$OUT/set"
	sg_raw -s 512 -i "$OUT/sector" "$SD" 2a 00 00 00 01 00 00 00 01 00
	cbt snapshot list -r -n -o STATE >"$OUT/list"
	cat "$OUT/list"
	grep -q invalid "$OUT/list"
}
