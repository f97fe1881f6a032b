/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_completion.h - following a write's completion: what its bio's own
 * end_io and private fields were while ours stand in for them.
 */
#ifndef CBT_COMPLETION_H
#define CBT_COMPLETION_H

#include <linux/bio.h>
#include <linux/percpu.h>

struct cbt_bio_hook {
	bio_end_io_t *end_io;
	void *private;
	long __percpu *inflight;	/* its tracker's count, by generation parity */
	struct cbt_bio_hook *next;	/* on a per-CPU free list */
};

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

int cbt_completion_init(void);
void cbt_completion_exit(void);

#endif /* CBT_COMPLETION_H */
