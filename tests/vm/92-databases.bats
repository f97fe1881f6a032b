#!/usr/bin/env bats
# Real databases backed up through writers (scripts/writers): each quiesced
# by its hook script under `cbt-snap writer run`, backed up full then
# incremental with --writers require, each point restored to new loop
# devices and started. A counter one client commits in a loop must match
# the snapshot: the value the database itself reports from the hooks (before
# the freeze, after the thaw) is the ground truth, never cbt's answer.

load helpers

PGBIN=/usr/lib/postgresql/15/bin
HOOKS=$REPO/scripts/writers

setup() {
	long_gate
	common_setup
	T=$BATS_TEST_TMPDIR
	BK=$T/repo
	STATE=$T/state
	PGDIRS=() MYPIDS=() BGS=()
	WRITER=
	# Loops and mounts are made in $(...) subshells: listed in files.
	: >"$T/loops"
	: >"$T/mounts"
}

teardown() {
	local p d m
	[ -n "${T:-}" ] || return 0	# skipped before setup made anything (a long test)
	[ -z "$WRITER" ] || { kill "$WRITER" 2>/dev/null; wait "$WRITER" 2>/dev/null || true; }
	for p in "${BGS[@]}"; do kill -- "-$p" 2>/dev/null || true; done
	for d in "${PGDIRS[@]}"; do
		pg_as "$PGBIN/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
	done
	for p in "${MYPIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	done
	tac "$T/mounts" | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m" || true; done
	while read -r d; do
		cbt detach "$d" 2>/dev/null || true
		del_loop "$d"
	done <"$T/loops"
	rm -rf "${T:?}"/* /tmp/cbt-db
}

new_loop() {
	local l
	l=$(make_loop "$1")
	echo "$l" >>"$T/loops"
	echo "$l"
}

# new_fs SIZE DIR [OWNER]: a new loop device with ext4 mounted at DIR.
# No lazy initialisation: nothing writes to an idle filesystem.
new_fs() {
	local l
	l=$(new_loop "$1")
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$l"
	mount_at "$l" "$2"
	[ -z "${3:-}" ] || chown "$3": "$2"
	echo "$l"
}

mount_at() {
	mkdir -p "$2"
	mount "$1" "$2"
	echo "$2" >>"$T/mounts"
}

# Background work in its own session, killed as a group in teardown:
# bg_start NAME COMMAND (a bash script); its pid in $BG.
bg_start() {
	setsid bash -c "$2" </dev/null >"$T/$1.out" 2>&1 3>&- &
	BG=$!
	BGS+=("$BG")
}

bg_stop() {
	kill -- "-$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# point_stamp ID: the text of the point's (only) writer stamp, from the
# repository's manifest; the writer's outcome must be ok.
point_stamp() {
	cbt list "$BK" --json | python3 -c '
import json, sys
p = [p for p in json.load(sys.stdin)["points"] if str(p["id"]) == sys.argv[1]][0]
w = p["writers"]
assert len(w) == 1 and w[0]["outcome"] == "ok", w
sys.stdout.write(w[0]["stamp-text"])' "$1"
}

# start_writer NAME HOOK WRITER-RUN-ARGS...: cbt-snap writer run with the
# test's wrapper HOOK (the phase its argument) for every phase, until
# teardown; waits until the writer is registered.
start_writer() {
	local name=$1 hook=$2
	shift 2
	"$CBT" writer run --name "$name" "$@" --freeze "$hook freeze" --thaw "$hook thaw" \
		--abort "$hook abort" >"$T/writer.out" 2>&1 3>&- &
	WRITER=$!
	for _ in $(seq 1 300); do
		grep -q "writer $name registered" "$T/writer.out" && return 0
		kill -0 "$WRITER" 2>/dev/null || break
		sleep 0.1
	done
	cat "$T/writer.out"
	return 1
}

# backup_point TYPE VOL...: one backup with the writer required (with
# WRITERS=none: no writer takes part); its point id in $ID.
backup_point() {
	local t=$1
	shift
	cbt backup "$@" --to "$BK" --state-dir "$STATE" --type "$t" --writers "${WRITERS:-require}" \
		--json >"$T/last"
	ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/last")
}

# restore_to POINT VOL: the point's VOL on a new loop device of VOL's size
restore_to() {
	local l
	l=$(new_loop "$(blockdev --getsize64 "$2")")
	cbt restore "$BK" --point "$1" --volume "$2" --to "$l" --quiet
	echo "$l"
}

#
# PostgreSQL
#

pg_as() {
	setpriv --reuid=postgres --regid="$(id -g postgres)" --init-groups "$@"
}

# pg_start DATADIR NAME: start a cluster, its log in /tmp/cbt-db/log/NAME
pg_start() {
	PGDIRS+=("$1")
	pg_as "$PGBIN/pg_ctl" -D "$1" -l "/tmp/cbt-db/log/$2" -w -t 600 start 3>&- ||
		{ cat "/tmp/cbt-db/log/$2"; return 1; }
}

q() {
	psql -X -A -t -q "$@"
}

# restore_pg POINT K label|crash: restore both volumes of POINT to new
# loop devices, start PostgreSQL on them (port 5432 + K), its counter in
# $N; checks the counter against what the database reported from the
# hooks of the K-th backup, and the pgbench tables. With "label", the
# point's backup_label from the manifest and recovery to the end of the
# backup through the WAL archive; with "crash", plain crash recovery.
restore_pg() {
	local p=$1 k=$2 how=$3 port=$((5432 + $2)) r=/tmp/cbt-db/r$1-$3 lo hi seen RD RW
	RD=$(restore_to "$p" "$D")
	RW=$(restore_to "$p" "$W")
	mount_at "$RD" "$r/d"
	mount_at "$RW" "$r/w"
	# The data directory names its WAL by path: point it at the restored
	# WAL. The pid file is the live server's (the same pid runs here).
	ln -sfn "$r/w/pg_wal" "$r/d/data/pg_wal"
	rm -f "$r/d/data/postmaster.pid"
	cat >>"$r/d/data/postgresql.conf" <<-EOF
		port = $port
		archive_mode = off
	EOF
	if [ "$how" = label ]; then
		point_stamp "$p" >"$T/stamp.$p"
		grep -q "^START WAL LOCATION: " "$T/stamp.$p"
		grep -qx "LABEL: cbt" "$T/stamp.$p"
		"$HOOKS/postgresql" restore-files "$r/d/data" <"$T/stamp.$p"
		cmp "$T/stamp.$p" "$r/d/data/backup_label"
		pg_as touch "$r/d/data/recovery.signal"
		cat >>"$r/d/data/postgresql.conf" <<-EOF
			restore_command = 'cp /tmp/cbt-db/arch/%f %p'
			recovery_target = 'immediate'
			recovery_target_action = 'promote'
		EOF
	fi
	pg_start "$r/d/data" "r$p-$how.log"
	if [ "$how" = label ]; then
		grep -q "starting backup recovery" "/tmp/cbt-db/log/r$p-$how.log"
	else
		! grep -q "starting backup recovery" "/tmp/cbt-db/log/r$p-$how.log"
	fi
	N=$(q -p $port -c 'SELECT n FROM counter')
	lo=$(sed -n "${k}p" "$T/lo" | cut -d' ' -f2)
	hi=$(sed -n "${k}p" "$T/hi" | cut -d' ' -f2)
	# From the client's log: the last value it saw before the freeze hook.
	seen=$(awk -v t="$(sed -n "${k}p" "$T/lo" | cut -d' ' -f1)" '$1 < t { v = $2 } END { print v + 0 }' "$T/counter.out")
	echo "point $p ($how): restored counter $N; committed before the freeze $lo (the client saw $seen), after the thaw $hi" >>"$T/result"
	[ "$N" -ge "$lo" ]
	[ "$N" -ge "$seen" ]
	[ "$N" -le "$hi" ]
	[ "$(q -p $port -c 'SELECT count(*) FROM pgbench_accounts')" -eq 200000 ]
	[ "$(q -p $port -c 'SELECT count(*) FROM pgbench_branches')" -eq 2 ]
	[ "$(q -p $port -c 'SELECT count(*) FROM pgbench_tellers')" -eq 20 ]
	# Every page of the history read: their checksums verified.
	q -p $port -c 'SELECT count(*) FROM pgbench_history'
	pg_as "$PGBIN/pg_ctl" -D "$r/d/data" -m fast stop
}

@test "PostgreSQL with its WAL on a second volume, under pgbench: each point restores with its backup_label and holds every commit made before the freeze" {
	export PGHOST=/tmp/cbt-db/sock PGUSER=postgres PGDATABASE=postgres PGPORT=5432
	mkdir -p /tmp/cbt-db/sock /tmp/cbt-db/arch /tmp/cbt-db/log
	chown postgres: /tmp/cbt-db/sock /tmp/cbt-db/arch /tmp/cbt-db/log
	# The data directory and the WAL on two volumes: a complex store.
	D=$(new_fs 128M /tmp/cbt-db/d postgres)
	W=$(new_fs 128M /tmp/cbt-db/w postgres)
	cbt attach "$D"
	cbt attach "$W"
	pg_as "$PGBIN/initdb" -D /tmp/cbt-db/d/data --waldir /tmp/cbt-db/w/pg_wal \
		--wal-segsize 1 --data-checksums --no-sync -U postgres -A trust >"$T/initdb.log"
	# A WAL archive outside the volumes (tmpfs), as PostgreSQL's own
	# backups keep: restoring a backup_label needs the WAL up to its end.
	cat >>/tmp/cbt-db/d/data/postgresql.conf <<-EOF
		listen_addresses = ''
		unix_socket_directories = '/tmp/cbt-db/sock'
		shared_buffers = 16MB
		min_wal_size = 4MB
		max_wal_size = 32MB
		archive_mode = on
		archive_command = 'test ! -f /tmp/cbt-db/arch/%f && cp %p /tmp/cbt-db/arch/%f'
	EOF
	pg_start /tmp/cbt-db/d/data pg.log
	q -c "CREATE TABLE counter (n bigint NOT NULL); INSERT INTO counter VALUES (0);"
	"$PGBIN/pgbench" -i -s 2 -q >"$T/pgbench-init.log" 2>&1
	# The loads: pgbench (2 clients, 10 transactions a second: TCG is slow), and one client committing counter += 1 in a loop,
	# each committed value logged with the time it was seen.
	bg_start pgbench "$PGBIN/pgbench -n -c 2 -j 1 -R 10 -T 3600"
	PGB=$BG
	bg_start counter "yes 'UPDATE counter SET n = n + 1 RETURNING n;' | psql -X -q -A -t |
		while read -r v; do echo \"\$EPOCHREALTIME \$v\"; done"
	# The hooks, wrapped: the counter as the database reports it before the
	# freeze hook runs and after the thaw hook returns.
	cat >"$T/hook" <<-EOF
		#!/bin/bash
		case \$1 in
		freeze) echo "\$EPOCHREALTIME \$(psql -X -A -t -c 'SELECT n FROM counter')" >>"$T/lo"
			s=\$EPOCHREALTIME
			"$HOOKS/postgresql" freeze || exit
			echo "\$s \$EPOCHREALTIME" >>"$T/freeze-times" ;;
		thaw) CBT_PG_WAIT_ARCHIVE=1 "$HOOKS/postgresql" thaw || exit
			echo "\$EPOCHREALTIME \$(psql -X -A -t -c 'SELECT n FROM counter')" >>"$T/hi" ;;
		*) exec "$HOOKS/postgresql" "\$1" ;;
		esac
	EOF
	chmod +x "$T/hook"
	start_writer pg "$T/hook" --component "data:$D" --component "wal:$W" --prepare "$T/hook prepare"
	sleep 5
	backup_point full "$D" "$W"
	P1=$ID
	sleep 5
	backup_point incremental "$D" "$W"
	P2=$ID
	bg_stop "$BG"
	bg_stop "$PGB"
	[ "$(wc -l <"$T/lo")" -eq 2 ]
	[ "$(wc -l <"$T/hi")" -eq 2 ]
	grep -c . "$T/counter.out"
	restore_pg "$P1" 1 label
	restore_pg "$P2" 2 label
	label2=$N
	# The snapshot alone is one instant of both volumes: the same point
	# starts by crash recovery too, at the instant, which precedes the end
	# of the backup the label recovers to.
	restore_pg "$P2" 2 crash
	[ "$N" -le "$label2" ]
	# A point of the volumes at rest (the server stopped cleanly, the
	# filesystems unmounted): restored, both volumes are the volumes' bytes,
	# and PostgreSQL's page checksums all verify.
	final=$(q -c 'SELECT n FROM counter')
	pg_as "$PGBIN/pg_ctl" -D /tmp/cbt-db/d/data -m fast stop
	umount /tmp/cbt-db/d /tmp/cbt-db/w
	sumd=$(sha256sum <"$D" | cut -d' ' -f1)
	sumw=$(sha256sum <"$W" | cut -d' ' -f1)
	WRITERS=none backup_point incremental "$D" "$W"
	RD=$(restore_to "$ID" "$D")
	RW=$(restore_to "$ID" "$W")
	[ "$(sha256sum <"$RD" | cut -d' ' -f1)" = "$sumd" ]
	[ "$(sha256sum <"$RW" | cut -d' ' -f1)" = "$sumw" ]
	mount_at "$RD" /tmp/cbt-db/d
	mount_at "$RW" /tmp/cbt-db/w
	pg_as "$PGBIN/pg_checksums" --check -D /tmp/cbt-db/d/data >"$T/checksums.log"
	grep -q "^Bad checksums: *0$" "$T/checksums.log"
	pg_start /tmp/cbt-db/d/data rest.log
	[ "$(q -c 'SELECT n FROM counter')" -eq "$final" ]
	echo "point $ID (at rest): both volumes restored to their bytes; counter $final" >>"$T/result"
	awk '{ printf "# freeze hook %.1f s\n", $2 - $1 }' "$T/freeze-times" >&3
	sed 's/^/# /' "$T/result" >&3
}

#
# SQLite
#

@test "SQLite in WAL mode under a counter loop: each point restores to the counter at the freeze exactly" {
	V=$(new_fs 64M /tmp/cbt-db/s)
	cbt attach "$V"
	DB=/tmp/cbt-db/s/app.db
	sqlite3 "$DB" "PRAGMA journal_mode=WAL; CREATE TABLE counter (n INTEGER NOT NULL); INSERT INTO counter VALUES (0);" >/dev/null
	# SQLite's lock is not fair: a loop that never pauses would keep the
	# freeze waiting for seconds. This one pauses between statements.
	bg_start counter "{ echo '.timeout 120000'; while :; do echo 'UPDATE counter SET n = n + 1 RETURNING n;'; sleep 0.01; done; } | sqlite3 -batch '$DB'"
	export CBT_SQLITE_DB=$DB
	# The counter as a reader sees it once the freeze hook holds the lock:
	# no write can commit until thaw, so the image must hold exactly this.
	cat >"$T/hook" <<-EOF
		#!/bin/bash
		case \$1 in
		freeze) s=\$EPOCHREALTIME
			"$HOOKS/sqlite" freeze || exit
			echo "\$s \$EPOCHREALTIME" >>"$T/freeze-times"
			sqlite3 "$DB" 'SELECT n FROM counter' >>"$T/at-freeze" ;;
		*) exec "$HOOKS/sqlite" "\$1" ;;
		esac
	EOF
	chmod +x "$T/hook"
	start_writer app "$T/hook" --volume "$V"
	sleep 3
	backup_point full "$V"
	P1=$ID
	sleep 3
	backup_point incremental "$V"
	P2=$ID
	sleep 1
	bg_stop "$BG"
	last=$(sqlite3 "$DB" 'SELECT n FROM counter')
	[ "$(wc -l <"$T/at-freeze")" -eq 2 ]
	k=0
	for p in $P1 $P2; do
		k=$((k + 1))
		point_stamp "$p" >"$T/stamp.$p"
		grep -qx "sqlite3 database: $DB" "$T/stamp.$p"
		RV=$(restore_to "$p" "$V")
		mount_at "$RV" "/tmp/cbt-db/r$p"
		n=$(sqlite3 "/tmp/cbt-db/r$p/app.db" 'SELECT n FROM counter')
		want=$(sed -n "${k}p" "$T/at-freeze")
		echo "point $p: restored counter $n, at the freeze $want" >>"$T/result"
		[ "$n" -eq "$want" ]
		[ "$(sqlite3 "/tmp/cbt-db/r$p/app.db" 'PRAGMA integrity_check')" = ok ]
	done
	# The loop went on after each thaw.
	[ "$last" -gt "$(sed -n 2p "$T/at-freeze")" ]
	[ "$(sed -n 2p "$T/at-freeze")" -gt "$(sed -n 1p "$T/at-freeze")" ]
	awk '{ printf "# freeze hook %.1f s\n", $2 - $1 }' "$T/freeze-times" >&3
	sed 's/^/# /' "$T/result" >&3
}

#
# MariaDB
#

# my_start DATADIR NAME: a MariaDB server on DATADIR (binary log in it),
# socket /tmp/cbt-db/NAME.sock; waits until it answers.
my_start() {
	mariadbd --no-defaults --datadir="$1" --user=root --skip-networking \
		--socket="/tmp/cbt-db/$2.sock" --pid-file="/tmp/cbt-db/$2.pid" \
		--log-bin="$1/binlog" --server-id=1 --innodb-log-file-size=16M \
		--innodb-buffer-pool-size=32M --log-error="/tmp/cbt-db/$2.err" \
		</dev/null >/dev/null 2>&1 3>&- &
	MYPIDS+=($!)
	for _ in $(seq 1 1200); do
		mariadb --socket="/tmp/cbt-db/$2.sock" -e 'SELECT 1' >/dev/null 2>&1 && return 0
		kill -0 "$!" 2>/dev/null || break
		sleep 0.25
	done
	cat "/tmp/cbt-db/$2.err"
	return 1
}

@test "MariaDB under a counter loop: each point restores to the counter at the freeze exactly, its binary log where the stamp says" {
	mkdir -p /tmp/cbt-db
	V=$(new_fs 256M /tmp/cbt-db/m)
	cbt attach "$V"
	mariadb-install-db --no-defaults --datadir=/tmp/cbt-db/m/data --user=root \
		--auth-root-authentication-method=socket --skip-test-db >"$T/install.log" 2>&1
	my_start /tmp/cbt-db/m/data live
	M=(mariadb --socket=/tmp/cbt-db/live.sock --user=root --batch --skip-column-names)
	"${M[@]}" -e "CREATE DATABASE t; CREATE TABLE t.counter (n BIGINT NOT NULL) ENGINE=InnoDB; INSERT INTO t.counter VALUES (0);"
	bg_start counter "yes 'UPDATE t.counter SET n = n + 1;' | ${M[*]} --unbuffered"
	export CBT_MARIADB_ARGS="--socket=/tmp/cbt-db/live.sock --user=root"
	# Under the read lock no commit goes through: the image must hold
	# exactly what a reader sees once the freeze hook returns.
	cat >"$T/hook" <<-EOF
		#!/bin/bash
		case \$1 in
		freeze) s=\$EPOCHREALTIME
			"$HOOKS/mariadb" freeze || exit
			echo "\$s \$EPOCHREALTIME" >>"$T/freeze-times"
			${M[*]} -e 'SELECT n FROM t.counter' >>"$T/at-freeze" ;;
		*) exec "$HOOKS/mariadb" "\$1" ;;
		esac
	EOF
	chmod +x "$T/hook"
	start_writer db "$T/hook" --volume "$V"
	sleep 3
	backup_point full "$V"
	P1=$ID
	sleep 3
	backup_point incremental "$V"
	P2=$ID
	sleep 1
	bg_stop "$BG"
	last=$("${M[@]}" -e 'SELECT n FROM t.counter')
	[ "$(wc -l <"$T/at-freeze")" -eq 2 ]
	k=0
	for p in $P1 $P2; do
		k=$((k + 1))
		point_stamp "$p" >"$T/stamp.$p"
		read -r word file pos <"$T/stamp.$p"
		[ "$word" = binlog ]
		RV=$(restore_to "$p" "$V")
		r=/tmp/cbt-db/r$p
		mount_at "$RV" "$r"
		# The binary log ends where the stamp says (nothing committed under
		# the lock), before the server touches it.
		[ "$(stat -c %s "$r/data/$file")" -eq "$pos" ]
		rm -f "$r/data/"*.pid
		my_start "$r/data" "r$p"
		n=$(mariadb --socket="/tmp/cbt-db/r$p.sock" --batch --skip-column-names -e 'SELECT n FROM t.counter')
		want=$(sed -n "${k}p" "$T/at-freeze")
		echo "point $p: restored counter $n, at the freeze $want; $file at $pos" >>"$T/result"
		[ "$n" -eq "$want" ]
		mariadb --socket="/tmp/cbt-db/r$p.sock" --batch --skip-column-names -e 'CHECK TABLE t.counter' | grep -q "status.OK"
	done
	[ "$last" -gt "$(sed -n 2p "$T/at-freeze")" ]
	[ "$(sed -n 2p "$T/at-freeze")" -gt "$(sed -n 1p "$T/at-freeze")" ]
	awk '{ printf "# freeze hook %.1f s\n", $2 - $1 }' "$T/freeze-times" >&3
	sed 's/^/# /' "$T/result" >&3
}
