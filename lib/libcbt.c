// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * libcbt.c - the library side of every cbt ioctl (see include/libcbt.h).
 */
#define _GNU_SOURCE
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

#include "libcbt.h"
#include "cbt_ioctl.h"
#include "internal.h"

#define CHANGES_BATCH		4096	/* extents fetched per ioctl */
#define CBT_LIST_MAX		4096	/* entries one CBT_IOC_LIST fills */

struct cbt_extent_iter {
	struct cbt_ctx *ctx;
	struct cbt_changes_req {
		struct cbt_dev dev;
		struct cbt_stamp since;
	} req;
	uint64_t next;		/* where the kernel resumes */
	uint64_t end;		/* end of the range asked for */
	uint32_t block_size;
	struct cbt_extent *buf;
	size_t n, pos;		/* extents in buf, the next to hand out */
};

int cbt__ioctl(struct cbt_ctx *ctx, unsigned long cmd, void *arg)
{
	return ioctl(ctx->fd, cmd, arg) < 0 ? -errno : 0;
}

int cbt_open(struct cbt_ctx **ctx)
{
	struct cbt_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->fd = open(CBT_CTL_PATH, O_RDWR | O_CLOEXEC);
	if (c->fd < 0) {
		int err = -errno;

		free(c);
		return err;
	}
	*ctx = c;
	return 0;
}

void cbt_close(struct cbt_ctx *ctx)
{
	if (!ctx)
		return;
	close(ctx->fd);
	free(ctx);
}

int cbt_module_version(struct cbt_ctx *ctx, unsigned int *abi,
		       unsigned int *major, unsigned int *minor,
		       unsigned int *patch)
{
	struct cbt_version v;
	int ret;

	memset(&v, 0, sizeof(v));
	ret = cbt__ioctl(ctx, CBT_IOC_VERSION, &v);
	if (ret)
		return ret;
	if (abi)
		*abi = v.abi;
	if (major)
		*major = v.major;
	if (minor)
		*minor = v.minor;
	if (patch)
		*patch = v.patch;
	return 0;
}

int cbt_resolve(const char *volume, dev_t *dev)
{
	char *path = NULL;
	struct stat st;
	int ret = 0;

	if (!volume || !*volume)
		return -EINVAL;
	if (strchr(volume, '=')) {
		path = blkid_evaluate_tag(volume, NULL, NULL);
		if (!path)
			return -ENOENT;
		volume = path;
	}
	if (stat(volume, &st) < 0)
		ret = -errno;
	else if (!S_ISBLK(st.st_mode))
		ret = -ENOTBLK;
	else
		*dev = st.st_rdev;
	free(path);
	return ret;
}

int cbt_device_path(dev_t dev, char **path)
{
	char *p = blkid_devno_to_devname(dev);

	if (!p) {
		if (asprintf(&p, "%u:%u", major(dev), minor(dev)) < 0)
			return -ENOMEM;
	}
	*path = p;
	return 0;
}

int cbt_parse_size(const char *text, uint64_t *bytes)
{
	unsigned long long v;
	char *end;
	int shift = 0;

	if (!text || *text < '0' || *text > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		switch (*end) {
		case 'k': case 'K': shift = 10; break;
		case 'm': case 'M': shift = 20; break;
		case 'g': case 'G': shift = 30; break;
		case 't': case 'T': shift = 40; break;
		default: return -EINVAL;
		}
		end++;
		if (*end == 'i' && end[1] == 'B')
			end += 2;
		else if (*end == 'B')
			end++;
		if (*end)
			return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = (uint64_t)v << shift;
	return 0;
}

int cbt__to_dev(const char *volume, struct cbt_dev *d)
{
	dev_t dev;
	int ret = cbt_resolve(volume, &dev);

	if (ret)
		return ret;
	d->major = major(dev);
	d->minor = minor(dev);
	return 0;
}

int cbt_attach(struct cbt_ctx *ctx, const char *volume, uint32_t block_size)
{
	struct cbt_attach a;
	int ret;

	memset(&a, 0, sizeof(a));
	ret = cbt__to_dev(volume, &a.dev);
	if (ret)
		return ret;
	a.block_size = block_size;
	return cbt__ioctl(ctx, CBT_IOC_ATTACH, &a);
}

int cbt_detach(struct cbt_ctx *ctx, const char *volume)
{
	struct cbt_detach d;
	int ret;

	memset(&d, 0, sizeof(d));
	ret = cbt__to_dev(volume, &d.dev);
	if (ret)
		return ret;
	return cbt__ioctl(ctx, CBT_IOC_DETACH, &d);
}

static void uuid_text(const uint8_t *u, char *out)
{
	snprintf(out, CBT_UUID_STR,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}

int cbt_status_dev(struct cbt_ctx *ctx, dev_t dev, struct cbt_info *info)
{
	struct cbt_status s;
	int ret;

	memset(&s, 0, sizeof(s));
	s.dev.major = major(dev);
	s.dev.minor = minor(dev);
	ret = cbt__ioctl(ctx, CBT_IOC_STATUS, &s);
	if (ret)
		return ret;
	memset(info, 0, sizeof(*info));
	info->dev = dev;
	uuid_text(s.head.uuid, info->uuid);
	info->generation = s.head.generation;
	info->oldest = s.oldest;
	info->device_size = s.device_size;
	info->blocks = s.blocks;
	info->blocks_written = s.blocks_written;
	info->map_bytes = s.map_bytes;
	info->block_size = s.block_size;
	info->lost = !!(s.state & CBT_STATE_LOST);
	return 0;
}

int cbt_status(struct cbt_ctx *ctx, const char *volume, struct cbt_info *info)
{
	dev_t dev;
	int ret = cbt_resolve(volume, &dev);

	return ret ? ret : cbt_status_dev(ctx, dev, info);
}

int cbt_list(struct cbt_ctx *ctx, dev_t **devs, size_t *count)
{
	struct cbt_dev *buf = NULL;
	struct cbt_list l;
	dev_t *out;
	uint32_t i;
	int ret;

	/* Ask for the count, then for that many; retry if it grew meanwhile. */
	for (;;) {
		memset(&l, 0, sizeof(l));
		ret = cbt__ioctl(ctx, CBT_IOC_LIST, &l);
		if (ret)
			return ret;
		free(buf);
		buf = calloc(l.count + 1, sizeof(*buf));
		if (!buf)
			return -ENOMEM;
		l.capacity = l.count + 1 < CBT_LIST_MAX ? l.count + 1 : CBT_LIST_MAX;
		l.devs = (uintptr_t)buf;
		ret = cbt__ioctl(ctx, CBT_IOC_LIST, &l);
		if (ret || l.count <= l.capacity || l.capacity >= CBT_LIST_MAX)
			break;
	}
	if (ret) {
		free(buf);
		return ret;
	}
	if (l.count > l.capacity)
		l.count = l.capacity;	/* more than one call returns */
	out = calloc(l.count + 1, sizeof(*out));
	if (!out) {
		free(buf);
		return -ENOMEM;
	}
	for (i = 0; i < l.count; i++)
		out[i] = makedev(buf[i].major, buf[i].minor);
	free(buf);
	*devs = out;
	*count = l.count;
	return 0;
}

void cbt__stamp_format(const struct cbt_stamp *s, char *out)
{
	char u[CBT_UUID_STR];

	uuid_text(s->uuid, u);
	snprintf(out, CBT_STAMP_MAX, "%s:%" PRIu64, u, (uint64_t)s->generation);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int stamp_parse(const char *text, struct cbt_stamp *s)
{
	unsigned long long gen;
	const char *p = text;
	char *end;
	int i, hi, lo;

	if (!text)
		return -EINVAL;
	for (i = 0; i < CBT_UUID_SIZE; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) {
			if (*p++ != '-')
				return -EINVAL;
		}
		hi = hexval(p[0]);
		lo = hi < 0 ? -1 : hexval(p[1]);
		if (lo < 0)
			return -EINVAL;
		s->uuid[i] = (uint8_t)(hi << 4 | lo);
		p += 2;
	}
	if (*p++ != ':' || *p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	gen = strtoull(p, &end, 10);
	if (errno || *end)
		return -EINVAL;
	s->generation = gen;
	return 0;
}

int cbt_stamp_check(const char *stamp)
{
	struct cbt_stamp s;

	return stamp_parse(stamp, &s);
}

int cbt_checkpoint(struct cbt_ctx *ctx, const char *volume,
		   unsigned int timeout_ms, char *stamp)
{
	struct cbt_checkpoint c;
	int ret;

	memset(&c, 0, sizeof(c));
	ret = cbt__to_dev(volume, &c.dev);
	if (ret)
		return ret;
	c.timeout_ms = timeout_ms;
	ret = cbt__ioctl(ctx, CBT_IOC_CHECKPOINT, &c);
	if (ret)
		return ret;
	cbt__stamp_format(&c.stamp, stamp);
	return 0;
}

int cbt_changes_open(struct cbt_ctx *ctx, const char *volume,
		     const char *since, uint64_t offset, uint64_t length,
		     struct cbt_extent_iter **out)
{
	struct cbt_extent_iter *it;
	struct cbt_info info;
	dev_t dev;
	int ret;

	ret = cbt_resolve(volume, &dev);
	if (ret)
		return ret;
	it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	ret = stamp_parse(since, &it->req.since);
	if (!ret)
		ret = cbt_status_dev(ctx, dev, &info);
	if (ret)
		goto fail;
	if (offset > info.device_size ||
	    (length && length > info.device_size - offset)) {
		ret = -EINVAL;
		goto fail;
	}
	it->buf = calloc(CHANGES_BATCH, sizeof(*it->buf));
	if (!it->buf) {
		ret = -ENOMEM;
		goto fail;
	}
	it->ctx = ctx;
	it->req.dev.major = major(dev);
	it->req.dev.minor = minor(dev);
	it->next = offset;
	it->end = length ? offset + length : info.device_size;
	it->block_size = info.block_size;
	/* Fetch the first batch now, so a bad stamp fails here. */
	ret = cbt_changes_next(it, NULL, NULL);
	if (ret < 0)
		goto fail;
	it->pos = 0;
	*out = it;
	return 0;
fail:
	cbt_changes_free(it);
	return ret;
}

static int changes_fetch(struct cbt_extent_iter *it)
{
	struct cbt_changes c;
	int ret;

	memset(&c, 0, sizeof(c));
	c.dev = it->req.dev;
	c.since = it->req.since;
	c.offset = it->next;
	c.length = it->end - it->next;
	c.buf = (uintptr_t)it->buf;
	c.buf_size = CHANGES_BATCH * sizeof(*it->buf);
	ret = cbt__ioctl(it->ctx, CBT_IOC_CHANGES, &c);
	if (ret)
		return ret;
	if (c.next_offset <= it->next && c.count == 0)
		return -EIO;	/* no progress: never loop forever */
	it->next = c.next_offset;
	it->n = c.count;
	it->pos = 0;
	it->block_size = c.block_size;
	return 0;
}

int cbt_changes_next(struct cbt_extent_iter *it, uint64_t *offset,
		     uint64_t *length)
{
	int ret;

	while (it->pos >= it->n) {
		if (it->next >= it->end)
			return 0;
		ret = changes_fetch(it);
		if (ret)
			return ret;
	}
	if (!offset)	/* peek: leave the extent for the next call */
		return 1;
	*offset = it->buf[it->pos].offset;
	*length = it->buf[it->pos].length;
	it->pos++;
	return 1;
}

uint32_t cbt_changes_block_size(const struct cbt_extent_iter *it)
{
	return it->block_size;
}

void cbt_changes_free(struct cbt_extent_iter *it)
{
	if (!it)
		return;
	free(it->buf);
	free(it);
}

int64_t cbt_changes_bitmap(struct cbt_ctx *ctx, const char *volume,
			   const char *since, uint64_t first_block,
			   uint64_t nbits, uint8_t *bitmap,
			   uint32_t *block_size)
{
	struct cbt_info info;
	struct cbt_changes c;
	uint64_t done = 0, bs;
	dev_t dev;
	int ret;

	memset(&c, 0, sizeof(c));
	ret = cbt_resolve(volume, &dev);
	if (!ret)
		ret = stamp_parse(since, &c.since);
	if (!ret)
		ret = cbt_status_dev(ctx, dev, &info);
	if (ret)
		return ret;
	bs = info.block_size;
	if (first_block > info.blocks)
		return -EINVAL;
	if (nbits > info.blocks - first_block)
		nbits = info.blocks - first_block;
	if (nbits % 8 && nbits != info.blocks - first_block)
		return -EINVAL;
	memset(bitmap, 0, (nbits + 7) / 8);
	c.dev.major = major(dev);
	c.dev.minor = minor(dev);
	c.flags = CBT_CHANGES_BITMAP;
	while (done < nbits) {
		struct cbt_changes r = c;
		uint64_t off = (first_block + done) * bs;
		uint64_t len = (nbits - done) * bs;

		if (off + len > info.device_size)
			len = info.device_size - off;
		r.offset = off;
		r.length = len;
		r.buf = (uintptr_t)(bitmap + done / 8);
		r.buf_size = (nbits - done + 7) / 8;
		ret = cbt__ioctl(ctx, CBT_IOC_CHANGES, &r);
		if (ret)
			return ret;
		if (!r.count)
			return -EIO;
		done += r.count;
	}
	if (block_size)
		*block_size = (uint32_t)bs;
	return (int64_t)nbits;
}

const char *cbt_strerror(int err)
{
	switch (-err) {
	case 0:
		return "success";
	case ESTALE:
		return "tracking was reset or the stamp is too old: the changes since that stamp are unknown, take a full backup";
	case ENOTBLK:
		return "not a block device";
	case EBUSY:
		return "busy: the volume is already tracked or in a live snapshot set, or a store device is in use (mounted, part of LVM or md, another set's store, a disk with partitions)";
	case EXDEV:
		return "the store would write to a tracked volume or a snapshot member (directly, or through dm, LVM or a loop device above it): put it on another device";
	case EMFILE:
		return "the store has as many files as it can take";
	case ENOTTY:
		return "the cbt module does not understand this request (version mismatch?)";
	case EPERM:
		return "permission denied: cbt needs CAP_SYS_ADMIN (run as root)";
	case EACCES:
		return "store refused, it would not be private: use a block device, or a regular file owned by root, mode 0600 (no group or other bits), with one link, not reached through a symlink, not on /proc, /sys or another pseudo filesystem, in a directory others cannot write (unless sticky, as /tmp)";
	case ETIMEDOUT:
		return "timed out waiting for writes in flight, or the snapshot's hold bound passed";
	case ENOSPC:
		return "no space: the buffer or the device is too small";
	default:
		return strerror(-err);
	}
}
