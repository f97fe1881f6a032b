// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * writer.c - writers (see include/libcbt.h): an application registered on
 * the control device, the events it reads and acks, the list of registered
 * writers, and finding the tracked volumes beneath a path.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"

#define T_WR		LIBCBT_DEBUG_WRITER

/* ---- this thread's last error on a context ---------------------------------- */

static __thread char ctx_err[512];

void cbt__set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx_err, sizeof(ctx_err), fmt, ap);
	va_end(ap);
}

const char *cbt_ctx_get_error(struct cbt_ctx *ctx)
{
	cbt__trace(T_WR, "cbt_ctx_get_error(%p) = \"%s\"", (void *)ctx, ctx_err);
	return ctx_err;
}

/* ---- names -------------------------------------------------------------------- */

static const char *const phase_names[] = {
	[LIBCBT_WRITER_PREPARE] = "prepare",
	[LIBCBT_WRITER_FREEZE] = "freeze",
	[LIBCBT_WRITER_THAW] = "thaw",
	[LIBCBT_WRITER_POST_SNAPSHOT] = "post-snapshot",
	[LIBCBT_WRITER_COMPLETE] = "complete",
	[LIBCBT_WRITER_ABORT] = "abort",
};

const char *cbt__phase_name(int phase)
{
	return phase >= LIBCBT_WRITER_PREPARE && phase <= LIBCBT_WRITER_ABORT ?
	       phase_names[phase] : NULL;
}

const char *cbt_writer_phase_name(int phase)
{
	const char *n = cbt__phase_name(phase);

	cbt__trace(T_WR, "cbt_writer_phase_name(%d) = %s", phase, CBT__S(n));
	return n;
}

const char *cbt_writer_backup_type_name(int type)
{
	const char *n = type == LIBCBT_BACKUP_NONE ? "none" : cbt_backup_type_name(type);

	cbt__trace(T_WR, "cbt_writer_backup_type_name(%d) = %s", type, CBT__S(n));
	return n;
}

/* ---- the tracked volumes beneath a path ---------------------------------------- */

static int dev_in(dev_t d, const dev_t *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i] == d)
			return 1;
	return 0;
}

static int dev_add(dev_t d, dev_t **out, size_t *n)
{
	dev_t *p;

	if (dev_in(d, *out, *n))
		return 0;
	p = realloc(*out, (*n + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	p[(*n)++] = d;
	*out = p;
	return 0;
}

/* The device number in sysfs directory @dir ("MAJ:MIN" in its dev file). */
static int sysfs_dev(const char *dir, dev_t *d)
{
	char path[PATH_MAX * 2 + 40], buf[32];
	unsigned int ma, mi;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/dev", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	if (sscanf(buf, "%u:%u", &ma, &mi) != 2)
		return -EIO;
	*d = makedev(ma, mi);
	return 0;
}

/*
 * Walk down from device @d (at most @depth levels): @d itself when it is
 * tracked; otherwise a partition's disk, and a dm or md device's slaves,
 * each in turn.
 */
static int walk_down(const char *sysroot, dev_t d, const dev_t *tracked, size_t nt,
		     dev_t **out, size_t *n, int depth)
{
	char path[PATH_MAX], sub[PATH_MAX + 16];
	struct dirent *de;
	struct stat st;
	DIR *dir;
	dev_t sd;
	int ret = 0;

	if (dev_in(d, tracked, nt))
		return dev_add(d, out, n);
	if (depth <= 0)
		return 0;
	snprintf(path, sizeof(path), "%s/%u:%u", sysroot, major(d), minor(d));
	/* A partition: its disk is the parent directory of its sysfs node. */
	snprintf(sub, sizeof(sub), "%s/partition", path);
	if (stat(sub, &st) == 0) {
		snprintf(sub, sizeof(sub), "%s/..", path);
		if (sysfs_dev(sub, &sd) == 0) {
			ret = walk_down(sysroot, sd, tracked, nt, out, n, depth - 1);
			if (ret)
				return ret;
		}
	}
	/* dm, md, anything stacked: the devices it is made of. */
	snprintf(sub, sizeof(sub), "%s/slaves", path);
	dir = opendir(sub);
	if (!dir)
		return 0;
	while (!ret && (de = readdir(dir))) {
		char slave[PATH_MAX * 2 + 32];

		if (de->d_name[0] == '.')
			continue;
		snprintf(slave, sizeof(slave), "%s/%s", sub, de->d_name);
		if (sysfs_dev(slave, &sd) == 0)
			ret = walk_down(sysroot, sd, tracked, nt, out, n, depth - 1);
	}
	closedir(dir);
	return ret;
}

int cbt__tracked_below(dev_t d, const dev_t *tracked, size_t nt, dev_t **devs, size_t *count)
{
	int ret;

	*devs = NULL;
	*count = 0;
	ret = walk_down(cbt__sysfs_dev_block, d, tracked, nt, devs, count, 16);
	if (!ret && !*count)
		ret = -ENODEV;
	if (ret) {
		free(*devs);
		*devs = NULL;
		*count = 0;
	}
	return ret;
}

int cbt__resolve_tracked(const char *path, const dev_t *tracked, size_t nt, dev_t **devs,
			 size_t *count)
{
	struct stat st;

	*devs = NULL;
	*count = 0;
	if (stat(path, &st) < 0)
		return -errno;
	return cbt__tracked_below(S_ISBLK(st.st_mode) ? st.st_rdev : st.st_dev, tracked, nt,
				  devs, count);
}

int cbt_ctx_resolve_tracked(struct cbt_ctx *ctx, const char *path, dev_t **devs,
			    size_t *count)
{
	dev_t *tracked = NULL;
	size_t nt = 0;
	int ret = ctx && path && *path && devs && count ? 0 : -EINVAL;

	if (!ret)
		ret = cbt_ctx_get_tracked(ctx, &tracked, &nt);
	if (!ret)
		ret = cbt__resolve_tracked(path, tracked, nt, devs, count);
	free(tracked);
	if (ret == -ENODEV)
		cbt__set_error("%s: no tracked volume lies beneath it (attach the volume that holds it first)",
			       path);
	else if (ret && path)
		cbt__set_error("%s: %s", path, cbt__errtext(ret));
	return cbt__ret(T_WR, ret, "cbt_ctx_resolve_tracked(%p, \"%s\") [%zu]", (void *)ctx,
			CBT__S(path), ret ? 0 : *count);
}

/* ---- writers -------------------------------------------------------------------- */

struct cbt_writer {
	struct cbt_ctx *ctx;		/* a reference */
	char name[CBT_WRITER_NAME_MAX];
	struct cbt_writer_component comps[CBT_WRITER_MAX_COMPONENTS];
	unsigned int ncomps;
	unsigned int types;		/* CBT_BACKUP_* bits, 0: all */
	int fd;				/* the registration, -1 before */
	uint32_t id;
	unsigned char *stamp;		/* to send with the next ack that may */
	size_t stamp_len;
	int stamp_set;
	struct cbt_writer_extent ext[CBT_WRITER_MAX_EXTENTS];
	unsigned int next;
	char err[512];
};

struct cbt_wevent {
	struct cbt_writer_event ev;
	char *paths[CBT_SNAP_MAX_MEMBERS];
};

static int writer_error(struct cbt_writer *w, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int writer_error(struct cbt_writer *w, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(w->err, sizeof(w->err), fmt, ap);
	va_end(ap);
	return ret;
}

int cbt__writer_name_check(const char *name)
{
	size_t i, len = name ? strlen(name) : 0;

	if (!len || len > LIBCBT_WRITER_NAME_MAX)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (name[i] < 0x21 || name[i] > 0x7e)
			return -EINVAL;
	return 0;
}

int cbt_writer_new(struct cbt_ctx *ctx, const char *name, struct cbt_writer **out)
{
	struct cbt_writer *w = NULL;
	int ret = ctx && out ? cbt__writer_name_check(name) : -EINVAL;

	if (!ret) {
		w = calloc(1, sizeof(*w));
		if (!w) {
			ret = -ENOMEM;
		} else {
			w->ctx = cbt_ctx_ref(ctx);
			strcpy(w->name, name);
			w->fd = -1;
			*out = w;
		}
	}
	return cbt__ret(T_WR, ret, "cbt_writer_new(%p, \"%s\") [%p]", (void *)ctx, CBT__S(name),
			(void *)w);
}

void cbt_writer_free(struct cbt_writer *w)
{
	cbt__trace(T_WR, "cbt_writer_free(%p)", (void *)w);
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);	/* the registration ends with it */
	free(w->stamp);
	cbt_ctx_unref(w->ctx);
	free(w);
}

static int add_component(struct cbt_writer *w, const char *name, const char *const *paths,
			 size_t n)
{
	struct cbt_writer_component *c;
	dev_t *tracked = NULL, *d = NULL;
	size_t nt = 0, nd = 0, i, j;
	int ret;

	if (w->fd >= 0)
		return writer_error(w, -EBUSY, "components are added before the writer registers");
	if (!paths || !n || !name || !*name || strlen(name) > LIBCBT_WRITER_NAME_MAX)
		return writer_error(w, -EINVAL, "a component needs a name (1..%d bytes) and a path",
				    LIBCBT_WRITER_NAME_MAX);
	if (w->ncomps == CBT_WRITER_MAX_COMPONENTS)
		return writer_error(w, -E2BIG, "at most %d components", CBT_WRITER_MAX_COMPONENTS);
	for (i = 0; i < w->ncomps; i++)
		if (!strcmp(w->comps[i].name, name))
			return writer_error(w, -EEXIST, "component %s is there already", name);
	c = &w->comps[w->ncomps];
	memset(c, 0, sizeof(*c));
	ret = cbt_ctx_get_tracked(w->ctx, &tracked, &nt);
	if (ret)
		return writer_error(w, ret, "the tracked volumes: %s", cbt__errtext(ret));
	for (i = 0; !ret && i < n; i++) {
		if (!paths[i]) {
			ret = writer_error(w, -EINVAL, "component %s: a NULL path", name);
			break;
		}
		ret = cbt__resolve_tracked(paths[i], tracked, nt, &d, &nd);
		if (ret == -ENODEV) {
			writer_error(w, ret, "%s: no tracked volume lies beneath it (attach the volume that holds it first)",
				     paths[i]);
			break;
		}
		if (ret) {
			writer_error(w, ret, "%s: %s", paths[i], cbt__errtext(ret));
			break;
		}
		for (j = 0; j < nd; j++) {
			unsigned int k;

			for (k = 0; k < c->count; k++)
				if (c->vols[k].major == major(d[j]) && c->vols[k].minor == minor(d[j]))
					break;
			if (k < c->count)
				continue;
			if (c->count == CBT_WRITER_COMPONENT_VOLS) {
				ret = writer_error(w, -E2BIG, "component %s: more than %d volumes",
						   name, CBT_WRITER_COMPONENT_VOLS);
				break;
			}
			c->vols[c->count].major = major(d[j]);
			c->vols[c->count].minor = minor(d[j]);
			c->count++;
		}
		free(d);
		d = NULL;
	}
	free(tracked);
	if (!ret) {
		strcpy(c->name, name);
		w->ncomps++;
	}
	return ret;
}

int cbt_writer_add_component(struct cbt_writer *w, const char *name,
			     const char *const *paths, size_t n)
{
	int ret = w ? add_component(w, name, paths, n) : -EINVAL;

	return cbt__ret(T_WR, ret, "cbt_writer_add_component(%p, \"%s\", %zu)", (void *)w,
			CBT__S(name), n);
}

int cbt_writer_set_types(struct cbt_writer *w, unsigned int mask)
{
	int ret = 0;

	if (!w || (mask & ~0x1fu))
		ret = -EINVAL;
	else if (w->fd >= 0)
		ret = -EBUSY;
	else
		w->types = mask;
	return cbt__ret(T_WR, ret, "cbt_writer_set_types(%p, %#x)", (void *)w, mask);
}

static int writer_register(struct cbt_writer *w)
{
	struct cbt_writer_register r;
	int fd;

	if (w->fd >= 0)
		return writer_error(w, -EBUSY, "registered already");
	if (!w->ncomps)
		return writer_error(w, -EINVAL, "a writer needs a component");
	memset(&r, 0, sizeof(r));
	strcpy(r.name, w->name);
	r.components = (uintptr_t)w->comps;
	r.count = w->ncomps;
	r.types = w->types;
	fd = ioctl(w->ctx->fd, CBT_IOC_WRITER_REGISTER, &r);
	if (fd < 0) {
		int e = -errno;

		if (e == -EEXIST)
			return writer_error(w, e, "a writer named %s is registered already", w->name);
		if (e == -ENOTTY || e == -EINVAL)
			return writer_error(w, e, "the cbt module refused the registration (%s): does it support writers?",
					    cbt__errtext(e));
		return writer_error(w, e, "registering %s: %s", w->name, cbt__errtext(e));
	}
	w->fd = fd;
	w->id = r.id;
	return 0;
}

int cbt_writer_start(struct cbt_writer *w)
{
	int ret = w ? writer_register(w) : -EINVAL;

	return cbt__ret(T_WR, ret, "cbt_writer_start(%p) [id %u fd %d]", (void *)w,
			w ? w->id : 0, w ? w->fd : -1);
}

const char *cbt_writer_get_error(const struct cbt_writer *w)
{
	return w ? w->err : "";
}

const char *cbt_writer_get_name(const struct cbt_writer *w)
{
	return w ? w->name : NULL;
}

uint32_t cbt_writer_get_id(const struct cbt_writer *w)
{
	return w ? w->id : 0;
}

int cbt_writer_get_fd(const struct cbt_writer *w)
{
	return w && w->fd >= 0 ? w->fd : -EINVAL;
}

static int next_event(struct cbt_writer *w, int wait, struct cbt_wevent **out)
{
	struct cbt_wevent *e;
	struct pollfd p = { .fd = w->fd, .events = POLLIN };
	unsigned int i;
	ssize_t n;

	if (w->fd < 0)
		return -EINVAL;
	for (;;) {
		if (poll(&p, 1, wait ? -1 : 0) < 0)
			return -errno;
		if (p.revents & POLLIN)
			break;
		if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
			return -EIO;
		if (!wait)
			return -EAGAIN;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	n = read(w->fd, &e->ev, sizeof(e->ev));
	if (n != (ssize_t)sizeof(e->ev)) {
		int ret = n < 0 ? -errno : -EIO;

		free(e);
		return ret;
	}
	if (e->ev.count > CBT_SNAP_MAX_MEMBERS)
		e->ev.count = CBT_SNAP_MAX_MEMBERS;
	if (e->ev.stamp_len > CBT_WRITER_STAMP_MAX)
		e->ev.stamp_len = CBT_WRITER_STAMP_MAX;
	for (i = 0; i < e->ev.count; i++) {
		e->paths[i] = cbt__devno_path(makedev(e->ev.vols[i].major, e->ev.vols[i].minor));
		if (!e->paths[i]) {
			cbt_wevent_free(e);
			return -ENOMEM;
		}
	}
	*out = e;
	return 1;
}

int cbt_writer_next_event(struct cbt_writer *w, int wait, struct cbt_wevent **ev)
{
	int ret = w && ev ? next_event(w, wait, ev) : -EINVAL;

	return cbt__ret(T_WR, ret, "cbt_writer_next_event(%p, %d) [phase %d set %u]", (void *)w,
			wait, ret == 1 ? (int)(*ev)->ev.phase : 0, ret == 1 ? (*ev)->ev.set_id : 0);
}

int cbt_writer_set_stamp(struct cbt_writer *w, const void *data, size_t len)
{
	unsigned char *c = NULL;
	int ret = 0;

	if (!w || (len && !data))
		ret = -EINVAL;
	else if (len > LIBCBT_WRITER_STAMP_MAX)
		ret = -E2BIG;
	else if (len && !(c = malloc(len)))
		ret = -ENOMEM;
	if (!ret) {
		if (len)
			memcpy(c, data, len);
		free(w->stamp);
		w->stamp = c;
		w->stamp_len = len;
		w->stamp_set = 1;
	}
	return cbt__ret(T_WR, ret, "cbt_writer_set_stamp(%p, %zu)", (void *)w, len);
}

int cbt_writer_add_extent(struct cbt_writer *w, const char *volume, uint64_t offset,
			  uint64_t length)
{
	dev_t *d = NULL;
	size_t nd = 0;
	int ret = w && volume && length ? 0 : -EINVAL;

	if (!ret && w->next == CBT_WRITER_MAX_EXTENTS)
		ret = -E2BIG;
	if (!ret)
		ret = cbt_ctx_resolve_tracked(w->ctx, volume, &d, &nd);
	if (!ret && nd != 1)
		ret = writer_error(w, -EINVAL, "%s: lies on %zu tracked volumes: name one", volume, nd);
	else if (ret)
		writer_error(w, ret, "%s", cbt_ctx_get_error(w->ctx));
	if (!ret) {
		w->ext[w->next].dev.major = major(d[0]);
		w->ext[w->next].dev.minor = minor(d[0]);
		w->ext[w->next].offset = offset;
		w->ext[w->next].length = length;
		w->next++;
	}
	free(d);
	return cbt__ret(T_WR, ret, "cbt_writer_add_extent(%p, \"%s\", %" PRIu64 ", %" PRIu64 ")",
			(void *)w, CBT__S(volume), offset, length);
}

static int ack(struct cbt_writer *w, const struct cbt_wevent *ev, int status, const char *msg)
{
	struct cbt_writer_ack a;
	int carries;

	if (w->fd < 0)
		return -EINVAL;
	if (status > 0)
		return -EINVAL;
	memset(&a, 0, sizeof(a));
	a.seq = ev->ev.seq;
	a.status = status;
	if (msg) {
		/* One line: the message is cut at a newline or at the limit. */
		size_t len = strcspn(msg, "\n");

		if (len > LIBCBT_WRITER_MSG_MAX)
			len = LIBCBT_WRITER_MSG_MAX;
		memcpy(a.message, msg, len);
	}
	carries = ev->ev.phase == CBT_WRITER_FREEZE || ev->ev.phase == CBT_WRITER_THAW ||
		  ev->ev.phase == CBT_WRITER_POST_SNAPSHOT;
	if (carries && w->stamp_set && w->stamp_len) {
		a.stamp = (uintptr_t)w->stamp;
		a.stamp_len = (uint32_t)w->stamp_len;
	}
	if (carries && w->next) {
		a.extents = (uintptr_t)w->ext;
		a.nr_extents = w->next;
	}
	if (ioctl(w->fd, CBT_WRITER_IOC_ACK, &a) < 0)
		return -errno;
	if (carries) {
		free(w->stamp);
		w->stamp = NULL;
		w->stamp_len = 0;
		w->stamp_set = 0;
		w->next = 0;
	}
	return 0;
}

int cbt_writer_ack_event(struct cbt_writer *w, const struct cbt_wevent *ev, int status,
		   const char *message)
{
	int ret = w && ev ? ack(w, ev, status, message) : -EINVAL;

	return cbt__ret(T_WR, ret, "cbt_writer_ack_event(%p, seq %" PRIu64 ", %d, \"%s\")", (void *)w,
			ev ? (uint64_t)ev->ev.seq : 0, status, CBT__S(message));
}

/* ---- events ---------------------------------------------------------------------- */

void cbt_wevent_free(struct cbt_wevent *ev)
{
	unsigned int i;

	if (!ev)
		return;
	for (i = 0; i < CBT_SNAP_MAX_MEMBERS; i++)
		free(ev->paths[i]);
	free(ev);
}

int cbt_wevent_get_phase(const struct cbt_wevent *ev)
{
	return ev ? (int)ev->ev.phase : 0;
}

uint32_t cbt_wevent_get_set_id(const struct cbt_wevent *ev)
{
	return ev ? ev->ev.set_id : 0;
}

int cbt_wevent_get_backup_type(const struct cbt_wevent *ev)
{
	return ev ? (int)ev->ev.backup_type : 0;
}

int cbt_wevent_get_success(const struct cbt_wevent *ev)
{
	return ev ? !!ev->ev.success : 0;
}

unsigned int cbt_wevent_get_timeout_ms(const struct cbt_wevent *ev)
{
	return ev ? ev->ev.timeout_ms : 0;
}

unsigned int cbt_wevent_get_volume_count(const struct cbt_wevent *ev)
{
	return ev ? ev->ev.count : 0;
}

dev_t cbt_wevent_get_volume_devno(const struct cbt_wevent *ev, unsigned int i)
{
	return ev && i < ev->ev.count ? makedev(ev->ev.vols[i].major, ev->ev.vols[i].minor) : 0;
}

const char *cbt_wevent_get_volume_path(const struct cbt_wevent *ev, unsigned int i)
{
	return ev && i < ev->ev.count ? ev->paths[i] : NULL;
}

const void *cbt_wevent_get_base_stamp(const struct cbt_wevent *ev, size_t *len)
{
	size_t l = ev && ev->ev.phase == CBT_WRITER_PREPARE ? ev->ev.stamp_len : 0;

	if (len)
		*len = l;
	return l ? ev->ev.stamp : NULL;
}

/* ---- the list of registered writers ---------------------------------------------------- */

struct cbt_writers {
	struct cbt_writer_info *v;
	unsigned int n;
};

int cbt_ctx_get_writers(struct cbt_ctx *ctx, struct cbt_writers **out)
{
	struct cbt_writer_list l;
	struct cbt_writers *ws = NULL;
	struct cbt_writer_info *buf = NULL;
	uint32_t cap = 16;
	unsigned int i;
	int ret = ctx && out ? 0 : -EINVAL;

	while (!ret) {
		free(buf);
		buf = calloc(cap, sizeof(*buf));
		if (!buf) {
			ret = -ENOMEM;
			break;
		}
		memset(&l, 0, sizeof(l));
		l.writers = (uintptr_t)buf;
		l.capacity = cap;
		ret = cbt__ioctl(ctx, CBT_IOC_WRITER_LIST, &l);
		if (ret || l.count <= cap)
			break;
		cap = l.count + 8;
	}
	if (!ret) {
		ws = calloc(1, sizeof(*ws));
		if (!ws)
			ret = -ENOMEM;
	}
	if (ret) {
		free(buf);
		return cbt__ret(T_WR, ret, "cbt_ctx_get_writers(%p)", (void *)ctx);
	}
	for (i = 0; i < l.count; i++) {
		buf[i].name[CBT_WRITER_NAME_MAX - 1] = '\0';
		buf[i].last_message[CBT_WRITER_MSG_MAX - 1] = '\0';
		if (buf[i].count > CBT_WRITER_MAX_COMPONENTS)
			buf[i].count = CBT_WRITER_MAX_COMPONENTS;
		for (unsigned int c = 0; c < buf[i].count; c++) {
			buf[i].components[c].name[CBT_WRITER_NAME_MAX - 1] = '\0';
			if (buf[i].components[c].count > CBT_WRITER_COMPONENT_VOLS)
				buf[i].components[c].count = CBT_WRITER_COMPONENT_VOLS;
		}
	}
	ws->v = buf;
	ws->n = l.count;
	*out = ws;
	return cbt__ret(T_WR, 0, "cbt_ctx_get_writers(%p) [%u]", (void *)ctx, ws->n);
}

void cbt_writers_free(struct cbt_writers *list)
{
	if (list) {
		free(list->v);
		free(list);
	}
}

static const struct cbt_writer_info *winfo(const struct cbt_writers *l, unsigned int i)
{
	return l && i < l->n ? &l->v[i] : NULL;
}

unsigned int cbt_writers_get_count(const struct cbt_writers *list)
{
	return list ? list->n : 0;
}

const char *cbt_writers_get_name(const struct cbt_writers *list, unsigned int i)
{
	const struct cbt_writer_info *w = winfo(list, i);

	return w ? w->name : NULL;
}

uint32_t cbt_writers_get_id(const struct cbt_writers *list, unsigned int i)
{
	const struct cbt_writer_info *w = winfo(list, i);

	return w ? w->id : 0;
}

pid_t cbt_writers_get_pid(const struct cbt_writers *list, unsigned int i)
{
	const struct cbt_writer_info *w = winfo(list, i);

	return w ? (pid_t)w->pid : 0;
}

unsigned int cbt_writers_get_types(const struct cbt_writers *list, unsigned int i)
{
	const struct cbt_writer_info *w = winfo(list, i);

	return w ? w->types : 0;
}

unsigned int cbt_writers_get_component_count(const struct cbt_writers *list, unsigned int i)
{
	const struct cbt_writer_info *w = winfo(list, i);

	return w ? w->count : 0;
}

const char *cbt_writers_get_component_name(const struct cbt_writers *list, unsigned int i,
					   unsigned int c)
{
	const struct cbt_writer_info *w = winfo(list, i);

	return w && c < w->count ? w->components[c].name : NULL;
}

unsigned int cbt_writers_get_component_volume_count(const struct cbt_writers *list,
						    unsigned int i, unsigned int c)
{
	const struct cbt_writer_info *w = winfo(list, i);

	return w && c < w->count ? w->components[c].count : 0;
}

dev_t cbt_writers_get_component_volume(const struct cbt_writers *list, unsigned int i,
				       unsigned int c, unsigned int v)
{
	const struct cbt_writer_info *w = winfo(list, i);

	if (!w || c >= w->count || v >= w->components[c].count)
		return 0;
	return makedev(w->components[c].vols[v].major, w->components[c].vols[v].minor);
}

int cbt_writers_get_phase(const struct cbt_writers *list, unsigned int i)
{
	const struct cbt_writer_info *w = winfo(list, i);

	return w ? (int)w->phase : 0;
}

uint32_t cbt_writers_get_last_set(const struct cbt_writers *list, unsigned int i)
{
	const struct cbt_writer_info *w = winfo(list, i);

	return w ? w->last_set : 0;
}

int cbt_writers_get_last_phase(const struct cbt_writers *list, unsigned int i)
{
	const struct cbt_writer_info *w = winfo(list, i);

	return w ? (int)w->last_phase : 0;
}

int cbt_writers_get_last_error(const struct cbt_writers *list, unsigned int i)
{
	const struct cbt_writer_info *w = winfo(list, i);

	return w ? w->last_error : 0;
}

const char *cbt_writers_get_last_message(const struct cbt_writers *list, unsigned int i)
{
	const struct cbt_writer_info *w = winfo(list, i);

	return w ? w->last_message : NULL;
}
