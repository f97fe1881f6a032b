// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test-libcbt.c - unit tests of libcbt's own logic, on the host, with
 * cmocka. The library's objects are linked in directly with
 * -Wl,--wrap=ioctl: every ioctl the library makes lands in __wrap_ioctl()
 * below, a small model of the module that can hold 10000 trackers and 300
 * sets, and answer lists the way ABI 1 does (at most 4096 trackers a call).
 *
 *   test-libcbt [GROUP]   GROUP: size stamp strerror debug lists opts
 *                         lifetime backup (all when none); CMOCKA_MESSAGE_OUTPUT=TAP
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"

/* ---- the model of the module -------------------------------------------------- */

#define TRACK_MAJOR	259u
#define SET_ID0		1000u

static struct mock {
	int fd;			/* the context's descriptor */
	uint32_t trackers;	/* tracked: TRACK_MAJOR:1 .. TRACK_MAJOR:trackers */
	uint32_t trackers_later; /* if not 0: the count from the 2nd LIST on */
	uint32_t list_fill_max;	/* entries one LIST fills (ABI 1: 4096) */
	uint32_t sets;		/* live: SET_ID0 .. SET_ID0 + sets - 1 */
	uint32_t sets_later;	/* if not 0: the count from the 2nd SNAP_LIST on */
	uint32_t members;	/* of every set */
	uint32_t destroyed;	/* a set id gone */
	uint64_t extents;	/* changed: extent i at i * 2 blocks, 1 block long */
	uint32_t creates;	/* sets made by SNAP_CREATE (ids from SET_ID0 up) */
	uint32_t snap_state;	/* more CBT_SNAP_STATE_* bits for SNAP_INFO */
	int destroy_error;	/* if not 0: SNAP_DESTROY fails with it */
	unsigned int calls, list_calls, snap_list_calls, destroy_calls;
} mock;

static const uint32_t mock_bs = 65536;

static void mock_reset(void)
{
	memset(&mock, 0, sizeof(mock));
	mock.fd = -1;
	mock.list_fill_max = CBT__LIST_FILL_MAX;
}

static int tracked(uint32_t ma, uint32_t mi)
{
	return ma == TRACK_MAJOR && mi >= 1 && mi <= mock.trackers;
}

static int mock_list(struct cbt_list *l)
{
	struct cbt_dev *d = (struct cbt_dev *)(uintptr_t)l->devs;
	uint32_t i, n;

	if (mock.list_calls++ && mock.trackers_later)
		mock.trackers = mock.trackers_later;
	n = l->capacity < mock.trackers ? l->capacity : mock.trackers;
	if (n > mock.list_fill_max)
		n = mock.list_fill_max;
	if (n && !d)
		return -EFAULT;
	for (i = 0; i < n; i++) {
		d[i].major = TRACK_MAJOR;
		d[i].minor = i + 1;
	}
	l->count = mock.trackers;
	return 0;
}

static int mock_snap_list(struct cbt_snap_list *l)
{
	uint32_t *ids = (uint32_t *)(uintptr_t)l->ids;
	uint32_t i;

	if (mock.snap_list_calls++ && mock.sets_later)
		mock.sets = mock.sets_later;
	for (i = 0; i < l->capacity && i < mock.sets; i++)
		ids[i] = SET_ID0 + i;
	l->count = mock.sets;
	return 0;
}

static void mock_stamp(struct cbt_stamp *s, uint64_t gen)
{
	int i;

	for (i = 0; i < CBT_UUID_SIZE; i++)
		s->uuid[i] = (uint8_t)(0xa0 + i);
	s->generation = gen;
}

static void mock_member(struct cbt_snap_member *m, uint32_t i)
{
	m->dev.major = TRACK_MAJOR;
	m->dev.minor = i + 1;
	m->image.major = 252;
	m->image.minor = i;
	mock_stamp(&m->stamp, 40 + mock.creates + i);	/* a set's own instant */
	m->chunk_size = mock_bs;
	m->frozen = i % 2;
}

static int mock_snap_info(struct cbt_snap_info *in)
{
	struct cbt_snap_member *m = (struct cbt_snap_member *)(uintptr_t)in->members;
	uint32_t i;

	if (in->id < SET_ID0 || in->id >= SET_ID0 + mock.sets || in->id == mock.destroyed)
		return -ENOENT;
	for (i = 0; i < in->capacity && i < mock.members; i++)
		mock_member(&m[i], i);
	in->count = mock.members;
	in->state = CBT_SNAP_STATE_LOW_SPACE | CBT_SNAP_STATE_WRITABLE | mock.snap_state;
	in->stores = 2;
	in->store_size = 1 << 30;
	in->store_used = 1 << 20;
	in->chunks_copied = 16;
	in->created_ns = 1700000000123456789ull;
	in->hold_ns = 4242;
	in->low_space = 20;
	return 0;
}

static int mock_status(struct cbt_status *s)
{
	if (!tracked(s->dev.major, s->dev.minor))
		return -ENOENT;
	mock_stamp(&s->head, 9);
	s->oldest = 3;
	s->block_size = mock_bs;
	s->blocks = 16384;	/* 1 GiB */
	s->device_size = (uint64_t)s->blocks * mock_bs;
	s->blocks_written = 77;
	s->map_bytes = 16384;
	s->state = CBT_STATE_LOST;
	return 0;
}

static int mock_changes(struct cbt_changes *c)
{
	struct cbt_extent *e = (struct cbt_extent *)(uintptr_t)c->buf;
	uint64_t room = c->buf_size / sizeof(*e), i, n = 0;
	uint64_t end = c->offset + c->length;

	if (c->since.generation < 3)
		return -ESTALE;
	c->block_size = mock_bs;
	if (c->flags & CBT_CHANGES_BITMAP) {
		uint8_t *map = (uint8_t *)(uintptr_t)c->buf;
		uint64_t first = c->offset / mock_bs, k;

		n = (c->length + mock_bs - 1) / mock_bs;
		if (n > c->buf_size * 8)
			n = c->buf_size * 8;
		memset(map, 0, (n + 7) / 8);
		for (k = 0; k < n; k++)
			if ((first + k) % 2 == 0 && (first + k) / 2 < mock.extents)
				map[k / 8] |= (uint8_t)(1u << (k % 8));
		c->count = n;
		return 0;
	}
	i = (c->offset / mock_bs + 1) / 2;	/* the first extent at or after offset */
	for (; i < mock.extents && i * 2 * mock_bs < end && n < room; i++, n++) {
		e[n].offset = i * 2 * mock_bs;
		e[n].length = mock_bs;
	}
	c->count = n;
	c->next_offset = i < mock.extents && i * 2 * mock_bs < end ? i * 2 * mock_bs : end;
	return 0;
}

/* A new set of the members asked for (tracked ones), with the next instant. */
static int mock_snap_create(struct cbt_snap_create *c)
{
	struct cbt_snap_member *m = (struct cbt_snap_member *)(uintptr_t)c->members;
	uint32_t i;

	for (i = 0; i < c->count; i++)
		if (!tracked(m[i].dev.major, m[i].dev.minor))
			return -ENOENT;
	mock.creates++;
	for (i = 0; i < c->count; i++)
		mock_member(&m[i], m[i].dev.minor - 1);
	mock.members = c->count;
	c->id = SET_ID0 + mock.sets++;
	c->hold_ns = 1000;
	return 0;
}

int __wrap_ioctl(int fd, unsigned long cmd, ...);
int __wrap_ioctl(int fd, unsigned long cmd, ...)
{
	va_list ap;
	void *arg;
	int ret;

	va_start(ap, cmd);
	arg = va_arg(ap, void *);
	va_end(ap);
	mock.calls++;
	/* A context freed too early would show here: its descriptor is closed. */
	if (fd != mock.fd || fcntl(fd, F_GETFD) < 0) {
		errno = EBADF;
		return -1;
	}
	switch (cmd) {
	case CBT_IOC_LIST:
		ret = mock_list(arg);
		break;
	case CBT_IOC_STATUS:
		ret = mock_status(arg);
		break;
	case CBT_IOC_SNAP_LIST:
		ret = mock_snap_list(arg);
		break;
	case CBT_IOC_SNAP_INFO:
		ret = mock_snap_info(arg);
		break;
	case CBT_IOC_SNAP_DESTROY:
		mock.destroy_calls++;
		ret = mock.destroy_error;
		if (!ret)
			mock.destroyed = ((struct cbt_snap_destroy *)arg)->id;
		break;
	case CBT_IOC_CHANGES:
		ret = mock_changes(arg);
		break;
	case CBT_IOC_SNAP_CREATE:
		ret = mock_snap_create(arg);
		break;
	case CBT_IOC_CHECKPOINT:
		mock_stamp(&((struct cbt_checkpoint *)arg)->stamp, 7);
		ret = 0;
		break;
	case CBT_IOC_ATTACH:
	case CBT_IOC_DETACH:
		ret = 0;
		break;
	default:
		ret = -ENOTTY;
	}
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return 0;
}

/* A context on a descriptor of /dev/null, which the mock answers for. */
static struct cbt_ctx *mock_ctx(void)
{
	struct cbt_ctx *ctx = NULL;
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	assert_true(fd >= 0);
	mock.fd = fd;
	assert_int_equal(cbt__ctx_new_fd(fd, &ctx), 0);
	return ctx;
}

static int setup(void **state)
{
	(void)state;
	mock_reset();
	return 0;
}

/* ---- sizes ----------------------------------------------------------------------- */

static void size_good(void **state)
{
	static const struct { const char *text; uint64_t v; } ok[] = {
		{ "0", 0 }, { "4096", 4096 }, { "64K", 65536 }, { "64k", 65536 },
		{ "64KiB", 65536 }, { "64KB", 65536 }, { "1M", 1 << 20 },
		{ "1g", 1ull << 30 }, { "2T", 2ull << 40 },
		{ "16777215T", 16777215ull << 40 },
		{ "18446744073709551615", UINT64_MAX },
	};
	uint64_t v;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 12345;
		assert_int_equal(cbt_parse_size(ok[i].text, &v), 0);
		assert_true(v == ok[i].v);
	}
}

static void size_bad(void **state)
{
	static const char *const bad[] = {
		"", "K", "-1", " 1", "+1", "1Q", "1KiBx", "1Ki", "1 K", "1KK", "0x10",
		"18446744073709551616", "1.5M", "1b",
	};
	uint64_t v = 12345;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cbt_parse_size(bad[i], &v), -EINVAL);
	assert_true(v == 12345);	/* untouched on failure */
	assert_int_equal(cbt_parse_size(NULL, &v), -EINVAL);
	assert_int_equal(cbt_parse_size("1", NULL), -EINVAL);
	assert_int_equal(cbt_parse_size("16777216T", &v), -ERANGE);
	assert_int_equal(cbt_parse_size("17179869184G", &v), -ERANGE);
}

/* ---- stamps ---------------------------------------------------------------------- */

static void stamp_check(void **state)
{
	static const char *const good[] = {
		"12345678-1234-1234-1234-123456789abc:5",
		"12345678-1234-1234-1234-123456789ABC:0",
		"00000000-0000-0000-0000-000000000000:18446744073709551615",
	};
	static const char *const bad[] = {
		"", "garbage", "12345678-1234-1234-1234-123456789abc",
		"12345678-1234-1234-1234-123456789abc:",
		"12345678-1234-1234-1234-123456789abc:x",
		"12345678-1234-1234-1234-123456789abz:5",
		"12345678-1234-1234-1234-123456789abc:5junk",
		"12345678123412341234123456789abc:5",
		"12345678-1234-1234-1234-123456789abc: 5",
		"12345678-1234-1234-1234-123456789abc:-5",
		"12345678-1234-1234-1234-123456789abc:+5",
		"12345678-1234-1234-1234-123456789abc:18446744073709551616",
		"12345678-1234-1234-1234-123456789abc::5",
		"{2345678-1234-1234-1234-123456789abc:5",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(cbt_stamp_check(good[i]), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(cbt_stamp_check(bad[i]), -EINVAL);
	assert_int_equal(cbt_stamp_check(NULL), -EINVAL);
}

static void stamp_round_trip(void **state)
{
	struct cbt_stamp s, back;
	char *text;

	(void)state;
	mock_stamp(&s, UINT64_MAX);
	text = cbt__stamp_format(&s);
	assert_non_null(text);
	assert_string_equal(text, "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf:18446744073709551615");
	assert_int_equal(cbt__stamp_parse(text, &back), 0);
	assert_memory_equal(&s, &back, sizeof(s));
	free(text);
	/* Upper case is read as the same stamp. */
	assert_int_equal(cbt__stamp_parse("A0A1A2A3-A4A5-A6A7-A8A9-AAABACADAEAF:18446744073709551615",
					  &back), 0);
	assert_memory_equal(&s, &back, sizeof(s));
}

/* ---- strerror ----------------------------------------------------------------------- */

static void strerror_every_errno(void **state)
{
	/* Every errno the library or the module returns (grep -r 'return -E'). */
	static const int used[] = {
		EINVAL, ENOMEM, ENOENT, ENOTBLK, EBUSY, ESTALE, EXDEV, EMFILE,
		ENOTTY, EPERM, EACCES, ETIMEDOUT, ENOSPC, E2BIG, EEXIST, ENODEV,
		EIO, EAGAIN, EFAULT, ERANGE, EBADF, ENXIO, EOVERFLOW, EINTR,
		ENOTDIR, ELOOP, EROFS, EOPNOTSUPP, EMLINK, EFBIG, EBADMSG,
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(used) / sizeof(used[0]); i++) {
		const char *s = cbt_strerror(-used[i]);

		assert_non_null(s);
		assert_true(strlen(s) > 4);
		assert_null(strstr(s, "Unknown error"));
	}
	assert_string_equal(cbt_strerror(0), "success");
	assert_non_null(strstr(cbt_strerror(-ESTALE), "full backup"));
	assert_non_null(strstr(cbt_strerror(-ENOTBLK), "not a block device"));
	assert_non_null(strstr(cbt_strerror(-EPERM), "root"));
	assert_non_null(strstr(cbt_strerror(-EXDEV), "store"));
	assert_non_null(strstr(cbt_strerror(-E2BIG), "snapshot set"));
	assert_non_null(cbt_strerror(-99999));	/* never NULL */
}

static void library_version(void **state)
{
	const char *v = NULL;
	unsigned int a, b, c;
	int n;

	(void)state;
	n = cbt_get_library_version(&v);
	assert_non_null(v);
	assert_string_equal(v, CBT_VERSION);
	assert_int_equal(sscanf(v, "%u.%u.%u", &a, &b, &c), 3);
	assert_int_equal(n, (int)(a * 10000 + b * 100 + c));
	assert_int_equal(cbt_get_library_version(NULL), n);
}

/* ---- LIBCBT_DEBUG ------------------------------------------------------------------- */

static void debug_parse(void **state)
{
	(void)state;
	assert_int_equal(cbt__debug_parse("all"), LIBCBT_DEBUG_ALL);
	assert_int_equal(cbt__debug_parse("ALL"), LIBCBT_DEBUG_ALL);
	assert_int_equal(cbt__debug_parse("ctx,volume"), LIBCBT_DEBUG_CTX | LIBCBT_DEBUG_VOLUME);
	assert_int_equal(cbt__debug_parse("snapset,,store,"), LIBCBT_DEBUG_SNAPSET | LIBCBT_DEBUG_STORE);
	assert_int_equal(cbt__debug_parse("changes,util"), LIBCBT_DEBUG_CHANGES | LIBCBT_DEBUG_UTIL);
	assert_int_equal(cbt__debug_parse("volumes"), 0);	/* not a name */
	assert_int_equal(cbt__debug_parse("bogus,ctx"), LIBCBT_DEBUG_CTX);
	assert_int_equal(cbt__debug_parse("0x3"), 3);
	assert_int_equal(cbt__debug_parse("12"), 12);
	assert_int_equal(cbt__debug_parse("0xffffffff"), LIBCBT_DEBUG_ALL);
	assert_int_equal(cbt__debug_parse("12x"), 0);
	assert_int_equal(cbt__debug_parse(""), 0);
	assert_int_equal(cbt__debug_parse(NULL), 0);
}

/* Run @fn with stderr in a file; return what it wrote (freed by the caller). */
static char *capture_stderr(void (*fn)(void))
{
	char path[] = "/tmp/cbt-unit-XXXXXX", *buf;
	int fd = mkstemp(path), saved = dup(2);
	off_t len;

	assert_true(fd >= 0);
	unlink(path);
	fflush(stderr);
	dup2(fd, 2);
	fn();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	len = lseek(fd, 0, SEEK_END);
	buf = calloc(1, (size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, (size_t)len, 0), len);
	close(fd);
	return buf;
}

static void resolve_null_dev(void)
{
	dev_t d;

	cbt_volume_resolve("/dev/null", &d);
	cbt_stamp_check("x");
}

static void debug_trace(void **state)
{
	char *out;

	(void)state;
	setenv("LIBCBT_DEBUG", "volume", 1);
	cbt__debug_reset();
	out = capture_stderr(resolve_null_dev);
	/* The volume call is traced with its result; the util call is not. */
	assert_non_null(strstr(out, "libcbt: "));
	assert_non_null(strstr(out, "cbt_volume_resolve(\"/dev/null\")"));
	assert_non_null(strstr(out, "= -15 (not a block device)"));
	assert_null(strstr(out, "cbt_stamp_check"));
	free(out);
	/* Read once: a change of the environment counts only after a reset. */
	setenv("LIBCBT_DEBUG", "all", 1);
	out = capture_stderr(resolve_null_dev);
	assert_null(strstr(out, "cbt_stamp_check"));
	free(out);
	cbt__debug_reset();
	out = capture_stderr(resolve_null_dev);
	assert_non_null(strstr(out, "cbt_stamp_check(\"x\") = -22"));
	free(out);
	unsetenv("LIBCBT_DEBUG");
	cbt__debug_reset();
	out = capture_stderr(resolve_null_dev);
	assert_string_equal(out, "");
	free(out);
}

/* ---- lists of any length ------------------------------------------------------------- */

static char sysfs_dir[64];

/* A fake /sys/dev/block: every tracked device and 500 others. */
static void make_sysfs(uint32_t tracked_n)
{
	char name[128];
	uint32_t i;
	int fd;

	strcpy(sysfs_dir, "/tmp/cbt-unit-sysfs-XXXXXX");
	assert_non_null(mkdtemp(sysfs_dir));
	for (i = 0; i < tracked_n + 500; i++) {
		if (i < tracked_n)
			snprintf(name, sizeof(name), "%s/%u:%u", sysfs_dir, TRACK_MAJOR, i + 1);
		else
			snprintf(name, sizeof(name), "%s/7:%u", sysfs_dir, i);
		fd = open(name, O_CREAT | O_WRONLY, 0600);
		assert_true(fd >= 0);
		close(fd);
	}
	cbt__sysfs_dev_block = sysfs_dir;
}

static void drop_sysfs(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sysfs_dir);
	assert_int_equal(system(cmd), 0);
	cbt__sysfs_dev_block = "/sys/dev/block";
}

/* Each of TRACK_MAJOR:1..n exactly once. */
static void assert_all_tracked(const dev_t *devs, size_t count, uint32_t n)
{
	uint8_t *seen = calloc(n + 1, 1);
	size_t i;

	assert_non_null(seen);
	assert_int_equal(count, n);
	for (i = 0; i < count; i++) {
		assert_int_equal(major(devs[i]), TRACK_MAJOR);
		assert_in_range(minor(devs[i]), 1, n);
		assert_int_equal(seen[minor(devs[i])], 0);
		seen[minor(devs[i])] = 1;
	}
	free(seen);
}

static void list_10000_trackers_abi1(void **state)
{
	struct cbt_ctx *ctx = mock_ctx();
	dev_t *devs = NULL;
	size_t n = 0;

	(void)state;
	mock.trackers = 10000;	/* the kernel fills 4096 a call */
	make_sysfs(mock.trackers);
	assert_int_equal(cbt_ctx_get_tracked(ctx, &devs, &n), 0);
	drop_sysfs();
	assert_all_tracked(devs, n, 10000);
	free(devs);
	cbt_ctx_unref(ctx);
}

static void list_10000_trackers_unbounded(void **state)
{
	struct cbt_ctx *ctx = mock_ctx();
	dev_t *devs = NULL;
	size_t n = 0;

	(void)state;
	mock.trackers = 10000;
	mock.list_fill_max = UINT32_MAX;	/* a kernel that fills all it is asked */
	cbt__sysfs_dev_block = "/nonexistent";	/* no scan needed, none made */
	assert_int_equal(cbt_ctx_get_tracked(ctx, &devs, &n), 0);
	cbt__sysfs_dev_block = "/sys/dev/block";
	assert_all_tracked(devs, n, 10000);
	free(devs);
	cbt_ctx_unref(ctx);
}

static void list_trackers_grow_meanwhile(void **state)
{
	struct cbt_ctx *ctx = mock_ctx();
	dev_t *devs = NULL;
	size_t n = 0;

	(void)state;
	mock.trackers = 10;
	mock.trackers_later = 3000;	/* attached between two calls */
	assert_int_equal(cbt_ctx_get_tracked(ctx, &devs, &n), 0);
	assert_all_tracked(devs, n, 3000);
	assert_true(mock.list_calls >= 3);
	free(devs);
	cbt_ctx_unref(ctx);
}

static void list_no_trackers(void **state)
{
	struct cbt_ctx *ctx = mock_ctx();
	dev_t *devs = NULL;
	size_t n = 99;

	(void)state;
	assert_int_equal(cbt_ctx_get_tracked(ctx, &devs, &n), 0);
	assert_int_equal(n, 0);
	assert_non_null(devs);
	free(devs);
	cbt_ctx_unref(ctx);
}

static void list_300_sets(void **state)
{
	struct cbt_ctx *ctx = mock_ctx();
	uint32_t *ids = NULL;
	size_t n = 0, i;

	(void)state;
	mock.sets = 300;
	assert_int_equal(cbt_ctx_get_snapsets(ctx, &ids, &n), 0);
	assert_int_equal(n, 300);
	for (i = 0; i < n; i++)
		assert_int_equal(ids[i], SET_ID0 + i);
	free(ids);
	/* And when sets are made between the calls. */
	mock.sets = 100;	/* more than the first ask has room for */
	mock.sets_later = 700;
	mock.snap_list_calls = 0;
	assert_int_equal(cbt_ctx_get_snapsets(ctx, &ids, &n), 0);
	assert_int_equal(n, 700);
	assert_int_equal(ids[699], SET_ID0 + 699);
	assert_true(mock.snap_list_calls >= 3);
	free(ids);
	cbt_ctx_unref(ctx);
}

static void list_40_members(void **state)
{
	struct cbt_ctx *ctx = mock_ctx();
	struct cbt_snapset *set = NULL;
	unsigned int i;

	(void)state;
	mock.sets = 1;
	mock.members = 40;	/* more than ABI 1's 16: a later module */
	assert_int_equal(cbt_snapset_open(ctx, SET_ID0, &set), 0);
	assert_int_equal(cbt_snapset_get_member_count(set), 40);
	for (i = 0; i < 40; i++)
		assert_int_equal(minor(cbt_snapset_get_member_devno(set, i)), i + 1);
	cbt_snapset_free(set);
	cbt_ctx_unref(ctx);
}

static void list_changes_batches(void **state)
{
	struct cbt_ctx *ctx = mock_ctx();
	struct cbt_changes_iter *it = NULL;
	struct cbt_volume *vol = NULL;
	uint64_t off, len, k = 0;

	(void)state;
	mock.trackers = 1;
	mock.extents = 8000;	/* two batches of 4096 and some */
	assert_int_equal(cbt_volume_open_devno(ctx, makedev(TRACK_MAJOR, 1), &vol), 0);
	assert_int_equal(cbt_changes_open(vol, "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf:5",
					  0, 0, &it), 0);
	while (cbt_changes_next(it, &off, &len) == 1) {
		assert_true(off == k * 2 * mock_bs);
		assert_true(len == mock_bs);
		k++;
	}
	assert_true(k == 8000);
	assert_int_equal(cbt_changes_next(it, &off, &len), 0);	/* and after the end */
	assert_int_equal(cbt_changes_get_block_size(it), mock_bs);
	cbt_changes_free(it);
	/* A stamp the model cannot answer fails at open. */
	assert_int_equal(cbt_changes_open(vol, "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf:1",
					  0, 0, &it), -ESTALE);
	cbt_volume_free(vol);
	cbt_ctx_unref(ctx);
}

/* ---- snapset options ------------------------------------------------------------------ */

static void opts_validation(void **state)
{
	struct cbt_ctx *ctx = mock_ctx();
	struct cbt_snapset_opts *o = NULL;
	struct cbt_snapset *set = NULL;
	struct cbt_volume *vol[LIBCBT_SNAPSET_MAX_VOLUMES + 1];
	unsigned int i;

	(void)state;
	assert_int_equal(cbt_snapset_opts_new(NULL), -EINVAL);
	assert_int_equal(cbt_snapset_opts_new(&o), 0);
	/* Nothing in it yet: refused before the kernel is asked. */
	assert_int_equal(cbt_snapset_create(ctx, o, &set), -EINVAL);
	for (i = 0; i <= LIBCBT_SNAPSET_MAX_VOLUMES; i++)
		assert_int_equal(cbt_volume_open_devno(ctx, makedev(TRACK_MAJOR, i + 1), &vol[i]), 0);
	for (i = 0; i < LIBCBT_SNAPSET_MAX_VOLUMES; i++)
		assert_int_equal(cbt_snapset_opts_add_volume(o, vol[i]), 0);
	assert_int_equal(cbt_snapset_opts_add_volume(o, vol[LIBCBT_SNAPSET_MAX_VOLUMES]), -E2BIG);
	assert_int_equal(cbt_snapset_opts_add_volume(o, vol[0]), -EEXIST);
	assert_int_equal(cbt_snapset_opts_add_volume(o, NULL), -EINVAL);
	assert_int_equal(cbt_snapset_opts_add_volume(NULL, vol[0]), -EINVAL);
	/* Volumes but no store. */
	assert_int_equal(cbt_snapset_create(ctx, o, &set), -EINVAL);
	assert_int_equal(cbt_snapset_opts_add_store(o, ""), -EINVAL);
	assert_int_equal(cbt_snapset_opts_add_store(o, ":1M"), -EINVAL);
	assert_int_equal(cbt_snapset_opts_add_store(o, NULL), -EINVAL);
	assert_int_equal(cbt_snapset_opts_add_store(o, "/srv/cow:1G"), 0);
	assert_int_equal(cbt_snapset_opts_add_store(o, "/dev/sdz"), 0);
	assert_int_equal(cbt_snapset_opts_set_flags(o, LIBCBT_SNAPSET_NO_FREEZE |
						    LIBCBT_SNAPSET_WRITABLE), 0);
	assert_int_equal(cbt_snapset_opts_set_flags(o, 1u << 2), -EINVAL);
	assert_int_equal(cbt_snapset_opts_set_flags(o, 1u << 31), -EINVAL);
	assert_int_equal(cbt_snapset_opts_set_hold_ms(o, 0), 0);
	assert_int_equal(cbt_snapset_opts_set_hold_ms(o, LIBCBT_SNAPSET_HOLD_MAX_MS), 0);
	assert_int_equal(cbt_snapset_opts_set_hold_ms(o, LIBCBT_SNAPSET_HOLD_MAX_MS + 1), -ERANGE);
	assert_int_equal(cbt_snapset_opts_set_low_space(o, LIBCBT_SNAPSET_LOW_SPACE_MAX), 0);
	assert_int_equal(cbt_snapset_opts_set_low_space(o, LIBCBT_SNAPSET_LOW_SPACE_MAX + 1), -ERANGE);
	assert_int_equal(cbt_snapset_opts_set_hold_ms(NULL, 1), -EINVAL);
	assert_int_equal(cbt_snapset_opts_set_low_space(NULL, 1), -EINVAL);
	assert_int_equal(cbt_snapset_opts_set_flags(NULL, 0), -EINVAL);
	assert_int_equal(cbt_snapset_create(NULL, o, &set), -EINVAL);
	assert_int_equal(cbt_snapset_create(ctx, NULL, &set), -EINVAL);
	assert_int_equal(cbt_snapset_create(ctx, o, NULL), -EINVAL);
	assert_int_equal(mock.calls, 0);	/* none of this reached the kernel */
	assert_null(set);
	for (i = 0; i <= LIBCBT_SNAPSET_MAX_VOLUMES; i++)
		cbt_volume_free(vol[i]);
	cbt_snapset_opts_free(o);
	cbt_snapset_opts_free(NULL);
	cbt_ctx_unref(ctx);
}

/* ---- handle lifetimes ------------------------------------------------------------------- */

static int fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void lifetime_handles_keep_ctx(void **state)
{
	struct cbt_ctx *ctx = mock_ctx();
	struct cbt_changes_iter *it = NULL;
	struct cbt_volume *vol = NULL;
	struct cbt_snapset *set = NULL;
	uint64_t off, len;
	int fd = mock.fd;
	char *stamp = NULL;

	(void)state;
	mock.trackers = 1;
	mock.sets = 1;
	mock.members = 2;
	mock.extents = 3;
	assert_int_equal(cbt_volume_open_devno(ctx, makedev(TRACK_MAJOR, 1), &vol), 0);
	assert_int_equal(cbt_snapset_open(ctx, SET_ID0, &set), 0);
	assert_int_equal(cbt_changes_open(vol, "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf:5",
					  0, 0, &it), 0);
	/* The caller drops its context first: the handles still work. */
	cbt_ctx_unref(ctx);
	assert_true(fd_open(fd));
	assert_int_equal(cbt_volume_checkpoint(vol, 0, &stamp), 0);
	assert_string_equal(stamp, "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf:7");
	free(stamp);
	cbt_volume_free(vol);	/* the iterator does not need the volume */
	assert_int_equal(cbt_changes_next(it, &off, &len), 1);
	assert_int_equal(cbt_snapset_refresh(set), 0);
	cbt_changes_free(it);
	assert_true(fd_open(fd));
	assert_int_equal(cbt_snapset_destroy(set), 0);
	/* Gone: the handle keeps what it last read. */
	assert_int_equal(cbt_snapset_refresh(set), -ENOENT);
	assert_int_equal(cbt_snapset_get_member_count(set), 2);
	assert_string_equal(cbt_snapset_get_member_stamp(set, 1),
			    "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf:41");
	cbt_snapset_free(set);
	/* The last handle took the context with it. */
	assert_false(fd_open(fd));
}

static void lifetime_ctx_refs(void **state)
{
	struct cbt_ctx *ctx = mock_ctx();
	int fd = mock.fd;

	(void)state;
	assert_ptr_equal(cbt_ctx_ref(ctx), ctx);
	cbt_ctx_unref(ctx);
	assert_true(fd_open(fd));
	cbt_ctx_unref(ctx);
	assert_false(fd_open(fd));
	cbt_ctx_unref(NULL);
	assert_null(cbt_ctx_ref(NULL));
}

static void lifetime_null_handles(void **state)
{
	uint64_t off, len, feat;
	dev_t *devs;
	uint32_t *ids;
	size_t n;
	char *stamp;
	uint8_t bits[8];

	(void)state;
	assert_int_equal(cbt_ctx_new(NULL), -EINVAL);
	assert_int_equal(cbt_ctx_get_module_version(NULL, NULL, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(cbt_ctx_get_module_features(NULL, &feat), -EINVAL);
	assert_int_equal(cbt_ctx_get_tracked(NULL, &devs, &n), -EINVAL);
	assert_int_equal(cbt_ctx_get_snapsets(NULL, &ids, &n), -EINVAL);
	assert_int_equal(cbt_volume_open(NULL, "/dev/null", NULL), -EINVAL);
	assert_int_equal(cbt_volume_open_devno(NULL, 0, NULL), -EINVAL);
	assert_int_equal(cbt_volume_attach(NULL, 0), -EINVAL);
	assert_int_equal(cbt_volume_detach(NULL), -EINVAL);
	assert_int_equal(cbt_volume_checkpoint(NULL, 0, &stamp), -EINVAL);
	assert_int_equal(cbt_volume_refresh(NULL), -EINVAL);
	assert_true(cbt_volume_changes_bitmap(NULL, "x", 0, 8, bits, NULL) == -EINVAL);
	assert_int_equal(cbt_changes_open(NULL, "x", 0, 0, NULL), -EINVAL);
	assert_int_equal(cbt_changes_next(NULL, &off, &len), -EINVAL);
	assert_int_equal(cbt_snapset_open(NULL, 1, NULL), -EINVAL);
	assert_int_equal(cbt_snapset_refresh(NULL), -EINVAL);
	assert_int_equal(cbt_snapset_grow(NULL, "x"), -EINVAL);
	assert_int_equal(cbt_snapset_destroy(NULL), -EINVAL);
	assert_int_equal(cbt_snapset_get_event_fd(NULL), -EINVAL);
	assert_int_equal(cbt_snapset_next_event(NULL, 0), -EINVAL);
	/* Getters of nothing are 0 or NULL; frees of nothing do nothing. */
	assert_null(cbt_volume_get_path(NULL));
	assert_null(cbt_volume_get_tracker_uuid(NULL));
	assert_true(cbt_volume_get_size(NULL) == 0);
	assert_int_equal(cbt_snapset_get_member_count(NULL), 0);
	assert_null(cbt_snapset_get_member_stamp(NULL, 0));
	assert_int_equal(cbt_changes_get_block_size(NULL), 0);
	cbt_volume_free(NULL);
	cbt_changes_free(NULL);
	cbt_snapset_free(NULL);
	assert_int_equal(mock.calls, 0);
}

static void lifetime_getters_before_refresh(void **state)
{
	struct cbt_ctx *ctx = mock_ctx();
	struct cbt_volume *vol = NULL;
	struct cbt_snapset *set = NULL;

	(void)state;
	mock.trackers = 1;
	mock.sets = 1;
	mock.members = 2;
	assert_int_equal(cbt_volume_open_devno(ctx, makedev(TRACK_MAJOR, 1), &vol), 0);
	assert_null(cbt_volume_get_tracker_uuid(vol));	/* not read yet */
	assert_true(cbt_volume_get_generation(vol) == 0);
	assert_int_equal(cbt_volume_refresh(vol), 0);
	assert_string_equal(cbt_volume_get_tracker_uuid(vol), "a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf");
	assert_true(cbt_volume_get_generation(vol) == 9);
	assert_true(cbt_volume_get_oldest(vol) == 3);
	assert_true(cbt_volume_get_size(vol) == 16384ull * mock_bs);
	assert_int_equal(cbt_volume_get_block_size(vol), mock_bs);
	assert_int_equal(cbt_volume_is_lost(vol), 1);
	cbt_volume_free(vol);
	/* A volume not tracked: -ENOENT, and still nothing to read. */
	assert_int_equal(cbt_volume_open_devno(ctx, makedev(TRACK_MAJOR, 2), &vol), 0);
	assert_int_equal(cbt_volume_refresh(vol), -ENOENT);
	assert_null(cbt_volume_get_tracker_uuid(vol));
	cbt_volume_free(vol);
	/* Everything the kernel says of a set is there. */
	assert_int_equal(cbt_snapset_open(ctx, SET_ID0 + 1, &set), -ENOENT);
	assert_int_equal(cbt_snapset_open(ctx, SET_ID0, &set), 0);
	assert_true(cbt_snapset_get_created_ns(set) == 1700000000123456789ull);
	assert_true(cbt_snapset_get_hold_ns(set) == 4242);
	assert_int_equal(cbt_snapset_get_state(set), LIBCBT_STATE_LOW_SPACE | LIBCBT_STATE_WRITABLE);
	assert_int_equal(cbt_snapset_get_store_count(set), 2);
	assert_true(cbt_snapset_get_store_size(set) == 1 << 30);
	assert_true(cbt_snapset_get_chunks_copied(set) == 16);
	assert_int_equal(cbt_snapset_get_low_space(set), 20);
	assert_int_equal(cbt_snapset_get_member_chunk_size(set, 1), mock_bs);
	assert_int_equal(cbt_snapset_get_member_frozen(set, 1), 1);
	assert_int_equal(cbt_snapset_is_member_quiesced(set, 1), 1);
	assert_int_equal(cbt_snapset_is_member_quiesced(set, 0), 0);
	assert_int_equal(major(cbt_snapset_get_member_image_devno(set, 1)), 252);
	assert_string_equal(cbt_snapset_get_member_image(set, 1), "/dev/cbt-snap1000-1");
	/* Out of range. */
	assert_null(cbt_snapset_get_member_path(set, 2));
	assert_null(cbt_snapset_get_member_stamp(set, 2));
	assert_int_equal(cbt_snapset_get_member_frozen(set, 2), 0);
	assert_true(cbt_snapset_get_member_devno(set, 2) == 0);
	cbt_snapset_free(set);
	cbt_ctx_unref(ctx);
}

/* ---- main ----------------------------------------------------------------------------- */

/* ---- backup sessions ------------------------------------------------------------ */

#define MOCK_UUID	"a0a1a2a3-a4a5-a6a7-a8a9-aaabacadaeaf"

static char bk_dir[64];

static int bk_setup(void **state)
{
	(void)state;
	mock_reset();
	mock.trackers = 4;
	strcpy(bk_dir, "/tmp/cbt-unit-backup.XXXXXX");
	return mkdtemp(bk_dir) ? 0 : -1;
}

static int bk_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", bk_dir);
	return system(cmd);
}

/* The anchor file's text ("" when there is none). */
static char *bk_anchors(const char *chain)
{
	static char text[4096];
	char path[256];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/state/%s.anchors", bk_dir, chain);
	text[0] = '\0';
	f = fopen(path, "r");
	if (f) {
		n = fread(text, 1, sizeof(text) - 1, f);
		text[n] = '\0';
		fclose(f);
	}
	return text;
}

static void bk_write_anchors(const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/state", bk_dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/state/default.anchors", bk_dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A session of @type over TRACK_MAJOR:1 (and :2 if @two), not begun. */
static struct cbt_backup *bk_new(struct cbt_ctx *ctx, int type, int two)
{
	struct cbt_snapset_opts *o;
	struct cbt_volume *v;
	struct cbt_backup *b;
	char path[256];
	unsigned int i;

	assert_int_equal(cbt_backup_new(ctx, type, &b), 0);
	snprintf(path, sizeof(path), "%s/state", bk_dir);
	assert_int_equal(cbt_backup_set_state_dir(b, path), 0);
	for (i = 1; i <= (two ? 2u : 1u); i++) {
		assert_int_equal(cbt_volume_open_devno(ctx, makedev(TRACK_MAJOR, i), &v), 0);
		assert_int_equal(cbt_backup_add_volume(b, v), 0);
		cbt_volume_free(v);
	}
	assert_int_equal(cbt_snapset_opts_new(&o), 0);
	snprintf(path, sizeof(path), "%s/store:1M", bk_dir);
	assert_int_equal(cbt_snapset_opts_add_store(o, path), 0);
	assert_int_equal(cbt_backup_set_snapset_opts(b, o), 0);
	cbt_snapset_opts_free(o);
	return b;
}

/* One whole session: begin, end(@success); returns end's result. */
static int bk_run(struct cbt_ctx *ctx, int type, int success)
{
	struct cbt_backup *b = bk_new(ctx, type, 0);
	int ret;

	assert_int_equal(cbt_backup_begin(b), 0);
	ret = cbt_backup_end(b, success);
	cbt_backup_free(b);
	return ret;
}

static void backup_anchors_move_on_success_only(void **state)
{
	struct cbt_ctx *ctx = mock_ctx();
	struct cbt_changes_iter *it;
	struct cbt_backup *b;
	uint64_t off, len;
	uint8_t map[4];
	char before[4096];

	(void)state;
	/* FULL: every block, then the base of both. */
	b = bk_new(ctx, LIBCBT_BACKUP_FULL, 0);
	assert_int_equal(cbt_backup_begin(b), 0);
	assert_int_equal(cbt_backup_volume_get_type(b, 0), LIBCBT_BACKUP_FULL);
	assert_null(cbt_backup_volume_get_base(b, 0));
	assert_null(cbt_backup_volume_get_reason(b, 0));
	assert_string_equal(cbt_backup_volume_get_stamp(b, 0), MOCK_UUID ":41");
	assert_non_null(cbt_backup_volume_get_image(b, 0));
	assert_int_equal(cbt_backup_volume_changes_open(b, 0, &it), 0);
	assert_int_equal(cbt_changes_next(it, &off, &len), 1);
	assert_true(off == 0 && len == 16384ull * mock_bs);
	assert_int_equal(cbt_changes_next(it, &off, &len), 0);
	cbt_changes_free(it);
	assert_int_equal(cbt_backup_volume_changes_bitmap(b, 0, 0, 32, map), 32);
	assert_true(map[0] == 0xff && map[3] == 0xff);
	assert_int_equal(cbt_backup_add_volume(b, NULL), -EINVAL);
	assert_int_equal(cbt_backup_set_chain(b, "other"), -EBUSY);
	assert_int_equal(cbt_backup_end(b, 1), 0);
	assert_int_equal(cbt_backup_is_committed(b), 1);
	assert_int_equal(mock.destroy_calls, 1);
	assert_int_equal(cbt_backup_end(b, 1), -EINVAL);	/* once */
	cbt_backup_free(b);
	assert_string_equal(bk_anchors("default"),
			    "cbt-anchors 1\nvolume 259:1 " MOCK_UUID ":41 " MOCK_UUID ":41\nend\n");

	/* A failed INCREMENTAL: nothing moves, the set goes all the same. */
	strcpy(before, bk_anchors("default"));
	b = bk_new(ctx, LIBCBT_BACKUP_INCREMENTAL, 0);
	assert_int_equal(cbt_backup_begin(b), 0);
	assert_string_equal(cbt_backup_volume_get_base(b, 0), MOCK_UUID ":41");
	mock.extents = 3;
	assert_int_equal(cbt_backup_volume_changes_open(b, 0, &it), 0);
	assert_int_equal(cbt_changes_next(it, &off, &len), 1);
	assert_true(off == 0 && len == mock_bs);
	cbt_changes_free(it);
	assert_int_equal(cbt_backup_volume_changes_bitmap(b, 0, 0, 8, map), 8);
	assert_int_equal(map[0], 0x15);	/* blocks 0, 2, 4 */
	assert_int_equal(cbt_backup_end(b, 0), 0);
	assert_int_equal(cbt_backup_is_committed(b), 0);
	cbt_backup_free(b);
	assert_int_equal(mock.destroy_calls, 2);
	assert_string_equal(bk_anchors("default"), before);

	/* Freed without an end: a failure too. */
	b = bk_new(ctx, LIBCBT_BACKUP_INCREMENTAL, 0);
	assert_int_equal(cbt_backup_begin(b), 0);
	cbt_backup_free(b);
	assert_int_equal(mock.destroy_calls, 3);
	assert_string_equal(bk_anchors("default"), before);

	/* INCREMENTAL from the FULL: the incremental base moves. */
	b = bk_new(ctx, LIBCBT_BACKUP_INCREMENTAL, 0);
	assert_int_equal(cbt_backup_begin(b), 0);
	assert_string_equal(cbt_backup_volume_get_base(b, 0), MOCK_UUID ":41");
	assert_int_equal(cbt_backup_end(b, 1), 0);
	cbt_backup_free(b);
	assert_string_equal(bk_anchors("default"),
			    "cbt-anchors 1\nvolume 259:1 " MOCK_UUID ":44 " MOCK_UUID ":41\nend\n");

	/* DIFFERENTIAL: from the FULL still; moves the incremental base. */
	b = bk_new(ctx, LIBCBT_BACKUP_DIFFERENTIAL, 0);
	assert_int_equal(cbt_backup_begin(b), 0);
	assert_string_equal(cbt_backup_volume_get_base(b, 0), MOCK_UUID ":41");
	assert_int_equal(cbt_backup_end(b, 1), 0);
	cbt_backup_free(b);
	assert_string_equal(bk_anchors("default"),
			    "cbt-anchors 1\nvolume 259:1 " MOCK_UUID ":45 " MOCK_UUID ":41\nend\n");

	/* COPY: every block, committed, and nothing moves. */
	strcpy(before, bk_anchors("default"));
	b = bk_new(ctx, LIBCBT_BACKUP_COPY, 0);
	assert_int_equal(cbt_backup_begin(b), 0);
	assert_int_equal(cbt_backup_volume_get_type(b, 0), LIBCBT_BACKUP_COPY);
	assert_null(cbt_backup_volume_get_base(b, 0));
	assert_int_equal(cbt_backup_end(b, 1), 0);
	assert_int_equal(cbt_backup_is_committed(b), 1);
	cbt_backup_free(b);
	assert_string_equal(bk_anchors("default"), before);

	/* Another chain knows none of it. */
	b = bk_new(ctx, LIBCBT_BACKUP_INCREMENTAL, 0);
	assert_int_equal(cbt_backup_set_chain(b, "other"), 0);
	assert_int_equal(cbt_backup_begin(b), 0);
	assert_int_equal(cbt_backup_volume_get_type(b, 0), LIBCBT_BACKUP_FULL);
	assert_int_equal(cbt_backup_volume_get_fallback(b, 0), LIBCBT_BACKUP_FALLBACK_NO_BASE);
	assert_non_null(strstr(cbt_backup_volume_get_reason(b, 0), "no earlier"));
	cbt_backup_free(b);
	cbt_ctx_unref(ctx);
}

static void backup_stale_base(void **state)
{
	struct cbt_ctx *ctx = mock_ctx();
	struct cbt_backup *b;
	uint32_t creates;

	(void)state;
	/* A base of another tracker (attached again since). */
	bk_write_anchors("cbt-anchors 1\nvolume 259:1 c3a1e5f7-1111-4222-8333-944455566677:50 "
			 "c3a1e5f7-1111-4222-8333-944455566677:50\nend\n");
	b = bk_new(ctx, LIBCBT_BACKUP_INCREMENTAL, 0);
	assert_int_equal(cbt_backup_set_flags(b, LIBCBT_BACKUP_NO_FALLBACK), 0);
	creates = mock.creates;
	assert_int_equal(cbt_backup_begin(b), -ESTALE);
	assert_int_equal(mock.creates, creates);	/* no set taken for nothing */
	assert_int_equal(cbt_backup_volume_get_fallback(b, 0), LIBCBT_BACKUP_FALLBACK_STALE);
	assert_non_null(strstr(cbt_backup_volume_get_reason(b, 0), "reset"));
	assert_int_equal(cbt_backup_end(b, 1), -EINVAL);
	cbt_backup_free(b);
	b = bk_new(ctx, LIBCBT_BACKUP_DIFFERENTIAL, 0);
	assert_int_equal(cbt_backup_begin(b), 0);
	assert_int_equal(cbt_backup_volume_get_type(b, 0), LIBCBT_BACKUP_FULL);
	assert_int_equal(cbt_backup_volume_get_fallback(b, 0), LIBCBT_BACKUP_FALLBACK_STALE);
	assert_null(cbt_backup_volume_get_base(b, 0));
	assert_int_equal(cbt_backup_end(b, 1), 0);
	cbt_backup_free(b);
	/* That FULL is now the base of both. */
	assert_non_null(strstr(bk_anchors("default"), "volume 259:1 " MOCK_UUID ":"));

	/* A base older than the map answers for (the kernel says ESTALE). */
	bk_write_anchors("cbt-anchors 1\nvolume 259:1 " MOCK_UUID ":2 " MOCK_UUID ":2\nend\n");
	b = bk_new(ctx, LIBCBT_BACKUP_INCREMENTAL, 0);
	assert_int_equal(cbt_backup_set_flags(b, LIBCBT_BACKUP_NO_FALLBACK), 0);
	creates = mock.creates;
	mock.destroy_calls = 0;
	assert_int_equal(cbt_backup_begin(b), -ESTALE);
	assert_int_equal(mock.destroy_calls, 1);	/* the set it took is gone */
	assert_non_null(strstr(cbt_backup_volume_get_reason(b, 0), "no longer answer"));
	cbt_backup_free(b);
	b = bk_new(ctx, LIBCBT_BACKUP_INCREMENTAL, 0);
	assert_int_equal(cbt_backup_begin(b), 0);
	assert_int_equal(cbt_backup_volume_get_type(b, 0), LIBCBT_BACKUP_FULL);
	cbt_backup_free(b);
	assert_string_equal(bk_anchors("default"),
			    "cbt-anchors 1\nvolume 259:1 " MOCK_UUID ":2 " MOCK_UUID ":2\nend\n");

	/* A damaged file: a clear error, nothing taken. */
	bk_write_anchors("cbt-anchors 1\nvolume 259:1 garbage\nend\n");
	b = bk_new(ctx, LIBCBT_BACKUP_INCREMENTAL, 0);
	creates = mock.creates;
	assert_int_equal(cbt_backup_begin(b), -EBADMSG);
	assert_int_equal(mock.creates, creates);
	cbt_backup_free(b);
	cbt_ctx_unref(ctx);
}

static void backup_overflow_is_no_success(void **state)
{
	struct cbt_ctx *ctx = mock_ctx();
	struct cbt_backup *b;

	(void)state;
	b = bk_new(ctx, LIBCBT_BACKUP_FULL, 0);
	assert_int_equal(cbt_backup_begin(b), 0);
	mock.snap_state = CBT_SNAP_STATE_OVERFLOW;
	assert_int_equal(cbt_backup_end(b, 1), -EIO);
	assert_int_equal(cbt_backup_is_committed(b), 0);
	cbt_backup_free(b);
	assert_string_equal(bk_anchors("default"), "");
	cbt_ctx_unref(ctx);
}

/* A set whose destroy failed stays named, and the chain's next begin ends it. */
static void backup_failed_destroy_left_for_next_begin(void **state)
{
	struct cbt_ctx *ctx = mock_ctx();
	struct cbt_backup *b;
	uint32_t first;

	(void)state;
	b = bk_new(ctx, LIBCBT_BACKUP_FULL, 0);
	assert_int_equal(cbt_backup_begin(b), 0);
	first = SET_ID0 + mock.sets - 1;
	mock.destroy_error = -EBUSY;
	assert_int_equal(cbt_backup_end(b, 1), 0);
	cbt_backup_free(b);
	assert_int_not_equal(mock.destroyed, first);
	mock.destroy_error = 0;
	mock.destroy_calls = 0;
	b = bk_new(ctx, LIBCBT_BACKUP_INCREMENTAL, 0);
	assert_int_equal(cbt_backup_begin(b), 0);
	assert_int_equal(mock.destroyed, first);	/* the one left over */
	assert_int_equal(mock.destroy_calls, 1);
	assert_int_equal(cbt_backup_end(b, 0), 0);
	cbt_backup_free(b);
	cbt_ctx_unref(ctx);
}

static void backup_metadata_handed_back(void **state)
{
	struct cbt_ctx *ctx = mock_ctx();
	struct cbt_backup *b;
	const void *data;
	size_t len;

	(void)state;
	b = bk_new(ctx, LIBCBT_BACKUP_FULL, 0);
	assert_int_equal(cbt_backup_set_metadata(b, "sql", "abc", 3), 0);
	assert_int_equal(cbt_backup_set_metadata(b, "mail", "1", 1), 0);
	assert_int_equal(cbt_backup_set_metadata(b, "bad name", "1", 1), -EINVAL);
	assert_int_equal(cbt_backup_begin(b), 0);
	assert_int_equal(cbt_backup_get_prev_metadata_count(b), 0);
	assert_int_equal(cbt_backup_end(b, 1), 0);
	cbt_backup_free(b);
	/* A copy's and a failure's metadata are not kept. */
	b = bk_new(ctx, LIBCBT_BACKUP_COPY, 0);
	assert_int_equal(cbt_backup_set_metadata(b, "sql", "copy", 4), 0);
	assert_int_equal(cbt_backup_begin(b), 0);
	assert_int_equal(cbt_backup_end(b, 1), 0);
	cbt_backup_free(b);
	b = bk_new(ctx, LIBCBT_BACKUP_INCREMENTAL, 0);
	assert_int_equal(cbt_backup_set_metadata(b, "sql", "fail", 4), 0);
	assert_int_equal(cbt_backup_begin(b), 0);
	assert_int_equal(cbt_backup_end(b, 0), 0);
	cbt_backup_free(b);
	b = bk_new(ctx, LIBCBT_BACKUP_INCREMENTAL, 0);
	assert_int_equal(cbt_backup_get_prev_metadata(b, "sql", &data, &len), -ENOENT);
	assert_int_equal(cbt_backup_begin(b), 0);
	assert_int_equal(cbt_backup_get_prev_metadata_count(b), 2);
	assert_string_equal(cbt_backup_get_prev_metadata_name(b, 0), "sql");
	assert_int_equal(cbt_backup_get_prev_metadata(b, "sql", &data, &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(data, "abc", 3);
	assert_int_equal(cbt_backup_get_prev_metadata(b, "mail", &data, &len), 0);
	assert_int_equal(cbt_backup_get_prev_metadata(b, "none", &data, &len), -ENOENT);
	/* Set during the session: replaces the chain's whole set. */
	assert_int_equal(cbt_backup_set_metadata(b, "sql", "def", 3), 0);
	assert_int_equal(cbt_backup_end(b, 1), 0);
	cbt_backup_free(b);
	b = bk_new(ctx, LIBCBT_BACKUP_INCREMENTAL, 0);
	assert_int_equal(cbt_backup_begin(b), 0);
	assert_int_equal(cbt_backup_get_prev_metadata_count(b), 1);
	assert_int_equal(cbt_backup_get_prev_metadata(b, "sql", &data, &len), 0);
	assert_memory_equal(data, "def", 3);
	cbt_backup_free(b);
	cbt_ctx_unref(ctx);
}

static void backup_lock_and_setters(void **state)
{
	struct cbt_ctx *ctx = mock_ctx();
	struct cbt_backup *a, *b;
	int t;

	(void)state;
	a = bk_new(ctx, LIBCBT_BACKUP_FULL, 1);
	assert_int_equal(cbt_backup_begin(a), 0);
	assert_int_equal(cbt_backup_get_volume_count(a), 2);
	assert_string_equal(cbt_backup_volume_get_stamp(a, 1), MOCK_UUID ":42");
	b = bk_new(ctx, LIBCBT_BACKUP_COPY, 0);
	assert_int_equal(cbt_backup_begin(b), -EBUSY);
	cbt_backup_free(b);
	assert_int_equal(cbt_backup_end(a, 1), 0);
	cbt_backup_free(a);
	assert_int_equal(bk_run(ctx, LIBCBT_BACKUP_COPY, 1), 0);	/* unlocked */
	assert_int_equal(cbt_backup_new(ctx, 0, &a), -EINVAL);
	assert_int_equal(cbt_backup_new(ctx, 5, &a), -EINVAL);
	assert_int_equal(cbt_backup_new(NULL, 1, &a), -EINVAL);
	a = bk_new(ctx, LIBCBT_BACKUP_FULL, 0);
	assert_int_equal(cbt_backup_set_chain(a, "../etc"), -EINVAL);
	assert_int_equal(cbt_backup_set_chain(a, ""), -EINVAL);
	assert_int_equal(cbt_backup_set_flags(a, 2), -EINVAL);
	assert_int_equal(cbt_backup_set_state_dir(a, ""), -EINVAL);
	assert_null(cbt_backup_volume_get_image(a, 0));	/* not begun */
	assert_null(cbt_backup_volume_get_image(a, 7));
	cbt_backup_free(a);
	assert_int_equal(cbt_backup_type_parse("differential", &t), 0);
	assert_int_equal(t, LIBCBT_BACKUP_DIFFERENTIAL);
	assert_int_equal(cbt_backup_type_parse("Full", &t), -EINVAL);
	assert_string_equal(cbt_backup_type_name(LIBCBT_BACKUP_COPY), "copy");
	assert_null(cbt_backup_type_name(9));
	cbt_backup_free(NULL);
	cbt_ctx_unref(ctx);
}

#define T(fn)	cmocka_unit_test_setup(fn, setup)

int main(int argc, char **argv)
{
	static const struct CMUnitTest size[] = { T(size_good), T(size_bad) };
	static const struct CMUnitTest stamp[] = { T(stamp_check), T(stamp_round_trip) };
	static const struct CMUnitTest strerr[] = {
		T(strerror_every_errno), T(library_version),
	};
	static const struct CMUnitTest debug[] = { T(debug_parse), T(debug_trace) };
	static const struct CMUnitTest lists[] = {
		T(list_10000_trackers_abi1), T(list_10000_trackers_unbounded),
		T(list_trackers_grow_meanwhile), T(list_no_trackers),
		T(list_300_sets), T(list_40_members), T(list_changes_batches),
	};
	static const struct CMUnitTest opts[] = { T(opts_validation) };
	static const struct CMUnitTest lifetime[] = {
		T(lifetime_handles_keep_ctx), T(lifetime_ctx_refs),
		T(lifetime_null_handles), T(lifetime_getters_before_refresh),
	};
	static const struct CMUnitTest backup[] = {
		cmocka_unit_test_setup_teardown(backup_anchors_move_on_success_only, bk_setup, bk_teardown),
		cmocka_unit_test_setup_teardown(backup_stale_base, bk_setup, bk_teardown),
		cmocka_unit_test_setup_teardown(backup_overflow_is_no_success, bk_setup, bk_teardown),
		cmocka_unit_test_setup_teardown(backup_metadata_handed_back, bk_setup, bk_teardown),
		cmocka_unit_test_setup_teardown(backup_failed_destroy_left_for_next_begin, bk_setup, bk_teardown),
		cmocka_unit_test_setup_teardown(backup_lock_and_setters, bk_setup, bk_teardown),
	};
	const char *only = argc > 1 ? argv[1] : NULL;
	int failed = 0, ran = 0;

	unsetenv("LIBCBT_DEBUG");
#define GROUP(name, tests)							\
	if (!only || !strcmp(only, name)) {					\
		failed += cmocka_run_group_tests_name(name, tests, NULL, NULL);	\
		ran++;								\
	}
	GROUP("size", size);
	GROUP("stamp", stamp);
	GROUP("strerror", strerr);
	GROUP("debug", debug);
	GROUP("lists", lists);
	GROUP("opts", opts);
	GROUP("lifetime", lifetime);
	GROUP("backup", backup);
	if (!ran) {
		fprintf(stderr, "test-libcbt: no group '%s'\n", only);
		return 2;
	}
	return failed ? 1 : 0;
}
