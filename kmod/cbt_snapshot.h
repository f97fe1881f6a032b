/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_snapshot.h - snapshot sets: one or more tracked volumes snapshotted
 * at one instant, each member with a copy-on-write state and an image.
 */
#ifndef CBT_SNAPSHOT_H
#define CBT_SNAPSHOT_H

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/kref.h>
#include <linux/llist.h>
#include <linux/workqueue.h>
#include <linux/rwsem.h>
#include <linux/wait.h>
#include "cbt_chunks.h"
#include "cbt_ioctl.h"
#include "cbt_store.h"

struct cbt_tracker;
struct cbt_snapset;

#define CBT_COW_LOCKS		64	/* hashed chunk locks per member */
#define CBT_PIECE_SHIFT		12	/* copy-on-write unit inside a chunk */

/* Bits in cbt_snapset.flags. */
enum {
	CBT_SET_READY,		/* the instant is past: copy-on-write runs */
	CBT_SET_DEAD,		/* abandoned or destroyed: everything passes */
	CBT_SET_OVERFLOW,	/* the store ran out: images fail */
	CBT_SET_INVALID,	/* a member went away or a copy failed */
	CBT_SET_LOW_SPACE,	/* the low-space event was raised */
	CBT_SET_WRITABLE,
};

/* One member: a tracked volume's copy-on-write state and its image. */
struct cbt_cow {
	struct cbt_snapset *set;
	struct cbt_tracker *tracker;	/* referenced for the set's lifetime */
	struct block_device *origin;
	sector_t start;			/* first sector of the origin on its disk */
	sector_t nr_sects;		/* origin size at the instant */
	unsigned int chunk_shift;	/* log2(chunk bytes) */
	u64 nr_chunks;
	unsigned int index;		/* in the set */
	struct cbt_stamp stamp;

	/* Chunks whose old data is wholly in the store: lock-free tests. */
	unsigned long *copied;
	/* chunk -> slot and pieces preserved; made under the chunk's lock */
	struct cbt_chunk_table chunks;
	/*
	 * Chunk locks, hashed by chunk number: a copy takes its chunk's lock
	 * for writing, an image read of a chunk not yet copied takes it for
	 * reading across its read of the origin, so a write to the origin can
	 * never slip between that read's "not copied" test and its data.
	 */
	struct rw_semaphore locks[CBT_COW_LOCKS];

	struct gendisk *image;
	bool image_added;
};

struct cbt_snapset {
	u32 id;
	struct list_head node;		/* cbt_snapsets, under cbt_snapsets_mutex */
	struct kref ref;
	unsigned long flags;		/* CBT_SET_* bits, atomic */
	wait_queue_head_t ready_wq;	/* workers wait for READY or DEAD */
	struct workqueue_struct *wq;	/* copies and image I/O */
	struct cbt_store store;
	u64 created_ns, hold_ns;
	atomic64_t chunks_copied;
	/*
	 * Writers between a copy verdict and the end of their own copy: they
	 * use the store outside any RCU section, so teardown waits for none
	 * to be left before it releases the store.
	 */
	atomic_t copiers;

	/* Events: @event_seq counts state changes; readers wait on @event_wq. */
	wait_queue_head_t event_wq;
	atomic64_t event_seq;
	int error;			/* why INVALID/OVERFLOW, negative errno */

	unsigned int nr;
	struct cbt_cow *members[CBT_SNAP_MAX_MEMBERS];
};

/* ---- cbt_cow.c: the write path and copies ----------------------------- */

enum cbt_cow_verdict {
	CBT_COW_PASS,		/* nothing to copy: the write goes on */
	CBT_COW_QUEUED,		/* taken: submitted again once its chunks are safe */
	CBT_COW_COPY,		/* the caller copies the byte range itself */
};

/*
 * May a write to sectors [sector, end) of @cow's disk have to wait for
 * copy-on-write? False in the steady state (its pieces are preserved), for
 * a dead or failed set and outside the member. Under rcu_read_lock; never
 * sleeps; no side effects.
 */
bool cbt_cow_wanted(struct cbt_cow *cow, sector_t sector, sector_t end);
/*
 * Called from the write hook under rcu_read_lock for a write to sectors
 * [sector, end) of @cow's disk; never sleeps. @wanted: cbt_cow_wanted()
 * said yes a moment ago, so the pieces are not tested again. CBT_COW_COPY
 * (the submitter may sleep) comes with a set reference and the member's
 * byte range: the caller, out of its RCU section, calls
 * cbt_cow_copy_range(), then cbt_cow_copy_end(), which drops the reference.
 */
enum cbt_cow_verdict cbt_cow_hold(struct cbt_cow *cow, struct bio *bio,
				  sector_t sector, sector_t end, bool wanted,
				  u64 *pos, u64 *stop);
/*
 * The writer's own copy after CBT_COW_COPY: when it returns, the range is
 * preserved or the set has failed. Then, once the writer no longer needs
 * @cow, cbt_cow_copy_end() drops what the verdict took.
 */
void cbt_cow_copy_range(struct cbt_cow *cow, u64 pos, u64 end);
void cbt_cow_copy_end(struct cbt_cow *cow);
/* Teardown, once the hook no longer sees the set: wait for writers' copies. */
void cbt_cow_quiesce(struct cbt_snapset *set);
/*
 * Preserve bytes [pos, end) of @chunk (all within it) if they are not yet;
 * the caller holds the chunk's lock for writing.
 */
int cbt_cow_copy_locked(struct cbt_cow *cow, u64 chunk, u64 pos, u64 end);
struct rw_semaphore *cbt_cow_lock(struct cbt_cow *cow, u64 chunk);
bool cbt_cow_have(const struct cbt_chunk *c, unsigned int piece);
void cbt_cow_free_chunks(struct cbt_cow *cow);
int cbt_cow_init(void);
void cbt_cow_exit(void);

/* ---- cbt_image.c: the image block devices ----------------------------- */

int cbt_image_init(void);
void cbt_image_exit(void);
int cbt_image_create(struct cbt_cow *cow);
int cbt_image_add(struct cbt_cow *cow);
void cbt_image_remove(struct cbt_cow *cow);
void cbt_image_free(struct cbt_cow *cow);

/* ---- cbt_snapshot.c: sets ---------------------------------------------- */

void cbt_snapset_get(struct cbt_snapset *set);
void cbt_snapset_put(struct cbt_snapset *set);
/* Mark the set failed (images then read EIO) and raise an event. */
void cbt_snapset_fail(struct cbt_snapset *set, int bit, int error);
/* Called after a slot was handed out: raise low space when due. */
void cbt_snapset_check_space(struct cbt_snapset *set);
bool cbt_snapset_usable(struct cbt_snapset *set);

int cbt_snapset_create(struct cbt_snap_member *members, unsigned int count,
		       u32 flags, struct file *store, unsigned int hold_ms,
		       unsigned int low_space, u32 *id, u64 *hold_ns);
int cbt_snapset_grow(u32 id, struct file *store);
int cbt_snapset_destroy(u32 id);
int cbt_snapset_info(u32 id, struct cbt_snap_info *info,
		     struct cbt_snap_member *members, unsigned int capacity);
int cbt_snapset_list(u32 *ids, u32 capacity, u32 *count);
int cbt_snapset_events_fd(u32 id);
void cbt_snapset_show(struct seq_file *m);
int cbt_snapshot_init(void);
void cbt_snapshot_exit(void);

#endif /* CBT_SNAPSHOT_H */
