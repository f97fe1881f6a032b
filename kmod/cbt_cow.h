/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_cow.h - copy-on-write: a snapshot member's old data, preserved in the
 * set's store before a write may overwrite it; and the state the members
 * of one set share on the write path.
 */
#ifndef CBT_COW_H
#define CBT_COW_H

#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/kref.h>
#include <linux/rwsem.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include "cbt_chunks.h"
#include "cbt_ioctl.h"
#include "cbt_store.h"

struct cbt_tracker;

#define CBT_COW_LOCKS		64	/* hashed chunk locks per member */
#define CBT_PIECE_SHIFT		12	/* copy-on-write unit inside a chunk */

/* Bits in cbt_cow_set.flags. */
enum {
	CBT_SET_READY,		/* the instant is past: copy-on-write runs */
	CBT_SET_DEAD,		/* abandoned or destroyed: everything passes */
	CBT_SET_OVERFLOW,	/* the store ran out: images fail */
	CBT_SET_INVALID,	/* a member went away or a copy failed */
	CBT_SET_LOW_SPACE,	/* the low-space event was raised */
	CBT_SET_WRITABLE,
};

/*
 * What the members of one snapshot set share: whether the instant is past
 * and whether the set failed, the store, the workqueue that copies for
 * held writes and serves the images, and the events that say so. It lives
 * in the set (cbt_snapshot.c), which frees it through @release once the
 * last reference is gone: the set list holds one, and so does every
 * claimed copy, queued write, image request and event reader.
 */
struct cbt_cow_set {
	struct kref ref;
	void (*release)(struct cbt_cow_set *cs);
	u32 id;
	unsigned long flags;		/* CBT_SET_* bits, atomic */
	int error;			/* why INVALID/OVERFLOW, negative errno */
	wait_queue_head_t ready_wq;	/* held writes wait for READY or DEAD */
	struct workqueue_struct *wq;
	struct cbt_store store;
	atomic64_t chunks_copied;
	/*
	 * Claims not yet released: writers copying in their own context and
	 * held writes, which use the store outside any RCU section; teardown
	 * waits for none to be left before it releases the store. Of those,
	 * @inline_copies may copy in a submitter's context: a store growing
	 * by its first file waits for none to be left (cbt_cow_set_no_inline).
	 */
	atomic_t claims;
	atomic_t inline_copies;
	/* Events: @event_seq counts state changes; readers wait on @event_wq. */
	wait_queue_head_t event_wq;
	atomic64_t event_seq;
};

/* One member: a tracked volume's copy-on-write state and its image. */
struct cbt_cow {
	struct cbt_cow_set *set;
	struct cbt_tracker *tracker;	/* referenced for the set's lifetime */
	struct block_device *origin;
	sector_t start;			/* first sector of the origin on its disk */
	sector_t nr_sects;		/* origin size at the instant */
	unsigned int chunk_shift;	/* log2(chunk bytes) */
	u64 nr_chunks;
	unsigned int index;		/* in the set */
	struct cbt_stamp stamp;
	u32 frozen;			/* filesystems frozen on it at the instant */
	/* The generation writes held before the instant mark (set before publication). */
	u64 first_gen;

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

/* ---- the set's shared state --------------------------------------------- */

void cbt_cow_set_init(struct cbt_cow_set *cs, u32 id,
		      void (*release)(struct cbt_cow_set *cs));
void cbt_cow_set_get(struct cbt_cow_set *cs);
void cbt_cow_set_put(struct cbt_cow_set *cs);
/* Any context: mark the set failed (images then read EIO) and say so. */
void cbt_cow_set_fail(struct cbt_cow_set *cs, int bit, int error);
bool cbt_cow_set_usable(struct cbt_cow_set *cs);
/* Raise an event: the state changed (readers see it in their next read). */
void cbt_cow_set_event(struct cbt_cow_set *cs);
/* Raise the low-space event when space is low and it was not raised. */
void cbt_cow_set_check_space(struct cbt_cow_set *cs);
/* Teardown, once the hooks no longer see the set: wait for every claim. */
void cbt_cow_set_quiesce(struct cbt_cow_set *cs);
/*
 * Before a regular file joins the store: from now on no submitter copies
 * itself (cbt_store_has_files()), and none that decided to still does.
 */
void cbt_cow_set_no_inline(struct cbt_cow_set *cs);

/* ---- members ------------------------------------------------------------ */

/* ERR_PTR(-ETIMEDOUT) when @t's lock is not had by @deadline (jiffies). */
struct cbt_cow *cbt_cow_alloc(struct cbt_cow_set *cs, struct cbt_tracker *t,
			      unsigned int index, unsigned long deadline);
void cbt_cow_free(struct cbt_cow *cow);

/* ---- the write path ------------------------------------------------------ */

/*
 * May a write to sectors [sector, end) of @cow's disk have to wait for
 * copy-on-write? False in the steady state (its pieces are preserved), for
 * a dead or failed set and outside the member. Under RCU; never sleeps; no
 * side effects.
 */
bool cbt_cow_wanted(struct cbt_cow *cow, sector_t sector, sector_t end);

/* The generation a write to the member marks at least (RCU). */
static inline u64 cbt_cow_first_gen(const struct cbt_cow *cow)
{
	return READ_ONCE(cow->first_gen);
}

/* Snapshot sets one write may hold claims on, at most. */
#define CBT_COW_MAX_CLAIMS	4

/* A write's hold on one member: the set, and the member's bytes it covers. */
struct cbt_cow_claim {
	struct cbt_cow *cow;
	u64 pos, end;
	bool inline_copy;	/* the submitter may copy itself */
};

/*
 * May @bio's submitter sleep and submit I/O of its own (process context,
 * no current->bio_list, not REQ_NOWAIT, in no RCU section)? Asked before
 * the caller enters its own RCU section.
 */
bool cbt_cow_may_sleep(struct bio *bio);
/*
 * Under RCU, for a write to sectors [sector, end) that cbt_cow_wanted()
 * said yes to: take a reference and a claim on the set, so that it
 * outlives the RCU section, and say whether the submitter may copy the old
 * data itself, right now: only after the instant, when it @may_sleep, and
 * to a store without files (a file is written through the VFS, which is
 * never done in a bio submitter's context).
 */
void cbt_cow_claim(struct cbt_cow *cow, bool may_sleep, sector_t sector,
		   sector_t end, struct cbt_cow_claim *claim);
/* Preserve the claimed range; when it returns, it is, or the set failed. */
void cbt_cow_copy(struct cbt_cow_claim *claim);
void cbt_cow_release(struct cbt_cow_claim *claim);
/*
 * Take @bio, already marked and followed: the set's workqueue waits for
 * the instant, copies each claimed range, submits the bio and releases
 * the claims. Never fails the write: without memory the sets fail and the
 * bio goes on at once.
 */
void cbt_cow_defer(struct bio *bio, struct cbt_cow_claim *claims,
		   unsigned int n);
/* A write reached a member without the copy it needed: the set fails. */
void cbt_cow_fail(struct cbt_cow *cow, int error);

/* ---- copies, for the images ---------------------------------------------- */

/*
 * Preserve bytes [pos, end) of @chunk (all within it) if they are not yet;
 * the caller holds the chunk's lock for writing.
 */
int cbt_cow_copy_locked(struct cbt_cow *cow, u64 chunk, u64 pos, u64 end);
struct rw_semaphore *cbt_cow_lock(struct cbt_cow *cow, u64 chunk);
bool cbt_cow_have(const struct cbt_chunk *c, unsigned int piece);

int cbt_cow_init(void);
void cbt_cow_exit(void);

#endif /* CBT_COW_H */
