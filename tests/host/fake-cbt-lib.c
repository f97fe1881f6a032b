// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fake-cbt-lib.c - canned answers in place of tools/cbt-lib.c, so the host
 * tests can check cbt-snap's tables and JSON without the module:
 *  - two tracked volumes, /dev/fake0 (8:0) and /dev/fake1 (8:16, lost);
 *  - one snapshot set, id 7, writable and low on space, with two members;
 *  - CBT_FAKE_EXTENTS extents (default 3) of 4096 bytes every 8192 bytes.
 * Built as tests/cbt-snap-fake (make tests/cbt-snap-fake).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int fake_ctx;

const char *cl_strerror(int err)
{
	return strerror(-err);
}

const char *cl_library_version(void)
{
	return CBT_VERSION;
}

int cl_module_version(char *buf, size_t len)
{
	snprintf(buf, len, "9.9.9 (ABI 1)");
	return 0;
}

int report(int err, const char *what)
{
	fail_msg("%s: %s", what, cl_strerror(err));
	return 1;
}

int cl_open(struct cbt_ctx **ctx)
{
	*ctx = (struct cbt_ctx *)&fake_ctx;
	return 0;
}

void cl_close(struct cbt_ctx *ctx)
{
	(void)ctx;
}

int cl_resolve(const char *vol, dev_t *dev)
{
	if (!strcmp(vol, "/dev/fake0"))
		*dev = 0;
	else if (!strcmp(vol, "/dev/fake1"))
		*dev = 1;
	else
		return -ENOENT;
	return 0;
}

int cl_check_volume(const char *vol)
{
	dev_t dev;
	int ret = cl_resolve(vol, &dev);

	return ret ? report(ret, vol) : 0;
}

int cl_attach(struct cbt_ctx *ctx, const char *vol, uint32_t block_size)
{
	(void)ctx; (void)vol; (void)block_size;
	return 0;
}

int cl_detach(struct cbt_ctx *ctx, const char *vol)
{
	(void)ctx; (void)vol;
	return 0;
}

int cl_checkpoint(struct cbt_ctx *ctx, const char *vol, unsigned int timeout_ms,
		  char stamp[CL_STAMP_MAX])
{
	(void)ctx; (void)vol; (void)timeout_ms;
	snprintf(stamp, CL_STAMP_MAX, "12345678-1234-1234-1234-123456789abc:5");
	return 0;
}

int cl_stamp_check(const char *stamp)
{
	return strcmp(stamp, "12345678-1234-1234-1234-123456789abc:5") ? -EINVAL : 0;
}

int cl_volume_list(struct cbt_ctx *ctx, dev_t **devs, size_t *n)
{
	(void)ctx;
	*devs = calloc(2, sizeof(**devs));
	if (!*devs)
		return -ENOMEM;
	(*devs)[1] = 1;
	*n = 2;
	return 0;
}

int cl_volume_info(struct cbt_ctx *ctx, dev_t dev, struct cl_volume *v)
{
	(void)ctx;
	memset(v, 0, sizeof(*v));
	if (asprintf(&v->path, "/dev/fake%u", (unsigned int)dev) < 0)
		return -ENOMEM;
	v->major = 8;
	v->minor = 16 * (unsigned int)dev;
	snprintf(v->tracker_uuid, sizeof(v->tracker_uuid),
		 "aaaaaaaa-bbbb-cccc-dddd-00000000000%u", (unsigned int)dev);
	v->generation = 5 + dev;
	v->oldest = 1;
	v->device_size = (uint64_t)1 << (40 + dev);
	v->block_size = 65536;
	v->blocks = v->device_size / 65536;
	v->changed = 42;
	v->map_bytes = 4096;
	v->lost = dev == 1;
	return 0;
}

void cl_volume_clear(struct cl_volume *v)
{
	free(v->path);
	v->path = NULL;
}

struct cl_changes {
	uint64_t left, next;
};

int cl_changes_open(struct cbt_ctx *ctx, const char *vol, const char *since,
		    uint64_t offset, uint64_t length, struct cl_changes **it)
{
	const char *n = getenv("CBT_FAKE_EXTENTS");

	(void)ctx; (void)vol; (void)since; (void)offset; (void)length;
	*it = calloc(1, sizeof(**it));
	if (!*it)
		return -ENOMEM;
	(*it)->left = n ? strtoull(n, NULL, 10) : 3;
	return 0;
}

int cl_changes_next(struct cl_changes *it, uint64_t *offset, uint64_t *length)
{
	if (!it->left)
		return 0;
	it->left--;
	*offset = it->next;
	*length = 4096;
	it->next += 8192;
	return 1;
}

uint32_t cl_changes_block_size(struct cl_changes *it)
{
	(void)it;
	return 4096;
}

void cl_changes_free(struct cl_changes *it)
{
	free(it);
}

static struct cl_member fake_members[] = {
	{ "/dev/fake0", "aaaaaaaa-bbbb-cccc-dddd-000000000000:5", "/dev/cbt-snap7-0", 1 },
	{ "/dev/fake1", "aaaaaaaa-bbbb-cccc-dddd-000000000001:6", "/dev/cbt-snap7-1", 0 },
};

static void fake_set(struct cl_set *set)
{
	memset(set, 0, sizeof(*set));
	set->id = 7;
	set->hold_ns = 1234567;
	set->nmembers = 2;
	set->members = fake_members;
	set->st.state = CL_SET_WRITABLE | CL_SET_LOW_SPACE;
	set->st.stores = 2;
	set->st.store_size = 16 << 20;
	set->st.store_used = 15 << 20;
	set->st.chunks_copied = 240;
}

int cl_writers_policy;

int cl_set_create(struct cbt_ctx *ctx, const char *const *vols, unsigned int nvols,
		  const char *const *stores, unsigned int nstores, unsigned int flags,
		  unsigned int hold_ms, unsigned int low_space, struct cl_set *set)
{
	(void)ctx; (void)vols; (void)nvols; (void)stores; (void)nstores;
	(void)flags; (void)hold_ms; (void)low_space;
	fake_set(set);
	return 0;
}

int cl_set_list(struct cbt_ctx *ctx, uint32_t **ids, size_t *n)
{
	(void)ctx;
	*ids = calloc(1, sizeof(**ids));
	if (!*ids)
		return -ENOMEM;
	**ids = 7;
	*n = 1;
	return 0;
}

int cl_set_open(struct cbt_ctx *ctx, uint32_t id, struct cl_set *set)
{
	(void)ctx;
	memset(set, 0, sizeof(*set));
	if (id != 7)
		return -ENOENT;
	fake_set(set);
	return 0;
}

int cl_set_destroy(struct cl_set *set)
{
	(void)set;
	return 0;
}

int cl_set_grow(struct cl_set *set, const char *store)
{
	(void)set; (void)store;
	return 0;
}

int cl_set_next_event(struct cl_set *set, struct cl_set_state *st)
{
	(void)set; (void)st;
	return 0;
}

void cl_set_free(struct cl_set *set)
{
	memset(set, 0, sizeof(*set));
}
