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
