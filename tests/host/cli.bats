#!/usr/bin/env bats
# Host-side tests of cbt-snap's argument handling; none of these needs the
# module (where a request gets past parsing it fails on a volume that is not
# a block device, or on the missing module: that shows the input was taken).
# The JSON shapes of status, snapshot list and changes with real data are
# checked in tests/vm/10-tracking.bats and 60-snapshot.bats.

bats_require_minimum_version 1.5.0

CBT="$BATS_TEST_DIRNAME/../../tools/cbt-snap"
MAN="$BATS_TEST_DIRNAME/../../docs/cbt-snap.8"
VERSION=$(cat "$BATS_TEST_DIRNAME/../../VERSION")

COMMANDS=(attach detach status checkpoint changes version snapshot
	"snapshot create" "snapshot list" "snapshot destroy" "snapshot watch"
	backup restore verify list prune gc "repo init" writers writer "writer run")

setup() {
	[ ! -e /dev/cbt-ctl ] || skip "the cbt module is loaded here"
}

# usage_error CMD: the last run was a usage error of CMD: exit 2, one
# message line, then util-linux's Try line.
usage_error() {
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == "cbt-snap: $1"* ]]
	[ "${lines[1]}" = "Try 'cbt-snap${1:+ }$1 --help' for more information." ]
}

@test "no arguments is a usage error" {
	run "$CBT"
	usage_error ""
	[[ "${lines[0]}" == *"no command given"* ]]
}

@test "--help exits 0 and names every command" {
	run "$CBT" --help
	[ "$status" -eq 0 ]
	for c in attach detach status checkpoint changes version snapshot; do
		[[ "$output" == *" $c "* ]]
	done
}

@test "every subcommand answers -h and --help with its own usage, exit 0" {
	for c in "${COMMANDS[@]}"; do
		for h in -h --help; do
			# shellcheck disable=SC2086
			run "$CBT" $c $h
			[ "$status" -eq 0 ]
			[ "${lines[0]}" = "Usage:" ]
			[[ "${lines[1]}" == " cbt-snap $c"* ]]
		done
	done
}

@test "--help of a command wins over its missing arguments" {
	run "$CBT" changes --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"--since STAMP"* ]]
	run "$CBT" snapshot destroy --help
	[ "$status" -eq 0 ]
}

@test "--version and -V print the CLI's, the library's and the module's versions" {
	for v in --version -V version; do
		run "$CBT" "$v"
		[ "$status" -eq 0 ]
		[ "${#lines[@]}" -eq 3 ]
		[ "${lines[0]}" = "cbt-snap from cbt $VERSION" ]
		[ "${lines[1]}" = "libcbt: $VERSION" ]
		[ "${lines[2]}" = "module: not loaded" ]
	done
}

@test "version junk and --version junk are usage errors" {
	run "$CBT" version junk
	usage_error version
	[[ "${lines[0]}" == *"'junk'"* ]]
	run "$CBT" --version junk
	usage_error ""
}

@test "an unknown command is a usage error naming it" {
	run "$CBT" frobnicate
	usage_error ""
	[[ "${lines[0]}" == *"unknown command 'frobnicate'"* ]]
	run "$CBT" snapshot explode
	usage_error snapshot
	[[ "${lines[0]}" == *"unknown command 'explode'"* ]]
	run "$CBT" --bogus
	usage_error ""
	[[ "${lines[0]}" == *"unrecognized option '--bogus'"* ]]
}

@test "an unknown option of any command: one line naming it, then Try" {
	for c in "${COMMANDS[@]}"; do
		# shellcheck disable=SC2086
		run "$CBT" $c --bogus
		usage_error "$c"
		[[ "${lines[0]}" == *"unrecognized option '--bogus'"* ]]
	done
}

@test "attach -xyz names -xyz, not attach" {
	run "$CBT" attach -xyz
	usage_error attach
	[ "${lines[0]}" = "cbt-snap: attach: unrecognized option '-xyz'" ]
	run "$CBT" attach /dev/null -xyz
	usage_error attach
	[ "${lines[0]}" = "cbt-snap: attach: unrecognized option '-xyz'" ]
	run "$CBT" status -Jq
	usage_error status
	[ "${lines[0]}" = "cbt-snap: status: unrecognized option '-Jq'" ]
}

@test "a missing option argument and an unknown option are different messages" {
	run "$CBT" attach --block-size
	usage_error attach
	[ "${lines[0]}" = "cbt-snap: attach: option '--block-size' requires an argument" ]
	run "$CBT" attach -b
	usage_error attach
	[ "${lines[0]}" = "cbt-snap: attach: option '-b' requires an argument" ]
	run "$CBT" snapshot create /dev/null --store
	usage_error "snapshot create"
	[[ "${lines[0]}" == *"'--store' requires an argument"* ]]
	run "$CBT" status --json=yes
	usage_error status
	[ "${lines[0]}" = "cbt-snap: status: option '--json' doesn't allow an argument" ]
	run "$CBT" attach --block-sighs 4K
	usage_error attach
	[[ "${lines[0]}" == *"unrecognized option '--block-sighs'"* ]]
}

@test "a missing positional argument says what is missing" {
	for c in attach detach checkpoint changes; do
		run "$CBT" "$c"
		usage_error "$c"
		[[ "${lines[0]}" == *"no volume given"* ]]
	done
	run "$CBT" snapshot create --store /tmp/s:1M
	usage_error "snapshot create"
	[[ "${lines[0]}" == *"no volume given"* ]]
	run "$CBT" snapshot destroy
	usage_error "snapshot destroy"
	[[ "${lines[0]}" == *"no set id given"* ]]
	run "$CBT" snapshot
	usage_error snapshot
	[[ "${lines[0]}" == *"create, list, destroy or watch"* ]]
}

@test "extra arguments are refused by name" {
	run "$CBT" detach /dev/a /dev/b
	usage_error detach
	[[ "${lines[0]}" == *"unexpected argument '/dev/b'"* ]]
	run "$CBT" snapshot list extra
	usage_error "snapshot list"
	run "$CBT" snapshot destroy 1 2
	usage_error "snapshot destroy"
	[[ "${lines[0]}" == *"unexpected argument '2'"* ]]
	run "$CBT" checkpoint --json /dev/null
	usage_error checkpoint
}

@test "repeated options are refused, not silently overridden" {
	run "$CBT" attach /dev/null -b 4K --block-size 8K
	usage_error attach
	[[ "${lines[0]}" == *"'--block-size' given more than once"* ]]
	run "$CBT" snapshot create /dev/null --store /tmp/s:1M --hold 1s --hold 2s
	usage_error "snapshot create"
	[[ "${lines[0]}" == *"'--hold' given more than once"* ]]
	run "$CBT" snapshot create /dev/null --store /tmp/s:1M --low-space 10 --low-space 20
	usage_error "snapshot create"
	run "$CBT" changes /dev/null --since a --since b
	usage_error changes
	run "$CBT" status -J --json
	usage_error status
	run "$CBT" checkpoint /dev/null -t 1s -t 2s
	usage_error checkpoint
	run "$CBT" snapshot watch 1 --grow /tmp:1M --grow /tmp:2M
	usage_error "snapshot watch"
}

@test "--store may be repeated: it adds stores" {
	run "$CBT" snapshot create /etc/hostname --store /tmp/cbt-a:1M --store /tmp/cbt-b:1M
	[ "$status" -eq 1 ]
	[[ "$output" == *"/etc/hostname"*"not a block device"* ]]
}

@test "set ids are plain decimal digits in range: ' -18446744073709551615' is not set 1" {
	for cmd in destroy watch; do
		for bad in ' -18446744073709551615' -18446744073709551615 ' 1' '1 ' +1 -1 0 00 \
			4294967296 18446744073709551617 0x1 1e3 12x abc ''; do
			run "$CBT" snapshot "$cmd" -- "$bad"
			usage_error "snapshot $cmd"
			[[ "${lines[0]}" == *"'$bad' is not a snapshot set id"* ]]
		done
	done
}

@test "a valid set id gets past parsing" {
	for id in 1 4294967295 007; do
		run "$CBT" snapshot destroy "$id"
		[ "$status" -eq 1 ]
		[[ "$output" == *"module is not loaded"* ]]
	done
}

@test "durations: --hold and --timeout take ms, s, m (bare: ms), nothing else" {
	for bad in 1K 58KiB 1M 0 0s 60001 61s 2m 1.5s 10S 10sec -5 " 5" 5ms5 ""; do
		run "$CBT" snapshot create /etc/hostname --store /tmp/cbt-never:1M --hold "$bad"
		usage_error "snapshot create"
		[[ "${lines[0]}" == *"--hold: a time from 1ms to 60s, not '$bad'"* ]]
	done
	for good in 1 500ms 10s 60000 60s 1m; do
		run "$CBT" snapshot create /etc/hostname --store /tmp/cbt-never:1M --hold "$good"
		[ "$status" -eq 1 ]
		[[ "$output" == *"not a block device"* ]]
	done
	for bad in 1K 0 2h 3600001 1d; do
		run "$CBT" checkpoint /etc/hostname --timeout "$bad"
		usage_error checkpoint
		[[ "${lines[0]}" == *"--timeout"* ]]
	done
	for good in 300 1h 30s 3600000; do
		run "$CBT" checkpoint /etc/hostname --timeout "$good"
		[ "$status" -eq 1 ]
		[[ "$output" == *"not a block device"* ]]
	done
}

@test "percentages: --low-space 20 or 20%, 1 to 90" {
	for bad in 150 101 100 91 0 -5 20x 20.5 "20 %" 1K "" %; do
		run "$CBT" snapshot create /etc/hostname --store /tmp/cbt-never:1M --low-space "$bad"
		usage_error "snapshot create"
		[[ "${lines[0]}" == *"--low-space: a percentage from 1 to 90, not '$bad'"* ]]
	done
	for good in 1 20 20% 90%; do
		run "$CBT" snapshot create /etc/hostname --store /tmp/cbt-never:1M --low-space "$good"
		[ "$status" -eq 1 ]
		[[ "$output" == *"not a block device"* ]]
	done
}

@test "sizes: bytes or K, M, G, T with an optional iB, nothing else" {
	for bad in 3000 2M 1K 0 12K abc -5 64Q 4KB 4k 4Ki 4kib 1K5 " 4K" 4K\  0x1000 4B ""; do
		run "$CBT" attach /dev/null --block-size "$bad"
		usage_error attach
		[[ "${lines[0]}" == *"--block-size: a power of two from 4K to 1M, not '$bad'"* ]]
	done
	for good in 4096 4K 4KiB 64K 1M 1MiB 1048576; do
		run "$CBT" attach /etc/hostname --block-size "$good"
		[ "$status" -eq 1 ]
		[[ "$output" == *"not a block device"* ]]
	done
	for bad in 1Q 1KB -1 18446744073709551616 17179869184T; do
		run "$CBT" changes /dev/null --since x --offset "$bad"
		usage_error changes
		[[ "${lines[0]}" == *"--offset: not a size"* ]]
	done
}

@test "--store PATH:SIZE with a bad SIZE is refused, and no file is made" {
	cd "$BATS_TEST_TMPDIR"
	for bad in cow:4G5 cow:0 cow:1KB cow:-1 cow: :1M; do
		run "$CBT" snapshot create /etc/hostname --store "$bad"
		usage_error "snapshot create"
		[[ "${lines[0]}" == *"--store"*"'$bad'"* ]]
		[ ! -e "$bad" ]
	done
	[ -z "$(ls -A)" ]
}

@test "--grow is checked in full before anything is opened" {
	f=$BATS_TEST_TMPDIR/plain
	: >"$f"
	for bad in /tmp "/tmp:" /tmp:0 /tmp:4G5 /tmp:1KB ":1M"; do
		run "$CBT" snapshot watch 1 --grow "$bad"
		usage_error "snapshot watch"
		[[ "${lines[0]}" == *"--grow: DIR:SIZE expected, not '$bad'"* ]]
	done
	for bad in /does-not-exist:1M "$f:1M"; do
		run "$CBT" snapshot watch 1 --grow "$bad"
		usage_error "snapshot watch"
		[[ "${lines[0]}" == *"is not a directory"* ]]
	done
	run "$CBT" snapshot watch 1 --grow "$BATS_TEST_TMPDIR:16MiB"
	[ "$status" -eq 1 ]
	[[ "$output" == *"module is not loaded"* ]]
}

@test "-o: unknown columns are refused, known ones in any case are taken" {
	run "$CBT" status -o DEVICE,NOPE
	usage_error status
	[[ "${lines[0]}" == *"unknown column 'NOPE'"* ]]
	run "$CBT" snapshot list -o ID,
	usage_error "snapshot list"
	run "$CBT" snapshot list --output ''
	usage_error "snapshot list"
	run "$CBT" status -o device,maj:min,+lost
	usage_error status
	run "$CBT" status -o device,MAJ:MIN,lost -r -n
	[ "$status" -eq 1 ]
	[[ "$output" == *"module is not loaded"* ]]
	run "$CBT" snapshot list -o +chunks-copied --json
	[ "$status" -eq 1 ]
	[[ "$output" == *"module is not loaded"* ]]
}

@test "--help lists every column, and the man page documents each" {
	for c in status "snapshot list"; do
		# shellcheck disable=SC2086
		run "$CBT" $c --help
		[ "$status" -eq 0 ]
		cols=$(echo "$output" | sed -n '/^Available output columns/,$p' | sed 1d | awk '{print $1}')
		[ "$(echo "$cols" | wc -l)" -ge 12 ]
		for col in $cols; do
			grep -q "^\.B $col\$" "$MAN"
			key=$(echo "$col" | tr 'A-Z' 'a-z')
			grep -qF "$key" "$MAN"
		done
	done
}

@test "status --json without the module fails cleanly: one line, nothing on stdout" {
	run --separate-stderr "$CBT" status --json
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == *"modprobe cbt"* ]]
	run --separate-stderr "$CBT" snapshot list --json
	[ "$status" -eq 1 ]
	[ -z "$output" ]
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
	usage_error changes
	[[ "${lines[0]}" == *"--since"* ]]
	for s in garbage "12345678-1234-1234-1234-123456789abc" \
		"12345678-1234-1234-1234-123456789abc:" \
		"12345678-1234-1234-1234-123456789abc:x" \
		"12345678-1234-1234-1234-123456789abz:5" \
		"12345678-1234-1234-1234-123456789abc:5junk" \
		"12345678-1234-1234-1234-123456789abc:5\"" \
		"12345678123412341234123456789abc:5"; do
		run "$CBT" changes /dev/null --since "$s"
		usage_error changes
		[[ "${lines[0]}" == *"not a stamp"* ]]
	done
}

@test "snapshot create names a volume that is not a block device, and makes no store" {
	run "$CBT" snapshot create /etc/hostname --store /tmp/cbt-never:1M
	[ "$status" -eq 1 ]
	[[ "$output" == *"/etc/hostname"*"not a block device"* ]]
	[ ! -e /tmp/cbt-never ]
}

# ---- output shapes, over canned library answers (tests/host/fake-cbt-lib.c)

fake() {
	make -s -C "$BATS_TEST_DIRNAME/../.." tests/cbt-snap-fake >/dev/null
	FAKE="$BATS_TEST_DIRNAME/../cbt-snap-fake"
}

@test "fake: status --json is one object with a volumes array of typed values" {
	fake
	run --separate-stderr "$FAKE" status --json
	[ "$status" -eq 0 ]
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert list(d) == ["volumes"], d
want = {"device": str, "maj:min": str, "tracker-uuid": str, "generation": int,
        "oldest": int, "block-size": int, "size": int, "blocks": int, "changed": int,
        "map-bytes": int, "lost": bool, "fstype": type(None), "fsuuid": type(None)}
assert [{k: type(x) for k, x in v.items()} for v in d["volumes"]] == [want, want], d
assert [v["lost"] for v in d["volumes"]] == [False, True], d
assert d["volumes"][1]["size"] == 2 << 40, d
' "$output"
}

@test "fake: status table, -o in any case, +LIST, --raw, --noheadings" {
	fake
	run "$FAKE" status
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[[ "${lines[0]}" == "DEVICE "*"MAJ:MIN"*"BLOCK-SIZE"*"SIZE"*"GENERATION"*"CHANGED"*"MAP-BYTES"*"LOST"*"FSTYPE" ]]
	[[ "${lines[2]}" == "/dev/fake1 8:16 "*" 2199023255552 "*" yes"* ]]
	run "$FAKE" status -o device,Lost,SIZE -r
	[ "$output" = "$(printf 'DEVICE LOST SIZE\n/dev/fake0 no 1099511627776\n/dev/fake1 yes 2199023255552')" ]
	run "$FAKE" status /dev/fake0 -o +TRACKER-UUID -rn
	[ "$output" = "/dev/fake0 8:0 65536 1099511627776 5 42 4096 no  aaaaaaaa-bbbb-cccc-dddd-000000000000" ]
	run "$FAKE" status /dev/fake1 -o DEVICE,LOST --json
	[ "$output" = "$(printf '{\n   "volumes": [\n      {\n         "device": "/dev/fake1",\n         "lost": true\n      }\n   ]\n}')" ]
}

@test "fake: snapshot list --json: snapsets, state an array, members as children" {
	fake
	run --separate-stderr "$FAKE" snapshot list --json
	[ "$status" -eq 0 ]
	python3 -c '
import json, sys
d = json.loads(sys.argv[1])
assert list(d) == ["snapsets"], d
s = d["snapsets"][0]
assert s["id"] == 7 and s["state"] == ["ok", "low-space", "writable"], s
for k in ("store-size", "store-used", "stores", "chunks-copied", "hold-ns"):
    assert type(s[k]) is int, k
assert [m["volume"] for m in s["children"]] == ["/dev/fake0", "/dev/fake1"], s
assert [m["quiesced"] for m in s["children"]] == [True, False], s
assert [m["frozen"] for m in s["children"]] == [1, 0], s
assert all(m["id"] == 7 and m["store-size"] is None for m in s["children"]), s
keys = sorted(s)
assert all(sorted(m) == [k for k in keys if k != "children"] for m in s["children"]), s
' "$output"
	run "$FAKE" snapshot list -r -n -o id,state,volume
	[ "$output" = "$(printf '7 ok,low-space,writable \n7 ok,low-space,writable /dev/fake0\n7 ok,low-space,writable /dev/fake1')" ]
}

@test "fake: snapshot create --json prints the set as snapshot list does" {
	fake
	run --separate-stderr "$FAKE" snapshot create /dev/fake0 /dev/fake1 --store /tmp/cbt-never:1M --json
	[ "$status" -eq 0 ]
	created=$output
	run --separate-stderr "$FAKE" snapshot list --json
	[ "$created" = "$output" ]
	run --separate-stderr "$FAKE" snapshot create /dev/fake0 --store /tmp/cbt-never:1M
	[ "$output" = "$(printf '7\n/dev/fake0 aaaaaaaa-bbbb-cccc-dddd-000000000000:5 /dev/cbt-snap7-0\n/dev/fake1 aaaaaaaa-bbbb-cccc-dddd-000000000001:6 /dev/cbt-snap7-1')" ]
}

@test "fake: changes --json: stamp, block-size, one extent a line; text the same extents" {
	fake
	S=12345678-1234-1234-1234-123456789abc:5
	run "$FAKE" changes /dev/fake0 --since "$S" --json
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '{"stamp": "%s", "block-size": 4096, "changes": [\n{"offset": 0, "length": 4096},\n{"offset": 8192, "length": 4096},\n{"offset": 16384, "length": 4096}\n]}' "$S")" ]
	CBT_FAKE_EXTENTS=0 run "$FAKE" changes /dev/fake0 --since "$S" --json
	[ "$output" = "{\"stamp\": \"$S\", \"block-size\": 4096, \"changes\": []}" ]
	run "$FAKE" changes /dev/fake0 --since "$S"
	[ "$output" = "$(printf '0 4096\n8192 4096\n16384 4096')" ]
}

@test "fake: changes --json streams: 4 million extents in the same memory as 1000" {
	fake
	S=12345678-1234-1234-1234-123456789abc:5
	small=$(CBT_FAKE_EXTENTS=1000 /usr/bin/time -f %M "$FAKE" changes /dev/fake0 --since "$S" --json 2>&1 >/dev/null)
	big=$(CBT_FAKE_EXTENTS=4000000 /usr/bin/time -f %M "$FAKE" changes /dev/fake0 --since "$S" --json 2>&1 >/dev/null)
	echo "peak RSS KiB: 1000 extents $small, 4000000 extents $big"
	[ "$big" -le $((small + 512)) ]
	n=$(CBT_FAKE_EXTENTS=100000 "$FAKE" changes /dev/fake0 --since "$S" --json |
		python3 -c 'import json,sys; print(len(json.load(sys.stdin)["changes"]))')
	[ "$n" -eq 100000 ]
}

@test "fake: --version names the loaded module's version" {
	fake
	run "$FAKE" --version
	[ "$status" -eq 0 ]
	[ "${lines[2]}" = "module: 9.9.9 (ABI 1)" ]
}
