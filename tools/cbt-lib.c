// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cbt-lib.c - every call cbt-snap makes into libcbt, in small wrappers, so
 * a change of the library's API touches this file only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "libcbt.h"
#include "cli.h"

_Static_assert(CL_SET_LOW_SPACE == CBT_SNAPSET_LOW_SPACE &&
	       CL_SET_OVERFLOW == CBT_SNAPSET_OVERFLOW &&
	       CL_SET_INVALID == CBT_SNAPSET_INVALID &&
	       CL_SET_DESTROYED == CBT_SNAPSET_DESTROYED &&
	       CL_SET_WRITABLE == CBT_SNAPSET_WRITABLE, "state bits");

const char *cl_strerror(int err)
{
	return cbt_strerror(err);
}

/* The library this CLI was built with (libcbt has no runtime query yet). */
const char *cl_library_version(void)
{
	return CBT_VERSION;
}

int cl_module_version(char *buf, size_t len)
{
	unsigned int abi, maj, min, pat;
	struct cbt_ctx *ctx;
	int ret = cbt_open(&ctx);

	if (ret)
		return ret;
	ret = cbt_module_version(ctx, &abi, &maj, &min, &pat);
	cbt_close(ctx);
	if (!ret)
		snprintf(buf, len, "%u.%u.%u (ABI %u)", maj, min, pat, abi);
	return ret;
}

int report(int err, const char *what)
{
	if (err == -ENOENT && !strcmp(what, "/dev/cbt-ctl"))
		fail_msg("the cbt module is not loaded (no /dev/cbt-ctl): run 'modprobe cbt'");
	else
		fail_msg("%s: %s", what, cbt_strerror(err));
	return 1;
}

int cl_open(struct cbt_ctx **ctx)
{
	int ret = cbt_open(ctx);

	return ret ? report(ret, "/dev/cbt-ctl") : 0;
}

void cl_close(struct cbt_ctx *ctx)
{
	cbt_close(ctx);
}

int cl_resolve(const char *vol, dev_t *dev)
{
	return cbt_resolve(vol, dev);
}

int cl_check_volume(const char *vol)
{
	dev_t dev;
	int ret = cbt_resolve(vol, &dev);

	return ret ? report(ret, vol) : 0;
}

int cl_attach(struct cbt_ctx *ctx, const char *vol, uint32_t block_size)
{
	return cbt_attach(ctx, vol, block_size);
}

int cl_detach(struct cbt_ctx *ctx, const char *vol)
{
	return cbt_detach(ctx, vol);
}

int cl_checkpoint(struct cbt_ctx *ctx, const char *vol, unsigned int timeout_ms,
		  char stamp[CL_STAMP_MAX])
{
	_Static_assert(CL_STAMP_MAX >= CBT_STAMP_MAX, "stamp buffer");
	return cbt_checkpoint(ctx, vol, timeout_ms, stamp);
}

int cl_stamp_check(const char *stamp)
{
	return cbt_stamp_check(stamp);
}

int cl_volume_list(struct cbt_ctx *ctx, dev_t **devs, size_t *n)
{
	return cbt_list(ctx, devs, n);
}

int cl_volume_info(struct cbt_ctx *ctx, dev_t dev, struct cl_volume *v)
{
	struct cbt_info i;
	int ret = cbt_status_dev(ctx, dev, &i);

	memset(v, 0, sizeof(*v));
	if (ret)
		return ret;
	ret = cbt_device_path(dev, &v->path);
	if (ret)
		return ret;
	v->major = major(i.dev);
	v->minor = minor(i.dev);
	snprintf(v->tracker_uuid, sizeof(v->tracker_uuid), "%s", i.uuid);
	v->generation = i.generation;
	v->oldest = i.oldest;
	v->device_size = i.device_size;
	v->blocks = i.blocks;
	v->changed = i.blocks_written;
	v->map_bytes = i.map_bytes;
	v->block_size = i.block_size;
	v->lost = i.lost;
	return 0;
}

void cl_volume_clear(struct cl_volume *v)
{
	free(v->path);
	v->path = NULL;
}

int cl_changes_open(struct cbt_ctx *ctx, const char *vol, const char *since,
		    uint64_t offset, uint64_t length, struct cl_changes **it)
{
	return cbt_changes_open(ctx, vol, since, offset, length,
				(struct cbt_extent_iter **)it);
}

int cl_changes_next(struct cl_changes *it, uint64_t *offset, uint64_t *length)
{
	return cbt_changes_next((struct cbt_extent_iter *)it, offset, length);
}

uint32_t cl_changes_block_size(struct cl_changes *it)
{
	return cbt_changes_block_size((struct cbt_extent_iter *)it);
}

void cl_changes_free(struct cl_changes *it)
{
	cbt_changes_free((struct cbt_extent_iter *)it);
}

/* Members and state of an open library handle into @set. */
static int set_fill(struct cbt_snapset *h, struct cl_set *set)
{
	struct cbt_snapset_state st;
	unsigned int i;
	int ret;

	set->handle = h;
	set->id = cbt_snapset_id(h);
	set->hold_ns = cbt_snapset_hold_ns(h);
	set->nmembers = cbt_snapset_count(h);
	set->members = calloc(set->nmembers ? set->nmembers : 1, sizeof(*set->members));
	if (!set->members)
		return -ENOMEM;
	for (i = 0; i < set->nmembers; i++) {
		set->members[i].volume = cbt_snapset_volume(h, i);
		set->members[i].stamp = cbt_snapset_stamp(h, i);
		set->members[i].image = cbt_snapset_image(h, i);
		set->members[i].frozen = cbt_snapset_frozen(h, i);
	}
	ret = cbt_snapset_state(h, &st);
	if (ret)
		return ret;
	set->st.state = st.state;
	set->st.stores = st.stores;
	set->st.store_size = st.store_size;
	set->st.store_used = st.store_used;
	set->st.chunks_copied = st.chunks_copied;
	set->st.error = st.error;
	return 0;
}

int cl_set_create(struct cbt_ctx *ctx, const char *const *vols, unsigned int nvols,
		  const char *const *stores, unsigned int nstores, unsigned int flags,
		  unsigned int hold_ms, unsigned int low_space, struct cl_set *set)
{
	struct cbt_snapset *h;
	unsigned int f = 0;
	int ret;

	memset(set, 0, sizeof(*set));
	if (flags & CL_CREATE_NO_FREEZE)
		f |= CBT_SNAPSHOT_NO_FREEZE;
	if (flags & CL_CREATE_WRITABLE)
		f |= CBT_SNAPSHOT_WRITABLE;
	ret = cbt_snapshot_create(ctx, vols, nvols, stores, nstores, f, hold_ms,
				  low_space, &h);
	if (ret)
		return ret;
	return set_fill(h, set);
}

int cl_set_list(struct cbt_ctx *ctx, uint32_t **ids, size_t *n)
{
	return cbt_snapshot_list(ctx, ids, n);
}

int cl_set_open(struct cbt_ctx *ctx, uint32_t id, struct cl_set *set)
{
	struct cbt_snapset *h;
	int ret;

	memset(set, 0, sizeof(*set));
	ret = cbt_snapset_open(ctx, id, &h);
	if (ret)
		return ret;
	return set_fill(h, set);
}

int cl_set_destroy(struct cl_set *set)
{
	return cbt_snapset_destroy(set->handle);
}

int cl_set_grow(struct cl_set *set, const char *store)
{
	return cbt_snapset_grow(set->handle, store);
}

int cl_set_next_event(struct cl_set *set, struct cl_set_state *st)
{
	struct cbt_snapset_state s;
	int ret = cbt_snapset_next_event(set->handle, 1, &s);

	if (ret > 0) {
		st->state = s.state;
		st->stores = s.stores;
		st->store_size = s.store_size;
		st->store_used = s.store_used;
		st->chunks_copied = s.chunks_copied;
		st->error = s.error;
	}
	return ret;
}

void cl_set_free(struct cl_set *set)
{
	if (set->handle)
		cbt_snapset_free(set->handle);
	free(set->members);
	memset(set, 0, sizeof(*set));
}
