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
 *   REPO/chunks.lock         flock: SH around a writer's "exists? touch" and
 *                            its rename of a new chunk, EX around gc's sweep
 *   REPO/chunks/XX/<sha256>  zstd frame of one chunk (XX: first 2 hex digits)
 *   REPO/points/<ID>/        manifest.json, volume-<N>.idx
 *   REPO/tmp/<token>.lock    a live writer (flock EX); mtime = its start
 *   REPO/tmp/<token>/        its workspace: temporary files, the new point
 */
#ifndef LIBCBT_REPO_H
#define LIBCBT_REPO_H

#include <stdarg.h>
#include <stdint.h>
#include <time.h>

#include "libcbt.h"

#define CBT__DIGEST_LEN		32
#define CBT__REPO_VERSION	1

/*
 * A chunk written in this run: in the workspace (tmp/<token>/chunk.<seq>),
 * or in place once seq is 0 (a sync that failed later on).
 */
struct cbt__pending {
	uint8_t d[CBT__DIGEST_LEN];
	unsigned int seq;
};

struct cbt_repo {
	int dfd;		/* the repository folder */
	int chunks_fd;		/* chunks/ */
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
	int dirs[256];		/* chunks/XX, open once needed (chunk.c) */
	int chunk_locked;	/* we hold chunks.lock shared (chunk.c) */
	uint8_t sync_dirs[256];	/* chunks/XX to fsync at the next sync: a chunk
				 * there was touched or put in place */
	struct cbt__pending *pending; /* chunks written, in the workspace */
	size_t npending, cap_pending;
	uint32_t *pending_ht;	/* hash of @pending: index + 1, 0 free */
	size_t ht_size;		/* a power of two, or 0 */
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

/* ---- chunk.c ----------------------------------------------------------------- */

void cbt__sha256(const void *data, size_t len, uint8_t out[CBT__DIGEST_LEN]);
void cbt__hex(const uint8_t d[CBT__DIGEST_LEN], char out[65]);
/*
 * Store a chunk unless it is there; *stored (if not NULL) gets the bytes
 * written (0 when it was there: it is touched, so gc keeps it).
 */
int cbt__chunk_put(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN], const void *data,
		   size_t len, uint64_t *stored);
/* Touch a stored chunk (gc keeps it): 0, or -ENOENT when it is missing. */
int cbt__chunks_touch(struct cbt_repo *r, const uint8_t *digests, size_t n, uint8_t *missing);
/* Read chunk @d of @len bytes into @buf and check its digest. */
int cbt__chunk_get(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN], void *buf, size_t len);
/* Move a damaged chunk aside (chunks/XX/<digest>.bad). */
void cbt__chunk_quarantine(struct cbt_repo *r, const uint8_t d[CBT__DIGEST_LEN]);
/* Remove chunks not in @keep (sorted) last touched before @cutoff. */
int cbt__chunk_sweep(struct cbt_repo *r, const uint8_t *keep, size_t nkeep,
		     const struct timespec *cutoff, uint64_t *removed, uint64_t *removed_bytes,
		     uint64_t *kept);
void cbt__chunk_ctx_free(struct cbt_repo *r);
/*
 * Put in place the chunks written since the last call, durably: one
 * syncfs of the workspace's filesystem, then each renamed into its folder,
 * then the folders fsynced. Before it, no name in chunks/ points at them.
 */
int cbt__chunks_sync(struct cbt_repo *r);
/* Forget chunks written and not synced, close the chunk folders. */
void cbt__chunks_close(struct cbt_repo *r);

/* ---- point.c ----------------------------------------------------------------- */

/* Append every digest of point @id's indexes to *d (*n of *cap). */
int cbt__point_digests(struct cbt_repo *r, uint64_t id, uint8_t **d, size_t *n, size_t *cap);

#endif /* LIBCBT_REPO_H */
