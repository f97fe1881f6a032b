/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_tracker.h - one tracked volume: identity, generations, change map.
 */
#ifndef CBT_TRACKER_H
#define CBT_TRACKER_H

#include <linux/blkdev.h>
#include <linux/hash.h>
#include <linux/hashtable.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/uuid.h>
#include "cbt_generation.h"
#include "cbt_map.h"

/* Bits in cbt_tracker.flags. */
enum {
	CBT_TRACKER_LOST,	/* a write could not be recorded: reset before use */
	CBT_TRACKER_DETACHED,	/* no longer in the tables; waiting to be freed */
};

struct cbt_cow;

struct cbt_tracker {
	struct hlist_node hash_node;	/* cbt_tracker_hash bucket: RCU readers */
	struct list_head list_node;	/* cbt_trackers, under cbt_trackers_mutex */
	struct kref ref;		/* the tables' reference + ioctl users */

	/* Identity; fixed from attach to free. */
	struct gendisk *disk;
	struct block_device *bdev;	/* pinned with get_device() */
	dev_t devt;
	sector_t start;			/* first sector on @disk */
	unsigned int block_shift;	/* log2(block size in bytes) */

	/*
	 * @lock serialises everything that changes or reads the generation
	 * history as a whole (checkpoints, snapshot instants, resets, sweeps,
	 * queries, status) and the snapshot claim below. Nothing under it
	 * touches user memory, and a snapshot takes it before anything is
	 * frozen. The write path takes no lock: it reads @map, @gens.open and
	 * @cow under RCU.
	 */
	struct mutex lock;
	struct cbt_map __rcu *map;
	struct cbt_gens gens;
	uuid_t uuid;
	unsigned long flags;		/* CBT_TRACKER_* bits, atomic */

	/*
	 * The snapshot set that holds this volume (an opaque owner), under
	 * cbt_trackers_mutex, so that detach and a claim exclude each other;
	 * and the set's copy-on-write state while it is live, published by
	 * the snapshot code under @lock, read by writers under RCU.
	 */
	const void *claim;
	struct cbt_cow __rcu *cow;

	struct work_struct free_work;
};

/* Trackers by disk; writers walk a bucket under RCU. */
#define CBT_HASH_BITS		6
extern struct hlist_head cbt_tracker_hash[1 << CBT_HASH_BITS];

#define cbt_for_each_tracker(t, d)					\
	hlist_for_each_entry_rcu(t, &cbt_tracker_hash[hash_ptr(d, CBT_HASH_BITS)], \
				 hash_node)					\
		if ((t)->disk == (d))

/*
 * May @disk be tracked? False means surely not: its bucket is empty (one
 * hash and one load, no RCU section; attach settles the writes that raced
 * with it). The hooks ask this first, for every write on the machine.
 */
static __always_inline bool cbt_disk_maybe_tracked(struct gendisk *disk)
{
	return !hlist_empty(&cbt_tracker_hash[hash_ptr(disk, CBT_HASH_BITS)]);
}

/* ---- the write path (any context, under RCU) ---------------------------- */

/*
 * What writers read under RCU: in rcu_read_lock() or in the hook's
 * preemption-disabled section.
 */
#define cbt_writer_deref(p)	rcu_dereference_check(p, rcu_read_lock_any_held())

/* Does a write to sectors [sector, end) of @t's disk touch @t's volume? */
static __always_inline bool cbt_tracker_covers(struct cbt_tracker *t,
					       sector_t sector, sector_t end)
{
	return end > t->start &&
	       sector < t->start + bdev_nr_sectors(t->bdev);
}

static __always_inline struct cbt_cow *cbt_tracker_cow(struct cbt_tracker *t)
{
	return cbt_writer_deref(t->cow);
}

static __always_inline u64 cbt_tracker_gen(struct cbt_tracker *t)
{
	return cbt_gens_open(&t->gens);
}

/*
 * Record a write of sectors [sector, end) of @t's disk, marked with @gen,
 * and follow it to its completion under @epoch (cbt_follow_epoch_read(),
 * read before @t was found). What cannot be recorded (no memory for
 * a map page or a completion record, a write past the end of a volume that
 * grew) costs continuity: the tracker is flagged LOST and restarts with a
 * new identity at its next use.
 */
static __always_inline void cbt_tracker_mark(struct cbt_tracker *t,
					     struct bio *bio, sector_t sector,
					     sector_t end, u64 gen,
					     unsigned long epoch)
{
	struct cbt_map *map = cbt_writer_deref(t->map);
	sector_t limit = t->start + map->nr_sects;
	unsigned int shift = t->block_shift - SECTOR_SHIFT;
	bool lost = false;

	/*
	 * Past the end of the map: a write to the volume itself means it grew
	 * (followed, so that no stamp comes before it completes, but
	 * unrecorded); a write to the whole disk just goes on past it.
	 */
	if (end > limit) {
		if (bio->bi_bdev == t->bdev)
			lost = true;
		else if (sector >= limit)
			return;
		end = limit;
	}
	if (!cbt_gens_follow(&t->gens, bio, gen, epoch))
		lost = true;
	sector = max(sector, t->start);
	if (sector < end &&
	    cbt_gens_mark(map, (sector - t->start) >> shift,
			  (end - 1 - t->start) >> shift, gen))
		lost = true;
	if (unlikely(lost))
		set_bit(CBT_TRACKER_LOST, &t->flags);
}

/* @t loses continuity (a write whose range cannot be known). Any context. */
void cbt_tracker_lose(struct cbt_tracker *t, const char *why);

/*
 * Record a write made to a snapshot image (sectors relative to the
 * volume), once it is in the store: there is no bio to follow.
 */
void cbt_tracker_mark_range(struct cbt_tracker *t, sector_t sector,
			    sector_t end);

/* ---- the control path (process context, may sleep) ---------------------- */

int cbt_tracker_attach(dev_t devt, unsigned int block_size,
		       struct cbt_tracker **out);
int cbt_tracker_detach(dev_t devt);
struct cbt_tracker *cbt_tracker_get(dev_t devt);
void cbt_tracker_put(struct cbt_tracker *t);
bool cbt_tracker_alive(struct cbt_tracker *t);
int cbt_tracker_checkpoint(struct cbt_tracker *t, unsigned int timeout_ms,
			   uuid_t *uuid, u64 *gen);
int cbt_tracker_list(dev_t *devs, u32 capacity, u32 *count);

struct cbt_tracker_status {
	uuid_t uuid;
	u64 gen, oldest;
	u64 device_bytes, blocks, blocks_written, map_bytes;
	u32 block_size;
	bool lost;
};
/* -EINTR on a fatal signal while the tracker is busy. */
int cbt_tracker_status(struct cbt_tracker *t, struct cbt_tracker_status *st);
/*
 * Size in bytes and block size (a lost or resized map is reset first),
 * without the cost of a full status. The lock is waited for until
 * @deadline (jiffies; -ETIMEDOUT), or, when it is 0, until a fatal signal.
 */
int cbt_tracker_geometry(struct cbt_tracker *t, unsigned long deadline,
			 u64 *bytes, u32 *block_size);
/* Under the tracker's lock: the size in sectors the map covers. */
u64 cbt_tracker_size(struct cbt_tracker *t);

/*
 * Changed blocks since generation @since of tracker @uuid within blocks
 * [first, last]; @emit as for cbt_map_scan(), called under the tracker's
 * lock (it must not touch user memory). Returns the block where the scan
 * stopped, or a negative errno (-ESTALE: the map cannot answer).
 */
s64 cbt_tracker_changes(struct cbt_tracker *t, const uuid_t *uuid, u64 since,
			u64 first, u64 last, cbt_map_emit_fn emit, void *ctx);

/* Is any tracked volume within sectors [start, start + nr) of @disk? */
bool cbt_tracker_overlaps(struct gendisk *disk, sector_t start, sector_t nr);

/*
 * For the snapshot code, which owns the instant (cbt_snapshot.c) and uses
 * these in this order on each member:
 *
 * cbt_tracker_claim()/unclaim(): a set claims a volume for its lifetime
 * (detach is refused meanwhile, and so is a second set); -EBUSY when
 * another owner has it, -ENODEV when it is detached or gone.
 *
 * cbt_tracker_lock(): the tracker's lock, by @deadline (jiffies) or
 * -ETIMEDOUT, or -EINTR on a fatal signal. Then, under it:
 * cbt_tracker_prepare(): refresh (a lost map is reset) and make ready to
 * close the open generation (cbt_gens_prepare()).
 * cbt_tracker_first_gen(): the generation writes held by the set mark.
 * cbt_tracker_set_cow(): publish (under the lock) or withdraw (the claim's
 * owner, at any time) copy-on-write.
 * cbt_tracker_close(): open the next generation (the caller then waits a
 * grace period) and cbt_tracker_drain() its predecessor; the stamp is
 * cbt_tracker_stamp().
 */
int cbt_tracker_claim(struct cbt_tracker *t, const void *owner);
void cbt_tracker_unclaim(struct cbt_tracker *t, const void *owner);
int cbt_tracker_lock(struct cbt_tracker *t, unsigned long deadline);
void cbt_tracker_unlock(struct cbt_tracker *t);
int cbt_tracker_prepare(struct cbt_tracker *t, unsigned long deadline);
u64 cbt_tracker_first_gen(struct cbt_tracker *t);
void cbt_tracker_set_cow(struct cbt_tracker *t, struct cbt_cow *cow);
void cbt_tracker_close(struct cbt_tracker *t);
int cbt_tracker_drain(struct cbt_tracker *t, unsigned long deadline);
void cbt_tracker_stamp(struct cbt_tracker *t, uuid_t *uuid, u64 *gen);

/* Drop trackers whose device went away; called periodically. */
void cbt_tracker_reap(void);
/* Show every tracker, one line each (debugfs). */
void cbt_tracker_show(struct seq_file *m);

int cbt_tracker_init(void);
void cbt_tracker_exit(void);

#endif /* CBT_TRACKER_H */
