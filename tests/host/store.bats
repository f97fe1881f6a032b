#!/usr/bin/env bats
# Host tests of libcbt's store handling (no module needed): a store gets
# the old blocks of a volume, so what the library opens must be private to
# root and be only itself, and a store spec is parsed strictly. Driven by
# tests/store-open.c, which includes lib/snapshot.c for its static
# functions (store specs are opened as snapshot create opens them).

TOP="$BATS_TEST_DIRNAME/../.."

setup_file() {
	make -C "$TOP" -s lib/libcbt.a
	cc -std=c11 -Wall -Wextra -Werror -I"$TOP/include" -I"$TOP/include/uapi" \
		$(pkg-config --cflags blkid uuid) -o "$BATS_FILE_TMPDIR/store-open" \
		"$TOP/tests/store-open.c" "$TOP/lib/libcbt.a" $(pkg-config --libs blkid uuid)
}

setup() {
	SO="$BATS_FILE_TMPDIR/store-open"
	D="$BATS_TEST_TMPDIR/d"
	mkdir -m 0700 "$D"
	cd "$D"
}

teardown() {
	cd /
	umount "$D/small" 2>/dev/null || true
	rm -rf "$D"
}

@test "a size suffix that does not parse is an error, and no file is made" {
	for spec in cow:4G5 cow:4Q cow:1KK cow:12x cow:1.5G cow:4KiB cow:4KB cow:99999999999999999999; do
		run "$SO" open "$spec"
		[ "$status" -eq 1 ]
		[[ "$output" == *"(EINVAL)"* ]]
	done
	run ls -A "$D"
	[ -z "$output" ]
	# Even when a file of that name exists: the spec is wrong, not a name.
	truncate -s 1M "$D/cow:4G5"
	chmod 600 "$D/cow:4G5"
	run "$SO" open cow:4G5
	[ "$status" -eq 1 ]
	[[ "$output" == *"(EINVAL)"* ]]
}

@test "a valid size is a size, not part of the name" {
	run "$SO" open cow:1M
	[ "$status" -eq 0 ]
	[ "$output" = 1048576 ]
	[ -f "$D/cow" ]
	[ ! -e "$D/cow:1M" ]
	run "$SO" open cow2:64k
	[ "$status" -eq 0 ]
	[ "$output" = 65536 ]
	# Text after the last ':' that is no size attempt belongs to the path,
	# and a trailing ':' ends the path with no size.
	truncate -s 64K "$D/a:b" "$D/c:1"
	chmod 600 "$D/a:b" "$D/c:1"
	run "$SO" open a:b
	[ "$status" -eq 0 ]
	[ "$output" = 65536 ]
	run "$SO" open c:1:
	[ "$status" -eq 0 ]
	[ "$output" = 65536 ]
}

@test "/proc/self/mem and other pseudo or special files are refused" {
	for spec in /proc/self/mem:1M /sys/kernel/notes:1M /dev/null:1M /dev/zero; do
		run "$SO" open "$spec"
		[ "$status" -eq 1 ]
		[[ "$output" == *"(EACCES)"* ]]
	done
	mkfifo -m 600 "$D/fifo"
	run "$SO" open "$D/fifo:1M"
	[ "$status" -eq 1 ]
	[[ "$output" == *"(EACCES)"* ]]
}

@test "a symlink is refused and its target is untouched" {
	printf 'target\n' >"$D/target"
	chmod 600 "$D/target"
	ln -s target "$D/link"
	run "$SO" open "$D/link:1M"
	[ "$status" -eq 1 ]
	[[ "$output" == *"(EACCES)"* ]]
	[[ "$output" == *"through a symlink"* ]]
	[ "$(cat "$D/target")" = target ]
	# A dangling one is not followed to create its target either.
	ln -s nowhere "$D/dangling"
	run "$SO" open "$D/dangling:1M"
	[ "$status" -eq 1 ]
	[ ! -e "$D/nowhere" ]
}

@test "a hard-linked file is refused" {
	truncate -s 1M "$D/f"
	chmod 600 "$D/f"
	ln "$D/f" "$D/g"
	run "$SO" open "$D/g"
	[ "$status" -eq 1 ]
	[[ "$output" == *"(EACCES)"* ]]
	rm "$D/f"
	run "$SO" open "$D/g"
	[ "$status" -eq 0 ]
}

@test "a file of another user is refused, whatever its mode" {
	truncate -s 1M "$D/f"
	chmod 600 "$D/f"
	chown 65534:65534 "$D/f"
	run "$SO" open "$D/f"
	[ "$status" -eq 1 ]
	[[ "$output" == *"(EACCES)"* ]]
	[ "$(stat -c %s "$D/f")" -eq 1048576 ]
}

@test "a root file readable or writable by group or others is refused, not fixed" {
	truncate -s 1M "$D/f"
	for m in 644 640 604 620 602 660; do
		chmod "$m" "$D/f"
		run "$SO" open "$D/f"
		[ "$status" -eq 1 ]
		[[ "$output" == *"(EACCES)"* ]]
		[ "$(stat -c %a "$D/f")" = "$m" ]
	done
	chmod 600 "$D/f"
	run "$SO" open "$D/f"
	[ "$status" -eq 0 ]
}

@test "a store the library creates is 0600 and root's under umask 000" {
	umask 000
	run "$SO" open "$D/new:1M"
	[ "$status" -eq 0 ]
	[ "$(stat -c %a "$D/new")" = 600 ]
	[ "$(stat -c %u "$D/new")" = 0 ]
	run "$SO" prepare "$D/new2" 64K
	[ "$status" -eq 0 ]
	[ "$(stat -c %a "$D/new2")" = 600 ]
}

@test "a directory others can write without the sticky bit is refused" {
	mkdir -m 0777 "$D/open"
	chmod 0777 "$D/open"
	run "$SO" open "$D/open/cow:1M"
	[ "$status" -eq 1 ]
	[[ "$output" == *"(EACCES)"* ]]
	[ ! -e "$D/open/cow" ]
	chmod 1777 "$D/open"
	run "$SO" open "$D/open/cow:1M"
	[ "$status" -eq 0 ]
}

@test "a failed create removes the file it made, never one that was there" {
	run "$SO" fail "$D/made:1M"
	[ "$status" -eq 0 ]
	[ ! -e "$D/made" ]
	head -c 65536 /dev/urandom >"$D/was"
	chmod 600 "$D/was"
	sum=$(sha256sum <"$D/was")
	run "$SO" fail "$D/was:1M"
	[ "$status" -eq 0 ]
	[ "$(stat -c %s "$D/was")" -eq 1048576 ]
	[ "$(head -c 65536 "$D/was" | sha256sum)" = "$sum" ]
	# A file the library made is removed when preallocating it fails.
	mkdir "$D/small"
	mount -t tmpfs -o size=1M tmpfs "$D/small"
	run "$SO" open "$D/small/big:8M"
	[ "$status" -eq 1 ]
	[[ "$output" == *"(ENOSPC)"* ]]
	[ ! -e "$D/small/big" ]
}

@test "a file its non-root caller owns is refused too (only root's files are out of others' reach)" {
	# The driver runs as nobody, in a directory of nobody's, on a file of
	# nobody's, mode 0600: an owner can always read, chmod or link it.
	# (under a directory nobody can search: bats' own may be root's 0700)
	Q=$(mktemp -d /tmp/cbt-store-nobody.XXXXXX)
	chmod 755 "$Q"
	P="$Q/nobody"
	mkdir -m 0700 "$P"
	cp "$SO" "$P/store-open"
	truncate -s 1M "$P/f"
	chmod 600 "$P/f"
	chown -R 65534:65534 "$P"
	run setpriv --reuid=65534 --regid=65534 --clear-groups "$P/store-open" open "$P/f"
	rm -rf "$Q"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"(EACCES)"* ]]
}

@test "a root 0600 file someone else holds open is refused (a reader from before a chmod)" {
	truncate -s 1M "$D/f"
	chmod 644 "$D/f"
	# A reader opens it while it is 0644, then root makes it private.
	sleep 60 <"$D/f" &
	reader=$!
	chmod 600 "$D/f"
	run "$SO" open "$D/f"
	kill "$reader"
	wait "$reader" || true
	[ "$status" -eq 1 ]
	[[ "$output" == *"(EBUSY)"* ]]
	# With the reader gone it is accepted.
	run "$SO" open "$D/f"
	[ "$status" -eq 0 ]
}
