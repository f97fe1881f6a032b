#!/usr/bin/env bats
# libcbt's ABI: `make abi-check` compares the library with the committed
# baseline abi/libcbt.dump (abi-dumper + abi-compliance-checker), and must
# fail when a symbol goes or a type changes; the public header keeps every
# object opaque and shares no name with the kernel ABI header.

TOP="$BATS_TEST_DIRNAME/../.."

setup() {
	TMP=$(mktemp -d)
}

teardown() {
	rm -rf "$TMP"
}

# A copy of what the ABI check reads, to break on purpose.
copy_tree() {
	mkdir -p "$TMP/t"
	cp -r "$TOP/Makefile" "$TOP/VERSION" "$TOP/include" "$TOP/lib" "$TOP/abi" "$TMP/t/"
	rm -f "$TMP"/t/lib/*.o "$TMP"/t/lib/*.so* "$TMP"/t/lib/*.a
}

@test "abi: the library matches the committed baseline" {
	run make -s -C "$TOP" abi-check ABI_DIR="$TMP/abi"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "abi: the baseline holds exactly the library's exported symbols, every version node" {
	make -s -C "$TOP" lib/libcbt.so.1
	nm -D --defined-only "$TOP/lib/libcbt.so.1" | awk '$2 == "T" {print $3}' | grep '@@CBT_0\.[0-9]*$' | sed 's/@.*//' | sort >"$TMP/built"
	grep -oE "'ShortName' => 'cbt_[a-z0-9_]+'" "$TOP/abi/libcbt.dump" | sed "s/.*=> '//; s/'//" | sort -u >"$TMP/baseline"
	[ -s "$TMP/built" ]
	diff "$TMP/baseline" "$TMP/built"
}

@test "abi: every exported symbol is in a version node (CBT_0.1, CBT_0.2, CBT_0.3)" {
	make -s -C "$TOP" lib/libcbt.so.1
	run bash -c "nm -D --defined-only '$TOP/lib/libcbt.so.1' | awk '\$2 == \"T\" {print \$3}' | grep -vE '@@CBT_0\.[123]\$'"
	[ "$output" = "" ]
	run bash -c "nm -D --defined-only '$TOP/lib/libcbt.so.1' | grep -c '@@CBT_0\.2\$'"
	[ "$output" -gt 0 ]
}

@test "abi: a removed symbol fails the check" {
	copy_tree
	sed -i '/^\t\tcbt_volume_detach;$/d' "$TMP/t/lib/libcbt.sym"
	run grep -c cbt_volume_detach "$TMP/t/lib/libcbt.sym"
	[ "$output" = 0 ]
	run make -s -C "$TMP/t" abi-check
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"ABI check: incompatible"* ]]
	grep -q "Removed Symbols <span class='failed'>&nbsp;1&nbsp;" "$TMP/t/.abi/report.html"
}

@test "abi: a removed symbol of a later version node (CBT_0.3) fails the check" {
	copy_tree
	sed -i '/^\t\tcbt_writer_start;$/d' "$TMP/t/lib/libcbt.sym"
	run grep -c cbt_writer_start "$TMP/t/lib/libcbt.sym"
	[ "$output" = 0 ]
	run make -s -C "$TMP/t" abi-check
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"ABI check: incompatible"* ]]
}

@test "abi: a parameter whose type changes size fails the check" {
	copy_tree
	sed -i 's/int cbt_volume_attach(struct cbt_volume \*vol, uint32_t block_size)/int cbt_volume_attach(struct cbt_volume *vol, uint64_t block_size)/' \
		"$TMP/t/include/libcbt.h" "$TMP/t/lib/libcbt.c"
	sed -i 's/"cbt_volume_attach(%s, %u)"/"cbt_volume_attach(%s, %" PRIu64 ")"/' "$TMP/t/lib/libcbt.c"
	grep -q 'cbt_volume_attach(struct cbt_volume \*vol, uint64_t block_size)' "$TMP/t/lib/libcbt.c"
	run make -s -C "$TMP/t" abi-check
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"ABI check: incompatible"* ]]
}

@test "abi: a return type that changes size fails the check" {
	copy_tree
	sed -i 's/^uint32_t cbt_snapset_get_member_chunk_size(/uint64_t cbt_snapset_get_member_chunk_size(/' "$TMP/t/include/libcbt.h"
	sed -i 's/^MEMBER_GET(uint32_t, PRIu32, chunk_size,/MEMBER_GET(uint64_t, PRIu64, chunk_size,/' "$TMP/t/lib/snapshot.c"
	grep -q '^MEMBER_GET(uint64_t, PRIu64, chunk_size,' "$TMP/t/lib/snapshot.c"
	run make -s -C "$TMP/t" abi-check
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"ABI check: incompatible"* ]]
}

@test "abi: an added symbol is compatible" {
	copy_tree
	printf 'int cbt_abi_probe_added(void);\n' >>"$TMP/t/include/libcbt.h"
	printf 'int cbt_abi_probe_added(void) { return 0; }\n' >>"$TMP/t/lib/debug.c"
	sed -i 's/^\t\tcbt_volume_detach;$/&\n\t\tcbt_abi_probe_added;/' "$TMP/t/lib/libcbt.sym"
	run make -s -C "$TMP/t" abi-check
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "abi: the public header defines no struct a caller could allocate" {
	# Declarations "struct x;" only: no "struct x {" anywhere.
	run grep -nE 'struct [a-z_]+ *\{' "$TOP/include/libcbt.h"
	[ "$status" -eq 1 ]
}

@test "abi: no name is both in libcbt.h and in the kernel ABI header" {
	names() {
		sed 's/cbt_ioctl\.h//g' "$1" | grep -oE '\b(CBT|LIBCBT|cbt)_[A-Za-z0-9_]+' | sort -u
	}
	names "$TOP/include/libcbt.h" >"$TMP/lib"
	names "$TOP/include/uapi/cbt_ioctl.h" >"$TMP/uapi"
	run comm -12 "$TMP/lib" "$TMP/uapi"
	echo "$output"
	[ "$output" = "" ]
	run grep -c '#include.*cbt_ioctl' "$TOP/include/libcbt.h"
	[ "$output" = 0 ]
}
