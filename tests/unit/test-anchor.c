// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test-anchor.c - unit tests of the backup chains' state on disk
 * (lib/anchor.c): names, the state directory, the chain lock, the anchor
 * file read back as written, and damaged or hostile files refused with
 * -EBADMSG (never a crash, never a wrong base). cmocka, on the host, in a
 * temporary directory.
 *
 *   test-anchor [GROUP]   GROUP: names dir lock file hostile (all when none)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

#define S1 "0b7d3c1e-6f52-4a8e-9d2b-3f1c5e7a9b01:7"
#define S2 "0b7d3c1e-6f52-4a8e-9d2b-3f1c5e7a9b01:12"
#define S3 "c3a1e5f7-1111-4222-8333-944455566677:3"

static char tmpdir[64];

/*
 * -Wl,--wrap=fsync: fsync() of a directory fails with EIO while
 * fail_dir_fsync is set (a disk error after the rename, say).
 */
static int fail_dir_fsync;
int __real_fsync(int fd);
int __wrap_fsync(int fd);
int __wrap_fsync(int fd)
{
	struct stat st;

	if (fail_dir_fsync && !fstat(fd, &st) && S_ISDIR(st.st_mode)) {
		errno = EIO;
		return -1;
	}
	return __real_fsync(fd);
}

static int tmp_setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/cbt-anchor-test.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int tmp_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd);
}

/* A path in the test's directory (two calls in one expression are fine). */
static char *path_in(const char *name)
{
	static char p[4][256];
	static unsigned int next;
	char *out = p[next++ % 4];

	snprintf(out, sizeof(p[0]), "%s/%s", tmpdir, name);
	return out;
}

static void write_file(const char *name, const char *text, size_t len)
{
	int fd = open(path_in(name), O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static int state_dir(void)
{
	int dirfd = -1;

	assert_int_equal(cbt__state_open(path_in("state"), &dirfd), 0);
	return dirfd;
}

/* ---- names ----------------------------------------------------------------------- */

static void names(void **state)
{
	char longname[LIBCBT_BACKUP_CHAIN_MAX + 2];

	(void)state;
	assert_int_equal(cbt__chain_check("default"), 0);
	assert_int_equal(cbt__chain_check("veeam-2.nightly_A"), 0);
	assert_int_equal(cbt__chain_check(""), -EINVAL);
	assert_int_equal(cbt__chain_check(NULL), -EINVAL);
	assert_int_equal(cbt__chain_check(".hidden"), -EINVAL);
	assert_int_equal(cbt__chain_check(".."), -EINVAL);
	assert_int_equal(cbt__chain_check("../etc"), -EINVAL);
	assert_int_equal(cbt__chain_check("a/b"), -EINVAL);
	assert_int_equal(cbt__chain_check("a b"), -EINVAL);
	assert_int_equal(cbt__chain_check("a:b"), -EINVAL);
	assert_int_equal(cbt__chain_check("a\nb"), -EINVAL);
	memset(longname, 'a', sizeof(longname));
	longname[LIBCBT_BACKUP_CHAIN_MAX] = '\0';
	assert_int_equal(cbt__chain_check(longname), 0);
	longname[LIBCBT_BACKUP_CHAIN_MAX] = 'a';
	longname[LIBCBT_BACKUP_CHAIN_MAX + 1] = '\0';
	assert_int_equal(cbt__chain_check(longname), -EINVAL);
	assert_int_equal(cbt__meta_name_check("sql:writer"), 0);
	assert_int_equal(cbt__meta_name_check("sql writer"), -EINVAL);
}

/* ---- the state directory ---------------------------------------------------------- */

static void dir_created_private(void **state)
{
	struct stat st;
	int dirfd;

	(void)state;
	dirfd = state_dir();
	assert_int_equal(stat(path_in("state"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	close(dirfd);
	/* Again: it exists, fine. */
	close(state_dir());
}

static void dir_unsafe_refused(void **state)
{
	int dirfd = -1;

	(void)state;
	assert_int_equal(mkdir(path_in("open"), 0700), 0);
	assert_int_equal(chmod(path_in("open"), 0777), 0);
	assert_int_equal(cbt__state_open(path_in("open"), &dirfd), -EACCES);
	assert_int_equal(chmod(path_in("open"), 0720), 0);
	assert_int_equal(cbt__state_open(path_in("open"), &dirfd), -EACCES);
	/* A symlink planted in its place is not followed. */
	assert_int_equal(symlink(path_in("open"), path_in("link")), 0);
	assert_int_equal(cbt__state_open(path_in("link"), &dirfd), -ELOOP);
	/* A file in its place. */
	write_file("file", "x", 1);
	assert_int_equal(cbt__state_open(path_in("file"), &dirfd), -ENOTDIR);
	assert_int_equal(dirfd, -1);
}

/* ---- the lock --------------------------------------------------------------------- */

static void lock_one_holder(void **state)
{
	int dirfd = state_dir(), a = -1, b = -1;

	(void)state;
	assert_int_equal(cbt__chain_lock(dirfd, "default", &a), 0);
	assert_int_equal(cbt__chain_lock(dirfd, "default", &b), -EBUSY);
	/* Another chain is another lock. */
	assert_int_equal(cbt__chain_lock(dirfd, "other", &b), 0);
	close(b);
	/* Released with its descriptor (and so when a holder dies). */
	close(a);
	assert_int_equal(cbt__chain_lock(dirfd, "default", &b), 0);
	close(b);
	assert_int_equal(cbt__chain_lock(dirfd, "../x", &b), -EINVAL);
	close(dirfd);
}

/* ---- the file --------------------------------------------------------------------- */

/*
 * The folder's fsync failing after the rename: the anchors moved, so the
 * save succeeds (a failure would make the caller drop a backup the anchors
 * already name). Failing before the rename (the file's own fsync is not
 * wrapped here) leaves the old anchors.
 */
static void file_dir_sync_fails_after_rename(void **state)
{
	struct cbt__anchors a, b;
	struct cbt__anchor *e;
	int dirfd = state_dir();

	(void)state;
	memset(&a, 0, sizeof(a));
	e = cbt__anchors_find(&a, makedev(7, 0), 1);
	assert_non_null(e);
	strcpy(e->incr, S1);
	fail_dir_fsync = 1;
	assert_int_equal(cbt__anchors_save(dirfd, "default", &a), 0);
	fail_dir_fsync = 0;
	assert_int_equal(cbt__anchors_load(dirfd, "default", &b), 0);
	e = cbt__anchors_find(&b, makedev(7, 0), 0);
	assert_non_null(e);
	assert_string_equal(e->incr, S1);
	cbt__anchors_clear(&a);
	cbt__anchors_clear(&b);
	close(dirfd);
}

static void file_round_trip(void **state)
{
	struct cbt__anchors a, b;
	struct cbt__anchor *e;
	const unsigned char bin[] = { 0, 1, 0xff, '\n', ' ', 0x7f };
	char *text;
	size_t len;
	struct stat st;
	int dirfd = state_dir();

	(void)state;
	/* No file yet: a chain with no backup. */
	assert_int_equal(cbt__anchors_load(dirfd, "default", &a), 0);
	assert_int_equal(a.nv, 0);
	assert_int_equal(a.nm, 0);
	e = cbt__anchors_find(&a, makedev(7, 0), 1);
	assert_non_null(e);
	strcpy(e->incr, S2);
	strcpy(e->diff, S1);
	e = cbt__anchors_find(&a, makedev(259, 1048575), 1);
	assert_non_null(e);
	strcpy(e->incr, S3);
	assert_int_equal(cbt__meta_set(&a.m, &a.nm, "sql", bin, sizeof(bin)), 0);
	assert_int_equal(cbt__meta_set(&a.m, &a.nm, "mail", "x", 1), 0);
	assert_int_equal(cbt__meta_set(&a.m, &a.nm, "mail", "yz", 2), 0);	/* replaced */
	assert_int_equal(cbt__anchors_save(dirfd, "default", &a), 0);
	assert_int_equal(stat(path_in("state/default.anchors"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* No temporary left behind. */
	assert_int_equal(access(path_in("state/.default.anchors.tmp"), F_OK), -1);

	assert_int_equal(cbt__anchors_load(dirfd, "default", &b), 0);
	assert_int_equal(b.nv, 2);
	e = cbt__anchors_find(&b, makedev(7, 0), 0);
	assert_non_null(e);
	assert_string_equal(e->incr, S2);
	assert_string_equal(e->diff, S1);
	e = cbt__anchors_find(&b, makedev(259, 1048575), 0);
	assert_non_null(e);
	assert_string_equal(e->incr, S3);
	assert_string_equal(e->diff, "");
	assert_int_equal(b.nm, 2);
	assert_string_equal(b.m[0].name, "sql");
	assert_int_equal(b.m[0].len, sizeof(bin));
	assert_memory_equal(b.m[0].data, bin, sizeof(bin));
	assert_int_equal(b.m[1].len, 2);
	assert_memory_equal(b.m[1].data, "yz", 2);
	/* The same text again. */
	text = cbt__anchors_format(&b, &len);
	assert_non_null(text);
	assert_non_null(strstr(text, "volume 7:0 " S2 " " S1 "\n"));
	assert_non_null(strstr(text, "volume 259:1048575 " S3 " -\n"));
	assert_non_null(strstr(text, "meta sql 0001ff0a207f\n"));
	free(text);
	/* Another chain is another file. */
	cbt__anchors_clear(&b);
	assert_int_equal(cbt__anchors_load(dirfd, "other", &b), 0);
	assert_int_equal(b.nv, 0);
	/* Removing metadata. */
	assert_int_equal(cbt__meta_set(&a.m, &a.nm, "sql", NULL, 0), 0);
	assert_int_equal(a.nm, 1);
	assert_string_equal(a.m[0].name, "mail");
	cbt__anchors_clear(&a);
	close(dirfd);
}

static void file_leftover_temp(void **state)
{
	struct cbt__anchors a, b;
	int dirfd = state_dir();

	(void)state;
	/* A writer killed after making its temporary file. */
	write_file("state/.default.anchors.tmp", "cbt-anchors 1\ngarbage", 21);
	memset(&a, 0, sizeof(a));
	strcpy(cbt__anchors_find(&a, makedev(8, 0), 1)->incr, S1);
	assert_int_equal(cbt__anchors_save(dirfd, "default", &a), 0);
	assert_int_equal(cbt__anchors_load(dirfd, "default", &b), 0);
	assert_int_equal(b.nv, 1);
	assert_string_equal(b.v[0].incr, S1);
	assert_int_equal(access(path_in("state/.default.anchors.tmp"), F_OK), -1);
	cbt__anchors_clear(&a);
	cbt__anchors_clear(&b);
	close(dirfd);
}

static void meta_limits(void **state)
{
	struct cbt__meta *m = NULL;
	size_t nm = 0, i;
	char name[16];
	static char big[LIBCBT_BACKUP_META_SIZE_MAX + 1];

	(void)state;
	assert_int_equal(cbt__meta_set(&m, &nm, "a", big, sizeof(big)), -E2BIG);
	assert_int_equal(cbt__meta_set(&m, &nm, "a", big, sizeof(big) - 1), 0);
	assert_int_equal(cbt__meta_set(&m, &nm, "bad name", "x", 1), -EINVAL);
	assert_int_equal(cbt__meta_set(&m, &nm, "x", NULL, 1), -EINVAL);
	for (i = 1; i < LIBCBT_BACKUP_META_MAX; i++) {
		snprintf(name, sizeof(name), "w%zu", i);
		assert_int_equal(cbt__meta_set(&m, &nm, name, "x", 1), 0);
	}
	assert_int_equal(cbt__meta_set(&m, &nm, "onemore", "x", 1), -E2BIG);
	assert_int_equal(nm, LIBCBT_BACKUP_META_MAX);
	cbt__meta_clear(&m, &nm);
	assert_int_equal(nm, 0);
}

/* ---- damaged and hostile files ---------------------------------------------------- */

static int parse(const char *text)
{
	struct cbt__anchors a;
	int ret = cbt__anchors_parse(text, strlen(text), &a);

	if (!ret)
		cbt__anchors_clear(&a);
	else
		assert_int_equal(a.nv + a.nm, 0);	/* nothing half-read */
	return ret;
}

static void hostile_text(void **state)
{
	static const char *const bad[] = {
		"",
		"\n",
		"cbt-anchors 1\n",					/* no end: torn */
		"cbt-anchors 1\nend",					/* no newline */
		"cbt-anchors 2\nend\n",					/* another format */
		"CBT-ANCHORS 1\nend\n",
		"cbt-anchors 1\nend\nvolume 7:0 - -\n",			/* after end */
		"cbt-anchors 1\nend\nend\n",
		"cbt-anchors 1\n\nend\n",				/* empty line */
		"cbt-anchors 1\nvolume 7:0 -\nend\n",			/* too few words */
		"cbt-anchors 1\nvolume 7:0 - - -\nend\n",		/* too many */
		"cbt-anchors 1\nvolume 7:0 - - \nend\n",			/* trailing space */
		"cbt-anchors 1\n volume 7:0 - -\nend\n",
		"cbt-anchors 1\nvolume 7 - -\nend\n",			/* bad devno */
		"cbt-anchors 1\nvolume -7:0 - -\nend\n",
		"cbt-anchors 1\nvolume 7:-1 - -\nend\n",
		"cbt-anchors 1\nvolume 7:0x1 - -\nend\n",
		"cbt-anchors 1\nvolume 99999999999999999999:0 - -\nend\n",
		"cbt-anchors 1\nvolume 7:0 garbage -\nend\n",		/* bad stamp */
		"cbt-anchors 1\nvolume 7:0 " S1 "x -\nend\n",
		"cbt-anchors 1\nvolume 7:0 0b7d3c1e-6f52-4a8e-9d2b-3f1c5e7a9b01:-1 -\nend\n",
		"cbt-anchors 1\nvolume 7:0 0b7d3c1e-6f52-4a8e-9d2b-3f1c5e7a9b01:99999999999999999999999 -\nend\n",
		"cbt-anchors 1\nvolume 7:0 0B7D3C1E-6F52-4A8E-9D2B-3F1C5E7A9B01:7 -\nend\n", /* not canonical */
		"cbt-anchors 1\nvolume 7:0 0b7d3c1e-6f52-4a8e-9d2b-3f1c5e7a9b01:07 -\nend\n",
		"cbt-anchors 1\nvolume 7:0 - -\nvolume 7:0 - -\nend\n",	/* twice */
		"cbt-anchors 1\nmeta a 0\nend\n",			/* odd hex */
		"cbt-anchors 1\nmeta a zz\nend\n",
		"cbt-anchors 1\nmeta a 0A\nend\n",			/* upper case */
		"cbt-anchors 1\nmeta a\nend\n",
		"cbt-anchors 1\nmeta a \nend\n",
		"cbt-anchors 1\nmeta .a 00\nend\n",			/* bad name */
		"cbt-anchors 1\nmeta a/b 00\nend\n",
		"cbt-anchors 1\nmeta a 00\nmeta a 01\nend\n",		/* twice */
		"cbt-anchors 1\nanchor 7:0 - -\nend\n",			/* unknown word */
		"cbt-anchors 1\r\nend\r\n",
	};
	size_t i;

	(void)state;
	assert_int_equal(parse("cbt-anchors 1\nend\n"), 0);
	assert_int_equal(parse("cbt-anchors 1\nvolume 7:0 " S1 " -\nmeta a 00\nend\n"), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = parse(bad[i]);

		if (ret != -EBADMSG)
			fail_msg("bad[%zu] = \"%s\" gave %d", i, bad[i], ret);
	}
	/* A NUL inside. */
	{
		static const char nul[] = "cbt-anchors 1\nvolume 7:0\0 - -\nend\n";
		struct cbt__anchors a;

		assert_int_equal(cbt__anchors_parse(nul, sizeof(nul) - 1, &a), -EBADMSG);
	}
}

static void hostile_limits(void **state)
{
	struct cbt__anchors a;
	char *text, *p;
	size_t i, n = CBT__ANCHOR_VOLUMES_MAX + 1;

	(void)state;
	/* One volume too many. */
	text = malloc(32 + n * 24);
	assert_non_null(text);
	p = text + sprintf(text, "cbt-anchors 1\n");
	for (i = 0; i < n; i++)
		p += sprintf(p, "volume 8:%zu - -\n", i);
	strcpy(p, "end\n");
	assert_int_equal(cbt__anchors_parse(text, strlen(text), &a), -EBADMSG);
	/* Exactly the most is fine. */
	p = strstr(text, "volume 8:4096 - -\n");
	assert_non_null(p);
	strcpy(p, "end\n");
	assert_int_equal(cbt__anchors_parse(text, strlen(text), &a), 0);
	assert_int_equal(a.nv, CBT__ANCHOR_VOLUMES_MAX);
	cbt__anchors_clear(&a);
	free(text);
	/* Metadata one byte too long. */
	n = LIBCBT_BACKUP_META_SIZE_MAX + 1;
	text = malloc(32 + 2 * n);
	assert_non_null(text);
	p = text + sprintf(text, "cbt-anchors 1\nmeta a ");
	memset(p, '0', 2 * n);
	strcpy(p + 2 * n, "\nend\n");
	assert_int_equal(cbt__anchors_parse(text, strlen(text), &a), -EBADMSG);
	strcpy(p + 2 * n - 2, "\nend\n");
	assert_int_equal(cbt__anchors_parse(text, strlen(text), &a), 0);
	assert_int_equal(a.m[0].len, LIBCBT_BACKUP_META_SIZE_MAX);
	cbt__anchors_clear(&a);
	free(text);
	/* Too big to be ours, whatever is in it. */
	assert_int_equal(cbt__anchors_parse("x", CBT__ANCHOR_FILE_MAX + 1, &a), -EBADMSG);
}

static void hostile_files(void **state)
{
	struct cbt__anchors a;
	int dirfd = state_dir(), fd;

	(void)state;
	/* A damaged file. */
	write_file("state/damaged.anchors", "cbt-anchors 1\nvolume 7:0 " S1,
		   strlen("cbt-anchors 1\nvolume 7:0 " S1));
	assert_int_equal(cbt__anchors_load(dirfd, "damaged", &a), -EBADMSG);
	/* Random bytes. */
	{
		char junk[4096];
		size_t i;

		srand(1);
		for (i = 0; i < sizeof(junk); i++)
			junk[i] = (char)rand();
		write_file("state/junk.anchors", junk, sizeof(junk));
		assert_int_equal(cbt__anchors_load(dirfd, "junk", &a), -EBADMSG);
	}
	/* A symlink planted to a file that would parse. */
	write_file("good", "cbt-anchors 1\nend\n", 18);
	assert_int_equal(symlinkat(path_in("good"), dirfd, "link.anchors"), 0);
	assert_int_equal(cbt__anchors_load(dirfd, "link", &a), -EBADMSG);
	/* A FIFO: no hang. */
	assert_int_equal(mkfifoat(dirfd, "fifo.anchors", 0600), 0);
	assert_int_equal(cbt__anchors_load(dirfd, "fifo", &a), -EBADMSG);
	/* A directory. */
	assert_int_equal(mkdirat(dirfd, "dir.anchors", 0700), 0);
	assert_int_equal(cbt__anchors_load(dirfd, "dir", &a), -EBADMSG);
	/* Too big. */
	fd = openat(dirfd, "big.anchors", O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, CBT__ANCHOR_FILE_MAX + 1), 0);
	close(fd);
	assert_int_equal(cbt__anchors_load(dirfd, "big", &a), -EBADMSG);
	/* A lock file that is not a file. */
	assert_int_equal(mkdirat(dirfd, "d.lock", 0700), 0);
	assert_int_equal(cbt__chain_lock(dirfd, "d", &fd), -EISDIR);
	assert_int_equal(symlinkat(path_in("good"), dirfd, "s.lock"), 0);
	assert_int_equal(cbt__chain_lock(dirfd, "s", &fd), -EBADMSG);
	/* A chain name that would leave the directory. */
	assert_int_equal(cbt__anchors_load(dirfd, "../good", &a), -EINVAL);
	assert_int_equal(cbt__anchors_save(dirfd, "../good", &a), -EINVAL);
	/* Saving over a damaged file replaces it. */
	memset(&a, 0, sizeof(a));
	assert_int_equal(cbt__anchors_save(dirfd, "damaged", &a), 0);
	assert_int_equal(cbt__anchors_load(dirfd, "damaged", &a), 0);
	close(dirfd);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int main(int argc, char **argv)
{
	static const struct CMUnitTest names_t[] = { T(names) };
	static const struct CMUnitTest dir[] = { T(dir_created_private), T(dir_unsafe_refused) };
	static const struct CMUnitTest lock[] = { T(lock_one_holder) };
	static const struct CMUnitTest file[] = {
		T(file_round_trip), T(file_leftover_temp), T(meta_limits),
		T(file_dir_sync_fails_after_rename),
	};
	static const struct CMUnitTest hostile[] = {
		T(hostile_text), T(hostile_limits), T(hostile_files),
	};
	const char *only = argc > 1 ? argv[1] : NULL;
	int failed = 0, ran = 0;

	unsetenv("LIBCBT_DEBUG");
#define GROUP(name, tests)							\
	if (!only || !strcmp(only, name)) {					\
		failed += cmocka_run_group_tests_name(name, tests, NULL, NULL);	\
		ran++;								\
	}
	GROUP("names", names_t);
	GROUP("dir", dir);
	GROUP("lock", lock);
	GROUP("file", file);
	GROUP("hostile", hostile);
	if (!ran) {
		fprintf(stderr, "test-anchor: no group '%s'\n", only);
		return 2;
	}
	return failed ? 1 : 0;
}
