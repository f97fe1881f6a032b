// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test-chunk.c - unit tests of the chunk store (lib/chunk.c, lib/pack.c):
 * new chunks wait in packs in the workspace until cbt__chunks_sync() puts
 * them in place; a sync that fails part-way (a pack name taken by a
 * folder) can be run again on the same handle, and then every chunk is in
 * place and reads back. A damaged chunk set aside leaves its pack's other
 * chunks readable; gc's sweep drops what no index names from old packs
 * only. An index's patches are checked when read (order, range). cmocka,
 * on the host, in a temporary directory.
 *
 *   test-chunk [GROUP]   GROUP: sync, rewrite, index (all when none)
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
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
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

/* REPO/packs/<name of pack @pi> */
static void pack_path(const struct cbt_repo *r, const char *repo, uint32_t pi, char *out,
		      size_t len)
{
	char hex[65];

	cbt__hex(r->packs[pi].name, hex);
	snprintf(out, len, "%s/packs/%s", repo, hex);
}

static void sync_resumes_after_partial_failure(void **state)
{
	uint8_t data[NCHUNK][CLEN], d[NCHUNK][CBT__DIGEST_LEN], back[CLEN];
	char path[128], blocker[200], inner[220];
	struct cbt_repo *r;
	uint64_t stored;
	unsigned int i;

	(void)state;
	snprintf(path, sizeof(path), "%s/repo", tmpdir);
	assert_int_equal(cbt_repo_open(path, LIBCBT_REPO_CREATE, 65536, &r), 0);
	r->pack_target = 1;	/* one chunk a pack */
	make_chunks(data, d);
	for (i = 0; i < NCHUNK; i++) {
		assert_int_equal(cbt__chunk_put(r, d[i], data[i], CLEN, &stored), 0);
		assert_true(stored > 0);
	}
	assert_int_equal(r->npacks, NCHUNK);
	/* The second pack cannot be put in place: a folder has its name. */
	pack_path(r, path, 1, blocker, sizeof(blocker));
	assert_int_equal(mkdir(blocker, 0700), 0);
	snprintf(inner, sizeof(inner), "%s/x", blocker);
	assert_int_equal(mkdir(inner, 0700), 0);
	assert_true(cbt__chunks_sync(r) < 0);
	/* Mended, the same handle syncs again: every chunk in place. */
	assert_int_equal(rmdir(inner), 0);
	assert_int_equal(rmdir(blocker), 0);
	assert_int_equal(cbt__chunks_sync(r), 0);
	for (i = 0; i < NCHUNK; i++) {
		memset(back, 0xa5, sizeof(back));
		assert_int_equal(cbt__chunk_get(r, d[i], back, CLEN), 0);
		assert_memory_equal(back, data[i], CLEN);
	}
	cbt_repo_close(r);
	/* And from a fresh handle: the chunks are in packs/, not the workspace. */
	assert_int_equal(cbt_repo_open(path, 0, 0, &r), 0);
	for (i = 0; i < NCHUNK; i++) {
		assert_int_equal(cbt__chunk_get(r, d[i], back, CLEN), 0);
		assert_memory_equal(back, data[i], CLEN);
	}
	cbt_repo_close(r);
}

/* Files in REPO/packs. */
static int count_packs(const char *repo)
{
	char cmd[200], line[32];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s/packs' | wc -l", repo);
	f = popen(cmd, "r");
	if (f && fgets(line, sizeof(line), f))
		n = atoi(line);
	if (f)
		pclose(f);
	return n;
}

static void pending_found_before_sync(void **state)
{
	uint8_t data[NCHUNK][CLEN], d[NCHUNK][CBT__DIGEST_LEN], back[CLEN];
	struct cbt_repo *r;
	char path[128];
	uint64_t stored;

	(void)state;
	snprintf(path, sizeof(path), "%s/repo2", tmpdir);
	assert_int_equal(cbt_repo_open(path, LIBCBT_REPO_CREATE, 65536, &r), 0);
	make_chunks(data, d);
	assert_int_equal(cbt__chunk_put(r, d[0], data[0], CLEN, &stored), 0);
	assert_true(stored > 0);
	/* Not in packs/ yet, but known: stored once, and it reads back. */
	assert_int_equal(count_packs(path), 0);
	assert_int_equal(cbt__chunk_put(r, d[0], data[0], CLEN, &stored), 0);
	assert_int_equal(stored, 0);
	assert_int_equal(cbt__chunks_touch(r, d[0], 1, CBT__DIGEST_LEN, NULL), 0);
	assert_int_equal(cbt__chunk_get(r, d[0], back, CLEN), 0);
	assert_memory_equal(back, data[0], CLEN);
	assert_int_equal(cbt__chunks_sync(r), 0);
	assert_int_equal(count_packs(path), 1);
	cbt_repo_close(r);
}

/* NCHUNK chunks in one pack, in place; the repository's handle open. */
static struct cbt_repo *one_pack(const char *path, uint8_t data[NCHUNK][CLEN],
				 uint8_t d[NCHUNK][CBT__DIGEST_LEN])
{
	struct cbt_repo *r;
	unsigned int i;

	assert_int_equal(cbt_repo_open(path, LIBCBT_REPO_CREATE, 65536, &r), 0);
	make_chunks(data, d);
	for (i = 0; i < NCHUNK; i++)
		assert_int_equal(cbt__chunk_put(r, d[i], data[i], CLEN, NULL), 0);
	assert_int_equal(cbt__chunks_sync(r), 0);
	assert_int_equal(count_packs(path), 1);
	return r;
}

/* Damage chunk @d's frame where @r's map finds it; @pack gets that pack's path. */
static void damage(struct cbt_repo *r, const char *repo, const uint8_t d[CBT__DIGEST_LEN],
		   char *pack, size_t len)
{
	const struct cbt__loc *l = NULL;
	int fd;

	for (size_t k = 0; k < r->nlocs; k++)
		if (!memcmp(r->locs[k].d, d, CBT__DIGEST_LEN))
			l = &r->locs[k];
	assert_non_null(l);
	pack_path(r, repo, l->pack, pack, len);
	fd = open(pack, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "garbage", 7, (off_t)l->off + 12), 7);
	close(fd);
}

static void damaged_chunk_set_aside(void **state)
{
	uint8_t data[NCHUNK][CLEN], d[NCHUNK][CBT__DIGEST_LEN], back[CLEN];
	char path[128], pack[200], bad[210];
	struct cbt_repo *r;
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/repo3", tmpdir);
	r = one_pack(path, data, d);
	/* The middle chunk's frame damaged on disk. */
	damage(r, path, d[1], pack, sizeof(pack));
	assert_int_equal(cbt__chunk_get(r, d[1], back, CLEN), -EBADMSG);
	cbt__chunk_quarantine(r, d[1]);
	/* The pack is set aside; the others are in a new one, read again. */
	snprintf(bad, sizeof(bad), "%s.bad", pack);
	assert_int_equal(stat(bad, &st), 0);
	assert_int_equal(stat(pack, &st), -1);
	assert_int_equal(count_packs(path), 2);
	assert_int_equal(cbt__chunk_get(r, d[0], back, CLEN), 0);
	assert_memory_equal(back, data[0], CLEN);
	assert_int_equal(cbt__chunk_get(r, d[2], back, CLEN), 0);
	assert_memory_equal(back, data[2], CLEN);
	assert_int_equal(cbt__chunk_get(r, d[1], back, CLEN), -ENOENT);
	/* A backup that has it stores it again. */
	assert_int_equal(cbt__chunks_touch(r, d[1], 1, CBT__DIGEST_LEN, NULL), -ENOENT);
	assert_int_equal(cbt__chunk_put(r, d[1], data[1], CLEN, NULL), 0);
	assert_int_equal(cbt__chunks_sync(r), 0);
	cbt_repo_close(r);
	assert_int_equal(cbt_repo_open(path, 0, 0, &r), 0);
	assert_int_equal(cbt__chunk_get(r, d[1], back, CLEN), 0);
	assert_memory_equal(back, data[1], CLEN);
	cbt_repo_close(r);
}

static void sweep_drops_only_old_unnamed(void **state)
{
	uint8_t data[NCHUNK][CLEN], d[NCHUNK][CBT__DIGEST_LEN], back[CLEN], keep[CBT__DIGEST_LEN];
	uint64_t removed = 0, bytes = 0, kept = 0;
	struct timespec past = { 0 }, future;
	struct cbt_repo *r;
	char path[128];

	(void)state;
	snprintf(path, sizeof(path), "%s/repo4", tmpdir);
	r = one_pack(path, data, d);
	memcpy(keep, d[2], CBT__DIGEST_LEN);
	/* Touched after the cutoff: nothing removed. */
	assert_int_equal(cbt__chunk_sweep(r, keep, 1, &past, &removed, &bytes, &kept), 0);
	assert_int_equal(removed, 0);
	assert_int_equal(kept, NCHUNK);
	/* Older than the cutoff: the two unnamed dropped, the pack rewritten. */
	clock_gettime(CLOCK_REALTIME, &future);
	future.tv_sec += 60;
	kept = 0;
	assert_int_equal(cbt__chunk_sweep(r, keep, 1, &future, &removed, &bytes, &kept), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(kept, 1);
	assert_true(bytes > 0);
	assert_int_equal(count_packs(path), 1);
	assert_int_equal(cbt__chunk_get(r, d[2], back, CLEN), 0);
	assert_memory_equal(back, data[2], CLEN);
	assert_int_equal(cbt__chunk_get(r, d[0], back, CLEN), -ENOENT);
	/* None named: the pack removed. */
	removed = 0;
	assert_int_equal(cbt__chunk_sweep(r, NULL, 0, &future, &removed, &bytes, &kept), 0);
	assert_int_equal(removed, 1);
	assert_int_equal(count_packs(path), 0);
	cbt_repo_close(r);
}

/* CLEN bytes no compressor shrinks (a fixed xorshift stream from @seed). */
static void noise(uint8_t *b, unsigned int seed)
{
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < CLEN; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		b[i] = (uint8_t)x;
	}
}

/*
 * A handle stopped by a failed pack put nothing in place: a new handle
 * stores every chunk again, whole, in one pack, and reads each back.
 */
static void stored_again(const char *path, uint8_t data[NCHUNK][CLEN],
			 uint8_t d[NCHUNK][CBT__DIGEST_LEN])
{
	uint8_t back[CLEN];
	struct cbt_repo *r;
	unsigned int i;

	assert_int_equal(cbt_repo_open(path, 0, 0, &r), 0);
	assert_int_equal(cbt__chunk_get(r, d[0], back, CLEN), -ENOENT);
	for (i = 0; i < NCHUNK; i++)
		assert_int_equal(cbt__chunk_put(r, d[i], data[i], CLEN, NULL), 0);
	assert_int_equal(cbt__chunks_sync(r), 0);
	assert_int_equal(count_packs(path), 1);
	for (i = 0; i < NCHUNK; i++) {
		assert_int_equal(cbt__chunk_get(r, d[i], back, CLEN), 0);
		assert_memory_equal(back, data[i], CLEN);
	}
	cbt_repo_close(r);
}

static void failed_pack_stops_the_run(void **state)
{
	uint8_t data[NCHUNK][CLEN], d[NCHUNK][CBT__DIGEST_LEN];
	struct rlimit old, lim;
	struct cbt_repo *r;
	char path[128];
	unsigned int i;

	(void)state;
	snprintf(path, sizeof(path), "%s/repo6", tmpdir);
	assert_int_equal(cbt_repo_open(path, LIBCBT_REPO_CREATE, 65536, &r), 0);
	for (i = 0; i < NCHUNK; i++) {
		noise(data[i], i + 1);
		cbt__sha256(data[i], CLEN, d[i]);
	}
	assert_int_equal(cbt__chunk_put(r, d[0], data[0], CLEN, NULL), 0);
	/* The pack cannot grow past 6000 bytes: the second frame fails half-written. */
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 6000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(cbt__chunk_put(r, d[1], data[1], CLEN, NULL), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	/* Nothing more is written or put in place by this handle. */
	assert_int_equal(cbt__chunk_put(r, d[2], data[2], CLEN, NULL), -EFBIG);
	assert_true(cbt__chunks_sync(r) < 0);
	assert_int_equal(count_packs(path), 0);
	cbt_repo_close(r);
	stored_again(path, data, d);
}

static void hostile_pack_passed_over(void **state)
{
	uint8_t data[NCHUNK][CLEN], d[NCHUNK][CBT__DIGEST_LEN], back[CLEN], tr[CBT__PACK_TRAILER];
	char path[128], evil[200];
	struct cbt_repo *r;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/repo7", tmpdir);
	r = one_pack(path, data, d);
	cbt_repo_close(r);
	/* A sparse file long enough for the 2^32 - 16 chunks its trailer claims. */
	snprintf(evil, sizeof(evil), "%s/packs/%064d", path, 0);
	fd = open(evil, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	memset(tr, 0, sizeof(tr));
	memcpy(tr, CBT__PACK_MAGIC, 8);
	cbt__put_le32(tr + 8, 0xfffffff0u);
	assert_int_equal(pwrite(fd, tr, sizeof(tr), (off_t)0xfffffff0u * CBT__PACK_ENTRY + 4096),
			 sizeof(tr));
	close(fd);
	assert_int_equal(cbt_repo_open(path, 0, 0, &r), 0);
	assert_int_equal(cbt__chunk_get(r, d[0], back, CLEN), 0);
	assert_memory_equal(back, data[0], CLEN);
	cbt_repo_close(r);
}

static void same_pack_stored_again(void **state)
{
	uint8_t data[NCHUNK][CLEN], d[NCHUNK][CBT__DIGEST_LEN], back[CLEN];
	char path[128], pack[200];
	struct cbt_repo *r;

	(void)state;
	snprintf(path, sizeof(path), "%s/repo8", tmpdir);
	r = one_pack(path, data, d);
	/* Its pack removed behind our back, then the same chunks stored again. */
	pack_path(r, path, 0, pack, sizeof(pack));
	assert_int_equal(unlink(pack), 0);
	assert_int_equal(cbt__chunk_get(r, d[0], back, CLEN), -ENOENT);
	for (unsigned int i = 0; i < NCHUNK; i++)
		assert_int_equal(cbt__chunk_put(r, d[i], data[i], CLEN, NULL), 0);
	assert_int_equal(cbt__chunks_sync(r), 0);
	/* The same name twice in this handle's map; after a rescan both are back. */
	assert_int_equal(r->npacks, 2);
	assert_memory_equal(r->packs[0].name, r->packs[1].name, CBT__DIGEST_LEN);
	r->map_read = 0;
	assert_int_equal(cbt__chunks_touch(r, d[0], NCHUNK, CBT__DIGEST_LEN, NULL), 0);
	assert_int_equal(cbt__chunk_get(r, d[2], back, CLEN), 0);
	cbt_repo_close(r);
}

/*
 * A frame of this run's pack changed on disk before the sync (a bit flip,
 * a filesystem bug): the sync reads the pack back, refuses to put it in
 * place and stops the handle; a new handle stores every chunk again.
 */
static void read_back_refuses_damaged_pack(void **state)
{
	uint8_t data[NCHUNK][CLEN], d[NCHUNK][CBT__DIGEST_LEN];
	struct cbt_repo *r;
	char path[128], name[24];
	unsigned int i;
	int fd;

	(void)state;
	snprintf(path, sizeof(path), "%s/repo12", tmpdir);
	assert_int_equal(cbt_repo_open(path, LIBCBT_REPO_CREATE, 65536, &r), 0);
	make_chunks(data, d);
	for (i = 0; i < NCHUNK; i++)
		assert_int_equal(cbt__chunk_put(r, d[i], data[i], CLEN, NULL), 0);
	snprintf(name, sizeof(name), "pack.%u", r->packs[r->cur_pack].seq);
	fd = openat(r->ws_fd, name, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "garbage", 7, 12), 7);
	close(fd);
	assert_int_equal(cbt__chunks_sync(r), -EIO);
	assert_int_equal(count_packs(path), 0);
	assert_int_equal(cbt__chunk_put(r, d[0], data[0], CLEN, NULL), -EIO);
	cbt_repo_close(r);
	stored_again(path, data, d);
}

/* gc's mark of two chunks: @a and @b in digest order, in @keep. */
static void sorted_pair(uint8_t keep[2][CBT__DIGEST_LEN], const uint8_t *a, const uint8_t *b)
{
	int swap = memcmp(a, b, CBT__DIGEST_LEN) > 0;

	memcpy(keep[swap], a, CBT__DIGEST_LEN);
	memcpy(keep[!swap], b, CBT__DIGEST_LEN);
}

/*
 * gc finds a chunk an index names damaged in a pack it rewrites: the frame
 * is dropped, the old pack kept as .bad, and no byte counted as given back
 * until a later gc removes the .bad.
 */
static void sweep_keeps_damaged_pack_aside(void **state)
{
	uint8_t data[NCHUNK][CLEN], d[NCHUNK][CBT__DIGEST_LEN], back[CLEN];
	uint8_t keep[2][CBT__DIGEST_LEN];
	uint64_t removed = 0, bytes = 0, kept = 0;
	char path[128], pack[200], bad[210];
	struct timespec future;
	struct cbt_repo *r;
	struct stat st, bst;

	(void)state;
	snprintf(path, sizeof(path), "%s/repo13", tmpdir);
	r = one_pack(path, data, d);
	damage(r, path, d[1], pack, sizeof(pack));
	assert_int_equal(stat(pack, &st), 0);
	/* d0 named by no index; d1 (damaged) and d2 named */
	sorted_pair(keep, d[1], d[2]);
	clock_gettime(CLOCK_REALTIME, &future);
	future.tv_sec += 60;
	assert_int_equal(cbt__chunk_sweep(r, keep[0], 2, &future, &removed, &bytes, &kept), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(kept, 1);
	assert_int_equal(bytes, 0);	/* the old pack is still there, as .bad */
	snprintf(bad, sizeof(bad), "%s.bad", pack);
	assert_int_equal(stat(bad, &bst), 0);
	assert_int_equal(cbt__chunk_get(r, d[2], back, CLEN), 0);
	assert_memory_equal(back, data[2], CLEN);
	assert_int_equal(cbt__chunk_get(r, d[1], back, CLEN), -ENOENT);
	/* the next gc removes the .bad and counts it */
	removed = bytes = kept = 0;
	assert_int_equal(cbt__chunk_sweep(r, keep[0], 2, &future, &removed, &bytes, &kept), 0);
	assert_int_equal(bytes, (uint64_t)st.st_size);
	assert_int_equal(stat(bad, &bst), -1);
	cbt_repo_close(r);
}

static void damaged_copy_other_read(void **state)
{
	uint8_t data[NCHUNK][CLEN], d[NCHUNK][CBT__DIGEST_LEN], back[CLEN];
	struct cbt_repo *r1, *r2, *r;
	char path[128], pack[200], bad[210];
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/repo9", tmpdir);
	assert_int_equal(cbt_repo_open(path, LIBCBT_REPO_CREATE, 65536, &r1), 0);
	assert_int_equal(cbt_repo_open(path, 0, 0, &r2), 0);
	make_chunks(data, d);
	/* Two writers at once store chunk 0, each in its own pack. */
	assert_int_equal(cbt__chunk_put(r1, d[0], data[0], CLEN, NULL), 0);
	assert_int_equal(cbt__chunk_put(r2, d[0], data[0], CLEN, NULL), 0);
	assert_int_equal(cbt__chunk_put(r1, d[1], data[1], CLEN, NULL), 0);
	assert_int_equal(cbt__chunk_put(r2, d[2], data[2], CLEN, NULL), 0);
	assert_int_equal(cbt__chunks_sync(r1), 0);
	assert_int_equal(cbt__chunks_sync(r2), 0);
	cbt_repo_close(r1);
	cbt_repo_close(r2);
	assert_int_equal(count_packs(path), 2);
	/* The copy a reader finds first is damaged: it reads the other. */
	assert_int_equal(cbt_repo_open(path, 0, 0, &r), 0);
	assert_int_equal(cbt__chunks_touch(r, d[0], 1, CBT__DIGEST_LEN, NULL), 0);
	damage(r, path, d[0], pack, sizeof(pack));
	memset(back, 0, sizeof(back));
	assert_int_equal(cbt__chunk_get(r, d[0], back, CLEN), 0);
	assert_memory_equal(back, data[0], CLEN);
	/* verify sets the damaged copy aside; its pack's other chunk stays */
	assert_int_equal(cbt__chunk_quarantine_copy(r, d[1]), 0);
	assert_int_equal(cbt__chunk_quarantine_copy(r, d[0]), 1);
	assert_int_equal(cbt__chunk_quarantine_copy(r, d[0]), 0);
	snprintf(bad, sizeof(bad), "%s.bad", pack);
	assert_int_equal(stat(bad, &st), 0);
	assert_int_equal(stat(pack, &st), -1);
	cbt_repo_close(r);
	assert_int_equal(cbt_repo_open(path, 0, 0, &r), 0);
	for (unsigned int i = 0; i < NCHUNK; i++) {
		assert_int_equal(cbt__chunk_get(r, d[i], back, CLEN), 0);
		assert_memory_equal(back, data[i], CLEN);
		assert_int_equal(r->bad_copy, 0);	/* no damaged copy left */
	}
	cbt_repo_close(r);
}

/*
 * Verify found the map's copy of d0 (pack A) damaged and read X's; before
 * it sets A aside, gc rewrites X without the dead d2: the new pack has A's
 * table, so A's name, and replaces the damaged A. What is set aside is
 * checked under the lock: the only good copy of d0 stays.
 */
static void set_aside_after_gc_replaced_it(void **state)
{
	uint8_t data[NCHUNK][CLEN], d[NCHUNK][CBT__DIGEST_LEN], back[CLEN], keep[2][CBT__DIGEST_LEN];
	uint64_t removed = 0, bytes = 0, kept = 0;
	struct cbt_repo *r1, *r2, *r, *g;
	struct timespec future;
	char path[128], pack[200];

	(void)state;
	snprintf(path, sizeof(path), "%s/repo10", tmpdir);
	assert_int_equal(cbt_repo_open(path, LIBCBT_REPO_CREATE, 65536, &r1), 0);
	assert_int_equal(cbt_repo_open(path, 0, 0, &r2), 0);
	make_chunks(data, d);
	/* two writers at once: A = {d0, d1}, X = {d0, d1, d2} */
	for (unsigned int i = 0; i < 2; i++)
		assert_int_equal(cbt__chunk_put(r1, d[i], data[i], CLEN, NULL), 0);
	for (unsigned int i = 0; i < 3; i++)
		assert_int_equal(cbt__chunk_put(r2, d[i], data[i], CLEN, NULL), 0);
	assert_int_equal(cbt__chunks_sync(r1), 0);
	assert_int_equal(cbt_repo_open(path, 0, 0, &r), 0);
	assert_int_equal(cbt__chunks_touch(r, d[0], 1, CBT__DIGEST_LEN, NULL), 0); /* map: A */
	assert_int_equal(cbt__chunks_sync(r2), 0);
	cbt_repo_close(r1);
	cbt_repo_close(r2);
	assert_int_equal(count_packs(path), 2);
	damage(r, path, d[0], pack, sizeof(pack));	/* A's d0 */
	r->map_read = 0;			/* X known too */
	assert_int_equal(cbt__chunk_get(r, d[0], back, CLEN), 0);	/* from X */
	assert_int_equal(r->bad_copy, 1);
	/* gc: d0, d1 named; X rewritten without d2 -> A's name, replacing A */
	sorted_pair(keep, d[0], d[1]);
	clock_gettime(CLOCK_REALTIME, &future);
	future.tv_sec += 60;
	assert_int_equal(cbt_repo_open(path, 0, 0, &g), 0);
	assert_int_equal(cbt__chunk_sweep(g, keep[0], 2, &future, &removed, &bytes, &kept), 0);
	cbt_repo_close(g);
	assert_int_equal(removed, 1);
	assert_int_equal(count_packs(path), 1);	/* only "A", now X's good bytes */
	/* verify goes on: sets "A" aside */
	assert_int_equal(cbt__chunk_quarantine_copy(r, d[0]), 1);
	cbt_repo_close(r);
	assert_int_equal(cbt_repo_open(path, 0, 0, &r), 0);
	assert_int_equal(cbt__chunk_get(r, d[0], back, CLEN), 0);
	cbt_repo_close(r);
}

/*
 * N = {a, d} with both frames damaged, M = {a} (intact, the only good a),
 * Q = {d}. Setting d's damaged copy aside must not rewrite N as {damaged
 * a}: that is M's table, so M's name, and it would replace the good one.
 */
static void set_aside_renames_over_good_pack(void **state)
{
	uint8_t data[NCHUNK][CLEN], d[NCHUNK][CBT__DIGEST_LEN], back[CLEN];
	struct cbt_repo *r1, *r2, *r3, *r;
	char path[128], pack[200];

	(void)state;
	snprintf(path, sizeof(path), "%s/repo11", tmpdir);
	assert_int_equal(cbt_repo_open(path, LIBCBT_REPO_CREATE, 65536, &r1), 0);
	assert_int_equal(cbt_repo_open(path, 0, 0, &r2), 0);
	assert_int_equal(cbt_repo_open(path, 0, 0, &r3), 0);
	make_chunks(data, d);
	assert_int_equal(cbt__chunk_put(r1, d[0], data[0], CLEN, NULL), 0);
	assert_int_equal(cbt__chunk_put(r1, d[1], data[1], CLEN, NULL), 0);
	assert_int_equal(cbt__chunk_put(r2, d[0], data[0], CLEN, NULL), 0);
	assert_int_equal(cbt__chunk_put(r3, d[1], data[1], CLEN, NULL), 0);
	assert_int_equal(cbt__chunks_sync(r1), 0);
	assert_int_equal(cbt_repo_open(path, 0, 0, &r), 0);
	assert_int_equal(cbt__chunks_touch(r, d[0], 2, CBT__DIGEST_LEN, NULL), 0); /* map: N */
	assert_int_equal(cbt__chunks_sync(r2), 0);
	assert_int_equal(cbt__chunks_sync(r3), 0);
	cbt_repo_close(r1);
	cbt_repo_close(r2);
	cbt_repo_close(r3);
	assert_int_equal(count_packs(path), 3);
	damage(r, path, d[0], pack, sizeof(pack));	/* N's a */
	damage(r, path, d[1], pack, sizeof(pack));	/* N's d */
	r->map_read = 0;
	assert_int_equal(cbt__chunk_get(r, d[1], back, CLEN), 0);	/* from Q */
	assert_int_equal(cbt__chunk_quarantine_copy(r, d[1]), 1);
	cbt_repo_close(r);
	assert_int_equal(cbt_repo_open(path, 0, 0, &r), 0);
	assert_int_equal(cbt__chunk_get(r, d[0], back, CLEN), 0);
	cbt_repo_close(r);
}

/* ---- index.c: a point's index and its patches ---------------------------------- */

#define IX_SIZE	((7u << 20) / 2)	/* 3.5 MiB: 4 chunks of 1 MiB, the last half */

/* An index of IX_SIZE with patches (0,1), (2,3), (3,7), written and read back as bytes. */
static uint8_t *index_bytes(size_t *len)
{
	struct cbt__index ix;
	uint8_t d[CBT__DIGEST_LEN], dg[CBT__DIGEST_LEN];
	char path[128], file[160];
	struct cbt_repo *r;
	uint8_t *b;
	FILE *f;

	snprintf(path, sizeof(path), "%s/repo5", tmpdir);
	assert_int_equal(cbt_repo_open(path, LIBCBT_REPO_CREATE, 1 << 20, &r), 0);
	assert_int_equal(cbt__index_init(&ix, 1 << 20, CBT__PIECE_SIZE, IX_SIZE), 0);
	assert_int_equal(ix.count, 4);
	assert_int_equal(cbt__index_pieces(&ix, 3), 8);
	assert_int_equal(cbt__index_piece_len(&ix, 3, 7), 65536);
	memset(d, 7, sizeof(d));
	assert_int_equal(cbt__index_patch(&ix, 0, 1, d), 0);
	assert_int_equal(cbt__index_patch(&ix, 2, 3, d), 0);
	assert_int_equal(cbt__index_patch(&ix, 3, 7, d), 0);
	assert_int_equal(cbt__index_write(r, r->dfd, "test.idx", &ix, dg), 0);
	cbt__index_free(&ix);
	cbt_repo_close(r);
	snprintf(file, sizeof(file), "%s/test.idx", path);
	f = fopen(file, "rb");
	assert_non_null(f);
	b = malloc(1 << 20);
	*len = fread(b, 1, 1 << 20, f);
	fclose(f);
	assert_int_equal(*len, 64 + 4 * 32 + 3 * 44 + 32);
	return b;
}

/* Sign @b again (its trailing SHA-256), so only the structure is judged. */
static int parse_signed(uint8_t *b, size_t len, struct cbt__index *ix)
{
	cbt__sha256(b, len - CBT__DIGEST_LEN, b + len - CBT__DIGEST_LEN);
	return cbt__index_parse(b, len, 1 << 20, IX_SIZE, NULL, ix);
}

static void index_patches_checked(void **state)
{
	struct cbt__index ix;
	size_t len, p0 = 64 + 4 * 32;
	uint8_t *b = index_bytes(&len), *c = malloc(len);

	(void)state;
	assert_int_equal(parse_signed(b, len, &ix), 0);
	assert_int_equal(ix.np, 3);
	assert_int_equal(ix.p[2].chunk, 3);
	assert_int_equal(ix.p[2].piece, 7);
	cbt__index_free(&ix);
	/* the second and third patches swapped: out of order */
	memcpy(c, b, len);
	memcpy(c + p0 + 44, b + p0 + 88, 44);
	memcpy(c + p0 + 88, b + p0 + 44, 44);
	assert_int_equal(parse_signed(c, len, &ix), -EBADMSG);
	/* the same patch twice */
	memcpy(c, b, len);
	memcpy(c + p0 + 44, b + p0, 44);
	assert_int_equal(parse_signed(c, len, &ix), -EBADMSG);
	/* a piece past the end of the last (half) chunk */
	memcpy(c, b, len);
	c[p0 + 88 + 8] = 8;
	assert_int_equal(parse_signed(c, len, &ix), -EBADMSG);
	/* a chunk past the volume */
	memcpy(c, b, len);
	c[p0 + 88] = 4;
	assert_int_equal(parse_signed(c, len, &ix), -EBADMSG);
	/* a patch count the file does not hold, and a piece size not a power of two */
	memcpy(c, b, len);
	c[40] = 4;
	assert_int_equal(parse_signed(c, len, &ix), -EBADMSG);
	memcpy(c, b, len);
	c[32] = 1;
	assert_int_equal(parse_signed(c, len, &ix), -EBADMSG);
	/* unsigned damage: the trailing SHA-256 no longer matches */
	memcpy(c, b, len);
	c[70] ^= 1;
	assert_int_equal(cbt__index_parse(c, len, 1 << 20, IX_SIZE, NULL, &ix), -EBADMSG);
	free(c);
	free(b);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int main(int argc, char **argv)
{
	static const struct CMUnitTest sync_t[] = {
		T(sync_resumes_after_partial_failure), T(pending_found_before_sync),
	};
	static const struct CMUnitTest rewrite_t[] = {
		T(damaged_chunk_set_aside), T(sweep_drops_only_old_unnamed),
		T(failed_pack_stops_the_run), T(hostile_pack_passed_over), T(same_pack_stored_again),
		T(read_back_refuses_damaged_pack), T(sweep_keeps_damaged_pack_aside),
		T(damaged_copy_other_read),
		T(set_aside_after_gc_replaced_it),
		T(set_aside_renames_over_good_pack),
	};
	static const struct CMUnitTest index_t[] = {
		T(index_patches_checked),
	};
	const char *only = argc > 1 ? argv[1] : NULL;
	int failed = 0, ran = 0;

	unsetenv("LIBCBT_DEBUG");
	if (!only || !strcmp(only, "sync")) {
		failed += cmocka_run_group_tests_name("sync", sync_t, NULL, NULL);
		ran++;
	}
	if (!only || !strcmp(only, "rewrite")) {
		failed += cmocka_run_group_tests_name("rewrite", rewrite_t, NULL, NULL);
		ran++;
	}
	if (!only || !strcmp(only, "index")) {
		failed += cmocka_run_group_tests_name("index", index_t, NULL, NULL);
		ran++;
	}
	if (!ran) {
		fprintf(stderr, "test-chunk: no group '%s'\n", only);
		return 2;
	}
	return failed ? 1 : 0;
}
