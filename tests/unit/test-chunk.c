// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test-chunk.c - unit tests of the chunk store's sync (lib/chunk.c): new
 * chunks wait in the workspace until cbt__chunks_sync() puts them in
 * place; a sync that fails part-way (a chunk folder that cannot be made)
 * can be run again on the same handle, and then every chunk is in place
 * and reads back. cmocka, on the host, in a temporary directory.
 *
 *   test-chunk [GROUP]   GROUP: sync (all when none)
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
#include <unistd.h>
#include <cmocka.h>

#include "repo.h"

#define NCHUNK	3
#define CLEN	4096

static char tmpdir[64];

static int tmp_setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/cbt-chunk-test.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int tmp_teardown(void **state)
{
	char cmd[96];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd);
}

/* NCHUNK chunks of distinct bytes whose digests start with distinct bytes. */
static void make_chunks(uint8_t data[NCHUNK][CLEN], uint8_t d[NCHUNK][CBT__DIGEST_LEN])
{
	unsigned int i, j, seed = 1;

	for (i = 0; i < NCHUNK; i++) {
		for (;;) {
			memset(data[i], 0, CLEN);
			snprintf((char *)data[i], CLEN, "chunk %u, seed %u", i, seed++);
			cbt__sha256(data[i], CLEN, d[i]);
			for (j = 0; j < i && d[j][0] != d[i][0]; j++)
				;
			if (j == i)
				break;
		}
	}
}

static void sync_resumes_after_partial_failure(void **state)
{
	uint8_t data[NCHUNK][CLEN], d[NCHUNK][CBT__DIGEST_LEN], back[CLEN];
	char path[128], blocker[160];
	struct cbt_repo *r;
	uint64_t stored;
	unsigned int i;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/repo", tmpdir);
	assert_int_equal(cbt_repo_open(path, LIBCBT_REPO_CREATE, 65536, &r), 0);
	make_chunks(data, d);
	for (i = 0; i < NCHUNK; i++) {
		assert_int_equal(cbt__chunk_put(r, d[i], data[i], CLEN, &stored), 0);
		assert_true(stored > 0);
	}
	/* The second chunk's folder cannot be made: a file has its name. */
	snprintf(blocker, sizeof(blocker), "%s/chunks/%02x", path, d[1][0]);
	fd = open(blocker, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_true(cbt__chunks_sync(r) < 0);
	/* Mended, the same handle syncs again: every chunk in place. */
	assert_int_equal(unlink(blocker), 0);
	assert_int_equal(cbt__chunks_sync(r), 0);
	for (i = 0; i < NCHUNK; i++) {
		memset(back, 0xa5, sizeof(back));
		assert_int_equal(cbt__chunk_get(r, d[i], back, CLEN), 0);
		assert_memory_equal(back, data[i], CLEN);
	}
	cbt_repo_close(r);
	/* And from a fresh handle: the chunks are in chunks/, not the workspace. */
	assert_int_equal(cbt_repo_open(path, 0, 0, &r), 0);
	for (i = 0; i < NCHUNK; i++) {
		assert_int_equal(cbt__chunk_get(r, d[i], back, CLEN), 0);
		assert_memory_equal(back, data[i], CLEN);
	}
	cbt_repo_close(r);
}

static void pending_found_before_sync(void **state)
{
	uint8_t data[NCHUNK][CLEN], d[NCHUNK][CBT__DIGEST_LEN], back[CLEN];
	char path[128], name[200];
	struct cbt_repo *r;
	uint64_t stored;
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/repo2", tmpdir);
	assert_int_equal(cbt_repo_open(path, LIBCBT_REPO_CREATE, 65536, &r), 0);
	make_chunks(data, d);
	assert_int_equal(cbt__chunk_put(r, d[0], data[0], CLEN, &stored), 0);
	assert_true(stored > 0);
	/* Not in chunks/ yet, but known: stored once, and it reads back. */
	snprintf(name, sizeof(name), "%s/chunks/%02x", path, d[0][0]);
	assert_int_equal(stat(name, &st), -1);
	assert_int_equal(cbt__chunk_put(r, d[0], data[0], CLEN, &stored), 0);
	assert_int_equal(stored, 0);
	assert_int_equal(cbt__chunks_touch(r, d[0], 1, NULL), 0);
	assert_int_equal(cbt__chunk_get(r, d[0], back, CLEN), 0);
	assert_memory_equal(back, data[0], CLEN);
	assert_int_equal(cbt__chunks_sync(r), 0);
	assert_int_equal(stat(name, &st), 0);
	cbt_repo_close(r);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int main(int argc, char **argv)
{
	static const struct CMUnitTest sync_t[] = {
		T(sync_resumes_after_partial_failure), T(pending_found_before_sync),
	};
	const char *only = argc > 1 ? argv[1] : NULL;
	int failed = 0, ran = 0;

	unsetenv("LIBCBT_DEBUG");
	if (!only || !strcmp(only, "sync")) {
		failed += cmocka_run_group_tests_name("sync", sync_t, NULL, NULL);
		ran++;
	}
	if (!ran) {
		fprintf(stderr, "test-chunk: no group '%s'\n", only);
		return 2;
	}
	return failed ? 1 : 0;
}
