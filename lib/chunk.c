// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * chunk.c - the chunk store: chunks/XX/<sha256 hex>, each one zstd frame of
 * the chunk's bytes (XX: the digest's first two hex digits). The name is
 * the SHA-256 of the uncompressed bytes (OpenSSL's EVP), so identical
 * chunks are stored once, across points and volumes.
 *
 * A new chunk is written in the writer's workspace and found there (by a
 * hash of the digests pending) until cbt__chunks_sync(), before a point is
 * committed: one syncfs puts every chunk's bytes on disk, then each is
 * renamed into place and the folders fsynced. So a name in chunks/ never
 * points at bytes that a power cut could lose (a later backup that finds
 * it may build on it), and no index names a chunk not in place.
 *
 * gc safety (with repo.c): a writer holds chunks.lock shared around its
 * "is it there? then touch it" and around the renames of new chunks; gc's
 * sweep holds it exclusive per chunk folder. A chunk is removed only when
 * no index names it and its mtime is older than the cutoff.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <zstd.h>

#include "repo.h"

/* zstd level: 1 (fast; disk images compress about as well at 3). */
#define ZLEVEL	1

void cbt__sha256(const void *data, size_t len, uint8_t out[CBT__DIGEST_LEN])
{
	unsigned int olen = CBT__DIGEST_LEN;

	EVP_Digest(data, len, out, &olen, EVP_sha256(), NULL);
}

void cbt__hex(const uint8_t d[CBT__DIGEST_LEN], char out[65])
{
	static const char hx[] = "0123456789abcdef";
	int i;

	for (i = 0; i < CBT__DIGEST_LEN; i++) {
		out[2 * i] = hx[d[i] >> 4];
		out[2 * i + 1] = hx[d[i] & 15];
	}
	out[64] = '\0';
}

void cbt__chunk_ctx_free(struct cbt_repo *r)
{
	ZSTD_freeCCtx(r->zc);
	ZSTD_freeDCtx(r->zd);
	r->zc = r->zd = NULL;
}

/*
 * chunks/XX, kept open once found (r->dirs), never closed by callers.
 * DIR_LOOKUP: a folder found missing before is taken as missing again
 * (only "is it there?" asks this way: at worst a chunk another writer put
 * there meanwhile is stored once more, renamed over its twin, same bytes);
 * DIR_FRESH: looked up again (reading a chunk); DIR_CREATE: made if missing.
 */
enum { DIR_LOOKUP, DIR_FRESH, DIR_CREATE };
#define DIR_MISSING	(-2)

static int chunk_dir(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN], int mode)
{
	char sub[3];
	int fd;

	if (r->dirs[d[0]] >= 0)
		return r->dirs[d[0]];
	if (r->dirs[d[0]] == DIR_MISSING && mode == DIR_LOOKUP)
		return -ENOENT;
	snprintf(sub, sizeof(sub), "%02x", d[0]);
	fd = cbt__open_dir(r->chunks_fd, sub);
	if (fd == -ENOENT && mode == DIR_CREATE) {
		if (mkdirat(r->chunks_fd, sub, 0700) && errno != EEXIST)
			return -errno;
		fd = cbt__open_dir(r->chunks_fd, sub);
	}
	if (fd >= 0 || fd == -ENOENT)
		r->dirs[d[0]] = fd >= 0 ? fd : DIR_MISSING;
	return fd;
}

/*
 * chunks.lock, shared, around one "is it there? then touch it" or a run of
 * them, and around the renames of cbt__chunks_sync(); never while the
 * source is read (gc's sweep waits for it, and a source may be slow).
 */

static int chunk_lock(struct cbt_repo *r)
{
	int ret;

	if (r->chunk_locked)
		return 0;
	ret = cbt__flock(r->chunk_lock_fd, LOCK_SH);
	if (!ret)
		r->chunk_locked = 1;
	return ret;
}

static void chunk_unlock(struct cbt_repo *r)
{
	if (!r->chunk_locked)
		return;
	cbt__flock(r->chunk_lock_fd, LOCK_UN);
	r->chunk_locked = 0;
}

/* ---- chunks written in this run, not yet in place ---------------------------- */

static size_t pending_slot(const struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN])
{
	uint64_t h;

	memcpy(&h, d, sizeof(h));	/* a SHA-256: its bytes are the hash */
	return (size_t)h & (r->ht_size - 1);
}

static struct cbt__pending *pending_find(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN])
{
	size_t i;

	if (!r->ht_size)
		return NULL;
	for (i = pending_slot(r, d); r->pending_ht[i]; i = (i + 1) & (r->ht_size - 1)) {
		struct cbt__pending *p = &r->pending[r->pending_ht[i] - 1];

		if (!memcmp(p->d, d, CBT__DIGEST_LEN))
			return p;
	}
	return NULL;
}

static void pending_hash(struct cbt_repo *r, size_t k)
{
	size_t i = pending_slot(r, r->pending[k].d);

	while (r->pending_ht[i])
		i = (i + 1) & (r->ht_size - 1);
	r->pending_ht[i] = (uint32_t)(k + 1);
}

/* Room for one more pending chunk (the hash at most half full). */
static int pending_room(struct cbt_repo *r)
{
	size_t k;

	if (r->npending == UINT32_MAX - 1)
		return -ENOMEM;
	if (r->npending == r->cap_pending) {
		size_t cap = r->cap_pending ? r->cap_pending * 2 : 1024;
		struct cbt__pending *p = realloc(r->pending, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		r->pending = p;
		r->cap_pending = cap;
	}
	if (2 * (r->npending + 1) > r->ht_size) {
		size_t size = r->ht_size ? r->ht_size * 2 : 4096;
		uint32_t *ht = calloc(size, sizeof(*ht));

		if (!ht)
			return -ENOMEM;
		free(r->pending_ht);
		r->pending_ht = ht;
		r->ht_size = size;
		for (k = 0; k < r->npending; k++)
			pending_hash(r, k);
	}
	return 0;
}

static void pending_clear(struct cbt_repo *r)
{
	r->npending = 0;
	if (r->ht_size)
		memset(r->pending_ht, 0, r->ht_size * sizeof(*r->pending_ht));
}

void cbt__chunks_close(struct cbt_repo *r)
{
	int i;

	chunk_unlock(r);
	for (i = 0; i < 256; i++) {
		if (r->dirs[i] >= 0)
			close(r->dirs[i]);
		r->dirs[i] = -1;	/* not known */
	}
	free(r->pending);
	free(r->pending_ht);
	r->pending = NULL;
	r->pending_ht = NULL;
	r->npending = r->cap_pending = r->ht_size = 0;
}

/* Under chunks.lock (shared): 0 and touched (or written in this run), -ENOENT, or an error. */
static int touch_locked(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN])
{
	struct stat st;
	char hex[65];
	int dfd;

	const struct cbt__pending *p = pending_find(r, d);

	if (p) {
		if (!p->seq)
			r->sync_dirs[d[0]] = 1;
		return 0;
	}
	dfd = chunk_dir(r, d, DIR_LOOKUP);
	if (dfd == -ENOENT)
		return dfd;
	if (dfd < 0)
		return cbt__repo_err(r, dfd, "chunks/%02x: %s", d[0],
				     dfd == -ELOOP || dfd == -ENOTDIR ?
				     "not a folder (a symbolic link?): refused" : strerror(-dfd));
	cbt__hex(d, hex);
	if (utimensat(dfd, hex, NULL, AT_SYMLINK_NOFOLLOW))
		return -errno;
	if (fstatat(dfd, hex, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
		return -ENOENT;
	/* Its name may be another writer's rename, not yet fsynced: ours too. */
	r->sync_dirs[d[0]] = 1;
	return 0;
}

int cbt__chunks_touch(struct cbt_repo *r, const uint8_t *digests, size_t n, uint8_t *missing)
{
	int ret = 0, any = 0;
	size_t i;

	ret = chunk_lock(r);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		ret = touch_locked(r, digests + i * CBT__DIGEST_LEN);
		if (missing)
			missing[i] = ret != 0;
		if (ret == -ENOENT) {
			any = 1;
			ret = 0;
			continue;
		}
		if (ret)
			break;
	}
	chunk_unlock(r);
	return ret ? ret : any ? -ENOENT : 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int cbt__chunk_put(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN], const void *data,
		   size_t len, uint64_t *stored)
{
	size_t bound, clen;
	char tmp[32];
	void *cbuf;
	int ret, fd;

	if (stored)
		*stored = 0;
	ret = chunk_lock(r);
	if (ret)
		return ret;
	ret = touch_locked(r, d);
	chunk_unlock(r);
	if (ret != -ENOENT)
		return ret;
	ret = cbt__repo_workspace(r);
	if (!ret)
		ret = pending_room(r);
	if (ret)
		return ret;
	if (!r->zc && !(r->zc = ZSTD_createCCtx()))
		return -ENOMEM;
	bound = ZSTD_compressBound(len);
	cbuf = malloc(bound);
	if (!cbuf)
		return -ENOMEM;
	clen = ZSTD_compressCCtx(r->zc, cbuf, bound, data, len, ZLEVEL);
	if (ZSTD_isError(clen)) {
		free(cbuf);
		return cbt__repo_err(r, -EIO, "zstd: %s", ZSTD_getErrorName(clen));
	}
	cbt__repo_tmpname(r, tmp, "chunk");
	fd = openat(r->ws_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(cbuf);
		return cbt__repo_err(r, -errno, "tmp/%s/%s: %s", r->token, tmp, strerror(errno));
	}
	ret = write_all(fd, cbuf, clen);
	free(cbuf);
	if (close(fd) && !ret)
		ret = -errno;
	if (ret) {
		unlinkat(r->ws_fd, tmp, 0);
		return cbt__repo_err(r, ret, "writing a chunk: %s", strerror(-ret));
	}
	/* In place at cbt__chunks_sync(), once on disk; until then found here. */
	memcpy(r->pending[r->npending].d, d, CBT__DIGEST_LEN);
	r->pending[r->npending].seq = r->tmp_seq;
	pending_hash(r, r->npending++);
	if (stored)
		*stored = clen;
	return 0;
}

/* Rename pending chunk @p into its folder (under chunks.lock, shared). */
static int pending_place(struct cbt_repo *r, const struct cbt__pending *p)
{
	char hex[65], tmp[32];
	int dfd;

	cbt__hex(p->d, hex);
	snprintf(tmp, sizeof(tmp), "chunk.%u", p->seq);
	dfd = chunk_dir(r, p->d, DIR_CREATE);
	if (dfd < 0 || renameat(r->ws_fd, tmp, dfd, hex)) {
		int ret = dfd < 0 ? (dfd == -ENOTDIR ? -ELOOP : dfd) : -errno;

		return cbt__repo_err(r, ret, "chunks/%.2s/%s: %s", hex, hex,
				     ret == -ELOOP ? "its folder is not a folder (a symbolic link?): refused" :
				     strerror(-ret));
	}
	return 0;
}

int cbt__chunks_sync(struct cbt_repo *r)
{
	struct cbt__pending *p;
	size_t i;
	int ret = 0, any = 0;

	/*
	 * Every chunk's bytes on disk first, in one call: a name in chunks/
	 * never points at bytes a power cut could lose, so a later backup that
	 * finds it there may build on it.
	 */
	if (r->npending && syncfs(r->ws_fd))
		return cbt__repo_err(r, -errno, "chunks: syncfs: %s", strerror(errno));
	ret = chunk_lock(r);
	for (i = 0; i < r->npending && !ret; i++) {
		p = &r->pending[i];
		if (!p->seq)
			continue;	/* placed by a sync that failed after it */
		ret = pending_place(r, p);
		if (!ret) {
			p->seq = 0;
			r->sync_dirs[p->d[0]] = 1;
		}
	}
	chunk_unlock(r);
	/* The names: of chunks placed now, and of chunks found there. */
	for (i = 0; i < 256 && !ret; i++) {
		if (!r->sync_dirs[i] || r->dirs[i] < 0)
			continue;
		any = 1;
		if (fsync(r->dirs[i]))
			ret = cbt__repo_err(r, -errno, "chunks/%02zx: fsync: %s", i, strerror(errno));
	}
	if (!ret && any && fsync(r->chunks_fd))
		ret = cbt__repo_err(r, -errno, "chunks: fsync: %s", strerror(errno));
	if (!ret) {
		pending_clear(r);
		memset(r->sync_dirs, 0, sizeof(r->sync_dirs));
	}
	return ret;
}

int cbt__chunk_get(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN], void *buf, size_t len)
{
	uint8_t got[CBT__DIGEST_LEN];
	unsigned long long csize;
	char hex[65];
	struct stat st;
	void *cbuf = NULL;
	size_t n, have = 0;
	int dfd, fd, ret;
	const struct cbt__pending *p = pending_find(r, d);
	char tmp[32];

	cbt__hex(d, hex);
	if (p && p->seq) {
		/* written in this run, not yet in place */
		snprintf(tmp, sizeof(tmp), "chunk.%u", p->seq);
		fd = openat(r->ws_fd, tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	} else {
		dfd = chunk_dir(r, d, DIR_FRESH);
		if (dfd < 0)
			return cbt__repo_err(r, dfd, "chunk %s: %s", hex,
					     dfd == -ENOENT ? "missing" :
					     dfd == -ELOOP || dfd == -ENOTDIR ?
					     "its folder is not a folder (a symbolic link?): refused" :
					     strerror(-dfd));
		fd = openat(dfd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	}
	if (fd < 0)
		return cbt__repo_err(r, -errno, "chunk %s: %s", hex,
				     errno == ENOENT ? "missing" :
				     errno == ELOOP ? "a symbolic link (refused)" : strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > ZSTD_compressBound(len)) {
		close(fd);
		return cbt__repo_err(r, -EBADMSG, "chunk %s: damaged (not a chunk file)", hex);
	}
	cbuf = malloc((size_t)st.st_size + 1);
	if (!cbuf) {
		close(fd);
		return -ENOMEM;
	}
	while (have < (size_t)st.st_size) {
		ssize_t k = read(fd, (char *)cbuf + have, (size_t)st.st_size - have);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		have += (size_t)k;
	}
	close(fd);
	ret = cbt__repo_err(r, -EBADMSG, "chunk %s: damaged (digest mismatch)", hex);
	if (have != (size_t)st.st_size)
		goto out;
	csize = ZSTD_getFrameContentSize(cbuf, have);
	if (csize != len)
		goto out;
	if (!r->zd && !(r->zd = ZSTD_createDCtx())) {
		ret = -ENOMEM;
		goto out;
	}
	n = ZSTD_decompressDCtx(r->zd, buf, len, cbuf, have);
	if (ZSTD_isError(n) || n != len)
		goto out;
	cbt__sha256(buf, len, got);
	if (memcmp(got, d, CBT__DIGEST_LEN))
		goto out;
	ret = 0;
out:
	free(cbuf);
	return ret;
}

void cbt__chunk_quarantine(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN])
{
	const struct cbt__pending *p = pending_find(r, d);
	char hex[65], bad[70];
	int dfd;

	/* A copy of this run's, not in place: the one in chunks/ is not it. */
	if (p && p->seq)
		return;
	cbt__hex(d, hex);
	snprintf(bad, sizeof(bad), "%s.bad", hex);
	dfd = chunk_dir(r, d, DIR_FRESH);
	if (dfd < 0 || chunk_lock(r))
		return;
	renameat(dfd, hex, dfd, bad);
	chunk_unlock(r);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A chunk file's name: 64 lower-case hex digits. */
static int parse_hex(const char *s, uint8_t d[CBT__DIGEST_LEN])
{
	int i, hi, lo;

	if (strlen(s) != 64)
		return -1;
	for (i = 0; i < CBT__DIGEST_LEN; i++) {
		hi = hexval(s[2 * i]);
		lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		d[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static int memcmp_digest(const void *a, const void *b)
{
	return memcmp(a, b, CBT__DIGEST_LEN);
}

static int older(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

int cbt__chunk_sweep(struct cbt_repo *r, const uint8_t *keep, size_t nkeep,
		     const struct timespec *cutoff, uint64_t *removed, uint64_t *removed_bytes,
		     uint64_t *kept)
{
	uint8_t d[CBT__DIGEST_LEN];
	struct dirent *de, *se;
	struct stat st;
	DIR *top, *sub;
	int fd, sfd, ret = 0;

	fd = fcntl(r->chunks_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	top = fdopendir(fd);
	if (!top) {
		close(fd);
		return -errno;
	}
	rewinddir(top);
	while (!ret && (de = readdir(top))) {
		if (strlen(de->d_name) != 2 || hexval(de->d_name[0]) < 0 ||
		    hexval(de->d_name[1]) < 0)
			continue;
		sfd = cbt__open_dir(r->chunks_fd, de->d_name);
		if (sfd < 0)
			continue;
		sub = fdopendir(sfd);
		if (!sub) {
			close(sfd);
			continue;
		}
		chunk_unlock(r);	/* ours, shared, if held: EX takes its place */
		ret = cbt__flock(r->chunk_lock_fd, LOCK_EX);
		if (ret) {
			closedir(sub);
			break;
		}
		while ((se = readdir(sub))) {
			if (se->d_name[0] == '.')
				continue;
			if (!parse_hex(se->d_name, d) &&
			    bsearch(d, keep, nkeep, CBT__DIGEST_LEN, memcmp_digest)) {
				(*kept)++;
				continue;
			}
			if (fstatat(sfd, se->d_name, &st, AT_SYMLINK_NOFOLLOW))
				continue;
			if (!older(&st.st_mtim, cutoff)) {
				(*kept)++;
				continue;
			}
			if (!unlinkat(sfd, se->d_name, 0)) {
				(*removed)++;
				*removed_bytes += (uint64_t)st.st_size;
			}
		}
		cbt__flock(r->chunk_lock_fd, LOCK_UN);
		closedir(sub);
	}
	closedir(top);
	return ret;
}
