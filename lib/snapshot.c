// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * snapshot.c - the library side of snapshot sets (see include/libcbt.h):
 * creating them with their stores, watching, growing and destroying them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"

#define SNAP_LIST_MAX	64

struct snap_member {
	char *volume;
	char *image;
	char stamp[CBT_STAMP_MAX];
	unsigned int frozen;
};

struct cbt_snapset {
	struct cbt_ctx *ctx;
	uint32_t id;
	unsigned int count;
	uint64_t hold_ns;
	int event_fd;
	struct snap_member members[CBT_SNAP_MAX_MEMBERS];
};

int cbt_store_prepare(const char *path, uint64_t size)
{
	struct stat st;
	int fd, ret = 0;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
	} else if (size > (uint64_t)st.st_size) {
		/* Preallocated, so the store cannot fail for lack of space. */
		ret = -posix_fallocate(fd, 0, (off_t)size);
	} else if (!st.st_size) {
		ret = -EINVAL;	/* an empty file and no size to give it */
	}
	close(fd);
	return ret;
}

/* Open a store spec "PATH[:SIZE]" for the kernel to keep. */
static int store_open(const char *spec, int *fd)
{
	const char *colon = strrchr(spec, ':');
	uint64_t size = 0;
	struct stat st;
	char *path;
	int ret;

	path = strdup(spec);
	if (!path)
		return -ENOMEM;
	if (colon && cbt_parse_size(colon + 1, &size) == 0)
		path[colon - spec] = '\0';
	else
		size = 0;
	if (!*path) {
		ret = -EINVAL;
		goto out;
	}
	if (stat(path, &st) == 0 && S_ISBLK(st.st_mode)) {
		/* Exclusive: nothing may mount or use the device meanwhile. */
		*fd = open(path, O_RDWR | O_EXCL | O_CLOEXEC);
		ret = *fd < 0 ? -errno : 0;
		goto out;
	}
	ret = cbt_store_prepare(path, size);
	if (!ret) {
		*fd = open(path, O_RDWR | O_CLOEXEC);
		ret = *fd < 0 ? -errno : 0;
	}
out:
	free(path);
	return ret;
}

static void member_free(struct snap_member *m)
{
	free(m->volume);
	free(m->image);
	m->volume = m->image = NULL;
}

void cbt_snapset_free(struct cbt_snapset *set)
{
	unsigned int i;

	if (!set)
		return;
	for (i = 0; i < set->count; i++)
		member_free(&set->members[i]);
	if (set->event_fd >= 0)
		close(set->event_fd);
	free(set);
}

static struct cbt_snapset *set_new(struct cbt_ctx *ctx)
{
	struct cbt_snapset *set = calloc(1, sizeof(*set));

	if (set) {
		set->ctx = ctx;
		set->event_fd = -1;
	}
	return set;
}

/* Fill the handle's members from the kernel's answer. */
static int set_fill(struct cbt_snapset *set, const struct cbt_snap_member *m,
		    unsigned int count)
{
	unsigned int i;
	int ret;

	for (i = 0; i < count; i++) {
		struct snap_member *sm = &set->members[i];

		ret = cbt_device_path(makedev(m[i].dev.major, m[i].dev.minor),
				      &sm->volume);
		if (ret)
			return ret;
		if (asprintf(&sm->image, "/dev/cbt-snap%u-%u", set->id, i) < 0) {
			sm->image = NULL;
			return -ENOMEM;
		}
		cbt__stamp_format(&m[i].stamp, sm->stamp);
		sm->frozen = m[i].frozen;
		set->count = i + 1;
	}
	return 0;
}

int cbt_snapshot_create(struct cbt_ctx *ctx, const char *const *volumes,
			unsigned int count, const char *const *stores,
			unsigned int nstores, unsigned int flags,
			unsigned int hold_ms, unsigned int low_space,
			struct cbt_snapset **out)
{
	struct cbt_snap_member m[CBT_SNAP_MAX_MEMBERS];
	struct cbt_snap_create c;
	struct cbt_snapset *set;
	unsigned int i;
	int fd = -1, ret;

	if (!count || count > CBT_SNAP_MAX_MEMBERS || !nstores ||
	    (flags & ~(CBT_SNAPSHOT_NO_FREEZE | CBT_SNAPSHOT_WRITABLE)))
		return -EINVAL;
	memset(m, 0, sizeof(m));
	for (i = 0; i < count; i++) {
		ret = cbt__to_dev(volumes[i], &m[i].dev);
		if (ret)
			return ret;
	}
	ret = store_open(stores[0], &fd);
	if (ret)
		return ret;
	memset(&c, 0, sizeof(c));
	c.members = (uintptr_t)m;
	c.count = count;
	c.flags = (flags & CBT_SNAPSHOT_NO_FREEZE ? CBT_SNAP_NO_FREEZE : 0) |
		  (flags & CBT_SNAPSHOT_WRITABLE ? CBT_SNAP_WRITABLE : 0);
	c.store_fd = fd;
	c.hold_ms = hold_ms;
	c.low_space = low_space;
	ret = cbt__ioctl(ctx, CBT_IOC_SNAP_CREATE, &c);
	close(fd);	/* the kernel keeps its own reference */
	if (ret)
		return ret;

	set = set_new(ctx);
	if (!set) {
		ret = -ENOMEM;
		goto destroy;
	}
	set->id = c.id;
	set->hold_ns = c.hold_ns;
	ret = set_fill(set, m, count);
	for (i = 1; !ret && i < nstores; i++)
		ret = cbt_snapset_grow(set, stores[i]);
	if (ret)
		goto destroy;
	*out = set;
	return 0;
destroy:
	/* All or nothing: a set the caller cannot have is not left behind. */
	{
		struct cbt_snap_destroy d = { .id = c.id };

		cbt__ioctl(ctx, CBT_IOC_SNAP_DESTROY, &d);
	}
	cbt_snapset_free(set);
	return ret;
}

static int info_get(struct cbt_ctx *ctx, uint32_t id, struct cbt_snap_info *in,
		    struct cbt_snap_member *m)
{
	memset(in, 0, sizeof(*in));
	in->id = id;
	in->members = (uintptr_t)m;
	in->capacity = CBT_SNAP_MAX_MEMBERS;
	return cbt__ioctl(ctx, CBT_IOC_SNAP_INFO, in);
}

int cbt_snapset_open(struct cbt_ctx *ctx, uint32_t id, struct cbt_snapset **out)
{
	struct cbt_snap_member m[CBT_SNAP_MAX_MEMBERS];
	struct cbt_snap_info in;
	struct cbt_snapset *set;
	int ret;

	ret = info_get(ctx, id, &in, m);
	if (ret)
		return ret;
	set = set_new(ctx);
	if (!set)
		return -ENOMEM;
	set->id = id;
	set->hold_ns = in.hold_ns;
	ret = set_fill(set, m, in.count);
	if (ret) {
		cbt_snapset_free(set);
		return ret;
	}
	*out = set;
	return 0;
}

int cbt_snapshot_list(struct cbt_ctx *ctx, uint32_t **ids, size_t *count)
{
	struct cbt_snap_list l;
	uint32_t *out;
	int ret;

	out = calloc(SNAP_LIST_MAX, sizeof(*out));
	if (!out)
		return -ENOMEM;
	memset(&l, 0, sizeof(l));
	l.ids = (uintptr_t)out;
	l.capacity = SNAP_LIST_MAX;
	ret = cbt__ioctl(ctx, CBT_IOC_SNAP_LIST, &l);
	if (ret) {
		free(out);
		return ret;
	}
	*ids = out;
	*count = l.count < SNAP_LIST_MAX ? l.count : SNAP_LIST_MAX;
	return 0;
}

uint32_t cbt_snapset_id(const struct cbt_snapset *set)
{
	return set->id;
}

unsigned int cbt_snapset_count(const struct cbt_snapset *set)
{
	return set->count;
}

const char *cbt_snapset_volume(const struct cbt_snapset *set, unsigned int i)
{
	return i < set->count ? set->members[i].volume : NULL;
}

const char *cbt_snapset_stamp(const struct cbt_snapset *set, unsigned int i)
{
	return i < set->count ? set->members[i].stamp : NULL;
}

const char *cbt_snapset_image(const struct cbt_snapset *set, unsigned int i)
{
	return i < set->count ? set->members[i].image : NULL;
}

uint64_t cbt_snapset_hold_ns(const struct cbt_snapset *set)
{
	return set->hold_ns;
}

unsigned int cbt_snapset_frozen(const struct cbt_snapset *set, unsigned int i)
{
	return i < set->count ? set->members[i].frozen : 0;
}

static uint32_t state_bits(uint32_t k)
{
	return (k & CBT_SNAP_STATE_LOW_SPACE ? CBT_SNAPSET_LOW_SPACE : 0) |
	       (k & CBT_SNAP_STATE_OVERFLOW ? CBT_SNAPSET_OVERFLOW : 0) |
	       (k & CBT_SNAP_STATE_INVALID ? CBT_SNAPSET_INVALID : 0) |
	       (k & CBT_SNAP_STATE_DESTROYED ? CBT_SNAPSET_DESTROYED : 0) |
	       (k & CBT_SNAP_STATE_WRITABLE ? CBT_SNAPSET_WRITABLE : 0);
}

int cbt_snapset_state(struct cbt_snapset *set, struct cbt_snapset_state *st)
{
	struct cbt_snap_member m[CBT_SNAP_MAX_MEMBERS];
	struct cbt_snap_info in;
	int ret = info_get(set->ctx, set->id, &in, m);

	if (ret)
		return ret;
	memset(st, 0, sizeof(*st));
	st->state = state_bits(in.state);
	st->stores = in.stores;
	st->store_size = in.store_size;
	st->store_used = in.store_used;
	st->chunks_copied = in.chunks_copied;
	return 0;
}

int cbt_snapset_grow(struct cbt_snapset *set, const char *store)
{
	struct cbt_snap_grow g;
	int fd, ret;

	ret = store_open(store, &fd);
	if (ret)
		return ret;
	memset(&g, 0, sizeof(g));
	g.id = set->id;
	g.store_fd = fd;
	ret = cbt__ioctl(set->ctx, CBT_IOC_SNAP_GROW, &g);
	close(fd);
	return ret;
}

int cbt_snapset_destroy(struct cbt_snapset *set)
{
	struct cbt_snap_destroy d;

	memset(&d, 0, sizeof(d));
	d.id = set->id;
	return cbt__ioctl(set->ctx, CBT_IOC_SNAP_DESTROY, &d);
}

int cbt_snapset_event_fd(struct cbt_snapset *set)
{
	struct cbt_snap_events e;
	int fd;

	if (set->event_fd >= 0)
		return set->event_fd;
	memset(&e, 0, sizeof(e));
	e.id = set->id;
	fd = ioctl(set->ctx->fd, CBT_IOC_SNAP_EVENTS, &e);
	if (fd < 0)
		return -errno;
	set->event_fd = fd;
	return fd;
}

int cbt_snapset_next_event(struct cbt_snapset *set, int wait,
			   struct cbt_snapset_state *st)
{
	struct cbt_snap_event ev;
	struct pollfd p;
	ssize_t n;
	int fd = cbt_snapset_event_fd(set);

	if (fd < 0)
		return fd;
	p.fd = fd;
	p.events = POLLIN;
	if (poll(&p, 1, wait ? -1 : 0) < 0)
		return -errno;
	if (!(p.revents & POLLIN))
		return -EAGAIN;
	n = read(fd, &ev, sizeof(ev));
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	if ((size_t)n != sizeof(ev))
		return -EIO;
	memset(st, 0, sizeof(*st));
	st->state = state_bits(ev.state);
	st->store_size = ev.store_size;
	st->store_used = ev.store_used;
	st->error = ev.error;
	return 1;
}
