#!/usr/bin/env bats
# Hostile and mistaken input: every bad request gets a clear error and
# changes nothing.

load helpers

setup() {
	long_gate
	common_setup
	A=$(make_loop 64M)
	B=$(make_loop 64M)
}

teardown() {
	chmod 0600 /dev/cbt-ctl 2>/dev/null || true
	cbt detach "$A" 2>/dev/null || true
	del_loop "$A"
	del_loop "$B"
	for d in ${FUZZDEVS:-}; do
		cbt detach "$d" 2>/dev/null || true
		del_loop "$d"
	done
	# Modules the fuzzer's device numbers loaded (block-major-N aliases).
	[ -z "${MODS_BEFORE:-}" ] || for m in $(comm -13 <(echo "$MODS_BEFORE") <(awk '{print $1}' /proc/modules | sort)); do
		rmmod "$m" 2>/dev/null || true
	done
}

@test "bad ioctls get the documented errors; the tracker is untouched" {
	cbt attach "$A" --block-size 4K
	STAMP=$(cbt checkpoint "$A")
	for i in 3 50 51 52 900; do
		dd if=/dev/urandom of="$A" bs=4096 count=1 seek=$i oflag=direct conv=notrunc status=none
		echo "$((i * 4096)) 4096" >>"$WRITTEN"
	done
	before=$(cbt status "$A" --json | python3 -c 'import json,sys; s=json.load(sys.stdin)["volumes"][0]; print(s["tracker-uuid"], s["generation"])')
	run "$REPO/tests/ioctl-abuse" "$A" "$B" "$STAMP"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"0 failures"* ]]
	after=$(cbt status "$A" --json | python3 -c 'import json,sys; s=json.load(sys.stdin)["volumes"][0]; print(s["tracker-uuid"], s["generation"])')
	[ "$before" = "$after" ]
	verify_changes "$A" 4096 --exact
	# ioctl-abuse compares the bitmap with the extents; here both against
	# the blocks written.
	PYTHONPATH=$TLIB python3 - "$A" "$STAMP" <<'PY'
import sys
import cbt_ioctl as c
got = c.changes_bitmap(c.ctl(), sys.argv[1], sys.argv[2])
assert got == {3, 50, 51, 52, 900}, sorted(got)[:20]
PY
	run cbt status "$B"
	[ "$status" -eq 1 ]
}

@test "an unprivileged caller gets EPERM, even with the node opened up" {
	cbt attach "$A"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$CBT" status "$A"
	[ "$status" -eq 1 ]
	[[ "$output" == *"Permission denied"* || "$output" == *"permission denied"* ]]
	chmod 0666 /dev/cbt-ctl
	run setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$REPO/tests/ioctl-abuse" --unprivileged "$A"
	echo "$output"
	[ "$status" -eq 0 ]
	run setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$CBT" detach "$A"
	[ "$status" -eq 1 ]
	[[ "$output" == *"CAP_SYS_ADMIN"* ]]
	cbt status "$A" >/dev/null
}

@test "CLI: non-block files, unknown devices, stamps of another volume" {
	run cbt attach /etc/passwd
	[ "$status" -eq 1 ]
	[[ "$output" == *"not a block device"* ]]
	run cbt attach /dev/nonexistent
	[ "$status" -eq 1 ]
	[[ "$output" == *"No such file"* ]]
	run cbt attach UUID=11111111-2222-3333-4444-555555555555
	[ "$status" -eq 1 ]
	cbt attach "$A"
	cbt attach "$B"
	SA=$(cbt checkpoint "$A")
	run cbt changes "$B" --since "$SA"
	[ "$status" -eq 1 ]
	[[ "$output" == *"full backup"* ]]
	run cbt changes "$A" --since "${SA%:*}:999999"
	[ "$status" -eq 1 ]
	[[ "$output" == *"Invalid argument"* ]]
	run cbt changes "$A" --since "$SA" --offset 1G
	[ "$status" -eq 1 ]
	cbt detach "$B"
	run cbt checkpoint "$B"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not tracked"* ]]
}

@test "volumes by LABEL= and UUID= resolve through libblkid" {
	mkfs.ext4 -q -F -L cbtlabel -U 0c0ffee0-1234-4321-abcd-0123456789ab "$A"
	cbt attach LABEL=cbtlabel
	run cbt status UUID=0c0ffee0-1234-4321-abcd-0123456789ab --json
	[ "$status" -eq 0 ]
	echo "$output" | python3 -c '
import json, sys
s = json.load(sys.stdin)["volumes"][0]
assert s["fstype"] == "ext4", s
assert s["fsuuid"] == "0c0ffee0-1234-4321-abcd-0123456789ab", s
'
	cbt detach LABEL=cbtlabel
}

@test "fuzzing every ioctl one field at a time: clean refusals, consistent successes, nothing broken" {
	# A tracked, B untracked, a live set on C, sets made and ended on D
	# (tests/ioctl-fuzz.c). FUZZ_SEED repeats a run; FUZZ_SECONDS bounds the
	# random part after the sweep of every field.
	C=$(make_loop 64M)
	D=$(make_loop 64M)
	FUZZDEVS="$C $D"
	MODS_BEFORE=$(awk '{print $1}' /proc/modules | sort)
	mkdir -p "$BATS_TEST_TMPDIR/stores"
	run "$REPO/tests/ioctl-fuzz" ${FUZZ_SEED:+-s "$FUZZ_SEED"} -t "${FUZZ_SECONDS:-15}" \
		"$A" "$B" "$C" "$D" "$BATS_TEST_TMPDIR/stores"
	echo "$output" | grep -v '^     '
	[ "$status" -eq 0 ]
	[[ "$output" == *", 0 failures"* ]]
	# It swept every command.
	[ "$(echo "$output" | grep -c '^sweep ')" -eq 17 ]
	# Nothing is left behind, and the module still tracks.
	[ -z "$(cbt snapshot list)" ]
	run cbt status
	[[ "$output" != *"$A"* ]]
	cbt attach "$A" --block-size 4K
	STAMP=$(cbt checkpoint "$A")
	write_direct "$A" 8192 4096 0
	verify_changes "$A" 4096 --exact
}
