// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_generation.c - the generation proof.
 *
 * A tracker's open generation is what every write marks its blocks with,
 * under RCU, before the write is submitted; the write is also counted in
 * one of two per-CPU slots, by the parity of the generation it marked,
 * until it completes. A stamp "uuid:g" must mean: every write that
 * completed before the stamp was handed out has a generation <= g in the
 * map, and every write that completes after it has a generation > g.
 *
 * Closing generation g (a checkpoint, or a snapshot's instant):
 *
 *  1. prepare: slot (g + 1) & 1, the one g + 1 will use, holds no write;
 *     it was drained when g - 1 was closed, or, when that drain timed out
 *     (g - 1 "unsettled"), it is drained now. This is what makes two slots
 *     enough, and it is checked (WARN_ON_ONCE) every time. The map is swept
 *     here too when code(g + 1) would alias a code still in it, so no
 *     sweep ever runs while writes are held.
 *  2. publish g + 1, then wait for a grace period: no writer can still be
 *     marking with g (they read the open generation inside their RCU
 *     section, and mark before they leave it).
 *  3. drain slot g & 1: every write marked g has completed.
 *
 * Only then may "uuid:g" be handed out. When step 3 times out, g stays
 * unsettled: the caller gets no stamp, and the next close waits for g's
 * writes in step 1 before it can hand out g + 1. So a write held in flight
 * across a timed-out checkpoint can never complete behind a later stamp.
 *
 * Marking never lowers a block (cbt_map.h): a writer that read g before
 * g + 1 was published must not overwrite a code(g + 1) stored by a second
 * write to the same block, or stamp g would hide the second write. While
 * any writer still marks with g, nothing newer than g + 1 can be open.
 *
 * Codes: a map byte folds a generation into 1..255. Every non-zero code in
 * the map belongs to a generation in [low, open + 1]; before that window
 * would wrap, prepare zeroes the codes of all but the newest
 * CBT_SWEEP_KEEP generations and raises @oldest: older stamps then get
 * ESTALE. A snapshot's held writes mark open + 1 before it is published
 * (they belong after the instant): the window leaves room for that.
 */
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/rcupdate.h>
#include "cbt_generation.h"

#define CBT_SWEEP_KEEP		128	/* generations kept answerable by a sweep */

int cbt_gens_init(struct cbt_gens *g)
{
	g->inflight = alloc_percpu(struct cbt_inflight);
	if (!g->inflight)
		return -ENOMEM;
	g->open = 1;
	g->unsettled = 0;
	g->low = 1;
	g->oldest = 1;
	return 0;
}

static long inflight_sum(struct cbt_gens *g, unsigned int slot)
{
	long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu_ptr(g->inflight, cpu)->n[slot];
	return sum;
}

void cbt_gens_destroy(struct cbt_gens *g)
{
	if (!g->inflight)
		return;
	while (inflight_sum(g, 0) || inflight_sum(g, 1))
		msleep(1);
	free_percpu(g->inflight);
	g->inflight = NULL;
}

/*
 * Wait until no write counted in @slot is in flight. No new write can join
 * the slot (its generation is closed and a grace period has passed), so the
 * sum only falls; reading per-CPU counters while it falls can only
 * overestimate it. The sum is polled, finely at first (a snapshot's writes
 * are held meanwhile), so that completions, which run for every tracked
 * write, need not wake anyone.
 */
static int drain_slot(struct cbt_gens *g, unsigned int slot,
		      unsigned long deadline)
{
	unsigned int polls;

	for (polls = 0; inflight_sum(g, slot); polls++) {
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
		if (polls < 200)
			usleep_range(20, 50);
		else
			msleep(1);
	}
	return 0;
}

/*
 * Before generation @next may be marked, no code in @map may still belong
 * to the generation whose code it reuses (nor to the one after it, which a
 * snapshot's held writes may mark).
 */
static void make_room(struct cbt_gens *g, struct cbt_map *map, u64 next)
{
	u64 cur = g->open, floor = cur - CBT_SWEEP_KEEP;
	bool stale[256];
	unsigned int v;

	if (next + 1 < g->low + CBT_GEN_WINDOW)
		return;
	stale[0] = false;
	for (v = 1; v < 256; v++)
		stale[v] = cur - cbt_gen_age(v, cur) <= floor;
	/* Folded, open + 1 looks oldest of all: held writes' marks stay. */
	stale[cbt_gen_code(cur + 1)] = false;
	cbt_map_sweep(map, stale);
	g->low = floor + 1;
	g->oldest = max(g->oldest, floor);
}

int cbt_gens_prepare(struct cbt_gens *g, struct cbt_map *map,
		     unsigned long deadline)
{
	int ret;

	if (g->unsettled) {
		ret = drain_slot(g, g->unsettled & 1, deadline);
		if (ret)
			return ret;
		g->unsettled = 0;
	}
	/* The slot the next generation will use must be empty by now. */
	WARN_ON_ONCE(inflight_sum(g, (g->open + 1) & 1));
	make_room(g, map, g->open + 1);
	return 0;
}

void cbt_gens_publish(struct cbt_gens *g)
{
	g->unsettled = g->open;
	WRITE_ONCE(g->open, g->open + 1);
}

int cbt_gens_drain(struct cbt_gens *g, unsigned long deadline)
{
	int ret = drain_slot(g, g->unsettled & 1, deadline);

	if (!ret)
		g->unsettled = 0;
	return ret;
}

void cbt_gens_restart(struct cbt_gens *g)
{
	g->low = g->open;
	g->oldest = g->open;
}

int cbt_gens_since(const struct cbt_gens *g, u64 since, bool wanted[256])
{
	unsigned int v;

	if (since < g->oldest)
		return -ESTALE;
	if (since >= g->open)
		return -EINVAL;	/* never issued */
	wanted[0] = false;
	for (v = 1; v < 256; v++)
		wanted[v] = g->open - cbt_gen_age(v, g->open) > since;
	wanted[cbt_gen_code(g->open + 1)] = true;	/* a held write's mark */
	return 0;
}
