#!/usr/bin/env bats
# libcbt's unit tests (tests/unit/test-libcbt.c, cmocka), one bats test a
# group, so the counts of `make check` include them. The binary is rebuilt
# from the current sources first.

TOP="$BATS_TEST_DIRNAME/../.."
BIN="$TOP/tests/unit/test-libcbt"

setup_file() {
	make -s -C "$TOP" tests/unit/test-libcbt tests/unit/test-anchor tests/unit/test-writer tests/unit/test-chunk >&2
}

# Run one group with TAP output; pass only when cmocka ran tests, all ok.
unit_group() {
	run env CMOCKA_MESSAGE_OUTPUT=TAP "${UNIT_BIN:-$BIN}" "$1"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"ok 1 - "* ]]
	[[ "$output" != *"not ok"* ]]
}

@test "unit: size parsing" {
	unit_group size
}

@test "unit: stamp parsing, checking and formatting" {
	unit_group stamp
}

@test "unit: cbt_strerror for every errno used, library version" {
	unit_group strerror
}

@test "unit: LIBCBT_DEBUG mask parsing and tracing" {
	unit_group debug
}

@test "unit: lists of any length (10000 trackers, 300 sets, 40 members, 8000 extents)" {
	unit_group lists
}

@test "unit: snapset option validation" {
	unit_group opts
}

@test "unit: handle lifetimes and NULL handles" {
	unit_group lifetime
}

@test "unit: backup sessions over the model: anchors move only on success, COPY moves none, stale bases, overflow, metadata, the lock" {
	unit_group backup
}

@test "unit: an unknown group is an error, not a pass" {
	run "$BIN" nosuchgroup
	[ "$status" -eq 2 ]
}

# Backup chains' state on disk (tests/unit/test-anchor.c).
@test "unit: anchors: chain and metadata names" {
	UNIT_BIN=$TOP/tests/unit/test-anchor unit_group names
}

@test "unit: anchors: the state directory is made 0700, an unsafe one or a symlink refused" {
	UNIT_BIN=$TOP/tests/unit/test-anchor unit_group dir
}

@test "unit: anchors: one session a chain (the lock)" {
	UNIT_BIN=$TOP/tests/unit/test-anchor unit_group lock
}

@test "unit: anchors: written atomically and read back as written, metadata limits" {
	UNIT_BIN=$TOP/tests/unit/test-anchor unit_group file
}

@test "unit: anchors: damaged and hostile files are -EBADMSG, never half-read" {
	UNIT_BIN=$TOP/tests/unit/test-anchor unit_group hostile
}

@test "unit: anchors: an unknown group is an error, not a pass" {
	run "$TOP/tests/unit/test-anchor" nosuchgroup
	[ "$status" -eq 2 ]
}

# Writers without a module (tests/unit/test-writer.c).
@test "unit: writers: the tracked volumes beneath a path (partitions, dm, md, a file's filesystem)" {
	UNIT_BIN=$TOP/tests/unit/test-writer unit_group resolve
}

@test "unit: writers: the writers in a point's manifest, written and read back (text and binary stamps)" {
	UNIT_BIN=$TOP/tests/unit/test-writer unit_group manifest
}

@test "unit: writer run: a hook's exit status and last stderr line, its environment, the timeout kills its process group" {
	UNIT_BIN=$TOP/tests/unit/test-writer unit_group hooks
}

@test "unit: writer run: fsfreeze hook scripts in qemu's order, backups and package files skipped" {
	UNIT_BIN=$TOP/tests/unit/test-writer unit_group fsfreeze
}

@test "unit: writers: --component, --types, --writers, snapset writer options" {
	UNIT_BIN=$TOP/tests/unit/test-writer unit_group options
}

# The chunk store and indexes (tests/unit/test-chunk.c).
@test "unit: chunks wait in the workspace until the sync; a sync that failed part-way runs again" {
	UNIT_BIN=$TOP/tests/unit/test-chunk unit_group sync
}

@test "unit: a damaged chunk's pack is rewritten without it; gc's sweep drops only old chunks no index names" {
	UNIT_BIN=$TOP/tests/unit/test-chunk unit_group rewrite
}

@test "unit: an index's patches are checked when read: in order, no repeats, inside the volume" {
	UNIT_BIN=$TOP/tests/unit/test-chunk unit_group index
}
