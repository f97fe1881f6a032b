// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_tracker.c - tracked volumes: attach and detach, checkpoints, queries,
 * status and lifetime. What a write does to a tracker is in cbt_tracker.h
 * (cbt_tracker_mark()); why a stamp can be trusted, in cbt_generation.c.
 *
 * Continuity. When a write cannot be recorded (no memory for a map page or
 * a completion record, a write past the end of a grown device, a
 * passthrough write) the tracker is flagged LOST; the next checkpoint,
 * query or status resets it with a new UUID and an empty map, so old
 * stamps get ESTALE instead of a wrong answer.
 *
 * Attach. Once the tracker is published, the hooks record every write to
 * the volume; what is left are writes already past the hooks: they are
 * settled before attach returns (tracker_settle()).
 *
 * Locks, outermost first (docs/design.md has the whole module's order):
 * cbt_snapsets_mutex (cbt_snapshot.c), cbt_trackers_mutex, a tracker's
 * @lock (several only in a set's member order, by the snapshot code).
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/blk-mq.h>
#include <linux/delay.h>
#include <linux/device-mapper.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/sched/signal.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include "cbt_fault.h"
#include "cbt_intercept.h"
#include "cbt_store.h"
#include "cbt_tracker.h"
#include "cbt_compat.h"
#include "cbt_ioctl.h"

#define CBT_DRAIN_DEFAULT_MS	30000

/*
 * cbt_trackers_mutex protects the tracker list, the hash table's
 * membership and every tracker's @claim (writers walk the hash under RCU,
 * never take this mutex).
 */
static DEFINE_MUTEX(cbt_trackers_mutex);
static LIST_HEAD(cbt_trackers);
DEFINE_HASHTABLE(cbt_tracker_hash, CBT_HASH_BITS);

static struct workqueue_struct *cbt_wq;

static inline struct cbt_map *tracker_map(struct cbt_tracker *t)
{
	return rcu_dereference_protected(t->map, lockdep_is_held(&t->lock));
}

bool cbt_tracker_alive(struct cbt_tracker *t)
{
	return device_is_registered(&t->bdev->bd_device);
}

void cbt_tracker_lose(struct cbt_tracker *t, const char *why)
{
	if (!test_and_set_bit(CBT_TRACKER_LOST, &t->flags))
		pr_warn_ratelimited("cbt: %pg: %s; tracking restarts at its next use\n",
				    t->bdev, why);
}

void cbt_tracker_mark_range(struct cbt_tracker *t, sector_t sector,
			    sector_t end)
{
	unsigned int shift = t->block_shift - SECTOR_SHIFT;
	struct cbt_map *map;

	rcu_read_lock_sched();
	map = cbt_writer_deref(t->map);
	end = min(end, map->nr_sects);
	if (sector < end &&
	    cbt_gens_mark(map, sector >> shift, (end - 1) >> shift,
			  cbt_tracker_gen(t)))
		set_bit(CBT_TRACKER_LOST, &t->flags);
	rcu_read_unlock_sched();
}

/* ---- generations ------------------------------------------------------- */

static void tracker_settle(struct cbt_tracker *t);

/*
 * A new identity and an empty map for the device's current size. Writes
 * that went unrecorded may still be in flight (no completion record, past
 * the end, a passthrough command): like attach, the reset settles, so no
 * stamp of the new identity can come before they complete.
 */
static int tracker_reset(struct cbt_tracker *t)
{
	struct cbt_map *old = tracker_map(t), *map;

	map = cbt_map_alloc(bdev_nr_sectors(t->bdev), t->block_shift);
	if (!map)
		return -ENOMEM;
	clear_bit(CBT_TRACKER_LOST, &t->flags);
	uuid_gen(&t->uuid);
	cbt_gens_restart(&t->gens);
	rcu_assign_pointer(t->map, map);
	tracker_settle(t);	/* a grace period first: @old is unseen */
	cbt_map_free(old);
	pr_info("cbt: %pg: continuity lost, tracking restarted as %pUb\n",
		t->bdev, &t->uuid);
	return 0;
}

/* Before use: the device must exist, and a lost or resized map is reset. */
static int tracker_refresh(struct cbt_tracker *t)
{
	if (test_bit(CBT_TRACKER_DETACHED, &t->flags) || !cbt_tracker_alive(t))
		return -ENODEV;
	if (test_bit(CBT_TRACKER_LOST, &t->flags) ||
	    bdev_nr_sectors(t->bdev) != tracker_map(t)->nr_sects)
		return tracker_reset(t);
	return 0;
}

int cbt_tracker_lock(struct cbt_tracker *t, unsigned long deadline)
{
	while (!mutex_trylock(&t->lock)) {
		if (fatal_signal_pending(current))
			return -EINTR;
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
		usleep_range(100, 200);
	}
	return 0;
}

void cbt_tracker_unlock(struct cbt_tracker *t)
{
	mutex_unlock(&t->lock);
}

int cbt_tracker_prepare(struct cbt_tracker *t, unsigned long deadline)
{
	int ret = tracker_refresh(t);

	return ret ? ret : cbt_gens_prepare(&t->gens, tracker_map(t), deadline);
}

u64 cbt_tracker_first_gen(struct cbt_tracker *t)
{
	lockdep_assert_held(&t->lock);
	return t->gens.open + 1;
}

void cbt_tracker_set_cow(struct cbt_tracker *t, struct cbt_cow *cow)
{
	rcu_assign_pointer(t->cow, cow);
}

void cbt_tracker_close(struct cbt_tracker *t)
{
	lockdep_assert_held(&t->lock);
	cbt_gens_publish(&t->gens);
}

int cbt_tracker_drain(struct cbt_tracker *t, unsigned long deadline)
{
	int ret = cbt_gens_drain(&t->gens, deadline);

	/* A write of the closed generation went unrecorded: no stamp. */
	if (!ret && test_bit(CBT_TRACKER_LOST, &t->flags))
		ret = -EAGAIN;
	return ret;
}

void cbt_tracker_stamp(struct cbt_tracker *t, uuid_t *uuid, u64 *gen)
{
	lockdep_assert_held(&t->lock);
	uuid_copy(uuid, &t->uuid);
	*gen = t->gens.open - 1;
}

/*
 * A write of the generation being closed that went unrecorded makes the
 * tracker restart (a new identity) and close once more; a second loss in a
 * row is -EAGAIN.
 */
int cbt_tracker_checkpoint(struct cbt_tracker *t, unsigned int timeout_ms,
			   uuid_t *uuid, u64 *gen)
{
	unsigned long deadline = jiffies +
		msecs_to_jiffies(timeout_ms ? timeout_ms : CBT_DRAIN_DEFAULT_MS);
	int ret, tries;

	if (mutex_lock_killable(&t->lock))
		return -EINTR;
	for (tries = 0; tries < 2; tries++) {
		ret = cbt_tracker_prepare(t, deadline);
		if (ret)
			break;
		cbt_fault_instant_wait();
		cbt_tracker_close(t);
		synchronize_rcu_expedited();	/* nobody marks the closed one */
		ret = cbt_tracker_drain(t, deadline);
		if (ret != -EAGAIN)
			break;
	}
	if (!ret)
		cbt_tracker_stamp(t, uuid, gen);
	mutex_unlock(&t->lock);
	return ret;
}

s64 cbt_tracker_changes(struct cbt_tracker *t, const uuid_t *uuid, u64 since,
			u64 first, u64 last, cbt_map_emit_fn emit, void *ctx)
{
	bool wanted[256];
	s64 ret;

	if (mutex_lock_killable(&t->lock))
		return -EINTR;
	ret = tracker_refresh(t);
	if (ret)
		goto out;
	if (!uuid_equal(uuid, &t->uuid)) {
		ret = -ESTALE;
		goto out;
	}
	ret = cbt_gens_since(&t->gens, since, wanted);
	if (!ret)
		ret = cbt_map_scan(tracker_map(t), first, last, wanted, emit, ctx);
out:
	mutex_unlock(&t->lock);
	return ret;
}

int cbt_tracker_status(struct cbt_tracker *t, struct cbt_tracker_status *st)
{
	struct cbt_map *map;

	if (mutex_lock_killable(&t->lock))
		return -EINTR;
	map = tracker_map(t);
	uuid_copy(&st->uuid, &t->uuid);
	st->gen = t->gens.open;
	st->oldest = t->gens.oldest;
	st->device_bytes = map->nr_sects << SECTOR_SHIFT;
	st->blocks = map->nr_blocks;
	st->blocks_written = cbt_map_count_written(map);
	st->map_bytes = cbt_map_bytes(map);
	st->block_size = 1u << t->block_shift;
	st->lost = test_bit(CBT_TRACKER_LOST, &t->flags) ||
		   bdev_nr_sectors(t->bdev) != map->nr_sects;
	mutex_unlock(&t->lock);
	return 0;
}

int cbt_tracker_geometry(struct cbt_tracker *t, unsigned long deadline,
			 u64 *bytes, u32 *block_size)
{
	int ret;

	if (deadline)
		ret = cbt_tracker_lock(t, deadline);
	else
		ret = mutex_lock_killable(&t->lock) ? -EINTR : 0;
	if (ret)
		return ret;
	ret = tracker_refresh(t);
	if (!ret) {
		*bytes = tracker_map(t)->nr_sects << SECTOR_SHIFT;
		*block_size = 1u << t->block_shift;
	}
	mutex_unlock(&t->lock);
	return ret;
}

u64 cbt_tracker_size(struct cbt_tracker *t)
{
	return tracker_map(t)->nr_sects;
}

/* ---- lifetime ---------------------------------------------------------- */

static void tracker_free(struct work_struct *work)
{
	struct cbt_tracker *t = container_of(work, struct cbt_tracker, free_work);

	synchronize_rcu();	/* no writer can find @t any more */
	cbt_gens_destroy(&t->gens);	/* nor is any write of its in flight */
	cbt_map_free(rcu_dereference_protected(t->map, true));
	put_device(&t->bdev->bd_device);
	cbt_fault_tracker_freed(t);
	kfree(t);
	cbt_intercept_put();	/* the hooks go with the last tracker */
}

static void tracker_release(struct kref *ref)
{
	struct cbt_tracker *t = container_of(ref, struct cbt_tracker, ref);

	queue_work(cbt_wq, &t->free_work);
}

void cbt_tracker_put(struct cbt_tracker *t)
{
	kref_put(&t->ref, tracker_release);
}

/* Take @t out of the tables. Under cbt_trackers_mutex. */
static void tracker_unpublish(struct cbt_tracker *t)
{
	lockdep_assert_held(&cbt_trackers_mutex);
	set_bit(CBT_TRACKER_DETACHED, &t->flags);
	hash_del_rcu(&t->hash_node);
	list_del(&t->list_node);
	cbt_tracker_put(t);
}

static struct cbt_tracker *tracker_alloc(struct block_device *bdev,
					 unsigned int block_shift)
{
	struct cbt_tracker *t = kzalloc(sizeof(*t), GFP_KERNEL);
	struct cbt_map *map;

	if (!t)
		return NULL;
	map = cbt_map_alloc(bdev_nr_sectors(bdev), block_shift);
	if (!map || cbt_gens_init(&t->gens)) {
		cbt_map_free(map);
		kfree(t);
		return NULL;
	}
	RCU_INIT_POINTER(t->map, map);
	kref_init(&t->ref);
	mutex_init(&t->lock);
	INIT_WORK(&t->free_work, tracker_free);
	t->disk = bdev->bd_disk;
	t->bdev = bdev;
	t->devt = bdev->bd_dev;
	t->start = bdev_is_partition(bdev) ? bdev->bd_start_sect : 0;
	t->block_shift = block_shift;
	uuid_gen(&t->uuid);
	return t;
}

/* Drop trackers whose device is gone. Under cbt_trackers_mutex. */
static void reap_locked(void)
{
	struct cbt_tracker *t, *tmp;

	list_for_each_entry_safe(t, tmp, &cbt_trackers, list_node) {
		if (cbt_tracker_alive(t))
			continue;
		pr_info("cbt: %u:%u went away, tracking dropped\n",
			MAJOR(t->devt), MINOR(t->devt));
		tracker_unpublish(t);
	}
}

void cbt_tracker_reap(void)
{
	mutex_lock(&cbt_trackers_mutex);
	reap_locked();
	mutex_unlock(&cbt_trackers_mutex);
}

/*
 * A dm volume holds writes inside (a clone on the device below, a target's
 * queue) after the hooks have let them pass. dm exports to its targets a
 * way to wait for all of them; it is used by name, so that cbt does not
 * depend on dm being loaded (a dm volume implies it is).
 */
void dm_internal_suspend_fast(struct mapped_device *md);
void dm_internal_resume_fast(struct mapped_device *md);

static void settle_dm(struct gendisk *disk)
{
	typeof(&dm_get_md) get_md = symbol_get(dm_get_md);
	typeof(&dm_put) put_md = symbol_get(dm_put);
	typeof(&dm_internal_suspend_fast) suspend = symbol_get(dm_internal_suspend_fast);
	typeof(&dm_internal_resume_fast) resume = symbol_get(dm_internal_resume_fast);
	struct mapped_device *md;

	if (get_md && put_md && suspend && resume) {
		md = get_md(disk_devt(disk));
		if (md) {
			suspend(md);	/* waits for every bio in dm */
			resume(md);
			put_md(md);
		}
	}
	if (resume)
		symbol_put(dm_internal_resume_fast);
	if (suspend)
		symbol_put(dm_internal_suspend_fast);
	if (put_md)
		symbol_put(dm_put);
	if (get_md)
		symbol_put(dm_get_md);
}

/*
 * The tracker (or its new map) is published. Writes that passed the hook
 * before it could see the tracker were not recorded; the first stamp may
 * be handed out only once every one of them has completed. The follow
 * epoch moves on, so a write followed before (for another tracker of the
 * disk, or this one's old map) is not taken as followed when it comes
 * back to the hook. After a grace period every write reaching the hook
 * (cbt_intercept.c) is recorded, one that blk-throttle held too, when it
 * leaves the throttle, and a split remainder. What is left is
 * past the hook: requests, and bio-based submissions in progress, which a
 * queue freeze waits for, and bios a dm volume holds, which its internal
 * suspend waits for. Not covered (docs/design.md): a bio past the hook
 * whose submitter sleeps before it reaches the queue (on a stacked
 * driver's bio_list), and bios held inside other bio-based drivers (md,
 * NVMe multipath).
 */
static void tracker_settle(struct cbt_tracker *t)
{
	struct request_queue *q = t->disk->queue;

	cbt_follow_epoch_advance();
	synchronize_rcu();
	settle_dm(t->disk);
	blk_mq_freeze_queue(q);
	blk_mq_unfreeze_queue(q);
}

int cbt_tracker_attach(dev_t devt, unsigned int block_size,
		       struct cbt_tracker **out)
{
	struct cbt_bdev_open o;
	struct cbt_tracker *t;
	int ret;

	if (!block_size)
		block_size = CBT_BLOCK_SIZE_DEFAULT;
	if (!is_power_of_2(block_size) || block_size < CBT_BLOCK_SIZE_MIN ||
	    block_size > CBT_BLOCK_SIZE_MAX)
		return -EINVAL;
	/* In place before the tracker is published: see tracker_settle(). */
	ret = cbt_intercept_get();
	if (ret)
		return ret;
	ret = cbt_bdev_open(devt, CBT_OPEN_READ, NULL, &o);
	if (ret)
		goto put_hook;
	if (!bdev_nr_sectors(o.bdev)) {
		ret = -ENOSPC;
		goto close;
	}
	/* A DAX mount writes with no bio at all: nothing could see it. */
	if (blk_queue_dax(bdev_get_queue(o.bdev))) {
		ret = -EOPNOTSUPP;
		goto close;
	}
	/* A store is never tracked: a set on it would copy for its writes. */
	if (cbt_store_overlaps(o.bdev->bd_disk,
			       bdev_is_partition(o.bdev) ? o.bdev->bd_start_sect : 0,
			       bdev_nr_sectors(o.bdev))) {
		ret = -EBUSY;
		goto close;
	}

	mutex_lock(&cbt_trackers_mutex);
	reap_locked();
	list_for_each_entry(t, &cbt_trackers, list_node) {
		if (t->bdev == o.bdev) {
			ret = -EBUSY;
			goto unlock;
		}
	}
	t = tracker_alloc(o.bdev, ilog2(block_size));
	if (!t) {
		ret = -ENOMEM;
		goto unlock;
	}
	get_device(&o.bdev->bd_device);
	/* No stamp before the settling is done: checkpoints wait for it. */
	mutex_lock(&t->lock);
	list_add_tail(&t->list_node, &cbt_trackers);
	hash_add_rcu(cbt_tracker_hash, &t->hash_node, (unsigned long)t->disk);
	kref_get(&t->ref);
	*out = t;
	pr_info("cbt: tracking %pg (%u:%u) as %pUb, %u-byte blocks\n", o.bdev,
		MAJOR(devt), MINOR(devt), &t->uuid, block_size);
	mutex_unlock(&cbt_trackers_mutex);
	tracker_settle(t);
	mutex_unlock(&t->lock);
	cbt_bdev_close(&o);
	return 0;	/* the tracker keeps the hook reference */
unlock:
	mutex_unlock(&cbt_trackers_mutex);
close:
	cbt_bdev_close(&o);
put_hook:
	cbt_intercept_put();
	return ret;
}

static struct cbt_tracker *find_locked(dev_t devt)
{
	struct cbt_tracker *t;

	reap_locked();
	list_for_each_entry(t, &cbt_trackers, list_node)
		if (t->devt == devt)
			return t;
	return NULL;
}

int cbt_tracker_detach(dev_t devt)
{
	struct cbt_tracker *t;
	int ret = -ENOENT;

	mutex_lock(&cbt_trackers_mutex);
	t = find_locked(devt);
	if (t && t->claim) {
		ret = -EBUSY;	/* a member of a live snapshot set */
	} else if (t) {
		pr_info("cbt: %pg: tracking stopped\n", t->bdev);
		tracker_unpublish(t);
		ret = 0;
	}
	mutex_unlock(&cbt_trackers_mutex);
	return ret;
}

int cbt_tracker_claim(struct cbt_tracker *t, const void *owner)
{
	int ret = 0;

	mutex_lock(&cbt_trackers_mutex);
	if (test_bit(CBT_TRACKER_DETACHED, &t->flags) || !cbt_tracker_alive(t))
		ret = -ENODEV;
	else if (t->claim)
		ret = -EBUSY;
	else
		t->claim = owner;
	mutex_unlock(&cbt_trackers_mutex);
	return ret;
}

void cbt_tracker_unclaim(struct cbt_tracker *t, const void *owner)
{
	mutex_lock(&cbt_trackers_mutex);
	if (t->claim == owner)
		t->claim = NULL;
	mutex_unlock(&cbt_trackers_mutex);
}

struct cbt_tracker *cbt_tracker_get(dev_t devt)
{
	struct cbt_tracker *t;

	mutex_lock(&cbt_trackers_mutex);
	t = find_locked(devt);
	if (t)
		kref_get(&t->ref);
	mutex_unlock(&cbt_trackers_mutex);
	return t;
}

bool cbt_tracker_overlaps(struct gendisk *disk, sector_t start, sector_t nr)
{
	struct cbt_tracker *t;
	bool found = false;

	mutex_lock(&cbt_trackers_mutex);
	list_for_each_entry(t, &cbt_trackers, list_node)
		if (t->disk == disk && start < t->start + bdev_nr_sectors(t->bdev) &&
		    start + nr > t->start)
			found = true;
	mutex_unlock(&cbt_trackers_mutex);
	return found;
}

int cbt_tracker_list(dev_t *devs, u32 capacity, u32 *count)
{
	struct cbt_tracker *t;
	u32 n = 0;

	mutex_lock(&cbt_trackers_mutex);
	reap_locked();
	list_for_each_entry(t, &cbt_trackers, list_node) {
		if (n < capacity)
			devs[n] = t->devt;
		n++;
	}
	mutex_unlock(&cbt_trackers_mutex);
	*count = n;
	return 0;
}

/* The status of each tracker is read out of cbt_trackers_mutex (it may wait). */
void cbt_tracker_show(struct seq_file *m)
{
	struct cbt_tracker_status st;
	struct cbt_tracker *t, **ts;
	unsigned int n = 0, i;

	mutex_lock(&cbt_trackers_mutex);
	list_for_each_entry(t, &cbt_trackers, list_node)
		n++;
	ts = kcalloc(max(n, 1u), sizeof(*ts), GFP_KERNEL);
	n = 0;
	list_for_each_entry(t, &cbt_trackers, list_node) {
		if (!ts)
			break;
		kref_get(&t->ref);
		ts[n++] = t;
	}
	mutex_unlock(&cbt_trackers_mutex);
	for (i = 0; i < n; i++) {
		t = ts[i];
		if (!cbt_tracker_status(t, &st))
			seq_printf(m, "%pg %u:%u uuid=%pUb gen=%llu oldest=%llu block_size=%u blocks=%llu written=%llu map_bytes=%llu%s\n",
				   t->bdev, MAJOR(t->devt), MINOR(t->devt), &st.uuid,
				   st.gen, st.oldest, st.block_size, st.blocks,
				   st.blocks_written, st.map_bytes,
				   st.lost ? " lost" : "");
		cbt_tracker_put(t);
	}
	kfree(ts);
}

int cbt_tracker_init(void)
{
	int ret = cbt_completion_init();

	if (ret)
		return ret;
	cbt_wq = alloc_workqueue("cbt", WQ_MEM_RECLAIM, 0);
	if (!cbt_wq) {
		cbt_completion_exit();
		return -ENOMEM;
	}
	return 0;
}

/* Detach everything and wait until every tracker is freed. */
void cbt_tracker_exit(void)
{
	struct cbt_tracker *t, *tmp;

	mutex_lock(&cbt_trackers_mutex);
	list_for_each_entry_safe(t, tmp, &cbt_trackers, list_node)
		tracker_unpublish(t);
	mutex_unlock(&cbt_trackers_mutex);
	destroy_workqueue(cbt_wq);	/* runs every queued tracker_free */
	cbt_completion_exit();
}
