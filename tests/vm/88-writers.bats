#!/usr/bin/env bats
# Writers: applications driven through each snapshot set (PREPARE, FREEZE,
# the instant, THAW, POST_SNAPSHOT, COMPLETE or ABORT) through the raw
# ioctls (tests/writer-tool), with timeouts, policies and complex stores.

load helpers
load writers

WT=$REPO/tests/writer-tool

setup() {
	long_gate
	common_setup
	LOOPS=()
	WPIDS=()
	mkdir -p /tmp/cbt-w
	STORE=$BATS_TEST_TMPDIR/store
	truncate -s 64M "$STORE"
	chmod 600 "$STORE"
}

teardown() {
	local id p l
	for p in "${WPIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${WPIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	chmod 0600 /dev/cbt-ctl 2>/dev/null || true
	for id in $(cbt snapshot list --json 2>/dev/null | python3 -c 'import json,sys; [print(s["id"]) for s in json.load(sys.stdin)["snapsets"]]' 2>/dev/null); do
		cbt snapshot destroy "$id" || true
	done
	umount /tmp/cbt-w 2>/dev/null || true
	for l in "${LOOPS[@]}"; do
		cbt detach "$l" 2>/dev/null || true
		del_loop "$l"
	done
	rm -rf "${BATS_TEST_TMPDIR:?}"/*
}

# new_vol: a tracked loop device; sets $DEV.
new_vol() {
	DEV=$(make_loop 32M)
	LOOPS+=("$DEV")
	cbt attach "$DEV" >/dev/null
}

majmin() {
	printf '%d:%d\n' "0x$(stat -c %t "$1")" "0x$(stat -c %T "$1")"
}

# create ARGS...: a set with writers; output in $OUT, $ID set on success.
create() {
	run "$WT" create "$@"
	OUT=$output
	ID=$(echo "$output" | awk '$1 == "ID" {print $2}')
}

result_of() {
	echo "$OUT" | grep "^RESULT $1 "
}

sets() {
	cbt snapshot list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["snapsets"]))'
}

@test "writers: one writer sees prepare, freeze, thaw, post in order; its base stamp in PREPARE; its stamp and extents in the results; END success gives COMPLETE 1" {
	new_vol
	A=$DEV
	writer w1 --component db:"$A" --stamp NEWSTAMP-42 --extent "$A":4096:8192
	create --policy require --type incremental --stamp w1=BASE-7 --store "$STORE" "$A"
	echo "$OUT"
	[ "$status" -eq 0 ]
	[ -n "$ID" ]
	[ "$(events w1)" = "prepare freeze thaw post " ]
	grep -q "^EVENT [0-9]* prepare $ID incremental 0 stamp=BASE-7$" "$BATS_TEST_TMPDIR/w1"
	[ "$(grep -c ' ret=ok$' "$BATS_TEST_TMPDIR/w1")" -eq 4 ]
	result_of w1 | grep -q 'phase=post failed_phase=- error=0 completed=0'
	result_of w1 | grep -q 'stamp="NEWSTAMP-42"'
	result_of w1 | grep -q "extents=$(majmin "$A"):4096:8192$"
	run "$WT" end "$ID" success
	[ "$status" -eq 0 ]
	grep -q "^EVENT [0-9]* complete $ID incremental 1 stamp=$" "$BATS_TEST_TMPDIR/w1"
	run "$WT" results "$ID"
	echo "$output"
	echo "$output" | grep -q '^RESULT w1 phase=complete failed_phase=- error=0 completed=1'
	echo "$output" | grep -q 'stamp="NEWSTAMP-42"'
	run "$WT" end "$ID" success
	[ "$output" = "ERROR EALREADY" ]
	run "$WT" list
	echo "$output" | grep -q "^WRITER w1 .* phase=- last_set=$ID last_phase=complete last_error=0 "
}

@test "writers: three writers each see the order; END failure gives COMPLETE 0; destroy without END gives ABORT" {
	new_vol
	A=$DEV
	new_vol
	B=$DEV
	writer w1 --component data:"$A"
	writer w2 --component data:"$B"
	writer w3 --component data:"$A" --component log:"$B"
	run "$WT" list
	[ "$(echo "$output" | sed -n 1p)" = "COUNT 3" ]
	create --policy require --type full --store "$STORE" "$A" "$B"
	echo "$OUT"
	[ "$status" -eq 0 ]
	[ "$(echo "$OUT" | sed -n 1p)" = "COUNT 3" ]
	[ "$(events w1)" = "prepare freeze thaw post " ]
	[ "$(events w2)" = "prepare freeze thaw post " ]
	[ "$(events w3)" = "prepare freeze thaw post " ]
	run "$WT" end "$ID" failure
	[ "$status" -eq 0 ]
	for w in w1 w2 w3; do
		grep -q "^EVENT [0-9]* complete $ID full 0 " "$BATS_TEST_TMPDIR/$w"
	done
	# A second set, destroyed without END: ABORT to each.
	truncate -s 64M "$STORE.2"
	chmod 600 "$STORE.2"
	cbt snapshot destroy "$ID"
	create --policy best-effort --type copy --store "$STORE.2" "$A" "$B"
	[ "$status" -eq 0 ]
	cbt snapshot destroy "$ID"
	for w in w1 w2 w3; do
		wait_for "$BATS_TEST_TMPDIR/$w" "^EVENT [0-9]* abort $ID copy "
	done
	[ "$(events w1)" = "prepare freeze thaw post complete prepare freeze thaw post abort " ]
}

@test "writers: each phase's timeout fails the writer with ETIMEDOUT; its late ack gets ESTALE; best-effort takes the set" {
	new_vol
	A=$DEV
	for phase in prepare freeze thaw post; do
		writer "slow-$phase" --component db:"$A" --delay "$phase":2500
		create --policy best-effort --type full --freeze-ms 1000 --phase-ms 1000 --store "$STORE" "$A"
		echo "$OUT"
		[ "$status" -eq 0 ]
		result_of "slow-$phase" | grep -q "failed_phase=$phase error=ETIMEDOUT "
		wait_for "$BATS_TEST_TMPDIR/slow-$phase" "^ACK [0-9]* $phase status=0 ret=ESTALE$"
		kill -9 "${WPIDS[-1]}"
		wait "${WPIDS[-1]}" || true
		cbt snapshot destroy "$ID"
	done
}

@test "writers: under require a writer failing FREEZE aborts the set: EBUSY, no set, nothing frozen, ABORT to all" {
	new_vol
	A=$DEV
	mkfs.ext4 -q "$A"
	mount "$A" /tmp/cbt-w
	writer bad --component db:"$A" --fail freeze:"disk on fire"
	writer good --component db:"$A"
	create --policy require --type full --store "$STORE" "$A"
	echo "$OUT"
	[ "$status" -eq 1 ]
	echo "$OUT" | grep -qx "ERROR EBUSY"
	result_of bad | grep -q 'failed_phase=freeze error=EIO .*message="disk on fire"'
	result_of good | grep -q 'failed_phase=- error=0'
	[ "$(sets)" -eq 0 ]
	timeout 10 dd if=/dev/zero of=/tmp/cbt-w/after bs=4k count=1 conv=fsync status=none
	wait_for "$BATS_TEST_TMPDIR/bad" '^EVENT [0-9]* abort '
	wait_for "$BATS_TEST_TMPDIR/good" '^EVENT [0-9]* abort '
	[ "$(events good)" = "prepare freeze abort " ]
}

@test "writers: under best-effort a writer failing FREEZE is reported and gets ABORT at once, then nothing more" {
	new_vol
	A=$DEV
	writer bad --component db:"$A" --fail freeze:nope
	writer good --component db:"$A"
	create --policy best-effort --type full --store "$STORE" "$A"
	echo "$OUT"
	[ "$status" -eq 0 ]
	result_of bad | grep -q 'failed_phase=freeze error=EIO .*message="nope"'
	result_of good | grep -q 'phase=post failed_phase=- error=0'
	[ "$(events good)" = "prepare freeze thaw post " ]
	wait_for "$BATS_TEST_TMPDIR/bad" "^ACK [0-9]* abort status=0 ret=ok$"
	[ "$(events bad)" = "prepare freeze abort " ]
	run "$WT" end "$ID" success
	[ "$status" -eq 0 ]
	[ "$(events bad)" = "prepare freeze abort " ]
	# Its ABORT ack (no message) does not hide why it failed.
	run "$WT" results "$ID"
	echo "$output" | grep -q '^RESULT bad phase=abort failed_phase=freeze error=EIO completed=1 message="nope"'
	run "$WT" list
	echo "$output" | grep -q "^WRITER bad .* last_set=$ID last_phase=freeze last_error=EIO last_message=\"nope\""
}

@test "writers: a writer killed while frozen fails at once (ESRCH), far under the freeze window" {
	new_vol
	A=$DEV
	writer frozen --component db:"$A" --delay freeze:600000
	WP=${WPIDS[-1]}
	( sleep 1; wait_for "$BATS_TEST_TMPDIR/frozen" '^EVENT [0-9]* freeze ' && kill -9 "$WP" ) &
	t0=$(date +%s)
	create --policy best-effort --type full --freeze-ms 60000 --store "$STORE" "$A"
	t1=$(date +%s)
	echo "$OUT"
	[ "$status" -eq 0 ]
	result_of frozen | grep -q 'failed_phase=freeze error=ESRCH'
	[ $((t1 - t0)) -lt 20 ]
	run "$WT" list
	[ "$(echo "$output" | sed -n 1p)" = "COUNT 0" ]
}

@test "writers: a writer that never reads times out and the result says so" {
	new_vol
	A=$DEV
	writer deaf --component db:"$A" --no-read
	create --policy best-effort --type full --phase-ms 1000 --store "$STORE" "$A"
	echo "$OUT"
	[ "$status" -eq 0 ]
	result_of deaf | grep -q 'phase=abort failed_phase=prepare error=ETIMEDOUT .*message="no ack in time"'
	cbt snapshot destroy "$ID"
	create --policy require --type full --phase-ms 1000 --store "$STORE" "$A"
	[ "$status" -eq 1 ]
	echo "$OUT" | grep -qx "ERROR EBUSY"
}

@test "writers: a complex store pulls its second volume in: EXDEV naming it, then both" {
	new_vol
	A=$DEV
	new_vol
	B=$DEV
	writer pg --component db:"$A","$B"
	create --policy require --type full --store "$STORE" "$A"
	echo "$OUT"
	[ "$status" -eq 1 ]
	echo "$OUT" | grep -qx "ERROR EXDEV"
	echo "$OUT" | grep -qx "MISSING $(majmin "$B")"
	[ "$(events pg)" = "" ]
	[ "$(sets)" -eq 0 ]
	create --policy require --type full --store "$STORE" "$A" "$B"
	[ "$status" -eq 0 ]
	[ "$(events pg)" = "prepare freeze thaw post " ]
}

@test "writers: a component on volumes the set does not touch is not missing: no EXDEV" {
	new_vol
	A=$DEV
	new_vol
	B=$DEV
	writer pg --component data:"$A" --component archive:"$B"
	create --policy require --type full --store "$STORE" "$A"
	echo "$OUT"
	[ "$status" -eq 0 ]
	[ "$(events pg)" = "prepare freeze thaw post " ]
}

@test "writers: a backup type a writer does not take: EOPNOTSUPP and no events; policy none: no events" {
	new_vol
	A=$DEV
	writer fullonly --component db:"$A" --types 0x2
	create --policy require --type copy --store "$STORE" "$A"
	echo "$OUT"
	[ "$status" -eq 0 ]
	result_of fullonly | grep -q 'phase=- failed_phase=- error=EOPNOTSUPP'
	cbt snapshot destroy "$ID"
	create --policy none --type full --store "$STORE" "$A"
	[ "$status" -eq 0 ]
	[ "$(echo "$OUT" | sed -n 1p)" = "COUNT 0" ]
	cbt snapshot destroy "$ID"
	[ "$(events fullonly)" = "" ]
}

@test "writers: 300 register/unregister cycles leave no writer, no fd, no reference: the module unloads" {
	new_vol
	A=$DEV
	run "$WT" cycles 300 "$A"
	echo "$output"
	[ "$status" -eq 0 ]
	for i in 1 2 3 4 5; do
		writer "k$i" --component db:"$A" --delay prepare:600000
		create --policy best-effort --type full --phase-ms 500 --store "$STORE" "$A"
		kill -9 "${WPIDS[-1]}"
		wait "${WPIDS[-1]}" || true
		cbt snapshot destroy "$ID"
	done
	run "$WT" list
	[ "$output" = "COUNT 0" ]
	cbt detach "$A"
	rmmod cbt
	[ ! -e /sys/module/cbt ]
	insmod "$KO"
}

@test "writers: bad input for every new ioctl" {
	new_vol
	run "$WT" abuse "$DEV" "$STORE"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | grep -c '^FAIL')" -eq 0 ]
}

@test "writers: unprivileged callers get EPERM for register, list, results, end; a writer without CAP_SYS_ADMIN acks" {
	new_vol
	A=$DEV
	chmod 0666 /dev/cbt-ctl
	run setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$WT" writer --name u --component db:"$A"
	[ "$output" = "ERROR EPERM" ]
	run setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$WT" list
	[ "$output" = "ERROR EPERM" ]
	run setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$WT" results 1
	[ "$output" = "ERROR EPERM" ]
	run setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$WT" end 1 success
	[ "$output" = "ERROR EPERM" ]
	chmod 0600 /dev/cbt-ctl
	writer nocaps --component db:"$A" --drop-caps
	grep -q CapEff:.0000000000000000 "/proc/${WPIDS[-1]}/status"
	create --policy require --type full --store "$STORE" "$A"
	[ "$status" -eq 0 ]
	[ "$(grep -c ' ret=ok$' "$BATS_TEST_TMPDIR/nocaps")" -eq 4 ]
}
