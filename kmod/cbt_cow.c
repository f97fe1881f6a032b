// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_cow.c - copy-on-write: where a write to a snapshotted volume waits
 * for the old data of its chunks to be preserved.
 *
 * Old data is preserved a piece (4 KiB) at a time: a chunk gets a store slot
 * on its first write, but only the pieces a write is about to overwrite are
 * copied into it, so a 4 KiB write into a fresh 64 KiB chunk moves 4 KiB,
 * not 64. The write hook asks cbt_cow_wanted() about every write to a
 * member, and only when it says yes sends the write to cbt_cow_hold().
 * When the write's chunks are wholly copied (the steady state), or its
 * pieces are (a lockless look in the chunk table, cbt_chunks.h), that is a
 * few bit tests and the write goes on. Otherwise, when the submitter may
 * sleep (process context, no current->bio_list, not REQ_NOWAIT) it copies
 * the missing pieces itself before the write goes on: no hand-off, no
 * context switch.
 * In every other case, and while the set is still being taken, the bio is
 * handed to the set's workqueue, one work item per bio, and the hook
 * returns at once: nothing sleeps where it must not, which matters for bios
 * resubmitted by stacked drivers with current->bio_list set. The worker
 * waits for the snapshot instant to be past (a write that arrives while a
 * set is being created is held there), copies the missing pieces under
 * their chunk's lock, and submits the bio again through the write path,
 * which then marks it in the map with the generation after the snapshot's
 * stamp. A write therefore waits only for its own pieces.
 *
 * Whatever goes wrong in a copy (no store space, no memory, a failed read
 * or store write) fails the snapshot, never the write: the set is marked,
 * an event is raised, and writes pass untouched from then on.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/hash.h>
#include <linux/mempool.h>
#include <linux/slab.h>
#include "cbt_intercept.h"
#include "cbt_snapshot.h"

#define CBT_COW_RESERVE		256

/* A write waiting for its pieces to be copied. */
struct cbt_cow_work {
	struct work_struct work;
	struct cbt_cow *cow;
	struct bio *bio;
	u64 pos, end;		/* bytes of the member the write covers */
};

static void cow_work_fn(struct work_struct *work);
static struct kmem_cache *cow_work_cache;
static mempool_t *cow_work_pool;

struct rw_semaphore *cbt_cow_lock(struct cbt_cow *cow, u64 chunk)
{
	return &cow->locks[hash_64(chunk, ilog2(CBT_COW_LOCKS))];
}

static u64 chunk_start(struct cbt_cow *cow, u64 chunk)
{
	return chunk << cow->chunk_shift;
}

/* Bytes of @chunk that exist on the origin (the last chunk may be short). */
static u64 chunk_bytes(struct cbt_cow *cow, u64 chunk)
{
	return min_t(u64, 1ull << cow->chunk_shift,
		     ((u64)cow->nr_sects << SECTOR_SHIFT) - chunk_start(cow, chunk));
}

bool cbt_cow_have(const struct cbt_chunk *c, unsigned int piece)
{
	return test_bit(piece, c->have);
}

/* Are bytes [pos, end) of @chunk preserved? Under RCU or the chunk's lock. */
static bool pieces_preserved(struct cbt_cow *cow, u64 chunk, u64 pos, u64 end)
{
	u64 base = chunk_start(cow, chunk);
	struct cbt_chunk *c;
	unsigned int p, last;

	if (test_bit(chunk, cow->copied))
		return true;
	c = cbt_chunks_find(&cow->chunks, chunk);
	if (!c)
		return false;
	last = (end - 1 - base) >> CBT_PIECE_SHIFT;
	for (p = (pos - base) >> CBT_PIECE_SHIFT; p <= last; p++)
		if (!cbt_cow_have(c, p))
			return false;
	return true;
}

static bool range_preserved(struct cbt_cow *cow, u64 pos, u64 end)
{
	u64 chunk, next;

	for (; pos < end; pos = next) {
		chunk = pos >> cow->chunk_shift;
		next = min(end, chunk_start(cow, chunk + 1));
		if (!pieces_preserved(cow, chunk, pos, next))
			return false;
	}
	return true;
}

/* May the submitter of @bio sleep while old data is copied? */
static bool submitter_may_sleep(struct bio *bio)
{
	return !current->bio_list && !(bio->bi_opf & REQ_NOWAIT) &&
	       preemptible();
}

/* The bytes of the member that sectors [sector, end) of its disk cover. */
static bool member_span(struct cbt_cow *cow, sector_t sector, sector_t end,
			u64 *pos, u64 *stop)
{
	sector_t limit = cow->start + cow->nr_sects;

	if (end <= cow->start || sector >= limit)
		return false;
	*pos = (u64)(max(sector, cow->start) - cow->start) << SECTOR_SHIFT;
	*stop = (u64)(min(end, limit) - cow->start) << SECTOR_SHIFT;
	return true;
}

/*
 * Must the write to sectors [sector, end) of @cow's disk wait for
 * copy-on-write? If so, its bytes of the member are [*pos, *stop).
 */
static bool cow_needed(struct cbt_cow *cow, sector_t sector, sector_t end,
		       bool wanted, u64 *pos, u64 *stop)
{
	struct cbt_snapset *set = cow->set;

	if (!member_span(cow, sector, end, pos, stop) ||
	    !cbt_snapset_usable(set))
		return false;
	return !test_bit(CBT_SET_READY, &set->flags) || wanted ||
	       !range_preserved(cow, *pos, *stop);
}

bool cbt_cow_wanted(struct cbt_cow *cow, sector_t sector, sector_t end)
{
	u64 pos, stop;

	return cow_needed(cow, sector, end, false, &pos, &stop);
}

enum cbt_cow_verdict cbt_cow_hold(struct cbt_cow *cow, struct bio *bio,
				  sector_t sector, sector_t end, bool wanted,
				  u64 *posp, u64 *endp)
{
	struct cbt_snapset *set = cow->set;
	struct cbt_cow_work *w;
	u64 pos, stop;

	/* A copy finds pieces preserved meanwhile and leaves them be. */
	if (!cow_needed(cow, sector, end, wanted, &pos, &stop))
		return CBT_COW_PASS;

	/* The set outlives the hook's RCU section while it is published. */
	cbt_snapset_get(set);
	/* Before the instant the worker holds the write (READY is never cleared). */
	if (test_bit(CBT_SET_READY, &set->flags) && submitter_may_sleep(bio)) {
		atomic_inc(&set->copiers);
		*posp = pos;
		*endp = stop;
		return CBT_COW_COPY;
	}
	w = mempool_alloc(cow_work_pool, GFP_NOWAIT | __GFP_NOWARN);
	if (!w) {
		cbt_snapset_put(set);
		cbt_snapset_fail(set, CBT_SET_INVALID, -ENOMEM);
		return CBT_COW_PASS;
	}
	w->cow = cow;
	w->bio = bio;
	w->pos = pos;
	w->end = stop;
	INIT_WORK(&w->work, cow_work_fn);
	queue_work(set->wq, &w->work);
	return CBT_COW_QUEUED;
}

void cbt_cow_copy_range(struct cbt_cow *cow, u64 pos, u64 end)
{
	struct cbt_snapset *set = cow->set;
	struct rw_semaphore *lock;
	u64 chunk, next;

	for (; pos < end && cbt_snapset_usable(set); pos = next) {
		chunk = pos >> cow->chunk_shift;
		next = min(end, chunk_start(cow, chunk + 1));
		if (test_bit(chunk, cow->copied))
			continue;
		lock = cbt_cow_lock(cow, chunk);
		down_write(lock);
		cbt_cow_copy_locked(cow, chunk, pos, next);
		up_write(lock);
	}
}

void cbt_cow_copy_end(struct cbt_cow *cow)
{
	struct cbt_snapset *set = cow->set;

	if (atomic_dec_and_test(&set->copiers))
		wake_up_var(&set->copiers);
	cbt_snapset_put(set);
}

void cbt_cow_quiesce(struct cbt_snapset *set)
{
	wait_var_event(&set->copiers, !atomic_read(&set->copiers));
}

/* ---- copies ------------------------------------------------------------- */

/* The chunk's record with its slot, given on its first copy. */
static struct cbt_chunk *chunk_get(struct cbt_cow *cow, u64 chunk)
{
	struct cbt_chunk *c = cbt_chunks_get(&cow->chunks, chunk);
	struct cbt_snapset *set = cow->set;
	bool low;
	s64 slot;

	if (!c)
		return ERR_PTR(-ENOMEM);
	if (c->slot != CBT_NO_SLOT)
		return c;
	slot = cbt_store_alloc(&set->store, &low);
	if (slot < 0) {
		cbt_snapset_fail(set, CBT_SET_OVERFLOW, -ENOSPC);
		return ERR_PTR(slot);
	}
	if (low)
		cbt_snapset_check_space(set);
	c->slot = slot;
	atomic64_inc(&set->chunks_copied);
	return c;
}

/* Copy pieces [a, b) of @chunk from the origin into its slot. */
static int copy_pieces(struct cbt_cow *cow, u64 chunk, struct cbt_chunk *c,
		       unsigned int a, unsigned int b)
{
	u64 off = (u64)a << CBT_PIECE_SHIFT;
	unsigned int len = min_t(u64, (u64)(b - a) << CBT_PIECE_SHIFT,
				 chunk_bytes(cow, chunk) - off);
	unsigned int p;
	int ret;

	ret = cbt_store_preserve(&cow->set->store, c->slot, off, cow->origin,
				 (chunk_start(cow, chunk) + off) >> SECTOR_SHIFT,
				 len);
	if (ret)
		return ret;
	smp_mb__before_atomic();	/* the data before the bits */
	for (p = a; p < b; p++)
		set_bit(p, c->have);
	return 0;
}

int cbt_cow_copy_locked(struct cbt_cow *cow, u64 chunk, u64 pos, u64 end)
{
	struct cbt_snapset *set = cow->set;
	u64 base = chunk_start(cow, chunk);
	unsigned int last, all, a, b;
	struct cbt_chunk *c;
	int ret = 0;

	if (test_bit(chunk, cow->copied))
		return 0;
	if (!cbt_snapset_usable(set))
		return -EIO;
	c = chunk_get(cow, chunk);
	if (IS_ERR(c)) {
		ret = PTR_ERR(c);
		goto fail;
	}
	last = (end - 1 - base) >> CBT_PIECE_SHIFT;
	for (a = (pos - base) >> CBT_PIECE_SHIFT; a <= last && !ret; a = b) {
		if (cbt_cow_have(c, a)) {
			b = a + 1;
			continue;
		}
		for (b = a + 1; b <= last && !cbt_cow_have(c, b); b++)
			;
		ret = copy_pieces(cow, chunk, c, a, b);
	}
	if (ret)
		goto fail;
	all = DIV_ROUND_UP(chunk_bytes(cow, chunk), 1u << CBT_PIECE_SHIFT);
	if (find_first_zero_bit(c->have, all) == all)
		set_bit(chunk, cow->copied);
	return 0;
fail:
	cbt_snapset_fail(set, ret == -ENOSPC ? CBT_SET_OVERFLOW :
			 CBT_SET_INVALID, ret);
	return ret;
}

void cbt_cow_free_chunks(struct cbt_cow *cow)
{
	cbt_chunks_free(&cow->chunks);
}

static void cow_work_fn(struct work_struct *work)
{
	struct cbt_cow_work *w = container_of(work, struct cbt_cow_work, work);
	struct cbt_cow *cow = w->cow;
	struct cbt_snapset *set = cow->set;

	/* A write that came while the set was being taken waits for the instant. */
	wait_event(set->ready_wq, test_bit(CBT_SET_READY, &set->flags) ||
				  test_bit(CBT_SET_DEAD, &set->flags));
	cbt_cow_copy_range(cow, w->pos, w->end);
	cbt_resubmit_bio(w->bio);
	mempool_free(w, cow_work_pool);
	cbt_snapset_put(set);
}

int cbt_cow_init(void)
{
	cow_work_cache = KMEM_CACHE(cbt_cow_work, 0);
	if (!cow_work_cache)
		return -ENOMEM;
	cow_work_pool = mempool_create_slab_pool(CBT_COW_RESERVE, cow_work_cache);
	if (!cow_work_pool) {
		kmem_cache_destroy(cow_work_cache);
		return -ENOMEM;
	}
	return 0;
}

void cbt_cow_exit(void)
{
	mempool_destroy(cow_work_pool);
	kmem_cache_destroy(cow_work_cache);
}
