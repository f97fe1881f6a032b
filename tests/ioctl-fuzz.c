// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ioctl-fuzz - a structure-aware fuzzer for every command of cbt_ioctl.h.
 *
 *   ioctl-fuzz [-s SEED] [-t SECONDS] A B C D STORE_DIR   (as root)
 *
 * A, B, C, D are untracked block devices of the same size (loop devices):
 * the fuzzer attaches A (the tracker the tracking commands are aimed at),
 * C (the member of a live snapshot set, the one the set commands are aimed
 * at) and D (the member of the sets SNAP_CREATE and SNAP_DESTROY make and
 * end); B stays untracked (ATTACH and DETACH take it on and off). Store
 * files go to STORE_DIR (left there: the caller removes it).
 *
 * For each command it builds a request that succeeds (checked first), then
 * changes ONE field of it (or the argument pointer, or the command number)
 * to a boundary value: 0, 1, -1, the maximum and maximum - 1, the valid
 * value +-1, misaligned and huge sizes, counts whose product with an entry
 * size overflows, bad pointers (NULL, kernel, unmapped, read-only, running
 * into an unmapped page), bad descriptors, set reserved and output fields.
 * First every field with every value (the sweep), then seeded random
 * mutations until the time is up. The writers' commands too: REGISTER
 * (each registration's descriptor closed at once), LIST, RESULTS (of the
 * live set: no writer) and SNAP_END (of a scratch set on D).
 * Each answer must be a refusal with a documented kind of error or a
 * success whose outputs are consistent (and whose effect is undone);
 * after each, the tracker of A and the live set must be as they were.
 * A kernel oops or WARN is caught by the VM runner.
 * Prints the seed; exit 1 on any failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "cbt_ioctl.h"
#include "abuse.h"

/*
 * K_RSV: "in: zero" (reserved fields, flags without defined bits): any
 * other value must fail with EINVAL. K_FLAGS: a bit outside the field's
 * known ones (mask in struct field) must too.
 */
enum kind { K_NUM, K_PTR, K_FD, K_UUID, K_DEV, K_ID, K_RSV, K_FLAGS };

struct field {
	const char *name;
	size_t off, size;
	enum kind kind;
	uint64_t known;		/* K_FLAGS: the defined bits */
};

#define F(st, fld, k) { #fld, offsetof(struct st, fld), sizeof(((struct st *)0)->fld), k, 0 }
#define FL(st, fld, m) { #fld, offsetof(struct st, fld), sizeof(((struct st *)0)->fld), K_FLAGS, m }

/* ---- the world the requests are about */
static struct cbt_dev dev_a, dev_b, dev_c, dev_d;
static uint64_t dev_bytes;
static int fd_a;
static uint8_t uuid_a[CBT_UUID_SIZE];
static struct cbt_stamp cur_stamp;	/* A's newest stamp */
static uint32_t live_id;		/* the set on C */
static int store_live, store_scratch, store_grow, store_ro, pipe_w, dir_fd;
static char store_dir[256];
static long page;
static uint8_t *buf;			/* 4 pages for outputs */
static uint8_t *guard;			/* a PROT_NONE page */
static uint8_t *ro_page;		/* a read-only page */
static uint8_t *req;			/* the request */
static uint64_t rng;
static unsigned long iterations, refusals, successes;
static const char *cur_what;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible from the seed. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static void fail(const char *fmt, const char *a, long long b)
{
	printf("FAIL %s: ", cur_what);
	printf(fmt, a, b);
	printf("\n");
	failures++;
}

static int xioctl(unsigned long cmd, void *arg)
{
	int ret = ioctl(fd, cmd, arg);

	return ret < 0 ? -errno : ret;
}

static int attach(struct cbt_dev d)
{
	struct cbt_attach a;

	memset(&a, 0, sizeof(a));
	a.dev = d;
	a.block_size = 4096;
	return xioctl(CBT_IOC_ATTACH, &a);
}

static int detach(struct cbt_dev d)
{
	struct cbt_detach x;

	memset(&x, 0, sizeof(x));
	x.dev = d;
	return xioctl(CBT_IOC_DETACH, &x);
}

static int status_of(struct cbt_dev d, struct cbt_status *s)
{
	memset(s, 0, sizeof(*s));
	s->dev = d;
	return xioctl(CBT_IOC_STATUS, s);
}

static int checkpoint_a(struct cbt_stamp *st)
{
	struct cbt_checkpoint c;
	int ret;

	memset(&c, 0, sizeof(c));
	c.dev = dev_a;
	ret = xioctl(CBT_IOC_CHECKPOINT, &c);
	if (!ret)
		*st = c.stamp;
	return ret;
}

static int create_set(struct cbt_dev d, int store, uint32_t *id)
{
	struct cbt_snap_member m;
	struct cbt_snap_create c;
	int ret;

	memset(&m, 0, sizeof(m));
	m.dev = d;
	memset(&c, 0, sizeof(c));
	c.members = (uintptr_t)&m;
	c.count = 1;
	c.flags = CBT_SNAP_NO_FREEZE;
	c.store_fd = store;
	ret = xioctl(CBT_IOC_SNAP_CREATE, &c);
	if (!ret)
		*id = c.id;
	return ret;
}

static int destroy_set(uint32_t id)
{
	struct cbt_snap_destroy d;

	memset(&d, 0, sizeof(d));
	d.id = id;
	return xioctl(CBT_IOC_SNAP_DESTROY, &d);
}

static int info_of(uint32_t id, struct cbt_snap_info *i, struct cbt_snap_member *m)
{
	memset(i, 0, sizeof(*i));
	i->id = id;
	i->members = (uintptr_t)m;
	i->capacity = m ? 1 : 0;
	return xioctl(CBT_IOC_SNAP_INFO, i);
}

static unsigned int count_sets(void)
{
	struct cbt_snap_list l;

	memset(&l, 0, sizeof(l));
	return xioctl(CBT_IOC_SNAP_LIST, &l) ? 9999 : l.count;
}

static unsigned int count_trackers(void)
{
	struct cbt_list l;

	memset(&l, 0, sizeof(l));
	return xioctl(CBT_IOC_LIST, &l) ? 9999 : l.count;
}

static int same_dev(struct cbt_dev x, struct cbt_dev y)
{
	return x.major == y.major && x.minor == y.minor;
}

static int ours(struct cbt_dev d)
{
	return same_dev(d, dev_a) || same_dev(d, dev_c) || same_dev(d, dev_d);
}

static int new_store(uint64_t size)
{
	char path[300];
	int sfd;

	snprintf(path, sizeof(path), "%s/fuzz-store.XXXXXX", store_dir);
	sfd = mkstemp(path);
	if (sfd < 0 || ftruncate(sfd, (off_t)size)) {
		perror(path);
		exit(2);
	}
	return sfd;	/* left in STORE_DIR: a store may have to have a link */
}

/* ---- one command: its fields, its valid request, its after-checks */
struct op {
	const char *name;
	unsigned long cmd;
	size_t size;
	const struct field *fields;
	unsigned int nfields;
	/* Fill @r with a request that succeeds; 0 or -1 (setup failed). */
	int (*prepare)(void *r);
	/* The request @r answered @ret: check a success, undo its effect. */
	void (*after)(void *r, int ret);
};

/* A fresh store file for each set SNAP_CREATE or SNAP_DESTROY's setup
 * makes (a mutated GROW may have taken the last one into the live set). */
static int fresh_scratch(void)
{
	if (store_scratch >= 0)
		close(store_scratch);
	store_scratch = new_store(8 << 20);
	return store_scratch;
}

/* Member 0 of a create request lies here (its fields are fuzzed too). */
static struct cbt_snap_member *create_m;
static int base_rejected;

static const struct field f_version[] = {
	F(cbt_version, abi, K_NUM), F(cbt_version, features, K_NUM),
	F(cbt_version, reserved[1], K_NUM),
};

static int prep_version(void *r)
{
	memset(r, 0, sizeof(struct cbt_version));
	return 0;
}

static void after_version(void *r, int ret)
{
	struct cbt_version *v = r;

	if (!ret && (v->abi != CBT_ABI_VERSION || v->reserved[0] || v->reserved[1]))
		fail("%sabi %lld or reserved not zero", "", v->abi);
}

static const struct field f_attach[] = {
	F(cbt_attach, dev.major, K_DEV), F(cbt_attach, dev.minor, K_DEV),
	F(cbt_attach, block_size, K_NUM), F(cbt_attach, flags, K_RSV),
	F(cbt_attach, reserved[0], K_RSV), F(cbt_attach, reserved[3], K_RSV),
	F(cbt_attach, head.uuid, K_UUID), F(cbt_attach, head.generation, K_NUM),
};

static int prep_attach(void *r)
{
	struct cbt_attach *a = r;

	detach(dev_b);
	memset(a, 0, sizeof(*a));
	a->dev = dev_b;
	a->block_size = 65536;
	return 0;
}

static void after_attach(void *r, int ret)
{
	struct cbt_attach *a = r;
	struct cbt_status s;

	if (ret)
		return;
	if (status_of(a->dev, &s))
		fail("%sattach succeeded, status of it fails (%lld)", "", 0);
	else if (memcmp(s.head.uuid, a->head.uuid, CBT_UUID_SIZE))
		fail("%sattach's uuid is not the tracker's%lld", "", 0);
	if (!ours(a->dev) && detach(a->dev))
		fail("%sthe new tracker cannot be detached%lld", "", 0);
}

static const struct field f_detach[] = {
	F(cbt_detach, dev.major, K_DEV), F(cbt_detach, dev.minor, K_DEV),
	F(cbt_detach, flags, K_RSV), F(cbt_detach, reserved, K_RSV),
};

static int prep_detach(void *r)
{
	struct cbt_detach *d = r;
	int ret = attach(dev_b);

	if (ret && ret != -EBUSY)
		return -1;
	memset(d, 0, sizeof(*d));
	d->dev = dev_b;
	return 0;
}

static void after_detach(void *r, int ret)
{
	struct cbt_detach *d = r;
	struct cbt_status s;

	if (!ret && !status_of(d->dev, &s))
		fail("%sdetached, yet status answers%lld", "", 0);
}

static const struct field f_status[] = {
	F(cbt_status, dev.major, K_DEV), F(cbt_status, dev.minor, K_DEV),
	F(cbt_status, flags, K_RSV), F(cbt_status, state, K_NUM),
	F(cbt_status, head.generation, K_NUM), F(cbt_status, oldest, K_NUM),
	F(cbt_status, device_size, K_NUM), F(cbt_status, block_size, K_NUM),
	F(cbt_status, reserved0, K_NUM), F(cbt_status, reserved[5], K_NUM),
};

static int prep_status(void *r)
{
	struct cbt_status *s = r;

	memset(s, 0, sizeof(*s));
	s->dev = dev_a;
	return 0;
}

static void after_status(void *r, int ret)
{
	struct cbt_status *s = r;

	if (ret)
		return;
	if (!s->block_size || (s->block_size & (s->block_size - 1)) ||
	    s->block_size < CBT_BLOCK_SIZE_MIN || s->block_size > CBT_BLOCK_SIZE_MAX)
		fail("%sblock size %lld", "", s->block_size);
	if (!s->device_size || s->blocks != (s->device_size + s->block_size - 1) / s->block_size)
		fail("%sblocks do not cover the device (%lld)", "", (long long)s->blocks);
	if (s->oldest > s->head.generation)
		fail("%soldest above the open generation (%lld)", "", (long long)s->oldest);
	if (same_dev(s->dev, dev_a) && memcmp(s->head.uuid, uuid_a, CBT_UUID_SIZE))
		fail("%sA's uuid changed%lld", "", 0);
	if (s->reserved0 || s->reserved[0] || s->reserved[5])
		fail("%sreserved output not zero%lld", "", 0);
}

static const struct field f_list[] = {
	F(cbt_list, devs, K_PTR), F(cbt_list, capacity, K_NUM),
	F(cbt_list, count, K_NUM), F(cbt_list, reserved[0], K_RSV),
	F(cbt_list, reserved[1], K_RSV),
};

static int prep_list(void *r)
{
	struct cbt_list *l = r;

	memset(l, 0, sizeof(*l));
	l->devs = (uintptr_t)buf;
	l->capacity = 16;
	return 0;
}

static void after_list(void *r, int ret)
{
	struct cbt_list *l = r;
	struct cbt_dev *d = (struct cbt_dev *)buf;
	unsigned int i, n, seen = 0;

	if (ret)
		return;
	if (l->count < 3)
		fail("%s%lld trackers listed, 3 at least are ours", "", l->count);
	if (l->devs != (uintptr_t)buf)
		return;
	n = l->count < l->capacity ? l->count : l->capacity;
	for (i = 0; i < n && i < 4 * page / sizeof(*d); i++)
		seen += ours(d[i]);
	if (n >= l->count && seen != 3)
		fail("%sthe whole list holds %lld of our 3 trackers", "", seen);
}

static const struct field f_checkpoint[] = {
	F(cbt_checkpoint, dev.major, K_DEV), F(cbt_checkpoint, dev.minor, K_DEV),
	F(cbt_checkpoint, flags, K_RSV), F(cbt_checkpoint, timeout_ms, K_NUM),
	F(cbt_checkpoint, reserved[0], K_RSV), F(cbt_checkpoint, reserved[1], K_RSV),
	F(cbt_checkpoint, stamp.uuid, K_UUID), F(cbt_checkpoint, stamp.generation, K_NUM),
};

static int prep_checkpoint(void *r)
{
	struct cbt_checkpoint *c = r;

	memset(c, 0, sizeof(*c));
	c->dev = dev_a;
	return 0;
}

static void after_checkpoint(void *r, int ret)
{
	struct cbt_checkpoint *c = r;

	if (ret || !same_dev(c->dev, dev_a))
		return;
	if (memcmp(c->stamp.uuid, uuid_a, CBT_UUID_SIZE))
		fail("%sA's stamp has another uuid%lld", "", 0);
	else if (c->stamp.generation <= cur_stamp.generation)
		fail("%sthe generation went back to %lld", "", (long long)c->stamp.generation);
	else
		cur_stamp = c->stamp;
}

static const struct field f_changes[] = {
	F(cbt_changes, dev.major, K_DEV), F(cbt_changes, dev.minor, K_DEV),
	FL(cbt_changes, flags, CBT_CHANGES_BITMAP), F(cbt_changes, block_size, K_NUM),
	F(cbt_changes, since.uuid, K_UUID), F(cbt_changes, since.generation, K_NUM),
	F(cbt_changes, offset, K_NUM), F(cbt_changes, length, K_NUM),
	F(cbt_changes, buf, K_PTR), F(cbt_changes, buf_size, K_NUM),
	F(cbt_changes, next_offset, K_NUM), F(cbt_changes, count, K_NUM),
	F(cbt_changes, reserved[0], K_RSV), F(cbt_changes, reserved[3], K_RSV),
};

static int prep_changes(void *r)
{
	struct cbt_changes *c = r;

	memset(c, 0, sizeof(*c));
	c->dev = dev_a;
	c->since = cur_stamp;
	c->buf = (uintptr_t)buf;
	c->buf_size = 4 * page;
	/* Alternate the modes, so each field is tried in both. */
	if (rnd() & 1)
		c->flags = CBT_CHANGES_BITMAP;
	return 0;
}

static void after_changes(void *r, int ret)
{
	struct cbt_changes *c = r;
	struct cbt_extent *e = (struct cbt_extent *)buf;
	uint64_t end, i, prev = 0;

	if (ret || !same_dev(c->dev, dev_a))
		return;
	end = c->length ? c->offset + c->length : dev_bytes;
	if (end > dev_bytes || c->offset > end)
		fail("%sa range past the device answered (offset %lld)", "", (long long)c->offset);
	if (c->next_offset > end || c->next_offset < c->offset)
		fail("%snext_offset %lld outside the range", "", (long long)c->next_offset);
	if (c->block_size != 4096)
		fail("%sblock size %lld", "", c->block_size);
	if (c->flags & CBT_CHANGES_BITMAP) {
		if ((c->count + 7) / 8 > c->buf_size)
			fail("%s%lld bits in a smaller buffer", "", (long long)c->count);
		return;
	}
	if (c->count > c->buf_size / sizeof(*e))
		fail("%s%lld extents in a smaller buffer", "", (long long)c->count);
	if (c->buf != (uintptr_t)buf)
		return;
	for (i = 0; i < c->count && i < 4 * page / sizeof(*e); i++) {
		if (!e[i].length || e[i].offset < c->offset || e[i].offset < prev ||
		    e[i].offset + e[i].length > end) {
			fail("%sextent %lld not sorted, disjoint and in the range", "", (long long)i);
			return;
		}
		prev = e[i].offset + e[i].length;
	}
}

static const struct field f_create[] = {
	F(cbt_snap_create, members, K_PTR), F(cbt_snap_create, count, K_NUM),
	FL(cbt_snap_create, flags, CBT_SNAP_NO_FREEZE | CBT_SNAP_WRITABLE), F(cbt_snap_create, store_fd, K_FD),
	F(cbt_snap_create, hold_ms, K_NUM), F(cbt_snap_create, low_space, K_NUM),
	F(cbt_snap_create, id, K_NUM), F(cbt_snap_create, hold_ns, K_NUM),
	F(cbt_snap_create, writers, K_PTR), F(cbt_snap_create, missing, K_RSV),
	F(cbt_snap_create, reserved[0], K_RSV), F(cbt_snap_create, reserved[1], K_RSV),
};

/* The fields of member 0, fuzzed through the create request. */
static const struct field f_member[] = {
	F(cbt_snap_member, dev.major, K_DEV), F(cbt_snap_member, dev.minor, K_DEV),
	F(cbt_snap_member, image.major, K_NUM), F(cbt_snap_member, image.minor, K_NUM),
	F(cbt_snap_member, stamp.uuid, K_UUID), F(cbt_snap_member, stamp.generation, K_NUM),
	F(cbt_snap_member, chunk_size, K_NUM), F(cbt_snap_member, frozen, K_RSV),
	F(cbt_snap_member, reserved[0], K_RSV), F(cbt_snap_member, reserved[1], K_RSV),
};

static int prep_create(void *r)
{
	struct cbt_snap_create *c = r;

	memset(create_m, 0, 2 * sizeof(*create_m));
	create_m[0].dev = dev_d;
	memset(c, 0, sizeof(*c));
	c->members = (uintptr_t)create_m;
	c->count = 1;
	c->flags = CBT_SNAP_NO_FREEZE;
	c->store_fd = fresh_scratch();
	return 0;
}

static void after_create(void *r, int ret)
{
	struct cbt_snap_create *c = r;
	struct cbt_snap_info i;

	if (ret)
		return;
	if (info_of(c->id, &i, NULL))
		fail("%sthe new set %lld has no info", "", c->id);
	else if (i.count != c->count || c->count < 1 || c->count > CBT_SNAP_MAX_MEMBERS)
		fail("%sthe new set has %lld members", "", i.count);
	if (c->members == (uintptr_t)create_m && !create_m[0].image.major && !create_m[0].image.minor)
		fail("%smember 0 has no image%lld", "", 0);
	if (destroy_set(c->id))
		fail("%sthe new set %lld cannot be destroyed", "", c->id);
}

static const struct field f_grow[] = {
	F(cbt_snap_grow, id, K_ID), F(cbt_snap_grow, store_fd, K_FD),
	F(cbt_snap_grow, flags, K_RSV), F(cbt_snap_grow, reserved0, K_RSV),
	F(cbt_snap_grow, reserved[0], K_RSV), F(cbt_snap_grow, reserved[1], K_RSV),
};

static uint32_t stores_before;

static int prep_grow(void *r)
{
	struct cbt_snap_grow *g = r;
	struct cbt_snap_info i;

	if (store_grow >= 0)
		close(store_grow);
	store_grow = new_store(1 << 20);
	memset(g, 0, sizeof(*g));
	g->id = live_id;
	g->store_fd = store_grow;
	stores_before = info_of(live_id, &i, NULL) ? 0 : i.stores;
	return 0;
}

static void after_grow(void *r, int ret)
{
	struct cbt_snap_grow *g = r;
	struct cbt_snap_info i;

	if (ret || g->id != live_id)
		return;
	if (info_of(live_id, &i, NULL) || i.stores != stores_before + 1)
		fail("%sgrown, but the set has %lld stores", "", i.stores);
}

static const struct field f_destroy[] = {
	F(cbt_snap_destroy, id, K_ID), F(cbt_snap_destroy, flags, K_RSV),
	F(cbt_snap_destroy, reserved[0], K_RSV), F(cbt_snap_destroy, reserved[1], K_RSV),
};

static uint32_t scratch_id;

static int prep_destroy(void *r)
{
	struct cbt_snap_destroy *d = r;

	if (create_set(dev_d, fresh_scratch(), &scratch_id))
		return -1;
	memset(d, 0, sizeof(*d));
	d->id = scratch_id;
	return 0;
}

static void after_destroy(void *r, int ret)
{
	struct cbt_snap_destroy *d = r;
	struct cbt_snap_info i;

	if (!ret && d->id == scratch_id && !info_of(scratch_id, &i, NULL) &&
	    !(i.state & CBT_SNAP_STATE_DESTROYED))
		fail("%sdestroyed, yet set %lld lives", "", scratch_id);
	if (ret && destroy_set(scratch_id))
		fail("%sthe refused destroy's set %lld cannot be destroyed", "", scratch_id);
}

static const struct field f_info[] = {
	F(cbt_snap_info, id, K_ID), F(cbt_snap_info, flags, K_RSV),
	F(cbt_snap_info, members, K_PTR), F(cbt_snap_info, capacity, K_NUM),
	F(cbt_snap_info, count, K_NUM), F(cbt_snap_info, state, K_NUM),
	F(cbt_snap_info, store_size, K_NUM), F(cbt_snap_info, hold_ns, K_NUM),
	F(cbt_snap_info, low_space, K_NUM), F(cbt_snap_info, reserved0, K_NUM),
	F(cbt_snap_info, reserved[0], K_RSV), F(cbt_snap_info, reserved[3], K_RSV),
};

static int prep_info(void *r)
{
	struct cbt_snap_info *i = r;

	memset(i, 0, sizeof(*i));
	i->id = live_id;
	i->members = (uintptr_t)buf;
	i->capacity = 4;
	return 0;
}

static void after_info(void *r, int ret)
{
	struct cbt_snap_info *i = r;
	struct cbt_snap_member *m = (struct cbt_snap_member *)buf;

	if (ret || i->id != live_id)
		return;
	if (i->count != 1 || i->store_used > i->store_size || i->stores < 1)
		fail("%sthe live set: %lld members, or more used than it has", "", i->count);
	if (i->members == (uintptr_t)buf && i->capacity >= 1 && !same_dev(m[0].dev, dev_c))
		fail("%smember 0 is not C%lld", "", 0);
}

static const struct field f_slist[] = {
	F(cbt_snap_list, ids, K_PTR), F(cbt_snap_list, capacity, K_NUM),
	F(cbt_snap_list, count, K_NUM), F(cbt_snap_list, reserved[0], K_RSV),
	F(cbt_snap_list, reserved[1], K_RSV),
};

static int prep_slist(void *r)
{
	struct cbt_snap_list *l = r;

	memset(l, 0, sizeof(*l));
	l->ids = (uintptr_t)buf;
	l->capacity = 8;
	return 0;
}

static void after_slist(void *r, int ret)
{
	struct cbt_snap_list *l = r;
	uint32_t *ids = (uint32_t *)buf, i, n, seen = 0;

	if (ret)
		return;
	if (l->count < 1)
		fail("%sno set listed, the live one is%lld", "", 0);
	if (l->ids != (uintptr_t)buf)
		return;
	n = l->count < l->capacity ? l->count : l->capacity;
	for (i = 0; i < n && i < 4 * page / 4; i++)
		seen += ids[i] == live_id;
	if (n >= l->count && seen != 1)
		fail("%sthe whole list holds the live set %lld times", "", seen);
}

static const struct field f_events[] = {
	F(cbt_snap_events, id, K_ID), F(cbt_snap_events, flags, K_RSV),
	F(cbt_snap_events, reserved[0], K_RSV), F(cbt_snap_events, reserved[1], K_RSV),
};

static int prep_events(void *r)
{
	struct cbt_snap_events *e = r;

	memset(e, 0, sizeof(*e));
	e->id = live_id;
	return 0;
}

static void after_events(void *r, int ret)
{
	struct cbt_snap_event ev;
	int fl;

	(void)r;
	if (ret < 0)
		return;
	fl = fcntl(ret, F_GETFD);
	if (fl < 0 || !(fl & FD_CLOEXEC))
		fail("%sthe events fd %lld is not close-on-exec", "", ret);
	fcntl(ret, F_SETFL, O_NONBLOCK);
	if (read(ret, &ev, sizeof(ev)) == (ssize_t)sizeof(ev) && ev.id != live_id)
		fail("%san event of set %lld", "", ev.id);
	close(ret);
}

/* ---- writers: REGISTER, LIST, RESULTS, SNAP_END */
static struct cbt_writer_component *wcomp;	/* REGISTER's component */

static const struct field f_wreg[] = {
	F(cbt_writer_register, name, K_NUM), F(cbt_writer_register, components, K_PTR),
	F(cbt_writer_register, count, K_NUM),
	FL(cbt_writer_register, types, (1u << (CBT_BACKUP_COPY + 1)) - 1),
	F(cbt_writer_register, flags, K_RSV), F(cbt_writer_register, id, K_RSV),
	F(cbt_writer_register, reserved[0], K_RSV), F(cbt_writer_register, reserved[1], K_RSV),
};

static int prep_wreg(void *r)
{
	struct cbt_writer_register *w = r;

	memset(wcomp, 0, sizeof(*wcomp));
	snprintf(wcomp->name, sizeof(wcomp->name), "data");
	wcomp->count = 1;
	wcomp->vols[0] = dev_c;
	memset(w, 0, sizeof(*w));
	snprintf(w->name, sizeof(w->name), "fuzz-writer");
	w->components = (uintptr_t)wcomp;
	w->count = 1;
	return 0;
}

static unsigned int count_writers(void)
{
	struct cbt_writer_list l;

	memset(&l, 0, sizeof(l));
	return xioctl(CBT_IOC_WRITER_LIST, &l) ? 9999 : l.count;
}

static void after_wreg(void *r, int ret)
{
	int fl;

	(void)r;
	if (ret < 0) {
		if (count_writers())
			fail("%sa refused registration left %lld writers", "", count_writers());
		return;
	}
	fl = fcntl(ret, F_GETFD);
	if (fl < 0 || !(fl & FD_CLOEXEC))
		fail("%sthe writer fd %lld is not close-on-exec", "", ret);
	if (count_writers() != 1)
		fail("%s%lld writers after one registration", "", count_writers());
	close(ret);
	if (count_writers())
		fail("%s%lld writers left after closing the fd", "", count_writers());
}

static const struct field f_wlist[] = {
	F(cbt_writer_list, writers, K_PTR), F(cbt_writer_list, capacity, K_NUM),
	F(cbt_writer_list, count, K_NUM),
	F(cbt_writer_list, reserved[0], K_RSV), F(cbt_writer_list, reserved[1], K_RSV),
};

static int prep_wlist(void *r)
{
	struct cbt_writer_list *l = r;

	memset(l, 0, sizeof(*l));
	l->writers = (uintptr_t)buf;
	l->capacity = 4 * page / sizeof(struct cbt_writer_info);
	return 0;
}

static void after_wlist(void *r, int ret)
{
	struct cbt_writer_list *l = r;

	if (!ret && l->count)
		fail("%s%lld writers listed, none registered", "", l->count);
}

static const struct field f_wres[] = {
	F(cbt_writer_results, id, K_ID), F(cbt_writer_results, capacity, K_NUM),
	F(cbt_writer_results, results, K_PTR), F(cbt_writer_results, count, K_NUM),
	F(cbt_writer_results, flags, K_RSV),
	F(cbt_writer_results, reserved[0], K_RSV), F(cbt_writer_results, reserved[1], K_RSV),
};

static int prep_wres(void *r)
{
	struct cbt_writer_results *q = r;

	memset(q, 0, sizeof(*q));
	memset(buf, 0, 4 * page);
	q->id = live_id;
	q->results = (uintptr_t)buf;
	q->capacity = 4 * page / sizeof(struct cbt_writer_result);
	return 0;
}

static void after_wres(void *r, int ret)
{
	struct cbt_writer_results *q = r;

	if (!ret && q->id == live_id && q->count)
		fail("%sthe live set had %lld writers, none registered", "", q->count);
}

static const struct field f_end[] = {
	F(cbt_snap_end, id, K_ID), FL(cbt_snap_end, flags, CBT_SNAP_END_SUCCESS),
	F(cbt_snap_end, backup_type, K_NUM), F(cbt_snap_end, reserved0, K_RSV),
	F(cbt_snap_end, reserved[0], K_RSV), F(cbt_snap_end, reserved[1], K_RSV),
};

static int prep_end(void *r)
{
	struct cbt_snap_end *e = r;

	if (create_set(dev_d, fresh_scratch(), &scratch_id))
		return -1;
	memset(e, 0, sizeof(*e));
	e->id = scratch_id;
	e->flags = CBT_SNAP_END_SUCCESS;
	return 0;
}

static void after_end(void *r, int ret)
{
	struct cbt_snap_end *e = r;

	if (!ret && e->id == scratch_id && xioctl(CBT_IOC_SNAP_END, e) != -EALREADY)
		fail("%sa second END of set %lld is not EALREADY", "", scratch_id);
	if (destroy_set(scratch_id))
		fail("%sthe ended set %lld cannot be destroyed", "", scratch_id);
}

#define OP(n, c, st, f, p, a) { n, c, sizeof(struct st), f, sizeof(f) / sizeof(f[0]), p, a }

static const struct op ops[] = {
	OP("version", CBT_IOC_VERSION, cbt_version, f_version, prep_version, after_version),
	OP("attach", CBT_IOC_ATTACH, cbt_attach, f_attach, prep_attach, after_attach),
	OP("detach", CBT_IOC_DETACH, cbt_detach, f_detach, prep_detach, after_detach),
	OP("status", CBT_IOC_STATUS, cbt_status, f_status, prep_status, after_status),
	OP("list", CBT_IOC_LIST, cbt_list, f_list, prep_list, after_list),
	OP("checkpoint", CBT_IOC_CHECKPOINT, cbt_checkpoint, f_checkpoint, prep_checkpoint, after_checkpoint),
	OP("changes", CBT_IOC_CHANGES, cbt_changes, f_changes, prep_changes, after_changes),
	OP("snap_create", CBT_IOC_SNAP_CREATE, cbt_snap_create, f_create, prep_create, after_create),
	OP("snap_grow", CBT_IOC_SNAP_GROW, cbt_snap_grow, f_grow, prep_grow, after_grow),
	OP("snap_destroy", CBT_IOC_SNAP_DESTROY, cbt_snap_destroy, f_destroy, prep_destroy, after_destroy),
	OP("snap_info", CBT_IOC_SNAP_INFO, cbt_snap_info, f_info, prep_info, after_info),
	OP("snap_list", CBT_IOC_SNAP_LIST, cbt_snap_list, f_slist, prep_slist, after_slist),
	OP("snap_events", CBT_IOC_SNAP_EVENTS, cbt_snap_events, f_events, prep_events, after_events),
	OP("snap_end", CBT_IOC_SNAP_END, cbt_snap_end, f_end, prep_end, after_end),
	OP("writer_register", CBT_IOC_WRITER_REGISTER, cbt_writer_register, f_wreg, prep_wreg, after_wreg),
	OP("writer_list", CBT_IOC_WRITER_LIST, cbt_writer_list, f_wlist, prep_wlist, after_wlist),
	OP("writer_results", CBT_IOC_WRITER_RESULTS, cbt_writer_results, f_wres, prep_wres, after_wres),
};
#define NOPS (sizeof(ops) / sizeof(ops[0]))

/* ---- values */
static const uint64_t num_vals[] = {
	0, 1, 2, 511, 512, 513, 4095, 4096, 4097, 65535, 65536, 65537,
	1u << 20, (1u << 20) + 1, 60000, 60001, 90, 91, 16, 17,
	0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0x100000000ull,
	0x10000001, 0x0aaaaaab,			/* * 24, * 48: past 2^32 */
	1ull << 40, 1ull << 59, 1ull << 62, 1ull << 63,
	INT64_MAX - 1, INT64_MAX, UINT64_MAX - 4095, UINT64_MAX - 1, UINT64_MAX,
};
#define NNUM (sizeof(num_vals) / sizeof(num_vals[0]))
/* Relative to the valid value: +-1, misaligned, doubled, the complement. */
#define NREL 6
#define NPTR 10
#define NFD 10

static uint64_t ptr_val(int i)
{
	switch (i) {
	case 0: return 0;
	case 1: return 16;
	case 2: return (uintptr_t)guard;			/* unmapped */
	case 3: return (uintptr_t)guard - 8;			/* runs into it */
	case 4: return (uintptr_t)ro_page;			/* read-only */
	case 5: return 0xffff888000000000ull;			/* the kernel's */
	case 6: return 0x00007ffffffff000ull;			/* top of user space */
	case 7: return UINT64_MAX;
	case 8: return (uintptr_t)buf + 1;			/* misaligned */
	default: return (uintptr_t)buf + 4 * page - 1;
	}
}

static int64_t fd_val(int i)
{
	switch (i) {
	case 0: return -1;
	case 1: return 0;
	case 2: return 9999;
	case 3: return INT32_MAX;
	case 4: return INT32_MIN;
	case 5: return pipe_w;
	case 6: return dir_fd;
	case 7: return store_ro;
	case 8: return fd_a;		/* a member */
	default: return fd;		/* the control device */
	}
}

static uint64_t get(const uint8_t *r, const struct field *f)
{
	uint64_t v = 0;

	memcpy(&v, r + f->off, f->size < 8 ? f->size : 8);
	return v;
}

static void put(uint8_t *r, const struct field *f, uint64_t v)
{
	memcpy(r + f->off, &v, f->size < 8 ? f->size : 8);
}

/* Values field @f takes in the sweep (count), and the @i-th of them. */
static unsigned int nvals(const struct field *f)
{
	switch (f->kind) {
	case K_PTR: return NNUM + NREL + NPTR;
	case K_FD: return NNUM + NFD;
	case K_UUID: return 4;
	default: return NNUM + NREL;
	}
}

/* Set field @f of @r to value @i; 0 if that value is not to be sent. */
static int mutate(uint8_t *r, const struct field *f, unsigned int i, char *desc, size_t dn)
{
	uint64_t base = get(r, f), v;
	unsigned int j;

	if (f->kind == K_UUID) {
		switch (i) {
		case 0: memset(r + f->off, 0, f->size); break;
		case 1: memset(r + f->off, 0xff, f->size); break;
		case 2: r[f->off] ^= 0x80; break;
		default:
			for (j = 0; j < f->size; j++)
				r[f->off + j] = (uint8_t)rnd();
		}
		snprintf(desc, dn, "%s uuid #%u", f->name, i);
		return 1;
	}
	if (i < NNUM) {
		v = num_vals[i];
	} else if (f->kind == K_FD) {
		v = (uint64_t)fd_val(i - NNUM);
	} else if (i < NNUM + NREL) {
		switch (i - NNUM) {
		case 0: v = base + 1; break;
		case 1: v = base - 1; break;
		case 2: v = base | 1; break;
		case 3: v = base * 2; break;
		case 4: v = ~base; break;
		default: v = rnd();
		}
	} else {
		v = ptr_val(i - NNUM - NREL);
	}
	if (f->size < 8 && i < NNUM && v != (uint32_t)v)
		return 0;	/* the same as a smaller value, truncated */
	if (f->size == 4)
		v = (uint32_t)v;
	put(r, f, v);
	snprintf(desc, dn, "%s = %#" PRIx64, f->name, v);
	return 1;
}

/* ---- the checks */
static int errno_ok(int e)
{
	switch (e) {
	case EINVAL: case EFAULT: case ENOENT: case ENXIO: case ENODEV:
	case EBUSY: case ENOSPC: case ESTALE: case ENOTTY: case EBADF:
	case EPERM: case EACCES: case ERANGE: case EOVERFLOW: case E2BIG:
	case EEXIST: case EXDEV: case ENOTBLK: case EISDIR: case ETIMEDOUT:
	case EOPNOTSUPP: case ESPIPE: case EROFS: case EFBIG: case ENOMEM:
	case EMFILE: case ELOOP: case EALREADY:
		return 1;
	}
	return 0;
}

static void teardown_world(void);

/* The tracker of A and the live set are as they were. @deep: and A still
 * tracks a write, and nothing leaked. */
static void health(int deep)
{
	struct cbt_status s;
	struct cbt_snap_info i;
	struct cbt_stamp st;
	struct cbt_changes c;
	struct cbt_extent *e = (struct cbt_extent *)buf;
	uint64_t blk, k;
	int found = 0;

	if (status_of(dev_a, &s) || memcmp(s.head.uuid, uuid_a, CBT_UUID_SIZE) ||
	    (s.state & CBT_STATE_LOST)) {
		fail("%sA's tracker is gone or changed%lld", "", 0);
		teardown_world();
		exit(1);
	}
	if (info_of(live_id, &i, NULL) ||
	    (i.state & (CBT_SNAP_STATE_INVALID | CBT_SNAP_STATE_DESTROYED))) {
		fail("%sthe live set is gone or invalid (state %lld)", "", i.state);
		teardown_world();
		exit(1);
	}
	if (!deep)
		return;
	detach(dev_b);
	if (count_sets() != 1)
		fail("%s%lld sets live, 1 is ours", "", count_sets());
	if (count_trackers() != 3)
		fail("%s%lld trackers, 3 are ours", "", count_trackers());
	if (checkpoint_a(&st)) {
		fail("%sno checkpoint of A%lld", "", 0);
		return;
	}
	cur_stamp = st;
	blk = rnd() % (dev_bytes / 4096);
	memset(buf, (int)blk, 4096);
	if (pwrite(fd_a, buf, 4096, (off_t)(blk * 4096)) != 4096) {
		perror("write to A");
		exit(2);
	}
	memset(&c, 0, sizeof(c));
	c.dev = dev_a;
	c.since = st;
	c.buf = (uintptr_t)buf;
	c.buf_size = 4 * page;
	if (xioctl(CBT_IOC_CHANGES, &c)) {
		fail("%sno changes of A%lld", "", 0);
		return;
	}
	for (k = 0; k < c.count; k++)
		found |= e[k].offset <= blk * 4096 && blk * 4096 < e[k].offset + e[k].length;
	if (!found)
		fail("%sA's write to block %lld is not reported", "", (long long)blk);
}

/* Issue @op with field @f (NULL: none) set to value @vi (or the
 * argument/command variant @vi when @f is NULL and @special). */
static void one(const struct op *op, const struct field *f, int member, unsigned int vi,
		int special)
{
	char desc[160], what[256];
	unsigned long cmd = op->cmd;
	void *arg = req;
	uint8_t *target = member ? (uint8_t *)create_m : req;
	int ret;

	if (op->prepare(req)) {
		snprintf(what, sizeof(what), "%s: setup", op->name);
		cur_what = what;
		fail("%sthe valid request could not be set up%lld", "", 0);
		return;
	}
	desc[0] = 0;
	if (f) {
		/* Never detach or destroy what the fuzzer stands on; attach
		 * to ours gives EBUSY, and nothing else to learn. Skipped:
		 * what prepare set up is undone. */
		if (!mutate(target, f, vi, desc, sizeof(desc)) ||
		    (op->cmd == CBT_IOC_DETACH && ours(((struct cbt_detach *)req)->dev)) ||
		    (op->cmd == CBT_IOC_SNAP_DESTROY &&
		     ((struct cbt_snap_destroy *)req)->id == live_id) ||
		    (op->cmd == CBT_IOC_ATTACH && ours(((struct cbt_attach *)req)->dev))) {
			op->after(req, -ECANCELED);
			return;
		}
	} else if (special) {
		switch (vi) {
		case 0: arg = NULL; snprintf(desc, sizeof(desc), "argument NULL"); break;
		case 1: arg = guard; snprintf(desc, sizeof(desc), "argument unmapped"); break;
		case 2:
			/* The request runs into the unmapped page. */
			arg = guard - op->size / 2;
			memcpy(arg, req, op->size / 2);
			snprintf(desc, sizeof(desc), "argument runs into an unmapped page");
			break;
		case 3:
			/* The valid request on a read-only page: fine for a
			 * command that only reads it, EFAULT for the others. */
			if (mprotect(ro_page, page, PROT_READ | PROT_WRITE))
				exit(2);
			memcpy(ro_page, req, op->size);
			if (mprotect(ro_page, page, PROT_READ))
				exit(2);
			arg = ro_page;
			snprintf(desc, sizeof(desc), "argument read-only");
			break;
		case 4: cmd = _IOC(_IOC_DIR(op->cmd), CBT_IOCTL_MAGIC, _IOC_NR(op->cmd), op->size - 8);
			snprintf(desc, sizeof(desc), "command size - 8"); break;
		case 5: cmd = _IOC(_IOC_DIR(op->cmd), CBT_IOCTL_MAGIC, _IOC_NR(op->cmd), op->size + 8);
			snprintf(desc, sizeof(desc), "command size + 8"); break;
		case 6: cmd = _IOC(_IOC_DIR(op->cmd) ^ _IOC_READ, CBT_IOCTL_MAGIC, _IOC_NR(op->cmd), op->size);
			snprintf(desc, sizeof(desc), "command direction"); break;
		default: cmd = _IOC(_IOC_DIR(op->cmd), CBT_IOCTL_MAGIC ^ 1, _IOC_NR(op->cmd), op->size);
			snprintf(desc, sizeof(desc), "command magic"); break;
		}
	} else {
		snprintf(desc, sizeof(desc), "valid request");
	}
	snprintf(what, sizeof(what), "%s: %s%s", op->name, member ? "member 0 " : "", desc);
	cur_what = what;
	iterations++;
	ret = ioctl(fd, cmd, arg);
	ret = ret < 0 ? -errno : ret;
	if (!f && !special && ret < 0) {
		fail("%sthe valid request is refused: %lld", "", -ret);
		base_rejected++;
		op->after(req, ret);
		return;
	}
	if (f && ((f->kind == K_RSV && get(target, f)) ||
		  (f->kind == K_FLAGS && (get(target, f) & ~f->known))) && ret != -EINVAL)
		fail("%sa reserved field or unknown flag is not refused with EINVAL: %lld",
		     "", ret < 0 ? -ret : 0);
	if (ret < 0) {
		refusals++;
		if (!errno_ok(-ret))
			fail("%sunexpected error %lld", "", -ret);
	} else {
		successes++;
		if (cmd != op->cmd || (arg != req && !(arg == ro_page &&
						       _IOC_DIR(cmd) == _IOC_WRITE)))
			fail("%sa bad argument or command succeeded (%lld)", "", ret);
	}
	op->after(req, ret);
	if (getenv("FUZZ_VERBOSE"))
		printf("     %-60s %s\n", what, ret < 0 ? strerror(-ret) : "ok");
	health(0);
}

static void setup_world(char **paths)
{
	struct stat st;
	struct cbt_status s;
	char path[300];
	int i;

	for (i = 0; i < 4; i++) {
		struct cbt_dev d = devof(paths[i]);

		if (i == 0) dev_a = d;
		if (i == 1) dev_b = d;
		if (i == 2) dev_c = d;
		if (i == 3) dev_d = d;
	}
	fd_a = open(paths[0], O_RDWR | O_DIRECT);
	if (fd_a < 0 || fstat(fd_a, &st)) {
		perror(paths[0]);
		exit(2);
	}
	dev_bytes = (uint64_t)lseek(fd_a, 0, SEEK_END);
	if (attach(dev_a) || attach(dev_c) || attach(dev_d)) {
		fprintf(stderr, "cannot attach A, C and D (are they tracked already?)\n");
		exit(2);
	}
	if (status_of(dev_a, &s)) {
		perror("status");
		exit(2);
	}
	memcpy(uuid_a, s.head.uuid, CBT_UUID_SIZE);
	if (checkpoint_a(&cur_stamp)) {
		perror("checkpoint");
		exit(2);
	}
	store_live = new_store(32 << 20);
	store_scratch = -1;
	store_grow = -1;
	snprintf(path, sizeof(path), "%s/fuzz-ro.XXXXXX", store_dir);
	i = mkstemp(path);
	if (i < 0 || ftruncate(i, 1 << 20)) {
		perror(path);
		exit(2);
	}
	store_ro = open(path, O_RDONLY);
	close(i);
	dir_fd = open(store_dir, O_RDONLY | O_DIRECTORY);
	{
		int p[2];

		if (pipe(p)) {
			perror("pipe");
			exit(2);
		}
		pipe_w = p[1];
	}
	if (create_set(dev_c, store_live, &live_id)) {
		fprintf(stderr, "cannot create the live set on C\n");
		exit(2);
	}
}

static void teardown_world(void)
{
	uint32_t ids[64];
	struct cbt_snap_list l;
	unsigned int i;

	memset(&l, 0, sizeof(l));
	l.ids = (uintptr_t)ids;
	l.capacity = 64;
	/* Our sets: the live one and any left on D. */
	destroy_set(live_id);
	if (!xioctl(CBT_IOC_SNAP_LIST, &l))
		for (i = 0; i < l.count && i < 64; i++) {
			struct cbt_snap_member m;
			struct cbt_snap_info in;

			if (!info_of(ids[i], &in, &m) && same_dev(m.dev, dev_d)) {
				printf("FAIL a set on D was left behind (id %u)\n", ids[i]);
				failures++;
				destroy_set(ids[i]);
			}
		}
	detach(dev_b);
	detach(dev_a);
	detach(dev_c);
	detach(dev_d);
}

int main(int argc, char **argv)
{
	unsigned long seed = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
	unsigned int seconds = 60, i, k, v;
	struct timespec t0, t;
	int opt;

	while ((opt = getopt(argc, argv, "s:t:")) != -1) {
		if (opt == 's')
			seed = strtoul(optarg, NULL, 0);
		else if (opt == 't')
			seconds = (unsigned int)strtoul(optarg, NULL, 0);
		else
			goto usage;
	}
	if (argc - optind != 5) {
usage:
		fprintf(stderr, "usage: ioctl-fuzz [-s SEED] [-t SECONDS] A B C D STORE_DIR\n");
		return 2;
	}
	printf("ioctl-fuzz: seed %lu (repeat with -s %lu), %u s\n", seed, seed, seconds);
	fflush(stdout);
	rng = seed * 2 + 1;
	snprintf(store_dir, sizeof(store_dir), "%s", argv[optind + 4]);
	page = sysconf(_SC_PAGESIZE);
	fd = open("/dev/" CBT_CTL_NAME, O_RDWR);
	if (fd < 0) {
		perror("/dev/" CBT_CTL_NAME);
		return 2;
	}
	/* buf: 4 pages; then ro_page; the request's page; member 0 of a
	 * create request at the start of the next, which ends at guard. */
	buf = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return 2;
	ro_page = buf + 4 * page;
	req = buf + 5 * page;
	guard = buf + 7 * page;
	create_m = (struct cbt_snap_member *)(buf + 6 * page);
	wcomp = (struct cbt_writer_component *)(buf + 6 * page + 1024);
	if (mprotect(guard, page, PROT_NONE) || mprotect(ro_page, page, PROT_READ))
		return 2;
	setup_world(argv + optind);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	/* Each valid request first: it must succeed. */
	for (i = 0; i < NOPS; i++)
		one(&ops[i], NULL, 0, 0, 0);
	if (base_rejected) {
		printf("the valid requests must succeed first\n");
		teardown_world();
		return 1;
	}
	/* The sweep: every field, every value; argument and command variants. */
	for (i = 0; i < NOPS; i++) {
		for (k = 0; k < ops[i].nfields; k++)
			for (v = 0; v < nvals(&ops[i].fields[k]); v++)
				one(&ops[i], &ops[i].fields[k], 0, v, 0);
		if (ops[i].cmd == CBT_IOC_SNAP_CREATE)
			for (k = 0; k < sizeof(f_member) / sizeof(f_member[0]); k++)
				for (v = 0; v < nvals(&f_member[k]); v++)
					one(&ops[i], &f_member[k], 1, v, 0);
		for (v = 0; v < 8; v++)
			one(&ops[i], NULL, 0, v, 1);
		health(1);
		printf("sweep %-14s %lu requests so far, %lu refused, %lu succeeded, %d failures\n",
		       ops[i].name, iterations, refusals, successes, failures);
		fflush(stdout);
	}
	/* Then random: a random command, field and value, until the time is up. */
	for (;;) {
		const struct op *op = &ops[rnd() % NOPS];
		int member = op->cmd == CBT_IOC_SNAP_CREATE && (rnd() & 1);
		const struct field *fs = member ? f_member : op->fields;
		unsigned int nf = member ? sizeof(f_member) / sizeof(f_member[0]) : op->nfields;
		const struct field *f = &fs[rnd() % nf];

		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec >= (time_t)seconds)
			break;
		one(op, f, member, (unsigned int)(rnd() % nvals(f)), 0);
		if (iterations % 200 == 0)
			health(1);
	}
	health(1);
	teardown_world();
	printf("ioctl-fuzz: seed %lu, %lu requests, %lu refused, %lu succeeded, %d failures\n",
	       seed, iterations, refusals, successes, failures);
	return failures ? 1 : 0;
}
