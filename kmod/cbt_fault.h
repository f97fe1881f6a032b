/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_fault.h - fault injection for the tests (a build with CBT_FAULTS,
 * kmod/out/<kernel>/faults/cbt.ko): knobs that widen the windows the
 * generation proof must survive. A regular build has none of it.
 */
#ifndef CBT_FAULT_H
#define CBT_FAULT_H

#include <linux/blk_types.h>
#include <linux/types.h>

struct cbt_cow;
struct cbt_tracker;

/* Where cbt_fault_create_wait() is called. */
#define CBT_FAULT_AT_RESERVED	1	/* the set's id was reserved */
#define CBT_FAULT_AT_FROZEN	2	/* the writers acked FREEZE */
#define CBT_FAULT_AT_MADE	3	/* the set exists, before THAW */

#ifdef CBT_FAULTS
/*
 * Between reading the generation a write marks (@gen) and marking: a
 * write whose submitter's command name is the fault_mark_comm parameter
 * waits (spinning, as the hook may not sleep) until a write would mark
 * another generation (the tracker opened the next one, or a snapshot set's
 * copy-on-write now holds writes for the one after its instant) or
 * fault_mark_wait_ms have passed, then fault_mark_extra_ms more (15 s in
 * all at most). Counters say how many waited, saw the next generation, and
 * were overtaken: a write of a later generation to the same tracker and
 * blocks came to mark meanwhile. With fault_mark_remainders set, writes
 * wait in cbt_fault_remainder_wait() instead.
 */
void cbt_fault_mark_wait(struct cbt_tracker *t, u64 gen, sector_t sector,
			 sector_t end);

/*
 * A write comes to the hook, before anything else looks at it (in its
 * submitter's context, maybe with preemption off: it may not sleep): when
 * fault_mark_remainders is set and @bio, of that command, is followed
 * already (a split remainder passing again, or a write copy-on-write
 * resubmits), it waits there as cbt_fault_mark_wait() says, on the first
 * tracker of its disk that covers it, and on its first pass again only: a
 * snapshot's instant can then fall between a write's first pass and its
 * remainder's. On 6.12 the remainder holds its queue entered meanwhile.
 */
void cbt_fault_remainder_wait(struct bio *bio);

/*
 * Just before a checkpoint or a snapshot opens the next generation (the
 * caller may sleep and holds the trackers' locks): when fault_instant_wait_ms
 * is set, wait that long at most (or until killed) for a write to be
 * waiting in cbt_fault_mark_wait(), so that a test can place one there
 * first. A snapshot that freezes waits with the filesystems frozen.
 */
void cbt_fault_instant_wait(void);

/*
 * Between a snapshot set's finding a member's tracker @t and claiming it
 * (the caller may sleep): wait until @t is detached, fault_member_wait_ms
 * at most, so that a test can detach the member there.
 */
void cbt_fault_member_wait(struct cbt_tracker *t);

/*
 * A copy of @cow's bytes [pos, end) holds its chunk's lock and is about to
 * read the origin (process context): when the copier's command name is the
 * fault_copy_comm parameter, it waits until another task claims a copy of
 * those bytes (cbt_fault_claim()), fault_copy_wait_ms at most (15 s: under
 * the hung task limit; or until killed), then 200 ms more for that task to
 * come to the lock. One copier at a time.
 */
void cbt_fault_copy_wait(struct cbt_cow *cow, u64 pos, u64 end);

/* A write claims a copy of @cow's bytes [pos, end) (under RCU). */
void cbt_fault_claim(struct cbt_cow *cow, u64 pos, u64 end);

/*
 * A tracker's memory is about to be freed: fill it with POISON_FREE, so
 * that a read through a dropped reference finds garbage at once, and count
 * it for cbt_fault_put_wait().
 */
void cbt_fault_tracker_freed(struct cbt_tracker *t);

/*
 * Just after a control ioctl has dropped its reference to a tracker (the
 * caller may sleep): when fault_put_wait_ms is set, wait that long at most
 * (or until killed) for a tracker to be freed, so that a test can detach
 * the device there and see the ioctl read nothing of it afterwards.
 */
void cbt_fault_put_wait(void);

/*
 * Store I/O is about to run: count it in fault_store_reclaim_io when the
 * task may still start reclaim I/O, which could be a write to a member
 * (swap on it) waiting for this very copy. Nothing waits.
 */
void cbt_fault_store_io(void);

/*
 * A set's creation through /dev/cbt-ctl at @at (CBT_FAULT_AT_*; it may
 * sleep): when fault_create_wait_at is @at, it waits fault_create_wait_ms
 * (or until killed), once: the knob is cleared as it is taken. The
 * fault_create_waiting counter says a creation is waiting there.
 */
void cbt_fault_create_wait(unsigned int at);
#else
static inline void cbt_fault_mark_wait(struct cbt_tracker *t, u64 gen,
				       sector_t sector, sector_t end)
{
}

static inline void cbt_fault_remainder_wait(struct bio *bio)
{
}

static inline void cbt_fault_instant_wait(void)
{
}

static inline void cbt_fault_member_wait(struct cbt_tracker *t)
{
}

static inline void cbt_fault_copy_wait(struct cbt_cow *cow, u64 pos, u64 end)
{
}

static inline void cbt_fault_claim(struct cbt_cow *cow, u64 pos, u64 end)
{
}

static inline void cbt_fault_tracker_freed(struct cbt_tracker *t)
{
}

static inline void cbt_fault_put_wait(void)
{
}

static inline void cbt_fault_store_io(void)
{
}

static inline void cbt_fault_create_wait(unsigned int at)
{
}
#endif

#endif /* CBT_FAULT_H */
