#!/usr/bin/env bats
# Export to Ceph, against a real one-node Ceph (tests/lib/ceph-cluster: a
# monitor and a memstore OSD on 127.0.0.1, started once for the file). The
# ground truth is Ceph's own reading of what it imported (`rbd export` of
# each snapshot) compared with the image files and their sha256 taken when
# they were written. If Ceph cannot start, every test here fails (the
# packages come from scripts/install-deps): nothing is skipped.

bats_require_minimum_version 1.5.0

TOP="$BATS_TEST_DIRNAME/../.."
CLUSTER="$TOP/tests/lib/ceph-cluster"
DIFF_FILES="$TOP/tests/rbd-diff-files"
MiB=1048576

setup_file() {
	make -s -C "$TOP" tests/rbd-diff-files >/dev/null
	CEPH_CONF=$("$CLUSTER" start)
	export CEPH_CONF
}

teardown_file() {
	[ -z "${CEPH_CONF:-}" ] || "$CLUSTER" stop "$CEPH_CONF"
}

setup() {
	[ -n "${CEPH_CONF:-}" ]
	[ -f "$CEPH_CONF" ]
	T=$(mktemp -d "$BATS_FILE_TMPDIR/t.XXXXXX")
}

# rbd without its progress lines on stderr
rbdq() {
	rbd --no-progress "$@"
}

sha() {
	sha256sum "$1" | cut -d' ' -f1
}

# write_at FILE OFFSET LENGTH SOURCE: LENGTH bytes of SOURCE (/dev/zero,
# /dev/urandom) over FILE at OFFSET, in place.
write_at() {
	head -c "$3" "$4" | dd of="$1" bs=1M seek="$2" oflag=seek_bytes conv=notrunc status=none
}

# Three images of one 16 MiB volume: p0 (random data with zero holes, one
# not aligned to 4 KiB), p1 (p0 with random writes, a 64 KiB-aligned range
# zeroed, a 100-byte write in the middle of a block), p2 (p1 with a block
# zeroed that p1 had written, more writes). Their sha256 in p*.sha.
make_images() {
	head -c $((16 * MiB)) /dev/urandom >"$T/p0"
	write_at "$T/p0" $((640 * 1024)) $((320 * 1024)) /dev/zero
	write_at "$T/p0" $((4000 * 1024 + 512)) 12288 /dev/zero
	cp "$T/p0" "$T/p1"
	write_at "$T/p1" $((1200 * 1024)) 28672 /dev/urandom
	write_at "$T/p1" $((6400 * 1024)) $((128 * 1024)) /dev/zero
	write_at "$T/p1" $((704 * 1024 + 5)) 100 /dev/urandom
	cp "$T/p1" "$T/p2"
	write_at "$T/p2" $((1200 * 1024)) 65536 /dev/zero
	write_at "$T/p2" $((15 * MiB)) $((MiB + 0)) /dev/urandom
	write_at "$T/p2" 0 4096 /dev/urandom
	for p in p0 p1 p2; do
		sha "$T/$p" >"$T/$p.sha"
	done
}

@test "the rbd diff writer: a full and two incrementals of image files import into Ceph bit for bit" {
	make_images
	"$DIFF_FILES" p0 "$T/p0" >"$T/d0"
	"$DIFF_FILES" --from p0 "$T/p0" p1 "$T/p1" >"$T/d1"
	"$DIFF_FILES" --from p1 "$T/p1" p2 "$T/p2" >"$T/d2"
	rbdq create --size 16M files
	rbdq import-diff "$T/d0" files
	rbdq import-diff "$T/d1" files
	rbdq import-diff "$T/d2" files
	for p in p0 p1 p2; do
		rbdq export "files@$p" "$T/e.$p"
		cmp "$T/e.$p" "$T/$p"
		[ "$(sha "$T/e.$p")" = "$(cat "$T/$p.sha")" ]
	done
	# the incrementals are incremental: a full image is 16 MiB
	[ "$(stat -c %s "$T/d1")" -lt $((256 * 1024)) ]
	[ "$(stat -c %s "$T/d2")" -lt $((2 * MiB)) ]
}

@test "the rbd diff writer: rbd merge-diff takes two of its diffs; the merge imports as the last image" {
	make_images
	"$DIFF_FILES" p0 "$T/p0" >"$T/d0"
	"$DIFF_FILES" --from p0 "$T/p0" p1 "$T/p1" >"$T/d1"
	"$DIFF_FILES" --from p1 "$T/p1" p2 "$T/p2" >"$T/d2"
	rbdq merge-diff "$T/d1" "$T/d2" "$T/d12"
	rbdq merge-diff "$T/d0" "$T/d12" "$T/d012"
	rbdq create --size 16M merged
	rbdq import-diff "$T/d012" merged
	rbdq export merged@p2 "$T/e.p2"
	cmp "$T/e.p2" "$T/p2"
}

@test "the rbd diff writer: a diff that shrinks and grows the image sets its size" {
	head -c $((8 * MiB)) /dev/urandom >"$T/a"
	head -c $((4 * MiB)) "$T/a" >"$T/b"
	head -c $((4 * MiB)) /dev/urandom >>"$T/b"
	head -c $((2 * MiB)) /dev/urandom >>"$T/b"
	"$DIFF_FILES" a "$T/a" >"$T/d0"
	"$DIFF_FILES" --from a "$T/a" b "$T/b" >"$T/d1"
	rbdq create --size 8M sized
	rbdq import-diff "$T/d0" sized
	rbdq import-diff "$T/d1" sized
	rbdq export sized@b "$T/e.b"
	cmp "$T/e.b" "$T/b"
	[ "$(stat -c %s "$T/e.b")" -eq $((10 * MiB)) ]
}
