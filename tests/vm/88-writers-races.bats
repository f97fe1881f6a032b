#!/usr/bin/env bats
# Writers and the races around a set's life: END against destroy, a set
# destroyed while its creation is still in the round, two creations at
# once, and what a failed, slow or vanished writer is sent. Windows are
# widened with the fault injection module's fault_create_wait_at/_ms.

load helpers
load writers

WT=$REPO/tests/writer-tool

setup() {
	long_gate
	common_setup
	LOOPS=()
	WPIDS=()
	STORE=$BATS_TEST_TMPDIR/store
	truncate -s 64M "$STORE"
	chmod 600 "$STORE"
}

teardown() {
	local id p l
	for p in "${WPIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${WPIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	for id in $(cbt snapshot list --json 2>/dev/null | python3 -c 'import json,sys; [print(s["id"]) for s in json.load(sys.stdin)["snapsets"]]' 2>/dev/null); do
		cbt snapshot destroy "$id" || true
	done
	for l in "${LOOPS[@]}"; do
		cbt detach "$l" 2>/dev/null || true
		del_loop "$l"
	done
	unload_fault_module
	rm -rf "${BATS_TEST_TMPDIR:?}"/*
}

new_vol() {
	DEV=$(make_loop 32M)
	LOOPS+=("$DEV")
	cbt attach "$DEV" >/dev/null
}

# wait_count FILE REGEX N: until N lines of FILE match, up to 20 s.
wait_count() {
	local i
	for ((i = 0; i < 200; i++)); do
		[ "$(grep -cE "$2" "$1")" -ge "$3" ] && return 0
		sleep 0.1
	done
	echo "timed out waiting for $3 lines '$2' in $1:" >&2
	cat "$1" >&2
	return 1
}

# The set id of writer NAME's first event of PHASE.
event_set() {
	awk -v p="$2" '$1 == "EVENT" && $3 == p {print $4; exit}' "$BATS_TEST_TMPDIR/$1"
}

create() {
	run "$WT" create "$@"
	OUT=$output
	ID=$(echo "$output" | awk '$1 == "ID" {print $2}')
}

# create_bg NAME ARGS...: a create in the background, output in NAME.out.
create_bg() {
	local name=$1
	shift
	"$WT" create "$@" >"$BATS_TEST_TMPDIR/$name.out" 2>&1 &
	CPID=$!
}

result_of() {
	echo "$OUT" | grep "^RESULT $1 "
}

sets() {
	cbt snapshot list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["snapsets"]))'
}

@test "writers race: a set destroyed while its creation waits for THAW: ABORT, the create fails ENOENT, no set" {
	new_vol
	A=$DEV
	writer w --component db:"$A" --delay thaw:5000
	create_bg c --policy require --type full --store "$STORE" "$A"
	wait_for "$BATS_TEST_TMPDIR/w" '^EVENT [0-9]* thaw '
	id=$(event_set w thaw)
	cbt snapshot destroy "$id"
	rc=0
	wait "$CPID" || rc=$?
	cat "$BATS_TEST_TMPDIR/c.out"
	[ "$rc" -eq 1 ]
	grep -qx "ERROR ENOENT" "$BATS_TEST_TMPDIR/c.out"
	grep -q "^RESULT w " "$BATS_TEST_TMPDIR/c.out"
	wait_for "$BATS_TEST_TMPDIR/w" "^EVENT [0-9]* abort $id "
	[ "$(events w)" = "prepare freeze thaw abort " ]
	[ "$(sets)" -eq 0 ]
	run "$WT" end "$id" success
	[ "$output" = "ERROR ENOENT" ]
}

@test "writers race: a set destroyed after it is made, before THAW (fault window): ABORT and no THAW, the create fails ENOENT" {
	load_fault_module
	new_vol
	A=$DEV
	writer w --component db:"$A"
	fault fault_create_wait_at 3
	# The window must outlast starting cbt and its destroy: 5 s was too
	# short on the debug kernel (KASAN, lockdep) under TCG.
	fault fault_create_wait_ms 15000
	create_bg c --policy best-effort --type full --store "$STORE" "$A"
	wait_fault fault_create_waiting 1
	id=$(event_set w freeze)
	[ -n "$id" ]
	cbt snapshot destroy "$id"
	rc=0
	wait "$CPID" || rc=$?
	cat "$BATS_TEST_TMPDIR/c.out"
	[ "$rc" -eq 1 ]
	grep -qx "ERROR ENOENT" "$BATS_TEST_TMPDIR/c.out"
	wait_for "$BATS_TEST_TMPDIR/w" "^ACK [0-9]* abort status=0 ret=ok$"
	[ "$(events w)" = "prepare freeze abort " ]
	[ "$(sets)" -eq 0 ]
}

@test "writers race: END against destroy: exactly one of COMPLETE or ABORT each time; END of a set being destroyed is ENOENT" {
	new_vol
	A=$DEV
	writer w --component db:"$A"
	for i in 1 2 3 4 5 6 7 8; do
		truncate -s 64M "$STORE.$i"
		chmod 600 "$STORE.$i"
		create --policy require --type full --store "$STORE.$i" "$A"
		[ "$status" -eq 0 ]
		"$WT" end "$ID" success >"$BATS_TEST_TMPDIR/end.$i" 2>&1 &
		e1=$!
		"$WT" end "$ID" failure >"$BATS_TEST_TMPDIR/end2.$i" 2>&1 &
		e2=$!
		cbt snapshot destroy "$ID"
		wait "$e1" || true
		wait "$e2" || true
		wait_count "$BATS_TEST_TMPDIR/w" "^ACK [0-9]* (complete|abort) status=0 ret=ok$" "$i"
		sleep 0.3
		cat "$BATS_TEST_TMPDIR/end.$i" "$BATS_TEST_TMPDIR/end2.$i"
		[ "$(grep -cE "^EVENT [0-9]* (complete|abort) $ID " "$BATS_TEST_TMPDIR/w")" -eq 1 ]
		[ "$(cat "$BATS_TEST_TMPDIR/end.$i" "$BATS_TEST_TMPDIR/end2.$i" | grep -c '^ENDED')" -le 1 ]
		# an END that succeeded sent the one COMPLETE
		if grep -q '^ENDED' "$BATS_TEST_TMPDIR/end.$i" "$BATS_TEST_TMPDIR/end2.$i"; then
			grep -qE "^EVENT [0-9]* complete $ID " "$BATS_TEST_TMPDIR/w"
		fi
	done
	[ "$(sets)" -eq 0 ]
}

@test "writers race: END waiting for a slow COMPLETE ack while the set is destroyed: no ABORT after the COMPLETE" {
	new_vol
	A=$DEV
	writer w --component db:"$A" --delay complete:2000
	create --policy require --type full --store "$STORE" "$A"
	[ "$status" -eq 0 ]
	"$WT" end "$ID" success >"$BATS_TEST_TMPDIR/end" 2>&1 &
	e=$!
	wait_for "$BATS_TEST_TMPDIR/w" "^EVENT [0-9]* complete $ID "
	cbt snapshot destroy "$ID"
	wait "$e"
	wait_for "$BATS_TEST_TMPDIR/w" "^ACK [0-9]* complete status=0 "
	sleep 0.5
	[ "$(events w)" = "prepare freeze thaw post complete " ]
	run "$WT" end "$ID" success
	[ "$output" = "ERROR ENOENT" ]
}

@test "writers race: two creations at once: PREPARE names their ids in order (the round lock comes before the id)" {
	load_fault_module
	new_vol
	A=$DEV
	new_vol
	B=$DEV
	writer w --component a:"$A" --component b:"$B"
	truncate -s 64M "$STORE.2"
	chmod 600 "$STORE.2"
	fault fault_create_wait_at 1
	fault fault_create_wait_ms 3000
	create_bg c1 --policy require --type full --store "$STORE" "$A"
	p1=$CPID
	wait_fault fault_create_waiting 1
	create_bg c2 --policy require --type full --store "$STORE.2" "$B"
	p2=$CPID
	wait "$p1"
	wait "$p2"
	cat "$BATS_TEST_TMPDIR/c1.out" "$BATS_TEST_TMPDIR/w"
	id1=$(awk '$1 == "ID" {print $2}' "$BATS_TEST_TMPDIR/c1.out")
	id2=$(awk '$1 == "ID" {print $2}' "$BATS_TEST_TMPDIR/c2.out")
	[ "$id1" -lt "$id2" ]
	[ "$(awk '$1 == "EVENT" && $3 == "prepare" {printf "%s ", $4}' "$BATS_TEST_TMPDIR/w")" = "$id1 $id2 " ]
	[ "$(events w)" = "prepare freeze thaw post prepare freeze thaw post " ]
}

@test "writers race: under best-effort a writer failing PREPARE gets ABORT at once and nothing more" {
	new_vol
	A=$DEV
	writer bad --component db:"$A" --fail prepare:"no room"
	writer good --component db:"$A"
	create --policy best-effort --type full --store "$STORE" "$A"
	echo "$OUT"
	[ "$status" -eq 0 ]
	result_of bad | grep -q 'failed_phase=prepare error=EIO .*message="no room"'
	wait_for "$BATS_TEST_TMPDIR/bad" "^EVENT [0-9]* abort $ID "
	[ "$(events bad)" = "prepare abort " ]
	[ "$(events good)" = "prepare freeze thaw post " ]
	run "$WT" end "$ID" success
	[ "$status" -eq 0 ]
	[ "$(events bad)" = "prepare abort " ]
	[ "$(events good)" = "prepare freeze thaw post complete " ]
}

@test "writers race: the freeze window runs to THAW: a slow instant past it fails the frozen writer (ETIMEDOUT) and it gets ABORT, not THAW" {
	load_fault_module
	new_vol
	A=$DEV
	writer w --component db:"$A"
	fault fault_create_wait_at 2
	fault fault_create_wait_ms 3000
	create --policy best-effort --type full --freeze-ms 1000 --store "$STORE" "$A"
	echo "$OUT"
	[ "$status" -eq 0 ]
	result_of w | grep -q 'failed_phase=freeze error=ETIMEDOUT '
	wait_for "$BATS_TEST_TMPDIR/w" "^EVENT [0-9]* abort $ID "
	[ "$(events w)" = "prepare freeze abort " ]
	cbt snapshot destroy "$ID"
	# under require the set is not kept
	fault fault_create_wait_ms 3000
	create --policy require --type full --freeze-ms 1000 --store "$STORE" "$A"
	echo "$OUT"
	[ "$status" -eq 1 ]
	echo "$OUT" | grep -qx "ERROR EBUSY"
	[ "$(sets)" -eq 0 ]
}

@test "writers race: a writer gone after its POST ack has not failed; an ABORT acked after its set is gone is taken" {
	new_vol
	A=$DEV
	writer w --component db:"$A"
	create --policy require --type full --store "$STORE" "$A"
	[ "$status" -eq 0 ]
	kill -9 "${WPIDS[-1]}"
	wait "${WPIDS[-1]}" || true
	run "$WT" results "$ID"
	echo "$output"
	echo "$output" | grep -q '^RESULT w phase=post failed_phase=- error=0 '
	run "$WT" end "$ID" success
	[ "$status" -eq 0 ]
	cbt snapshot destroy "$ID"
	writer slow --component db:"$A" --delay abort:1500
	create --policy require --type full --store "$STORE" "$A"
	[ "$status" -eq 0 ]
	cbt snapshot destroy "$ID"
	wait_for "$BATS_TEST_TMPDIR/slow" "^ACK [0-9]* abort status=0 ret="
	grep -q "^ACK [0-9]* abort status=0 ret=ok$" "$BATS_TEST_TMPDIR/slow"
}

@test "writers race: EXDEV results name the writer and the component; a base stamp goes only with an incremental or differential" {
	new_vol
	A=$DEV
	new_vol
	B=$DEV
	writer pg --component db:"$A","$B"
	create --policy require --type full --store "$STORE" "$A"
	echo "$OUT"
	[ "$status" -eq 1 ]
	echo "$OUT" | grep -qx "ERROR EXDEV"
	result_of pg | grep -q "error=EXDEV .*message=\"component db needs $(printf '%d:%d' "0x$(stat -c %t "$B")" "0x$(stat -c %T "$B")")\""
	create --policy require --type full --stamp pg=BASE-1 --store "$STORE" "$A" "$B"
	[ "$status" -eq 0 ]
	grep -q "^EVENT [0-9]* prepare $ID full 0 stamp=$" "$BATS_TEST_TMPDIR/pg"
	cbt snapshot destroy "$ID"
	create --policy require --type differential --stamp pg=BASE-2 --store "$STORE" "$A" "$B"
	[ "$status" -eq 0 ]
	grep -q "^EVENT [0-9]* prepare $ID differential 0 stamp=BASE-2$" "$BATS_TEST_TMPDIR/pg"
}

# rounds: the writers' rounds in memory (debugfs).
rounds() {
	awk '$1 == "rounds" {print $2}' /sys/kernel/debug/cbt/writers
}

@test "writers race: a writer that reads COMPLETE and ABORT but never acks them pins no round once the acks are overdue" {
	new_vol
	A=$DEV
	before=$(rounds)
	[ -n "$before" ]
	writer mute --component db:"$A" --no-ack complete --no-ack abort
	for i in 1 2 3 4 5 6; do
		create --policy require --type full --phase-ms 500 --store "$STORE" "$A"
		[ "$status" -eq 0 ]
		# Even rounds end (COMPLETE, never acked), odd ones are destroyed (ABORT).
		if [ $((i % 2)) -eq 0 ]; then
			run "$WT" end "$ID" success
		fi
		cbt snapshot destroy "$ID"
	done
	wait_count "$BATS_TEST_TMPDIR/mute" '^NOACK [0-9]+ complete$' 3
	wait_count "$BATS_TEST_TMPDIR/mute" '^NOACK [0-9]+ abort$' 3
	for ((t = 0; t < 100; t++)); do
		[ "$(rounds)" -eq "$before" ] && break
		sleep 0.1
	done
	cat /sys/kernel/debug/cbt/writers
	[ "$(rounds)" -eq "$before" ]
	# nothing awaited from it any more: no phase, nothing held
	grep -q "^writer [0-9]* mute pid [0-9]* phase 0 queued 0 held 0$" /sys/kernel/debug/cbt/writers
	# The writer is still registered and takes part in the next set.
	create --policy require --type full --phase-ms 500 --store "$STORE" "$A"
	[ "$status" -eq 0 ]
	result_of mute | grep -q "phase=post failed_phase=- error=0 "
}
