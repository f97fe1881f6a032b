/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_chunks.h - a member's chunk table: for each chunk of the origin, the
 * store slot its old data goes to and which of its pieces are there.
 */
#ifndef CBT_CHUNKS_H
#define CBT_CHUNKS_H

#include <linux/bitops.h>
#include <linux/compiler.h>
#include <linux/types.h>

#define CBT_NO_SLOT		U64_MAX

/* One chunk's record. */
struct cbt_chunk {
	u64 slot;			/* its store slot, or CBT_NO_SLOT */
	unsigned long have[];		/* pieces in the store; bits only get set */
};

/*
 * Records are kept in groups of CBT_CHUNK_GROUP consecutive chunks, made
 * on the first copy into any of them: a lookup is two loads, and making a
 * chunk's record is (mostly) writing its slot number. The group pointers
 * are published with cmpxchg and read locklessly; a record's slot is set
 * under the chunk's lock before any of its bits.
 */
#define CBT_CHUNK_GROUP		256

struct cbt_chunk_table {
	void **groups;			/* nr_groups pointers, NULL until made */
	u64 nr_groups;
	unsigned int stride;		/* bytes per record */
};

int cbt_chunks_init(struct cbt_chunk_table *t, u64 nr_chunks,
		    unsigned int pieces);
void cbt_chunks_free(struct cbt_chunk_table *t);
/* Process context: @chunk's record, made if need be (NULL: no memory). */
struct cbt_chunk *cbt_chunks_get(struct cbt_chunk_table *t, u64 chunk);

/* Any context: @chunk's record, or NULL while its group does not exist. */
static inline struct cbt_chunk *cbt_chunks_find(struct cbt_chunk_table *t,
						u64 chunk)
{
	void *group = READ_ONCE(t->groups[chunk / CBT_CHUNK_GROUP]);

	if (!group)
		return NULL;
	return group + (chunk % CBT_CHUNK_GROUP) * t->stride;
}

#endif /* CBT_CHUNKS_H */
