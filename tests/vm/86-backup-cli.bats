#!/usr/bin/env bats
# cbt-snap backup of tracked volumes into a repository, and restore: each
# point restored must equal the volume's bytes at its backup (sha256 of the
# device taken by the test, never cbt's answer), whatever mix of types;
# incrementals read only what changed; a failed backup keeps nothing and
# moves no anchor; a reset tracker means a full backup (or, with
# --no-fallback, none); an ext4 under writes restores fsck-clean.

load helpers

setup() {
	long_gate
	common_setup
	REPO=$BATS_TEST_TMPDIR/repo
	STATE=$BATS_TEST_TMPDIR/state
	LOOPS=()
}

teardown() {
	[ -z "${BGPID:-}" ] || { kill "$BGPID" 2>/dev/null; wait "$BGPID" 2>/dev/null || true; }
	umount /tmp/cbt-bk 2>/dev/null || true
	for d in "${LOOPS[@]}"; do
		cbt detach "$d" 2>/dev/null || true
		del_loop "$d"
	done
	rm -rf "${BATS_TEST_TMPDIR:?}"/*
}

new_loop() {
	local l
	l=$(make_loop "$1")
	LOOPS+=("$l")
	echo "$l"
}

# backup VOL... [options]: one backup, its JSON summary in $BATS_TEST_TMPDIR/last
backup() {
	cbt backup --to "$REPO" --state-dir "$STATE" --json "$@" >"$BATS_TEST_TMPDIR/last"
}

last() {
	python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" \
		"$BATS_TEST_TMPDIR/last" "$1"
}

# scribble DEV N: N random 4 KiB writes at random 4 KiB offsets (one process)
scribble() {
	local size
	size=$(blockdev --getsize64 "$1")
	write_direct_many "$1" 4096 0 $(python3 -c "
import random, sys
print(' '.join(str(random.randrange($size // 4096) * 4096) for _ in range($2)))")
}

@test "tracked backups in a mix of types: every point restores to the volume's bytes at its backup" {
	L=$(new_loop 16M)
	dd if=/dev/urandom of="$L" bs=1M count=16 oflag=direct status=none
	cbt attach "$L" --block-size 4K
	declare -A SUM
	for t in full incremental differential copy differential auto; do
		scribble "$L" 6
		sum=$(sha256sum <"$L" | cut -d' ' -f1)
		if [ "$t" = auto ]; then backup "$L"; else backup "$L" --type "$t" --chunk-size 64K; fi
		SUM[$(last id)]=$sum
		echo "$t -> point $(last id) ($(last type)), read $(last bytes-read)" >>"$BATS_TEST_TMPDIR/log"
	done
	cat "$BATS_TEST_TMPDIR/log"
	# An incremental read only what changed: 6 blocks of 4 KiB in 64 KiB
	# chunks are at most 384 KiB, never the whole 16 MiB.
	read1=$(sed -n 2p "$BATS_TEST_TMPDIR/log" | sed 's/.*read //')
	[ "$read1" -le $((6 << 16)) ]
	grep -q "^incremental -> point 2 (incremental)" "$BATS_TEST_TMPDIR/log"
	grep -q "^differential -> point 3 (differential)" "$BATS_TEST_TMPDIR/log"
	grep -q "^auto -> point 6 (incremental)" "$BATS_TEST_TMPDIR/log"
	for id in "${!SUM[@]}"; do
		rm -f "$BATS_TEST_TMPDIR/r.img"
		cbt restore "$REPO" --point "$id" --to "$BATS_TEST_TMPDIR/r.img" --quiet
		got=$(sha256sum <"$BATS_TEST_TMPDIR/r.img" | cut -d' ' -f1)
		echo "point $id: $got want ${SUM[$id]}"
		[ "$got" = "${SUM[$id]}" ]
	done
	cbt verify "$REPO"
}

@test "a backup that fails keeps no point and moves no anchor; the next one reads those changes" {
	L=$(new_loop 24M)
	cbt attach "$L" --block-size 4K
	backup "$L" --type full
	# Writes while the image is read overflow a 1 MiB store: the backup fails.
	write_direct_many "$L" 4096 0 $(seq 0 262144 $((23 << 20)))
	sum=$(sha256sum <"$L" | cut -d' ' -f1)
	( while :; do dd if=/dev/urandom of="$L" bs=1M count=8 oflag=direct conv=notrunc status=none; done ) &
	BGPID=$!
	run cbt backup "$L" --to "$REPO" --state-dir "$STATE" --type incremental \
		--store "$BATS_TEST_TMPDIR/small:1M" --quiet
	kill "$BGPID"; wait "$BGPID" 2>/dev/null || true
	BGPID=
	echo "$output"
	[ "$status" -ne 0 ]
	[ "$(cbt list "$REPO" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["points"]))')" -eq 1 ]
	# The anchor did not move: the next incremental reads every change since
	# the full backup, and restores to the volume as it is now.
	sum=$(sha256sum <"$L" | cut -d' ' -f1)
	backup "$L" --type incremental
	[ "$(last type)" = incremental ]
	cbt restore "$REPO" --point "$(last id)" --to "$BATS_TEST_TMPDIR/r.img" --quiet
	[ "$(sha256sum <"$BATS_TEST_TMPDIR/r.img" | cut -d' ' -f1)" = "$sum" ]
}

@test "a reset tracker turns an incremental into a full backup with a warning; --no-fallback refuses" {
	L=$(new_loop 16M)
	cbt attach "$L" --block-size 4K
	backup "$L" --type full
	cbt detach "$L"
	cbt attach "$L" --block-size 4K
	scribble "$L" 10
	run cbt backup "$L" --to "$REPO" --state-dir "$STATE" --type incremental --no-fallback --quiet
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"--no-fallback"* ]]
	sum=$(sha256sum <"$L" | cut -d' ' -f1)
	run cbt backup "$L" --to "$REPO" --state-dir "$STATE" --type incremental
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"warning:"*"full backup"* ]]
	id=$(cbt list "$REPO" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["points"][-1]["id"])')
	cbt restore "$REPO" --point "$id" --to "$BATS_TEST_TMPDIR/r.img" --quiet
	[ "$(sha256sum <"$BATS_TEST_TMPDIR/r.img" | cut -d' ' -f1)" = "$sum" ]
}

@test "two volumes in one backup are one instant; an ext4 under writes restores fsck-clean with its closed files" {
	A=$(new_loop 64M)
	B=$(new_loop 16M)
	mkfs.ext4 -q -F "$A"
	mkdir -p /tmp/cbt-bk
	mount "$A" /tmp/cbt-bk
	cbt attach "$A"
	cbt attach "$B" --block-size 4K
	backup "$A" "$B" --type full
	for i in 1 2 3; do
		dd if=/dev/urandom of="/tmp/cbt-bk/f$i" bs=1M count=4 status=none
		sync "/tmp/cbt-bk/f$i"
	done
	sha256sum /tmp/cbt-bk/f* >"$BATS_TEST_TMPDIR/closed"
	( while :; do dd if=/dev/urandom of=/tmp/cbt-bk/busy bs=64k count=16 conv=notrunc status=none; done ) &
	BGPID=$!
	scribble "$B" 20
	sumb=$(sha256sum <"$B" | cut -d' ' -f1)
	backup "$A" "$B"
	kill "$BGPID"; wait "$BGPID" 2>/dev/null || true
	BGPID=
	[ "$(last type)" = incremental ]
	id=$(last id)
	cbt restore "$REPO" --point "$id" --volume "$B" --to "$BATS_TEST_TMPDIR/b.img" --quiet
	[ "$(sha256sum <"$BATS_TEST_TMPDIR/b.img" | cut -d' ' -f1)" = "$sumb" ]
	cbt restore "$REPO" --point "$id" --volume "$A" --to "$BATS_TEST_TMPDIR/a.img" --quiet
	fsck.ext4 -n -f "$BATS_TEST_TMPDIR/a.img"
	umount /tmp/cbt-bk
	mount -o ro,loop "$BATS_TEST_TMPDIR/a.img" /tmp/cbt-bk
	( cd / && sha256sum -c "$BATS_TEST_TMPDIR/closed" )
	umount /tmp/cbt-bk
}

@test "a repository on a volume being backed up is refused with a clear message" {
	A=$(new_loop 256M)
	mkfs.ext4 -q -F "$A"
	mkdir -p /tmp/cbt-bk
	mount "$A" /tmp/cbt-bk
	cbt attach "$A"
	run cbt backup "$A" --to /tmp/cbt-bk/repo --state-dir "$STATE"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"lies on a volume being backed up"* ]]
	umount /tmp/cbt-bk
}

@test "an incremental into a repository whose last point is not the chain's last backup reads the volume whole" {
	# Two repositories, one chain: the chain's stamps follow the last backup
	# (into B), while A's newest point is older. Changes since B's stamp
	# applied on A's point would lose what changed in between.
	L=$(new_loop 16M)
	cbt attach "$L" --block-size 4K
	cbt backup "$L" --to "$REPO" --state-dir "$STATE" --type full --quiet
	scribble "$L" 8
	cbt backup "$L" --to "$BATS_TEST_TMPDIR/repo-b" --state-dir "$STATE" --type full --quiet
	scribble "$L" 8
	sum=$(sha256sum <"$L" | cut -d' ' -f1)
	run cbt backup "$L" --to "$REPO" --state-dir "$STATE" --type incremental
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"every block read"* ]]
	id=$(cbt list "$REPO" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["points"][-1]["id"])')
	cbt restore "$REPO" --point "$id" --to "$BATS_TEST_TMPDIR/r.img" --quiet
	[ "$(sha256sum <"$BATS_TEST_TMPDIR/r.img" | cut -d' ' -f1)" = "$sum" ]
}

@test "a volume named through a symlink gets incrementals by default" {
	L=$(new_loop 16M)
	cbt attach "$L" --block-size 4K
	ln -s "$L" "$BATS_TEST_TMPDIR/vol"
	backup "$BATS_TEST_TMPDIR/vol"
	[ "$(last type)" = full ]
	scribble "$L" 4
	sum=$(sha256sum <"$L" | cut -d' ' -f1)
	backup "$BATS_TEST_TMPDIR/vol"
	[ "$(last type)" = incremental ]
	[ "$(last bytes-read)" -le $((4 << 20)) ]
	cbt restore "$REPO" --point "$(last id)" --to "$BATS_TEST_TMPDIR/r.img" --quiet
	[ "$(sha256sum <"$BATS_TEST_TMPDIR/r.img" | cut -d' ' -f1)" = "$sum" ]
}

@test "a backup ended by SIGTERM leaves no snapshot set, no point and no moved anchor" {
	L=$(new_loop 32M)
	dd if=/dev/urandom of="$L" bs=1M count=32 oflag=direct status=none
	cbt attach "$L" --block-size 4K
	# It stops itself once 1 MiB is read; TERM is delivered when it goes on.
	CBT_SNAP_TEST_STOP_AT=1M "$CBT" backup "$L" --to "$REPO" --state-dir "$STATE" --quiet &
	pid=$!
	for _ in $(seq 1 300); do
		[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = T ] && break
		sleep 0.1
	done
	[ "$(awk '{print $3}' "/proc/$pid/stat")" = T ]
	[ -n "$(cbt snapshot list)" ]
	kill -TERM "$pid"
	kill -CONT "$pid"
	rc=0
	wait "$pid" || rc=$?
	echo "exit $rc"
	[ "$rc" -ne 0 ]
	[ -z "$(cbt snapshot list)" ]
	[ "$(cbt list "$REPO" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["points"]))')" -eq 0 ]
	# No anchor moved: the next backup is a full one, and it is whole.
	sum=$(sha256sum <"$L" | cut -d' ' -f1)
	backup "$L"
	[ "$(last type)" = full ]
	cbt restore "$REPO" --point "$(last id)" --to "$BATS_TEST_TMPDIR/r.img" --quiet
	[ "$(sha256sum <"$BATS_TEST_TMPDIR/r.img" | cut -d' ' -f1)" = "$sum" ]
}
