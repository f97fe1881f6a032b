/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_completion.h - following a write's completion: a record keeps its
 * bio's own end_io and private fields while ours stand in for them, and
 * counts the write in its generation's slot until it completes.
 */
#ifndef CBT_COMPLETION_H
#define CBT_COMPLETION_H

#include <linux/bio.h>
#include <linux/percpu.h>

struct cbt_bio_hook {
	bio_end_io_t *end_io;
	void *private;
	long __percpu *inflight;	/* its tracker's count, by generation parity */
	struct gendisk *disk;		/* the disk the write was followed on */
	unsigned long epoch;		/* cbt_follow_epoch, read before marking */
	struct cbt_bio_hook *next;	/* on a per-CPU free list */
};

/* Our end_io while a write is followed. */
void cbt_follow_end_io(struct bio *bio);

/*
 * Each CPU keeps one spare record, taken and given back with a single
 * this_cpu_xchg() (safe against interrupts on the same CPU without turning
 * them off): a device that completes writes as fast as they come, or one
 * at a time, never goes further. The rest is in cbt_completion.c.
 */
DECLARE_PER_CPU(struct cbt_bio_hook *, cbt_hook_spare);

struct cbt_bio_hook *cbt_hook_alloc_slow(void);
void cbt_hook_free_slow(struct cbt_bio_hook *hook);

/* Never sleeps, any context; NULL when no memory. */
static __always_inline struct cbt_bio_hook *cbt_hook_alloc(void)
{
	struct cbt_bio_hook *hook = this_cpu_xchg(cbt_hook_spare, NULL);

	return likely(hook) ? hook : cbt_hook_alloc_slow();
}

static __always_inline void cbt_hook_free(struct cbt_bio_hook *hook)
{
	hook = this_cpu_xchg(cbt_hook_spare, hook);
	if (unlikely(hook))
		cbt_hook_free_slow(hook);
}

/*
 * Advanced each time a tracker starts over on a disk (attach, reset),
 * after it is published and before it settles. A record made under an
 * older epoch may have missed that tracker: its bio, when it passes the
 * hook again (a split remainder, a write blk-throttle held), is not
 * followed any more and is marked again. Writers read it with
 * cbt_follow_epoch_read() before they look for trackers, so a record of
 * the current epoch saw every tracker there is.
 */
extern atomic_long_t cbt_follow_epoch;

static __always_inline unsigned long cbt_follow_epoch_read(void)
{
	unsigned long epoch = atomic_long_read(&cbt_follow_epoch);

	smp_rmb();	/* before the tracker walk: pairs with the advance */
	return epoch;
}

/* Control path: the tracker or map just published is seen by new epochs. */
static inline void cbt_follow_epoch_advance(void)
{
	smp_mb__before_atomic();
	atomic_long_inc(&cbt_follow_epoch);
}

/*
 * Count @bio in @inflight until it completes; false when no record could
 * be had (nothing changed then).
 */
static __always_inline bool cbt_follow_bio(struct bio *bio,
					   long __percpu *inflight,
					   unsigned long epoch)
{
	struct cbt_bio_hook *hook = cbt_hook_alloc();

	if (unlikely(!hook))
		return false;
	hook->end_io = bio->bi_end_io;
	hook->private = bio->bi_private;
	hook->inflight = inflight;
	hook->disk = bio->bi_bdev->bd_disk;
	hook->epoch = epoch;
	this_cpu_inc(*inflight);
	bio->bi_private = hook;
	bio->bi_end_io = cbt_follow_end_io;
	return true;
}

/*
 * Is @bio followed on the disk it is going to already, since the last
 * tracker started there? Then it has been marked and counted whole, and
 * this is the same write passing again: a remainder that
 * bio_split_to_limits() or a stacked driver resubmits, a bio blk-throttle
 * held, or a bio copy-on-write held and now submits.
 */
static __always_inline bool cbt_bio_followed(struct bio *bio)
{
	struct cbt_bio_hook *hook = bio->bi_private;

	return bio->bi_end_io == cbt_follow_end_io &&
	       hook->disk == bio->bi_bdev->bd_disk &&
	       hook->epoch == (unsigned long)atomic_long_read(&cbt_follow_epoch);
}

int cbt_completion_init(void);
void cbt_completion_exit(void);

#endif /* CBT_COMPLETION_H */
