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
#include "writer-hooks.h"

_Static_assert(CL_SET_LOW_SPACE == LIBCBT_STATE_LOW_SPACE &&
	       CL_SET_OVERFLOW == LIBCBT_STATE_OVERFLOW &&
	       CL_SET_INVALID == LIBCBT_STATE_INVALID &&
	       CL_SET_DESTROYED == LIBCBT_STATE_DESTROYED &&
	       CL_SET_WRITABLE == LIBCBT_STATE_WRITABLE, "state bits");

const char *cl_strerror(int err)
{
	return cbt_strerror(err);
}

/* The libcbt this CLI runs with (which may be newer than it was built with). */
const char *cl_library_version(void)
{
	const char *ver = NULL;

	cbt_get_library_version(&ver);
	return ver ? ver : CBT_VERSION;
}

int cl_module_version(char *buf, size_t len)
{
	unsigned int abi, maj, min, pat;
	struct cbt_ctx *ctx;
	int ret = cbt_ctx_new(&ctx);

	if (ret)
		return ret;
	ret = cbt_ctx_get_module_version(ctx, &abi, &maj, &min, &pat);
	cbt_ctx_unref(ctx);
	if (!ret)
		snprintf(buf, len, "%u.%u.%u (ABI %u)", maj, min, pat, abi);
	return ret;
}

int report(int err, const char *what)
{
	if (err == -ENOENT && !strcmp(what, "/dev/cbt-ctl"))
		fail_msg("the cbt module is not loaded (no /dev/cbt-ctl): run 'modprobe cbt'");
	else if ((err == -EACCES || err == -EPERM) && !strcmp(what, "/dev/cbt-ctl"))
		fail_msg("/dev/cbt-ctl: permission denied (cbt needs root)");
	else
		fail_msg("%s: %s", what, cbt_strerror(err));
	return 1;
}

int cl_open(struct cbt_ctx **ctx)
{
	int ret = cbt_ctx_new(ctx);

	return ret ? report(ret, "/dev/cbt-ctl") : 0;
}

void cl_close(struct cbt_ctx *ctx)
{
	cbt_ctx_unref(ctx);
}

int cl_resolve(const char *vol, dev_t *dev)
{
	return cbt_volume_resolve(vol, dev);
}

int cl_check_volume(const char *vol)
{
	dev_t dev;
	int ret = cbt_volume_resolve(vol, &dev);

	return ret ? report(ret, vol) : 0;
}

int cl_attach(struct cbt_ctx *ctx, const char *vol, uint32_t block_size)
{
	struct cbt_volume *v;
	int ret = cbt_volume_open(ctx, vol, &v);

	if (!ret) {
		ret = cbt_volume_attach(v, block_size);
		cbt_volume_free(v);
	}
	return ret;
}

int cl_detach(struct cbt_ctx *ctx, const char *vol)
{
	struct cbt_volume *v;
	int ret = cbt_volume_open(ctx, vol, &v);

	if (!ret) {
		ret = cbt_volume_detach(v);
		cbt_volume_free(v);
	}
	return ret;
}

int cl_checkpoint(struct cbt_ctx *ctx, const char *vol, unsigned int timeout_ms,
		  char stamp[CL_STAMP_MAX])
{
	struct cbt_volume *v;
	char *s = NULL;
	int ret = cbt_volume_open(ctx, vol, &v);

	if (ret)
		return ret;
	ret = cbt_volume_checkpoint(v, timeout_ms, &s);
	cbt_volume_free(v);
	if (!ret) {
		if (strlen(s) >= CL_STAMP_MAX)
			ret = -EOVERFLOW;
		else
			strcpy(stamp, s);
		free(s);
	}
	return ret;
}

int cl_stamp_check(const char *stamp)
{
	return cbt_stamp_check(stamp);
}

int cl_volume_list(struct cbt_ctx *ctx, dev_t **devs, size_t *n)
{
	return cbt_ctx_get_tracked(ctx, devs, n);
}

int cl_volume_info(struct cbt_ctx *ctx, dev_t dev, struct cl_volume *v)
{
	struct cbt_volume *h;
	int ret;

	memset(v, 0, sizeof(*v));
	ret = cbt_volume_open_devno(ctx, dev, &h);
	if (ret)
		return ret;
	ret = cbt_volume_refresh(h);
	if (!ret) {
		v->path = strdup(cbt_volume_get_path(h));
		if (!v->path)
			ret = -ENOMEM;
	}
	if (!ret) {
		v->major = major(cbt_volume_get_devno(h));
		v->minor = minor(cbt_volume_get_devno(h));
		snprintf(v->tracker_uuid, sizeof(v->tracker_uuid), "%s",
			 cbt_volume_get_tracker_uuid(h));
		v->generation = cbt_volume_get_generation(h);
		v->oldest = cbt_volume_get_oldest(h);
		v->device_size = cbt_volume_get_size(h);
		v->blocks = cbt_volume_get_blocks(h);
		v->changed = cbt_volume_get_blocks_written(h);
		v->map_bytes = cbt_volume_get_map_bytes(h);
		v->block_size = cbt_volume_get_block_size(h);
		v->lost = cbt_volume_is_lost(h);
	}
	cbt_volume_free(h);
	return ret;
}

void cl_volume_clear(struct cl_volume *v)
{
	free(v->path);
	v->path = NULL;
}

int cl_changes_open(struct cbt_ctx *ctx, const char *vol, const char *since,
		    uint64_t offset, uint64_t length, struct cl_changes **it)
{
	struct cbt_volume *v;
	int ret = cbt_volume_open(ctx, vol, &v);

	if (ret)
		return ret;
	/* The iterator does not need the volume handle to stay. */
	ret = cbt_changes_open(v, since, offset, length,
			       (struct cbt_changes_iter **)it);
	cbt_volume_free(v);
	return ret;
}

int cl_changes_next(struct cl_changes *it, uint64_t *offset, uint64_t *length)
{
	return cbt_changes_next((struct cbt_changes_iter *)it, offset, length);
}

uint32_t cl_changes_block_size(struct cl_changes *it)
{
	return cbt_changes_get_block_size((struct cbt_changes_iter *)it);
}

void cl_changes_free(struct cl_changes *it)
{
	cbt_changes_free((struct cbt_changes_iter *)it);
}

static void state_fill(struct cbt_snapset *h, struct cl_set_state *st)
{
	st->state = cbt_snapset_get_state(h);
	st->stores = cbt_snapset_get_store_count(h);
	st->store_size = cbt_snapset_get_store_size(h);
	st->store_used = cbt_snapset_get_store_used(h);
	st->chunks_copied = cbt_snapset_get_chunks_copied(h);
	st->error = cbt_snapset_get_error(h);
}

/* Members and state of an open library handle into @set. */
static int set_fill(struct cbt_snapset *h, struct cl_set *set)
{
	unsigned int i;

	set->handle = h;
	set->id = cbt_snapset_get_id(h);
	set->hold_ns = cbt_snapset_get_hold_ns(h);
	set->nmembers = cbt_snapset_get_member_count(h);
	set->members = calloc(set->nmembers ? set->nmembers : 1, sizeof(*set->members));
	if (!set->members)
		return -ENOMEM;
	for (i = 0; i < set->nmembers; i++) {
		set->members[i].volume = cbt_snapset_get_member_path(h, i);
		set->members[i].stamp = cbt_snapset_get_member_stamp(h, i);
		set->members[i].image = cbt_snapset_get_member_image(h, i);
		set->members[i].frozen = cbt_snapset_get_member_frozen(h, i);
	}
	state_fill(h, &set->st);
	return 0;
}

static int opts_fill(struct cbt_ctx *ctx, struct cbt_snapset_opts *o,
		     const char *const *vols, unsigned int nvols,
		     const char *const *stores, unsigned int nstores, unsigned int flags,
		     unsigned int hold_ms, unsigned int low_space)
{
	unsigned int i, f = 0;
	int ret = 0;

	for (i = 0; !ret && i < nvols; i++) {
		struct cbt_volume *v;

		ret = cbt_volume_open(ctx, vols[i], &v);
		if (!ret) {
			ret = cbt_snapset_opts_add_volume(o, v);
			cbt_volume_free(v);
		}
	}
	for (i = 0; !ret && i < nstores; i++)
		ret = cbt_snapset_opts_add_store(o, stores[i]);
	if (flags & CL_CREATE_NO_FREEZE)
		f |= LIBCBT_SNAPSET_NO_FREEZE;
	if (flags & CL_CREATE_WRITABLE)
		f |= LIBCBT_SNAPSET_WRITABLE;
	if (!ret)
		ret = cbt_snapset_opts_set_flags(o, f);
	if (!ret && hold_ms)
		ret = cbt_snapset_opts_set_hold_ms(o, hold_ms);
	if (!ret && low_space)
		ret = cbt_snapset_opts_set_low_space(o, low_space);
	return ret;
}

int cl_set_create(struct cbt_ctx *ctx, const char *const *vols, unsigned int nvols,
		  const char *const *stores, unsigned int nstores, unsigned int flags,
		  unsigned int hold_ms, unsigned int low_space, struct cl_set *set)
{
	struct cbt_snapset_opts *o;
	struct cbt_snapset *h;
	int ret;

	memset(set, 0, sizeof(*set));
	ret = cbt_snapset_opts_new(&o);
	if (ret)
		return ret;
	ret = opts_fill(ctx, o, vols, nvols, stores, nstores, flags, hold_ms, low_space);
	if (!ret)
		ret = cbt_snapset_opts_set_writers(o, cl_writers_policy);
	h = NULL;
	if (!ret)
		ret = cbt_snapset_attempt(ctx, o, &h);
	cbt_snapset_opts_free(o);
	if (cbt_snapset_get_writer_count(h)) {
		size_t len;
		FILE *f = open_memstream(&set->writers_text, &len);

		if (f) {
			print_writer_outcomes(h, f);
			fclose(f);
		}
		set->writers_json = writer_outcomes_json(h);
	}
	if (ret && *cbt_ctx_get_error(ctx) && strstr(cbt_ctx_get_error(ctx), "writer"))
		set->error = strdup(cbt_ctx_get_error(ctx));
	if (ret) {
		cbt_snapset_free(h);
		return ret;
	}
	return set_fill(h, set);
}

int cl_set_list(struct cbt_ctx *ctx, uint32_t **ids, size_t *n)
{
	return cbt_ctx_get_snapsets(ctx, ids, n);
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
	int ret = cbt_snapset_next_event(set->handle, 1);

	if (ret > 0)
		state_fill(set->handle, st);
	return ret;
}

int cl_writers_policy;

void cl_set_free(struct cl_set *set)
{
	free(set->writers_text);
	free(set->writers_json);
	free(set->error);
	if (set->handle)
		cbt_snapset_free(set->handle);
	free(set->members);
	memset(set, 0, sizeof(*set));
}
