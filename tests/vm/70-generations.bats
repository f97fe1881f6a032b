#!/usr/bin/env bats
# The generation proof under faults: writes held in flight across a
# checkpoint that times out, across a snapshot whose hold bound expires,
# across attach (dm-delay, blk-throttle); two writes racing a checkpoint on
# one block; writers hammering a few blocks while sets come and go; a
# discard of a whole huge volume. Ground truth is independent of cbt: when
# each write completed, and the images taken at each stamp.

load helpers

setup() {
	long_gate
	common_setup
	LOOPS=()
	DMS=()
	OUT=$BATS_TEST_TMPDIR
}

teardown() {
	local d id p
	# No checkpoint elsewhere waits at its instant; a creator, slowdd or
	# dd of a failed race is ended (they wait on the FIFOs, closed here).
	if [ -e /sys/module/cbt/parameters/fault_instant_wait_ms ]; then
		fault fault_instant_wait_ms 0
		fault fault_mark_comm ''
		fault fault_put_wait_ms 0
	fi
	exec 7>&- 8>&- 9>&-
	for p in ${RACERS:-}; do kill "$p" 2>/dev/null || true; done
	for p in ${RACERS:-}; do wait "$p" 2>/dev/null || true; done
	[ -z "${FIOPIDS:-}" ] || kill -CONT $FIOPIDS 2>/dev/null || true
	[ -z "${BGPID:-}" ] || { kill $BGPID 2>/dev/null; wait $BGPID 2>/dev/null || true; }
	for id in $(cbt snapshot list --json 2>/dev/null | python3 -c 'import json,sys; [print(s["id"]) for s in json.load(sys.stdin)["snapsets"]]' 2>/dev/null); do
		cbt snapshot destroy "$id" || true
	done
	for d in "${DMS[@]}"; do
		cbt detach "/dev/mapper/$d" 2>/dev/null || true
		dmsetup remove --noudevsync "$d" 2>/dev/null || true
	done
	for d in "${LOOPS[@]}"; do
		cbt detach "$d" 2>/dev/null || true
		del_loop "$d"
	done
	[ ! -d /tmp/cbt-cg/slow ] || rmdir /tmp/cbt-cg/slow 2>/dev/null || true
	[ -z "${NULLB:-}" ] || { cbt detach "$D" 2>/dev/null || true; nullb_remove "$NULLB"; }
	unload_fault_module
	rm -rf "${BATS_TEST_TMPDIR:?}"/*
}

new_loop() {
	DEV=$(make_loop "$1")
	LOOPS+=("$DEV")
}

# new_delay NAME DEV MS: a dm-delay device holding writes MS ms; sets $DEV.
new_delay() {
	DEV=$(dm_delay "$1" "$2" "$3")
	DMS+=("$1")
}

# The write at OFFSET is not behind stamp STAMP: when dm-delay still held
# it (HELD, counted after the stamp was handed out) it completed after the
# stamp, and must be reported. not_behind DEV STAMP HELD OFFSET
not_behind() {
	[ "$3" -eq 0 ] || changes_include "$1" "$2" "$4"
}

@test "a write held across a timed-out checkpoint never lands behind the retry's stamp" {
	new_loop 64M
	new_delay cbt-delay "$DEV" 4000
	D=$DEV
	cbt attach "$D"
	S0=$(cbt checkpoint "$D")
	python3 "$TLIB/timed_write.py" "$D" 409600 4096 "$OUT/done" &
	BGPID=$!
	wait_delayed_write cbt-delay
	run cbt checkpoint "$D" --timeout 300
	[ "$status" -ne 0 ]
	[[ "$output" == *"timed out"* ]]
	run cbt checkpoint "$D" --timeout 300
	S1=$output
	st=$status
	held=$(delayed_writes cbt-delay)
	wait $BGPID
	BGPID=
	# A stamp the retry handed out while the write was held must report it.
	[ "$st" -ne 0 ] || not_behind "$D" "$S1" "$held" 409600
	S2=$(cbt checkpoint "$D" --timeout 10000)
	changes_include "$D" "$S0" 409600
}

@test "a write held across a snapshot whose hold bound expires never lands behind a later stamp" {
	new_loop 64M
	new_delay cbt-delay "$DEV" 4000
	D=$DEV
	cbt attach "$D"
	S0=$(cbt checkpoint "$D")
	python3 "$TLIB/timed_write.py" "$D" 819200 4096 "$OUT/done" &
	BGPID=$!
	wait_delayed_write cbt-delay
	run cbt snapshot create "$D" --store "$OUT/store:16M" --no-freeze --hold 500
	[ "$status" -ne 0 ]
	[[ "$output" == *"timed out"* ]]
	# Nothing is left of the set.
	[ "$(count_sets)" -eq 0 ]
	run cbt checkpoint "$D" --timeout 300
	S1=$output
	st=$status
	held=$(delayed_writes cbt-delay)
	wait $BGPID
	BGPID=
	[ "$st" -ne 0 ] || not_behind "$D" "$S1" "$held" 819200
	changes_include "$D" "$S0" 819200
}

@test "a write held by dm-delay across attach is never behind the first stamp" {
	new_loop 64M
	new_delay cbt-delay "$DEV" 3000
	D=$DEV
	python3 "$TLIB/timed_write.py" "$D" 409600 4096 "$OUT/done" &
	BGPID=$!
	wait_delayed_write cbt-delay
	cbt attach "$D"
	S1=$(cbt checkpoint "$D" --timeout 10000)
	held=$(delayed_writes cbt-delay)
	wait $BGPID
	BGPID=
	not_behind "$D" "$S1" "$held" 409600
}

@test "a write held by blk-throttle across attach is never behind the first stamp" {
	new_loop 64M
	L=$DEV
	mkdir -p /tmp/cbt-cg
	mountpoint -q /tmp/cbt-cg || mount -t cgroup2 none /tmp/cbt-cg
	echo +io >/tmp/cbt-cg/cgroup.subtree_control
	mkdir -p /tmp/cbt-cg/slow
	echo "$(lsblk -dno MAJ:MIN "$L" | tr -d ' ') wbps=16384" >/tmp/cbt-cg/slow/io.max
	# 64 KiB at 16 KiB/s: held about 4 s, by blk-throttle, before the queue.
	(echo $BASHPID >/tmp/cbt-cg/slow/cgroup.procs &&
		exec python3 "$TLIB/timed_write.py" "$L" 1048576 65536 "$OUT/done") &
	BGPID=$!
	wait_blocked $BGPID blkdev_direct_IO
	cbt attach "$L"
	S1=$(cbt checkpoint "$L" --timeout 10000)
	# Still in its write after the stamp: the write completes after it.
	held=0
	[ "$(awk '{print $3}' "/proc/$BGPID/stat" 2>/dev/null)" != D ] || held=1
	wait $BGPID
	BGPID=
	not_behind "$L" "$S1" "$held" 1048576
}

@test "a second write to a block racing a checkpoint is never hidden by the first (fault injection)" {
	load_fault_module
	new_loop 64M
	L=$DEV
	sz=$(blockdev --getsz "$L")
	modprobe dm-delay
	# One 64 KiB block: its first half passes at once, its second half's
	# writes are held 8 s.
	dmsetup create --noudevsync cbt-race --table "0 64 linear $L 0
64 64 delay $L 64 0 $L 64 8000
128 $((sz - 128)) linear $L 128"
	DMS+=(cbt-race)
	D=/dev/dm-$(dmsetup info -c --noheadings -o minor cbt-race | tr -d ' ')
	cbt attach "$D" --block-size 64K
	cbt checkpoint "$D" >/dev/null
	cp /usr/bin/dd "$OUT/slowdd"
	printf slowdd >/sys/module/cbt/parameters/fault_mark_comm
	echo 20000 >/sys/module/cbt/parameters/fault_mark_wait_ms
	echo 3000 >/sys/module/cbt/parameters/fault_mark_extra_ms
	# The first write reads generation g and waits until g + 1 is open,
	# then 3 s more before it marks.
	"$OUT/slowdd" if=/dev/urandom of="$D" bs=4k count=1 oflag=direct conv=notrunc status=none &
	BGPID=$!
	for i in $(seq 1 100); do
		[ "$(cat /sys/module/cbt/parameters/fault_mark_waiting)" -eq 1 ] && break
		sleep 0.1
	done
	[ "$(cat /sys/module/cbt/parameters/fault_mark_waiting)" -eq 1 ]
	# The checkpoint opens g + 1 and waits for the first write to mark.
	cbt checkpoint "$D" --timeout 30000 >"$OUT/s1" &
	CK=$!
	for i in $(seq 1 100); do
		[ "$(cat /sys/module/cbt/parameters/fault_mark_seen)" -eq 1 ] && break
		sleep 0.05
	done
	[ "$(cat /sys/module/cbt/parameters/fault_mark_seen)" -eq 1 ]
	# The second write marks g + 1 meanwhile, and completes only 8 s later.
	dd if=/dev/urandom of="$D" bs=4k count=1 seek=8 oflag=direct conv=notrunc status=none &
	W2=$!
	wait_delayed_write cbt-race
	wait $CK
	held=$(delayed_writes cbt-race)
	wait $W2
	wait $BGPID
	BGPID=
	printf '' >/sys/module/cbt/parameters/fault_mark_comm
	# Stamp g was handed out while the second write was still held.
	[ "$held" -gt 0 ]
	changes_include "$D" "$(cat "$OUT/s1")" 32768
}

# The race below is timed by the test in a slow guest, where starting a
# program can take seconds (its binary comes over 9p): in its window the
# test runs shell builtins only, and every program is started before. The
# write held in the hook spins with preemption off: it has CPU 0 to itself,
# everything else runs on CPU 1 (else a creator or the test queued behind
# it would wait out the spin).

# nap: a 10 ms pause without starting a program (fd 9: a FIFO nobody
# writes, opened by setup_nap).
setup_nap() {
	mkfifo "$OUT/never"
	exec 9<>"$OUT/never"
}
nap() {
	read -rt 0.01 -u 9 _ || true
}

# wait_counter KNOB N: until the fault injection counter KNOB reaches N,
# up to 60 s.
wait_counter() {
	local v end=$((SECONDS + 60))
	while [ $SECONDS -lt $end ]; do
		read -r v <"/sys/module/cbt/parameters/$1"
		[ "$v" -ge "$2" ] && return 0
		nap
	done
	echo "$1 never reached $2" >&2
	grep . /sys/module/cbt/parameters/fault_* >&2
	ps -eo pid,stat,wchan:32,args | grep -E "dd|cbt|fio" >&2
	for p in $(pgrep -x slowdd) $(pgrep -x dd); do cat "/proc/$p/stack" >&2; done
	cat "$OUT/slowdd.err" >&2
	[ -z "${a:-}" ] || { kill -0 "$a" 2>/dev/null || { wait "$a"; echo "slowdd exit $?" >&2; }; }
	return 1
}

# wait_state PID STATES: until process PID is in one of STATES (letters of
# /proc/PID/stat) or gone, up to 30 s.
wait_state() {
	local st end=$((SECONDS + 30))
	while [ $SECONDS -lt $end ]; do
		read -r _ _ st _ 2>/dev/null <"/proc/$1/stat" || return 0
		[[ "$2" == *"$st"* ]] && return 0
		nap
	done
	echo "process $1 never in $2" >&2
	return 1
}

# fio_signal SIG: send SIG to the fio processes ($FIOPIDS); with STOP,
# return once all are stopped (their writes submitted so far are marked).
fio_signal() {
	local p
	kill "-$1" $FIOPIDS
	if [ "$1" = STOP ]; then
		for p in $FIOPIDS; do wait_state "$p" T; done
	fi
}

# race_instant KIND I: while fio hammers the first four 64 KiB blocks of
# $D, a checkpoint (KIND checkpoint) or a snapshot set (KIND snapshot) opens
# the next generation with a write to block 1 caught between reading the
# generation and marking: slowdd's, which marks only after later writes
# (fio's, and dd's to block 1) have marked the next one. fio is stopped
# before slowdd's write marks, so that nothing marks its block again. Sets
# $RACED to 1 when it went so (a write of the next generation to block 1
# overtook slowdd's, and fio stopped in time).
race_instant() {
	local seen overtaken creator a b waiting da db
	# Each write its own data; dd and slowdd wait for it on a FIFO.
	da=$(head -c 49152 /dev/urandom | base64 -w0)
	db=$(head -c 49152 /dev/urandom | base64 -w0)
	rm -f "$OUT/fa" "$OUT/fb"
	mkfifo "$OUT/fa" "$OUT/fb"
	taskset -c 0 "$OUT/slowdd" if="$OUT/fa" of="$D" bs=64K seek=1 count=1 iflag=fullblock \
		oflag=direct conv=notrunc 2>"$OUT/slowdd.err" &
	a=$!
	dd if="$OUT/fb" of="$D" bs=64K seek=1 count=1 iflag=fullblock \
		oflag=direct conv=notrunc status=none &
	b=$!
	exec 7>"$OUT/fa" 8>"$OUT/fb"
	read -r seen </sys/module/cbt/parameters/fault_mark_seen
	read -r overtaken </sys/module/cbt/parameters/fault_mark_overtaken
	if [ "$1" = checkpoint ]; then
		cbt checkpoint "$D" >"$OUT/stamp$2" 7>&- 8>&- &
	else
		cbt snapshot create "$D" --store "$OUT/store$2:8M" --no-freeze \
			--hold 60000 >"$OUT/set$2" 7>&- 8>&- &
	fi
	creator=$!
	RACERS="$a $b $creator"
	wait_counter fault_instant_waiting 1
	echo "<3>cbt-test: $1 $2: at the instant" >/dev/kmsg
	printf '%s' "$da" >&7
	exec 7>&-
	wait_counter fault_mark_seen $((seen + 1))
	echo "<3>cbt-test: $1 $2: slowdd saw it" >/dev/kmsg
	printf '%s' "$db" >&8
	exec 8>&-
	# dd's write is marked once it is done (checkpoint) or held by
	# copy-on-write (snapshot: until the set is ready, after slowdd's).
	if [ "$1" = checkpoint ]; then
		wait $b
	else
		wait_state $b D
	fi
	fio_signal STOP
	read -r waiting </sys/module/cbt/parameters/fault_mark_waiting
	echo "<3>cbt-test: $1 $2: fio stopped, slowdd waiting $waiting" >/dev/kmsg
	wait $creator
	wait $a
	[ "$1" = checkpoint ] || wait $b
	RACERS=
	RACED=0
	[ "$waiting" -eq 0 ] || [ "$(fault fault_mark_overtaken)" -eq "$overtaken" ] || RACED=1
}

# Writers hammer a few blocks while checkpoints and snapshot sets come and
# go. At each instant fault injection holds one write between reading the
# generation and marking until later writes to its block have marked the
# next generation. Ground truth: each set's image is the volume at its
# stamp, and every block that differs from it afterwards must be reported
# since that stamp; each checkpoint's stamp reports the later write.
@test "writers hammering a few blocks while sets and checkpoints loop: every later change is reported" {
	[ "$(nproc)" -ge 2 ] || skip "needs two CPUs"
	taskset -pc 1 $BASHPID >/dev/null
	load_fault_module
	setup_nap
	D=$(nullb_make cbthammer 64)
	NULLB=cbthammer
	dd if=/dev/urandom of="$D" bs=1M count=4 oflag=direct status=none
	cbt attach "$D" --block-size 64K
	cp /usr/bin/dd "$OUT/slowdd"
	fault fault_mark_comm slowdd
	fault fault_mark_wait_ms 10000
	fault fault_mark_extra_ms 5000
	fault fault_instant_wait_ms 60000
	fio --name=h --filename="$D" --size=256K --rw=randwrite --bs=64k \
		--direct=1 --ioengine=libaio --iodepth=4 --numjobs=2 \
		--refill_buffers --time_based --runtime=900 --output=/dev/null &
	BGPID=$!
	# fio and its two jobs.
	for i in $(seq 1 100); do
		FIOPIDS=$(pgrep -x fio | xargs)
		[ "$(echo "$FIOPIDS" | wc -w)" -lt 3 ] || break
		sleep 0.1
	done
	[ "$(echo "$FIOPIDS" | wc -w)" -eq 3 ]
	raced=0
	for i in $(seq 1 4); do
		race_instant checkpoint "c$i"
		raced=$((raced + RACED))
		echo "checkpoint $i: raced $RACED"
		changes_include "$D" "$(cat "$OUT/stampc$i")" 65536
		fio_signal CONT
		race_instant snapshot "s$i"
		raced=$((raced + RACED))
		echo "snapshot $i: raced $RACED"
		id=$(sed -n 1p "$OUT/sets$i")
		stamp=$(sed -n 2p "$OUT/sets$i" | awk '{print $2}')
		img=$(sed -n 2p "$OUT/sets$i" | awk '{print $3}')
		dd if="$img" of="$OUT/image" bs=256K count=1 status=none
		dd if="$D" of="$OUT/now" bs=256K count=1 iflag=direct status=none
		cbt changes "$D" --since "$stamp" >"$OUT/changes"
		python3 "$TLIB/image_diff.py" 65536 "$OUT/image" "$OUT/now" >"$OUT/diff"
		cat "$OUT/diff" "$OUT/changes"
		python3 "$TLIB/verify_changes.py" 65536 "$OUT/diff" "$OUT/changes" \
			--device-size "$(blockdev --getsize64 "$D")"
		cbt snapshot destroy "$id"
		rm -f "$OUT/stores$i"
		fio_signal CONT
	done
	fault fault_instant_wait_ms 0
	fault fault_mark_comm ''
	# The race must have happened: a run where it never did proves nothing.
	echo "raced $raced of 8"
	[ "$raced" -ge 4 ]
}

@test "a discard of a whole 16 TiB volume allocates no map pages" {
	f=$(mktemp /tmp/cbt-huge.XXXXXX)
	truncate -s 16T "$f"
	DEV=$(losetup -f --show "$f")
	LOOPS+=("$DEV")
	cbt attach "$DEV" --block-size 4K
	S=$(cbt checkpoint "$DEV")
	before=$(cbt status "$DEV" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["volumes"][0]["map-bytes"])')
	blkdiscard "$DEV"
	cbt status "$DEV" --json >"$OUT/status"
	after=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["volumes"][0]["map-bytes"])' "$OUT/status")
	lost=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["volumes"][0]["lost"])' "$OUT/status")
	[ "$lost" = "False" ]
	# A whole written leaf or directory is one word: each of the
	# discard's bios makes at most the pages of its two partial ends (a
	# leaf and a directory each); a byte a block would have been 4 GiB.
	max=$(cat "/sys/block/$(basename "$DEV")/queue/discard_max_bytes")
	[ "$after" -le $((before + (17592186044416 / max + 1) * 4 * 4096)) ]
	run cbt changes "$DEV" --since "$S"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "0 17592186044416" ]
	# A write inside a discarded range splits only its own leaf.
	S2=$(cbt checkpoint "$DEV")
	write_direct "$DEV" 5000000000000 4096 0
	write_direct "$DEV" 8000000000000 4096 0
	STAMP=$S2 verify_changes "$DEV" 4096 --exact
	after2=$(cbt status "$DEV" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["volumes"][0]["map-bytes"])')
	[ "$after2" -le $((after + 4 * 4096)) ]
}

@test "a status whose tracker is detached under it reads nothing freed (fault injection)" {
	load_fault_module
	new_loop 64M
	L=$DEV
	cbt attach "$L"
	freed=$(fault fault_trackers_freed)
	# The status drops its reference, then waits until a tracker is freed
	# (the fault module fills a freed tracker with POISON_FREE).
	fault fault_put_wait_ms 30000
	PYTHONPATH=$TLIB python3 - "$L" >"$OUT/status" <<'PY' &
import sys
import cbt_ioctl as c
print(*c.status(c.ctl(), sys.argv[1]))
PY
	BGPID=$!
	wait_fault fault_put_waiting 1
	cbt detach "$L"
	wait $BGPID
	BGPID=
	fault fault_put_wait_ms 0
	cat "$OUT/status"
	# The tracker was freed while the status waited...
	[ "$(fault fault_trackers_freed)" -gt "$freed" ]
	# ...and what it answered was read before.
	[ "$(cat "$OUT/status")" = "$(stat -c '%Hr %Lr' "$L") $((64 << 20))" ]
}

@test "status racing detach and attach reads nothing freed" {
	new_loop 64M
	L=$DEV
	cbt attach "$L"
	( for i in $(seq 1 20); do cbt detach "$L"; cbt attach "$L"; done ) &
	BGPID=$!
	for i in $(seq 1 100); do
		cbt status "$L" --json >/dev/null 2>&1 || true
	done
	wait $BGPID
	BGPID=
	cbt status "$L" --json >/dev/null
}
