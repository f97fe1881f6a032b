// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ioctl-abuse - feed /dev/cbt-ctl bad requests and check each gets the
 * documented error, then random garbage, then check bitmap and extent
 * answers agree. Prints one line per check; exit 1 if any check failed.
 *
 *   ioctl-abuse TRACKED_DEV UNTRACKED_DEV STAMP   (as root)
 *   ioctl-abuse --unprivileged TRACKED_DEV        (as an ordinary user)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cbt_ioctl.h"
#include "abuse.h"
#include "libcbt.h"

static void bad_attach(struct cbt_dev tracked, struct cbt_dev untracked)
{
	struct cbt_attach a;

	memset(&a, 0, sizeof(a));
	a.dev = untracked;
	a.flags = 1;
	expect("attach: unknown flag", ioctl(fd, CBT_IOC_ATTACH, &a), EINVAL);
	a.flags = 0;
	a.reserved[3] = 1;
	expect("attach: reserved field set", ioctl(fd, CBT_IOC_ATTACH, &a), EINVAL);
	a.reserved[3] = 0;
	a.block_size = 3000;
	expect("attach: block size not a power of two", ioctl(fd, CBT_IOC_ATTACH, &a), EINVAL);
	a.block_size = 2048;
	expect("attach: block size below 4K", ioctl(fd, CBT_IOC_ATTACH, &a), EINVAL);
	a.block_size = 2 << 20;
	expect("attach: block size above 1M", ioctl(fd, CBT_IOC_ATTACH, &a), EINVAL);
	a.block_size = 0;
	a.dev.minor = 1u << 31;
	expect("attach: minor out of range", ioctl(fd, CBT_IOC_ATTACH, &a), EINVAL);
	a.dev.major = 4000;
	a.dev.minor = 12345;
	expect("attach: no such device", ioctl(fd, CBT_IOC_ATTACH, &a), ENXIO);
	a.dev = tracked;
	expect("attach: already tracked", ioctl(fd, CBT_IOC_ATTACH, &a), EBUSY);
	expect("attach: NULL argument", ioctl(fd, CBT_IOC_ATTACH, NULL), EFAULT);
	expect("attach: wild pointer", ioctl(fd, CBT_IOC_ATTACH, (void *)16), EFAULT);
}

static void bad_simple(struct cbt_dev tracked, struct cbt_dev untracked)
{
	struct cbt_detach d;
	struct cbt_status s;
	struct cbt_checkpoint c;
	struct cbt_list l;

	memset(&d, 0, sizeof(d));
	d.dev = untracked;
	expect("detach: not tracked", ioctl(fd, CBT_IOC_DETACH, &d), ENOENT);
	d.dev = tracked;
	d.reserved = 7;
	expect("detach: reserved field set", ioctl(fd, CBT_IOC_DETACH, &d), EINVAL);

	memset(&s, 0, sizeof(s));
	s.dev = untracked;
	expect("status: not tracked", ioctl(fd, CBT_IOC_STATUS, &s), ENOENT);
	s.dev = tracked;
	s.flags = 2;
	expect("status: unknown flag", ioctl(fd, CBT_IOC_STATUS, &s), EINVAL);

	memset(&c, 0, sizeof(c));
	c.dev = tracked;
	c.stamp.generation = 5;
	expect("checkpoint: output field not zero", ioctl(fd, CBT_IOC_CHECKPOINT, &c), EINVAL);
	c.stamp.generation = 0;
	c.timeout_ms = 0xffffffff;
	expect("checkpoint: absurd timeout", ioctl(fd, CBT_IOC_CHECKPOINT, &c), EINVAL);
	c.timeout_ms = 0;
	c.dev = untracked;
	expect("checkpoint: not tracked", ioctl(fd, CBT_IOC_CHECKPOINT, &c), ENOENT);

	memset(&l, 0, sizeof(l));
	l.capacity = 5;
	expect("list: NULL array with capacity", ioctl(fd, CBT_IOC_LIST, &l), EFAULT);
	l.devs = 8;
	expect("list: wild array pointer", ioctl(fd, CBT_IOC_LIST, &l), EFAULT);
	l.devs = 0;
	l.capacity = 0;
	l.reserved[1] = 1;
	expect("list: reserved field set", ioctl(fd, CBT_IOC_LIST, &l), EINVAL);

	expect("unknown command number", ioctl(fd, _IOWR(CBT_IOCTL_MAGIC, 0x7f, struct cbt_list), &l), ENOTTY);
	expect("known number, wrong size", ioctl(fd, _IOWR(CBT_IOCTL_MAGIC, 0x03, struct cbt_list), &l), ENOTTY);
}

static void stamp_of(const char *text, struct cbt_stamp *s)
{
	unsigned int b[16];
	unsigned long long gen;
	int i;

	if (sscanf(text, "%2x%2x%2x%2x-%2x%2x-%2x%2x-%2x%2x-%2x%2x%2x%2x%2x%2x:%llu",
		   &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &b[6], &b[7], &b[8],
		   &b[9], &b[10], &b[11], &b[12], &b[13], &b[14], &b[15], &gen) != 17) {
		fprintf(stderr, "bad stamp %s\n", text);
		exit(2);
	}
	for (i = 0; i < 16; i++)
		s->uuid[i] = (uint8_t)b[i];
	s->generation = gen;
}

static void bad_changes(struct cbt_dev tracked, const struct cbt_stamp *stamp)
{
	long page = sysconf(_SC_PAGESIZE);
	struct cbt_changes c, base;
	struct cbt_status s;
	uint8_t *guard;

	memset(&s, 0, sizeof(s));
	s.dev = tracked;
	if (ioctl(fd, CBT_IOC_STATUS, &s) < 0) {
		perror("status");
		exit(2);
	}
	/* One writable page followed by an inaccessible one. */
	guard = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (guard == MAP_FAILED || mprotect(guard + page, page, PROT_NONE)) {
		perror("mmap");
		exit(2);
	}
	memset(&base, 0, sizeof(base));
	base.dev = tracked;
	base.since = *stamp;
	base.buf = (uintptr_t)guard;
	base.buf_size = page;

	c = base;
	expect("changes: good request", ioctl(fd, CBT_IOC_CHANGES, &c), 0);
	c = base;
	c.flags = 1u << 7;
	expect("changes: unknown flag", ioctl(fd, CBT_IOC_CHANGES, &c), EINVAL);
	c = base;
	c.reserved[0] = 1;
	expect("changes: reserved field set", ioctl(fd, CBT_IOC_CHANGES, &c), EINVAL);
	c = base;
	c.count = 3;
	expect("changes: output field not zero", ioctl(fd, CBT_IOC_CHANGES, &c), EINVAL);
	c = base;
	c.buf = 0;
	expect("changes: NULL buffer", ioctl(fd, CBT_IOC_CHANGES, &c), EFAULT);
	c = base;
	c.buf_size = 0;
	expect("changes: empty buffer", ioctl(fd, CBT_IOC_CHANGES, &c), ENOSPC);
	c = base;
	c.buf_size = sizeof(struct cbt_extent) - 1;
	expect("changes: buffer smaller than one extent", ioctl(fd, CBT_IOC_CHANGES, &c), ENOSPC);
	/* Room for one extent (or 64 bits) before the inaccessible page. */
	c = base;
	c.buf = (uintptr_t)(guard + page - sizeof(struct cbt_extent));
	c.buf_size = UINT64_MAX;
	expect("changes: huge size, one real extent slot", ioctl(fd, CBT_IOC_CHANGES, &c), EFAULT);
	c = base;
	c.flags = CBT_CHANGES_BITMAP;
	c.buf = (uintptr_t)(guard + page - 8);
	c.buf_size = UINT64_MAX;
	expect("changes: huge bitmap size, 8 real bytes", ioctl(fd, CBT_IOC_CHANGES, &c), EFAULT);
	c = base;
	c.offset = s.device_size + 4096;
	expect("changes: offset past the end", ioctl(fd, CBT_IOC_CHANGES, &c), EINVAL);
	c = base;
	c.length = s.device_size + 1;
	expect("changes: length past the end", ioctl(fd, CBT_IOC_CHANGES, &c), EINVAL);
	c = base;
	c.offset = INT64_MAX;
	c.length = INT64_MAX;
	expect("changes: offset + length overflows", ioctl(fd, CBT_IOC_CHANGES, &c), EINVAL);
	c = base;
	c.offset = UINT64_MAX;
	expect("changes: offset beyond 2^63", ioctl(fd, CBT_IOC_CHANGES, &c), EINVAL);
	c = base;
	c.flags = CBT_CHANGES_BITMAP;
	c.offset = 512;
	expect("changes: bitmap from an unaligned offset", ioctl(fd, CBT_IOC_CHANGES, &c), EINVAL);
	c = base;
	c.since.uuid[0] ^= 0xff;
	expect("changes: stamp of another tracker", ioctl(fd, CBT_IOC_CHANGES, &c), ESTALE);
	c = base;
	c.since.generation = s.head.generation + 10;
	expect("changes: stamp from the future", ioctl(fd, CBT_IOC_CHANGES, &c), EINVAL);
	c = base;
	c.since.generation = 0;
	expect("changes: stamp older than the map", ioctl(fd, CBT_IOC_CHANGES, &c), ESTALE);
	munmap(guard, 2 * page);
}

/* Bitmap and extents must describe the same blocks. */
static void bitmap_agrees(const char *dev, const char *stamp)
{
	struct cbt_changes_iter *it;
	struct cbt_volume *vol = NULL;
	struct cbt_ctx *ctx = NULL;
	uint64_t off, len, b, mismatches = 0, blocks;
	uint8_t *bits, *from_extents;
	uint32_t bs;
	int64_t n;

	if (cbt_ctx_new(&ctx) || cbt_volume_open(ctx, dev, &vol) ||
	    cbt_volume_refresh(vol)) {
		expect("bitmap: setup", -1, 0);
		cbt_volume_free(vol);
		cbt_ctx_unref(ctx);
		return;
	}
	blocks = cbt_volume_get_blocks(vol);
	bits = calloc(blocks / 8 + 1, 1);
	from_extents = calloc(blocks / 8 + 1, 1);
	n = cbt_volume_changes_bitmap(vol, stamp, 0, blocks, bits, &bs);
	if (n != (int64_t)blocks) {
		errno = n < 0 ? (int)-n : EIO;
		expect("bitmap: whole device", -1, 0);
		goto out;
	}
	if (cbt_changes_open(vol, stamp, 0, 0, &it)) {
		expect("bitmap: extents", -1, 0);
		goto out;
	}
	while (cbt_changes_next(it, &off, &len) > 0)
		for (b = off / bs; b < (off + len + bs - 1) / bs; b++)
			from_extents[b / 8] |= 1u << (b % 8);
	cbt_changes_free(it);
	for (b = 0; b < blocks; b++)
		if (!!(bits[b / 8] & (1u << (b % 8))) != !!(from_extents[b / 8] & (1u << (b % 8))))
			mismatches++;
	errno = EIO;
	expect("bitmap: same blocks as the extents", mismatches ? -1 : 0, 0);
	/* A bitmap window starting mid-device, 64 bits long. */
	if (blocks > 128) {
		uint8_t win[8];

		n = cbt_volume_changes_bitmap(vol, stamp, 64, 64, win, NULL);
		errno = EIO;
		expect("bitmap: window at block 64",
		       n == 64 && !memcmp(win, from_extents + 8, 8) ? 0 : -1, 0);
	}
out:
	free(bits);
	free(from_extents);
	cbt_volume_free(vol);
	cbt_ctx_unref(ctx);
}

/* Random bytes for every command: any error is fine, a crash is not. */
static void garbage(void)
{
	static const unsigned long cmds[] = {
		CBT_IOC_STATUS, CBT_IOC_LIST, CBT_IOC_CHANGES, CBT_IOC_DETACH,
		CBT_IOC_CHECKPOINT,
	};
	union {
		struct cbt_changes c;
		struct cbt_status s;
		uint8_t raw[256];
	} u;
	int i, j, ok = 0;

	srand(12345);
	for (i = 0; i < 20000; i++) {
		for (j = 0; j < (int)sizeof(u.raw); j++)
			u.raw[j] = (uint8_t)rand();
		/* Keep detach and checkpoint off real devices: major 0 is none. */
		u.s.dev.major = 0;
		if (ioctl(fd, cmds[i % 5], &u) < 0)
			ok++;
	}
	errno = EIO;
	expect("20000 garbage requests all refused", ok == 20000 ? 0 : -1, 0);
}

static int unprivileged(const char *dev)
{
	struct cbt_dev d = devof(dev);
	struct cbt_status s;
	struct cbt_attach a;
	struct cbt_detach det;
	struct cbt_checkpoint c;
	struct cbt_version v;

	memset(&s, 0, sizeof(s));
	memset(&a, 0, sizeof(a));
	memset(&det, 0, sizeof(det));
	memset(&c, 0, sizeof(c));
	s.dev = a.dev = det.dev = c.dev = d;
	expect("unprivileged version", ioctl(fd, CBT_IOC_VERSION, &v), EPERM);
	expect("unprivileged status", ioctl(fd, CBT_IOC_STATUS, &s), EPERM);
	expect("unprivileged attach", ioctl(fd, CBT_IOC_ATTACH, &a), EPERM);
	expect("unprivileged checkpoint", ioctl(fd, CBT_IOC_CHECKPOINT, &c), EPERM);
	expect("unprivileged detach", ioctl(fd, CBT_IOC_DETACH, &det), EPERM);
	{
		struct cbt_snap_member m = { .dev = d };
		struct cbt_snap_create sc = { .members = (uintptr_t)&m, .count = 1 };
		struct cbt_snap_list sl = { 0 };
		struct cbt_snap_info si = { .id = 1 };
		struct cbt_snap_destroy sd = { .id = 1 };
		struct cbt_snap_grow sg = { .id = 1 };
		struct cbt_snap_events se = { .id = 1 };

		expect("unprivileged snapshot create", ioctl(fd, CBT_IOC_SNAP_CREATE, &sc), EPERM);
		expect("unprivileged snapshot list", ioctl(fd, CBT_IOC_SNAP_LIST, &sl), EPERM);
		expect("unprivileged snapshot info", ioctl(fd, CBT_IOC_SNAP_INFO, &si), EPERM);
		expect("unprivileged snapshot grow", ioctl(fd, CBT_IOC_SNAP_GROW, &sg), EPERM);
		expect("unprivileged snapshot events", ioctl(fd, CBT_IOC_SNAP_EVENTS, &se), EPERM);
		expect("unprivileged snapshot destroy", ioctl(fd, CBT_IOC_SNAP_DESTROY, &sd), EPERM);
	}
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct cbt_stamp stamp;

	fd = open("/dev/cbt-ctl", O_RDWR);
	if (fd < 0) {
		perror("/dev/cbt-ctl");
		return 2;
	}
	if (argc == 3 && !strcmp(argv[1], "--unprivileged"))
		return unprivileged(argv[2]);
	if (argc != 4) {
		fprintf(stderr, "usage: %s TRACKED UNTRACKED STAMP\n", argv[0]);
		return 2;
	}
	stamp_of(argv[3], &stamp);
	bad_attach(devof(argv[1]), devof(argv[2]));
	bad_simple(devof(argv[1]), devof(argv[2]));
	bad_changes(devof(argv[1]), &stamp);
	bitmap_agrees(argv[1], argv[3]);
	garbage();
	printf("%d failures\n", failures);
	return failures ? 1 : 0;
}
