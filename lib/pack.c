// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * pack.c - the pack file: many chunks in one file (docs/repository-format.md).
 *
 *   frames   one zstd frame per chunk, back to back from offset 0
 *   table    per chunk, in frame order: its SHA-256 (32 bytes), its frame's
 *            length and the chunk's length (4 bytes each, little-endian)
 *   trailer  "CBTPACK1", the chunk count (4), 0 (4), the SHA-256 of the table
 *
 * A pack is named by the SHA-256 of its table, so a reader checks the table
 * against the name; each chunk is checked against its own digest when read.
 * A pack written (by a backup, or copied by gc and verify) is read back
 * whole before anything counts on it. This file knows the format only:
 * chunk.c decides what goes in which pack.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "repo.h"

int cbt__write_all(int fd, const void *buf, size_t len)
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

int cbt__pread_all(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA;	/* shorter than its size */
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

void cbt__pack_table_free(struct cbt__pack_table *t)
{
	free(t->tab);
	t->tab = NULL;
	t->count = 0;
}

int cbt__pack_table_read(int fd, struct cbt__pack_table *t)
{
	uint8_t tr[CBT__PACK_TRAILER], sum[CBT__DIGEST_LEN];
	uint64_t size, tlen, total = 0;
	struct stat st;
	uint32_t i;
	int ret;

	memset(t, 0, sizeof(*t));
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < CBT__PACK_TRAILER ||
	    st.st_size > CBT__PACK_MAX_SIZE)
		return -EBADMSG;
	size = (uint64_t)st.st_size;
	ret = cbt__pread_all(fd, tr, sizeof(tr), size - sizeof(tr));
	if (ret)
		return ret == -ENODATA ? -EBADMSG : ret;
	if (memcmp(tr, CBT__PACK_MAGIC, 8) || cbt__le32(tr + 12))
		return -EBADMSG;
	t->count = cbt__le32(tr + 8);
	tlen = (uint64_t)t->count * CBT__PACK_ENTRY;
	if (!t->count || t->count > CBT__PACK_MAX_COUNT || tlen > size - sizeof(tr))
		return -EBADMSG;
	t->data_len = size - sizeof(tr) - tlen;
	t->tab = malloc(tlen);
	if (!t->tab)
		return -ENOMEM;
	ret = cbt__pread_all(fd, t->tab, tlen, t->data_len);
	if (ret)
		goto bad;
	cbt__sha256(t->tab, tlen, sum);
	ret = -EBADMSG;
	if (memcmp(sum, tr + 16, CBT__DIGEST_LEN))
		goto bad;
	for (i = 0; i < t->count; i++) {
		const uint8_t *e = t->tab + (size_t)i * CBT__PACK_ENTRY;

		if (!cbt__le32(e + 32) || !cbt__le32(e + 36) ||
		    cbt__le32(e + 36) > LIBCBT_REPO_CHUNK_MAX ||
		    cbt__le32(e + 32) > ZSTD_compressBound(cbt__le32(e + 36)))
			goto bad;
		total += cbt__le32(e + 32);
	}
	if (total != t->data_len)
		goto bad;
	memcpy(t->name, sum, CBT__DIGEST_LEN);
	return 0;
bad:
	cbt__pack_table_free(t);
	return ret == -ENODATA ? -EBADMSG : ret;
}

int cbt__pack_end(int fd, const uint8_t *tab, uint32_t count, uint8_t name[CBT__DIGEST_LEN])
{
	uint8_t tr[CBT__PACK_TRAILER] = { 0 };
	size_t tlen = (size_t)count * CBT__PACK_ENTRY;
	int ret;

	memcpy(tr, CBT__PACK_MAGIC, 8);
	cbt__put_le32(tr + 8, count);
	cbt__sha256(tab, tlen, tr + 16);
	ret = cbt__write_all(fd, tab, tlen);
	if (!ret)
		ret = cbt__write_all(fd, tr, sizeof(tr));
	if (!ret)
		memcpy(name, tr + 16, CBT__DIGEST_LEN);
	return ret;
}

/* Copy the kept frames of @src into @fd; @tab gets their entries. */
static int copy_frames(int fd, int src, const struct cbt__pack_table *t, const uint8_t *keep,
		       uint8_t *tab, uint32_t *n)
{
	uint64_t off = 0;
	uint32_t i, clen;
	char *buf = NULL;
	size_t cap = 0;
	int ret = 0;

	*n = 0;
	for (i = 0; i < t->count && !ret; i++, off += clen) {
		const uint8_t *e = t->tab + (size_t)i * CBT__PACK_ENTRY;

		clen = cbt__le32(e + 32);
		if (!keep[i])
			continue;
		if (clen > cap) {
			char *nb = realloc(buf, clen);

			if (!nb) {
				ret = -ENOMEM;
				break;
			}
			buf = nb;
			cap = clen;
		}
		ret = cbt__pread_all(src, buf, clen, off);
		if (!ret)
			ret = cbt__write_all(fd, buf, clen);
		if (!ret)
			memcpy(tab + (size_t)(*n)++ * CBT__PACK_ENTRY, e, CBT__PACK_ENTRY);
	}
	free(buf);
	return ret == -ENODATA ? -EBADMSG : ret;
}

int cbt__pack_copy(struct cbt_repo *r, int src, const struct cbt__pack_table *t,
		   const uint8_t *keep, uint8_t name[CBT__DIGEST_LEN], uint64_t *size)
{
	char tmp[32], hex[65];
	uint8_t *tab;
	struct stat st;
	uint32_t n;
	int fd, ret;

	ret = cbt__repo_workspace(r);
	if (ret)
		return ret;
	tab = malloc((size_t)t->count * CBT__PACK_ENTRY);
	if (!tab)
		return -ENOMEM;
	cbt__repo_tmpname(r, tmp, "repack");
	fd = openat(r->ws_fd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(tab);
		return -errno;
	}
	ret = copy_frames(fd, src, t, keep, tab, &n);
	if (!ret)
		ret = n ? cbt__pack_end(fd, tab, n, name) : -EINVAL;
	if (!ret && (fsync(fd) || fstat(fd, &st)))
		ret = -errno;
	if (!ret)
		ret = cbt__pack_read_back(r, fd, name);	/* before the old one goes */
	free(tab);
	close(fd);
	if (!ret) {
		cbt__hex(name, hex);
		if (renameat(r->ws_fd, tmp, r->packs_fd, hex) || fsync(r->packs_fd))
			ret = -errno;
		else
			*size = (uint64_t)st.st_size;
	}
	if (ret)
		unlinkat(r->ws_fd, tmp, 0);
	return ret;
}

/* ---- checking frames ------------------------------------------------------------ */

/* Decompress frame @cbuf of @clen bytes into @buf and check it is chunk @d. */
int cbt__pack_frame_check(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN], const void *cbuf,
			  size_t clen, void *buf, size_t len)
{
	uint8_t got[CBT__DIGEST_LEN];
	size_t n;

	if (ZSTD_getFrameContentSize(cbuf, clen) != len)
		return -EBADMSG;
	if (!r->zd && !(r->zd = ZSTD_createDCtx()))
		return -ENOMEM;
	n = ZSTD_decompressDCtx(r->zd, buf, len, cbuf, clen);
	if (ZSTD_isError(n) || n != len)
		return -EBADMSG;
	cbt__sha256(buf, len, got);
	return memcmp(got, d, CBT__DIGEST_LEN) ? -EBADMSG : 0;
}

/*
 * Drop from @keep every frame of pack @fd (table @t) that is not the chunk
 * its entry names. The number dropped, or a negative errno when one could
 * not be read (nothing is known damaged then).
 */
int cbt__pack_frames_check(struct cbt_repo *r, int fd, const struct cbt__pack_table *t,
			   uint8_t *keep)
{
	void *cbuf = malloc(ZSTD_compressBound(r->chunk_size)), *buf = malloc(r->chunk_size);
	uint32_t i, clen, len;
	uint64_t off = 0;
	int ret = -ENOMEM, bad = 0;

	if (!cbuf || !buf)
		goto out;
	for (i = 0; i < t->count; i++, off += clen) {
		const uint8_t *e = t->tab + (size_t)i * CBT__PACK_ENTRY;

		clen = cbt__le32(e + 32);
		len = cbt__le32(e + 36);
		if (!keep[i])
			continue;
		ret = -EBADMSG;
		if (len <= r->chunk_size && clen <= ZSTD_compressBound(len)) {
			ret = cbt__pread_all(fd, cbuf, clen, off);
			if (!ret)
				ret = cbt__pack_frame_check(r, e, cbuf, clen, buf, len);
			else if (ret == -ENODATA)
				ret = -EBADMSG;
		}
		if (ret && ret != -EBADMSG)
			goto out;
		if (ret) {
			keep[i] = 0;
			bad++;
		}
	}
	ret = bad;
out:
	free(cbuf);
	free(buf);
	return ret;
}

int cbt__pack_read_back(struct cbt_repo *r, int fd, const uint8_t name[CBT__DIGEST_LEN])
{
	struct cbt__pack_table t;
	uint8_t *keep;
	int ret;

	ret = cbt__pack_table_read(fd, &t);
	if (ret)
		return ret;
	keep = malloc(t.count);
	if (memcmp(t.name, name, CBT__DIGEST_LEN))
		ret = -EBADMSG;
	else if (!keep)
		ret = -ENOMEM;
	else
		memset(keep, 1, t.count);
	if (!ret) {
		ret = cbt__pack_frames_check(r, fd, &t, keep);
		ret = ret > 0 ? -EBADMSG : ret;
	}
	free(keep);
	cbt__pack_table_free(&t);
	return ret;
}
