// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rbd-diff.c - Ceph "rbd diff v1" stream writer (see rbd-diff.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "rbd-diff.h"

#define RBD_DIFF_HEADER	"rbd diff v1\n"
#define RBD_DIFF_NAME_MAX	4096

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static int put(struct rbd_diff *d, const void *p, size_t n)
{
	if (d->err)
		return d->err;
	if (n && fwrite(p, 1, n, d->f) != n)
		d->err = errno ? -errno : -EIO;
	return d->err;
}

/* A tag and two le64 (the 'w' and 'z' records' head). */
static int put_extent(struct rbd_diff *d, char tag, uint64_t offset, uint64_t len)
{
	unsigned char rec[17];

	rec[0] = (unsigned char)tag;
	put_le64(rec + 1, offset);
	put_le64(rec + 9, len);
	return put(d, rec, sizeof(rec));
}

static int put_name(struct rbd_diff *d, char tag, const char *name)
{
	size_t n = strlen(name);
	unsigned char rec[5];

	rec[0] = (unsigned char)tag;
	put_le32(rec + 1, (uint32_t)n);
	if (put(d, rec, sizeof(rec)))
		return d->err;
	return put(d, name, n);
}

static int flush_zero(struct rbd_diff *d)
{
	if (!d->zlen)
		return d->err;
	put_extent(d, 'z', d->zoff, d->zlen);
	d->bytes_z += d->zlen;
	d->zlen = 0;
	return d->err;
}

int rbd_diff_begin(struct rbd_diff *d, FILE *f, const char *from, const char *to,
		   uint64_t size)
{
	unsigned char rec[9];

	memset(d, 0, sizeof(*d));
	d->f = f;
	d->size = size;
	if (!to || !*to || strlen(to) > RBD_DIFF_NAME_MAX ||
	    (from && (!*from || strlen(from) > RBD_DIFF_NAME_MAX)))
		return d->err = -EINVAL;
	put(d, RBD_DIFF_HEADER, strlen(RBD_DIFF_HEADER));
	if (from)
		put_name(d, 'f', from);
	put_name(d, 't', to);
	rec[0] = 's';
	put_le64(rec + 1, size);
	return put(d, rec, sizeof(rec));
}

/* Is [offset, offset + len) in order and inside the image? */
static int check_range(struct rbd_diff *d, uint64_t offset, uint64_t len)
{
	if (d->err)
		return d->err;
	if (offset < d->next || offset > d->size || len > d->size - offset)
		return d->err = -EINVAL;
	d->next = offset + len;
	return 0;
}

static void add_zero(struct rbd_diff *d, uint64_t offset, uint64_t len)
{
	if (!len)
		return;
	if (d->zlen && d->zoff + d->zlen == offset) {
		d->zlen += len;
		return;
	}
	flush_zero(d);
	d->zoff = offset;
	d->zlen = len;
}

int rbd_diff_zero(struct rbd_diff *d, uint64_t offset, uint64_t len)
{
	if (check_range(d, offset, len))
		return d->err;
	add_zero(d, offset, len);
	return d->err;
}

static int all_zero(const unsigned char *p, size_t n)
{
	return !n || (p[0] == 0 && !memcmp(p, p + 1, n - 1));
}

int rbd_diff_data(struct rbd_diff *d, uint64_t offset, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t pos = 0, run = 0;	/* p[run, pos) is a non-zero run not yet written */

	if (check_range(d, offset, len))
		return d->err;
	while (pos < len) {
		size_t grain = RBD_DIFF_ZERO_GRAIN - (size_t)((offset + pos) % RBD_DIFF_ZERO_GRAIN);

		if (grain > len - pos)
			grain = len - pos;
		if (!all_zero(p + pos, grain)) {
			pos += grain;
			continue;
		}
		if (pos > run) {
			flush_zero(d);
			put_extent(d, 'w', offset + run, pos - run);
			put(d, p + run, pos - run);
			d->bytes_w += pos - run;
		}
		add_zero(d, offset + pos, grain);
		pos += grain;
		run = pos;
	}
	if (pos > run) {
		flush_zero(d);
		put_extent(d, 'w', offset + run, pos - run);
		put(d, p + run, pos - run);
		d->bytes_w += pos - run;
	}
	return d->err;
}

int rbd_diff_end(struct rbd_diff *d)
{
	flush_zero(d);
	put(d, "e", 1);
	if (!d->err && fflush(d->f))
		d->err = errno ? -errno : -EIO;
	return d->err;
}
