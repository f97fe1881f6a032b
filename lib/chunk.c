// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * chunk.c - the chunk store. A chunk is named by the SHA-256 of its bytes
 * (OpenSSL's EVP), compressed as one zstd frame and kept in a pack file
 * (pack.c: packs/<name>) with many others, so identical chunks are stored
 * once, across points and volumes, and a small chunk costs no file of its
 * own.
 *
 * The map: every pack in packs/ is read once (its table) into a hash of
 * digest -> (pack, offset, length); chunks of this run are added as they
 * are written. A writer appends new chunks to a pack in its workspace,
 * closed past CBT__PACK_TARGET bytes; cbt__chunks_sync(), before a point
 * is committed, does one syncfs (every pack's bytes on disk), renames each
 * pack into packs/ and fsyncs the folder. So a name in packs/ never points
 * at bytes that a power cut could lose, and no index names a chunk not in
 * place.
 *
 * gc safety (with repo.c's cutoff): a writer that counts on a stored chunk
 * sets its pack's mtime to now, once a run, under chunks.lock shared; gc
 * rewrites or removes a pack only under chunks.lock exclusive, and only
 * one last touched before the cutoff. A pack found gone is a chunk
 * missing: the writer stores it again. A reader that finds a pack gone
 * (gc rewrote it) scans packs/ again.
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
#define NO_PACK	UINT32_MAX

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

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int cbt__unhex(const char *s, uint8_t d[CBT__DIGEST_LEN])
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

void cbt__chunk_ctx_free(struct cbt_repo *r)
{
	ZSTD_freeCCtx(r->zc);
	ZSTD_freeDCtx(r->zd);
	r->zc = r->zd = NULL;
}

/*
 * chunks.lock, shared, around "is it there? keep its pack" and the renames
 * of cbt__chunks_sync(); never while the source is read (gc waits for it,
 * and a source may be slow).
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

/* ---- the map: digest -> where ------------------------------------------------ */

static size_t loc_slot(const struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN])
{
	uint64_t h;

	memcpy(&h, d, sizeof(h));	/* a SHA-256: its bytes are the hash */
	return (size_t)h & (r->ht_size - 1);
}

static struct cbt__loc *loc_find(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN])
{
	size_t i;

	if (!r->ht_size)
		return NULL;
	for (i = loc_slot(r, d); r->loc_ht[i]; i = (i + 1) & (r->ht_size - 1)) {
		struct cbt__loc *l = &r->locs[r->loc_ht[i] - 1];

		if (!memcmp(l->d, d, CBT__DIGEST_LEN))
			return l;
	}
	return NULL;
}

static void loc_hash(struct cbt_repo *r, size_t k)
{
	size_t i = loc_slot(r, r->locs[k].d);

	while (r->loc_ht[i])
		i = (i + 1) & (r->ht_size - 1);
	r->loc_ht[i] = (uint32_t)(k + 1);
}

/* Room for @more locations (the hash at most half full). */
static int loc_room(struct cbt_repo *r, size_t more)
{
	size_t k, need = r->nlocs + more;

	if (need >= UINT32_MAX / 2)
		return -ENOMEM;
	if (need > r->cap_locs) {
		size_t cap = r->cap_locs ? r->cap_locs : 1024;
		struct cbt__loc *l;

		while (cap < need)
			cap *= 2;
		l = realloc(r->locs, cap * sizeof(*l));
		if (!l)
			return -ENOMEM;
		r->locs = l;
		r->cap_locs = cap;
	}
	if (2 * need > r->ht_size) {
		size_t size = r->ht_size ? r->ht_size : 4096;
		uint32_t *ht;

		while (size < 2 * need)
			size *= 2;
		ht = calloc(size, sizeof(*ht));
		if (!ht)
			return -ENOMEM;
		free(r->loc_ht);
		r->loc_ht = ht;
		r->ht_size = size;
		for (k = 0; k < r->nlocs; k++)
			loc_hash(r, k);
	}
	return 0;
}

/*
 * Record chunk @d at @off in pack @pack (room made by loc_room): a chunk
 * already known keeps its place unless that pack is gone or @replace.
 */
static void loc_add(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN], uint32_t pack,
		    uint64_t off, uint32_t clen, int replace)
{
	struct cbt__loc *l = loc_find(r, d);

	if (!l) {
		l = &r->locs[r->nlocs];
		memcpy(l->d, d, CBT__DIGEST_LEN);
		loc_hash(r, r->nlocs++);
	} else if (!replace && !r->packs[l->pack].gone) {
		return;
	}
	l->pack = pack;
	l->off = off;
	l->clen = clen;
}

/* A new entry in r->packs: its index, or NO_PACK. */
static uint32_t pack_new(struct cbt_repo *r, const uint8_t name[CBT__DIGEST_LEN], unsigned int seq)
{
	struct cbt__pack *p;

	if (r->npacks >= UINT32_MAX - 1)
		return NO_PACK;
	if (r->npacks == r->cap_packs) {
		size_t cap = r->cap_packs ? r->cap_packs * 2 : 64;

		p = realloc(r->packs, cap * sizeof(*p));
		if (!p)
			return NO_PACK;
		r->packs = p;
		r->cap_packs = cap;
	}
	p = &r->packs[r->npacks];
	memset(p, 0, sizeof(*p));
	if (name)
		memcpy(p->name, name, CBT__DIGEST_LEN);
	p->seq = seq;
	return (uint32_t)r->npacks++;
}

static void rd_close(struct cbt_repo *r)
{
	unsigned int i;

	for (i = 0; i < CBT__PACK_RD; i++) {
		if (r->rd_fd[i] >= 0)
			close(r->rd_fd[i]);
		r->rd_fd[i] = -1;
	}
}

static int cmp_pack_name(const void *a, const void *b, void *arg)
{
	const struct cbt__pack *p = arg;

	return memcmp(p[*(const uint32_t *)a].name, p[*(const uint32_t *)b].name, CBT__DIGEST_LEN);
}

/* The packs in place we know by name, sorted (for a rescan). */
static uint32_t *known_packs(struct cbt_repo *r, size_t *n)
{
	uint32_t *k = malloc((r->npacks + 1) * sizeof(*k));
	size_t i;

	*n = 0;
	if (!k)
		return NULL;
	for (i = 0; i < r->npacks; i++)
		if (!r->packs[i].seq)
			k[(*n)++] = (uint32_t)i;
	qsort_r(k, *n, sizeof(*k), cmp_pack_name, r->packs);
	return k;
}

/*
 * A known pack named @name found again: every entry of that name is back
 * (two entries may share a name: the same pack stored again). 0 if none.
 */
static int known_back(struct cbt_repo *r, const uint32_t *k, size_t n,
		      const uint8_t name[CBT__DIGEST_LEN])
{
	size_t lo = 0, hi = n;
	int found = 0;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (memcmp(r->packs[k[mid]].name, name, CBT__DIGEST_LEN) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < n && !memcmp(r->packs[k[lo]].name, name, CBT__DIGEST_LEN); lo++) {
		r->packs[k[lo]].gone = 0;
		found = 1;
	}
	return found;
}

/*
 * Add pack packs/@name (open as @fd) and its chunks to the map. A pack we
 * cannot read (damaged, hostile, an I/O error) is passed over: 0.
 */
static int map_add_pack(struct cbt_repo *r, int fd, const uint8_t name[CBT__DIGEST_LEN])
{
	struct cbt__pack_table t;
	uint64_t off = 0;
	uint32_t i, pi;
	int ret;

	if (cbt__pack_table_read(fd, &t))
		return 0;
	ret = 0;		/* a table that does not match its name: passed over */
	if (memcmp(t.name, name, CBT__DIGEST_LEN))
		goto out;
	ret = loc_room(r, t.count);
	if (ret)
		goto out;
	ret = -ENOMEM;
	pi = pack_new(r, name, 0);
	if (pi == NO_PACK)
		goto out;
	for (i = 0; i < t.count; i++) {
		const uint8_t *e = t.tab + (size_t)i * CBT__PACK_ENTRY;

		loc_add(r, e, pi, off, cbt__le32(e + 32), 0);
		off += cbt__le32(e + 32);
	}
	ret = 0;
out:
	cbt__pack_table_free(&t);
	return ret;
}

static int map_scan_locked(struct cbt_repo *r)
{
	uint8_t name[CBT__DIGEST_LEN];
	struct dirent *de;
	uint32_t *known;
	size_t nknown, i;
	DIR *dir;
	int fd, ret = 0;

	rd_close(r);
	for (i = 0; i < r->npacks; i++)
		if (!r->packs[i].seq)
			r->packs[i].gone = 1;
	known = known_packs(r, &nknown);
	fd = fcntl(r->packs_fd, F_DUPFD_CLOEXEC, 0);
	dir = known && fd >= 0 ? fdopendir(fd) : NULL;
	if (!dir) {
		ret = known ? -errno : -ENOMEM;
		if (fd >= 0)
			close(fd);
		free(known);
		return ret;
	}
	rewinddir(dir);
	while (!ret && (de = readdir(dir))) {
		if (cbt__unhex(de->d_name, name) || known_back(r, known, nknown, name))
			continue;
		fd = openat(r->packs_fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			continue;
		ret = map_add_pack(r, fd, name);
		close(fd);
	}
	closedir(dir);
	free(known);
	if (!ret)
		r->map_read = 1;
	return ret;
}

/*
 * Read packs/ into the map: on a rescan, packs in place not found again
 * are gone (their chunks missing unless found elsewhere), packs we know
 * are not read again. A pack whose table is damaged is passed over: its
 * chunks are missing, and gc never removes it. Under chunks.lock shared:
 * gc renames a rewritten pack in and the old one out under it exclusive,
 * so the scan sees one of the two.
 */
static int map_scan(struct cbt_repo *r)
{
	int held = r->chunk_locked, ret;

	ret = chunk_lock(r);
	if (ret)
		return ret;
	ret = map_scan_locked(r);
	if (!held)
		chunk_unlock(r);
	return ret;
}

static int map_ready(struct cbt_repo *r)
{
	return r->map_read ? 0 : map_scan(r);
}

static void map_free(struct cbt_repo *r)
{
	rd_close(r);
	free(r->packs);
	free(r->locs);
	free(r->loc_ht);
	r->packs = NULL;
	r->locs = NULL;
	r->loc_ht = NULL;
	r->npacks = r->cap_packs = r->nlocs = r->cap_locs = r->ht_size = 0;
	r->map_read = 0;
}

/* ---- keeping stored chunks ----------------------------------------------------- */

/*
 * Under chunks.lock (shared): keep pack @pi for this run (its mtime set
 * once, so gc keeps it): 0, or -ENOENT when it is gone.
 */
static int pack_keep_locked(struct cbt_repo *r, uint32_t pi)
{
	struct cbt__pack *p = &r->packs[pi];
	struct stat st;
	char hex[65];

	if (p->gone)
		return -ENOENT;
	if (p->seq || p->touched)
		return 0;
	cbt__hex(p->name, hex);
	if (utimensat(r->packs_fd, hex, NULL, AT_SYMLINK_NOFOLLOW)) {
		if (errno != ENOENT)
			return cbt__repo_err(r, -errno, "packs/%s: %s", hex, strerror(errno));
		p->gone = 1;
		return -ENOENT;
	}
	if (fstatat(r->packs_fd, hex, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode)) {
		p->gone = 1;
		return -ENOENT;
	}
	p->touched = 1;
	/* Its name may be another writer's rename, not yet fsynced: ours too. */
	r->sync_packs = 1;
	return 0;
}

/* Under chunks.lock: 0 when chunk @d is stored and kept, -ENOENT, or an error. */
static int keep_locked(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN])
{
	const struct cbt__loc *l = loc_find(r, d);

	return l ? pack_keep_locked(r, l->pack) : -ENOENT;
}

int cbt__chunks_touch(struct cbt_repo *r, const uint8_t *digests, size_t n, size_t stride,
		      uint8_t *missing)
{
	int ret, any = 0;
	size_t i;

	ret = map_ready(r);
	if (!ret)
		ret = chunk_lock(r);
	if (ret)
		return ret;
	for (i = 0; i < n; i++) {
		ret = keep_locked(r, digests + i * stride);
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

/* ---- writing ------------------------------------------------------------------ */

/*
 * A pack failed to be written (ENOSPC, EIO): it is never put in place,
 * and what this handle wrote since its last sync is lost, so every later
 * put and sync fails too (the point being written cannot be committed).
 */
static int pack_broken(struct cbt_repo *r, int err)
{
	if (r->cur_fd >= 0)
		close(r->cur_fd);
	r->cur_fd = -1;
	r->cur_n = 0;
	r->cur_off = 0;
	r->packs[r->cur_pack].gone = 1;
	r->pack_err = err;
	return cbt__repo_err(r, err, "writing a pack: %s", strerror(-err));
}

/* Close the pack being written: its table and trailer, and its name. */
static int pack_close_cur(struct cbt_repo *r)
{
	int ret;

	if (r->cur_fd < 0)
		return 0;
	ret = cbt__pack_end(r->cur_fd, r->cur_tab, r->cur_n, r->packs[r->cur_pack].name);
	if (ret)
		return pack_broken(r, ret);
	/*
	 * Read it back while the page cache still holds it: what a point will
	 * name is what was meant, as the filesystem gives it back (media
	 * errors are verify's).
	 */
	ret = cbt__pack_read_back(r, r->cur_fd, r->packs[r->cur_pack].name);
	if (ret == -EBADMSG) {
		pack_broken(r, -EIO);
		return cbt__repo_err(r, -EIO, "a pack this run wrote reads back damaged: "
				     "nothing of this run is put in place");
	}
	if (ret)
		return pack_broken(r, ret);
	ret = close(r->cur_fd) ? -errno : 0;
	r->cur_fd = -1;
	r->cur_n = 0;
	r->cur_off = 0;
	if (ret) {
		r->pack_err = ret;
		return cbt__repo_err(r, ret, "writing a pack: %s", strerror(-ret));
	}
	return 0;
}

/* This handle's writes stopped by a pack that failed: the error, else 0. */
static int pack_failed(struct cbt_repo *r)
{
	if (!r->pack_err)
		return 0;
	return cbt__repo_err(r, r->pack_err,
			     "a pack failed to be written earlier (%s): open the repository again",
			     strerror(-r->pack_err));
}

/* A pack to append to, in the workspace, with room for one more entry. */
static int pack_open_cur(struct cbt_repo *r)
{
	char tmp[32];
	uint32_t pi;
	int ret;

	if (r->cur_fd < 0) {
		ret = cbt__repo_workspace(r);
		if (ret)
			return ret;
		cbt__repo_tmpname(r, tmp, "pack");
		pi = pack_new(r, NULL, r->tmp_seq);
		if (pi == NO_PACK)
			return -ENOMEM;
		r->cur_fd = openat(r->ws_fd, tmp,
				   O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (r->cur_fd < 0) {
			r->npacks--;
			return cbt__repo_err(r, -errno, "tmp/%s/%s: %s", r->token, tmp,
					     strerror(errno));
		}
		r->cur_pack = pi;
		r->packs[pi].touched = 1;
	}
	if (r->cur_n == r->cur_cap) {
		uint32_t cap = r->cur_cap ? r->cur_cap * 2 : 256;
		uint8_t *t = realloc(r->cur_tab, (size_t)cap * CBT__PACK_ENTRY);

		if (!t)
			return -ENOMEM;
		r->cur_tab = t;
		r->cur_cap = cap;
	}
	return 0;
}

/* Append compressed chunk @d to the pack being written. */
static int pack_append(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN], const void *frame,
		       size_t clen, size_t len)
{
	uint8_t *e;
	int ret;

	ret = pack_open_cur(r);
	if (!ret)
		ret = loc_room(r, 1);
	if (ret)
		return ret;
	ret = cbt__write_all(r->cur_fd, frame, clen);
	if (ret)
		return pack_broken(r, ret);
	e = r->cur_tab + (size_t)r->cur_n++ * CBT__PACK_ENTRY;
	memcpy(e, d, CBT__DIGEST_LEN);
	cbt__put_le32(e + 32, (uint32_t)clen);
	cbt__put_le32(e + 36, (uint32_t)len);
	loc_add(r, d, r->cur_pack, r->cur_off, (uint32_t)clen, 1);
	r->cur_off += clen;
	if (r->cur_off >= (r->pack_target ? r->pack_target : CBT__PACK_TARGET) ||
	    r->cur_n >= CBT__PACK_MAX_COUNT)
		return pack_close_cur(r);
	return 0;
}

int cbt__chunk_put(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN], const void *data,
		   size_t len, uint64_t *stored)
{
	size_t bound, clen;
	void *cbuf;
	int ret;

	if (stored)
		*stored = 0;
	ret = pack_failed(r);
	if (!ret)
		ret = map_ready(r);
	if (!ret)
		ret = chunk_lock(r);
	if (ret)
		return ret;
	ret = keep_locked(r, d);
	chunk_unlock(r);
	if (ret != -ENOENT)
		return ret;
	if (len > UINT32_MAX / 2)
		return -EINVAL;
	if (!r->zc && !(r->zc = ZSTD_createCCtx()))
		return -ENOMEM;
	bound = ZSTD_compressBound(len);
	cbuf = malloc(bound);
	if (!cbuf)
		return -ENOMEM;
	clen = ZSTD_compressCCtx(r->zc, cbuf, bound, data, len, ZLEVEL);
	if (ZSTD_isError(clen))
		ret = cbt__repo_err(r, -EIO, "zstd: %s", ZSTD_getErrorName(clen));
	else
		ret = pack_append(r, d, cbuf, clen, len);
	free(cbuf);
	if (!ret && stored)
		*stored = clen;
	return ret;
}

int cbt__chunks_sync(struct cbt_repo *r)
{
	char hex[65], tmp[32];
	struct cbt__pack *p;
	size_t i;
	int ret, any = 0;

	ret = pack_failed(r);
	if (!ret)
		ret = pack_close_cur(r);
	if (ret)
		return ret;
	for (i = 0; i < r->npacks; i++)
		any |= r->packs[i].seq != 0;
	/*
	 * Every pack's bytes on disk first, in one call: a name in packs/
	 * never points at bytes a power cut could lose, so a later backup
	 * that finds a chunk there may build on it.
	 */
	if (any && syncfs(r->ws_fd))
		return cbt__repo_err(r, -errno, "packs: syncfs: %s", strerror(errno));
	ret = chunk_lock(r);
	for (i = 0; i < r->npacks && !ret; i++) {
		p = &r->packs[i];
		if (!p->seq)
			continue;	/* in place (maybe by a sync that failed after it) */
		cbt__hex(p->name, hex);
		snprintf(tmp, sizeof(tmp), "pack.%u", p->seq);
		if (renameat(r->ws_fd, tmp, r->packs_fd, hex)) {
			ret = cbt__repo_err(r, -errno, "packs/%s: %s", hex, strerror(errno));
			break;
		}
		p->seq = 0;
		r->sync_packs = 1;
	}
	chunk_unlock(r);
	/* The names: of packs placed now, and of packs we count on. */
	if (!ret && r->sync_packs) {
		if (fsync(r->packs_fd))
			return cbt__repo_err(r, -errno, "packs: fsync: %s", strerror(errno));
		r->sync_packs = 0;
	}
	return ret;
}

void cbt__chunks_close(struct cbt_repo *r)
{
	chunk_unlock(r);
	if (r->cur_fd >= 0)
		close(r->cur_fd);
	r->cur_fd = -1;
	free(r->cur_tab);
	r->cur_tab = NULL;
	r->cur_n = r->cur_cap = 0;
	r->cur_off = 0;
	map_free(r);
}

/* ---- reading ------------------------------------------------------------------ */

/* An fd of pack @pi to read from (kept open: do not close), or -errno. */
static int pack_fd(struct cbt_repo *r, uint32_t pi)
{
	const struct cbt__pack *p = &r->packs[pi];
	char name[65];
	unsigned int i;
	int fd;

	if (pi == r->cur_pack && r->cur_fd >= 0)
		return r->cur_fd;
	for (i = 0; i < CBT__PACK_RD; i++)
		if (r->rd_fd[i] >= 0 && r->rd_pack[i] == pi)
			return r->rd_fd[i];
	if (p->seq) {
		snprintf(name, sizeof(name), "pack.%u", p->seq);
		fd = openat(r->ws_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	} else {
		cbt__hex(p->name, name);
		fd = openat(r->packs_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	}
	if (fd < 0)
		return -errno;
	i = r->rd_next++ % CBT__PACK_RD;
	if (r->rd_fd[i] >= 0)
		close(r->rd_fd[i]);
	r->rd_fd[i] = fd;
	r->rd_pack[i] = pi;
	return fd;
}

/* Read chunk @d from where the map says: -ENOENT when its pack is gone. */
static int chunk_read(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN], void *buf,
		      size_t len)
{
	const struct cbt__loc *l = loc_find(r, d);
	void *cbuf;
	int fd, ret;

	if (!l || r->packs[l->pack].gone)
		return -ENOENT;
	if (l->clen > ZSTD_compressBound(len))
		return -EBADMSG;
	fd = pack_fd(r, l->pack);
	if (fd < 0) {
		if (fd == -ENOENT)
			r->packs[l->pack].gone = 1;
		return fd;
	}
	cbuf = malloc(l->clen);
	if (!cbuf)
		return -ENOMEM;
	ret = cbt__pread_all(fd, cbuf, l->clen, l->off);
	if (!ret)
		ret = cbt__pack_frame_check(r, d, cbuf, l->clen, buf, len);
	else if (ret == -ENODATA)
		ret = -EBADMSG;
	free(cbuf);
	return ret;
}

/*
 * Chunk @d is damaged where the map says. Two writers that stored it at
 * once left a copy each: read another pack's, and keep to it.
 */
static int chunk_read_other(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN], void *buf,
			    size_t len)
{
	struct cbt__loc *l = loc_find(r, d);
	struct cbt__pack_table t;
	uint32_t pi, i, clen;
	uint64_t off;
	void *cbuf;
	int fd, ret = -EBADMSG;

	for (pi = 0; ret && pi < r->npacks; pi++) {
		if (pi == l->pack || r->packs[pi].gone || r->packs[pi].seq)
			continue;
		fd = pack_fd(r, pi);
		if (fd < 0 || cbt__pack_table_read(fd, &t))
			continue;
		for (i = 0, off = 0; ret && i < t.count; i++, off += clen) {
			const uint8_t *e = t.tab + (size_t)i * CBT__PACK_ENTRY;

			clen = cbt__le32(e + 32);
			if (memcmp(e, d, CBT__DIGEST_LEN) || (cbuf = malloc(clen)) == NULL)
				continue;
			if (!cbt__pread_all(fd, cbuf, clen, off) &&
			    !cbt__pack_frame_check(r, d, cbuf, clen, buf, len)) {
				memcpy(r->bad_copy_pack, r->packs[l->pack].name,
				       CBT__DIGEST_LEN);
				memcpy(r->bad_copy_d, d, CBT__DIGEST_LEN);
				r->bad_copy = !r->packs[l->pack].seq;
				l->pack = pi;
				l->off = off;
				l->clen = clen;
				ret = 0;
			}
			free(cbuf);
		}
		cbt__pack_table_free(&t);
	}
	return ret;
}

int cbt__chunk_get(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN], void *buf, size_t len)
{
	char hex[65];
	int ret;

	r->bad_copy = 0;
	ret = map_ready(r);
	if (ret)
		return cbt__repo_err(r, ret, "packs: %s", strerror(-ret));
	ret = chunk_read(r, d, buf, len);
	if (ret == -ENOENT) {
		/* gc may have rewritten its pack, another writer stored it */
		ret = map_scan(r);
		if (!ret)
			ret = chunk_read(r, d, buf, len);
	}
	if (ret == -EBADMSG)
		ret = chunk_read_other(r, d, buf, len);
	if (!ret)
		return 0;
	cbt__hex(d, hex);
	return cbt__repo_err(r, ret, "chunk %s: %s", hex,
			     ret == -ENOENT ? "missing" :
			     ret == -EBADMSG ? "damaged (digest mismatch)" : strerror(-ret));
}

/* ---- rewriting packs (gc, quarantine): under chunks.lock exclusive --------------- */

static int chunk_lock_ex(struct cbt_repo *r)
{
	chunk_unlock(r);	/* ours, shared, if held: EX takes its place */
	return cbt__flock(r->chunk_lock_fd, LOCK_EX);
}

static void chunk_unlock_ex(struct cbt_repo *r)
{
	cbt__flock(r->chunk_lock_fd, LOCK_UN);
	r->map_read = 0;	/* packs changed: scan again when next needed */
}

/*
 * Under chunks.lock exclusive: rewrite packs/@hex (open as @fd, table @t)
 * with the chunks @keep marks that are intact, or remove it when none.
 * Every kept frame is checked first, in the bytes now under that name:
 * a damaged one is dropped, never copied (a new pack of the same table
 * has the same name and would replace an intact one), and the old pack
 * is then kept as <hex>.bad. Nothing to drop: the pack stays as it is.
 * *freed gets the bytes given back.
 */
static int pack_rewrite(struct cbt_repo *r, int fd, const char *hex,
			const struct cbt__pack_table *t, uint8_t *keep, uint64_t *freed)
{
	uint8_t name[CBT__DIGEST_LEN];
	uint64_t size = 0;
	struct stat st;
	char badname[70];
	uint32_t i, n = 0;
	int ret, bad;

	*freed = 0;
	if (fstat(fd, &st))
		return -errno;
	bad = cbt__pack_frames_check(r, fd, t, keep);
	if (bad < 0)
		return cbt__repo_err(r, bad, "packs/%s: checking: %s", hex, strerror(-bad));
	for (i = 0; i < t->count; i++)
		n += keep[i] != 0;
	if (n == t->count)
		return 0;
	ret = n ? cbt__pack_copy(r, fd, t, keep, name, &size) : 0;
	if (ret)
		return cbt__repo_err(r, ret, "packs/%s: rewriting: %s", hex, strerror(-ret));
	snprintf(badname, sizeof(badname), "%s.bad", hex);
	if (bad ? renameat(r->packs_fd, hex, r->packs_fd, badname) : unlinkat(r->packs_fd, hex, 0))
		return cbt__repo_err(r, -errno, "packs/%s: %s", hex, strerror(errno));
	if (fsync(r->packs_fd))
		return cbt__repo_err(r, -errno, "packs: fsync: %s", strerror(errno));
	/* kept as .bad: nothing given back yet (sweep_bad counts it when it goes) */
	if (!bad)
		*freed = (uint64_t)st.st_size > size ? (uint64_t)st.st_size - size : 0;
	return 0;
}

/*
 * A damaged chunk was read from pack @name: under chunks.lock exclusive,
 * whatever pack now has that name loses its damaged frames (pack_rewrite).
 * Checked again under the lock, not taken on trust: gc or a writer may
 * have put an intact pack of the same table there since.
 */
static void pack_set_aside(struct cbt_repo *r, const uint8_t name[CBT__DIGEST_LEN])
{
	struct cbt__pack_table t;
	uint8_t *keep;
	uint64_t freed;
	char hex[65];
	int fd;

	cbt__hex(name, hex);
	if (chunk_lock_ex(r))
		return;
	fd = openat(r->packs_fd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0 && !cbt__pack_table_read(fd, &t)) {
		keep = malloc(t.count);
		if (keep) {
			memset(keep, 1, t.count);
			pack_rewrite(r, fd, hex, &t, keep, &freed);
		}
		free(keep);
		cbt__pack_table_free(&t);
	}
	if (fd >= 0)
		close(fd);
	chunk_unlock_ex(r);
}

void cbt__chunk_quarantine(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN])
{
	const struct cbt__loc *l = loc_find(r, d);

	/* A copy of this run's, not in place: none in packs/ is it. */
	if (!l || r->packs[l->pack].seq || r->packs[l->pack].gone)
		return;
	pack_set_aside(r, r->packs[l->pack].name);
}

int cbt__chunk_quarantine_copy(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN])
{
	if (!r->bad_copy || memcmp(r->bad_copy_d, d, CBT__DIGEST_LEN))
		return 0;
	r->bad_copy = 0;
	pack_set_aside(r, r->bad_copy_pack);
	return 1;
}

static int memcmp_digest(const void *a, const void *b)
{
	return memcmp(a, b, CBT__DIGEST_LEN);
}

static int older(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* What the sweep counts. */
struct sweep {
	const uint8_t *keep;
	size_t nkeep;
	const struct timespec *cutoff;
	uint64_t removed, removed_bytes, kept;
};

/*
 * Sweep one pack. A pack's bytes never change under its name (a rewrite
 * is a new name), so its table is read without the lock; its mtime and
 * its being there are checked again under chunks.lock exclusive: a
 * writer that counts on it touched it after the cutoff.
 */
static int sweep_pack(struct cbt_repo *r, struct sweep *s, const char *hex)
{
	struct cbt__pack_table t;
	struct stat st, now;
	uint8_t *live;
	uint64_t freed = 0;
	uint32_t i, n = 0;
	int fd, ret = 0;

	fd = openat(r->packs_fd, hex, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) || cbt__pack_table_read(fd, &t)) {
		close(fd);
		return 0;	/* not a pack we can read: never removed */
	}
	live = malloc(t.count);
	if (!live) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < t.count; i++) {
		live[i] = !!bsearch(t.tab + (size_t)i * CBT__PACK_ENTRY, s->keep, s->nkeep,
				    CBT__DIGEST_LEN, memcmp_digest);
		n += live[i];
	}
	if (n == t.count || !older(&st.st_mtim, s->cutoff))
		goto keep;
	ret = chunk_lock_ex(r);
	if (ret)
		goto out;
	if (fstatat(r->packs_fd, hex, &now, AT_SYMLINK_NOFOLLOW) || now.st_ino != st.st_ino ||
	    now.st_dev != st.st_dev || !older(&now.st_mtim, s->cutoff)) {
		chunk_unlock_ex(r);
		goto keep;
	}
	ret = pack_rewrite(r, fd, hex, &t, live, &freed);
	chunk_unlock_ex(r);
	if (!ret) {
		for (i = 0, n = 0; i < t.count; i++)
			n += live[i];	/* less any damaged frame dropped */
		s->removed += t.count - n;
		s->removed_bytes += freed;
		s->kept += n;
	}
	goto out;
keep:
	s->kept += t.count;
out:
	free(live);
	cbt__pack_table_free(&t);
	close(fd);
	return ret;
}

/* A damaged pack set aside (<hex>.bad), once older than the cutoff. */
static void sweep_bad(struct cbt_repo *r, struct sweep *s, const char *name)
{
	uint8_t d[CBT__DIGEST_LEN];
	struct stat st;
	char hex[65];

	if (strlen(name) != 68 || strcmp(name + 64, ".bad"))
		return;
	snprintf(hex, sizeof(hex), "%.64s", name);
	if (cbt__unhex(hex, d) || fstatat(r->packs_fd, name, &st, AT_SYMLINK_NOFOLLOW) ||
	    !S_ISREG(st.st_mode) || !older(&st.st_mtim, s->cutoff))
		return;
	if (!unlinkat(r->packs_fd, name, 0))
		s->removed_bytes += (uint64_t)st.st_size;
}

int cbt__chunk_sweep(struct cbt_repo *r, const uint8_t *keep, size_t nkeep,
		     const struct timespec *cutoff, uint64_t *removed, uint64_t *removed_bytes,
		     uint64_t *kept)
{
	struct sweep s = { .keep = keep, .nkeep = nkeep, .cutoff = cutoff };
	uint8_t d[CBT__DIGEST_LEN];
	struct dirent *de;
	DIR *dir;
	int fd, ret = 0;

	fd = fcntl(r->packs_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	dir = fdopendir(fd);
	if (!dir) {
		close(fd);
		return -errno;
	}
	rewinddir(dir);
	while (!ret && (de = readdir(dir))) {
		if (!cbt__unhex(de->d_name, d))
			ret = sweep_pack(r, &s, de->d_name);
		else
			sweep_bad(r, &s, de->d_name);
	}
	closedir(dir);
	*removed += s.removed;
	*removed_bytes += s.removed_bytes;
	*kept += s.kept;
	return ret;
}
