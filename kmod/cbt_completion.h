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
 * Count @bio in @inflight until it completes; false when no record could
 * be had (nothing changed then).
 */
static __always_inline bool cbt_follow_bio(struct bio *bio,
					   long __percpu *inflight)
{
	struct cbt_bio_hook *hook = cbt_hook_alloc();

	if (unlikely(!hook))
		return false;
	hook->end_io = bio->bi_end_io;
	hook->private = bio->bi_private;
	hook->inflight = inflight;
	hook->disk = bio->bi_bdev->bd_disk;
	this_cpu_inc(*inflight);
	bio->bi_private = hook;
	bio->bi_end_io = cbt_follow_end_io;
	return true;
}

/*
 * Is @bio followed on the disk it is going to already? Then it has been
 * marked and counted whole, and this is the same write passing again: a
 * remainder that bio_split_to_limits() or a stacked driver resubmits, or a
 * bio copy-on-write held and now submits.
 */
static __always_inline bool cbt_bio_followed(struct bio *bio)
{
	return bio->bi_end_io == cbt_follow_end_io &&
	       ((struct cbt_bio_hook *)bio->bi_private)->disk ==
	       bio->bi_bdev->bd_disk;
}

int cbt_completion_init(void);
void cbt_completion_exit(void);

#endif /* CBT_COMPLETION_H */
