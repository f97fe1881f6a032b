#!/usr/bin/env bats
# Host-side tests of cbt-snap's argument handling and libcbt's parsing;
# none of these needs the module.

CBT="$BATS_TEST_DIRNAME/../../tools/cbt-snap"

@test "no arguments prints usage and exits 2" {
	run "$CBT"
	[ "$status" -eq 2 ]
	[[ "$output" == *"Usage:"* ]]
}

@test "--help exits 0 and names every command" {
	run "$CBT" --help
	[ "$status" -eq 0 ]
	for c in attach detach status checkpoint changes; do
		[[ "$output" == *"$c"* ]]
	done
}

@test "an unknown command is one clear line and exit 2" {
	run "$CBT" frobnicate
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"unknown command 'frobnicate'"* ]]
}

@test "attach rejects bad block sizes before touching anything" {
	for bs in 3000 2M 1K 0 12K abc -5 64Q; do
		run "$CBT" attach /dev/null --block-size "$bs"
		[ "$status" -eq 2 ]
		[[ "$output" == *"block-size"* ]]
	done
}

@test "attach of a regular file says it is not a block device" {
	f=$(mktemp)
	run "$CBT" attach "$f"
	rm -f "$f"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a block device"* ]]
}

@test "a missing device is named in the error" {
	run "$CBT" checkpoint /dev/does-not-exist
	[ "$status" -eq 1 ]
	[[ "$output" == *"/dev/does-not-exist"* ]]
	run "$CBT" status UUID=00000000-0000-0000-0000-000000000000
	[ "$status" -eq 1 ]
}

@test "changes needs a well-formed stamp" {
	run "$CBT" changes /dev/null
	[ "$status" -eq 2 ]
	[[ "$output" == *"--since"* ]]
	for s in garbage "12345678-1234-1234-1234-123456789abc" \
		"12345678-1234-1234-1234-123456789abc:" \
		"12345678-1234-1234-1234-123456789abc:x" \
		"12345678-1234-1234-1234-123456789abz:5" \
		"12345678-1234-1234-1234-123456789abc:5junk" \
		"12345678123412341234123456789abc:5"; do
		run "$CBT" changes /dev/null --since "$s"
		[ "$status" -eq 2 ]
		[[ "$output" == *"not a stamp"* ]]
	done
}

@test "unknown options and extra arguments are refused" {
	run "$CBT" attach /dev/null --bogus
	[ "$status" -eq 2 ]
	run "$CBT" detach /dev/a /dev/b
	[ "$status" -eq 2 ]
	[[ "$output" == *"unexpected argument"* ]]
	run "$CBT" checkpoint --json /dev/null
	[ "$status" -eq 2 ]
}

@test "commands need a volume" {
	for c in attach detach checkpoint; do
		run "$CBT" "$c"
		[ "$status" -eq 2 ]
		[[ "$output" == *"which volume"* ]]
	done
}

@test "snapshot: subcommands and options are checked before anything is touched" {
	run "$CBT" snapshot
	[ "$status" -eq 2 ]
	[[ "$output" == *"create, list, destroy or watch"* ]]
	run "$CBT" snapshot explode
	[ "$status" -eq 2 ]
	run "$CBT" snapshot create
	[ "$status" -eq 2 ]
	[[ "$output" == *"which volumes"* ]]
	run "$CBT" snapshot create /dev/null
	[ "$status" -eq 2 ]
	[[ "$output" == *"--store"* ]]
	run "$CBT" snapshot create /dev/null --store /tmp/s:1M --hold 0
	[ "$status" -eq 2 ]
	[[ "$output" == *"--hold"* ]]
	run "$CBT" snapshot create /dev/null --store /tmp/s:1M --hold 60001
	[ "$status" -eq 2 ]
	run "$CBT" snapshot create /dev/null --store /tmp/s:1M --low-space 0
	[ "$status" -eq 2 ]
	[[ "$output" == *"--low-space"* ]]
	run "$CBT" snapshot create /dev/null --store
	[ "$status" -eq 2 ]
	run "$CBT" snapshot create /dev/null --store /tmp/s:1M --since x
	[ "$status" -eq 2 ]
	run "$CBT" snapshot destroy
	[ "$status" -eq 2 ]
	for bad in 0 abc 4294967296 12x; do
		run "$CBT" snapshot destroy "$bad"
		[ "$status" -eq 2 ]
		[[ "$output" == *"not a snapshot set id"* ]]
	done
	run "$CBT" snapshot destroy -1
	[ "$status" -eq 2 ]
	run "$CBT" snapshot destroy 1 2
	[ "$status" -eq 2 ]
	run "$CBT" snapshot list extra
	[ "$status" -eq 2 ]
	run "$CBT" snapshot watch 1 --grow /tmp
	[ "$status" -eq 2 ]
	[[ "$output" == *"DIR:SIZE"* ]]
	run "$CBT" snapshot watch 1 --grow /tmp:0
	[ "$status" -eq 2 ]
}

@test "snapshot create names a volume that is not a block device" {
	run "$CBT" snapshot create /etc/hostname --store /tmp/cbt-never:1M
	[ "$status" -eq 1 ]
	[[ "$output" == *"/etc/hostname"*"not a block device"* ]]
	[ ! -e /tmp/cbt-never ]
}
