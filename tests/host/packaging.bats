#!/usr/bin/env bats
# Packaging: the DKMS source tree builds the module for every installed
# kernel with dkms itself; make install lays out library, headers,
# pkg-config file, CLI and man page; the library has the right SONAME.

TOP="$BATS_TEST_DIRNAME/../.."

setup() {
	TMP=$(mktemp -d)
}

teardown() {
	rm -rf "$TMP"
}

@test "dkms builds the module from the DKMS source tree" {
	make -C "$TOP" -s dkms-source DESTDIR="$TMP/root"
	ver=$(cat "$TOP/VERSION")
	grep -q "PACKAGE_VERSION=\"$ver\"" "$TOP/dkms.conf"
	k=$(ls /lib/modules | sort -V | tail -n 1)
	mkdir -p "$TMP/dkms"
	dkms add --dkmstree "$TMP/dkms" --sourcetree "$TMP/root/usr/src" -m cbt -v "$ver" >/dev/null
	run dkms build --dkmstree "$TMP/dkms" --sourcetree "$TMP/root/usr/src" -m cbt -v "$ver" -k "$k"
	echo "$output"
	[ "$status" -eq 0 ]
	ls "$TMP"/dkms/cbt/"$ver"/"$k"/*/module/cbt.ko*
}

@test "make install lays out library, headers, pkg-config, CLI, man page" {
	make -C "$TOP" -s install DESTDIR="$TMP" PREFIX=/usr
	[ -x "$TMP/usr/bin/cbt-snap" ]
	[ -f "$TMP/usr/lib/libcbt.so.1" ]
	[ -f "$TMP/usr/lib/libcbt.a" ]
	[ -f "$TMP/usr/include/cbt/libcbt.h" ]
	[ -f "$TMP/usr/include/cbt/cbt_ioctl.h" ]
	[ -f "$TMP/usr/share/man/man8/cbt-snap.8" ]
	[ -f "$TMP/usr/lib/udev/rules.d/99-cbt.rules" ]
	objdump -p "$TMP/usr/lib/libcbt.so.1" | grep -q 'SONAME *libcbt.so.1'
	PKG_CONFIG_PATH="$TMP/usr/lib/pkgconfig" pkg-config --modversion cbt | grep -qx "$(cat "$TOP/VERSION")"
	# A program built against the installed files links and runs.
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
	cc -std=c11 -Wall -Werror -I"$TMP/usr/include/cbt" -o "$TMP/t" "$TMP/t.c" \
		-L"$TMP/usr/lib" -lcbt -lblkid
	LD_LIBRARY_PATH="$TMP/usr/lib" run "$TMP/t"
	[ "$status" -eq 0 ]
	[[ "$output" == *"full backup"* ]]
}

@test "the library exports only cbt_ symbols" {
	run bash -c "nm -D --defined-only '$TOP/lib/libcbt.so.1' | awk '\$2 == \"T\" {print \$3}' | grep -v '^cbt_'"
	[ -z "$output" ]
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
