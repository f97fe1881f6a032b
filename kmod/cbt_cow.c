// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_cow.c - copy-on-write: where a write to a snapshotted volume waits
 * for the old data of its chunks to be preserved, and the state a set's
 * members share while they do.
 *
 * Old data is preserved a piece (4 KiB) at a time: a chunk gets a store slot
 * on its first write, but only the pieces a write is about to overwrite are
 * copied into it, so a 4 KiB write into a fresh 64 KiB chunk moves 4 KiB,
 * not 64. The write hook asks cbt_cow_wanted() about every write to a
 * member; when the write's chunks are wholly copied (the steady state), or
 * its pieces are (a lockless look in the chunk table, cbt_chunks.h), that
 * is a few bit tests and the write goes on. Otherwise the hook claims the
 * set (cbt_cow_claim()), and either the submitter copies the missing
 * pieces itself before its write goes on (cbt_cow_copy(): process context,
 * no current->bio_list, not REQ_NOWAIT, not a work item, the set past its
 * instant, a store of block devices only, and no reclaim I/O meanwhile),
 * or the hook marks
 * the write and hands it here (cbt_cow_defer()): the set's workqueue waits
 * for the instant to be past (a write that arrives while a set is being
 * taken is held there), copies, and submits the bio, which is already
 * followed: the hook lets it pass, and it is not marked twice. So
 * nothing sleeps where it must not, which matters for bios resubmitted by
 * stacked drivers with current->bio_list set, and files in a store are
 * only ever written from the workqueue.
 *
 * Whatever goes wrong in a copy (no store space, no memory, a failed read
 * or store write) fails the snapshot, never the write: the set is marked,
 * an event is raised, and writes pass untouched from then on.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/hash.h>
#include <linux/mempool.h>
#include <linux/rcupdate.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include "cbt_cow.h"
#include "cbt_fault.h"
#include "cbt_tracker.h"

#define CBT_COW_RESERVE		256

/* A write held until its pieces are copied, for every set it claimed. */
struct cbt_cow_work {
	struct work_struct work;
	struct bio *bio;
	unsigned int nr;
	struct cbt_cow_claim claims[CBT_COW_MAX_CLAIMS];
};

static struct kmem_cache *cow_work_cache;
static mempool_t *cow_work_pool;

/* ---- the set's shared state ------------------------------------------- */

#define CBT_SET_FAILED_MASK	(BIT(CBT_SET_DEAD) | BIT(CBT_SET_OVERFLOW) | \
				 BIT(CBT_SET_INVALID))

void cbt_cow_set_init(struct cbt_cow_set *cs, u32 id,
		      void (*release)(struct cbt_cow_set *cs))
{
	kref_init(&cs->ref);
	cs->release = release;
	cs->id = id;
	init_waitqueue_head(&cs->ready_wq);
	init_waitqueue_head(&cs->event_wq);
	atomic64_set(&cs->chunks_copied, 0);
	atomic64_set(&cs->event_seq, 0);
	atomic_set(&cs->claims, 0);
	atomic_set(&cs->inline_copies, 0);
}

void cbt_cow_set_get(struct cbt_cow_set *cs)
{
	kref_get(&cs->ref);
}

static void cow_set_release(struct kref *ref)
{
	struct cbt_cow_set *cs = container_of(ref, struct cbt_cow_set, ref);

	cs->release(cs);
}

void cbt_cow_set_put(struct cbt_cow_set *cs)
{
	kref_put(&cs->ref, cow_set_release);
}

bool cbt_cow_set_usable(struct cbt_cow_set *cs)
{
	return !(READ_ONCE(cs->flags) & CBT_SET_FAILED_MASK);
}

void cbt_cow_set_event(struct cbt_cow_set *cs)
{
	atomic64_inc(&cs->event_seq);
	wake_up_all(&cs->event_wq);
}

void cbt_cow_set_fail(struct cbt_cow_set *cs, int bit, int error)
{
	if (test_and_set_bit(bit, &cs->flags))
		return;
	cmpxchg(&cs->error, 0, error);
	if (bit == CBT_SET_OVERFLOW)
		pr_warn_ratelimited("cbt: snapshot set %u: store full, images invalidated\n",
				    cs->id);
	else if (bit == CBT_SET_INVALID)
		pr_warn_ratelimited("cbt: snapshot set %u invalidated: error %d\n",
				    cs->id, error);
	cbt_cow_set_event(cs);
}

void cbt_cow_set_check_space(struct cbt_cow_set *cs)
{
	if (!test_bit(CBT_SET_LOW_SPACE, &cs->flags) &&
	    cbt_store_low(&cs->store) &&
	    !test_and_set_bit(CBT_SET_LOW_SPACE, &cs->flags))
		cbt_cow_set_event(cs);
}

void cbt_cow_set_quiesce(struct cbt_cow_set *cs)
{
	wait_var_event(&cs->claims, !atomic_read(&cs->claims));
}

void cbt_cow_set_no_inline(struct cbt_cow_set *cs)
{
	synchronize_rcu();	/* claims decide under RCU */
	wait_var_event(&cs->inline_copies, !atomic_read(&cs->inline_copies));
}

/* ---- members ----------------------------------------------------------- */

struct cbt_cow *cbt_cow_alloc(struct cbt_cow_set *cs, struct cbt_tracker *t,
			      unsigned int index, unsigned long deadline)
{
	struct cbt_cow *cow = kzalloc(sizeof(*cow), GFP_KERNEL);
	u32 block_size;
	u64 bytes;
	int i, ret;

	if (!cow)
		return ERR_PTR(-ENOMEM);
	ret = cbt_tracker_geometry(t, deadline, &bytes, &block_size);
	if (ret) {
		kfree(cow);
		return ERR_PTR(ret);
	}
	cow->set = cs;
	cow->tracker = t;
	cow->origin = t->bdev;
	cow->start = t->start;
	cow->nr_sects = bytes >> SECTOR_SHIFT;
	cow->chunk_shift = ilog2(block_size);
	cow->nr_chunks = DIV_ROUND_UP_ULL(bytes, block_size);
	cow->index = index;
	for (i = 0; i < CBT_COW_LOCKS; i++)
		init_rwsem(&cow->locks[i]);
	cow->copied = kvcalloc(BITS_TO_LONGS(cow->nr_chunks),
			       sizeof(unsigned long), GFP_KERNEL);
	if (!cow->copied ||
	    cbt_chunks_init(&cow->chunks, cow->nr_chunks,
			    block_size >> CBT_PIECE_SHIFT)) {
		kvfree(cow->copied);
		kfree(cow);
		return ERR_PTR(-ENOMEM);
	}
	return cow;
}

/* The tracker reference the member was given is the caller's to drop. */
void cbt_cow_free(struct cbt_cow *cow)
{
	if (!cow)
		return;
	cbt_chunks_free(&cow->chunks);
	kvfree(cow->copied);
	kfree(cow);
}

/* ---- the write path ---------------------------------------------------- */

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

bool cbt_cow_wanted(struct cbt_cow *cow, sector_t sector, sector_t end)
{
	struct cbt_cow_set *cs = cow->set;
	u64 pos, stop;

	if (!member_span(cow, sector, end, &pos, &stop) ||
	    !cbt_cow_set_usable(cs))
		return false;
	return !test_bit(CBT_SET_READY, &cs->flags) ||
	       !range_preserved(cow, pos, stop);
}

/*
 * Not in a work item either: the item blocked in a copy may be the one
 * that must run for the copy's own read to go out (blk-throttle sends
 * every throttled bio of a disk from one work item, which calls the hooked
 * function), and a workqueue runs an item once at a time.
 */
bool cbt_cow_may_sleep(struct bio *bio)
{
	return !current->bio_list && !(bio->bi_opf & REQ_NOWAIT) &&
	       !(current->flags & PF_WQ_WORKER) &&
	       preemptible() && !rcu_preempt_depth();
}

void cbt_cow_claim(struct cbt_cow *cow, bool may_sleep, sector_t sector,
		   sector_t end, struct cbt_cow_claim *claim)
{
	struct cbt_cow_set *cs = cow->set;

	/* READY is never cleared: before it, the write is held. */
	claim->inline_copy = test_bit(CBT_SET_READY, &cs->flags) && may_sleep &&
			     !cbt_store_has_files(&cs->store);
	claim->cow = cow;
	if (!member_span(cow, sector, end, &claim->pos, &claim->end))
		claim->pos = claim->end = 0;
	cbt_fault_claim(cow, claim->pos, claim->end);
	cbt_cow_set_get(cs);
	atomic_inc(&cs->claims);
	if (claim->inline_copy)
		atomic_inc(&cs->inline_copies);
}

void cbt_cow_release(struct cbt_cow_claim *claim)
{
	struct cbt_cow_set *cs = claim->cow->set;

	if (claim->inline_copy && atomic_dec_and_test(&cs->inline_copies))
		wake_up_var(&cs->inline_copies);
	if (atomic_dec_and_test(&cs->claims))
		wake_up_var(&cs->claims);
	cbt_cow_set_put(cs);
}

void cbt_cow_fail(struct cbt_cow *cow, int error)
{
	cbt_cow_set_fail(cow->set, CBT_SET_INVALID, error);
}

static void copy_range(struct cbt_cow *cow, u64 pos, u64 end)
{
	struct rw_semaphore *lock;
	u64 chunk, next;

	for (; pos < end && cbt_cow_set_usable(cow->set); pos = next) {
		chunk = pos >> cow->chunk_shift;
		next = min(end, chunk_start(cow, chunk + 1));
		if (test_bit(chunk, cow->copied))
			continue;
		lock = cbt_cow_lock(cow, chunk);
		down_write(lock);
		cbt_fault_copy_wait(cow, pos, next);
		cbt_cow_copy_locked(cow, chunk, pos, next);
		up_write(lock);
	}
}

/*
 * No reclaim I/O while a copy runs: it could be a write to a member (swap
 * on it), which would wait for this very copy.
 */
void cbt_cow_copy(struct cbt_cow_claim *claim)
{
	unsigned int noio = memalloc_noio_save();

	copy_range(claim->cow, claim->pos, claim->end);
	memalloc_noio_restore(noio);
}

static void cow_work_fn(struct work_struct *work)
{
	struct cbt_cow_work *w = container_of(work, struct cbt_cow_work, work);
	struct cbt_cow_set *cs;
	unsigned int i;

	for (i = 0; i < w->nr; i++) {
		cs = w->claims[i].cow->set;
		/* A write that came while the set was being taken waits for the instant. */
		wait_event(cs->ready_wq, test_bit(CBT_SET_READY, &cs->flags) ||
					 test_bit(CBT_SET_DEAD, &cs->flags));
		cbt_cow_copy(&w->claims[i]);
	}
	submit_bio_noacct(w->bio);
	for (i = 0; i < w->nr; i++)
		cbt_cow_release(&w->claims[i]);
	mempool_free(w, cow_work_pool);
}

void cbt_cow_defer(struct bio *bio, struct cbt_cow_claim *claims,
		   unsigned int n)
{
	struct cbt_cow_work *w;
	unsigned int i;

	w = mempool_alloc(cow_work_pool, GFP_NOWAIT | __GFP_NOWARN);
	if (!w) {
		for (i = 0; i < n; i++) {
			cbt_cow_fail(claims[i].cow, -ENOMEM);
			cbt_cow_release(&claims[i]);
		}
		submit_bio_noacct(bio);
		return;
	}
	w->bio = bio;
	w->nr = n;
	memcpy(w->claims, claims, n * sizeof(*claims));
	INIT_WORK(&w->work, cow_work_fn);
	/*
	 * On the workqueue of a set still being taken, if any: the item waits
	 * there for that set's instant, and no other set's workers. The claim
	 * keeps the workqueue alive (teardown waits for it).
	 */
	for (i = 0; i < n - 1; i++)
		if (!test_bit(CBT_SET_READY, &claims[i].cow->set->flags))
			break;
	queue_work(claims[i].cow->set->wq, &w->work);
}

/* ---- copies ------------------------------------------------------------- */

/* The chunk's record with its slot, given on its first copy. */
static struct cbt_chunk *chunk_get(struct cbt_cow *cow, u64 chunk)
{
	struct cbt_chunk *c = cbt_chunks_get(&cow->chunks, chunk);
	struct cbt_cow_set *cs = cow->set;
	bool low;
	s64 slot;

	if (!c)
		return ERR_PTR(-ENOMEM);
	if (c->slot != CBT_NO_SLOT)
		return c;
	slot = cbt_store_alloc(&cs->store, &low);
	if (slot < 0) {
		cbt_cow_set_fail(cs, CBT_SET_OVERFLOW, -ENOSPC);
		return ERR_PTR(slot);
	}
	if (low)
		cbt_cow_set_check_space(cs);
	c->slot = slot;
	atomic64_inc(&cs->chunks_copied);
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
	struct cbt_cow_set *cs = cow->set;
	u64 base = chunk_start(cow, chunk);
	unsigned int last, all, a, b;
	struct cbt_chunk *c;
	int ret = 0;

	if (test_bit(chunk, cow->copied))
		return 0;
	if (!cbt_cow_set_usable(cs))
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
	cbt_cow_set_fail(cs, ret == -ENOSPC ? CBT_SET_OVERFLOW :
			 CBT_SET_INVALID, ret);
	return ret;
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
