/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * backup.h - cbt-snap's repository commands (backup-cmd.c): what a backup
 * reads, and the one function that writes a point from a list of sources.
 *
 * These commands call libcbt's repository API (cbt_repo_*, cbt_point_*,
 * cbt_newpoint_*) directly: it needs no kernel module, so unlike the
 * tracking calls (cbt-lib.c's cl_* wrappers) it has no canned double.
 *
 * A tracked volume's backup (snapshot set + changed extents from the
 * requester API) fills the same struct: path = the snapshot image, name =
 * the volume, extents = what changed since the chain's stamp, stamp = the
 * set's stamp for that member.
 */
#ifndef CBT_BACKUP_H
#define CBT_BACKUP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "libcbt.h"

struct backup_source {
	const char *name;	/* its group in the repository: the same every run */
	const char *path;	/* what to read: an image, a device, a snapshot image */
	int fd;			/* open on path, or -1: backup_write_point opens path */
	uint64_t size;		/* bytes; 0: the size of what fd/path holds */
	const uint64_t *extents; /* offset, length pairs to read; NULL: every block */
	size_t nextents;
	const char *stamp;	/* its tracker stamp, or NULL */
};

struct backup_opts {
	const char *repo;
	const char *chain;	/* NULL: "default" */
	enum cbt_point_type type; /* CBT_POINT_AUTO: full without a usable base */
	const char *app_metadata; /* or NULL */
	int quiet;		/* no progress bar, no notes */
	int json;		/* the summary as JSON on stdout */
	int allow_shared;	/* a repository others may read: a warning, not an error */
	uint32_t chunk_size;	/* a repository made now: its chunk size (0: default) */
	/*
	 * A tracked backup's hooks (backup-tracked.c). prepare runs once the
	 * point is begun, before any source is opened, and fills the sources
	 * (the images of a snapshot set); finish runs once the point is
	 * committed and declares the backup: if it fails, the point is removed.
	 * Each returns 0 or the exit status 1 (having said why).
	 */
	int (*prepare)(void *data, struct cbt_repo *r, struct cbt_newpoint *np,
		       struct backup_source *src, size_t n);
	int (*ready)(void *data);	/* every source read, before the commit */
	int (*finish)(void *data, struct cbt_repo *r, uint64_t id);
	void *hook_data;
};

struct backup_result {
	uint64_t id, base;
	enum cbt_point_type type;
	uint64_t bytes_read, bytes_stored;
	char *writers_json;	/* tracked: the writers' outcome, a JSON array (malloc'd) */
};

/*
 * Write one point of @n sources into o->repo (created if missing), with a
 * progress bar on a terminal; errors are reported on stderr (one line).
 * Returns 0 or the exit status 1.
 */
int backup_write_point(const struct backup_opts *o, struct backup_source *src, size_t n,
		       struct backup_result *res);

/*
 * Set by SIGINT, SIGTERM or SIGHUP during a tracked backup: the next
 * progress call cancels the work, so the failure path destroys the set.
 */
extern volatile sig_atomic_t backup_interrupted;

/*
 * backup-tracked.c: 1 if @path is a volume the module tracks, 0 if not (or
 * no module is loaded), -1 (having said why) if the module cannot be asked.
 */
int backup_source_is_tracked(const char *path);
struct tracked_opts {
	const char *stores[16];	/* --store specs; none: one in the point's workspace */
	size_t nstores;
	const char *state_dir;	/* the chains' anchors; NULL: libcbt's default */
	int no_fallback;	/* fail rather than go full when a base is stale */
	int writers;		/* LIBCBT_WRITERS_* */
	int writers_given;	/* --writers was given */
};
/* Sort offset/length pairs and join those that overlap or touch; the new count. */
size_t extents_merge(uint64_t *ext, size_t n);
/* Back up the tracked volumes @vols into one point (as backup_write_point). */
int backup_tracked(struct backup_opts *o, const struct tracked_opts *t, size_t n,
		   struct backup_source *src, struct backup_result *res);

int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_repo(int argc, char **argv);

#endif /* CBT_BACKUP_H */
