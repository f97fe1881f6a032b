/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_tracker.h - one tracked volume: identity, generations, change map.
 */
#ifndef CBT_TRACKER_H
#define CBT_TRACKER_H

#include <linux/blkdev.h>
#include <linux/hash.h>
#include <linux/kref.h>
#include <linux/mutex.h>
#include <linux/uuid.h>
#include <linux/wait.h>
#include "cbt_map.h"

/* Bits in cbt_tracker.flags. */
enum {
	CBT_TRACKER_LOST,	/* a write could not be recorded: reset before use */
	CBT_TRACKER_DETACHED,	/* no longer in the tables; waiting to be freed */
};

/* Writes in flight, counted per CPU, by generation parity. */
struct cbt_inflight {
	long n[2];
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
	 * history as a whole: checkpoint, reset, sweep, queries, status. The
	 * write path takes no lock: it reads @gen and @map under RCU.
	 */
	struct mutex lock;
	struct cbt_map __rcu *map;
	u64 gen;			/* the open generation (READ_ONCE on writers' side) */
	u64 low;			/* lowest generation a non-zero byte can hold */
	u64 oldest;			/* oldest generation a stamp may name */
	uuid_t uuid;
	unsigned long flags;		/* CBT_TRACKER_* bits, atomic */

	/* The live snapshot set's copy-on-write state, if any (RCU). */
	struct cbt_cow __rcu *cow;

	struct cbt_inflight __percpu *inflight;
	struct work_struct free_work;
};

/* Trackers by disk; writers walk a bucket under RCU. */
#define CBT_HASH_BITS		6
extern struct hlist_head cbt_tracker_hash[1 << CBT_HASH_BITS];

/*
 * May @disk be tracked? False means surely not: its bucket is empty (one
 * hash and one load, no RCU section; a tracker published concurrently is
 * found by the next bio, attach drains the ones before). The hook asks this
 * first, for every write on the machine.
 */
static __always_inline bool cbt_disk_maybe_tracked(struct gendisk *disk)
{
	return !hlist_empty(&cbt_tracker_hash[hash_ptr(disk, CBT_HASH_BITS)]);
}

/*
 * Write path, in any context that may submit a bio. cbt_hook_write() runs
 * in the hook itself and never sleeps: it records a write to a tracked
 * disk, unless the write may have to wait for copy-on-write (its old data
 * on a snapshotted member is not all preserved yet); then it records
 * nothing and returns true, and the bio must go through
 * cbt_track_write() instead, which may copy old data first (sleeping only
 * where the submitter may) and returns true when copy-on-write took the
 * bio to submit it later. @wanted: the hook found a copy wanted a moment
 * ago (so the first look does not test the pieces again).
 */
bool cbt_hook_write(struct bio *bio);
bool cbt_track_write(struct bio *bio, bool wanted);
/* Record a write made to a snapshot image (sectors relative to the volume). */
void cbt_tracker_mark_range(struct cbt_tracker *t, sector_t sector,
			    sector_t end);

/* Control path: process context, may sleep. Negative errno on failure. */
int cbt_tracker_attach(dev_t devt, unsigned int block_size,
		       struct cbt_tracker **out);
int cbt_tracker_detach(dev_t devt);
struct cbt_tracker *cbt_tracker_get(dev_t devt);
void cbt_tracker_put(struct cbt_tracker *t);
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
void cbt_tracker_status(struct cbt_tracker *t, struct cbt_tracker_status *st);
/* Size in bytes and block size, without the cost of a full status. */
void cbt_tracker_geometry(struct cbt_tracker *t, u64 *bytes, u32 *block_size);

/*
 * Changed blocks since generation @since of tracker @uuid within blocks
 * [first, last]; @emit as for cbt_map_scan(). Returns the block where the
 * scan stopped, or a negative errno (-ESTALE: the map cannot answer).
 */
s64 cbt_tracker_changes(struct cbt_tracker *t, const uuid_t *uuid, u64 since,
			u64 first, u64 last, cbt_map_emit_fn emit, void *ctx);

/*
 * The snapshot instant for @n trackers: with every tracker's lock held,
 * publish each one's copy-on-write state, then close each one's generation
 * and drain it, all within @timeout_ms. Fills @uuids/@gens with the stamps.
 * On failure nothing stays published.
 */
int cbt_tracker_snapshot(struct cbt_tracker **ts, struct cbt_cow **cows,
			 unsigned int n, unsigned int timeout_ms,
			 uuid_t *uuids, u64 *gens);
/* Stop copy-on-write for @t (the caller then waits for a grace period). */
void cbt_tracker_clear_cow(struct cbt_tracker *t);

/* Drop trackers whose device went away; called periodically. */
void cbt_tracker_reap(void);
/* Show every tracker, one line each (debugfs). */
void cbt_tracker_show(struct seq_file *m);

int cbt_tracker_init(void);
void cbt_tracker_exit(void);

#endif /* CBT_TRACKER_H */
