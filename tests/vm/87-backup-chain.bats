#!/usr/bin/env bats
# The chain test at the issue's scale (make check-long; make check keeps
# 86-backup-cli's mixed chain): volumes under a live workload, 25 backups
# of random types (full, incremental, differential, copy, auto) into one
# repository. Each backup stops itself once it has read its first bytes
# (CBT_SNAP_TEST_STOP_AT; again at each further volume), and while it
# first waits the test hashes every member's snapshot image (the kernel's
# device, never the repository): the point's ground truth. Then every point is restored and compared byte for
# byte, and a filesystem's restore is fsck-clean. Also: kill -9 of backup
# at random moments, after which verify passes for every earlier point and
# the next backup succeeds and restores right.

load helpers

TYPES=(full incremental differential copy auto)

setup() {
	long_gate
	common_setup
	BREPO=$BATS_TEST_TMPDIR/repo
	STATE=$BATS_TEST_TMPDIR/state
	LOOPS=() PIDS=() MNTS=()
	declare -gA SUM=()
	N=0
}

teardown() {
	stop_workload
	for m in "${MNTS[@]}"; do umount "$m" 2>/dev/null || true; done
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

stop_workload() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
}

# fs_workload DIR: fio random writes plus files created, rewritten and
# deleted, until stopped
fs_workload() {
	fio --name=w --directory="$1" --size=16M --rw=randwrite --bs=4k --ioengine=psync \
		--rate=16k --fsync=16 --time_based --runtime=7200 --randrepeat=0 \
		--output=/dev/null >/dev/null 2>&1 3>&- &
	PIDS+=($!)
	(
		i=0
		while :; do
			i=$((i + 1))
			head -c $(((RANDOM % 128 + 1) * 1024)) /dev/urandom >"$1/f$((i % 40))"
			if [ -e "$1/f$(((i * 7) % 40))" ]; then
				dd if=/dev/urandom of="$1/f$(((i * 7) % 40))" bs=4k count=2 conv=notrunc status=none
			fi
			rm -f "$1/f$(((i * 13) % 40))"
			if [ $((i % 10)) -eq 0 ]; then sync; fi
			sleep 0.3
		done
	) >/dev/null 2>&1 3>&- &
	PIDS+=($!)
}

# raw_workload DEV: fio random direct writes to the whole device, until stopped
raw_workload() {
	fio --name=w --filename="$1" --rw=randwrite --bs=4k --direct=1 --ioengine=psync \
		--rate=16k --time_based --runtime=7200 --randrepeat=0 \
		--output=/dev/null >/dev/null 2>&1 3>&- &
	PIDS+=($!)
}

# wait_stopped PID: until the process is stopped (true) or gone (false)
wait_stopped() {
	local s
	for _ in $(seq 1 1200); do
		s=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
		[ "$s" != T ] || return 0
		[ "$s" != Z ] || return 1
		sleep 0.1
	done
	return 1
}

# images: "VOLUME IMAGE" of every member of the live sets
images() {
	cbt snapshot list --json | python3 -c '
import json, sys
for s in json.load(sys.stdin)["snapsets"]:
    for m in s["children"]:
        print(m["volume"], m["image"])'
}

# chain_backup [TYPE] VOL...: one backup (TYPE random unless given); its
# members' images hashed while it waits; SUM[ID VOL] = that hash
chain_backup() {
	local t pid rc=0 vol img args=() id
	declare -A h=()
	if [ -e "$1" ]; then t=${TYPES[RANDOM % 5]}; else t=$1; shift; fi
	[ "$N" -gt 0 ] || t=full
	[ "$t" = auto ] || args=(--type "$t")
	CBT_SNAP_TEST_STOP_AT=1 "$CBT" backup "$@" --to "$BREPO" --state-dir "$STATE" \
		--chunk-size 64K --json "${args[@]}" >"$BATS_TEST_TMPDIR/last" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	pid=$!
	if ! wait_stopped "$pid"; then
		wait "$pid" || true
		echo "backup $N ($t) never stopped after its first bytes: $(cat "$BATS_TEST_TMPDIR/err")"
		return 1
	fi
	while read -r vol img; do
		h[$vol]=$(sha256sum <"$img" | cut -d' ' -f1)
	done < <(images)
	# It stops again at each further volume's first bytes.
	kill -CONT "$pid"
	while wait_stopped "$pid"; do kill -CONT "$pid"; done
	wait "$pid" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "backup $N ($t) failed ($rc): $(cat "$BATS_TEST_TMPDIR/err")"
		return 1
	fi
	id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$BATS_TEST_TMPDIR/last")
	for vol in "$@"; do
		vol=$(realpath "$vol")
		[ -n "${h[$vol]:-}" ] || { echo "no image hashed for $vol"; return 1; }
		SUM["$id $vol"]=${h[$vol]}
	done
	echo "backup $N: $t -> point $id ($(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["type"], "base", j["base"], "read", j["bytes-read"])' "$BATS_TEST_TMPDIR/last"))" >>"$BATS_TEST_TMPDIR/log"
	N=$((N + 1))
}

# check_points [FSCK]: every point restores to its hash; FSCK (a command
# taking the image file) passes on each
check_points() {
	local k id vol got
	for k in "${!SUM[@]}"; do
		id=${k%% *} vol=${k#* }
		rm -f "$BATS_TEST_TMPDIR/r.img"
		cbt restore "$BREPO" --point "$id" --volume "$vol" --to "$BATS_TEST_TMPDIR/r.img" --quiet
		got=$(sha256sum <"$BATS_TEST_TMPDIR/r.img" | cut -d' ' -f1)
		[ "$got" = "${SUM[$k]}" ] || { echo "point $id $vol: $got, its image was ${SUM[$k]}"; return 1; }
		if [ -n "${1:-}" ]; then
			$1 "$BATS_TEST_TMPDIR/r.img" >"$BATS_TEST_TMPDIR/fsck" 2>&1 ||
				{ echo "point $id: $1 failed:"; cat "$BATS_TEST_TMPDIR/fsck"; return 1; }
		fi
	done
	rm -f "$BATS_TEST_TMPDIR/r.img"
}

fsck_ext4() { fsck.ext4 -fn "$1"; }
# A snapshot of a mounted xfs holds its log, which xfs_repair -n refuses to
# replay: mount the copy once (nouuid: the origin is mounted) to replay it.
fsck_xfs() {
	local m
	m=$(mktemp -d)
	mount -o loop,nouuid "$1" "$m" || { rmdir "$m"; return 1; }
	umount "$m"
	rmdir "$m"
	xfs_repair -n -f "$1"
}

# The log and the checks, after the workload is stopped.
fs_chain() { # MKFS SIZE FSCK
	L=$(new_loop "$2")
	$1 "$L" >/dev/null 2>&1
	cbt attach "$L" --block-size 4K
	mkdir -p "$BATS_TEST_TMPDIR/mnt"
	mount "$L" "$BATS_TEST_TMPDIR/mnt"
	MNTS+=("$BATS_TEST_TMPDIR/mnt")
	fs_workload "$BATS_TEST_TMPDIR/mnt"
	sleep 2
	for _ in $(seq 1 25); do
		chain_backup "$L"
		sleep 1
	done
	stop_workload
	cat "$BATS_TEST_TMPDIR/log"
	[ "${#SUM[@]}" -eq 25 ]
	check_points "$3"
}

@test "chain: kill -9 of backup at random moments over 10 rounds; verify passes for every earlier point, the next backup restores right" {
	L=$(new_loop 128M)
	dd if=/dev/urandom of="$L" bs=1M count=128 oflag=direct status=none
	cbt attach "$L" --block-size 4K
	size=$((128 << 20))
	raw_workload "$L"
	chain_backup full "$L"
	for round in $(seq 1 10); do
		t=${TYPES[RANDOM % 5]}
		args=()
		[ "$t" = auto ] || args=(--type "$t")
		# At least 4 MiB changed, so that even an incremental reads past
		# the byte count it stops at.
		write_direct_many "$L" 65536 0 $(python3 -c "
import random
print(' '.join(str(random.randrange($size // 65536) * 65536) for _ in range(80)))")
		case $t in
		full | copy) at=$(((RANDOM * 32768 + RANDOM) % (size - 65536) + 1)) ;;
		*) at=$(((RANDOM * 32768 + RANDOM) % (3 << 20) + 1)) ;;
		esac
		CBT_SNAP_TEST_STOP_AT=$at "$CBT" backup "$L" --to "$BREPO" --state-dir "$STATE" \
			--quiet "${args[@]}" 3>&- &
		pid=$!
		if ! wait_stopped "$pid"; then
			rc=0
			wait "$pid" || rc=$?
			echo "round $round: backup ($t) ended ($rc) before it read $at bytes"
			false
		fi
		# Killed while stopped, or a moment after it goes on.
		if [ $((round % 2)) -eq 0 ]; then
			kill -CONT "$pid"
			sleep "0.$((RANDOM % 10))"
		fi
		kill -9 "$pid" 2>/dev/null || true
		kill -CONT "$pid" 2>/dev/null || true
		wait "$pid" || true
		echo "round $round: $t killed at $at bytes (after a pause: $((round % 2 == 0)))" >>"$BATS_TEST_TMPDIR/log"
		# A kill after the commit leaves a point we have no hash for: it
		# must verify, and the others must still restore.
		run cbt verify "$BREPO"
		echo "$output"
		[ "$status" -eq 0 ]
		# The next backup (random type) succeeds.
		chain_backup "$L"
	done
	stop_workload
	cat "$BATS_TEST_TMPDIR/log"
	[ "${#SUM[@]}" -eq 11 ]
	run cbt verify "$BREPO"
	echo "$output"
	[ "$status" -eq 0 ]
	check_points
}

@test "chain: a raw volume under random writes, 25 backups of random types, every point restores to its image" {
	L=$(new_loop 128M)
	dd if=/dev/urandom of="$L" bs=1M count=128 oflag=direct status=none
	cbt attach "$L" --block-size 4K
	raw_workload "$L"
	for _ in $(seq 1 25); do
		chain_backup "$L"
		sleep 1
	done
	stop_workload
	cat "$BATS_TEST_TMPDIR/log"
	[ "${#SUM[@]}" -eq 25 ]
	check_points
}

@test "chain: an ext4 under fio and file churn, 25 backups of random types, every point restores to its image and is fsck-clean" {
	fs_chain "mkfs.ext4 -q -F" 128M fsck_ext4
}

@test "chain: a two-volume set under random writes, 25 backups of random types, every point restores to its images" {
	A=$(new_loop 96M)
	B=$(new_loop 64M)
	dd if=/dev/urandom of="$A" bs=1M count=96 oflag=direct status=none
	dd if=/dev/urandom of="$B" bs=1M count=64 oflag=direct status=none
	cbt attach "$A" --block-size 4K
	cbt attach "$B" --block-size 4K
	raw_workload "$A"
	raw_workload "$B"
	for _ in $(seq 1 25); do
		chain_backup "$A" "$B"
		sleep 1
	done
	stop_workload
	cat "$BATS_TEST_TMPDIR/log"
	[ "${#SUM[@]}" -eq 50 ]
	check_points
}

@test "chain: an xfs under fio and file churn, 25 backups of random types, every point restores to its image and is fsck-clean" {
	fs_chain "mkfs.xfs -q -f" 320M fsck_xfs
}
