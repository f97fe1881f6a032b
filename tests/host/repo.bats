#!/usr/bin/env bats
# The backup repository and its commands (cbt-snap backup, restore, verify,
# list, prune, gc) over image files: no module needed. The ground truth is
# sha256sum/cmp of the images at the time of each backup, and the changed
# ranges mutate() wrote (never asked of cbt). JSON is read with jq.

bats_require_minimum_version 1.5.0

TOP="$BATS_TEST_DIRNAME/../.."
CBT="$TOP/tools/cbt-snap"

setup_file() {
	make -s -C "$TOP" tools/cbt-snap >&2
}

setup() {
	TMP=$(mktemp -d)
	R="$TMP/repo"
	export TZ=UTC
}

teardown() {
	[ -z "${LOOPDEV:-}" ] || losetup -d "$LOOPDEV" 2>/dev/null || true
	rm -rf "$TMP"
}

# mkimg FILE MiB: half random, half compressible text, a zero stretch.
mkimg() {
	local half=$(($2 * 512 * 1024))
	{ head -c "$half" /dev/urandom; yes "compressible line of a disk image" | head -c $((half / 2));
	  head -c $((half / 2)) /dev/zero; } >"$1"
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# json FILE FILTER: jq's answer, raw.
json() { jq -r "$2" "$1"; }

# mutate IMAGE COUNT SEED: write random data (one in five: zeros) over COUNT
# random 4 KiB-aligned ranges of 4 to 96 KiB, as an application would;
# print the ranges as 'cbt-snap changes --json' does.
mutate() {
	local img=$1 n=$2 blocks len off i sep="" src
	RANDOM=$3
	blocks=$(($(stat -c %s "$img") / 4096))
	printf '{"stamp": "00000000-0000-0000-0000-000000000000:1", "block-size": 4096, "changes": ['
	for i in $(seq "$n"); do
		len=$((RANDOM % 24 + 1))
		off=$((RANDOM * 32768 + RANDOM))
		off=$((off % (blocks - len + 1)))
		src=/dev/urandom
		[ $((RANDOM % 5)) -ne 0 ] || src=/dev/zero
		dd if=$src of="$img" bs=4096 seek=$off count=$len conv=notrunc status=none
		printf '%s{"offset": %d, "length": %d}' "$sep" $((off * 4096)) $((len * 4096))
		sep=", "
	done
	printf ']}\n'
}

# backup ARGS...: run cbt-snap backup --json into $TMP/out.json; ID is its point.
backup() {
	"$CBT" backup -q --json "$@" >"$TMP/out.json"
	ID=$(json "$TMP/out.json" '.id')
}

# restore_check ID WANT [VOLUME]: the point restored equals sha WANT.
restore_check() {
	rm -f "$TMP/restored"
	"$CBT" restore -q "$R" --point "$1" ${3:+--volume "$3"} --to "$TMP/restored"
	[ "$(sha "$TMP/restored")" = "$2" ]
}

# one_line STATUS: the last run failed with STATUS and one line.
one_line() {
	echo "status $status: $output"
	[ "$status" -eq "$1" ]
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == "cbt-snap: "* ]]
}

@test "repo: full, incremental, differential and copy points of a changing image each restore byte for byte" {
	mkimg "$TMP/a.img" 32
	declare -A want
	local types=(full incremental incremental differential copy incremental differential full incremental)
	local last_full="" last_any="" i=0 t
	for t in "${types[@]}"; do
		i=$((i + 1))
		[ "$i" -eq 1 ] || mutate "$TMP/a.img" 10 "$i" >/dev/null
		backup "$TMP/a.img" --to "$R" --type "$t"
		want[$ID]=$(sha "$TMP/a.img")
		[ "$(json "$TMP/out.json" '.type')" = "$t" ]
		case $t in
		full) [ "$(json "$TMP/out.json" '.base')" = null ]; last_full=$ID; last_any=$ID ;;
		incremental) [ "$(json "$TMP/out.json" '.base')" = "$last_any" ]; last_any=$ID ;;
		differential) [ "$(json "$TMP/out.json" '.base')" = "$last_full" ]; last_any=$ID ;;
		copy) [ "$(json "$TMP/out.json" '.base')" = null ] ;;
		esac
	done
	for id in "${!want[@]}"; do
		restore_check "$id" "${want[$id]}"
	done
	run "$CBT" verify -q "$R"
	[ "$status" -eq 0 ]
	# identical chunks are stored once: the repository is far smaller than 9 images
	[ "$(du -sk "$R" | cut -f1)" -lt $((32 * 1024 * 3)) ]
}

@test "repo: --changes reads only the named extents, on top of the chain's last point; a differential on top of the full" {
	mkimg "$TMP/a.img" 32
	backup "$TMP/a.img" --to "$R"
	[ "$(json "$TMP/out.json" '.type')" = full ]
	local full=$ID diffs="$TMP/since-full.json"
	echo '{"changes": []}' >"$diffs"
	declare -A want
	for i in 1 2 3; do
		mutate "$TMP/a.img" 5 "$i" >"$TMP/ch.json"
		jq -s '.[0].changes += .[1].changes | .[0]' "$diffs" "$TMP/ch.json" >"$TMP/acc.json"
		mv "$TMP/acc.json" "$diffs"
		backup "$TMP/a.img" --to "$R" --changes "$TMP/ch.json"
		want[$ID]=$(sha "$TMP/a.img")
		[ "$(json "$TMP/out.json" '.type')" = incremental ]
		# at most one 1 MiB chunk per change (each is at most 96 KiB: two chunks)
		[ "$(json "$TMP/out.json" '."bytes-read"')" -le $((5 * 2 * 1048576)) ]
		[ "$(json "$TMP/out.json" '."bytes-read"')" -gt 0 ]
	done
	backup "$TMP/a.img" --to "$R" --type differential --changes "$diffs"
	want[$ID]=$(sha "$TMP/a.img")
	[ "$(json "$TMP/out.json" '.base')" = "$full" ]
	[ "$(json "$TMP/out.json" '."bytes-read"')" -lt $((32 * 1048576)) ]
	for id in "${!want[@]}"; do
		restore_check "$id" "${want[$id]}"
	done
	# only the extents are read: a change left out of the file is not in the point
	mutate "$TMP/a.img" 1 99 >/dev/null
	echo '{"changes": []}' >"$TMP/none.json"
	backup "$TMP/a.img" --to "$R" --changes "$TMP/none.json"
	[ "$(json "$TMP/out.json" '."bytes-read"')" = 0 ]
	rm -f "$TMP/restored"
	"$CBT" restore -q "$R" --point "$ID" --to "$TMP/restored"
	run cmp -s "$TMP/restored" "$TMP/a.img"
	[ "$status" -eq 1 ]
}

@test "repo: kill -9 of backup at random moments damages no point; the next run cleans up and succeeds" {
	mkimg "$TMP/a.img" 32
	declare -A want
	backup "$TMP/a.img" --to "$R"
	want[$ID]=$(sha "$TMP/a.img")
	for i in 1 2 3 4 5; do
		mutate "$TMP/a.img" 30 "$i" >/dev/null
		"$CBT" backup -q "$TMP/a.img" --to "$R" --type full &
		local pid=$!
		sleep "0.$((RANDOM % 6))$((RANDOM % 10))"
		kill -9 "$pid" 2>/dev/null || true
		wait "$pid" || true
		# a run that finished before the kill made a whole point of this state
		for id in $(ls "$R/points"); do
			[ -n "${want[$id]:-}" ] || want[$id]=$(sha "$TMP/a.img")
		done
	done
	run "$CBT" verify "$R"
	echo "$output"
	[ "$status" -eq 0 ]
	for id in "${!want[@]}"; do
		restore_check "$id" "${want[$id]}"
	done
	backup "$TMP/a.img" --to "$R"
	restore_check "$ID" "$(sha "$TMP/a.img")"
	# what the killed runs left is gone
	[ -z "$(ls -A "$R/tmp")" ]
}

# The pack files, read by tests/host/packs.py (from the documented format).
PACKS="$BATS_TEST_DIRNAME/packs.py"
# pack_files REPO: the pack files, sorted.
pack_files() { (cd "$1/packs" && find . -type f | sort); }
# chunk_list REPO: the digests of the chunks stored, sorted.
chunk_list() { "$PACKS" chunks "$1" | cut -d' ' -f1 | sort; }

# stopped PID: until the process has stopped itself (CBT_SNAP_TEST_STOP_AT).
stopped() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ "$(ps -o stat= -p "$1" | cut -c1)" = T ] && return 0
		sleep 0.1
	done
	return 1
}

@test "repo: a backup puts no pack in packs/ before its bytes are synced: a run stopped or killed midway leaves packs/ as it was" {
	mkimg "$TMP/a.img" 16
	backup "$TMP/a.img" --to "$R" --chunk-size 64K
	pack_files "$R" >"$TMP/before"
	chunk_list "$R" >"$TMP/chunks-before"
	# every block new, so every chunk of this run is a new chunk
	head -c $((16 << 20)) /dev/urandom >"$TMP/a.img"
	CBT_SNAP_TEST_STOP_AT=8M "$CBT" backup -q "$TMP/a.img" --to "$R" &
	local pid=$!
	stopped "$pid"
	# half the chunks are written: in a pack in the workspace, none in place yet
	cat "$R"/tmp/*/pack.* >"$TMP/ws"
	[ "$(stat -c %s "$TMP/ws")" -ge $((6 << 20)) ]
	pack_files "$R" >"$TMP/during"
	diff "$TMP/before" "$TMP/during"
	kill -9 "$pid"
	wait "$pid" || true
	pack_files "$R" >"$TMP/after"
	diff "$TMP/before" "$TMP/after"
	# the next run cleans up and puts its chunks in place with its point
	backup "$TMP/a.img" --to "$R"
	restore_check "$ID" "$(sha "$TMP/a.img")"
	[ "$(chunk_list "$R" | wc -l)" -ge $(($(wc -l <"$TMP/chunks-before") + 256)) ]
	[ -z "$(ls -A "$R/tmp")" ]
}

@test "repo: a commit that fails after the point's rename leaves no point; the next backup succeeds" {
	mkimg "$TMP/a.img" 4
	backup "$TMP/a.img" --to "$R"
	local first=$ID
	mutate "$TMP/a.img" 5 2 >/dev/null
	# The point is renamed into points/, then last-id is written: make that fail.
	run strace -f -qq -o /dev/null -P last-id -e trace=renameat -e inject=renameat:error=EIO \
		"$CBT" backup -q "$TMP/a.img" --to "$R"
	echo "status $status: $output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"last-id"* ]]
	"$CBT" list "$R" --json >"$TMP/list.json"
	[ "$(json "$TMP/list.json" '[.points[].id | tostring] | join(",")')" = "$first" ]
	[ -z "$(ls -A "$R/tmp")" ]
	backup "$TMP/a.img" --to "$R"
	[ "$(json "$TMP/out.json" '.base')" = "$first" ]
	restore_check "$ID" "$(sha "$TMP/a.img")"
}

@test "repo: a corrupted chunk is found by verify and by restore, and no later incremental builds on its point" {
	mkimg "$TMP/a.img" 16
	backup "$TMP/a.img" --to "$R"
	local p1=$ID
	chunk_list "$R" >"$TMP/before"
	mutate "$TMP/a.img" 10 1 >/dev/null
	backup "$TMP/a.img" --to "$R"
	local p2=$ID
	chunk_list "$R" >"$TMP/after"
	local c pack off len
	c=$(comm -13 "$TMP/before" "$TMP/after" | head -1)
	[ -n "$c" ]
	read -r pack off len < <("$PACKS" where "$R" "$c")
	[ "$len" -gt 27 ]
	printf 'garbage' | dd of="$R/$pack" bs=1 seek=$((off + 20)) conv=notrunc status=none
	run "$CBT" verify -q "$R" --point "$p2"
	one_line 1
	[[ "$output" == *"point $p2: FAILED"*"$c"* ]]
	# its pack is set aside, its other chunks kept in a new one
	[ -f "$R/$pack.bad" ]
	[ ! -e "$R/$pack" ]
	"$PACKS" check "$R"
	run "$CBT" verify -q "$R" --point "$p1"
	[ "$status" -eq 0 ]
	[ "$("$CBT" list "$R" -J | jq -r ".points[] | select(.id == $p2) | .verify")" = failed ]
	run "$CBT" restore -q "$R" --point "$p2" --to "$TMP/restored"
	one_line 1
	[[ "$output" == *"$c"* ]]
	run "$CBT" backup -q "$TMP/a.img" --to "$R" --type incremental
	one_line 1
	[[ "$output" == *"failed its last verify"* ]]
	backup "$TMP/a.img" --to "$R"
	[ "$(json "$TMP/out.json" '.type')" = full ]
	[ "$(json "$TMP/out.json" '.base')" = null ]
	restore_check "$ID" "$(sha "$TMP/a.img")"
}

@test "repo: a deleted chunk is found by verify and by restore, and no later incremental builds on its point" {
	mkimg "$TMP/a.img" 16
	backup "$TMP/a.img" --to "$R"
	local c
	# the first chunk's (random data: restore must read it)
	c=$(head -c 1M "$TMP/a.img" | sha256sum | cut -c1-64)
	"$PACKS" drop "$R" "$c"
	[ "$(chunk_list "$R" | grep -c "$c")" -eq 0 ]
	run "$CBT" verify -q "$R"
	one_line 1
	[[ "$output" == *"$c"*missing* ]]
	run "$CBT" restore -q "$R" --point "$ID" --to "$TMP/restored"
	one_line 1
	[[ "$output" == *"$c"*missing* ]]
	backup "$TMP/a.img" --to "$R"
	[ "$(json "$TMP/out.json" '.type')" = full ]
	restore_check "$ID" "$(sha "$TMP/a.img")"
	run "$CBT" verify -q "$R" --point "$ID"
	[ "$status" -eq 0 ]
}

# put_bytes IMAGE OFFSET LENGTH: random bytes there; prints the changes JSON.
put_bytes() {
	head -c "$3" /dev/urandom | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
	printf '{"changes": [{"offset": %d, "length": %d}]}\n' "$2" "$3"
}

@test "repo: an incremental reads only the 64 KiB pieces the changes touch; a chunk with too many patched pieces is read whole again; every point restores, also after its base is pruned" {
	head -c $((8 << 20)) /dev/urandom >"$TMP/a.img"
	backup "$TMP/a.img" --to "$R"
	local full=$ID off
	declare -A want
	want[$ID]=$(sha "$TMP/a.img")
	# pieces 3, 5, 9 and 11 of chunk 2 (1 MiB chunks, 16 pieces of 64 KiB)
	for off in $((3 << 16)) $((5 << 16)) $((9 << 16)) $((11 << 16)); do
		put_bytes "$TMP/a.img" $(((2 << 20) + off + 100)) 4096 >"$TMP/ch.json"
		backup "$TMP/a.img" --to "$R" --changes "$TMP/ch.json"
		[ "$(json "$TMP/out.json" '.type')" = incremental ]
		[ "$(json "$TMP/out.json" '."bytes-read"')" -eq 65536 ]
		want[$ID]=$(sha "$TMP/a.img")
	done
	# a write across pieces 12 and 13: six pieces patched is too many, the chunk is read whole
	put_bytes "$TMP/a.img" $(((2 << 20) + (13 << 16) - 512)) 1024 >"$TMP/ch.json"
	backup "$TMP/a.img" --to "$R" --changes "$TMP/ch.json"
	[ "$(json "$TMP/out.json" '."bytes-read"')" -eq 1048576 ]
	want[$ID]=$(sha "$TMP/a.img")
	# then a piece again, and one in the last chunk
	put_bytes "$TMP/a.img" $(((2 << 20) + 7)) 10 >"$TMP/ch.json"
	backup "$TMP/a.img" --to "$R" --changes "$TMP/ch.json"
	[ "$(json "$TMP/out.json" '."bytes-read"')" -eq 65536 ]
	want[$ID]=$(sha "$TMP/a.img")
	for id in "${!want[@]}"; do
		restore_check "$id" "${want[$id]}"
	done
	run "$CBT" verify -q "$R"
	[ "$status" -eq 0 ]
	# the full pruned, gc run on old packs: every other point still restores
	"$CBT" prune -q "$R" --point "$full"
	find "$R/packs" -type f -exec touch -d '-1 hour' {} +
	run "$CBT" gc --json "$R"
	[ "$status" -eq 0 ]
	for id in "${!want[@]}"; do
		[ "$id" -eq "$full" ] || restore_check "$id" "${want[$id]}"
	done
	run "$CBT" verify -q "$R"
	[ "$status" -eq 0 ]
}

@test "repo: a patched piece of the base found missing is read again by the next incremental" {
	head -c $((4 << 20)) /dev/urandom >"$TMP/a.img"
	backup "$TMP/a.img" --to "$R"
	put_bytes "$TMP/a.img" $(((1 << 20) + (4 << 16))) 4096 >"$TMP/ch.json"
	backup "$TMP/a.img" --to "$R" --changes "$TMP/ch.json"
	[ "$(json "$TMP/out.json" '."bytes-read"')" -eq 65536 ]
	# the patch's chunk: the piece's 64 KiB
	local c
	c=$(dd if="$TMP/a.img" bs=64K skip=20 count=1 status=none | sha256sum | cut -c1-64)
	"$PACKS" drop "$R" "$c"
	echo '{"changes": []}' >"$TMP/none.json"
	backup "$TMP/a.img" --to "$R" --changes "$TMP/none.json"
	[ "$(json "$TMP/out.json" '."bytes-read"')" -eq 65536 ]
	restore_check "$ID" "$(sha "$TMP/a.img")"
}

@test "repo: a chunk of the base found missing is read again by an incremental with --changes" {
	mkimg "$TMP/a.img" 16
	backup "$TMP/a.img" --to "$R"
	local c
	c=$(head -c 1M "$TMP/a.img" | sha256sum | cut -c1-64)
	"$PACKS" drop "$R" "$c"
	[ "$(chunk_list "$R" | grep -c "$c")" -eq 0 ]
	mutate "$TMP/a.img" 3 5 >"$TMP/ch.json"
	backup "$TMP/a.img" --to "$R" --changes "$TMP/ch.json"
	restore_check "$ID" "$(sha "$TMP/a.img")"
}

@test "repo: prune of any one point leaves every other restorable, also after gc" {
	mkimg "$TMP/a.img" 4
	declare -A want
	local t
	for t in full incremental differential incremental copy; do
		mutate "$TMP/a.img" 8 "$RANDOM" >/dev/null
		backup "$TMP/a.img" --to "$R" --type "$t"
		want[$ID]=$(sha "$TMP/a.img")
	done
	local orig="$TMP/orig"
	cp -a "$R" "$orig"
	for gone in 1 2 3 4 5; do
		rm -rf "$R"
		cp -a "$orig" "$R"
		"$CBT" prune -q "$R" --point "$gone"
		# every pack old enough for gc to judge it
		find "$R/packs" -type f -exec touch -d '-1 hour' {} +
		run "$CBT" gc --json "$R"
		[ "$status" -eq 0 ]
		[ "$(json /dev/stdin '.removed' <<<"$output")" -gt 0 ] || [ "$gone" -eq 5 ]
		[ ! -e "$R/points/$gone" ]
		for id in "${!want[@]}"; do
			[ "$id" -eq "$gone" ] || restore_check "$id" "${want[$id]}"
		done
		run "$CBT" verify -q "$R"
		[ "$status" -eq 0 ]
	done
}

@test "repo: prune --keep-last and --keep-daily/--keep-monthly keep what they name" {
	mkimg "$TMP/a.img" 4
	for i in 1 2 3 4 5 6; do
		backup "$TMP/a.img" --to "$R" --type full
	done
	# the manifests' times, edited: March 15, April 20, May 2, May 9, May 10 twice
	local t=("" "2026-03-15 12:00" "2026-04-20 12:00" "2026-05-02 12:00" "2026-05-09 12:00"
		 "2026-05-10 10:00" "2026-05-10 12:00")
	for i in 1 2 3 4 5 6; do
		jq ".time = $(date -u -d "${t[$i]}" +%s)" "$R/points/$i/manifest.json" >"$TMP/m"
		cat "$TMP/m" >"$R/points/$i/manifest.json"
	done
	cp -a "$R" "$TMP/r2"
	cp -a "$R" "$TMP/r3"
	"$CBT" prune -q "$R" --keep-last 2
	[ "$(ls "$R/points" | sort -n | tr '\n' ' ')" = "5 6 " ]
	# daily 2: the newest of today (6) and of yesterday (4)
	"$CBT" prune -q "$TMP/r2" --keep-daily 2
	[ "$(ls "$TMP/r2/points" | sort -n | tr '\n' ' ')" = "4 6 " ]
	# monthly 2: the newest of May (6) and of April (2)
	run "$CBT" prune "$TMP/r3" --keep-monthly 2 --dry-run --json
	[ "$status" -eq 0 ]
	[ "$(ls "$TMP/r3/points" | wc -l)" -eq 6 ]
	[ "$(jq -c '.kept | sort' <<<"$output")" = "[2,6]" ]
}

@test "repo: gc while a backup runs loses nothing" {
	mkimg "$TMP/a.img" 64
	backup "$TMP/a.img" --to "$R"
	local p1=$ID
	cp "$TMP/a.img" "$TMP/old.img"
	mutate "$TMP/a.img" 60 7 >/dev/null
	backup "$TMP/a.img" --to "$R"
	"$CBT" prune -q "$R" --point "$p1"
	# the old image's chunks are unreferenced now, and old: gc's prey
	find "$R/packs" -type f -exec touch -d '-1 hour' {} +
	# a backup that finds them there (and so stores nothing for them) ...
	CBT_SNAP_TEST_STOP_AT=32M "$CBT" backup -q --json "$TMP/old.img" --to "$R" --type full \
		>"$TMP/out.json" &
	local pid=$! rounds=0 i
	# ... stopped (by itself) half-way, while gc runs,
	for i in $(seq 3000); do
		[ "$(awk '{print $3}' "/proc/$pid/stat")" != T ] || break
		sleep 0.01
	done
	[ "$(awk '{print $3}' "/proc/$pid/stat")" = T ]
	run "$CBT" gc --json "$R"
	echo "gc while the backup was stopped: $output"
	[ "$status" -eq 0 ]
	[ "$(jq .removed <<<"$output")" -gt 0 ]
	kill -CONT "$pid"
	# ... and over and over while it goes on
	while kill -0 "$pid" 2>/dev/null; do
		"$CBT" gc -q "$R"
		rounds=$((rounds + 1))
	done
	wait "$pid"
	echo "gc rounds during the backup: $rounds"
	ID=$(json "$TMP/out.json" '.id')
	run "$CBT" verify "$R"
	echo "$output"
	[ "$status" -eq 0 ]
	restore_check "$ID" "$(sha "$TMP/old.img")"
	"$CBT" gc -q "$R"
	restore_check "$ID" "$(sha "$TMP/old.img")"
}

@test "repo: two chains on one source keep separate bases" {
	mkimg "$TMP/a.img" 8
	backup "$TMP/a.img" --to "$R" --chain a
	local a1=$ID
	backup "$TMP/a.img" --to "$R" --chain b
	local b1=$ID
	mutate "$TMP/a.img" 5 1 >"$TMP/ch.json"
	backup "$TMP/a.img" --to "$R" --chain a --changes "$TMP/ch.json"
	[ "$(json "$TMP/out.json" '.base')" = "$a1" ]
	local a2=$ID
	backup "$TMP/a.img" --to "$R" --chain b --changes "$TMP/ch.json"
	[ "$(json "$TMP/out.json" '.base')" = "$b1" ]
	backup "$TMP/a.img" --to "$R" --chain a --type differential --changes "$TMP/ch.json"
	[ "$(json "$TMP/out.json" '.base')" = "$a1" ]
	restore_check "$a2" "$(sha "$TMP/a.img")"
	restore_check "$ID" "$(sha "$TMP/a.img")"
}

@test "repo: another volume's points are never mixed up" {
	mkimg "$TMP/a.img" 8
	mkimg "$TMP/b.img" 8
	backup "$TMP/a.img" --to "$R"
	local a1=$ID
	backup "$TMP/b.img" --to "$R"
	local b1=$ID
	[ "$(json "$TMP/out.json" '.type')" = full ]
	mutate "$TMP/a.img" 5 1 >"$TMP/ch.json"
	backup "$TMP/a.img" --to "$R" --changes "$TMP/ch.json"
	[ "$(json "$TMP/out.json" '.base')" = "$a1" ]
	restore_check "$ID" "$(sha "$TMP/a.img")"
	# a point of b holds no a
	run "$CBT" restore -q "$R" --point "$b1" --volume "$TMP/a.img" --to "$TMP/restored"
	one_line 1
	[[ "$output" == *"has no volume"* ]]
	# a two-volume point: the volume must be named
	backup "$TMP/a.img" "$TMP/b.img" --to "$R"
	run "$CBT" restore -q "$R" --point "$ID" --to "$TMP/restored"
	one_line 1
	[[ "$output" == *"--volume"* ]]
	restore_check "$ID" "$(sha "$TMP/b.img")" "$TMP/b.img"
	restore_check "$ID" "$(sha "$TMP/a.img")" "$TMP/a.img"
	# the same name, another identity: an incremental is refused, AUTO is full
	truncate -s 12M "$TMP/a.img"
	run "$CBT" backup -q "$TMP/a.img" --to "$R" --type incremental
	one_line 1
	[[ "$output" == *"another volume of this name (size differs)"* ]]
	backup "$TMP/a.img" --to "$R"
	[ "$(json "$TMP/out.json" '.type')" = full ]
	# a filesystem UUID that changed
	truncate -s 16M "$TMP/fs.img"
	mkfs.ext4 -q -F "$TMP/fs.img"
	backup "$TMP/fs.img" --to "$R"
	[ "$("$CBT" list "$R" -J -o id,fstypes | jq -r '.points[-1].fstypes[0]')" = ext4 ]
	tune2fs -q -U random "$TMP/fs.img" >/dev/null 2>&1 || tune2fs -U random "$TMP/fs.img"
	run "$CBT" backup -q "$TMP/fs.img" --to "$R" --type incremental
	one_line 1
	[[ "$output" == *"filesystem UUID differs"* ]]
}

@test "repo: a symlink planted inside is never followed" {
	mkimg "$TMP/a.img" 4
	backup "$TMP/a.img" --to "$R"
	local id=$ID
	# a pack replaced by a link to a copy outside
	local c pack
	# the pack of the first chunk (random data: restore must read it)
	c=$(head -c 1M "$TMP/a.img" | sha256sum | cut -c1-64)
	read -r pack _ < <("$PACKS" where "$R" "$c")
	mkdir -p "$TMP/outside"
	cp -a "$R/$pack" "$TMP/outside/pack"
	rm "$R/$pack"
	ln -s "$TMP/outside/pack" "$R/$pack"
	run "$CBT" restore -q "$R" --point "$id" --to "$TMP/restored"
	one_line 1
	[[ "$output" == *"$c: missing"* ]]
	run "$CBT" verify -q "$R"
	[ "$status" -eq 1 ]
	# packs/ itself a link: a backup stores nothing through it
	local before
	mv "$R/packs" "$TMP/outside/packs"
	ln -s "$TMP/outside/packs" "$R/packs"
	before=$(find "$TMP/outside" -type f | sort | xargs sha256sum | sha256sum)
	run "$CBT" backup -q "$TMP/a.img" --to "$R" --type full
	one_line 1
	[[ "$output" == *"packs: not a folder"* ]]
	[ "$(find "$TMP/outside" -type f | sort | xargs sha256sum | sha256sum)" = "$before" ]
	rm "$R/packs"
	mv "$TMP/outside/packs" "$R/packs"
	rm "$R/$pack"
	cp -a "$TMP/outside/pack" "$R/$pack"
	restore_check "$id" "$(sha "$TMP/a.img")"
	# a manifest replaced by a link to a valid manifest outside
	cp "$R/points/$id/manifest.json" "$TMP/outside/m.json"
	rm "$R/points/$id/manifest.json"
	ln -s "$TMP/outside/m.json" "$R/points/$id/manifest.json"
	run "$CBT" restore -q "$R" --point "$id" --to "$TMP/restored"
	one_line 1
	[[ "$output" == *"symbolic link"* ]]
	# the repository itself given as a link, and tmp/ replaced by one
	ln -s "$R" "$TMP/link"
	run "$CBT" list "$TMP/link"
	one_line 1
	[[ "$output" == *"symbolic link"* ]]
	mv "$R/tmp" "$TMP/outside/tmp"
	ln -s "$TMP/outside/tmp" "$R/tmp"
	run "$CBT" list "$R"
	one_line 1
	[[ "$output" == *"tmp: not a folder"* ]]
	[ -z "$(ls -A "$TMP/outside/tmp")" ]
}

@test "repo: private (0700 folders, 0600 files, even with umask 0); one others may read is refused, or warned about with --allow-shared" {
	mkimg "$TMP/a.img" 4
	(umask 0; "$CBT" backup -q "$TMP/a.img" --to "$R"; "$CBT" verify -q "$R")
	run find "$R" -perm /077
	[ "$output" = "" ]
	[ "$(stat -c %a "$R")" = 700 ]
	chmod 755 "$R"
	run "$CBT" list "$R"
	one_line 1
	[[ "$output" == *"others may read it"* ]]
	run "$CBT" backup -q "$TMP/a.img" --to "$R"
	one_line 1
	run --separate-stderr "$CBT" list "$R" --allow-shared
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"warning:"*"others may read"* ]]
	chmod 700 "$R"
	chown nobody "$R"
	run "$CBT" list "$R"
	one_line 1
	[[ "$output" == *"owned by another user"* ]]
}

@test "repo: a target too small, or mounted / in use, is refused" {
	mkimg "$TMP/a.img" 8
	backup "$TMP/a.img" --to "$R"
	truncate -s 4M "$TMP/small"
	LOOPDEV=$(losetup -f --show "$TMP/small") || skip "no loop device here"
	run "$CBT" restore -q "$R" --point "$ID" --to "$LOOPDEV"
	one_line 1
	[[ "$output" == *"too small"* ]]
	losetup -d "$LOOPDEV"
	truncate -s 8M "$TMP/big"
	LOOPDEV=$(losetup -f --show "$TMP/big")
	# held open exclusively by someone (as a mount does): EBUSY
	python3 -c "import os,sys,time; fd=os.open(sys.argv[1], os.O_RDONLY|os.O_EXCL); open(sys.argv[2],'w').close(); time.sleep(60)" \
		"$LOOPDEV" "$TMP/held" &
	local holder=$! i
	for i in $(seq 100); do [ -e "$TMP/held" ] || sleep 0.2; done
	run "$CBT" restore -q "$R" --point "$ID" --to "$LOOPDEV"
	kill "$holder"
	wait "$holder" || true
	one_line 1
	[[ "$output" == *"mounted or in use"* ]]
	"$CBT" restore -q "$R" --point "$ID" --to "$LOOPDEV"
	cmp "$LOOPDEV" "$TMP/a.img"
}

@test "repo: a progress bar on a terminal, none with --quiet or off a terminal" {
	mkimg "$TMP/a.img" 32
	run script -qec "'$CBT' backup '$TMP/a.img' --to '$R'" /dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *"backup 1/1 ["*"%"*"/s"* ]]
	run script -qec "'$CBT' backup -q '$TMP/a.img' --to '$R'" /dev/null
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	run "$CBT" backup "$TMP/a.img" --to "$R"
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == "point 3: incremental on point 2, "* ]]
	run script -qec "'$CBT' export '$R' --point 1 --format rbd-diff -o '$TMP/1.diff'" /dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *"export ["*"%"*"/s"* ]]
	run script -qec "'$CBT' export -q '$R' --point 1 --format rbd-diff -o '$TMP/2.diff'" /dev/null
	[ "$status" -eq 0 ]
	[ "$output" = "" ]
	cmp "$TMP/1.diff" "$TMP/2.diff"
}

# usage_error CMD: exit 2, the message and util-linux's Try line.
usage_error() {
	echo "status $status: $output"
	[ "$status" -eq 2 ]
	[ "${#lines[@]}" -eq 2 ]
	[[ "${lines[0]}" == "cbt-snap: $1: "* ]]
	[ "${lines[1]}" = "Try 'cbt-snap $1 --help' for more information." ]
}

@test "repo: bad options are usage errors naming the fault" {
	touch "$TMP/a.img"
	run "$CBT" backup "$TMP/a.img" --to "$R" --chain "a b"
	usage_error backup
	run "$CBT" backup "$TMP/a.img" --to "$R" --chain .hidden
	usage_error backup
	run "$CBT" backup "$TMP/a.img" --to "$R" --chain "$(printf 'c%.0s' {1..65})"
	usage_error backup
	run "$CBT" backup "$TMP/a.img"
	usage_error backup
	[[ "$output" == *"--to REPO is required"* ]]
	run "$CBT" backup --to "$R"
	usage_error backup
	run "$CBT" backup "$TMP/a.img" --to "$R" --type weekly
	usage_error backup
	run "$CBT" backup "$TMP/a.img" --to "$R" --type full --changes x
	usage_error backup
	run "$CBT" backup "$TMP/a.img" "$TMP/a.img" --to "$R"
	usage_error backup
	run "$CBT" backup "$TMP/a.img" --to "$R" --chunk-size 3M
	usage_error backup
	run "$CBT" restore "$R" --to x
	usage_error restore
	run "$CBT" restore "$R" --point 0 --to x
	usage_error restore
	run "$CBT" restore "$R" --point 1x --to x
	usage_error restore
	run "$CBT" verify
	usage_error verify
	run "$CBT" list "$R" -o id,bogus
	usage_error list
	run "$CBT" prune "$R"
	usage_error prune
	run "$CBT" prune "$R" --keep-last 0
	usage_error prune
	run "$CBT" prune "$R" --keep-last 2 --keep-last 3
	usage_error prune
	run "$CBT" gc "$R" extra
	usage_error gc
	run "$CBT" gc --frobnicate "$R"
	usage_error gc
	run "$CBT" list "$TMP/nowhere"
	one_line 1
	run "$CBT" backup "$TMP/missing.img" --to "$R"
	one_line 1
	run "$CBT" backup "$TMP/a.img" --to "$R"
	one_line 1
	[[ "$output" == *"empty"* ]]
}

@test "repo: a bad --changes file gets one clear line and writes no point" {
	mkimg "$TMP/a.img" 4
	backup "$TMP/a.img" --to "$R"
	local f="$TMP/ch.json" bad
	for bad in 'not json' '[1,2]' '{"stamp": "x"}' '{"changes": {"offset": 0}}' \
		'{"changes": [{"offset": -4096, "length": 4096}]}' \
		'{"changes": [{"offset": 0, "length": 0}]}' \
		'{"changes": [{"offset": "0", "length": 4096}]}' \
		'{"changes": [{"offset": 4190208, "length": 8192}]}' \
		'{"changes": [{"offset": 0, "length": 4096}]} trailing' \
		'{"changes": [{"offset": 18446744073709551615, "length": 1}]}'; do
		printf '%s' "$bad" >"$f"
		run "$CBT" backup -q "$TMP/a.img" --to "$R" --changes "$f"
		one_line 1
		[[ "$output" == *"$f"* ]]
	done
	[ "$(ls "$R/points")" = 1 ]
}

@test "repo: hostile manifests and indexes get one clear line naming the point" {
	mkimg "$TMP/a.img" 4
	backup "$TMP/a.img" --to "$R"
	local m="$R/points/1/manifest.json" edit
	cp -a "$R" "$TMP/clean"
	for edit in '"x"' '.id = 2' '.base = 5' '.type = "weekly"' '.volumes = []' \
		'.volumes[0].size = 0' '.volumes[0].size = 1180591620717411303424' \
		'.volumes[0]["index-sha256"] = ("0" * 64)' '.volumes[0].name = 7' \
		'.verify.state = "great"' 'del(.chain)'; do
		jq "$edit" "$TMP/clean/points/1/manifest.json" >"$m"
		run "$CBT" restore -q "$R" --point 1 --to "$TMP/restored"
		one_line 1
		[[ "$output" == *"point 1"* ]]
	done
	head -c 100000 /dev/urandom >"$m"
	run "$CBT" verify -q "$R"
	one_line 1
	[[ "$output" == *"point 1: FAILED"*"damaged manifest"* ]]
	local idx
	cp "$TMP/clean/points/1/manifest.json" "$m"
	for idx in truncate magic digest; do
		cp "$TMP/clean/points/1/volume-0.idx" "$R/points/1/volume-0.idx"
		case $idx in
		truncate) truncate -s 100 "$R/points/1/volume-0.idx" ;;
		magic) printf 'XXXX' | dd of="$R/points/1/volume-0.idx" conv=notrunc status=none ;;
		digest) printf 'XXXX' | dd of="$R/points/1/volume-0.idx" bs=1 seek=70 conv=notrunc status=none ;;
		esac
		run "$CBT" restore -q "$R" --point 1 --to "$TMP/restored"
		one_line 1
		[[ "$output" == *"point 1: volume-0.idx: damaged index"* ]]
		run "$CBT" verify -q "$R"
		one_line 1
		# gc refuses to sweep on an index it cannot read
		run "$CBT" gc -q "$R"
		one_line 1
	done
	[ -n "$(pack_files "$R")" ]
}

@test "repo: restore streams to disk: the restored image does not stay in the page cache" {
	[ "$(stat -f -c %T "$TMP")" != tmpfs ] || skip "$TMP is on tmpfs (its pages are the file)"
	head -c $((160 << 20)) /dev/urandom >"$TMP/a.img"
	backup "$TMP/a.img" --to "$R"
	restore_check "$ID" "$(sha "$TMP/a.img")"
	# 32 MiB windows: written back and dropped as the restore goes, at most
	# two windows left resident (a restore of a whole disk would otherwise
	# evict everything else and leave gigabytes dirty for the final fsync).
	rm -f "$TMP/restored"
	"$CBT" restore -q "$R" --point "$ID" --to "$TMP/restored"
	res=$(fincore --bytes --noheadings --output RES "$TMP/restored" | tr -d ' ')
	echo "resident: $res bytes"
	[ "$res" -le $((72 << 20)) ]
}

@test "repo: an incremental keeps its base's chunks with one touch of each pack, not one per chunk" {
	# 1024 chunks of 64 KiB, in a few packs
	head -c $((64 << 20)) /dev/urandom >"$TMP/a.img"
	backup "$TMP/a.img" --to "$R" --chunk-size 64K
	local packs touches
	packs=$(pack_files "$R" | wc -l)
	echo "packs: $packs"
	[ "$packs" -ge 2 ]
	[ "$packs" -le 8 ]
	dd if=/dev/urandom of="$TMP/a.img" bs=64K seek=7 count=1 conv=notrunc status=none
	echo '{"changes": [{"offset": 458752, "length": 65536}]}' >"$TMP/ch.json"
	strace -f -e trace=utimensat -o "$TMP/trace" "$CBT" backup --json "$TMP/a.img" --to "$R" \
		--changes "$TMP/ch.json" >"$TMP/inc.json"
	touches=$(grep -c 'utimensat(' "$TMP/trace")
	echo "packs touched: $touches"
	[ "$touches" -le $((packs + 2)) ]
	[ "$(json "$TMP/inc.json" .type)" = incremental ]
	[ "$(json "$TMP/inc.json" '.["bytes-read"]')" -eq 65536 ]
	restore_check "$(json "$TMP/inc.json" .id)" "$(sha "$TMP/a.img")"
}

@test "repo: a version 1 repository (a file per chunk) is refused with one line saying so" {
	mkimg "$TMP/a.img" 2
	backup "$TMP/a.img" --to "$R"
	jq '.version = 1' "$R/config" >"$TMP/config"
	cat "$TMP/config" >"$R/config"
	run "$CBT" list "$R"
	one_line 1
	[[ "$output" == *"version 1 repository"*"a new repository"* ]]
	run "$CBT" backup -q "$TMP/a.img" --to "$R"
	one_line 1
	[[ "$output" == *"version 1 repository"* ]]
}
