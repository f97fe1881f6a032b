// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * chunk.c - the chunk store: chunks/XX/<sha256 hex>, each one zstd frame of
 * the chunk's bytes (XX: the digest's first two hex digits). The name is
 * the SHA-256 of the uncompressed bytes (OpenSSL's EVP), so identical
 * chunks are stored once, across points and volumes.
 *
 * A new chunk is written in the writer's workspace (its writeback started
 * at once) and renamed into place; before a point is committed,
 * cbt__chunks_sync() fsyncs every chunk written and its folder, so no
 * index ever names a chunk that a power cut could lose.
 *
 * gc safety (with repo.c): a writer holds chunks.lock shared around its
 * "is it there? then touch it" and around the rename of a new chunk; gc's
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

/* chunks/XX, made when first needed. */
static int chunk_dir(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN], int create)
{
	char sub[3];
	int fd;

	snprintf(sub, sizeof(sub), "%02x", d[0]);
	fd = cbt__open_dir(r->chunks_fd, sub);
	if (fd == -ENOENT && create) {
		if (mkdirat(r->chunks_fd, sub, 0700) && errno != EEXIST)
			return -errno;
		fd = cbt__open_dir(r->chunks_fd, sub);
	}
	return fd;
}

/* Under chunks.lock (shared): 0 and touched, -ENOENT, or an error. @dirs
 * (256 entries, -1 when not open yet) keeps each chunk folder open across
 * a batch, or NULL: one lookup of the folder per chunk. */
static int touch_locked(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN], int *dirs)
{
	char hex[65];
	int dfd, ret = 0;

	dfd = dirs ? dirs[d[0]] : -1;
	if (dfd < 0) {
		dfd = chunk_dir(r, d, 0);
		if (dfd == -ENOENT)
			return dfd;
		if (dfd < 0)
			return cbt__repo_err(r, dfd, "chunks/%02x: %s", d[0],
					     dfd == -ELOOP || dfd == -ENOTDIR ?
					     "not a folder (a symbolic link?): refused" : strerror(-dfd));
		if (dirs)
			dirs[d[0]] = dfd;
	}
	cbt__hex(d, hex);
	if (utimensat(dfd, hex, NULL, AT_SYMLINK_NOFOLLOW))
		ret = -errno;
	else {
		struct stat st;

		if (fstatat(dfd, hex, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			ret = -ENOENT;
	}
	if (!dirs)
		close(dfd);
	return ret;
}

int cbt__chunks_touch(struct cbt_repo *r, const uint8_t *digests, size_t n, uint8_t *missing)
{
	int dirs[256], ret = 0, any = 0;
	size_t i;

	for (i = 0; i < 256; i++)
		dirs[i] = -1;
	ret = cbt__flock(r->chunk_lock_fd, LOCK_SH);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		ret = touch_locked(r, digests + i * CBT__DIGEST_LEN, n > 1 ? dirs : NULL);
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
	cbt__flock(r->chunk_lock_fd, LOCK_UN);
	for (i = 0; i < 256; i++)
		if (dirs[i] >= 0)
			close(dirs[i]);
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
	char hex[65], tmp[32];
	size_t bound, clen;
	void *cbuf;
	int ret, fd, dfd;

	if (stored)
		*stored = 0;
	ret = cbt__chunks_touch(r, d, 1, NULL);
	if (ret != -ENOENT)
		return ret;
	ret = cbt__repo_workspace(r);
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
	if (!ret)
		sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	close(fd);
	if (ret) {
		unlinkat(r->ws_fd, tmp, 0);
		return cbt__repo_err(r, ret, "writing a chunk: %s", strerror(-ret));
	}
	cbt__hex(d, hex);
	ret = cbt__flock(r->chunk_lock_fd, LOCK_SH);
	if (ret)
		return ret;
	dfd = chunk_dir(r, d, 1);
	if (dfd < 0) {
		ret = dfd == -ENOTDIR ? -ELOOP : dfd;
	} else {
		if (renameat(r->ws_fd, tmp, dfd, hex))
			ret = -errno;
		close(dfd);
	}
	cbt__flock(r->chunk_lock_fd, LOCK_UN);
	if (ret) {
		unlinkat(r->ws_fd, tmp, 0);
		return cbt__repo_err(r, ret, "chunks/%.2s/%s: %s", hex, hex,
				     ret == -ELOOP ? "its folder is not a folder (a symbolic link?): refused" :
				     strerror(-ret));
	}
	if (r->npending == r->cap_pending) {
		size_t cap = r->cap_pending ? r->cap_pending * 2 : 256;
		uint8_t *p = realloc(r->pending, cap * CBT__DIGEST_LEN);

		if (!p)
			return -ENOMEM;
		r->pending = p;
		r->cap_pending = cap;
	}
	memcpy(r->pending + r->npending++ * CBT__DIGEST_LEN, d, CBT__DIGEST_LEN);
	if (stored)
		*stored = clen;
	return 0;
}

int cbt__chunks_sync(struct cbt_repo *r)
{
	uint8_t dirs[256] = { 0 };
	char hex[65], sub[3];
	size_t i;
	int dfd, fd, ret = 0;

	for (i = 0; i < r->npending && !ret; i++) {
		const uint8_t *d = r->pending + i * CBT__DIGEST_LEN;

		cbt__hex(d, hex);
		dirs[d[0]] = 1;
		dfd = chunk_dir(r, d, 0);
		if (dfd < 0) {
			ret = dfd;
			break;
		}
		fd = openat(dfd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		close(dfd);
		if (fd < 0 && errno == ENOENT)
			continue;	/* gone meanwhile: then the point is refused by verify */
		if (fd < 0 || fsync(fd))
			ret = -errno;
		if (fd >= 0)
			close(fd);
	}
	for (i = 0; i < 256 && !ret; i++) {
		if (!dirs[i])
			continue;
		snprintf(sub, sizeof(sub), "%02zx", i);
		dfd = cbt__open_dir(r->chunks_fd, sub);
		if (dfd < 0 || fsync(dfd))
			ret = dfd < 0 ? dfd : -errno;
		if (dfd >= 0)
			close(dfd);
	}
	if (!ret && fsync(r->chunks_fd))
		ret = -errno;
	if (ret)
		return cbt__repo_err(r, ret, "chunks: sync: %s", strerror(-ret));
	r->npending = 0;
	return 0;
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

	cbt__hex(d, hex);
	dfd = chunk_dir(r, d, 0);
	if (dfd < 0)
		return cbt__repo_err(r, dfd, "chunk %s: %s", hex,
				     dfd == -ENOENT ? "missing" :
				     dfd == -ELOOP || dfd == -ENOTDIR ?
				     "its folder is not a folder (a symbolic link?): refused" :
				     strerror(-dfd));
	fd = openat(dfd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	close(dfd);
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
	char hex[65], bad[70];
	int dfd;

	cbt__hex(d, hex);
	snprintf(bad, sizeof(bad), "%s.bad", hex);
	dfd = chunk_dir(r, d, 0);
	if (dfd < 0)
		return;
	if (cbt__flock(r->chunk_lock_fd, LOCK_SH) == 0) {
		renameat(dfd, hex, dfd, bad);
		cbt__flock(r->chunk_lock_fd, LOCK_UN);
	}
	close(dfd);
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
