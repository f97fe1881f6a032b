// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_cow.c - copy-on-write: where a write to a snapshotted volume waits
 * for the old data of its chunks to be preserved.
 *
 * The write hook calls cbt_cow_hold() for every write to a member. When all
 * the write's chunks are already copied (the steady state) that is a few
 * bit tests and the write goes on. Otherwise, when the submitter may sleep
 * (process context, no current->bio_list, not REQ_NOWAIT) it copies the
 * chunks itself before the write goes on: no hand-off, no context switch.
 * In every other case, and while the set is still being taken, the bio is
 * handed to the set's workqueue, one work item per bio, and the hook
 * returns at once: nothing sleeps where it must not, which matters for bios
 * resubmitted by stacked drivers with current->bio_list set. The worker
 * waits for the snapshot instant to be past (a write that arrives while a
 * set is being created is held there), copies each chunk not yet copied
 * under that chunk's lock, and submits the bio again through the write
 * path, which then marks it in the map with the generation after the
 * snapshot's stamp. A write therefore waits only for its own chunks.
 *
 * Whatever goes wrong in a copy (no store space, no memory, a failed read
 * or store write) fails the snapshot, never the write: the set is marked,
 * an event is raised, and writes pass untouched from then on.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/hash.h>
#include <linux/highmem.h>
#include <linux/mempool.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include "cbt_intercept.h"
#include "cbt_snapshot.h"

#define CBT_COW_RESERVE		256

/* A write waiting for its chunks to be copied. */
struct cbt_cow_work {
	struct work_struct work;
	struct cbt_cow *cow;
	struct bio *bio;
	u64 first, last;	/* chunks the write touches */
};

static void cow_work_fn(struct work_struct *work);
static struct kmem_cache *cow_work_cache;
static mempool_t *cow_work_pool;

struct rw_semaphore *cbt_cow_lock(struct cbt_cow *cow, u64 chunk)
{
	return &cow->locks[hash_64(chunk, ilog2(CBT_COW_LOCKS))];
}

static bool chunks_copied(struct cbt_cow *cow, u64 first, u64 last)
{
	u64 c;

	for (c = first; c <= last; c++)
		if (!test_bit(c, cow->copied))
			return false;
	return true;
}

enum cbt_cow_verdict cbt_cow_hold(struct cbt_cow *cow, struct bio *bio,
				  sector_t sector, sector_t end, bool may_sleep,
				  u64 *firstp, u64 *lastp)
{
	struct cbt_snapset *set = cow->set;
	unsigned int shift = cow->chunk_shift - SECTOR_SHIFT;
	sector_t limit = cow->start + cow->nr_sects;
	bool ready = test_bit(CBT_SET_READY, &set->flags);
	struct cbt_cow_work *w;
	u64 first, last;

	if (end <= cow->start || sector >= limit || !cbt_snapset_usable(set))
		return CBT_COW_PASS;
	sector = max(sector, cow->start);
	end = min(end, limit);
	first = (sector - cow->start) >> shift;
	last = (end - 1 - cow->start) >> shift;
	if (ready && chunks_copied(cow, first, last))
		return CBT_COW_PASS;

	/* The set outlives the hook's RCU section while it is published. */
	cbt_snapset_get(set);
	if (ready && may_sleep) {
		*firstp = first;
		*lastp = last;
		return CBT_COW_COPY;
	}
	w = mempool_alloc(cow_work_pool, GFP_NOWAIT | __GFP_NOWARN);
	if (!w) {
		cbt_snapset_put(set);
		cbt_snapset_fail(set, CBT_SET_INVALID, -ENOMEM);
		return CBT_COW_PASS;
	}
	w->cow = cow;
	w->bio = bio;
	w->first = first;
	w->last = last;
	INIT_WORK(&w->work, cow_work_fn);
	queue_work(set->wq, &w->work);
	return CBT_COW_QUEUED;
}

void cbt_cow_copy_range(struct cbt_cow *cow, u64 first, u64 last)
{
	struct cbt_snapset *set = cow->set;
	struct rw_semaphore *lock;
	u64 c;

	for (c = first; c <= last && cbt_snapset_usable(set); c++) {
		if (test_bit(c, cow->copied))
			continue;
		lock = cbt_cow_lock(cow, c);
		down_write(lock);
		cbt_cow_copy_locked(cow, c);
		up_write(lock);
	}
}

/* ---- copies ---------------------------------------------------------------
 *
 * A copy reads the chunk from the origin into a buffer and publishes the
 * buffer as the chunk's content (a struct cbt_pending in the slots xarray)
 * before the copied bit is set: from then on the write may go on. The
 * buffer reaches its store slot from the set's workqueue, and the entry
 * becomes the slot number; so a first write waits for a read, not for the
 * store. At most set->pending_max buffers wait for the store; beyond that
 * a copy writes its store slot itself (backpressure). Buffers are reused
 * from a small per-set pool.
 */
struct cbt_pending {
	struct llist_node store_node;	/* on set->to_store while waiting */
	struct list_head pool_node;	/* on set->pool while free */
	struct cbt_cow *cow;
	u64 chunk, slot;
	unsigned int len;
	bool stored;			/* under the chunk lock */
	void *buf;
};

static struct cbt_pending *pending_get(struct cbt_snapset *set)
{
	struct cbt_pending *p = NULL;
	unsigned int noio;

	spin_lock(&set->pool_lock);
	if (!list_empty(&set->pool)) {
		p = list_first_entry(&set->pool, struct cbt_pending, pool_node);
		list_del(&p->pool_node);
		set->pooled--;
	}
	spin_unlock(&set->pool_lock);
	if (p)
		return p;

	noio = memalloc_noio_save();
	p = kmalloc(sizeof(*p), GFP_KERNEL);
	if (p) {
		p->buf = kvmalloc(1u << set->store.slot_shift, GFP_KERNEL);
		if (!p->buf) {
			kfree(p);
			p = NULL;
		}
	}
	memalloc_noio_restore(noio);
	return p;
}

static void pending_free(struct cbt_pending *p)
{
	kvfree(p->buf);
	kfree(p);
}

static void pending_put(struct cbt_snapset *set, struct cbt_pending *p)
{
	spin_lock(&set->pool_lock);
	if (set->pooled < set->pending_max) {
		list_add(&p->pool_node, &set->pool);
		set->pooled++;
		p = NULL;
	}
	spin_unlock(&set->pool_lock);
	if (p)
		pending_free(p);
}

void *cbt_cow_pending_data(void *entry)
{
	return ((struct cbt_pending *)entry)->buf;
}

void cbt_cow_set_release(struct cbt_snapset *set)
{
	struct cbt_pending *p, *tmp;

	list_for_each_entry_safe(p, tmp, &set->pool, pool_node)
		pending_free(p);
	INIT_LIST_HEAD(&set->pool);
}

/* Write a pending chunk to its slot. Under the chunk's lock for writing. */
int cbt_cow_store_locked(struct cbt_cow *cow, void *entry)
{
	struct cbt_pending *p = entry;
	struct cbt_snapset *set = cow->set;
	int ret;

	if (xa_is_value(entry) || p->stored)
		return 0;
	p->stored = true;
	ret = cbt_store_write(&set->store, p->slot, 0, p->buf, p->len);
	if (ret) {
		xa_erase(&cow->slots, p->chunk);
		cbt_snapset_fail(set, ret == -ENOSPC ? CBT_SET_OVERFLOW :
				 CBT_SET_INVALID, ret);
		return ret;
	}
	/* Replacing an existing entry needs no memory. */
	xa_store(&cow->slots, p->chunk, xa_mk_value(p->slot), GFP_NOIO);
	return 0;
}

static void store_one(struct cbt_pending *p)
{
	struct cbt_cow *cow = p->cow;
	struct cbt_snapset *set = cow->set;
	struct rw_semaphore *lock = cbt_cow_lock(cow, p->chunk);

	down_write(lock);
	if (!test_bit(CBT_SET_DEAD, &set->flags))
		cbt_cow_store_locked(cow, p);
	else if (!p->stored)
		xa_erase(&cow->slots, p->chunk);
	up_write(lock);
	atomic_dec(&set->pending);
	pending_put(set, p);
}

/*
 * Copies reach the store in batches: the first copy after the list empties
 * arms the work a tick ahead, so a burst of first writes costs one wakeup.
 */
void cbt_cow_store_work(struct work_struct *work)
{
	struct cbt_snapset *set = container_of(to_delayed_work(work),
					       struct cbt_snapset, store_work);
	struct llist_node *list = llist_del_all(&set->to_store);
	struct cbt_pending *p, *tmp;

	llist_for_each_entry_safe(p, tmp, list, store_node)
		store_one(p);
}

int cbt_cow_copy_locked(struct cbt_cow *cow, u64 chunk)
{
	struct cbt_snapset *set = cow->set;
	unsigned int shift = cow->chunk_shift - SECTOR_SHIFT;
	sector_t sector = chunk << shift;
	struct cbt_pending *p;
	bool later;
	s64 slot;
	int ret;

	if (test_bit(chunk, cow->copied))
		return 0;
	if (!cbt_snapset_usable(set))
		return -EIO;
	slot = cbt_store_alloc(&set->store);
	if (slot < 0) {
		cbt_snapset_fail(set, CBT_SET_OVERFLOW, -ENOSPC);
		return slot;
	}
	cbt_snapset_check_space(set);

	p = pending_get(set);
	if (!p) {
		ret = -ENOMEM;
		goto fail;
	}
	p->cow = cow;
	p->chunk = chunk;
	p->slot = slot;
	p->stored = false;
	p->len = min_t(sector_t, 1u << shift, cow->nr_sects - sector) << SECTOR_SHIFT;
	ret = cbt_bio_rw(cow->origin, sector, p->buf, p->len, false);
	if (!ret)
		ret = xa_err(xa_store(&cow->slots, chunk, p, GFP_NOIO));
	if (ret) {
		pending_put(set, p);
		goto fail;
	}
	later = atomic_inc_return(&set->pending) <= set->pending_max;
	if (!later) {
		ret = cbt_cow_store_locked(cow, p);
		atomic_dec(&set->pending);
		pending_put(set, p);
		if (ret)
			return ret;
	}
	smp_wmb();	/* the entry before the bit: image reads test the bit */
	set_bit(chunk, cow->copied);
	atomic64_inc(&set->chunks_copied);
	if (later && llist_add(&p->store_node, &set->to_store))
		queue_delayed_work(set->wq, &set->store_work, 1);
	return 0;
fail:
	cbt_snapset_fail(set, ret == -ENOSPC ? CBT_SET_OVERFLOW :
			 CBT_SET_INVALID, ret);
	return ret;
}

static void cow_work_fn(struct work_struct *work)
{
	struct cbt_cow_work *w = container_of(work, struct cbt_cow_work, work);
	struct cbt_cow *cow = w->cow;
	struct cbt_snapset *set = cow->set;

	/* A write that came while the set was being taken waits for the instant. */
	wait_event(set->ready_wq, test_bit(CBT_SET_READY, &set->flags) ||
				  test_bit(CBT_SET_DEAD, &set->flags));
	cbt_cow_copy_range(cow, w->first, w->last);
	cbt_resubmit_bio(w->bio);
	mempool_free(w, cow_work_pool);
	cbt_snapset_put(set);
}

int cbt_cow_init(void)
{
	cow_work_cache = KMEM_CACHE(cbt_cow_work, 0);
	if (!cow_work_cache)
		return -ENOMEM;
	cow_work_pool = mempool_create_slab_pool(CBT_COW_RESERVE, cow_work_cache);
	if (!cow_work_pool) {
		kmem_cache_destroy(cow_work_cache);
		return -ENOMEM;
	}
	return 0;
}

void cbt_cow_exit(void)
{
	mempool_destroy(cow_work_pool);
	kmem_cache_destroy(cow_work_cache);
}
