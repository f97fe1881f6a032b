#!/usr/bin/env bats
# The database hook scripts of scripts/writers on their own (no module): the
# lock a freeze takes holds after the hook returns, until thaw or abort;
# the stamps; a failed freeze leaves nothing behind.

setup() {
	TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	HOOKS=$TOP/scripts/writers
	T=$BATS_TEST_TMPDIR
}

teardown() {
	[ -z "${PGD:-}" ] || pg_as /usr/lib/postgresql/15/bin/pg_ctl -D "$PGD" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "${PGTMP:-/nonexistent}"
}

@test "sqlite: freeze holds the write lock after the hook returns (readers go on), thaw and abort release it" {
	command -v sqlite3 || skip "no sqlite3"
	export CBT_SQLITE_DB=$T/app.db CBT_SQLITE_STATE_DIR=$T/state
	sqlite3 "$CBT_SQLITE_DB" "PRAGMA journal_mode=WAL; CREATE TABLE c (n INTEGER); INSERT INTO c VALUES (7);"
	"$HOOKS/sqlite" freeze
	[ -d "$T/state" ]
	run sqlite3 "$CBT_SQLITE_DB" ".timeout 300" "UPDATE c SET n = 8;"
	[ "$status" -ne 0 ]
	[[ "$output" == *"locked"* ]]
	[ "$(sqlite3 "$CBT_SQLITE_DB" 'SELECT n FROM c')" -eq 7 ]
	CBT_STAMP_FILE=$T/stamp "$HOOKS/sqlite" thaw
	grep -qx "sqlite3 database: $T/app.db" "$T/stamp"
	[ ! -e "$T/state" ]
	sqlite3 "$CBT_SQLITE_DB" ".timeout 300" "UPDATE c SET n = 8;"
	CBT_PHASE=FREEZE "$HOOKS/sqlite"
	run sqlite3 "$CBT_SQLITE_DB" ".timeout 300" "UPDATE c SET n = 9;"
	[ "$status" -ne 0 ]
	CBT_PHASE=ABORT "$HOOKS/sqlite"
	[ ! -e "$T/state" ]
	sqlite3 "$CBT_SQLITE_DB" ".timeout 3000" "UPDATE c SET n = 9;"
	[ "$(sqlite3 "$CBT_SQLITE_DB" 'SELECT n FROM c')" -eq 9 ]
}

@test "sqlite: a database not in WAL mode fails the freeze and leaves no session" {
	command -v sqlite3 || skip "no sqlite3"
	export CBT_SQLITE_DB=$T/app.db CBT_SQLITE_STATE_DIR=$T/state
	sqlite3 "$CBT_SQLITE_DB" "CREATE TABLE c (n INTEGER);"
	run "$HOOKS/sqlite" freeze
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"not in WAL mode"* ]]
	[ ! -e "$T/state" ]
	sqlite3 "$CBT_SQLITE_DB" ".timeout 300" "INSERT INTO c VALUES (1);"
}

pg_as() {
	setpriv --reuid=postgres --regid="$(id -g postgres)" --init-groups "$@"
}

@test "postgresql: freeze starts a backup in a session that thaw ends with pg_backup_stop; its backup_label is the stamp and restore-files writes it back" {
	[ -x /usr/lib/postgresql/15/bin/initdb ] || skip "no PostgreSQL 15"
	id postgres || skip "no postgres user"
	PGTMP=$(mktemp -d /tmp/cbt-pghook.XXXXXX)
	chown postgres: "$PGTMP"
	PGD=$PGTMP/data
	pg_as /usr/lib/postgresql/15/bin/initdb -D "$PGD" -U postgres -A trust >/dev/null
	printf "listen_addresses = ''\nunix_socket_directories = '%s'\nport = 5497\n" "$PGTMP" >>"$PGD/postgresql.conf"
	pg_as /usr/lib/postgresql/15/bin/pg_ctl -D "$PGD" -l "$PGTMP/log" -w start 3>&-
	export PGHOST=$PGTMP PGPORT=5497 PGUSER=postgres PGDATABASE=postgres CBT_PG_STATE_DIR=$T/state
	"$HOOKS/postgresql" freeze
	# The session lives on after the hook: a backup is in progress in it.
	[ "$(psql -X -A -t -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_backup_start%' AND pid <> pg_backend_pid()")" -eq 1 ]
	CBT_STAMP_FILE=$T/stamp "$HOOKS/postgresql" thaw
	[ ! -e "$T/state" ]
	grep -q "^START WAL LOCATION: " "$T/stamp"
	grep -qx "LABEL: cbt" "$T/stamp"
	grep -qx "BACKUP FROM: primary" "$T/stamp"
	mkdir "$T/restored"
	"$HOOKS/postgresql" restore-files "$T/restored" <"$T/stamp"
	cmp "$T/stamp" "$T/restored/backup_label"
	[ ! -e "$T/restored/tablespace_map" ]
	# abort ends the session: no backup left in progress.
	"$HOOKS/postgresql" freeze
	"$HOOKS/postgresql" abort
	[ ! -e "$T/state" ]
	for _ in $(seq 1 50); do
		[ "$(psql -X -A -t -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_backup_start%' AND pid <> pg_backend_pid()")" -eq 0 ] && break
		sleep 0.1
	done
	[ "$(psql -X -A -t -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_backup_start%' AND pid <> pg_backend_pid()")" -eq 0 ]
}

@test "postgresql: a freeze with no server fails and leaves no session" {
	command -v psql || skip "no psql"
	export PGHOST=$T PGPORT=5496 CBT_PG_STATE_DIR=$T/state CBT_PG_TIMEOUT=20
	run "$HOOKS/postgresql" freeze
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"session ended"* ]]
	[ ! -e "$T/state" ]
}
