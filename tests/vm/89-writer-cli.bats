#!/usr/bin/env bats
# cbt-snap writer run and writers, and --writers of snapshot create and
# backup: the hooks' order as the hooks themselves log it, qemu fsfreeze
# hook scripts, a failing freeze under require (no point, no anchor moved)
# and best-effort (a point, the failure in its manifest), a writer's stamp
# handed back at the next incremental, a writer killed while it freezes.

load helpers
load writers
bats_require_minimum_version 1.5.0

setup() {
	long_gate
	common_setup
	LOOPS=()
	WPIDS=()
	REPO=$BATS_TEST_TMPDIR/repo
	STATE=$BATS_TEST_TMPDIR/state
	LOG=$BATS_TEST_TMPDIR/log
	STORE=$BATS_TEST_TMPDIR/store
	truncate -s 64M "$STORE"
	chmod 600 "$STORE"
	: >"$LOG"
}

teardown() {
	local p id l
	for p in "${WPIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for p in "${WPIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	for id in $(cbt snapshot list --json 2>/dev/null | python3 -c 'import json,sys; [print(s["id"]) for s in json.load(sys.stdin)["snapsets"]]' 2>/dev/null); do
		cbt snapshot destroy "$id" || true
	done
	for l in "${LOOPS[@]}"; do
		cbt detach "$l" 2>/dev/null || true
		del_loop "$l"
	done
	rm -rf "${BATS_TEST_TMPDIR:?}"/*
}

new_vol() {
	DEV=$(make_loop 16M)
	LOOPS+=("$DEV")
	dd if=/dev/urandom of="$DEV" bs=1M count=16 oflag=direct status=none
	cbt attach "$DEV" --block-size 4K >/dev/null
}

# run_writer NAME ARGS...: cbt-snap writer run in the background, registered.
run_writer() {
	local name=$1
	shift
	# "$CBT" itself, not the cbt function: $! is then the writer's own pid
	"$CBT" writer run --name "$name" "$@" >"$BATS_TEST_TMPDIR/w-$name" 2>&1 &
	WPIDS+=($!)
	wait_for "$BATS_TEST_TMPDIR/w-$name" "writer $name registered"
}

# A hook that logs its phase: "NAME PHASE".
logger() {
	echo "echo \"$1 \$CBT_PHASE\" >>'$LOG'"
}

phases() {
	awk -v n="$1" '$1 == n {printf "%s ", $2}' "$LOG"
}

backup() {
	cbt backup --to "$REPO" --state-dir "$STATE" --json "$@" >"$BATS_TEST_TMPDIR/last"
}

last() {
	python3 -c "import json,sys; v = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" \
		"$BATS_TEST_TMPDIR/last" "$1"
}

# point_writer ID EXPR: EXPR over writer 0 of point ID (w) in list --json.
point_writer() {
	cbt list "$REPO" --json >"$BATS_TEST_TMPDIR/list"
	python3 -c "
import json, sys
pts = {p['id']: p for p in json.load(open(sys.argv[1]))['points']}
w = pts[int(sys.argv[2])]['writers'][0]
print(eval(sys.argv[3]))" "$BATS_TEST_TMPDIR/list" "$1" "$2"
}

@test "writer run: the hooks run in VSS order for snapshot create, then abort at destroy" {
	new_vol
	run_writer app --volume "$DEV" --prepare "$(logger app)" --freeze "$(logger app)" \
		--thaw "$(logger app)" --post-snapshot "$(logger app)" --complete "$(logger app)" \
		--abort "$(logger app)"
	run --separate-stderr cbt snapshot create "$DEV" --store "$STORE"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"writer app: ok"* ]]
	id=${lines[0]}
	[ "$(phases app)" = "prepare freeze thaw post-snapshot " ]
	cbt snapshot destroy "$id"
	wait_for "$LOG" "app abort" 10
	[ "$(phases app)" = "prepare freeze thaw post-snapshot abort " ]
}

@test "writer run: a full backup runs prepare, freeze, thaw, post-snapshot, complete with its environment" {
	new_vol
	env_hook="echo \"app \$CBT_PHASE \$CBT_BACKUP_TYPE \$CBT_SUCCESS \$CBT_VOLUMES \$CBT_SET_ID\" >>'$LOG'"
	run_writer app --volume "$DEV" --prepare "$env_hook" --freeze "$env_hook" --thaw "$env_hook" \
		--post-snapshot "$env_hook" --complete "$env_hook"
	backup "$DEV" --type full
	[ "$(phases app)" = "prepare freeze thaw post-snapshot complete " ]
	# every phase: type full, the volume; complete says success
	[ "$(awk '$3 != "full"' "$LOG")" = "" ]
	[ "$(awk -v d="$DEV" '$5 != d' "$LOG")" = "" ]
	[ "$(awk '$2 == "complete" {print $4}' "$LOG")" = 1 ]
	[ "$(awk '{print $6}' "$LOG" | sort -u | wc -l)" = 1 ]
	[ "$(last 'v["writers"][0]["outcome"]')" = ok ]
}

@test "writer run --fsfreeze-hook-dir: qemu's scripts run with freeze and thaw, in order, backups skipped" {
	new_vol
	mkdir "$BATS_TEST_TMPDIR/hooks"
	for s in 20-second 10-first 10-first.bak 30-off~; do
		printf '#!/bin/sh\necho "%s $1" >>"%s"\n' "$s" "$LOG" >"$BATS_TEST_TMPDIR/hooks/$s"
		chmod 755 "$BATS_TEST_TMPDIR/hooks/$s"
	done
	run_writer qga --volume "$DEV" --fsfreeze-hook-dir "$BATS_TEST_TMPDIR/hooks"
	run cbt snapshot create "$DEV" --store "$STORE"
	[ "$status" -eq 0 ]
	[ "$(tr '\n' ' ' <"$LOG")" = "10-first freeze 20-second freeze 10-first thaw 20-second thaw " ]
}

@test "a failing freeze hook under --writers require: the backup fails, no point, the next incremental builds on the old base" {
	new_vol
	flag=$BATS_TEST_TMPDIR/fail
	run_writer db --volume "$DEV" --freeze "if [ -e '$flag' ]; then echo 'cannot flush: disk full' >&2; exit 1; fi" \
		--thaw true
	backup "$DEV" --type full --writers require
	[ "$(last 'v["id"]')" = 1 ]
	touch "$flag"
	run cbt backup --to "$REPO" --state-dir "$STATE" --type incremental --writers require "$DEV"
	[ "$status" -ne 0 ]
	[[ "$output" == *"writer db: failed in freeze: cannot flush: disk full"* ]]
	[ "$(cbt list "$REPO" -r -n -o ID | wc -l)" = 1 ]
	[ "$(cbt snapshot list -r -n -o ID | wc -l)" = 0 ]
	rm "$flag"
	write_direct "$DEV" 4096 8192
	backup "$DEV" --type incremental --writers require
	[ "$(last 'v["type"]')" = incremental ]
	[ "$(last 'v["base"]')" = 1 ]
	# only what changed since point 1 was read: the 1 MiB chunk holding the
	# write, not the 16 MiB a full read (or a base other than point 1) takes
	[ "$(last 'v["bytes-read"]')" -le 2097152 ]
}

@test "a failing freeze hook under best-effort: the point is made, the writer's failure in list --json" {
	new_vol
	run_writer db --volume "$DEV" --freeze "echo 'cannot flush: disk full' >&2; exit 1" --thaw true
	backup "$DEV" --type full
	[ "$(last 'v["id"]')" = 1 ]
	[ "$(last 'v["writers"][0]["outcome"]')" = failed ]
	[ "$(point_writer 1 'w["name"]')" = db ]
	[ "$(point_writer 1 'w["outcome"]')" = failed ]
	[ "$(point_writer 1 'w["failed-phase"]')" = freeze ]
	[ "$(point_writer 1 'w["message"]')" = "cannot flush: disk full" ]
}

@test "a writer's stamp is handed back at the next incremental (CBT_BASE_STAMP_FILE)" {
	new_vol
	n=$BATS_TEST_TMPDIR/n
	echo 0 >"$n"
	run_writer db --volume "$DEV" --freeze true --thaw true \
		--prepare "if [ -n \"\$CBT_BASE_STAMP_FILE\" ]; then echo \"base \$(cat \"\$CBT_BASE_STAMP_FILE\")\" >>'$LOG'; else echo 'base none' >>'$LOG'; fi" \
		--post-snapshot "i=\$((\$(cat '$n') + 1)); echo \$i >'$n'; printf 'lsn-%s' \$i >\"\$CBT_STAMP_FILE\""
	backup "$DEV" --type full
	write_direct "$DEV" 0 4096
	backup "$DEV" --type incremental
	[ "$(tr '\n' ' ' <"$LOG")" = "base none base lsn-1 " ]
	[ "$(point_writer 1 'w["stamp-text"]')" = lsn-1 ]
	[ "$(point_writer 2 'w["stamp-text"]')" = lsn-2 ]
	[ "$(point_writer 2 'w["stamp-base64"]')" = "$(printf lsn-2 | base64)" ]
}

@test "writers --json: name, pid, types, components with their volumes, phase, last outcome" {
	new_vol
	d1=$DEV
	new_vol
	d2=$DEV
	run_writer pg --component "data:$d1" --component "wal:$d2" --freeze true --thaw true \
		--types full,incremental
	pid=${WPIDS[0]}
	cbt writers --json >"$BATS_TEST_TMPDIR/w"
	py() { python3 -c "import json,sys; w = json.load(open(sys.argv[1]))['writers'][0]; print(eval(sys.argv[2]))" "$BATS_TEST_TMPDIR/w" "$1"; }
	[ "$(py 'w["name"]')" = pg ]
	[ "$(py 'w["pid"]')" = "$pid" ]
	[ "$(py '",".join(w["types"])')" = "full,incremental" ]
	[ "$(py '",".join(w["components"])')" = "data:$d1,wal:$d2" ]
	[ "$(py 'w["phase"]')" = idle ]
	[ "$(py 'w["last-outcome"]')" = none ]
	# a plain snapshot is type none, which pg does not take: skipped, and
	# the module sends it nothing (its last round stays none)
	run --separate-stderr cbt snapshot create "$d1" "$d2" --store "$STORE"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"writer pg: skipped"* ]]
	cbt writers --json >"$BATS_TEST_TMPDIR/w"
	[ "$(py 'w["last-outcome"]')" = none ]
}

# "At once": well before the 60 s freeze window, which is what a dead
# writer would cost if its death were not noticed. (15 s was too short for
# the backup itself on the debug kernel under TCG.)
@test "a writer killed -9 while its freeze hook sleeps: best-effort goes on, require fails, both at once" {
	new_vol
	run_writer slow --volume "$DEV" --freeze "echo frozen >>'$LOG'; sleep 30" --thaw true
	"$CBT" backup --to "$REPO" --state-dir "$STATE" --json --type full "$DEV" >"$BATS_TEST_TMPDIR/last" &
	bk=$!
	wait_for "$LOG" frozen 30
	kill -9 "${WPIDS[0]}"
	t0=$(date +%s)
	wait "$bk"
	[ $(($(date +%s) - t0)) -lt 40 ]
	[ "$(last 'v["writers"][0]["outcome"]')" = failed ]
	: >"$LOG"
	run_writer slow2 --volume "$DEV" --freeze "echo frozen >>'$LOG'; sleep 30" --thaw true
	"$CBT" backup --to "$REPO" --state-dir "$STATE" --writers require "$DEV" >"$BATS_TEST_TMPDIR/out2" 2>&1 &
	bk=$!
	wait_for "$LOG" frozen 30
	kill -9 "${WPIDS[1]}"
	t0=$(date +%s)
	rc=0
	wait "$bk" || rc=$?
	[ "$rc" -ne 0 ]
	[ $(($(date +%s) - t0)) -lt 40 ]
	grep -q "writer slow2: failed in freeze" "$BATS_TEST_TMPDIR/out2"
	[ "$(cbt list "$REPO" -r -n -o ID | wc -l)" = 1 ]
}

@test "a backup of one volume of a writer's complex store: require refuses naming the other, best-effort warns, a backup of both holds both" {
	new_vol
	A=$DEV
	new_vol
	B=$DEV
	run_writer pg --component "db:$A,$B" --freeze "$(logger pg)" --thaw "$(logger pg)" \
		--complete "$(logger pg)" --abort "$(logger pg)"
	run cbt backup --to "$REPO" --state-dir "$STATE" --type full --writers require "$A"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"$B: a writer's component lies on it too"* ]]
	[ "$(cbt list "$REPO" -r -n -o ID 2>/dev/null | wc -l)" = 0 ]
	[ "$(cbt snapshot list -r -n -o ID | wc -l)" = 0 ]
	wait_for "$LOG" "pg abort" 10
	run cbt backup --to "$REPO" --state-dir "$STATE" --type full "$A"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"warning: $B: a writer's component lies on it too"* ]]
	run cbt backup --to "$REPO" --state-dir "$STATE" --type full --writers require "$A" "$B"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"warning"* ]]
	[ "$(cbt list "$REPO" -r -n -o ID | wc -l)" = 2 ]
	[ "$(cbt snapshot list -r -n -o ID | wc -l)" = 0 ]
}
