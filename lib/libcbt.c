// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libcbt.c - the library, the context, volumes and changed extents (see
 * include/libcbt.h); snapshot sets are in snapshot.c.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <blkid/blkid.h>
#include <uuid/uuid.h>

#include "internal.h"

#define CHANGES_BATCH		4096	/* extents fetched per ioctl */

#define T_UTIL		LIBCBT_DEBUG_UTIL
#define T_CTX		LIBCBT_DEBUG_CTX
#define T_VOL		LIBCBT_DEBUG_VOLUME
#define T_CHG		LIBCBT_DEBUG_CHANGES

const char *cbt__sysfs_dev_block = "/sys/dev/block";

/* ---- the library ----------------------------------------------------------- */

#ifndef CBT_VERSION
#error "CBT_VERSION (the VERSION file) must be defined"
#endif

int cbt_get_library_version(const char **ver)
{
	unsigned int maj = 0, min = 0, pat = 0;

	sscanf(CBT_VERSION, "%u.%u.%u", &maj, &min, &pat);
	if (ver)
		*ver = CBT_VERSION;
	return cbt__ret(T_UTIL, (int)(maj * 10000 + min * 100 + pat),
			"cbt_get_library_version(\"%s\")", CBT_VERSION);
}

const char *cbt__errtext(int err)
{
	switch (-err) {
	case 0:
		return "success";
	case ESTALE:
		return "tracking was reset or the stamp is too old: the changes since that stamp are unknown, take a full backup";
	case ENOTBLK:
		return "not a block device";
	case EBUSY:
		return "busy: the volume is already tracked or in a live snapshot set, or a store is in use (a device mounted, part of LVM or md, another set's store, a disk with partitions; a file someone else holds open)";
	case EXDEV:
		return "the store would write to a tracked volume or a snapshot member (directly, or through dm, LVM or a loop device above it): put it on another device";
	case EMFILE:
		return "the store has as many files as it can take";
	case ENOTTY:
		return "the cbt module does not understand this request (version mismatch?)";
	case EPERM:
		return "permission denied: cbt needs CAP_SYS_ADMIN (run as root)";
	case EACCES:
		return "permission denied: cbt needs root; or a store refused because it would not be private: use a block device, or a regular file owned by root, mode 0600 (no group or other bits), with one link, not reached through a symlink, not on /proc, /sys or another pseudo filesystem, in a directory others cannot write (unless sticky, as /tmp)";
	case ETIMEDOUT:
		return "timed out waiting for writes in flight, or the snapshot's hold bound passed";
	case ENOSPC:
		return "no space: the buffer or the device is too small";
	case E2BIG:
		return "too many volumes for one snapshot set";
	case EEXIST:
		return "already there: the volume is a member of the set already";
	case EBADMSG:
		return "a backup chain's anchor file is damaged or not cbt's (move it away: that chain's next backups are then full)";
	case ENODEV:
		return "the device went away, or a volume was detached while the set was being made";
	default:
		return strerror(-err);
	}
}

const char *cbt_strerror(int err)
{
	const char *s = cbt__errtext(err);

	cbt__trace(T_UTIL, "cbt_strerror(%d) = \"%s\"", err, s);
	return s;
}

int cbt_parse_size(const char *text, uint64_t *bytes)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (!text || *text < '0' || *text > '9' || !bytes)
		goto inval;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		goto inval;
	if (*end) {
		switch (*end) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		case 't': case 'T': shift = 40; break;
		default: goto inval;
		}
		end++;
		if (*end == 'i' && end[1] == 'B')
			end += 2;
		else if (*end == 'B')
			end++;
		if (*end)
			goto inval;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return cbt__ret(T_UTIL, -ERANGE, "cbt_parse_size(\"%s\")", text);
	*bytes = (uint64_t)v << shift;
	return cbt__ret(T_UTIL, 0, "cbt_parse_size(\"%s\") [%" PRIu64 "]", text, *bytes);
inval:
	return cbt__ret(T_UTIL, -EINVAL, "cbt_parse_size(\"%s\")", CBT__S(text));
}

/* ---- stamps ------------------------------------------------------------------ */

char *cbt__stamp_format(const struct cbt_stamp *s)
{
	char u[37], *out;

	uuid_unparse_lower(s->uuid, u);
	if (asprintf(&out, "%s:%" PRIu64, u, (uint64_t)s->generation) < 0)
		return NULL;
	return out;
}

int cbt__stamp_parse(const char *text, struct cbt_stamp *s)
{
	unsigned long long gen;
	char u[37], *end;
	const char *p;
	uuid_t uu;

	if (!text || strlen(text) < 38 || text[36] != ':')
		return -EINVAL;
	memcpy(u, text, 36);
	u[36] = '\0';
	if (uuid_parse(u, uu))
		return -EINVAL;
	p = text + 37;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	gen = strtoull(p, &end, 10);
	if (errno || *end)
		return -EINVAL;
	memcpy(s->uuid, uu, sizeof(s->uuid));
	s->generation = gen;
	return 0;
}

int cbt_stamp_check(const char *stamp)
{
	struct cbt_stamp s;

	return cbt__ret(T_UTIL, cbt__stamp_parse(stamp, &s),
			"cbt_stamp_check(\"%s\")", CBT__S(stamp));
}

/* ---- context ----------------------------------------------------------------- */

int cbt__ioctl(struct cbt_ctx *ctx, unsigned long cmd, void *arg)
{
	return ioctl(ctx->fd, cmd, arg) < 0 ? -errno : 0;
}

int cbt__ctx_new_fd(int fd, struct cbt_ctx **ctx)
{
	struct cbt_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->fd = fd;
	c->refs = 1;
	*ctx = c;
	return 0;
}

int cbt_ctx_new(struct cbt_ctx **ctx)
{
	int fd, ret;

	cbt__debug_mask();	/* LIBCBT_DEBUG is read now, once */
	if (!ctx)
		return cbt__ret(T_CTX, -EINVAL, "cbt_ctx_new(NULL)");
	fd = open(CBT_CTL_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return cbt__ret(T_CTX, -errno, "cbt_ctx_new() open %s", CBT_CTL_PATH);
	ret = cbt__ctx_new_fd(fd, ctx);
	if (ret)
		close(fd);
	return cbt__ret(T_CTX, ret, "cbt_ctx_new() [%p]", ret ? NULL : (void *)*ctx);
}

struct cbt_ctx *cbt_ctx_ref(struct cbt_ctx *ctx)
{
	if (ctx)
		__atomic_add_fetch(&ctx->refs, 1, __ATOMIC_RELAXED);
	cbt__trace(T_CTX, "cbt_ctx_ref(%p)", (void *)ctx);
	return ctx;
}

void cbt_ctx_unref(struct cbt_ctx *ctx)
{
	cbt__trace(T_CTX, "cbt_ctx_unref(%p)", (void *)ctx);
	if (!ctx || __atomic_sub_fetch(&ctx->refs, 1, __ATOMIC_ACQ_REL))
		return;
	close(ctx->fd);
	free(ctx);
}

static int module_version(struct cbt_ctx *ctx, struct cbt_version *v)
{
	memset(v, 0, sizeof(*v));
	return ctx ? cbt__ioctl(ctx, CBT_IOC_VERSION, v) : -EINVAL;
}

int cbt_ctx_get_module_version(struct cbt_ctx *ctx, unsigned int *abi,
			       unsigned int *major, unsigned int *minor,
			       unsigned int *patch)
{
	struct cbt_version v;
	int ret = module_version(ctx, &v);

	if (!ret) {
		if (abi)
			*abi = v.abi;
		if (major)
			*major = v.major;
		if (minor)
			*minor = v.minor;
		if (patch)
			*patch = v.patch;
	}
	return cbt__ret(T_CTX, ret, "cbt_ctx_get_module_version(%p) [%u.%u.%u abi %u]",
			(void *)ctx, v.major, v.minor, v.patch, v.abi);
}

int cbt_ctx_get_module_features(struct cbt_ctx *ctx, uint64_t *features)
{
	struct cbt_version v;
	int ret = features ? module_version(ctx, &v) : -EINVAL;

	if (!ret)
		*features = (v.features & CBT_FEAT_TRACKING ? LIBCBT_FEATURE_TRACKING : 0) |
			    (v.features & CBT_FEAT_SNAPSHOT ? LIBCBT_FEATURE_SNAPSHOT : 0) |
			    (v.features & CBT_FEAT_MEMBER_FROZEN ? LIBCBT_FEATURE_MEMBER_FROZEN : 0) |
			    (v.features & CBT_FEAT_WRITERS ? LIBCBT_FEATURE_WRITERS : 0);
	return cbt__ret(T_CTX, ret, "cbt_ctx_get_module_features(%p)", (void *)ctx);
}

static int status_get(struct cbt_ctx *ctx, dev_t dev, struct cbt_status *s)
{
	memset(s, 0, sizeof(*s));
	s->dev.major = major(dev);
	s->dev.minor = minor(dev);
	return cbt__ioctl(ctx, CBT_IOC_STATUS, s);
}

static int devs_add(dev_t **devs, size_t *n, size_t *cap, dev_t d)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if ((*devs)[i] == d)
			return 0;
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;
		dev_t *p = realloc(*devs, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*devs = p;
		*cap = ncap;
	}
	(*devs)[(*n)++] = d;
	return 0;
}

/*
 * ABI 1 fills at most CBT__LIST_FILL_MAX entries a call: the rest of a
 * longer list is found by asking about every block device sysfs knows.
 */
static int tracked_scan(struct cbt_ctx *ctx, dev_t **devs, size_t *n, size_t *cap)
{
	struct cbt_status s;
	struct dirent *de;
	unsigned int ma, mi;
	char tail;
	DIR *dir;
	int ret = 0;

	dir = opendir(cbt__sysfs_dev_block);
	if (!dir)
		return -errno;
	while (!ret && (de = readdir(dir))) {
		if (sscanf(de->d_name, "%u:%u%c", &ma, &mi, &tail) != 2)
			continue;
		ret = status_get(ctx, makedev(ma, mi), &s);
		if (ret == -ENOENT || ret == -ENODEV) {
			ret = 0;
			continue;
		}
		if (!ret)
			ret = devs_add(devs, n, cap, makedev(ma, mi));
	}
	closedir(dir);
	return ret;
}

int cbt_ctx_get_tracked(struct cbt_ctx *ctx, dev_t **devs, size_t *count)
{
	struct cbt_dev *buf = NULL;
	size_t cap = 0, n = 0, ocap = 0, i;
	dev_t *out = NULL;
	struct cbt_list l;
	int ret, short_fill = 0;

	if (!ctx || !devs || !count)
		return cbt__ret(T_CTX, -EINVAL, "cbt_ctx_get_tracked(%p)", (void *)ctx);
	/* Ask with what we have; if more are tracked, grow to that and ask again. */
	for (;;) {
		memset(&l, 0, sizeof(l));
		l.capacity = (uint32_t)cap;
		l.devs = (uintptr_t)buf;
		if (buf)
			memset(buf, 0, cap * sizeof(*buf));
		ret = cbt__ioctl(ctx, CBT_IOC_LIST, &l);
		if (ret || l.count <= cap)
			break;
		free(buf);
		cap = (size_t)l.count + l.count / 8 + 16;
		if (cap > UINT32_MAX)
			cap = UINT32_MAX;
		buf = calloc(cap, sizeof(*buf));
		if (!buf) {
			ret = -ENOMEM;
			break;
		}
	}
	/* buf was zeroed and 0:0 is never a block device: a short fill shows. */
	for (i = 0; !ret && i < l.count; i++) {
		if (!buf[i].major && !buf[i].minor) {
			short_fill = 1;
			continue;
		}
		ret = devs_add(&out, &n, &ocap, makedev(buf[i].major, buf[i].minor));
	}
	free(buf);
	if (!ret && short_fill)
		ret = tracked_scan(ctx, &out, &n, &ocap);
	if (!ret && !out) {
		out = malloc(sizeof(*out));
		if (!out)
			ret = -ENOMEM;
	}
	if (ret) {
		free(out);
		return cbt__ret(T_CTX, ret, "cbt_ctx_get_tracked(%p)", (void *)ctx);
	}
	*devs = out;
	*count = n;
	return cbt__ret(T_CTX, 0, "cbt_ctx_get_tracked(%p) [%zu volumes]", (void *)ctx, n);
}

/* ---- volumes ----------------------------------------------------------------- */

struct cbt_volume {
	struct cbt_ctx *ctx;		/* a reference */
	dev_t devno;
	char *path;
	int have_status;		/* st and uuid hold a refresh's answer */
	struct cbt_status st;
	char uuid[37];
};

char *cbt__devno_path(dev_t dev)
{
	char *p = blkid_devno_to_devname(dev);

	if (!p && asprintf(&p, "%u:%u", major(dev), minor(dev)) < 0)
		return NULL;
	return p;
}

static int resolve(const char *name, dev_t *dev)
{
	char *path = NULL;
	struct stat st;
	int ret = 0;

	if (!name || !*name || !dev)
		return -EINVAL;
	if (strchr(name, '=')) {
		path = blkid_evaluate_tag(name, NULL, NULL);
		if (!path)
			return -ENOENT;
		name = path;
	}
	if (stat(name, &st) < 0)
		ret = -errno;
	else if (!S_ISBLK(st.st_mode))
		ret = -ENOTBLK;
	else
		*dev = st.st_rdev;
	free(path);
	return ret;
}

int cbt_volume_resolve(const char *name, dev_t *devno)
{
	int ret = resolve(name, devno);

	return cbt__ret(T_VOL, ret, "cbt_volume_resolve(\"%s\") [%u:%u]", CBT__S(name),
			ret ? 0 : major(*devno), ret ? 0 : minor(*devno));
}

static int volume_new(struct cbt_ctx *ctx, dev_t devno, struct cbt_volume **out)
{
	struct cbt_volume *v = calloc(1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	v->path = cbt__devno_path(devno);
	if (!v->path) {
		free(v);
		return -ENOMEM;
	}
	v->devno = devno;
	v->ctx = cbt_ctx_ref(ctx);
	*out = v;
	return 0;
}

int cbt_volume_open(struct cbt_ctx *ctx, const char *name, struct cbt_volume **vol)
{
	dev_t dev = 0;
	int ret = ctx && vol ? resolve(name, &dev) : -EINVAL;

	if (!ret)
		ret = volume_new(ctx, dev, vol);
	return cbt__ret(T_VOL, ret, "cbt_volume_open(%p, \"%s\") [%p %u:%u]",
			(void *)ctx, CBT__S(name), ret ? NULL : (void *)*vol,
			major(dev), minor(dev));
}

int cbt_volume_open_devno(struct cbt_ctx *ctx, dev_t devno, struct cbt_volume **vol)
{
	int ret = ctx && vol ? volume_new(ctx, devno, vol) : -EINVAL;

	return cbt__ret(T_VOL, ret, "cbt_volume_open_devno(%p, %u:%u) [%p]",
			(void *)ctx, major(devno), minor(devno),
			ret ? NULL : (void *)*vol);
}

void cbt_volume_free(struct cbt_volume *vol)
{
	cbt__trace(T_VOL, "cbt_volume_free(%p)", (void *)vol);
	if (!vol)
		return;
	cbt_ctx_unref(vol->ctx);
	free(vol->path);
	free(vol);
}

dev_t cbt_volume_get_devno(const struct cbt_volume *vol)
{
	dev_t d = vol ? vol->devno : 0;

	cbt__trace(T_VOL, "cbt_volume_get_devno(%p) = %u:%u", (const void *)vol,
		   major(d), minor(d));
	return d;
}

const char *cbt_volume_get_path(const struct cbt_volume *vol)
{
	const char *p = vol ? vol->path : NULL;

	cbt__trace(T_VOL, "cbt_volume_get_path(%p) = %s", (const void *)vol, CBT__S(p));
	return p;
}

int cbt_volume_attach(struct cbt_volume *vol, uint32_t block_size)
{
	struct cbt_attach a;
	int ret = -EINVAL;

	if (vol) {
		memset(&a, 0, sizeof(a));
		a.dev.major = major(vol->devno);
		a.dev.minor = minor(vol->devno);
		a.block_size = block_size;
		ret = cbt__ioctl(vol->ctx, CBT_IOC_ATTACH, &a);
	}
	return cbt__ret(T_VOL, ret, "cbt_volume_attach(%s, %u)",
			vol ? vol->path : "(null)", block_size);
}

int cbt_volume_detach(struct cbt_volume *vol)
{
	struct cbt_detach d;
	int ret = -EINVAL;

	if (vol) {
		memset(&d, 0, sizeof(d));
		d.dev.major = major(vol->devno);
		d.dev.minor = minor(vol->devno);
		ret = cbt__ioctl(vol->ctx, CBT_IOC_DETACH, &d);
		vol->have_status = 0;
	}
	return cbt__ret(T_VOL, ret, "cbt_volume_detach(%s)", vol ? vol->path : "(null)");
}

int cbt_volume_checkpoint(struct cbt_volume *vol, unsigned int timeout_ms,
			  char **stamp)
{
	struct cbt_checkpoint c;
	char *s = NULL;
	int ret = -EINVAL;

	if (vol && stamp) {
		memset(&c, 0, sizeof(c));
		c.dev.major = major(vol->devno);
		c.dev.minor = minor(vol->devno);
		c.timeout_ms = timeout_ms;
		ret = cbt__ioctl(vol->ctx, CBT_IOC_CHECKPOINT, &c);
		if (!ret) {
			s = cbt__stamp_format(&c.stamp);
			ret = s ? 0 : -ENOMEM;
		}
		if (!ret)
			*stamp = s;
	}
	return cbt__ret(T_VOL, ret, "cbt_volume_checkpoint(%s, %u) [%s]",
			vol ? vol->path : "(null)", timeout_ms, CBT__S(s));
}

int cbt_volume_refresh(struct cbt_volume *vol)
{
	struct cbt_status s;
	int ret = vol ? status_get(vol->ctx, vol->devno, &s) : -EINVAL;

	if (!ret) {
		vol->st = s;
		uuid_unparse_lower(s.head.uuid, vol->uuid);
		vol->have_status = 1;
	}
	return cbt__ret(T_VOL, ret, "cbt_volume_refresh(%s)", vol ? vol->path : "(null)");
}

#define VOL_GET(type, fmt, name, expr)						\
type cbt_volume_get_##name(const struct cbt_volume *vol)			\
{										\
	type v = vol && vol->have_status ? (type)(expr) : 0;			\
										\
	cbt__trace(T_VOL, "cbt_volume_get_" #name "(%s) = %" fmt,		\
		   vol ? vol->path : "(null)", v);				\
	return v;								\
}

VOL_GET(uint64_t, PRIu64, generation, vol->st.head.generation)
VOL_GET(uint64_t, PRIu64, oldest, vol->st.oldest)
VOL_GET(uint64_t, PRIu64, size, vol->st.device_size)
VOL_GET(uint64_t, PRIu64, blocks, vol->st.blocks)
VOL_GET(uint64_t, PRIu64, blocks_written, vol->st.blocks_written)
VOL_GET(uint64_t, PRIu64, map_bytes, vol->st.map_bytes)
VOL_GET(uint32_t, PRIu32, block_size, vol->st.block_size)

const char *cbt_volume_get_tracker_uuid(const struct cbt_volume *vol)
{
	const char *u = vol && vol->have_status ? vol->uuid : NULL;

	cbt__trace(T_VOL, "cbt_volume_get_tracker_uuid(%s) = %s",
		   vol ? vol->path : "(null)", CBT__S(u));
	return u;
}

int cbt_volume_is_lost(const struct cbt_volume *vol)
{
	int v = vol && vol->have_status && (vol->st.state & CBT_STATE_LOST);

	cbt__trace(T_VOL, "cbt_volume_is_lost(%s) = %d", vol ? vol->path : "(null)", v);
	return v;
}

static int64_t changes_bitmap(struct cbt_volume *vol, const char *since,
			      uint64_t first_block, uint64_t nbits,
			      uint8_t *bitmap, uint32_t *block_size)
{
	struct cbt_status s;
	struct cbt_changes c;
	uint64_t done = 0, bs;
	int ret;

	if (!vol || !bitmap)
		return -EINVAL;
	memset(&c, 0, sizeof(c));
	ret = cbt__stamp_parse(since, &c.since);
	if (!ret)
		ret = status_get(vol->ctx, vol->devno, &s);
	if (ret)
		return ret;
	bs = s.block_size;
	if (first_block > s.blocks)
		return -EINVAL;
	if (nbits > s.blocks - first_block)
		nbits = s.blocks - first_block;
	if (nbits % 8 && nbits != s.blocks - first_block)
		return -EINVAL;
	memset(bitmap, 0, (nbits + 7) / 8);
	c.dev = s.dev;
	c.flags = CBT_CHANGES_BITMAP;
	while (done < nbits) {
		struct cbt_changes r = c;
		uint64_t off = (first_block + done) * bs;
		uint64_t len = (nbits - done) * bs;

		if (off + len > s.device_size)
			len = s.device_size - off;
		r.offset = off;
		r.length = len;
		r.buf = (uintptr_t)(bitmap + done / 8);
		r.buf_size = (nbits - done + 7) / 8;
		ret = cbt__ioctl(vol->ctx, CBT_IOC_CHANGES, &r);
		if (ret)
			return ret;
		if (!r.count)
			return -EIO;	/* no progress: never loop forever */
		done += r.count;
	}
	if (block_size)
		*block_size = (uint32_t)bs;
	return (int64_t)nbits;
}

int64_t cbt_volume_changes_bitmap(struct cbt_volume *vol, const char *since,
				  uint64_t first_block, uint64_t nbits,
				  uint8_t *bitmap, uint32_t *block_size)
{
	int64_t ret = changes_bitmap(vol, since, first_block, nbits, bitmap, block_size);

	cbt__trace(T_VOL, "cbt_volume_changes_bitmap(%s, \"%s\", %" PRIu64 ", %" PRIu64
		   ") = %" PRId64 "%s%s", vol ? vol->path : "(null)", CBT__S(since),
		   first_block, nbits, ret, ret < 0 ? " " : "",
		   ret < 0 ? cbt__errtext((int)ret) : "");
	return ret;
}

/* ---- changed extents ----------------------------------------------------------- */

struct cbt_changes_iter {
	struct cbt_ctx *ctx;		/* a reference */
	struct cbt_dev dev;
	struct cbt_stamp since;
	uint64_t next;			/* where the kernel resumes */
	uint64_t end;			/* end of the range asked for */
	uint32_t block_size;
	struct cbt_extent *buf;
	size_t n, pos;			/* extents in buf, the next to hand out */
};

static int changes_fetch(struct cbt_changes_iter *it)
{
	struct cbt_changes c;
	int ret;

	memset(&c, 0, sizeof(c));
	c.dev = it->dev;
	c.since = it->since;
	c.offset = it->next;
	c.length = it->end - it->next;
	c.buf = (uintptr_t)it->buf;
	c.buf_size = CHANGES_BATCH * sizeof(*it->buf);
	ret = cbt__ioctl(it->ctx, CBT_IOC_CHANGES, &c);
	if (ret)
		return ret;
	if (c.next_offset <= it->next && c.count == 0)
		return -EIO;	/* no progress: never loop forever */
	if (c.count > CHANGES_BATCH)
		return -EIO;
	it->next = c.next_offset;
	it->n = c.count;
	it->pos = 0;
	it->block_size = c.block_size;
	return 0;
}

/* Extents until one is there: 1, 0 at the end, or a negative errno. */
static int changes_fill(struct cbt_changes_iter *it)
{
	int ret;

	while (it->pos >= it->n) {
		if (it->next >= it->end)
			return 0;
		ret = changes_fetch(it);
		if (ret)
			return ret;
	}
	return 1;
}

static void changes_free(struct cbt_changes_iter *it)
{
	if (!it)
		return;
	cbt_ctx_unref(it->ctx);
	free(it->buf);
	free(it);
}

static int changes_open(struct cbt_volume *vol, const char *since,
			uint64_t offset, uint64_t length,
			struct cbt_changes_iter **out)
{
	struct cbt_changes_iter *it;
	struct cbt_status s;
	int ret;

	if (!vol || !out)
		return -EINVAL;
	it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->ctx = cbt_ctx_ref(vol->ctx);
	ret = cbt__stamp_parse(since, &it->since);
	if (!ret)
		ret = status_get(vol->ctx, vol->devno, &s);
	if (ret)
		goto fail;
	if (offset > s.device_size ||
	    (length && length > s.device_size - offset)) {
		ret = -EINVAL;
		goto fail;
	}
	it->buf = calloc(CHANGES_BATCH, sizeof(*it->buf));
	if (!it->buf) {
		ret = -ENOMEM;
		goto fail;
	}
	it->dev = s.dev;
	it->next = offset;
	it->end = length ? offset + length : s.device_size;
	it->block_size = s.block_size;
	/* Fetch the first batch now, so a bad stamp fails here. */
	ret = changes_fill(it);
	if (ret < 0)
		goto fail;
	*out = it;
	return 0;
fail:
	changes_free(it);
	return ret;
}

int cbt_changes_open(struct cbt_volume *vol, const char *since,
		     uint64_t offset, uint64_t length,
		     struct cbt_changes_iter **it)
{
	int ret = changes_open(vol, since, offset, length, it);

	return cbt__ret(T_CHG, ret, "cbt_changes_open(%s, \"%s\", %" PRIu64 ", %" PRIu64
			") [%p]", vol ? vol->path : "(null)", CBT__S(since), offset,
			length, ret ? NULL : (void *)*it);
}

int cbt_changes_next(struct cbt_changes_iter *it, uint64_t *offset,
		     uint64_t *length)
{
	int ret = it && offset && length ? changes_fill(it) : -EINVAL;

	if (ret == 1) {
		*offset = it->buf[it->pos].offset;
		*length = it->buf[it->pos].length;
		it->pos++;
		return cbt__ret(T_CHG, 1, "cbt_changes_next(%p) [%" PRIu64 " +%" PRIu64 "]",
				(void *)it, *offset, *length);
	}
	return cbt__ret(T_CHG, ret, "cbt_changes_next(%p)", (void *)it);
}

uint32_t cbt_changes_get_block_size(const struct cbt_changes_iter *it)
{
	uint32_t bs = it ? it->block_size : 0;

	cbt__trace(T_CHG, "cbt_changes_get_block_size(%p) = %u", (const void *)it, bs);
	return bs;
}

void cbt_changes_free(struct cbt_changes_iter *it)
{
	cbt__trace(T_CHG, "cbt_changes_free(%p)", (void *)it);
	changes_free(it);
}

int cbt__changes_open_all(struct cbt_ctx *ctx, uint64_t size, uint32_t block_size,
			  struct cbt_changes_iter **out)
{
	struct cbt_changes_iter *it;

	if (!ctx || !out)
		return -EINVAL;
	it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->buf = calloc(1, sizeof(*it->buf));
	if (!it->buf) {
		free(it);
		return -ENOMEM;
	}
	it->ctx = cbt_ctx_ref(ctx);
	it->block_size = block_size;
	/* One extent, the whole volume; nothing left to fetch after it. */
	it->buf[0].offset = 0;
	it->buf[0].length = size;
	it->n = size ? 1 : 0;
	it->next = it->end = size;
	*out = it;
	return 0;
}
