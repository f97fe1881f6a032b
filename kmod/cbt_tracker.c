// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_tracker.c - tracked volumes: attach/detach, the write path's marking,
 * generations and checkpoints, queries.
 *
 * Generations. A tracker's open generation @gen is what every write marks
 * its blocks with. A checkpoint closes generation g: it publishes g + 1,
 * waits for an RCU grace period (after which no writer can still mark with
 * g) and then for every write that marked with g to complete. Writes are
 * counted per CPU in one of two slots by the parity of the generation they
 * marked; only the generation being closed can be using its slot, because
 * each checkpoint drains it before the next one can start. So the stamp
 * "uuid:g" means: every write that completed before the stamp was returned
 * has a generation <= g in the map, every later one a generation > g.
 *
 * Continuity. When a write cannot be recorded (no memory for a map page, no
 * memory to follow its completion, a write past the end of a grown device)
 * the tracker is flagged LOST; the next checkpoint, query or status resets
 * it with a new UUID and an empty map, so old stamps get ESTALE instead of
 * a wrong answer.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/blk-mq.h>
#include <linux/delay.h>
#include <linux/hashtable.h>
#include <linux/module.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include "cbt_completion.h"
#include "cbt_intercept.h"
#include "cbt_tracker.h"
#include "cbt_snapshot.h"
#include "cbt_compat.h"
#include "cbt_ioctl.h"

#define CBT_SWEEP_KEEP		128	/* generations kept answerable by a sweep */
#define CBT_DRAIN_DEFAULT_MS	30000

/*
 * cbt_trackers_mutex protects the tracker list and the hash table's
 * membership (writers walk the hash under RCU, never take this mutex).
 */
static DEFINE_MUTEX(cbt_trackers_mutex);
static LIST_HEAD(cbt_trackers);
DEFINE_HASHTABLE(cbt_tracker_hash, CBT_HASH_BITS);

static struct workqueue_struct *cbt_wq;

static inline struct cbt_map *tracker_map(struct cbt_tracker *t)
{
	return rcu_dereference_protected(t->map, lockdep_is_held(&t->lock));
}

static bool tracker_alive(struct cbt_tracker *t)
{
	return device_is_registered(&t->bdev->bd_device);
}

/* ---- the write path ---------------------------------------------------- */

static void cbt_bio_end_io(struct bio *bio)
{
	struct cbt_bio_hook *hook = bio->bi_private;
	long __percpu *inflight = hook->inflight;

	bio->bi_end_io = hook->end_io;
	bio->bi_private = hook->private;
	cbt_hook_free(hook);
	/*
	 * The write's last touch of its tracker: once every count is back to
	 * zero, tracker_free() may free it. Drains poll the counts, so there
	 * is nobody to wake up.
	 */
	this_cpu_dec(*inflight);
	if (bio->bi_end_io)
		bio->bi_end_io(bio);
}

/* Follow @bio's completion in slot @slot; false when no memory. */
static bool hook_bio(struct cbt_tracker *t, struct bio *bio, unsigned int slot)
{
	struct cbt_bio_hook *hook = cbt_hook_alloc();

	if (!hook)
		return false;
	hook->end_io = bio->bi_end_io;
	hook->private = bio->bi_private;
	hook->inflight = &t->inflight->n[slot];
	this_cpu_inc(t->inflight->n[slot]);
	bio->bi_private = hook;
	bio->bi_end_io = cbt_bio_end_io;
	return true;
}

/*
 * What writers read under RCU: in rcu_read_lock() (cbt_track_write) or in
 * the hook's preemption-disabled section (cbt_hook_write).
 */
#define writer_deref(p)	rcu_dereference_check(p, rcu_read_lock_any_held())

/* Record a write of sectors [sector, end) of t->disk. Under RCU (above). */
static __always_inline void tracker_mark(struct cbt_tracker *t, struct bio *bio,
			 sector_t sector, sector_t end)
{
	struct cbt_map *map = writer_deref(t->map);
	sector_t limit = t->start + map->nr_sects;
	unsigned int shift = t->block_shift - SECTOR_SHIFT;
	u64 gen, first, last;

	if (end <= t->start || sector >= limit) {
		/* Only a write to the tracked device itself can be past its end. */
		if (bio->bi_bdev == t->bdev)
			set_bit(CBT_TRACKER_LOST, &t->flags);
		return;
	}
	if (end > limit) {
		if (bio->bi_bdev == t->bdev)
			set_bit(CBT_TRACKER_LOST, &t->flags);
		end = limit;
	}
	sector = max(sector, t->start);
	first = (sector - t->start) >> shift;
	last = (end - 1 - t->start) >> shift;

	gen = READ_ONCE(t->gen);
	/* Unfollowed or unrecorded, the write breaks continuity; mark anyway. */
	if (!hook_bio(t, bio, gen & 1))
		set_bit(CBT_TRACKER_LOST, &t->flags);
	if (!cbt_map_mark_fast(map, first, last, cbt_gen_code(gen)) &&
	    cbt_map_mark(map, first, last, cbt_gen_code(gen)))
		set_bit(CBT_TRACKER_LOST, &t->flags);
}

/* Record the write in every tracker of @disk. Under RCU (above). */
static __always_inline void mark_trackers(struct gendisk *disk, struct bio *bio,
			  sector_t sector, sector_t end)
{
	struct cbt_tracker *t;

	hash_for_each_possible_rcu(cbt_tracker_hash, t, hash_node, (unsigned long)disk)
		if (t->disk == disk)
			tracker_mark(t, bio, sector, end);
}

/*
 * A write to a volume in a live snapshot set may first need the old data
 * of its chunks preserved. Either copy-on-write takes the bio (it is not
 * marked now but when it comes back through here, after the instant), or
 * it asks the caller to copy (*cowp is set), or the write goes on. @done:
 * a member the caller has just copied the write's range for.
 */
static enum cbt_cow_verdict cow_check(struct gendisk *disk, struct bio *bio,
				      sector_t sector, sector_t end, bool wanted,
				      const struct cbt_cow *done,
				      struct cbt_cow **cowp, u64 *pos, u64 *stop)
{
	enum cbt_cow_verdict v;
	struct cbt_tracker *t;
	struct cbt_cow *cow;

	hash_for_each_possible_rcu(cbt_tracker_hash, t, hash_node, (unsigned long)disk) {
		if (t->disk != disk)
			continue;
		cow = rcu_dereference(t->cow);
		if (!cow || cow == done)
			continue;
		v = cbt_cow_hold(cow, bio, sector, end, wanted, pos, stop);
		if (v == CBT_COW_COPY)
			*cowp = cow;
		if (v != CBT_COW_PASS)
			return v;
	}
	return CBT_COW_PASS;
}

/* The sectors of its whole disk that @bio writes; false when none. */
static __always_inline bool write_span(struct bio *bio, sector_t *sector, sector_t *nr)
{
	struct block_device *bdev = bio->bi_bdev;

	*sector = bio->bi_iter.bi_sector;
	*nr = bio_sectors(bio);
	if (bdev_is_partition(bdev))
		*sector += bdev->bd_start_sect;
	/* Where a zone append lands is known only at completion. */
	if (bio_op(bio) == REQ_OP_ZONE_APPEND)
		*nr = max_t(sector_t, *nr, bdev_zone_sectors(bdev));
	return *nr != 0;
}

/*
 * The hook's read section disables preemption rather than taking
 * rcu_read_lock(): it is cheaper, nothing in it sleeps, and every
 * synchronize_rcu() that frees what writers read waits for both kinds.
 */
bool cbt_hook_write(struct bio *bio)
{
	struct gendisk *disk = bio->bi_bdev->bd_disk;
	bool tracked = false, wait = false;
	struct cbt_tracker *t;
	sector_t sector, nr;
	struct cbt_cow *cow;

	if (!write_span(bio, &sector, &nr))
		return false;
	rcu_read_lock_sched_notrace();
	hash_for_each_possible_rcu(cbt_tracker_hash, t, hash_node, (unsigned long)disk) {
		if (t->disk != disk)
			continue;
		tracked = true;
		cow = writer_deref(t->cow);
		if (unlikely(cow) && cbt_cow_wanted(cow, sector, sector + nr)) {
			wait = true;
			break;
		}
	}
	if (tracked && !wait)
		mark_trackers(disk, bio, sector, sector + nr);
	rcu_read_unlock_sched_notrace();
	return wait;
}

bool cbt_track_write(struct bio *bio, bool wanted)
{
	struct gendisk *disk = bio->bi_bdev->bd_disk;
	enum cbt_cow_verdict v;
	sector_t sector, nr;
	struct cbt_cow *cow, *done = NULL;
	u64 pos, stop;

	if (!write_span(bio, &sector, &nr))
		return false;

	for (;;) {
		rcu_read_lock();
		v = cow_check(disk, bio, sector, sector + nr, wanted, done,
			      &cow, &pos, &stop);
		if (v == CBT_COW_PASS)
			mark_trackers(disk, bio, sector, sector + nr);
		rcu_read_unlock();
		/* Held until here: @done cannot be freed and its address reused. */
		if (done)
			cbt_cow_copy_end(done);
		if (v != CBT_COW_COPY)
			return v == CBT_COW_QUEUED;
		/*
		 * Copy here, then look again: another set may want a copy too.
		 * This one's range is now preserved, or the set has failed.
		 */
		cbt_cow_copy_range(cow, pos, stop);
		wanted = false;
		done = cow;
	}
}

void cbt_tracker_mark_range(struct cbt_tracker *t, sector_t sector,
			    sector_t end)
{
	unsigned int shift = t->block_shift - SECTOR_SHIFT;
	struct cbt_map *map;

	rcu_read_lock();
	map = rcu_dereference(t->map);
	end = min(end, map->nr_sects);
	if (sector < end &&
	    cbt_map_mark(map, sector >> shift, (end - 1) >> shift,
			 cbt_gen_code(READ_ONCE(t->gen))))
		set_bit(CBT_TRACKER_LOST, &t->flags);
	rcu_read_unlock();
}

/* ---- generations ------------------------------------------------------- */

static long inflight_sum(struct cbt_tracker *t, unsigned int slot)
{
	long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu_ptr(t->inflight, cpu)->n[slot];
	return sum;
}

/*
 * Wait until no write that marked with a generation of parity @slot is in
 * flight. No new write can join the slot (the caller has moved on and waited
 * for a grace period), so the sum only falls; reading per-CPU counters while
 * it falls can only overestimate it. The sum is polled, finely at first (a
 * snapshot's writes are held meanwhile), so that completions, which run for
 * every tracked write, need not wake anyone.
 */
static int tracker_drain(struct cbt_tracker *t, unsigned int slot,
			 unsigned long timeout)
{
	unsigned long deadline = jiffies + timeout;
	unsigned int polls;

	for (polls = 0; inflight_sum(t, slot); polls++) {
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
		if (polls < 200)
			usleep_range(20, 50);
		else
			msleep(1);
	}
	return 0;
}

/* A new identity and an empty map for the device's current size. */
static int tracker_reset(struct cbt_tracker *t)
{
	struct cbt_map *old = tracker_map(t), *map;

	map = cbt_map_alloc(bdev_nr_sectors(t->bdev), t->block_shift);
	if (!map)
		return -ENOMEM;
	clear_bit(CBT_TRACKER_LOST, &t->flags);
	uuid_gen(&t->uuid);
	t->low = t->gen;
	t->oldest = t->gen;
	rcu_assign_pointer(t->map, map);
	synchronize_rcu();
	cbt_map_free(old);
	pr_info("cbt: %pg: continuity lost, tracking restarted as %pUb\n",
		t->bdev, &t->uuid);
	return 0;
}

/* Before use: the device must exist, and a lost or resized map is reset. */
static int tracker_refresh(struct cbt_tracker *t)
{
	if (test_bit(CBT_TRACKER_DETACHED, &t->flags) || !tracker_alive(t))
		return -ENODEV;
	if (test_bit(CBT_TRACKER_LOST, &t->flags) ||
	    bdev_nr_sectors(t->bdev) != tracker_map(t)->nr_sects)
		return tracker_reset(t);
	return 0;
}

/*
 * Before generation @next may be opened, no byte may still hold the
 * generation whose code it will reuse. When that could happen, zero the
 * bytes of all but the newest CBT_SWEEP_KEEP generations: stamps older than
 * that can no longer be answered.
 */
static void tracker_make_room(struct cbt_tracker *t, u64 next)
{
	u64 cur = t->gen, floor = cur - CBT_SWEEP_KEEP;
	bool stale[256];
	unsigned int v;

	if (next < t->low + CBT_GEN_WINDOW)
		return;
	stale[0] = false;
	for (v = 1; v < 256; v++)
		stale[v] = cur - cbt_gen_age(v, cur) <= floor;
	cbt_map_sweep(tracker_map(t), stale);
	t->low = floor + 1;
	t->oldest = max(t->oldest, floor);
}

static int tracker_advance(struct cbt_tracker *t, unsigned long timeout)
{
	u64 closing = t->gen;

	tracker_make_room(t, closing + 1);
	WRITE_ONCE(t->gen, closing + 1);
	/* Expedited: writes may be held meanwhile (a snapshot's instant). */
	synchronize_rcu_expedited();	/* every writer now marks with closing + 1 */
	return tracker_drain(t, closing & 1, timeout);
}

int cbt_tracker_checkpoint(struct cbt_tracker *t, unsigned int timeout_ms,
			   uuid_t *uuid, u64 *gen)
{
	unsigned long timeout;
	int ret, tries;

	timeout = msecs_to_jiffies(timeout_ms ? timeout_ms : CBT_DRAIN_DEFAULT_MS);
	mutex_lock(&t->lock);
	ret = tracker_refresh(t);
	for (tries = 0; !ret && tries < 2; tries++) {
		ret = tracker_advance(t, timeout);
		if (ret)
			break;
		if (!test_bit(CBT_TRACKER_LOST, &t->flags)) {
			uuid_copy(uuid, &t->uuid);
			*gen = t->gen - 1;
			break;
		}
		/* A write of the closed generation went unrecorded. */
		ret = tracker_reset(t);
		if (!ret && tries == 1)
			ret = -EAGAIN;
	}
	mutex_unlock(&t->lock);
	return ret;
}

void cbt_tracker_clear_cow(struct cbt_tracker *t)
{
	RCU_INIT_POINTER(t->cow, NULL);
}

/*
 * Publishing every member's copy-on-write state first, and only then closing
 * the generations, is what makes the instant one for the whole set: after
 * the grace period that follows publication every new write to any member
 * is held until the set is ready, so no write can land after the instant on
 * one member and before it on another. The writes still in flight are those
 * that marked the closing generation; draining them puts them wholly before.
 */
int cbt_tracker_snapshot(struct cbt_tracker **ts, struct cbt_cow **cows,
			 unsigned int n, unsigned int timeout_ms,
			 uuid_t *uuids, u64 *gens)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(timeout_ms);
	unsigned int i, locked;
	int ret = 0;

	for (locked = 0; locked < n; locked++) {
		mutex_lock(&ts[locked]->lock);
		ret = tracker_refresh(ts[locked]);
		if (ret) {
			locked++;
			goto unlock;
		}
	}
	for (i = 0; i < n; i++)
		rcu_assign_pointer(ts[i]->cow, cows[i]);
	synchronize_rcu_expedited();	/* every new write to a member is now held */
	for (i = 0; i < n && !ret; i++) {
		long left = (long)(deadline - jiffies);

		ret = left > 0 ? tracker_advance(ts[i], left) : -ETIMEDOUT;
		if (!ret && test_bit(CBT_TRACKER_LOST, &ts[i]->flags))
			ret = -EAGAIN;	/* a write went unrecorded: no stamp */
		if (!ret) {
			uuid_copy(&uuids[i], &ts[i]->uuid);
			gens[i] = ts[i]->gen - 1;
		}
	}
	if (ret)
		for (i = 0; i < n; i++)
			cbt_tracker_clear_cow(ts[i]);
unlock:
	while (locked-- > 0)
		mutex_unlock(&ts[locked]->lock);
	return ret;
}

s64 cbt_tracker_changes(struct cbt_tracker *t, const uuid_t *uuid, u64 since,
			u64 first, u64 last, cbt_map_emit_fn emit, void *ctx)
{
	bool wanted[256];
	unsigned int v;
	s64 ret;

	mutex_lock(&t->lock);
	ret = tracker_refresh(t);
	if (ret)
		goto out;
	if (!uuid_equal(uuid, &t->uuid) || since < t->oldest) {
		ret = -ESTALE;
		goto out;
	}
	if (since >= t->gen) {
		ret = -EINVAL;	/* never issued */
		goto out;
	}
	wanted[0] = false;
	for (v = 1; v < 256; v++)
		wanted[v] = t->gen - cbt_gen_age(v, t->gen) > since;
	ret = cbt_map_scan(tracker_map(t), first, last, wanted, emit, ctx);
out:
	mutex_unlock(&t->lock);
	return ret;
}

void cbt_tracker_status(struct cbt_tracker *t, struct cbt_tracker_status *st)
{
	struct cbt_map *map;

	mutex_lock(&t->lock);
	map = tracker_map(t);
	uuid_copy(&st->uuid, &t->uuid);
	st->gen = t->gen;
	st->oldest = t->oldest;
	st->device_bytes = map->nr_sects << SECTOR_SHIFT;
	st->blocks = map->nr_blocks;
	st->blocks_written = cbt_map_count_written(map);
	st->map_bytes = cbt_map_bytes(map);
	st->block_size = 1u << t->block_shift;
	st->lost = test_bit(CBT_TRACKER_LOST, &t->flags) ||
		   bdev_nr_sectors(t->bdev) != map->nr_sects;
	mutex_unlock(&t->lock);
}

void cbt_tracker_geometry(struct cbt_tracker *t, u64 *bytes, u32 *block_size)
{
	mutex_lock(&t->lock);
	*bytes = tracker_map(t)->nr_sects << SECTOR_SHIFT;
	*block_size = 1u << t->block_shift;
	mutex_unlock(&t->lock);
}

/* ---- lifetime ---------------------------------------------------------- */

static void tracker_free(struct work_struct *work)
{
	struct cbt_tracker *t = container_of(work, struct cbt_tracker, free_work);

	synchronize_rcu();	/* no writer can find @t any more */
	while (inflight_sum(t, 0) || inflight_sum(t, 1))
		msleep(1);
	cbt_map_free(rcu_dereference_protected(t->map, true));
	free_percpu(t->inflight);
	put_device(&t->bdev->bd_device);
	kfree(t);
	cbt_intercept_put();	/* the hook goes with the last tracker */
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
	t->inflight = alloc_percpu(struct cbt_inflight);
	map = cbt_map_alloc(bdev_nr_sectors(bdev), block_shift);
	if (!t->inflight || !map) {
		free_percpu(t->inflight);
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
	t->gen = 1;
	t->low = 1;
	t->oldest = 1;
	uuid_gen(&t->uuid);
	return t;
}

/* Drop trackers whose device is gone. Under cbt_trackers_mutex. */
static void reap_locked(void)
{
	struct cbt_tracker *t, *tmp;

	struct cbt_cow *cow;

	list_for_each_entry_safe(t, tmp, &cbt_trackers, list_node) {
		if (tracker_alive(t))
			continue;
		pr_info("cbt: %u:%u went away, tracking dropped\n",
			MAJOR(t->devt), MINOR(t->devt));
		rcu_read_lock();
		cow = rcu_dereference(t->cow);
		if (cow)
			cbt_snapset_fail(cow->set, CBT_SET_INVALID, -ENODEV);
		rcu_read_unlock();
		tracker_unpublish(t);
	}
}

void cbt_tracker_reap(void)
{
	mutex_lock(&cbt_trackers_mutex);
	reap_locked();
	mutex_unlock(&cbt_trackers_mutex);
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
	/* In place before the tracker is published: see the drain below. */
	ret = cbt_intercept_get();
	if (ret)
		return ret;
	ret = cbt_bdev_open(devt, &o);
	if (ret)
		goto put_hook;
	if (!bdev_nr_sectors(o.bdev)) {
		ret = -ENOSPC;
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
	list_add_tail(&t->list_node, &cbt_trackers);
	hash_add_rcu(cbt_tracker_hash, &t->hash_node, (unsigned long)t->disk);
	kref_get(&t->ref);
	*out = t;
	pr_info("cbt: tracking %pg (%u:%u) as %pUb, %u-byte blocks\n", o.bdev,
		MAJOR(devt), MINOR(devt), &t->uuid, block_size);
	mutex_unlock(&cbt_trackers_mutex);
	/*
	 * Requests submitted before the hook saw this device were not
	 * recorded and would not be waited for by the first checkpoint:
	 * let them complete now, before attach returns.
	 */
	blk_mq_freeze_queue(o.bdev->bd_disk->queue);
	blk_mq_unfreeze_queue(o.bdev->bd_disk->queue);
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
	if (t && rcu_access_pointer(t->cow)) {
		ret = -EBUSY;	/* in a live snapshot set */
	} else if (t) {
		pr_info("cbt: %pg: tracking stopped\n", t->bdev);
		tracker_unpublish(t);
		ret = 0;
	}
	mutex_unlock(&cbt_trackers_mutex);
	return ret;
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

void cbt_tracker_show(struct seq_file *m)
{
	struct cbt_tracker_status st;
	struct cbt_tracker *t;

	mutex_lock(&cbt_trackers_mutex);
	list_for_each_entry(t, &cbt_trackers, list_node) {
		cbt_tracker_status(t, &st);
		seq_printf(m, "%pg %u:%u uuid=%pUb gen=%llu oldest=%llu block_size=%u blocks=%llu written=%llu map_bytes=%llu%s\n",
			   t->bdev, MAJOR(t->devt), MINOR(t->devt), &st.uuid,
			   st.gen, st.oldest, st.block_size, st.blocks,
			   st.blocks_written, st.map_bytes,
			   st.lost ? " lost" : "");
	}
	mutex_unlock(&cbt_trackers_mutex);
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
