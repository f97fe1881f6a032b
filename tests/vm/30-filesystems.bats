#!/usr/bin/env bats
# Filesystems under a workload: every block that differs between the device
# before and after is reported, and applying the reported extents to the old
# image reproduces the new one (an incremental restore), checksum-exact.

load helpers

setup() {
	long_gate
	common_setup
	LOOP=$(make_loop 400M)
	MNT=$(mktemp -d /tmp/cbt-mnt.XXXXXX)
}

teardown() {
	umount "$MNT" 2>/dev/null || true
	cbt detach "$LOOP" 2>/dev/null || true
	del_loop "$LOOP"
	rm -rf "$MNT" /tmp/cbt-img-*
}

fs_workload() {
	local mkfs=$1 mopt=$2
	$mkfs "$LOOP" >/dev/null 2>&1
	cbt attach "$LOOP" --block-size 4K
	mount $mopt "$LOOP" "$MNT"
	# The module's sources, not its builds (tens of MB of objects).
	mkdir "$MNT/base"
	tar -C "$REPO" --exclude=kmod/out -cf "$BATS_TEST_TMPDIR/kmod.tar" kmod
	tar -C "$MNT/base" -xf "$BATS_TEST_TMPDIR/kmod.tar"
	umount "$MNT"
	cp --sparse=always "$LOOP" /tmp/cbt-img-a
	STAMP=$(cbt checkpoint "$LOOP")
	mount $mopt "$LOOP" "$MNT"
	fio --name=w --directory="$MNT" --size=24M --rw=randwrite --bsrange=512-64k \
		--ioengine=psync --fsync=8 --nrfiles=3 --randrepeat=0 --output=/dev/null
	cp -r "$REPO/lib" "$MNT/base/lib2"
	rm -rf "$MNT/base/kmod/probes"
	umount "$MNT"
	cp --sparse=always "$LOOP" /tmp/cbt-img-b
	python3 "$TLIB/image_diff.py" 4096 /tmp/cbt-img-a /tmp/cbt-img-b >"$WRITTEN"
	[ -s "$WRITTEN" ]
	verify_changes "$LOOP" 4096
	python3 "$TLIB/apply_extents.py" "$BATS_TEST_TMPDIR/changes" "$LOOP" /tmp/cbt-img-a
	[ "$(sha256sum </tmp/cbt-img-a)" = "$(sha256sum <"$LOOP")" ]
}

@test "ext4 under fio and file copies" {
	fs_workload "mkfs.ext4 -q -F" ""
}

@test "xfs under fio and file copies" {
	fs_workload "mkfs.xfs -f -q" ""
}

@test "btrfs under fio and file copies" {
	fs_workload "mkfs.btrfs -f -q" ""
}
