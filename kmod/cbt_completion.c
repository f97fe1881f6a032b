// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_completion.c - the records a tracked write's completion needs, one
 * per write in flight, taken and given back on the write path.
 *
 * Each CPU keeps a spare record (see cbt_completion.h) and, behind it, a
 * short free list for devices with many writes in flight, touched with
 * interrupts off (completions run in interrupt context too). Below that a
 * mempool: the slab, then a reserve for when memory is short. A write
 * completing on another CPU than it was submitted on simply moves its
 * record to that CPU; a full list gives records back to the mempool.
 */
#include <linux/irqflags.h>
#include <linux/mempool.h>
#include <linux/percpu.h>
#include <linux/slab.h>
#include "cbt_completion.h"

#define CBT_HOOK_RESERVE	1024	/* in the mempool */
#define CBT_HOOK_CPU_MAX	128	/* on each CPU's list */

struct hook_list {
	struct cbt_bio_hook *head;
	unsigned int nr;
};

DEFINE_PER_CPU(struct cbt_bio_hook *, cbt_hook_spare);
atomic_long_t cbt_follow_epoch = ATOMIC_LONG_INIT(0);
/* Each CPU's list; only touched by its CPU, with interrupts off. */
static DEFINE_PER_CPU(struct hook_list, cbt_hook_lists);
static struct kmem_cache *cbt_hook_cache;
static mempool_t *cbt_hook_pool;

void cbt_follow_end_io(struct bio *bio)
{
	struct cbt_bio_hook *hook = bio->bi_private;
	long __percpu *inflight = hook->inflight;

	bio->bi_end_io = hook->end_io;
	bio->bi_private = hook->private;
	cbt_hook_free(hook);
	/*
	 * The write's last touch of its tracker: once every count is back to
	 * zero, the tracker may be freed. Drains poll the counts, so there is
	 * nobody to wake up.
	 */
	this_cpu_dec(*inflight);
	if (bio->bi_end_io)
		bio->bi_end_io(bio);
}

/* No spare on this CPU: its list, else the slab or the reserve. */
struct cbt_bio_hook *cbt_hook_alloc_slow(void)
{
	struct cbt_bio_hook *hook;
	struct hook_list *list;
	unsigned long flags;

	local_irq_save(flags);
	list = this_cpu_ptr(&cbt_hook_lists);
	hook = list->head;
	if (hook) {
		list->head = hook->next;
		list->nr--;
	}
	local_irq_restore(flags);
	if (hook)
		return hook;
	return mempool_alloc(cbt_hook_pool, GFP_NOWAIT | __GFP_NOWARN);
}

/* This CPU has a spare already. */
void cbt_hook_free_slow(struct cbt_bio_hook *hook)
{
	struct hook_list *list;
	unsigned long flags;

	local_irq_save(flags);
	list = this_cpu_ptr(&cbt_hook_lists);
	if (list->nr < CBT_HOOK_CPU_MAX) {
		hook->next = list->head;
		list->head = hook;
		list->nr++;
		hook = NULL;
	}
	local_irq_restore(flags);
	if (hook)
		mempool_free(hook, cbt_hook_pool);
}

int cbt_completion_init(void)
{
	cbt_hook_cache = KMEM_CACHE(cbt_bio_hook, 0);
	if (!cbt_hook_cache)
		return -ENOMEM;
	cbt_hook_pool = mempool_create_slab_pool(CBT_HOOK_RESERVE, cbt_hook_cache);
	if (!cbt_hook_pool) {
		kmem_cache_destroy(cbt_hook_cache);
		return -ENOMEM;
	}
	return 0;
}

/* Once no write is followed any more (every tracker is freed). */
void cbt_completion_exit(void)
{
	struct cbt_bio_hook *hook;
	struct hook_list *list;
	int cpu;

	for_each_possible_cpu(cpu) {
		hook = per_cpu(cbt_hook_spare, cpu);
		if (hook)
			mempool_free(hook, cbt_hook_pool);
		per_cpu(cbt_hook_spare, cpu) = NULL;
		list = per_cpu_ptr(&cbt_hook_lists, cpu);
		while ((hook = list->head)) {
			list->head = hook->next;
			mempool_free(hook, cbt_hook_pool);
		}
		list->nr = 0;
	}
	mempool_destroy(cbt_hook_pool);
	kmem_cache_destroy(cbt_hook_cache);
}
