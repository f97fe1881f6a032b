/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_generation.h - the generation proof: why a stamp "uuid:g" separates
 * every write into "completed before it, generation <= g in the map" and
 * "completed after it, generation > g". See cbt_generation.c.
 */
#ifndef CBT_GENERATION_H
#define CBT_GENERATION_H

#include <linux/bio.h>
#include <linux/percpu.h>
#include <linux/types.h>
#include "cbt_completion.h"
#include "cbt_map.h"

/* Writes in flight, counted per CPU, by the parity of their generation. */
struct cbt_inflight {
	long n[2];
};

/*
 * One tracker's generations. @open changes only under the tracker's lock
 * (writers READ_ONCE it under RCU); so do the others.
 */
struct cbt_gens {
	u64 open;		/* what writers mark with */
	u64 unsettled;		/* closed, but its writes may be in flight; 0: none */
	u64 low;		/* no non-zero map code is older than this */
	u64 oldest;		/* the oldest generation a stamp may name */
	struct cbt_inflight __percpu *inflight;
};

int cbt_gens_init(struct cbt_gens *g);
/* Once no writer can find the tracker: waits until nothing is in flight. */
void cbt_gens_destroy(struct cbt_gens *g);

/* ---- the write path (any context, under RCU) ---------------------------- */

/* The generation a write marks now (a held write may mark a later one). */
static __always_inline u64 cbt_gens_open(const struct cbt_gens *g)
{
	return READ_ONCE(g->open);
}

/*
 * Count @bio in the slot of @gen until it completes. False when there is no
 * memory for the record: the write is then not followed and the caller
 * must treat continuity as lost.
 */
static __always_inline bool cbt_gens_follow(struct cbt_gens *g, struct bio *bio,
					    u64 gen, unsigned long epoch)
{
	return cbt_follow_bio(bio, &g->inflight->n[gen & 1], epoch);
}

/* Mark blocks [first, last] of @map with @gen; -ENOMEM: a page was missing. */
static __always_inline int cbt_gens_mark(struct cbt_map *map, u64 first,
					 u64 last, u64 gen)
{
	u8 code = cbt_gen_code(gen), newer = cbt_gen_code(gen + 1);

	if (cbt_map_mark_fast(map, first, last, code, newer))
		return 0;
	return cbt_map_mark(map, first, last, code, newer);
}

/* ---- the control path (process context, under the tracker's lock) ----- */

/*
 * Make ready to open the next generation, by @deadline (jiffies): wait for
 * the writes of a generation whose drain timed out, and sweep the map when
 * the next code would alias an older one. Nothing is held meanwhile.
 */
int cbt_gens_prepare(struct cbt_gens *g, struct cbt_map *map,
		     unsigned long deadline);
/*
 * Open the next generation. The caller then waits for a grace period
 * (after which no writer marks with the one closed) before draining.
 */
void cbt_gens_publish(struct cbt_gens *g);
/*
 * Wait by @deadline until every write of the generation just closed has
 * completed. On -ETIMEDOUT it stays unsettled: no stamp may name it or a
 * later generation until cbt_gens_prepare() has waited for it.
 */
int cbt_gens_drain(struct cbt_gens *g, unsigned long deadline);
/* A new identity: nothing older than the open generation can be named. */
void cbt_gens_restart(struct cbt_gens *g);

/*
 * May stamp generation @since be answered? -ESTALE: older than the map
 * remembers; -EINVAL: never issued. On success @wanted[code] says which
 * map codes were written after it.
 */
int cbt_gens_since(const struct cbt_gens *g, u64 since, bool wanted[256]);

#endif /* CBT_GENERATION_H */
