/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * repo.h - what the repository's files share (repo.c: layout, privacy,
 * locks, workspaces, atomic files; chunk.c: the chunk store and gc's sweep;
 * point.c: indexes, manifests, new points, restore, verify). Not installed.
 *
 * Layout (docs/repository-format.md):
 *   REPO/config              JSON: format, version, chunk size
 *   REPO/lock                flock: SH while reading every point (gc's mark),
 *                            EX while adding, rewriting or removing one
 *   REPO/chunks.lock         flock: SH around a writer's "is it there? keep
 *                            its pack" and its renames of new packs, EX
 *                            around gc's or verify's rewrite of a pack
 *   REPO/packs/<sha256>      a pack: zstd frames of chunks, then its table
 *   REPO/points/<ID>/        manifest.json, volume-<N>.idx
 *   REPO/tmp/<token>.lock    a live writer (flock EX); mtime = its start
 *   REPO/tmp/<token>/        its workspace: temporary files, new packs, the
 *                            new point
 */
#ifndef LIBCBT_REPO_H
#define LIBCBT_REPO_H

#include <stdarg.h>
#include <stdint.h>
#include <time.h>

#include "libcbt.h"

#define CBT__DIGEST_LEN		32
#define CBT__REPO_VERSION	2

/* A pack file known to this handle (chunk.c). */
struct cbt__pack {
	uint8_t name[CBT__DIGEST_LEN];	/* the SHA-256 of its table: packs/<hex> */
	unsigned int seq;	/* tmp/<token>/pack.<seq> until placed, then 0 */
	uint8_t touched;	/* written or its mtime set by this run: gc keeps it */
	uint8_t gone;		/* found missing (or not seen since a rescan) */
};

/* Where a chunk is: one zstd frame of @clen bytes at @off in pack @pack. */
struct cbt__loc {
	uint8_t d[CBT__DIGEST_LEN];
	uint32_t pack;		/* index in r->packs */
	uint32_t clen;
	uint64_t off;
};

#define CBT__PACK_RD	8	/* packs kept open for reading */

struct cbt_repo {
	int dfd;		/* the repository folder */
	int packs_fd;		/* packs/ */
	int points_fd;		/* points/ */
	int tmp_fd;		/* tmp/ */
	int lock_fd;		/* lock */
	int chunk_lock_fd;	/* chunks.lock */
	int ws_fd;		/* tmp/<token>/, -1 until a writer needs it */
	int ws_lock_fd;		/* tmp/<token>.lock, held EX while we live */
	struct timespec ws_start; /* the lock file's mtime */
	char token[48];
	unsigned int tmp_seq;
	uint32_t chunk_size;
	int shared;
	cbt_progress_fn progress;
	void *progress_data;
	void *zc;		/* ZSTD_CCtx, made on first use */
	void *zd;		/* ZSTD_DCtx */
	/* the chunk map (chunk.c): every pack seen and every chunk in them */
	struct cbt__pack *packs;
	size_t npacks, cap_packs;
	struct cbt__loc *locs;
	size_t nlocs, cap_locs;
	uint32_t *loc_ht;	/* hash of @locs: index + 1, 0 free */
	size_t ht_size;		/* a power of two, or 0 */
	int map_read;		/* packs/ scanned since the last change of ours */
	int chunk_locked;	/* we hold chunks.lock shared */
	int sync_packs;		/* packs/ to fsync at the next sync */
	/* the pack being written, in the workspace */
	int cur_fd;		/* -1: none */
	uint32_t cur_pack;	/* its index in @packs */
	uint64_t cur_off;	/* its frames' bytes so far */
	uint8_t *cur_tab;	/* its table so far */
	uint32_t cur_n, cur_cap;
	uint64_t pack_target;	/* a pack is closed past this many bytes */
	int pack_err;		/* a pack failed: no more writes (chunk.c) */
	/* the last damaged copy passed over for another (chunk_read_other) */
	uint8_t bad_copy_pack[CBT__DIGEST_LEN];
	uint8_t bad_copy_d[CBT__DIGEST_LEN];
	int bad_copy;
	/* packs open for reading */
	int rd_fd[CBT__PACK_RD];
	uint32_t rd_pack[CBT__PACK_RD];
	unsigned int rd_next;
	char err[512];
};

/* Record "@fmt" as the repo's error line (it may quote r->err); returns @err. */
int cbt__repo_err(struct cbt_repo *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Make our workspace (and its lock) if not made yet. */
int cbt__repo_workspace(struct cbt_repo *r);
/* A fresh temporary name in the workspace (at most 32 bytes). */
void cbt__repo_tmpname(struct cbt_repo *r, char name[32], const char *what);
/*
 * Write @len bytes as @dirfd/@name atomically: a temporary file in the
 * workspace, fsync, rename, fsync of @dirfd. 0600.
 */
int cbt__repo_write_file(struct cbt_repo *r, int dirfd, const char *name, const void *buf,
			 size_t len);
/* A regular file (never a symlink) of at most @max bytes; *buf is malloc'd, NUL ended. */
int cbt__repo_read_file(struct cbt_repo *r, int dirfd, const char *name, size_t max, char **buf,
			size_t *len);
/* openat of a folder, never through a symlink. */
int cbt__open_dir(int dirfd, const char *name);
/* Remove @dirfd/@name and what is under it (symlinks are removed, not followed). */
int cbt__rmtree(int dirfd, const char *name);
int cbt__flock(int fd, int op);
int cbt__progress(struct cbt_repo *r, uint64_t done, uint64_t total);

/* ---- pack.c: the pack file's format ----------------------------------------- */

#define CBT__PACK_MAGIC		"CBTPACK1"
#define CBT__PACK_ENTRY		40	/* digest, frame length, chunk length */
#define CBT__PACK_TRAILER	48	/* magic, count, 0, SHA-256 of the table */
#define CBT__PACK_TARGET	(16u << 20)	/* a pack is ended past this many frame bytes */
#define CBT__PACK_MAX_COUNT	(1u << 16)	/* ... or at this many chunks */
/* The largest pack a reader takes: the target, one more frame, the table. */
#define CBT__PACK_MAX_SIZE	(48u << 20)

/* A pack's table, read and checked (cbt__pack_table_read). */
struct cbt__pack_table {
	uint8_t *tab;		/* @count entries of CBT__PACK_ENTRY bytes */
	uint32_t count;
	uint64_t data_len;	/* the frames' bytes: the table's offset */
	uint8_t name[CBT__DIGEST_LEN];
};

static inline uint32_t cbt__le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void cbt__put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Decompress frame @cbuf of @clen bytes into @buf (@len) and check it is chunk @d. */
int cbt__pack_frame_check(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN], const void *cbuf,
			  size_t clen, void *buf, size_t len);
/*
 * Drop from @keep every frame of pack @fd (table @t) that is not the chunk
 * its entry names: the number dropped, or -errno (nothing known damaged).
 */
int cbt__pack_frames_check(struct cbt_repo *r, int fd, const struct cbt__pack_table *t,
			   uint8_t *keep);
/*
 * Read pack @fd back: it is named @name (its table) and every frame is
 * the chunk its entry names. 0, -EBADMSG or -errno.
 */
int cbt__pack_read_back(struct cbt_repo *r, int fd, const uint8_t name[CBT__DIGEST_LEN]);
/* Read and check the table of the pack open as @fd: 0, -EBADMSG or -errno. */
int cbt__pack_table_read(int fd, struct cbt__pack_table *t);
void cbt__pack_table_free(struct cbt__pack_table *t);
/* Append @count entries' table and the trailer to @fd; @name gets the pack's name. */
int cbt__pack_end(int fd, const uint8_t *tab, uint32_t count, uint8_t name[CBT__DIGEST_LEN]);
/*
 * A new pack of the frames of @src (table @t) whose @keep[i] is set,
 * copied as they are, made durable and renamed into packs/ (the caller
 * holds chunks.lock exclusive). *size gets its length.
 */
int cbt__pack_copy(struct cbt_repo *r, int src, const struct cbt__pack_table *t,
		   const uint8_t *keep, uint8_t name[CBT__DIGEST_LEN], uint64_t *size);
int cbt__write_all(int fd, const void *buf, size_t len);
int cbt__pread_all(int fd, void *buf, size_t len, uint64_t off);

/* ---- chunk.c: the chunk store ------------------------------------------------- */

void cbt__sha256(const void *data, size_t len, uint8_t out[CBT__DIGEST_LEN]);
void cbt__hex(const uint8_t d[CBT__DIGEST_LEN], char out[65]);
/* 64 lower-case hex digits to a digest: 0, or -1. */
int cbt__unhex(const char *s, uint8_t d[CBT__DIGEST_LEN]);
/*
 * Store a chunk unless it is there; *stored (if not NULL) gets the bytes
 * written (0 when it was there: its pack is touched, so gc keeps it).
 */
int cbt__chunk_put(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN], const void *data,
		   size_t len, uint64_t *stored);
/*
 * Keep stored chunks (gc keeps their packs): the @n digests at @digests,
 * @stride bytes apart. 0, or -ENOENT when one is missing; missing[i] (if
 * not NULL) says which.
 */
int cbt__chunks_touch(struct cbt_repo *r, const uint8_t *digests, size_t n, size_t stride,
		      uint8_t *missing);
/* Read chunk @d of @len bytes into @buf and check its digest. */
int cbt__chunk_get(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN], void *buf, size_t len);
/*
 * Set a damaged chunk aside: its pack is rewritten without it and kept
 * as packs/<name>.bad.
 */
void cbt__chunk_quarantine(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN]);
/*
 * The last cbt__chunk_get of @d found a damaged copy and read another:
 * set the damaged one aside as cbt__chunk_quarantine does. 1 when there
 * was one, else 0.
 */
int cbt__chunk_quarantine_copy(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN]);
/*
 * Drop the chunks not in @keep (sorted) from packs last touched before
 * @cutoff: a pack with none kept is removed, one with some is rewritten.
 */
int cbt__chunk_sweep(struct cbt_repo *r, const uint8_t *keep, size_t nkeep,
		     const struct timespec *cutoff, uint64_t *removed, uint64_t *removed_bytes,
		     uint64_t *kept);
void cbt__chunk_ctx_free(struct cbt_repo *r);
/*
 * Put in place the packs written since the last call, durably: one
 * syncfs of the workspace's filesystem, then each renamed into packs/,
 * then packs/ fsynced. Before it, no name in packs/ points at them.
 */
int cbt__chunks_sync(struct cbt_repo *r);
/* Forget packs written and not synced, close what the chunk store holds. */
void cbt__chunks_close(struct cbt_repo *r);

/* ---- index.c: a point's index of one volume ------------------------------------ */

#define CBT__PIECE_SIZE		(64u << 10)	/* what an incremental reads of a chunk */

/* Piece @piece of chunk @chunk is the chunk named @d (an incremental's change). */
struct cbt__patch {
	uint64_t chunk;
	uint32_t piece;
	uint8_t d[CBT__DIGEST_LEN];
};

struct cbt__index {
	uint32_t chunk_size, piece_size;
	uint64_t size, count;
	uint8_t *d;		/* @count digests: each chunk as last read whole */
	struct cbt__patch *p;	/* pieces replaced since, by chunk then piece */
	size_t np, cap;
};

int cbt__index_init(struct cbt__index *ix, uint32_t chunk_size, uint32_t piece_size,
		    uint64_t size);
void cbt__index_free(struct cbt__index *ix);
/* Append a patch (the caller keeps them in order). */
int cbt__index_patch(struct cbt__index *ix, uint64_t c, uint32_t k,
		     const uint8_t d[CBT__DIGEST_LEN]);
size_t cbt__index_chunk_len(const struct cbt__index *ix, uint64_t c);
uint32_t cbt__index_pieces(const struct cbt__index *ix, uint64_t c);
size_t cbt__index_piece_len(const struct cbt__index *ix, uint64_t c, uint32_t k);
/* The longest index a volume of @size can have. */
size_t cbt__index_max_len(uint32_t chunk_size, uint32_t piece_size, uint64_t size);
/* Parse and check an index file's bytes (-EBADMSG when damaged). */
int cbt__index_parse(const uint8_t *b, size_t len, uint32_t chunk_size, uint64_t size,
		     const uint8_t digest[CBT__DIGEST_LEN], struct cbt__index *ix);
/* Write @ix as @dirfd/@name atomically; @digest gets its trailing SHA-256. */
int cbt__index_write(struct cbt_repo *r, int dirfd, const char *name,
		     const struct cbt__index *ix, uint8_t digest[CBT__DIGEST_LEN]);

/* ---- point.c ----------------------------------------------------------------- */

/* Append every digest of point @id's indexes to *d (*n of *cap). */
int cbt__point_digests(struct cbt_repo *r, uint64_t id, uint8_t **d, size_t *n, size_t *cap);

#endif /* LIBCBT_REPO_H */
