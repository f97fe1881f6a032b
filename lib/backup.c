// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * backup.c - backup sessions (see include/libcbt.h): a snapshot set over
 * the session's volumes, each volume's type and base from its chain's
 * anchors (anchor.c), and the anchors moved only when the session ends
 * with success.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"

#define T_BAK		LIBCBT_DEBUG_BACKUP

enum session_state { S_NEW, S_BEGUN, S_ENDED, S_FAILED };

struct bvol {
	dev_t dev;
	struct cbt_volume *vol;		/* opened by begin */
	char *image;			/* the set's image of it */
	char stamp[CBT__STAMP_LEN];	/* at the instant */
	char base[CBT__STAMP_LEN];	/* "" for FULL, COPY */
	uint64_t size;
	uint32_t block_size;
	int type;			/* effective */
	int fallback;			/* LIBCBT_BACKUP_FALLBACK_* */
	char *reason;
	uint64_t *wext;			/* writers' extents: offset, length pairs */
	size_t nwext;
};

struct cbt_backup {
	struct cbt_ctx *ctx;		/* a reference */
	int type;			/* as asked */
	unsigned int flags;
	char *chain;
	char *state_dir;
	struct cbt_snapset_opts *opts;	/* a copy, or NULL */
	struct bvol vols[LIBCBT_SNAPSET_MAX_VOLUMES];
	unsigned int nvols;
	struct cbt__meta *meta;		/* to keep at success */
	size_t nmeta;
	struct cbt__anchors anchors;	/* as read by begin */
	struct cbt_snapset *set;
	int wpolicy;			/* LIBCBT_WRITERS_* */
	struct cbt_snapset *wresults;	/* what the writers did: the set's
					 * handle (kept after it is destroyed),
					 * or a failed create's */
	int dirfd, lockfd;
	enum session_state state;
	int committed;
};

static const char *const type_names[] = {
	[LIBCBT_BACKUP_FULL] = "full",
	[LIBCBT_BACKUP_INCREMENTAL] = "incremental",
	[LIBCBT_BACKUP_DIFFERENTIAL] = "differential",
	[LIBCBT_BACKUP_COPY] = "copy",
};

static int type_valid(int type)
{
	return type >= LIBCBT_BACKUP_FULL && type <= LIBCBT_BACKUP_COPY;
}

const char *cbt_backup_type_name(int type)
{
	const char *n = type_valid(type) ? type_names[type] : NULL;

	cbt__trace(T_BAK, "cbt_backup_type_name(%d) = %s", type, CBT__S(n));
	return n;
}

int cbt_backup_type_parse(const char *name, int *type)
{
	int t, ret = -EINVAL;

	for (t = LIBCBT_BACKUP_FULL; name && type && t <= LIBCBT_BACKUP_COPY; t++)
		if (!strcmp(name, type_names[t])) {
			*type = t;
			ret = 0;
			break;
		}
	return cbt__ret(T_BAK, ret, "cbt_backup_type_parse(\"%s\")", CBT__S(name));
}

/* ---- the session's settings ------------------------------------------------------ */

int cbt_backup_new(struct cbt_ctx *ctx, int type, struct cbt_backup **out)
{
	struct cbt_backup *b = NULL;
	int ret = -EINVAL;

	if (ctx && out && type_valid(type)) {
		ret = -ENOMEM;
		b = calloc(1, sizeof(*b));
		if (b) {
			b->chain = strdup(LIBCBT_BACKUP_CHAIN);
			b->state_dir = strdup(LIBCBT_BACKUP_STATE_DIR);
		}
		if (b && b->chain && b->state_dir) {
			b->ctx = cbt_ctx_ref(ctx);
			b->type = type;
			b->dirfd = b->lockfd = -1;
			*out = b;
			ret = 0;
		} else if (b) {
			free(b->chain);
			free(b->state_dir);
			free(b);
		}
	}
	return cbt__ret(T_BAK, ret, "cbt_backup_new(%p, %d) [%p]", (void *)ctx, type,
			ret ? NULL : (void *)*out);
}

/* Setters are for a session not begun yet. */
static int settable(const struct cbt_backup *b)
{
	if (!b)
		return -EINVAL;
	return b->state == S_NEW ? 0 : -EBUSY;
}

int cbt_backup_add_volume(struct cbt_backup *b, const struct cbt_volume *vol)
{
	dev_t d = vol ? cbt_volume_get_devno(vol) : 0;
	int ret = vol ? settable(b) : -EINVAL;
	unsigned int i;

	for (i = 0; !ret && i < b->nvols; i++)
		if (b->vols[i].dev == d)
			ret = -EEXIST;
	if (!ret && b->nvols == LIBCBT_SNAPSET_MAX_VOLUMES)
		ret = -E2BIG;
	if (!ret)
		b->vols[b->nvols++].dev = d;
	return cbt__ret(T_BAK, ret, "cbt_backup_add_volume(%p, %u:%u)", (void *)b,
			major(d), minor(d));
}

static int set_string(char **field, const char *value)
{
	char *c = strdup(value);

	if (!c)
		return -ENOMEM;
	free(*field);
	*field = c;
	return 0;
}

int cbt_backup_set_chain(struct cbt_backup *b, const char *chain)
{
	int ret = settable(b);

	if (!ret)
		ret = cbt__chain_check(chain);
	if (!ret)
		ret = set_string(&b->chain, chain);
	return cbt__ret(T_BAK, ret, "cbt_backup_set_chain(%p, \"%s\")", (void *)b, CBT__S(chain));
}

int cbt_backup_set_state_dir(struct cbt_backup *b, const char *path)
{
	int ret = settable(b);

	if (!ret && (!path || !*path))
		ret = -EINVAL;
	if (!ret)
		ret = set_string(&b->state_dir, path);
	return cbt__ret(T_BAK, ret, "cbt_backup_set_state_dir(%p, \"%s\")", (void *)b,
			CBT__S(path));
}

int cbt_backup_set_flags(struct cbt_backup *b, unsigned int flags)
{
	int ret = settable(b);

	if (!ret && (flags & ~LIBCBT_BACKUP_NO_FALLBACK))
		ret = -EINVAL;
	if (!ret)
		b->flags = flags;
	return cbt__ret(T_BAK, ret, "cbt_backup_set_flags(%p, %#x)", (void *)b, flags);
}

int cbt_backup_set_snapset_opts(struct cbt_backup *b, const struct cbt_snapset_opts *opts)
{
	struct cbt_snapset_opts *c = NULL;
	int ret = opts ? settable(b) : -EINVAL;

	if (!ret)
		ret = cbt__snapset_opts_dup(opts, &c);
	if (!ret) {
		cbt_snapset_opts_free(b->opts);
		b->opts = c;
	}
	return cbt__ret(T_BAK, ret, "cbt_backup_set_snapset_opts(%p, %p)", (void *)b,
			(const void *)opts);
}

int cbt_backup_set_writers(struct cbt_backup *b, int policy)
{
	int ret = settable(b);

	if (!ret && (policy < LIBCBT_WRITERS_BEST_EFFORT || policy > LIBCBT_WRITERS_NONE))
		ret = -EINVAL;
	if (!ret)
		b->wpolicy = policy;
	return cbt__ret(T_BAK, ret, "cbt_backup_set_writers(%p, %d)", (void *)b, policy);
}

int cbt_backup_set_metadata(struct cbt_backup *b, const char *name,
			    const void *data, size_t len)
{
	int ret = -EINVAL;

	if (b)
		ret = b->state == S_NEW || b->state == S_BEGUN ?
		      cbt__meta_set(&b->meta, &b->nmeta, name, data, len) : -EBUSY;
	return cbt__ret(T_BAK, ret, "cbt_backup_set_metadata(%p, \"%s\", %zu)", (void *)b,
			CBT__S(name), len);
}

/* ---- begin -------------------------------------------------------------------------- */

static int set_reason(struct bvol *v, int fallback, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int set_reason(struct bvol *v, int fallback, const char *fmt, ...)
{
	va_list ap;
	char *r;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&r, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	free(v->reason);
	v->reason = r;
	v->fallback = fallback;
	v->type = LIBCBT_BACKUP_FULL;
	v->base[0] = '\0';
	return 0;
}

/*
 * The base a volume's type asks for, from the chain's anchors, or a FULL
 * with the reason; a base from another tracker is stale at once.
 */
static int choose_base(struct cbt_backup *b, struct bvol *v)
{
	const struct cbt__anchor *a = cbt__anchors_find(&b->anchors, v->dev, 0);
	const char *uuid = cbt_volume_get_tracker_uuid(v->vol);
	const char *base;

	v->type = b->type;
	v->base[0] = '\0';
	if (b->type == LIBCBT_BACKUP_FULL || b->type == LIBCBT_BACKUP_COPY)
		return 0;
	base = !a ? "" : b->type == LIBCBT_BACKUP_INCREMENTAL ? a->incr : a->diff;
	if (!*base)
		return set_reason(v, LIBCBT_BACKUP_FALLBACK_NO_BASE,
				  "%s has no earlier %s backup in chain \"%s\": a full backup is taken",
				  cbt_volume_get_path(v->vol),
				  b->type == LIBCBT_BACKUP_INCREMENTAL ? "successful" : "full",
				  b->chain);
	if (!uuid || strncmp(base, uuid, 36))
		return set_reason(v, LIBCBT_BACKUP_FALLBACK_STALE,
				  "the tracker of %s was reset since its last backup in chain \"%s\" (tracker %s, base stamp %s): the changes since then are unknown, only a full backup is possible",
				  cbt_volume_get_path(v->vol), b->chain, CBT__S(uuid), base);
	strcpy(v->base, base);
	return 0;
}

/* Ask the tracker about the base: -ESTALE makes the volume FULL. */
static int check_base(struct cbt_backup *b, struct bvol *v)
{
	struct cbt_changes_iter *it = NULL;
	int ret;

	if (!v->base[0])
		return 0;
	ret = cbt_changes_open(v->vol, v->base, 0, 0, &it);
	cbt_changes_free(it);
	if (ret != -ESTALE)
		return ret;
	return set_reason(v, LIBCBT_BACKUP_FALLBACK_STALE,
			  "the tracker of %s can no longer answer for its base stamp %s in chain \"%s\" (it was reset, or the stamp is older than its map): only a full backup is possible",
			  cbt_volume_get_path(v->vol), v->base, b->chain);
}

/* Refuse (-ESTALE) a stale base under LIBCBT_BACKUP_NO_FALLBACK. */
static int fallback_refused(const struct cbt_backup *b)
{
	unsigned int i;

	if (!(b->flags & LIBCBT_BACKUP_NO_FALLBACK))
		return 0;
	for (i = 0; i < b->nvols; i++)
		if (b->vols[i].fallback == LIBCBT_BACKUP_FALLBACK_STALE)
			return -ESTALE;
	return 0;
}

/*
 * STATE_DIR/CHAIN.set names the set a begun session took ("ID CREATED_NS"):
 * a session killed before its end leaves it, and the chain's next session
 * (holding the lock, so that session is gone) destroys that set, if a set
 * with that id and creation time is still there. Only a hint: anything
 * else in the file is ignored.
 */
static void set_file_name(const struct cbt_backup *b, char *name, size_t size)
{
	snprintf(name, size, "%s.set", b->chain);
}

static void set_file_write(struct cbt_backup *b)
{
	char name[LIBCBT_BACKUP_CHAIN_MAX + 8], text[64];
	int fd, n;

	set_file_name(b, name, sizeof(name));
	unlinkat(b->dirfd, name, 0);
	fd = openat(b->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	n = snprintf(text, sizeof(text), "%u %" PRIu64 "\n", cbt_snapset_get_id(b->set),
		     cbt_snapset_get_created_ns(b->set));
	if (write(fd, text, (size_t)n) != n)
		unlinkat(b->dirfd, name, 0);
	close(fd);
}

static void set_file_cleanup(struct cbt_backup *b)
{
	char name[LIBCBT_BACKUP_CHAIN_MAX + 8], text[64];
	struct cbt_snapset *old = NULL;
	unsigned long long created;
	unsigned int id;
	ssize_t n;
	int fd;

	set_file_name(b, name, sizeof(name));
	fd = openat(b->dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n > 0) {
		text[n] = '\0';
		if (sscanf(text, "%u %llu", &id, &created) == 2 &&
		    !cbt_snapset_open(b->ctx, id, &old) &&
		    cbt_snapset_get_created_ns(old) == created &&
		    !(cbt_snapset_get_state(old) & LIBCBT_STATE_DESTROYED)) {
			cbt__trace(T_BAK, "backup %p: destroying set %u left by a session of chain %s",
				   (void *)b, id, b->chain);
			cbt_snapset_destroy(old);
		}
		cbt_snapset_free(old);
	}
	unlinkat(b->dirfd, name, 0);
}

static void release(struct cbt_backup *b)
{
	if (b->set) {
		int ret = cbt_snapset_destroy(b->set);

		if (ret && ret != -ENOENT)
			cbt__trace(T_BAK, "backup %p: destroying set %u: %s", (void *)b,
				   cbt_snapset_get_id(b->set), cbt__errtext(ret));
		if (b->set != b->wresults)
			cbt_snapset_free(b->set);
		b->set = NULL;
		/* A set still there stays named, for the chain's next begin. */
		if (b->dirfd >= 0 && (!ret || ret == -ENOENT)) {
			char name[LIBCBT_BACKUP_CHAIN_MAX + 8];

			set_file_name(b, name, sizeof(name));
			unlinkat(b->dirfd, name, 0);
		}
	}
	if (b->lockfd >= 0)
		close(b->lockfd);	/* the lock goes with it */
	if (b->dirfd >= 0)
		close(b->dirfd);
	b->lockfd = b->dirfd = -1;
}

/* The set's member that is @dev, or -1. */
static int member_of(const struct cbt_snapset *set, dev_t dev)
{
	unsigned int i, n = cbt_snapset_get_member_count(set);

	for (i = 0; i < n; i++)
		if (cbt_snapset_get_member_devno(set, i) == dev)
			return (int)i;
	return -1;
}

#define WRITER_META	"writer:"	/* + name: a writer's stamp from the last backup */
#define WRITER_FULL_META "writer-full:"	/* + name: its stamp from the last FULL */

/* The writers' stamps from the base backup, for their PREPARE. */
static int add_writer_stamps(struct cbt_backup *b, struct cbt_snapset_opts *o)
{
	const char *prefix = b->type == LIBCBT_BACKUP_DIFFERENTIAL ? WRITER_FULL_META : WRITER_META;
	size_t i, pl = strlen(prefix);
	int ret = 0;

	if (b->type != LIBCBT_BACKUP_INCREMENTAL && b->type != LIBCBT_BACKUP_DIFFERENTIAL)
		return 0;
	for (i = 0; !ret && i < b->anchors.nm; i++) {
		const struct cbt__meta *m = &b->anchors.m[i];

		if (strncmp(m->name, prefix, pl) || cbt__writer_name_check(m->name + pl) ||
		    !m->len || m->len > LIBCBT_WRITER_STAMP_MAX)
			continue;
		ret = cbt_snapset_opts_add_writer_stamp(o, m->name + pl, m->data, m->len);
		if (ret == -EEXIST)
			ret = 0;
	}
	return ret;
}

/* The extents writers named, onto the session's volumes. */
static int take_writer_extents(struct cbt_backup *b)
{
	const struct cbt_snapset *w = b->wresults;
	unsigned int i, j, k, nw = cbt_snapset_get_writer_count(w);

	for (i = 0; i < nw; i++) {
		if (cbt_snapset_get_writer_error(w, i))
			continue;
		for (j = 0; j < cbt_snapset_get_writer_extents(w, i); j++) {
			uint64_t off, len, *p;
			dev_t d;

			if (cbt_snapset_get_writer_extent(w, i, j, &d, &off, &len))
				continue;
			for (k = 0; k < b->nvols; k++)
				if (b->vols[k].dev == d)
					break;
			if (k == b->nvols)
				continue;	/* a volume the session does not read */
			p = realloc(b->vols[k].wext, (b->vols[k].nwext + 1) * 2 * sizeof(*p));
			if (!p)
				return -ENOMEM;
			p[2 * b->vols[k].nwext] = off;
			p[2 * b->vols[k].nwext + 1] = len;
			b->vols[k].wext = p;
			b->vols[k].nwext++;
		}
	}
	return 0;
}

/*
 * A writer's component may pull a volume the session does not read into
 * the set (cbt_snapset_attempt). The set then holds it, but the backup
 * would not: under require that is no backup of the application, so it is
 * refused, naming the volume to add. Otherwise the caller may warn
 * (members beyond cbt_backup_get_volume_count's).
 */
static int pulled_refused(const struct cbt_backup *b)
{
	unsigned int i, k, n = cbt_snapset_get_member_count(b->set);
	dev_t d;

	if (b->wpolicy != LIBCBT_WRITERS_REQUIRE)
		return 0;
	for (i = 0; i < n; i++) {
		d = cbt_snapset_get_member_devno(b->set, i);
		for (k = 0; k < b->nvols && b->vols[k].dev != d; k++)
			;
		if (k == b->nvols && !cbt__snapset_opts_has_volume(b->opts, d)) {
			char *path = cbt__devno_path(d);

			cbt__set_error("%s: a writer's component lies on it too, and the backup does not include it (writers required): back it up with the others",
				       path ? path : "a volume");
			free(path);
			return -EXDEV;
		}
	}
	return 0;
}

static int take_set(struct cbt_backup *b)
{
	struct cbt_snapset_opts *o = NULL;
	unsigned int i;
	int ret, m;

	ret = b->opts ? cbt__snapset_opts_dup(b->opts, &o) : cbt_snapset_opts_new(&o);
	for (i = 0; !ret && i < b->nvols; i++) {
		ret = cbt_snapset_opts_add_volume(o, b->vols[i].vol);
		if (ret == -EEXIST)	/* the caller's options named it too */
			ret = 0;
	}
	if (!ret)
		ret = cbt_snapset_opts_set_writers(o, b->wpolicy);
	if (!ret)
		ret = cbt_snapset_opts_set_backup_type(o, b->type);
	if (!ret)
		ret = add_writer_stamps(b, o);
	if (!ret) {
		cbt_snapset_free(b->wresults);
		b->wresults = NULL;
		ret = cbt_snapset_attempt(b->ctx, o, &b->set);
		b->wresults = b->set;
		if (ret)
			b->set = NULL;	/* a failed handle: only results */
	}
	cbt_snapset_opts_free(o);
	if (!ret)
		ret = pulled_refused(b);
	if (!ret)
		ret = take_writer_extents(b);
	for (i = 0; !ret && i < b->nvols; i++) {
		struct bvol *v = &b->vols[i];
		const char *s;

		m = member_of(b->set, v->dev);
		if (m < 0) {
			ret = -EIO;
			break;
		}
		s = cbt_snapset_get_member_stamp(b->set, (unsigned int)m);
		v->image = strdup(CBT__S(cbt_snapset_get_member_image(b->set, (unsigned int)m)));
		if (!v->image)
			ret = -ENOMEM;
		else if (!s || strlen(s) >= CBT__STAMP_LEN)
			ret = -EIO;
		else
			strcpy(v->stamp, s);
	}
	return ret;
}

static int begin(struct cbt_backup *b)
{
	unsigned int i;
	int ret;

	if (!b)
		return -EINVAL;
	if (b->state != S_NEW)
		return -EBUSY;
	if (!b->nvols)
		return -EINVAL;
	b->state = S_FAILED;	/* until it all worked */
	ret = cbt__state_open(b->state_dir, &b->dirfd);
	if (!ret)
		ret = cbt__chain_lock(b->dirfd, b->chain, &b->lockfd);
	if (!ret)
		ret = cbt__anchors_load(b->dirfd, b->chain, &b->anchors);
	if (!ret)
		set_file_cleanup(b);
	for (i = 0; !ret && i < b->nvols; i++) {
		struct bvol *v = &b->vols[i];

		ret = cbt_volume_open_devno(b->ctx, v->dev, &v->vol);
		if (!ret)
			ret = cbt_volume_refresh(v->vol);
		if (!ret) {
			v->size = cbt_volume_get_size(v->vol);
			v->block_size = cbt_volume_get_block_size(v->vol);
			ret = choose_base(b, v);
		}
	}
	/* Refused before a set is taken, when that is already known. */
	if (!ret)
		ret = fallback_refused(b);
	if (!ret)
		ret = take_set(b);
	if (!ret)
		set_file_write(b);
	/*
	 * The kernel is asked about each base after the instant: a stamp it
	 * can no longer answer for (too old) is stale too.
	 */
	for (i = 0; !ret && i < b->nvols; i++)
		ret = check_base(b, &b->vols[i]);
	if (!ret)
		ret = fallback_refused(b);
	if (ret) {
		release(b);
		return ret;
	}
	b->state = S_BEGUN;
	return 0;
}

int cbt_backup_begin(struct cbt_backup *b)
{
	int ret = begin(b);

	return cbt__ret(T_BAK, ret, "cbt_backup_begin(%p) [chain %s, set %u]", (void *)b,
			b ? b->chain : "(null)", b && b->set ? cbt_snapset_get_id(b->set) : 0);
}

/* ---- end ------------------------------------------------------------------------------- */

/* Move the anchors of the session's volumes and keep its metadata. */
static int commit(struct cbt_backup *b)
{
	struct cbt__anchors next;
	unsigned int i;
	int ret = 0;

	if (b->type == LIBCBT_BACKUP_COPY)
		return 0;		/* no one's base, and no writer's history */
	/* The anchors as read, updated; written only whole. */
	memset(&next, 0, sizeof(next));
	next.v = b->anchors.nv ? malloc(b->anchors.nv * sizeof(*next.v)) : NULL;
	if (b->anchors.nv && !next.v)
		return -ENOMEM;
	if (b->anchors.nv)
		memcpy(next.v, b->anchors.v, b->anchors.nv * sizeof(*next.v));
	next.nv = b->anchors.nv;
	for (i = 0; !ret && i < b->nvols; i++) {
		const struct bvol *v = &b->vols[i];
		struct cbt__anchor *a = cbt__anchors_find(&next, v->dev, 1);

		if (!a) {
			ret = -ENOMEM;
			break;
		}
		strcpy(a->incr, v->stamp);
		if (v->type == LIBCBT_BACKUP_FULL)
			strcpy(a->diff, v->stamp);
	}
	for (i = 0; !ret && i < b->nmeta; i++)
		ret = cbt__meta_set(&next.m, &next.nm, b->meta[i].name, b->meta[i].data,
				    b->meta[i].len);
	/*
	 * Each writer's new stamp, for its next incremental; a FULL's also
	 * for the differentials built on it, which a later backup keeps.
	 */
	for (i = 0; !ret && i < b->anchors.nm; i++)
		if (b->type != LIBCBT_BACKUP_FULL &&
		    !strncmp(b->anchors.m[i].name, WRITER_FULL_META, strlen(WRITER_FULL_META)))
			ret = cbt__meta_set(&next.m, &next.nm, b->anchors.m[i].name,
					    b->anchors.m[i].data, b->anchors.m[i].len);
	for (i = 0; !ret && i < cbt_snapset_get_writer_count(b->wresults); i++) {
		const char *wn = cbt_snapset_get_writer_name(b->wresults, i);
		size_t len;
		const void *st = cbt_snapset_get_writer_stamp(b->wresults, i, &len);
		char name[LIBCBT_BACKUP_META_NAME_MAX + 16];

		if (!st || cbt_snapset_get_writer_error(b->wresults, i))
			continue;
		snprintf(name, sizeof(name), "%s%s", WRITER_META, wn);
		if (cbt__meta_name_check(name))
			continue;	/* a name too long to keep */
		ret = cbt__meta_set(&next.m, &next.nm, name, st, len);
		snprintf(name, sizeof(name), "%s%s", WRITER_FULL_META, wn);
		if (!ret && b->type == LIBCBT_BACKUP_FULL && !cbt__meta_name_check(name))
			ret = cbt__meta_set(&next.m, &next.nm, name, st, len);
	}
	if (!ret)
		ret = cbt__anchors_save(b->dirfd, b->chain, &next);
	cbt__anchors_clear(&next);
	return ret;
}

static int end(struct cbt_backup *b, int success)
{
	int ret = 0;

	if (!b)
		return -EINVAL;
	if (b->state != S_BEGUN)
		return -EINVAL;
	if (success) {
		/* Images that failed reads are no backup, whatever the caller saw. */
		ret = cbt_snapset_refresh(b->set);
		if (!ret && (cbt_snapset_get_state(b->set) &
			     (LIBCBT_STATE_OVERFLOW | LIBCBT_STATE_INVALID)))
			ret = -EIO;
		if (!ret)
			ret = commit(b);
		if (!ret)
			b->committed = 1;
	}
	/*
	 * The writers learn the outcome (COMPLETE) once it is certain: a
	 * writer truncates its logs only after a backup that was kept. A
	 * module without writers does not know the request: nothing to tell.
	 */
	if (b->set) {
		int e = cbt_snapset_end(b->set, b->committed, b->type);

		if (e && e != -ENOTTY && e != -EINVAL && e != -EALREADY)
			cbt__trace(T_BAK, "backup %p: ending the writers' round: %s", (void *)b,
				   cbt__errtext(e));
	}
	release(b);
	b->state = S_ENDED;
	return ret;
}

int cbt_backup_end(struct cbt_backup *b, int success)
{
	int ret = end(b, success);

	return cbt__ret(T_BAK, ret, "cbt_backup_end(%p, %d) [committed %d]", (void *)b,
			success, b ? b->committed : 0);
}

int cbt_backup_is_committed(const struct cbt_backup *b)
{
	int c = b ? b->committed : 0;

	cbt__trace(T_BAK, "cbt_backup_is_committed(%p) = %d", (const void *)b, c);
	return c;
}

void cbt_backup_free(struct cbt_backup *b)
{
	unsigned int i;

	cbt__trace(T_BAK, "cbt_backup_free(%p)", (void *)b);
	if (!b)
		return;
	if (b->state == S_BEGUN)
		end(b, 0);	/* not ended: a failure, nothing moves */
	release(b);
	for (i = 0; i < b->nvols; i++) {
		cbt_volume_free(b->vols[i].vol);
		free(b->vols[i].image);
		free(b->vols[i].reason);
		free(b->vols[i].wext);
	}
	cbt_snapset_free(b->wresults);
	cbt__meta_clear(&b->meta, &b->nmeta);
	cbt__anchors_clear(&b->anchors);
	cbt_snapset_opts_free(b->opts);
	cbt_ctx_unref(b->ctx);
	free(b->chain);
	free(b->state_dir);
	free(b);
}

/* ---- getters ------------------------------------------------------------------------- */

int cbt_backup_get_type(const struct cbt_backup *b)
{
	int t = b ? b->type : 0;

	cbt__trace(T_BAK, "cbt_backup_get_type(%p) = %d", (const void *)b, t);
	return t;
}

const char *cbt_backup_get_chain(const struct cbt_backup *b)
{
	const char *c = b ? b->chain : NULL;

	cbt__trace(T_BAK, "cbt_backup_get_chain(%p) = %s", (const void *)b, CBT__S(c));
	return c;
}

struct cbt_snapset *cbt_backup_get_snapset(struct cbt_backup *b)
{
	struct cbt_snapset *s = b ? b->set : NULL;

	cbt__trace(T_BAK, "cbt_backup_get_snapset(%p) = %p", (void *)b, (void *)s);
	return s;
}

/* What begin read is only there once it read it. */
static int prev_read(const struct cbt_backup *b)
{
	return b && b->state != S_NEW;
}

unsigned int cbt_backup_get_prev_metadata_count(const struct cbt_backup *b)
{
	unsigned int n = prev_read(b) ? (unsigned int)b->anchors.nm : 0;

	cbt__trace(T_BAK, "cbt_backup_get_prev_metadata_count(%p) = %u", (const void *)b, n);
	return n;
}

const char *cbt_backup_get_prev_metadata_name(const struct cbt_backup *b, unsigned int i)
{
	const char *n = prev_read(b) && i < b->anchors.nm ? b->anchors.m[i].name : NULL;

	cbt__trace(T_BAK, "cbt_backup_get_prev_metadata_name(%p, %u) = %s", (const void *)b,
		   i, CBT__S(n));
	return n;
}

int cbt_backup_get_prev_metadata(const struct cbt_backup *b, const char *name,
				 const void **data, size_t *len)
{
	int ret = -EINVAL;
	size_t i;

	if (b && name && data && len) {
		ret = -ENOENT;
		for (i = 0; prev_read(b) && i < b->anchors.nm; i++)
			if (!strcmp(b->anchors.m[i].name, name)) {
				*data = b->anchors.m[i].data;
				*len = b->anchors.m[i].len;
				ret = 0;
				break;
			}
	}
	return cbt__ret(T_BAK, ret, "cbt_backup_get_prev_metadata(%p, \"%s\")",
			(const void *)b, CBT__S(name));
}

unsigned int cbt_backup_get_volume_count(const struct cbt_backup *b)
{
	unsigned int n = b ? b->nvols : 0;

	cbt__trace(T_BAK, "cbt_backup_get_volume_count(%p) = %u", (const void *)b, n);
	return n;
}

/* Volume @i once begin decided about it (even when begin then failed). */
static const struct bvol *bvol(const struct cbt_backup *b, unsigned int i)
{
	return b && i < b->nvols && b->vols[i].vol ? &b->vols[i] : NULL;
}

dev_t cbt_backup_volume_get_devno(const struct cbt_backup *b, unsigned int i)
{
	dev_t d = b && i < b->nvols ? b->vols[i].dev : 0;

	cbt__trace(T_BAK, "cbt_backup_volume_get_devno(%p, %u) = %u:%u", (const void *)b, i,
		   major(d), minor(d));
	return d;
}

#define BVOL_GET(type, fmt, name, expr)						\
type cbt_backup_volume_get_##name(const struct cbt_backup *b, unsigned int i)	\
{										\
	const struct bvol *v = bvol(b, i);					\
	type r = v ? (expr) : 0;						\
										\
	cbt__trace(T_BAK, "cbt_backup_volume_get_" #name "(%p, %u) = %" fmt,	\
		   (const void *)b, i, r);					\
	return r;								\
}

#define BVOL_GET_STR(name, expr)						\
const char *cbt_backup_volume_get_##name(const struct cbt_backup *b, unsigned int i) \
{										\
	const struct bvol *v = bvol(b, i);					\
	const char *r = v ? (expr) : NULL;					\
										\
	cbt__trace(T_BAK, "cbt_backup_volume_get_" #name "(%p, %u) = %s",	\
		   (const void *)b, i, CBT__S(r));				\
	return r;								\
}

BVOL_GET(uint64_t, PRIu64, size, v->size)
BVOL_GET(uint32_t, PRIu32, block_size, v->block_size)
BVOL_GET(int, "d", type, v->type)
BVOL_GET(int, "d", fallback, v->fallback)
BVOL_GET_STR(path, cbt_volume_get_path(v->vol))
BVOL_GET_STR(image, v->image)
BVOL_GET_STR(stamp, v->stamp[0] ? v->stamp : NULL)
BVOL_GET_STR(base, v->base[0] ? v->base : NULL)
BVOL_GET_STR(reason, v->reason)

/* What to read is known while the session is begun (and its set lives). */
static struct bvol *bvol_begun(struct cbt_backup *b, unsigned int i)
{
	return b && b->state == S_BEGUN && i < b->nvols ? &b->vols[i] : NULL;
}

int cbt_backup_volume_changes_open(struct cbt_backup *b, unsigned int i,
				   struct cbt_changes_iter **it)
{
	struct bvol *v = bvol_begun(b, i);
	int ret = -EINVAL;

	if (v && it)
		ret = v->base[0] ? cbt_changes_open(v->vol, v->base, 0, 0, it) :
		      cbt__changes_open_all(b->ctx, v->size, v->block_size, it);
	return cbt__ret(T_BAK, ret, "cbt_backup_volume_changes_open(%p, %u) [%p]",
			(void *)b, i, ret ? NULL : (void *)*it);
}

static int64_t changes_bitmap(struct bvol *v, uint64_t first_block, uint64_t nbits,
			      uint8_t *bitmap)
{
	uint64_t blocks;

	if (v->base[0])
		return cbt_volume_changes_bitmap(v->vol, v->base, first_block, nbits,
						 bitmap, NULL);
	/* FULL, COPY: every block, with cbt_volume_changes_bitmap()'s rules. */
	if (!v->block_size)
		return -EIO;
	blocks = (v->size + v->block_size - 1) / v->block_size;
	if (first_block > blocks)
		return -EINVAL;
	if (nbits > blocks - first_block)
		nbits = blocks - first_block;
	if (nbits % 8 && nbits != blocks - first_block)
		return -EINVAL;
	memset(bitmap, 0xff, nbits / 8);
	if (nbits % 8)
		bitmap[nbits / 8] = (uint8_t)((1u << (nbits % 8)) - 1);
	return (int64_t)nbits;
}

int64_t cbt_backup_volume_changes_bitmap(struct cbt_backup *b, unsigned int i,
					 uint64_t first_block, uint64_t nbits,
					 uint8_t *bitmap)
{
	struct bvol *v = bvol_begun(b, i);
	int64_t ret = v && bitmap ? changes_bitmap(v, first_block, nbits, bitmap) : -EINVAL;

	cbt__trace(T_BAK, "cbt_backup_volume_changes_bitmap(%p, %u, %" PRIu64 ", %" PRIu64
		   ") = %" PRId64, (void *)b, i, first_block, nbits, ret);
	return ret;
}

const struct cbt_snapset *cbt_backup_get_writer_results(const struct cbt_backup *b)
{
	const struct cbt_snapset *s = b ? b->wresults : NULL;

	cbt__trace(T_BAK, "cbt_backup_get_writer_results(%p) = %p", (const void *)b,
		   (const void *)s);
	return s;
}

int cbt_backup_volume_get_writer_extents(const struct cbt_backup *b, unsigned int i,
					 const uint64_t **extents, size_t *count)
{
	int ret = -EINVAL;

	if (b && i < b->nvols && extents && count) {
		*extents = b->vols[i].wext;
		*count = b->vols[i].nwext;
		ret = 0;
	}
	return cbt__ret(T_BAK, ret, "cbt_backup_volume_get_writer_extents(%p, %u) [%zu]",
			(const void *)b, i, ret ? 0 : *count);
}
