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
CBT="$TOP/tools/cbt-snap"
MiB=1048576

# The images and the repository are made once for the file (in
# $BATS_FILE_TMPDIR/img): see make_images and make_repo.
setup_file() {
	make -s -C "$TOP" tests/rbd-diff-files >/dev/null
	CEPH_CONF=$("$CLUSTER" start)
	export CEPH_CONF
	T="$BATS_FILE_TMPDIR/img"
	mkdir "$T"
	make_images
	make_repo
}

teardown_file() {
	[ -z "${CEPH_CONF:-}" ] || "$CLUSTER" stop "$CEPH_CONF"
}

setup() {
	[ -n "${CEPH_CONF:-}" ]
	[ -f "$CEPH_CONF" ]
	I="$BATS_FILE_TMPDIR/img"
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
# zeroed that p1 had written, more writes). Their sha256 in p*.sha. In $T.
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
	# what changed, as change data for cbt-snap backup --changes
	echo '{"changes": [{"offset": 1228800, "length": 28672}, {"offset": 6553600, "length": 131072},
		{"offset": 720901, "length": 100}]}' >"$T/p1.changes"
	echo '{"changes": [{"offset": 1228800, "length": 65536}, {"offset": 15728640, "length": 1048576},
		{"offset": 0, "length": 4096}]}' >"$T/p2.changes"
}

# A repository of one volume ($T/src, 1 MiB chunks) with a full point (1)
# and two incrementals (2, 3) of p0, p1, p2 taken with change data (so
# their indexes patch 64 KiB pieces of chunks); the source's sha256 at
# each backup in $T/sha.ID. In $T (after make_images).
make_repo() {
	local id ch
	for id in 1 2 3; do
		cp "$T/p$((id - 1))" "$T/src"
		sha "$T/src" >"$T/sha.$id"
		ch=()
		if [ "$id" -gt 1 ]; then
			ch=(--changes "$T/p$((id - 1)).changes")
		fi
		"$CBT" backup "$T/src" --to "$T/repo" --quiet "${ch[@]}"
	done
	run -0 "$CBT" list "$T/repo" --raw --noheadings -o ID,TYPE,BASE
	[ "${lines[0]}" = "1 full 0" ]
	[ "${lines[1]}" = "2 incremental 1" ]
	[ "${lines[2]}" = "3 incremental 2" ]
}

@test "the rbd diff writer: a full and two incrementals of image files import into Ceph bit for bit" {
	"$DIFF_FILES" p0 "$I/p0" >"$T/d0"
	"$DIFF_FILES" --from p0 "$I/p0" p1 "$I/p1" >"$T/d1"
	"$DIFF_FILES" --from p1 "$I/p1" p2 "$I/p2" >"$T/d2"
	rbdq create --size 16M files
	rbdq import-diff "$T/d0" files
	rbdq import-diff "$T/d1" files
	rbdq import-diff "$T/d2" files
	for p in p0 p1 p2; do
		rbdq export "files@$p" "$T/e.$p"
		cmp "$T/e.$p" "$I/$p"
		[ "$(sha "$T/e.$p")" = "$(cat "$I/$p.sha")" ]
	done
	# the incrementals are incremental: a full image is 16 MiB
	[ "$(stat -c %s "$T/d1")" -lt $((256 * 1024)) ]
	[ "$(stat -c %s "$T/d2")" -lt $((2 * MiB)) ]
}

@test "the rbd diff writer: rbd merge-diff takes two of its diffs; the merge imports as the last image" {
	"$DIFF_FILES" p0 "$I/p0" >"$T/d0"
	"$DIFF_FILES" --from p0 "$I/p0" p1 "$I/p1" >"$T/d1"
	"$DIFF_FILES" --from p1 "$I/p1" p2 "$I/p2" >"$T/d2"
	rbdq merge-diff "$T/d1" "$T/d2" "$T/d12"
	rbdq merge-diff "$T/d0" "$T/d12" "$T/d012"
	rbdq create --size 16M merged
	rbdq import-diff "$T/d012" merged
	rbdq export merged@p2 "$T/e.p2"
	cmp "$T/e.p2" "$I/p2"
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

# ---- cbt-snap export, from a repository made by cbt-snap backup ----------

@test "export: a full point and two incrementals imported with rbd import-diff; each Ceph snapshot equals the restored point and the source" {
	"$CBT" export "$I/repo" --point 1 --format rbd-diff -o "$T/x1"
	"$CBT" export "$I/repo" --point 2 --from 1 --format rbd-diff -o "$T/x2"
	"$CBT" export "$I/repo" --point 3 --from 2 --format rbd-diff >"$T/x3"
	"$CBT" export "$I/repo" --point 3 --from 2 --format rbd-diff -o - | cmp - "$T/x3"
	rbdq create --size 16M chain
	rbdq import-diff "$T/x1" chain
	rbdq import-diff "$T/x2" chain
	# through a pipe, as the man page shows it
	"$CBT" export "$I/repo" --point 3 --from 2 --format rbd-diff | rbd --no-progress import-diff - chain
	for id in 1 2 3; do
		rbdq export "chain@$id" "$T/ceph.$id"
		"$CBT" restore "$I/repo" --point "$id" --to "$T/restored.$id" --quiet
		cmp "$T/ceph.$id" "$T/restored.$id"
		[ "$(sha "$T/ceph.$id")" = "$(cat "$I/sha.$id")" ]
	done
	# incrementals carry the changed chunks only (64 KiB each)
	[ "$(stat -c %s "$T/x2")" -lt $((512 * 1024)) ]
	[ "$(stat -c %s "$T/x3")" -lt $((3 * MiB)) ]
}

@test "export: rbd merge-diff takes exported diffs; the merge imported into a fresh image is the last point" {
	"$CBT" export "$I/repo" --point 1 --format rbd-diff -o "$T/x1"
	"$CBT" export "$I/repo" --point 2 --from 1 --format rbd-diff -o "$T/x2"
	"$CBT" export "$I/repo" --point 3 --from 2 --format rbd-diff -o "$T/x3"
	rbdq merge-diff "$T/x1" "$T/x2" "$T/m12"
	rbdq merge-diff "$T/m12" "$T/x3" "$T/m123"
	rbdq create --size 16M merged2
	rbdq import-diff "$T/m123" merged2
	rbdq export merged2@3 "$T/ceph.3"
	[ "$(sha "$T/ceph.3")" = "$(cat "$I/sha.3")" ]
}

@test "export: --from a point that is not the base (1 to 3) brings snapshot 1 to point 3" {
	"$CBT" export "$I/repo" --point 1 --format rbd-diff -o "$T/x1"
	"$CBT" export "$I/repo" --point 3 --from 1 --format rbd-diff -o "$T/x13"
	rbdq create --size 16M skip
	rbdq import-diff "$T/x1" skip
	rbdq import-diff "$T/x13" skip
	rbdq export skip@3 "$T/ceph.3"
	[ "$(sha "$T/ceph.3")" = "$(cat "$I/sha.3")" ]
	# a diff from snapshot 2 is refused by an image that lacks it
	"$CBT" export "$I/repo" --point 3 --from 2 --format rbd-diff -o "$T/x23"
	rbdq create --size 16M lacks
	rbdq import-diff "$T/x1" lacks
	run ! rbd --no-progress import-diff "$T/x23" lacks
}

@test "export: the stream follows the format: names, size, zero runs as zero records, no zero data" {
	PARSE="$TOP/tests/lib/rbd_diff.py"
	"$CBT" export "$I/repo" --point 1 --format rbd-diff -o "$T/x1"
	"$CBT" export "$I/repo" --point 2 --from 1 --format rbd-diff -o "$T/x2"
	run -0 "$PARSE" "$T/x1"
	[ "${lines[0]}" = "t 1" ]
	[ "${lines[1]}" = "s $((16 * MiB))" ]
	[ "${lines[-1]}" = "e" ]
	# no data record is all zeroes (p0's zero holes are left out)
	printf '%s\n' "${lines[@]}" >"$T/r1"
	run -1 grep -q '^w .* 1$' "$T/r1"
	run -0 "$PARSE" "$T/x2"
	[ "${lines[0]}" = "f 1" ]
	[ "${lines[1]}" = "t 2" ]
	[ "${lines[2]}" = "s $((16 * MiB))" ]
	[ "${lines[-1]}" = "e" ]
	# p1 zeroed 128 KiB at 6400 KiB (two whole chunks): one zero record
	grep -qx "z $((6400 * 1024)) $((128 * 1024))" <<<"$output"
	# the 100 bytes written at 704 KiB + 5 into a zero chunk: 4 KiB of
	# data, the rest of the chunk a zero record
	grep -qx "w $((704 * 1024)) 4096 0" <<<"$output"
	grep -qx "z $((704 * 1024 + 4096)) $((60 * 1024))" <<<"$output"
	printf '%s\n' "${lines[@]}" >"$T/r2"
	run -1 grep -q '^w .* 1$' "$T/r2"
}

# ---- cbt-snap export: its command line (no Ceph needed) --------------------

# usage_error: the last run was a usage error of export: exit 2, one
# message line, then util-linux's Try line.
usage_error() {
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == "cbt-snap: export: "* ]]
	[ "${lines[1]}" = "Try 'cbt-snap export --help' for more information." ]
}

@test "export: -h and --help print its usage; cbt-snap --help names it" {
	for h in -h --help; do
		run -0 "$CBT" export "$h"
		[ "${lines[0]}" = "Usage:" ]
		[[ "${lines[1]}" == " cbt-snap export "* ]]
	done
	run -0 "$CBT" --help
	[[ "$output" == *" export REPO "* ]]
}

@test "export: usage errors name what is wrong and touch nothing" {
	R="$I/repo"
	run -2 "$CBT" export --point 1 --format rbd-diff
	usage_error
	[[ "${lines[0]}" == *"no repository given" ]]
	run -2 "$CBT" export "$R" --format rbd-diff
	usage_error
	[[ "${lines[0]}" == *"--point ID is required" ]]
	run -2 "$CBT" export "$R" --point 1
	usage_error
	[[ "${lines[0]}" == *"--format is required (rbd-diff)" ]]
	run -2 "$CBT" export "$R" --point 1 --format qcow2
	usage_error
	[[ "${lines[0]}" == *"'qcow2'" ]]
	for bad in 0 -1 1x " 1" 0x10 99999999999999999999; do
		run -2 "$CBT" export "$R" --point "$bad" --format rbd-diff
		usage_error
		[[ "${lines[0]}" == *"--point: a point id"* ]]
		run -2 "$CBT" export "$R" --point 2 --from "$bad" --format rbd-diff
		usage_error
		[[ "${lines[0]}" == *"--from: a point id"* ]]
	done
	run -2 "$CBT" export "$R" --point 2 --from 2 --format rbd-diff
	usage_error
	[[ "${lines[0]}" == *"the point itself"* ]]
	run -2 "$CBT" export "$R" extra --point 1 --format rbd-diff
	usage_error
	[[ "${lines[0]}" == *"unexpected argument 'extra'" ]]
	run -2 "$CBT" export "$R" --point 1 --point 2 --format rbd-diff
	usage_error
	run -2 "$CBT" export "$R" --point 1 --format rbd-diff --bogus
	usage_error
	[[ "${lines[0]}" == *"--bogus"* ]]
	run -2 "$CBT" export "$R" --point 1 --format qcow2 -o "$T/out"
	usage_error
	[ -z "$(ls -A "$T")" ]
}

@test "export: a terminal on standard output is refused; -o - and a pipe are taken" {
	run -1 script -qec "'$CBT' export '$I/repo' --point 1 --format rbd-diff" /dev/null
	[[ "$output" == *"cbt-snap: export: standard output is a terminal: give -o FILE or redirect it"* ]]
	run -1 script -qec "'$CBT' export '$I/repo' --point 1 --format rbd-diff -o -" /dev/null
	[[ "$output" == *"standard output is a terminal"* ]]
	"$CBT" export "$I/repo" --point 1 --format rbd-diff | head -c 12 >"$T/head"
	[ "$(cat "$T/head")" = "rbd diff v1" ]
}

@test "export: -o FILE is private, replaces FILE only when complete, and a failure leaves nothing" {
	"$CBT" export "$I/repo" --point 2 --from 1 --format rbd-diff -o "$T/out"
	[ "$(stat -c %a "$T/out")" = 600 ]
	cp "$T/out" "$T/before"
	# a missing point: one line, the old file untouched, no temporary left
	run -1 "$CBT" export "$I/repo" --point 9 --format rbd-diff -o "$T/out"
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == "cbt-snap: "* ]]
	cmp "$T/out" "$T/before"
	[ "$(ls "$T")" = "$(printf 'before\nout')" ]
	# a chunk of point 1 gone from the repository (its first MiB, chunks
	# named by their SHA-256): found, reported, nothing written
	cp -a "$I/repo" "$T/repo"
	first=$(head -c $MiB "$I/p0" | sha256sum | cut -d" " -f1)
	"$BATS_TEST_DIRNAME/packs.py" drop "$T/repo" "$first"
	[ "$("$BATS_TEST_DIRNAME/packs.py" chunks "$T/repo" | grep -c "^$first")" -eq 0 ]
	run -1 "$CBT" export "$T/repo" --point 1 --format rbd-diff -o "$T/broken"
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == "cbt-snap: "* ]]
	[ ! -e "$T/broken" ]
	[ -z "$(find "$T" -name 'broken*')" ]
}

@test "export: the volume must be named when a point has several, and --from must hold the same volume" {
	head -c $MiB /dev/urandom >"$T/va"
	head -c $MiB /dev/urandom >"$T/vb"
	"$CBT" backup "$T/va" "$T/vb" --to "$T/repo" --chunk-size 64K --quiet
	"$CBT" backup "$T/vb" --to "$T/repo" --chain other --quiet
	run -1 "$CBT" export "$T/repo" --point 1 --format rbd-diff -o "$T/x"
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == *"point 1 has 2 volumes: name one with --volume"* ]]
	run -1 "$CBT" export "$T/repo" --point 1 --volume "$T/nothere" --format rbd-diff -o "$T/x"
	[[ "${lines[0]}" == *"point 1 has no volume '$T/nothere'"* ]]
	"$CBT" export "$T/repo" --point 1 --volume "$T/vb" --format rbd-diff -o "$T/x"
	# point 2 holds vb only: --from 2 for va is refused, for vb taken
	run -1 "$CBT" export "$T/repo" --point 1 --volume "$T/va" --from 2 --format rbd-diff -o "$T/y"
	[[ "${lines[0]}" == *"point 2 has no volume '$T/va'"* ]]
	[ ! -e "$T/y" ]
	"$CBT" export "$T/repo" --point 1 --volume "$T/vb" --from 2 --format rbd-diff -o "$T/y"
	# vb did not change: the stream is metadata only (header, f, t, s, e)
	[ "$(stat -c %s "$T/y")" -eq $((12 + 5 + 1 + 5 + 1 + 9 + 1)) ]
}
