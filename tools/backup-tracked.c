// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * backup-tracked.c - cbt-snap backup of tracked volumes: a backup session
 * (libcbt's requester API) read into a repository point.
 *
 * The session takes one snapshot set over every volume and says, from the
 * chain's anchors, each volume's type and the stamp its changes count from.
 * The repository chooses each volume's base point on its own (the chain's
 * newest point holding the volume). The two are joined only when they
 * agree: the changed extents are applied on the base point's index only if
 * that point recorded exactly the stamp the changes count from. Otherwise
 * (the base was pruned, the anchors belong to another repository, a point
 * failed its verify) the volume is read in full, and only chunks the
 * repository lacks are stored. The backup is declared successful (and the
 * anchors move) only once the point is committed; if the session cannot
 * end well (the set overflowed), the point is removed again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "backup.h"
#include "cli.h"
#include "writer-hooks.h"
#include "libcbt.h"

struct tracked {
	struct backup_opts *o;
	const struct tracked_opts *t;
	struct cbt_ctx *ctx;
	struct cbt_backup *b;
	struct backup_result *res;
	struct backup_source *src;	/* name: the volume's real path */
	size_t n;
	char store[4096];	/* the default store's path (in the workspace) */
};

static void oom(void)
{
	fail_msg("out of memory");
	exit(1);
}

int backup_source_is_tracked(const char *path)
{
	struct cbt_volume *vol;
	struct cbt_ctx *ctx;
	struct stat st;
	int tracked = 0, ret;

	if (stat(path, &st) || !S_ISBLK(st.st_mode))
		return 0;	/* only block devices are tracked */
	ret = cbt_ctx_new(&ctx);
	if (ret == -ENOENT)
		return 0;	/* no module: nothing is tracked */
	if (ret) {
		/* Not knowing would mean reading a tracked volume live. */
		fail_msg("/dev/cbt-ctl: %s", cbt_strerror(ret));
		return -1;
	}
	if (!cbt_volume_open(ctx, path, &vol)) {
		tracked = !cbt_volume_refresh(vol);
		cbt_volume_free(vol);
	}
	cbt_ctx_unref(ctx);
	return tracked;
}

static int session_fail(int err, const char *what)
{
	fail_msg("%s: %s", what, cbt_strerror(err));
	return 1;
}

/* The snapshot set's options: the user's stores, or one in the workspace. */
static int make_set_opts(struct tracked *tr, struct cbt_newpoint *np,
			 struct cbt_snapset_opts **out)
{
	struct cbt_snapset_opts *opts;
	uint64_t total = 0, size;
	char spec[4200];
	size_t i;
	int ret;

	ret = cbt_snapset_opts_new(&opts);
	if (ret)
		return session_fail(ret, "snapshot options");
	for (i = 0; i < tr->t->nstores; i++) {
		ret = cbt_snapset_opts_add_store(opts, tr->t->stores[i]);
		if (ret) {
			cbt_snapset_opts_free(opts);
			return session_fail(ret, tr->t->stores[i]);
		}
	}
	if (!tr->t->nstores) {
		/* A quarter of the volumes (at least 64 MiB), preallocated. */
		for (i = 0; i < tr->n; i++) {
			struct cbt_volume *vol;

			if (cbt_volume_open(tr->ctx, tr->src[i].name, &vol))
				continue;
			if (!cbt_volume_refresh(vol))
				total += cbt_volume_get_size(vol);
			cbt_volume_free(vol);
		}
		size = total / 4 < (64ull << 20) ? 64ull << 20 : (total / 4 + 0xfffff) & ~0xfffffull;
		if ((size_t)snprintf(tr->store, sizeof(tr->store), "%s/%s/cow.store", tr->o->repo,
				     cbt_newpoint_get_workspace(np)) >= sizeof(tr->store)) {
			fail_msg("%s: a path too long", tr->o->repo);
			cbt_snapset_opts_free(opts);
			return 1;
		}
		snprintf(spec, sizeof(spec), "%s:%llu", tr->store, (unsigned long long)size);
		ret = cbt_snapset_opts_add_store(opts, spec);
		if (ret) {
			cbt_snapset_opts_free(opts);
			return session_fail(ret, tr->store);
		}
	}
	*out = opts;
	return 0;
}

static int pair_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Sort offset/length pairs and join those that overlap or touch; the new count. */
size_t extents_merge(uint64_t *ext, size_t n)
{
	size_t i, out = 0;

	if (!n)
		return 0;
	qsort(ext, n, 2 * sizeof(*ext), pair_cmp);
	for (i = 1; i < n; i++) {
		uint64_t end = ext[2 * out] + ext[2 * out + 1];

		if (ext[2 * i] <= end) {
			uint64_t e2 = ext[2 * i] + ext[2 * i + 1];

			if (e2 > end)
				ext[2 * out + 1] = e2 - ext[2 * out];
		} else {
			out++;
			ext[2 * out] = ext[2 * i];
			ext[2 * out + 1] = ext[2 * i + 1];
		}
	}
	return out + 1;
}

/* The changed extents of volume @i since its base, as offset/length pairs. */
static int read_extents(struct tracked *tr, unsigned int i, struct backup_source *s)
{
	struct cbt_changes_iter *it;
	uint64_t off, len, *ext = NULL;
	size_t n = 0, cap = 0;
	int ret;

	ret = cbt_backup_volume_changes_open(tr->b, i, &it);
	if (ret)
		return session_fail(ret, s->name);
	while ((ret = cbt_changes_next(it, &off, &len)) > 0) {
		if (n == cap) {
			cap = cap ? 2 * cap : 256;
			ext = realloc(ext, cap * 2 * sizeof(*ext));
			if (!ext)
				oom();
		}
		ext[2 * n] = off;
		ext[2 * n + 1] = len;
		n++;
	}
	cbt_changes_free(it);
	if (ret < 0) {
		free(ext);
		return session_fail(ret, s->name);
	}
	/* What the writers named (a log) is read whatever changed. */
	{
		const uint64_t *w;
		size_t nw, k;

		if (!cbt_backup_volume_get_writer_extents(tr->b, i, &w, &nw) && nw) {
			ext = realloc(ext, (n + nw) * 2 * sizeof(*ext));
			if (!ext)
				oom();
			for (k = 0; k < nw; k++) {
				ext[2 * n] = w[2 * k];
				ext[2 * n + 1] = w[2 * k + 1];
				n++;
			}
			n = extents_merge(ext, n);
		}
	}
	if (!ext) {
		ext = malloc(2 * sizeof(*ext));	/* nothing changed: no extent */
		if (!ext)
			oom();
	}
	s->extents = ext;
	s->nextents = n;
	return 0;
}

static int session_type(struct tracked *tr, struct cbt_newpoint *np)
{
	uint64_t id;
	const char *stamp;

	switch (cbt_newpoint_get_type(np)) {
	case CBT_POINT_FULL:
		return LIBCBT_BACKUP_FULL;
	case CBT_POINT_COPY:
		return LIBCBT_BACKUP_COPY;
	case CBT_POINT_DIFFERENTIAL:
		return LIBCBT_BACKUP_DIFFERENTIAL;
	case CBT_POINT_INCREMENTAL:
		return LIBCBT_BACKUP_INCREMENTAL;
	default:
		/* AUTO: the repository decides at the first volume, as here. */
		if (cbt_newpoint_get_volume_base(np, tr->src[0].name, &id, &stamp) || !id)
			return LIBCBT_BACKUP_FULL;
		return LIBCBT_BACKUP_INCREMENTAL;
	}
}

/*
 * Say what each writer did (on stdout, or stderr when the backup failed),
 * keep it for the JSON summary, and record it in the point's manifest.
 */
static int record_writers(struct tracked *tr, struct cbt_newpoint *np, int failed)
{
	const struct cbt_snapset *w = cbt_backup_get_writer_results(tr->b);
	unsigned int i, n = cbt_snapset_get_writer_count(w);
	int ret;

	if (!n)
		return 0;
	if (failed || (!tr->o->quiet && !tr->o->json))
		print_writer_outcomes(w, failed ? stderr : stdout);
	free(tr->res->writers_json);
	tr->res->writers_json = writer_outcomes_json(w);
	if (failed)
		return 0;
	for (i = 0; i < n; i++) {
		int e = cbt_snapset_get_writer_error(w, i);
		const char *msg = cbt_snapset_get_writer_message(w, i);
		size_t len;
		const void *st = cbt_snapset_get_writer_stamp(w, i, &len);

		ret = cbt_newpoint_add_writer(np, cbt_snapset_get_writer_name(w, i),
					      writer_outcome(w, i),
					      cbt_writer_phase_name(cbt_snapset_get_writer_failed_phase(w, i)),
					      e ? cbt_strerror(e) : NULL, msg, e ? NULL : st,
					      e ? 0 : len);
		if (ret)
			return session_fail(ret, "the writers in the manifest");
	}
	return 0;
}

/*
 * A writer's component pulled a volume the backup does not read into the
 * set (under --writers require the session refused): the application's
 * files on it are in no point.
 */
static void warn_pulled(struct tracked *tr)
{
	const struct cbt_snapset *set = cbt_backup_get_snapset(tr->b);
	unsigned int i, k, n = cbt_snapset_get_member_count(set);
	unsigned int nv = cbt_backup_get_volume_count(tr->b);

	for (i = 0; i < n; i++) {
		dev_t d = cbt_snapset_get_member_devno(set, i);

		for (k = 0; k < nv && cbt_backup_volume_get_devno(tr->b, k) != d; k++)
			;
		if (k == nv)
			fail_msg("warning: %s: a writer's component lies on it too: it is in the snapshot set but not in this backup (name it too)",
				 cbt_snapset_get_member_path(set, i));
	}
}

static int prepare(void *data, struct cbt_repo *r, struct cbt_newpoint *np,
		   struct backup_source *src, size_t n)
{
	struct tracked *tr = data;
	struct cbt_snapset_opts *opts = NULL;
	struct cbt_volume *vol;
	const char *bstamp, *base;
	uint64_t bid;
	unsigned int i;
	int ret, type;

	(void)r;
	type = session_type(tr, np);
	ret = cbt_backup_new(tr->ctx, type, &tr->b);
	if (ret)
		return session_fail(ret, "backup session");
	if (tr->o->chain && (ret = cbt_backup_set_chain(tr->b, tr->o->chain)))
		return session_fail(ret, "--chain");
	if (tr->t->state_dir && (ret = cbt_backup_set_state_dir(tr->b, tr->t->state_dir)))
		return session_fail(ret, tr->t->state_dir);
	if (tr->t->no_fallback &&
	    (ret = cbt_backup_set_flags(tr->b, LIBCBT_BACKUP_NO_FALLBACK)))
		return session_fail(ret, "--no-fallback");
	if ((ret = cbt_backup_set_writers(tr->b, tr->t->writers)))
		return session_fail(ret, "--writers");
	for (i = 0; i < n; i++) {
		ret = cbt_volume_open(tr->ctx, src[i].name, &vol);
		if (!ret) {
			ret = cbt_backup_add_volume(tr->b, vol);
			cbt_volume_free(vol);
		}
		if (ret)
			return session_fail(ret, src[i].path);
	}
	if (make_set_opts(tr, np, &opts))
		return 1;
	ret = cbt_backup_set_snapset_opts(tr->b, opts);
	cbt_snapset_opts_free(opts);
	if (ret)
		return session_fail(ret, "snapshot options");
	ret = cbt_backup_begin(tr->b);
	if (record_writers(tr, np, ret))
		return 1;
	if (ret == -ESTALE) {
		for (i = 0; i < n; i++)
			if (cbt_backup_volume_get_reason(tr->b, i))
				fail_msg("%s: %s; --no-fallback: no full backup taken instead",
					 src[i].path, cbt_backup_volume_get_reason(tr->b, i));
		return 1;
	}
	if ((ret == -EXDEV || ret == -EBUSY) && strstr(cbt_ctx_get_error(tr->ctx), "writer")) {
		fail_msg("snapshot: %s", cbt_ctx_get_error(tr->ctx));
		return 1;
	}
	if (ret == -EXDEV && !tr->t->nstores) {
		fail_msg("%s: the repository lies on a volume being backed up: give --store on another filesystem",
			 tr->o->repo);
		return 1;
	}
	if (ret == -EBUSY) {
		fail_msg("snapshot: a volume is in another snapshot set, or chain '%s' is in use by another backup (see 'cbt-snap snapshot list')",
			 cbt_backup_get_chain(tr->b));
		return 1;
	}
	if (ret)
		return session_fail(ret, "snapshot");
	warn_pulled(tr);
	/* Every volume went full (no base, a reset tracker): so does the point,
	 * so that the next differential finds it as the chain's full one. */
	for (i = 0; i < n; i++)
		if (cbt_backup_volume_get_type(tr->b, i) != LIBCBT_BACKUP_FULL)
			break;
	if (i == n && cbt_newpoint_get_type(np) != CBT_POINT_FULL &&
	    cbt_newpoint_get_type(np) != CBT_POINT_COPY) {
		ret = cbt_newpoint_set_type(np, CBT_POINT_FULL);
		if (ret)
			return session_fail(ret, "backup type");
	}
	for (i = 0; i < n; i++) {
		struct backup_source *s = &src[i];
		int vt = cbt_backup_volume_get_type(tr->b, i);

		s->path = cbt_backup_volume_get_image(tr->b, i);
		s->size = 0;	/* the image's own: the volume may have grown since */
		s->stamp = cbt_backup_volume_get_stamp(tr->b, i);
		if (cbt_backup_volume_get_fallback(tr->b, i) == LIBCBT_BACKUP_FALLBACK_STALE &&
		    !tr->o->quiet)
			fail_msg("warning: %s: %s: a full backup instead", tr->src[i].name,
				 cbt_backup_volume_get_reason(tr->b, i));
		if (vt != LIBCBT_BACKUP_INCREMENTAL && vt != LIBCBT_BACKUP_DIFFERENTIAL)
			continue;	/* every block */
		base = cbt_backup_volume_get_base(tr->b, i);
		ret = cbt_newpoint_get_volume_base(np, s->name, &bid, &bstamp);
		if (ret)
			return session_fail(ret, s->name);
		if (!bid || !bstamp || !base || strcmp(bstamp, base)) {
			if (!tr->o->quiet && bid)
				fail_msg("note: %s: point %llu of the chain was not taken at the chain's last stamp: every block read",
					 s->name, (unsigned long long)bid);
			continue;
		}
		if (read_extents(tr, i, s))
			return 1;
	}
	return 0;
}

/* Every image read: a set that overflowed meanwhile is no backup. */
static int ready(void *data)
{
	struct tracked *tr = data;
	struct cbt_snapset *set = cbt_backup_get_snapset(tr->b);
	int ret;

	ret = cbt_snapset_refresh(set);
	if (ret)
		return session_fail(ret, "snapshot");
	if (cbt_snapset_get_state(set) & (LIBCBT_STATE_OVERFLOW | LIBCBT_STATE_INVALID)) {
		fail_msg("the snapshot overflowed its store or went invalid while it was read: nothing kept (give a larger --store)");
		return 1;
	}
	if (backup_interrupted) {
		fail_msg("interrupted: nothing kept");
		return 1;
	}
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	backup_interrupted = 1;
}

static int finish(void *data, struct cbt_repo *r, uint64_t id)
{
	struct tracked *tr = data;
	int ret;

	(void)r;
	(void)id;
	ret = cbt_backup_end(tr->b, 1);
	if (ret == -EIO) {
		fail_msg("the snapshot overflowed its store while it was read: nothing kept (give a larger --store)");
		return 1;
	}
	if (ret)
		return session_fail(ret, "ending the backup");
	return 0;
}

int backup_tracked(struct backup_opts *o, const struct tracked_opts *t, size_t n,
		   struct backup_source *src, struct backup_result *res)
{
	struct tracked tr = { .o = o, .t = t, .src = src, .n = n, .res = res };
	struct sigaction sa = { .sa_handler = on_signal };
	int ret, rc;

	ret = cbt_ctx_new(&tr.ctx);
	if (ret)
		return session_fail(ret, "/dev/cbt-ctl");
	/* A signal fails the backup through its error path, which ends the set. */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	o->prepare = prepare;
	o->ready = ready;
	o->finish = finish;
	o->hook_data = &tr;
	rc = backup_write_point(o, src, n, res);
	/* Not ended (a failure before the commit): the set goes, no anchor moves. */
	cbt_backup_free(tr.b);
	cbt_ctx_unref(tr.ctx);
	return rc;
}
