#!/usr/bin/env bats
# Backup sessions (libcbt's requester API) driven through the example program
# docs/examples/backup-example: what each backup type reads against the
# offsets written (ground truth kept by the test, never cbt's answer), the
# copied images against the volume's bytes at the instant, anchors that move
# only on success, COPY, chains, a re-attached tracker, metadata.

load helpers

EX=$REPO/docs/examples/backup-example

setup() {
	common_setup
	LOOPS=()
	STATE=$BATS_TEST_TMPDIR/state
	OUT=$BATS_TEST_TMPDIR/out
	mkdir -p "$OUT"
	N=0
}

teardown() {
	local id
	for id in $(cbt snapshot list --json 2>/dev/null | python3 -c 'import json,sys; [print(s["id"]) for s in json.load(sys.stdin)["snapsets"]]' 2>/dev/null); do
		cbt snapshot destroy "$id" || true
	done
	for l in "${LOOPS[@]}"; do
		cbt detach "$l" 2>/dev/null || true
		del_loop "$l"
	done
	rm -rf "${BATS_TEST_TMPDIR:?}"/*
}

# vol SIZE: a tracked loop device (4 KiB blocks) full of random data; sets $DEV.
vol() {
	DEV=$(make_loop "$1")
	LOOPS+=("$DEV")
	dd if=/dev/urandom of="$DEV" bs=1M count="${1%M}" oflag=direct conv=notrunc status=none
	cbt attach "$DEV" --block-size 4K
}

# wr DEV OFF LEN LOG...: write LEN random bytes at byte OFF (through the page
# cache, then fsync) and append "OFF LEN" to each LOG.
wr() {
	local dev=$1 off=$2 len=$3 log
	shift 3
	dd if=/dev/urandom of="$dev" bs="$len" count=1 seek="$off" oflag=seek_bytes \
		conv=notrunc,fsync status=none
	for log in "$@"; do echo "$off $len" >>"$log"; done
}

# post DEV LOGS -- OFF:LEN...: a script for -e that writes after the instant.
post() {
	local dev=$1 logs=$2 w
	shift 3
	: >"$BATS_TEST_TMPDIR/post.sh"
	for w in "$@"; do
		echo "dd if=/dev/urandom of=$dev bs=${w#*:} count=1 seek=${w%:*} oflag=seek_bytes conv=notrunc,fsync status=none" >>"$BATS_TEST_TMPDIR/post.sh"
		for log in $logs; do echo "echo '${w%:*} ${w#*:}' >>$log" >>"$BATS_TEST_TMPDIR/post.sh"; done
	done
	echo "bash $BATS_TEST_TMPDIR/post.sh"
}

# bk ARGS... [VOLUME...]: one backup with the example (of $A when no volume
# is named); its output in $BK (a file), its status in $RC. The store is
# made anew each time.
bk() {
	local vols=()
	N=$((N + 1))
	BK=$BATS_TEST_TMPDIR/bk.$N
	rm -f "$BATS_TEST_TMPDIR/store"
	[ -b "${!#}" ] || vols=("$A")
	RC=0
	"$EX" -o "$OUT" -d "$STATE" -s "$BATS_TEST_TMPDIR/store:4M" "$@" "${vols[@]}" \
		>"$BK" 2>"$BK.err" || RC=$?
	cat "$BK" "$BK.err" >&2
}

# lacks PATTERN FILE: FILE has no line matching PATTERN (a "! grep" would
# never fail a bats test).
lacks() {
	if grep -q "$@"; then
		echo "unexpected: $1 in $2" >&2
		return 1
	fi
}

# What volume I of the last backup reported: extents, type, base, stamp.
extents() { awk -v i="${1:-0}" '$1 == "extent" && $2 == i { print $3, $4 }' "$BK"; }
field() { awk -v i="${2:-0}" -v f="$1" '$1 == "volume" && $2 == i { print $f }' "$BK"; }
vtype() { field 4 "$@"; }
vbase() { field 5 "$@"; }
vstamp() { field 6 "$@"; }

# exact LOG [I]: the last backup's extents of volume I cover every byte in
# LOG and no 4 KiB block without a written byte.
exact() {
	extents "${2:-0}" >"$BATS_TEST_TMPDIR/ext"
	python3 "$TLIB/verify_changes.py" 4096 "$1" "$BATS_TEST_TMPDIR/ext" --exact \
		--device-size "$(blockdev --getsize64 "${DEV_OF[${2:-0}]:-$DEV}")"
}

# whole [I] [SIZE]: the last backup read volume I whole, in one extent.
whole() {
	[ "$(extents "${1:-0}")" = "0 $(blockdev --getsize64 "$DEV")" ]
}

@test "full, then incremental and differential read exactly what was written since their base; the copies are the volume at each instant" {
	vol 8M
	A=$DEV
	SINCE_FULL=$BATS_TEST_TMPDIR/since-full
	SINCE_LAST=$BATS_TEST_TMPDIR/since-last
	: >"$SINCE_FULL"
	: >"$SINCE_LAST"
	cp "$A" "$BATS_TEST_TMPDIR/at-full"
	# Writes right after the instant are not in the image, and are the
	# next backups' business.
	bk -t full -e "$(post "$A" "$SINCE_FULL $SINCE_LAST" -- 4096:4096 6000000:70000)"
	[ "$RC" -eq 0 ]
	[ "$(vtype)" = full ]
	[ "$(vbase)" = - ]
	whole
	cmp "$OUT/0.img" "$BATS_TEST_TMPDIR/at-full"
	cp "$OUT/0.img" "$BATS_TEST_TMPDIR/full.img"
	[ "$(count_sets)" -eq 0 ]
	FULL_STAMP=$(vstamp)

	wr "$A" 123457 5000 "$SINCE_FULL" "$SINCE_LAST"
	wr "$A" 8384512 4096 "$SINCE_FULL" "$SINCE_LAST"	# the last block
	cp "$A" "$BATS_TEST_TMPDIR/at-incr"
	bk -t incremental -e "$(post "$A" "$SINCE_FULL $SINCE_LAST.next" -- 2000000:1)"
	[ "$RC" -eq 0 ]
	[ "$(vtype)" = incremental ]
	[ "$(vbase)" = "$FULL_STAMP" ]
	# Changes since the base with no upper bound: the write after the
	# instant is reported too.
	cat "$SINCE_LAST.next" >>"$SINCE_LAST"
	exact "$SINCE_LAST"
	cmp "$OUT/0.img" "$BATS_TEST_TMPDIR/at-incr"
	mv "$SINCE_LAST.next" "$SINCE_LAST"
	INCR_STAMP=$(vstamp)

	wr "$A" 5000000 300000 "$SINCE_FULL" "$SINCE_LAST"
	cp "$A" "$BATS_TEST_TMPDIR/at-diff"
	cp "$BATS_TEST_TMPDIR/full.img" "$OUT/0.img"
	bk -t differential
	[ "$RC" -eq 0 ]
	[ "$(vtype)" = differential ]
	[ "$(vbase)" = "$FULL_STAMP" ]
	exact "$SINCE_FULL"
	# The full's copy with the differential over it is the volume then.
	cmp "$OUT/0.img" "$BATS_TEST_TMPDIR/at-diff"
	DIFF_STAMP=$(vstamp)

	# The differential moved the incremental base; the bitmap says the same.
	: >"$SINCE_LAST"
	wr "$A" 65536 65536 "$SINCE_LAST" "$SINCE_FULL"
	cp "$A" "$BATS_TEST_TMPDIR/at-incr2"
	bk -t incremental -b
	[ "$RC" -eq 0 ]
	[ "$(vbase)" = "$DIFF_STAMP" ]
	[ "$DIFF_STAMP" != "$INCR_STAMP" ]
	exact "$SINCE_LAST"
	cmp "$OUT/0.img" "$BATS_TEST_TMPDIR/at-incr2"
	# A second differential is still against the full.
	bk -t differential -b
	[ "$(vbase)" = "$FULL_STAMP" ]
	exact "$SINCE_FULL"
}

@test "a failed session moves no anchor: the next asks again from the same base, the same extents plus the new" {
	vol 8M
	A=$DEV
	LOG=$BATS_TEST_TMPDIR/since
	: >"$LOG"
	bk -t full
	[ "$RC" -eq 0 ]
	FULL_STAMP=$(vstamp)
	cp "$STATE/default.anchors" "$BATS_TEST_TMPDIR/anchors"
	wr "$A" 40960 8192 "$LOG"
	wr "$A" 7000000 100 "$LOG"
	bk -t incremental -x -m app=failed
	[ "$RC" -eq 1 ]
	grep -qx 'committed 0' "$BK"
	[ "$(vbase)" = "$FULL_STAMP" ]
	exact "$LOG"
	[ "$(count_sets)" -eq 0 ]
	cmp "$STATE/default.anchors" "$BATS_TEST_TMPDIR/anchors"
	# Killed in the middle (after its set was taken): nothing moves either,
	# and the next session of the chain destroys the set it left.
	wr "$A" 777777 3 "$LOG"
	bk -t incremental -e 'kill -9 $PPID'
	[ "$RC" -eq 137 ]
	cmp "$STATE/default.anchors" "$BATS_TEST_TMPDIR/anchors"
	[ "$(count_sets)" -eq 1 ]
	wr "$A" 3000000 20000 "$LOG"
	bk -t incremental
	[ "$RC" -eq 0 ]
	[ "$(vbase)" = "$FULL_STAMP" ]
	exact "$LOG"
	[ "$(count_sets)" -eq 0 ]
	lacks '^prev-meta' "$BK"
	run cmp -s "$STATE/default.anchors" "$BATS_TEST_TMPDIR/anchors"
	[ "$status" -eq 1 ]
}

@test "copy reads every block and moves no anchor" {
	vol 8M
	A=$DEV
	LOG=$BATS_TEST_TMPDIR/since
	: >"$LOG"
	bk -t full
	FULL_STAMP=$(vstamp)
	cp "$STATE/default.anchors" "$BATS_TEST_TMPDIR/anchors"
	wr "$A" 1048576 4096 "$LOG"
	cp "$A" "$BATS_TEST_TMPDIR/at-copy"
	bk -t copy -m app=copy
	[ "$RC" -eq 0 ]
	grep -qx 'committed 1' "$BK"
	[ "$(vtype)" = copy ]
	whole
	cmp "$OUT/0.img" "$BATS_TEST_TMPDIR/at-copy"
	cmp "$STATE/default.anchors" "$BATS_TEST_TMPDIR/anchors"
	wr "$A" 2097152 4096 "$LOG"
	bk -t incremental
	[ "$(vbase)" = "$FULL_STAMP" ]
	exact "$LOG"
	lacks '^prev-meta' "$BK"
}

@test "two chains on one volume keep their own anchors; a second session on a chain waits its turn (EBUSY)" {
	vol 8M
	A=$DEV
	bk -t full -c alpha
	[ "$RC" -eq 0 ]
	bk -t full -c beta
	[ "$RC" -eq 0 ]
	BETA_FULL=$(vstamp)
	: >"$BATS_TEST_TMPDIR/alpha"
	: >"$BATS_TEST_TMPDIR/beta"
	wr "$A" 0 4096 "$BATS_TEST_TMPDIR/alpha" "$BATS_TEST_TMPDIR/beta"
	# alpha's incremental, while another session on alpha is refused.
	bk -t incremental -c alpha -e "$EX -o $OUT -d $STATE -s $BATS_TEST_TMPDIR/store2:4M -t copy -c alpha $A >$BATS_TEST_TMPDIR/nested 2>&1"
	[ "$RC" -eq 0 ]
	exact "$BATS_TEST_TMPDIR/alpha"
	grep -q 'busy' "$BATS_TEST_TMPDIR/nested"
	grep -qx 'committed 0' "$BATS_TEST_TMPDIR/nested"
	: >"$BATS_TEST_TMPDIR/alpha"
	wr "$A" 4194304 4096 "$BATS_TEST_TMPDIR/alpha" "$BATS_TEST_TMPDIR/beta"
	# beta never saw alpha's incremental.
	bk -t incremental -c beta
	[ "$(vbase)" = "$BETA_FULL" ]
	exact "$BATS_TEST_TMPDIR/beta"
	bk -t incremental -c alpha
	exact "$BATS_TEST_TMPDIR/alpha"
	[ -f "$STATE/alpha.anchors" ]
	[ -f "$STATE/beta.anchors" ]
	[ "$(stat -c %a "$STATE")" = 700 ]
}

@test "a re-attached tracker: full with the reason, or with no-fallback a failure that moves nothing" {
	vol 8M
	A=$DEV
	bk -t full
	cp "$STATE/default.anchors" "$BATS_TEST_TMPDIR/anchors"
	cbt detach "$A"
	cbt attach "$A" --block-size 4K
	bk -t incremental -n
	[ "$RC" -eq 1 ]
	grep -q '^reason 0 .*reset' "$BK"
	grep -q 'full backup' "$BK.err"
	[ "$(count_sets)" -eq 0 ]
	cmp "$STATE/default.anchors" "$BATS_TEST_TMPDIR/anchors"
	bk -t differential
	[ "$RC" -eq 0 ]
	[ "$(vtype)" = full ]
	grep -q '^reason 0 .*reset' "$BK"
	whole
	# That full is the new base of both.
	FULL_STAMP=$(vstamp)
	: >"$BATS_TEST_TMPDIR/since"
	wr "$A" 8192 4096 "$BATS_TEST_TMPDIR/since"
	bk -t incremental -n
	[ "$RC" -eq 0 ]
	[ "$(vtype)" = incremental ]
	[ "$(vbase)" = "$FULL_STAMP" ]
	lacks '^reason' "$BK"
	exact "$BATS_TEST_TMPDIR/since"
	# A damaged anchor file is a clear error, not a wrong base.
	echo garbage >>"$STATE/default.anchors"
	bk -t incremental
	[ "$RC" -eq 1 ]
	grep -q 'anchor file is damaged' "$BK.err"
	[ "$(count_sets)" -eq 0 ]
}

@test "a volume never backed up in the chain is full; metadata comes back at the next backup, not from a copy or a failure" {
	vol 8M
	A=$DEV
	bk -t incremental -m sql=abc -m mail=1
	[ "$RC" -eq 0 ]
	[ "$(vtype)" = full ]
	grep -q '^reason 0 .*no earlier' "$BK"
	lacks '^prev-meta' "$BK"
	bk -t incremental -m sql=def
	grep -qx 'prev-meta sql abc' "$BK"
	grep -qx 'prev-meta mail 1' "$BK"
	bk -t copy -m sql=copy
	bk -t incremental -m sql=bad -x
	bk -t differential
	grep -qx 'prev-meta sql def' "$BK"
	lacks '^prev-meta mail' "$BK"
	lacks 'prev-meta sql copy' "$BK"
}

@test "two volumes in one session: one set, each volume's own extents and image" {
	vol 8M
	A=$DEV
	vol 8M
	B=$DEV
	DEV_OF=("$A" "$B")
	bk -t full "$A" "$B"
	[ "$RC" -eq 0 ]
	: >"$BATS_TEST_TMPDIR/a"
	: >"$BATS_TEST_TMPDIR/b"
	wr "$A" 12288 4096 "$BATS_TEST_TMPDIR/a"
	wr "$B" 6000000 10000 "$BATS_TEST_TMPDIR/b"
	cp "$A" "$BATS_TEST_TMPDIR/at-a"
	cp "$B" "$BATS_TEST_TMPDIR/at-b"
	bk -t incremental "$A" "$B"
	[ "$RC" -eq 0 ]
	exact "$BATS_TEST_TMPDIR/a" 0
	exact "$BATS_TEST_TMPDIR/b" 1
	cmp "$OUT/0.img" "$BATS_TEST_TMPDIR/at-a"
	cmp "$OUT/1.img" "$BATS_TEST_TMPDIR/at-b"
}
