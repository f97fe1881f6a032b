#!/usr/bin/env bats
# scripts/check (the README's test command) refuses to run short: a
# supported kernel whose image, headers or module is missing is a "not ok"
# and a failed check, never dropped in silence. The kernels are looked up
# under a fake root (CBT_CHECK_ROOT: its /boot, /lib/modules and package
# database), so no VM runs and nothing is installed or built.

TOP="$BATS_TEST_DIRNAME/../.."

setup() {
	TMP=$(mktemp -d)
	mkdir -p "$TMP/root/var/lib/dpkg/info" "$TMP/root/boot" "$TMP/root/lib/modules"
	: >"$TMP/root/var/lib/dpkg/status"
}

teardown() {
	rm -rf "$TMP"
}

# meta PACKAGE KVER: the metapackage PACKAGE is installed and depends on
# linux-image-KVER, as Debian's do.
meta() {
	cat >>"$TMP/root/var/lib/dpkg/status" <<STATUS
Package: $1
Status: install ok installed
Priority: optional
Section: kernel
Maintainer: Debian Kernel Team <debian-kernel@lists.debian.org>
Architecture: amd64
Version: 1
Depends: linux-image-$2 (= 1)
Description: fake metapackage for tests/host/check.bats

STATUS
}

run_check() {
	run env CBT_CHECK_ROOT="$TMP/root" CBT_CHECK_OUT="$TMP/out" CBT_CHECK_NO_BUILD=1 \
		CBT_HOST_SUITES= "$TOP/scripts/check"
	echo "$output"
}

@test "check fails with a not ok line for each supported kernel without an image" {
	meta linux-image-amd64 6.1.0-998-amd64
	meta linux-image-6.12-amd64 6.12.998+deb12-amd64
	run_check
	[ "$status" -ne 0 ]
	[[ "$output" == *"not ok 1 kernel 6.1.0-998-amd64 has no image"* ]]
	[[ "$output" == *"not ok 2 kernel 6.12.998+deb12-amd64 has no image"* ]]
	[ "${lines[-1]}" = "0 passed, 2 failed" ]
}

@test "check fails when a supported kernel's metapackage is not installed" {
	meta linux-image-amd64 6.1.0-998-amd64
	run_check
	[ "$status" -ne 0 ]
	[[ "$output" == *"not ok 2 Debian's 6.12 kernel is not installed (package linux-image-6.12-amd64)"* ]]
	[[ "${lines[-1]}" == *" passed, 2 failed" ]]
}

@test "check fails when a supported kernel has its image but no headers" {
	meta linux-image-amd64 6.1.0-998-amd64
	meta linux-image-6.12-amd64 6.12.998+deb12-amd64
	touch "$TMP/root/boot/vmlinuz-6.1.0-998-amd64" "$TMP/root/boot/vmlinuz-6.12.998+deb12-amd64"
	mkdir -p "$TMP/root/lib/modules/6.12.998+deb12-amd64/build"
	run_check
	[ "$status" -ne 0 ]
	[[ "$output" == *"not ok 1 kernel 6.1.0-998-amd64 has no headers"* ]]
	[[ "$output" == *"not ok 2 the module for 6.12.998+deb12-amd64 was not built"* ]]
	[ "${lines[-1]}" = "0 passed, 2 failed" ]
}

@test "check fails when a kernel named in CBT_KERNELS is missing" {
	run env CBT_KERNELS="6.1.0-998-amd64" CBT_CHECK_OUT="$TMP/out" CBT_CHECK_NO_BUILD=1 \
		CBT_HOST_SUITES= "$TOP/scripts/check"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"not ok 1 kernel 6.1.0-998-amd64 has no image"* ]]
	[ "${lines[-1]}" = "0 passed, 1 failed" ]
}

@test "supported-kernels names Debian's 6.1 and 6.12 kernels through their metapackages" {
	meta linux-image-amd64 6.1.0-998-amd64
	meta linux-image-6.12-amd64 6.12.998+deb12-amd64
	run env CBT_CHECK_ROOT="$TMP/root" "$TOP/scripts/supported-kernels"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "6.1 linux-image-amd64 6.1.0-998-amd64" ]
	[ "${lines[1]}" = "6.12 linux-image-6.12-amd64 6.12.998+deb12-amd64" ]
	[ "${#lines[@]}" -eq 2 ]
}

@test "every long test is skipped by make check with an ok # skip line, its suite going on (no VM: the gate comes first)" {
	local name file n=0
	while IFS= read -r name; do
		case $name in '#'* | '') continue ;; esac
		file=$(grep -lF -- "@test \"$name\"" "$TOP"/tests/vm/*.bats)
		[ -n "$file" ] || { echo "no suite has: $name"; false; }
		n=$((n + 1))
		# bats -f takes a regex: the name, escaped, exactly.
		run env -u CBT_LONG bats --tap -f "^$(printf '%s' "$name" | sed 's/[][\\.^$*+?(){}|]/\\&/g')\$" "$file"
		echo "$name: $output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"# skip a long test"* ]]
		[[ "$output" != *"Executed 0 instead"* ]]
	done <"$TOP/tests/vm/long-tests"
	[ "$n" -gt 10 ]
}

# A fresh clone has no test programs: scripts/check must build every one a
# suite runs (CI once failed 24 writer tests because tests/writer-tool was
# built only by hand here). Programs are tests/NAME.c or tests/unit/NAME.c;
# tests/store-open is compiled by its own suite.
@test "scripts/check builds every test program the suites run (make test-programs)" {
	progs=$(make --no-print-directory -s -C "$TOP" -pn test-programs 2>/dev/null |
		sed -n 's/^TEST_PROGS := //p')
	[ -n "$progs" ]
	grep -Eq '^[[:space:]]*if ! make .*[[:space:]]test-programs' "$TOP/scripts/check"
	missing=
	for src in "$TOP"/tests/*.c "$TOP"/tests/unit/*.c; do
		prog=${src#"$TOP"/}
		prog=${prog%.c}
		[ "$prog" != tests/store-open ] || continue
		grep -rqF "tests/${prog#tests/}" "$TOP"/tests/vm "$TOP"/tests/host "$TOP"/Makefile ||
			continue
		case " $progs " in
		*" $prog "*) ;;
		*) missing="$missing $prog" ;;
		esac
	done
	echo "not built by make test-programs:$missing"
	[ -z "$missing" ]
}
