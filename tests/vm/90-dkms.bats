#!/usr/bin/env bats
# Installed as a distribution would, in this kernel's VM: the module built
# and installed by DKMS from `make dkms-source`, loaded with `modprobe cbt`,
# and an example program built through `pkg-config --cflags --libs cbt`
# against `make install`'s files, run against it.
# The guest's root is read-only: the DKMS tree, the modules directory that
# modprobe reads (-d) and the install go under the test's tmpfs directory.
load helpers

setup() {
	long_gate
	W=$BATS_TEST_TMPDIR
	K=$(uname -r)
	VER=$(cat "$REPO/VERSION")
}

teardown() {
	[ -z "${DEV:-}" ] || { cbt detach "$DEV" 2>/dev/null; del_loop "$DEV"; }
	# Back to the worktree's module, as the other suites expect.
	rmmod cbt 2>/dev/null || true
	insmod "$KO"
}

# The example: attach, checkpoint, write 4 KiB at 1 MiB (O_DIRECT), print
# the changes since the checkpoint, detach.
example_source() {
	cat <<'C'
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libcbt.h>

static int fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s\n", what, cbt_strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	struct cbt_changes_iter *it;
	struct cbt_volume *vol;
	struct cbt_ctx *ctx;
	char *stamp;
	uint64_t off, len;
	void *buf;
	int fd, r;

	if (argc != 2)
		return 2;
	if ((r = cbt_ctx_new(&ctx)))
		return fail("cbt_ctx_new", r);
	if ((r = cbt_volume_open(ctx, argv[1], &vol)))
		return fail("cbt_volume_open", r);
	if ((r = cbt_volume_attach(vol, 4096)))
		return fail("cbt_volume_attach", r);
	if ((r = cbt_volume_checkpoint(vol, 0, &stamp)))
		return fail("cbt_volume_checkpoint", r);
	fd = open(argv[1], O_WRONLY | O_DIRECT);
	if (fd < 0 || posix_memalign(&buf, 4096, 4096))
		return 1;
	memset(buf, 0xab, 4096);
	if (pwrite(fd, buf, 4096, 1 << 20) != 4096 || fsync(fd) || close(fd))
		return 1;
	if ((r = cbt_changes_open(vol, stamp, 0, 0, &it)))
		return fail("cbt_changes_open", r);
	while ((r = cbt_changes_next(it, &off, &len)) == 1)
		printf("%" PRIu64 " %" PRIu64 "\n", off, len);
	cbt_changes_free(it);
	if (r < 0)
		return fail("cbt_changes_next", r);
	if ((r = cbt_volume_detach(vol)))
		return fail("cbt_volume_detach", r);
	cbt_volume_free(vol);
	cbt_ctx_unref(ctx);
	free(stamp);
	free(buf);
	return 0;
}
C
}

@test "DKMS installs the module for this kernel, modprobe loads it, a pkg-config program runs against it" {
	make -C "$REPO" -s dkms-source DESTDIR="$W/root"
	src=$W/root/usr/src
	# The modules directory modprobe -d reads: this kernel's built-in list
	# and what DKMS installs into it.
	mods=$W/mods/lib/modules/$K
	mkdir -p "$W/dkms" "$mods"
	cp /lib/modules/"$K"/modules.order /lib/modules/"$K"/modules.builtin* "$mods/"
	dkms add --dkmstree "$W/dkms" --sourcetree "$src" -m cbt -v "$VER"
	run dkms build --dkmstree "$W/dkms" --sourcetree "$src" -m cbt -v "$VER" -k "$K"
	echo "$output"
	[ "$status" -eq 0 ]
	run dkms install --dkmstree "$W/dkms" --sourcetree "$src" --installtree "$W/mods/lib/modules" \
		--no-depmod -m cbt -v "$VER" -k "$K"
	echo "$output"
	[ "$status" -eq 0 ]
	ko=$(ls "$mods"/updates/dkms/cbt.ko*)
	[ -f "$ko" ]
	modinfo -F vermagic "$ko" | grep -q "^$K "
	depmod -b "$W/mods" "$K"
	# modprobe finds DKMS's module, and nothing else, for cbt.
	modprobe -d "$W/mods" --show-depends cbt | grep -qx "insmod $ko *"

	# The worktree's module, loaded at boot, makes way for DKMS's.
	rmmod cbt
	[ ! -e /sys/module/cbt ]
	modprobe -d "$W/mods" cbt
	[ -e /sys/module/cbt ]
	[ "$(cat /sys/module/cbt/srcversion)" = "$(modinfo -F srcversion "$ko")" ]
	[ -c /dev/cbt-ctl ]

	# The library, headers and cbt.pc as make install lays them out; the
	# example builds through pkg-config (the sysroot puts /usr under DESTDIR).
	make -C "$REPO" -s install DESTDIR="$W/inst" PREFIX=/usr
	example_source >"$W/example.c"
	flags=$(PKG_CONFIG_PATH="$W/inst/usr/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$W/inst" \
		pkg-config --cflags --libs cbt)
	[[ "$flags" == *"-lcbt"* ]]
	cc -std=c11 -Wall -Wextra -Werror -o "$W/example" "$W/example.c" $flags
	DEV=$(make_loop 64M)
	LD_LIBRARY_PATH="$W/inst/usr/lib" run "$W/example" "$DEV"
	echo "$output"
	[ "$status" -eq 0 ]
	# The one 4 KiB block it wrote, and nothing else.
	[ "$output" = "1048576 4096" ]
	# The installed CLI, on the installed library, sees the volume detached.
	LD_LIBRARY_PATH="$W/inst/usr/lib" run "$W/inst/usr/bin/cbt-snap" status "$DEV"
	[ "$status" -ne 0 ]
}
