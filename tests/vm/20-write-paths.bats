#!/usr/bin/env bats
# Every way a write can reach a tracked volume is recorded: O_DIRECT,
# buffered + fsync, mmap + msync, discard, write-zeroes, partitions,
# dm-linear and LVM stacked above.

load helpers

setup() {
	long_gate
	common_setup
	LOOP=$(make_loop 256M -P)
}

teardown() {
	dmsetup remove --noudevsync cbt-lin 2>/dev/null || true
	vgchange --config "$LVMCONF" -an cbtvg >/dev/null 2>&1 || true
	vgremove --config "$LVMCONF" -f cbtvg >/dev/null 2>&1 || true
	for d in "$LOOP" "${LOOP}p1" "${LOOP}p2"; do cbt detach "$d" 2>/dev/null || true; done
	del_loop "$LOOP"
}

@test "O_DIRECT writes" {
	cbt attach "$LOOP" --block-size 4K
	STAMP=$(cbt checkpoint "$LOOP")
	write_direct "$LOOP" 1048576 65536 0
	write_direct "$LOOP" 7340032 4096 0
	verify_changes "$LOOP" 4096 --exact
}

@test "buffered writes with fsync" {
	cbt attach "$LOOP" --block-size 4K
	STAMP=$(cbt checkpoint "$LOOP")
	write_buffered "$LOOP" 2097152 12288 0
	write_buffered "$LOOP" 104857600 4096 0
	verify_changes "$LOOP" 4096 --exact
}

@test "mmap writes with msync" {
	cbt attach "$LOOP" --block-size 4K
	STAMP=$(cbt checkpoint "$LOOP")
	python3 "$TLIB/mmap_write.py" "$LOOP" 8388608 16384
	echo "8388608 16384" >>"$WRITTEN"
	verify_changes "$LOOP" 4096 --exact
}

@test "discard and write-zeroes" {
	cbt attach "$LOOP" --block-size 4K
	STAMP=$(cbt checkpoint "$LOOP")
	blkdiscard -o 16777216 -l 1048576 "$LOOP"
	echo "16777216 1048576" >>"$WRITTEN"
	blkdiscard -z -o 33554432 -l 262144 "$LOOP"
	echo "33554432 262144" >>"$WRITTEN"
	verify_changes "$LOOP" 4096 --exact
}

@test "writes to a partition of a tracked disk, at the partition's offset" {
	printf 'label: gpt\nstart=2048, size=65536\nstart=133120, size=131072\n' | sfdisk -q "$LOOP"
	[ -b "${LOOP}p2" ]
	cbt attach "$LOOP" --block-size 4K
	STAMP=$(cbt checkpoint "$LOOP")
	write_direct "${LOOP}p2" 40960 8192 $((133120 * 512))
	write_direct "${LOOP}p1" 0 4096 $((2048 * 512))
	verify_changes "$LOOP" 4096 --exact
}

@test "a tracked partition sees writes made through the whole disk" {
	printf 'label: gpt\nstart=2048, size=65536\nstart=133120, size=131072\n' | sfdisk -q "$LOOP"
	cbt attach "${LOOP}p2" --block-size 4K
	STAMP=$(cbt checkpoint "${LOOP}p2")
	write_direct "${LOOP}p2" 4096 4096 0
	# Through the whole disk: one write inside p2, one in p1 (not p2's).
	dd if=/dev/urandom of="$LOOP" bs=4096 count=2 seek=$(((133120 * 512 + 65536) / 4096)) oflag=direct conv=notrunc status=none
	echo "65536 8192" >>"$WRITTEN"
	dd if=/dev/urandom of="$LOOP" bs=4096 count=1 seek=300 oflag=direct conv=notrunc status=none
	verify_changes "${LOOP}p2" 4096 --exact
}

@test "dm-linear stacked on a tracked device" {
	cbt attach "$LOOP" --block-size 4K
	STAMP=$(cbt checkpoint "$LOOP")
	dmsetup create --noudevsync cbt-lin --table "0 262144 linear $LOOP 8192"
	dm=/dev/dm-$(dmsetup info -c --noheadings -o minor cbt-lin | tr -d ' ')
	[ -b "$dm" ]
	write_direct "$dm" 0 4096 $((8192 * 512))
	write_buffered "$dm" 1048576 16384 $((8192 * 512))
	verify_changes "$LOOP" 4096 --exact
}

@test "an LVM logical volume on a tracked physical volume" {
	cbt attach "$LOOP" --block-size 64K
	pvcreate --config "$LVMCONF" -q "$LOOP" >/dev/null
	vgcreate --config "$LVMCONF" -q cbtvg "$LOOP" >/dev/null
	lvcreate --config "$LVMCONF" -q -L 64M -n lv cbtvg -y >/dev/null
	STAMP=$(cbt checkpoint "$LOOP")
	minor=$(dmsetup info -c --noheadings -o minor cbtvg-lv | tr -d ' ')
	start=$(dmsetup table cbtvg-lv | awk '{print $5}')
	write_direct /dev/dm-$minor 4194304 65536 $((start * 512))
	verify_changes "$LOOP" 65536 --exact
}

@test "a tracked device-mapper volume (dm-linear itself tracked)" {
	dmsetup create --noudevsync cbt-lin --table "0 262144 linear $LOOP 8192"
	dm=/dev/dm-$(dmsetup info -c --noheadings -o minor cbt-lin | tr -d ' ')
	cbt attach "$dm" --block-size 4K
	STAMP=$(cbt checkpoint "$dm")
	write_direct "$dm" 524288 4096 0
	verify_changes "$dm" 4096 --exact
	cbt detach "$dm"
}
