#!/usr/bin/env bats
# Packaging: the DKMS source tree builds the module with dkms itself for
# each supported kernel; make install lays out library, headers, pkg-config
# file, CLI (linked to the installed shared library), man page and udev rule
# where udev reads it; a program builds through pkg-config against the
# installed files; the library exports only its public cbt_ names.

TOP="$BATS_TEST_DIRNAME/../.."

setup() {
	TMP=$(mktemp -d)
}

teardown() {
	rm -rf "$TMP"
}

# The example program, built through pkg-config and linked to libcbt.so.
example() {
	cat >"$TMP/t.c" <<'C'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <libcbt.h>
int main(void)
{
	uint64_t v;
	if (cbt_parse_size("64K", &v) || v != 65536)
		return 1;
	if (cbt_stamp_check("not-a-stamp") != -EINVAL)
		return 1;
	puts(cbt_strerror(-ESTALE));
	return 0;
}
C
}

@test "dkms builds the module from the DKMS source tree for each supported kernel" {
	make -C "$TOP" -s dkms-source DESTDIR="$TMP/root"
	ver=$(cat "$TOP/VERSION")
	grep -q "PACKAGE_VERSION=\"$ver\"" "$TOP/dkms.conf"
	run "$TOP/scripts/supported-kernels"
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	kernels=$(awk '{print $3}' <<<"$output")
	mkdir -p "$TMP/dkms"
	dkms add --dkmstree "$TMP/dkms" --sourcetree "$TMP/root/usr/src" -m cbt -v "$ver" >/dev/null
	for k in $kernels; do
		# A supported kernel that is not installed is a failure, not a skip.
		[ "$k" != - ]
		run dkms build --dkmstree "$TMP/dkms" --sourcetree "$TMP/root/usr/src" -m cbt -v "$ver" -k "$k"
		echo "$output"
		[ "$status" -eq 0 ]
		ko=$(ls "$TMP"/dkms/cbt/"$ver"/"$k"/*/module/cbt.ko*)
		[ -n "$ko" ]
		# Built for that kernel, and no other.
		modinfo -F vermagic "$ko" | grep -q "^$k "
	done
	built=$(ls -d "$TMP"/dkms/cbt/"$ver"/*/*/module | wc -l)
	[ "$built" -eq 2 ]
}

@test "make install lays out library, headers, pkg-config, CLI, man page, udev rule, writer hooks" {
	make -C "$TOP" -s install DESTDIR="$TMP" PREFIX=/usr
	udevdir=$(pkg-config --variable=udevdir udev)
	[ -n "$udevdir" ]
	[ -x "$TMP/usr/bin/cbt-snap" ]
	[ -f "$TMP/usr/lib/libcbt.so.1" ]
	[ -f "$TMP/usr/lib/libcbt.a" ]
	[ -f "$TMP/usr/include/cbt/libcbt.h" ]
	[ -f "$TMP/usr/include/cbt/cbt_ioctl.h" ]
	[ -f "$TMP/usr/share/man/man8/cbt-snap.8" ]
	[ -f "$TMP$udevdir/rules.d/99-cbt.rules" ]
	[ -x "$TMP/usr/share/cbt/writers/postgresql" ]
	[ -f "$TMP/usr/share/cbt/writers/session.sh" ]
	objdump -p "$TMP/usr/lib/libcbt.so.1" | grep -q 'SONAME *libcbt.so.1'
	PKG_CONFIG_PATH="$TMP/usr/lib/pkgconfig" pkg-config --modversion cbt | grep -qx "$(cat "$TOP/VERSION")"
	PKG_CONFIG_PATH="$TMP/usr/lib/pkgconfig" pkg-config --variable=prefix cbt | grep -qx /usr
}

@test "the installed CLI links the installed shared library, with no run path under /usr" {
	make -C "$TOP" -s install DESTDIR="$TMP" PREFIX=/usr
	readelf -d "$TMP/usr/bin/cbt-snap" | grep -q 'NEEDED.*\[libcbt\.so\.1\]'
	run bash -c "readelf -d '$TMP/usr/bin/cbt-snap' | grep -E 'RPATH|RUNPATH'"
	[ -z "$output" ]
	LD_LIBRARY_PATH="$TMP/usr/lib" ldd "$TMP/usr/bin/cbt-snap" | grep -q "libcbt.so.1 => $TMP/usr/lib/libcbt.so.1"
	LD_LIBRARY_PATH="$TMP/usr/lib" run "$TMP/usr/bin/cbt-snap" --help
	[ "$status" -eq 0 ]
}

@test "under another PREFIX the CLI finds its library and the udev rule still goes to udev" {
	make -C "$TOP" -s install DESTDIR="$TMP" PREFIX=/opt/cbt
	udevdir=$(pkg-config --variable=udevdir udev)
	[ -f "$TMP$udevdir/rules.d/99-cbt.rules" ]
	[ ! -e "$TMP/opt/cbt/lib/udev" ]
	readelf -d "$TMP/opt/cbt/bin/cbt-snap" | grep -q 'RUNPATH.*\[/opt/cbt/lib\]'
	PKG_CONFIG_PATH="$TMP/opt/cbt/lib/pkgconfig" pkg-config --variable=libdir cbt | grep -qx /opt/cbt/lib
}

@test "a program builds through pkg-config against the installed files and runs" {
	make -C "$TOP" -s install DESTDIR="$TMP" PREFIX=/usr
	example
	# The installed cbt.pc names /usr; the sysroot puts it under DESTDIR.
	flags=$(PKG_CONFIG_PATH="$TMP/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$TMP" \
		pkg-config --cflags --libs cbt)
	[[ "$flags" == *"-I$TMP/usr/include/cbt"* ]]
	[[ "$flags" == *"-L$TMP/usr/lib"* ]]
	cc -std=c11 -Wall -Werror -o "$TMP/t" "$TMP/t.c" $flags
	readelf -d "$TMP/t" | grep -q 'NEEDED.*\[libcbt\.so\.1\]'
	LD_LIBRARY_PATH="$TMP/usr/lib" run "$TMP/t"
	[ "$status" -eq 0 ]
	[[ "$output" == *"full backup"* ]]
}

@test "the library's man pages are installed and render without warnings; the backup example builds through pkg-config" {
	make -C "$TOP" -s install DESTDIR="$TMP" PREFIX=/usr
	for p in libcbt libcbt-backup libcbt-volume libcbt-changes libcbt-snapset; do
		[ -f "$TMP/usr/share/man/man3/$p.3" ]
	done
	for f in "$TMP"/usr/share/man/man3/*.3; do
		run bash -c "LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l '$f' 2>&1 >/dev/null"
		echo "$f: $output"
		[ -z "$output" ]
	done
	flags=$(PKG_CONFIG_PATH="$TMP/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$TMP" \
		pkg-config --cflags --libs cbt)
	cc -std=c11 -Wall -Wextra -Werror -o "$TMP/backup-example" "$TOP/docs/examples/backup-example.c" $flags
	readelf -d "$TMP/backup-example" | grep -q 'NEEDED.*\[libcbt\.so\.1\]'
	# It needs the module to do anything; without it, a clear error.
	LD_LIBRARY_PATH="$TMP/usr/lib" run "$TMP/backup-example" -o "$TMP" -s "$TMP/s:1M" /dev/null
	[ "$status" -eq 1 ]
}

@test "lib/cbt.pc is generated, not tracked" {
	run git -C "$TOP" ls-files --error-unmatch lib/cbt.pc
	[ "$status" -ne 0 ]
	git -C "$TOP" ls-files --error-unmatch lib/cbt.pc.in
}

@test "the library exports only public cbt_ names (no cbt__ internals, nothing else)" {
	# Every defined dynamic symbol, less the version nodes of lib/libcbt.sym.
	nodes=$(sed -n 's/^\([A-Za-z0-9_.]*\) *{.*/\1/p' "$TOP/lib/libcbt.sym" | paste -sd'|')
	[ -n "$nodes" ]
	syms=$(nm -D --defined-only "$TOP/lib/libcbt.so.1" | awk '{sub(/@.*/, "", $3); print $3}' | grep -vxE "$nodes")
	[ -n "$syms" ]
	bad=$(grep -vE '^cbt_[a-z0-9][a-z0-9_]*$' <<<"$syms" || true)
	echo "exported, not public: $bad"
	[ -z "$bad" ]
}

@test "the module is W=1 and sparse clean on every installed kernel" {
	cp -r "$TOP/kmod" "$TOP/include" "$TOP/VERSION" "$TMP/"
	rm -rf "$TMP/kmod/out"
	run make -C "$TMP/kmod" KBUILD_ARGS="C=2 W=1"
	echo "$output" | grep -E 'warning|error' || true
	[ "$status" -eq 0 ]
	echo "$output" | grep -q 'CHECK'
	[ -z "$(echo "$output" | grep -E 'warning:|error:')" ]

}
