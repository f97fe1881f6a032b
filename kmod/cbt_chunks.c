// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_chunks.c - where copy-on-write remembers what it preserved: a
 * member's chunk table (see cbt_chunks.h).
 */
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include "cbt_chunks.h"

int cbt_chunks_init(struct cbt_chunk_table *t, u64 nr_chunks,
		    unsigned int pieces)
{
	t->nr_groups = DIV_ROUND_UP_ULL(nr_chunks, CBT_CHUNK_GROUP);
	t->stride = struct_size((struct cbt_chunk *)NULL, have,
				BITS_TO_LONGS(pieces));
	t->groups = kvcalloc(t->nr_groups, sizeof(*t->groups), GFP_KERNEL);
	return t->groups ? 0 : -ENOMEM;
}

void cbt_chunks_free(struct cbt_chunk_table *t)
{
	u64 i;

	if (!t->groups)
		return;
	for (i = 0; i < t->nr_groups; i++)
		kvfree(t->groups[i]);
	kvfree(t->groups);
	t->groups = NULL;
}

static void *group_make(struct cbt_chunk_table *t)
{
	unsigned int noio = memalloc_noio_save();
	void *group;
	int i;

	group = kvzalloc(CBT_CHUNK_GROUP * t->stride, GFP_KERNEL);
	memalloc_noio_restore(noio);
	if (!group)
		return NULL;
	for (i = 0; i < CBT_CHUNK_GROUP; i++)
		((struct cbt_chunk *)(group + i * t->stride))->slot = CBT_NO_SLOT;
	return group;
}

struct cbt_chunk *cbt_chunks_get(struct cbt_chunk_table *t, u64 chunk)
{
	void **place = &t->groups[chunk / CBT_CHUNK_GROUP];
	void *group, *old;

	if (!READ_ONCE(*place)) {
		group = group_make(t);
		if (!group)
			return NULL;
		/* Whole before it is seen; a racing maker's group wins. */
		old = cmpxchg(place, NULL, group);
		if (old)
			kvfree(group);
	}
	return cbt_chunks_find(t, chunk);
}
