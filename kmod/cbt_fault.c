// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_fault.c - fault injection for the tests (see cbt_fault.h). Built only
 * into the test module (make -C kmod faults).
 */
#include <linux/bio.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/minmax.h>
#include <linux/moduleparam.h>
#include <linux/poison.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include "cbt_completion.h"
#include "cbt_cow.h"
#include "cbt_fault.h"
#include "cbt_tracker.h"

static char fault_mark_comm[TASK_COMM_LEN];
module_param_string(fault_mark_comm, fault_mark_comm, sizeof(fault_mark_comm), 0600);
MODULE_PARM_DESC(fault_mark_comm, "writes of this command wait between reading the generation and marking");

static unsigned int fault_mark_wait_ms;
module_param(fault_mark_wait_ms, uint, 0600);
MODULE_PARM_DESC(fault_mark_wait_ms, "longest wait for the next generation to open");

static unsigned int fault_mark_extra_ms;
module_param(fault_mark_extra_ms, uint, 0600);
MODULE_PARM_DESC(fault_mark_extra_ms, "then wait this much more");

/*
 * Writers waiting in cbt_fault_mark_wait() now, and how many of them saw
 * the next generation open there, since the module was loaded (read-only).
 */
static atomic_t fault_mark_waiting = ATOMIC_INIT(0);
static atomic_t fault_mark_seen = ATOMIC_INIT(0);

/*
 * Waiting writes that a write of a later generation to the same tracker
 * and blocks overtook: it came to mark while they waited (read-only). The
 * waiting write is described under waiter_lock; one at a time.
 */
static atomic_t fault_mark_overtaken = ATOMIC_INIT(0);
static DEFINE_SPINLOCK(waiter_lock);
static struct {
	struct cbt_tracker *t;
	u64 gen;
	sector_t sector, end;
	bool overtaken;
} waiter;

/* The longest the spin may last: under the soft lockup and RCU stall limits. */
#define FAULT_MARK_MAX_MS	15000

static bool fault_mark_remainders;

/* The bio that last waited as a remainder: it waits on its first pass again only. */
static struct bio *remainder_waited;

/* Setting fault_mark_remainders forgets the last remainder (its memory may be reused). */
static int remainders_set(const char *val, const struct kernel_param *kp)
{
	WRITE_ONCE(remainder_waited, NULL);
	return param_set_bool(val, kp);
}

static const struct kernel_param_ops remainders_ops = {
	.set = remainders_set,
	.get = param_get_bool,
};
module_param_cb(fault_mark_remainders, &remainders_ops, &fault_mark_remainders, 0600);
MODULE_PARM_DESC(fault_mark_remainders, "writes of fault_mark_comm wait as they come to the hook again, followed already (split remainders), not before marking");

static int counter_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%d\n", atomic_read((atomic_t *)kp->arg));
}

static const struct kernel_param_ops counter_ops = {
	.get = counter_get,
};
module_param_cb(fault_mark_waiting, &counter_ops, &fault_mark_waiting, 0400);
MODULE_PARM_DESC(fault_mark_waiting, "writes waiting between reading the generation and marking");
module_param_cb(fault_mark_seen, &counter_ops, &fault_mark_seen, 0400);
MODULE_PARM_DESC(fault_mark_seen, "waiting writes that saw the next generation open");
module_param_cb(fault_mark_overtaken, &counter_ops, &fault_mark_overtaken, 0400);
MODULE_PARM_DESC(fault_mark_overtaken, "waiting writes that a write of a later generation overtook");

/*
 * The generation a write to @t would mark now: the open one, or, once a
 * snapshot holds writes before its instant, the first one after it.
 */
static u64 gen_now(struct cbt_tracker *t)
{
	struct cbt_cow *cow = cbt_tracker_cow(t);
	u64 gen = cbt_tracker_gen(t);

	return cow ? max(gen, cbt_cow_first_gen(cow)) : gen;
}

/* Is this task's command name @comm (a parameter, maybe with a newline)? */
static bool comm_is(const char *comm)
{
	size_t len = strcspn(comm, "\n");

	return len && strlen(current->comm) == len &&
	       !strncmp(current->comm, comm, len);
}

/* Does this task's write wait: a remainder's pass (@remainder), or a mark? */
static bool waits(bool remainder)
{
	return remainder == READ_ONCE(fault_mark_remainders) &&
	       comm_is(fault_mark_comm);
}

/* A write that does not wait: does it overtake the one waiting? */
static void note_overtaker(struct cbt_tracker *t, u64 gen, sector_t sector,
			   sector_t end)
{
	unsigned long flags;

	if (!atomic_read(&fault_mark_waiting))
		return;
	spin_lock_irqsave(&waiter_lock, flags);
	if (waiter.t == t && gen > waiter.gen && sector < waiter.end &&
	    end > waiter.sector)
		waiter.overtaken = true;
	spin_unlock_irqrestore(&waiter_lock, flags);
}

static void set_waiter(struct cbt_tracker *t, u64 gen, sector_t sector,
		       sector_t end)
{
	unsigned long flags;

	spin_lock_irqsave(&waiter_lock, flags);
	waiter.t = t;
	waiter.gen = gen;
	waiter.sector = sector;
	waiter.end = end;
	waiter.overtaken = false;
	spin_unlock_irqrestore(&waiter_lock, flags);
}

/* The waiting write is done waiting: was it overtaken? */
static bool clear_waiter(void)
{
	unsigned long flags;
	bool overtaken;

	spin_lock_irqsave(&waiter_lock, flags);
	overtaken = waiter.overtaken;
	waiter.t = NULL;
	spin_unlock_irqrestore(&waiter_lock, flags);
	return overtaken;
}

static void mark_wait(struct cbt_tracker *t, u64 gen, sector_t sector,
		      sector_t end)
{
	unsigned int wait_ms = min(READ_ONCE(fault_mark_wait_ms), FAULT_MARK_MAX_MS);
	unsigned int extra_ms = min(READ_ONCE(fault_mark_extra_ms),
				    FAULT_MARK_MAX_MS - wait_ms);
	unsigned long deadline;

	set_waiter(t, gen, sector, end);
	atomic_inc(&fault_mark_waiting);
	deadline = jiffies + msecs_to_jiffies(wait_ms);
	while (gen_now(t) == gen && time_before(jiffies, deadline))
		cpu_relax();
	if (gen_now(t) != gen)
		atomic_inc(&fault_mark_seen);
	mdelay(extra_ms);
	if (clear_waiter())
		atomic_inc(&fault_mark_overtaken);
	atomic_dec(&fault_mark_waiting);
}

void cbt_fault_mark_wait(struct cbt_tracker *t, u64 gen, sector_t sector,
			 sector_t end)
{
	if (waits(false))
		mark_wait(t, gen, sector, end);
	else
		note_overtaker(t, gen, sector, end);
}

void cbt_fault_remainder_wait(struct bio *bio)
{
	sector_t sector = bio->bi_iter.bi_sector;	/* whole-disk: remapped */
	sector_t end = sector + bio_sectors(bio);
	struct cbt_tracker *t;

	if (!cbt_bio_followed(bio) || !waits(true) ||
	    READ_ONCE(remainder_waited) == bio)
		return;
	WRITE_ONCE(remainder_waited, bio);
	rcu_read_lock_sched();
	cbt_for_each_tracker(t, bio->bi_bdev->bd_disk) {
		if (cbt_tracker_covers(t, sector, end)) {
			mark_wait(t, gen_now(t), sector, end);
			break;
		}
	}
	rcu_read_unlock_sched();
}

static unsigned int fault_instant_wait_ms;
module_param(fault_instant_wait_ms, uint, 0600);
MODULE_PARM_DESC(fault_instant_wait_ms, "before a new generation opens, wait this long at most for a write waiting in the mark window");

static atomic_t fault_instant_waiting = ATOMIC_INIT(0);
module_param_cb(fault_instant_waiting, &counter_ops, &fault_instant_waiting, 0400);
MODULE_PARM_DESC(fault_instant_waiting, "checkpoints and snapshots waiting before their instant");

void cbt_fault_instant_wait(void)
{
	unsigned long deadline;

	if (!READ_ONCE(fault_instant_wait_ms))
		return;
	atomic_inc(&fault_instant_waiting);
	deadline = jiffies + msecs_to_jiffies(READ_ONCE(fault_instant_wait_ms));
	while (!atomic_read(&fault_mark_waiting) &&
	       time_before(jiffies, deadline) && !fatal_signal_pending(current))
		msleep(1);
	if (!atomic_read(&fault_mark_waiting))
		pr_warn("cbt: fault: no write came to wait before the instant\n");
	atomic_dec(&fault_instant_waiting);
}

static unsigned int fault_member_wait_ms;
module_param(fault_member_wait_ms, uint, 0600);
MODULE_PARM_DESC(fault_member_wait_ms, "a snapshot set waits this long at most, between finding a member's tracker and claiming it, for the member to be detached");

static atomic_t fault_member_waiting = ATOMIC_INIT(0);
module_param_cb(fault_member_waiting, &counter_ops, &fault_member_waiting, 0400);
MODULE_PARM_DESC(fault_member_waiting, "snapshot sets waiting between finding a member's tracker and claiming it");

void cbt_fault_member_wait(struct cbt_tracker *t)
{
	unsigned long deadline;

	if (!READ_ONCE(fault_member_wait_ms))
		return;
	atomic_inc(&fault_member_waiting);
	deadline = jiffies + msecs_to_jiffies(READ_ONCE(fault_member_wait_ms));
	while (!test_bit(CBT_TRACKER_DETACHED, &t->flags) &&
	       time_before(jiffies, deadline) && !fatal_signal_pending(current))
		msleep(1);
	atomic_dec(&fault_member_waiting);
}

/* Trackers freed since the module was loaded (read-only). */
static atomic_t fault_trackers_freed = ATOMIC_INIT(0);
module_param_cb(fault_trackers_freed, &counter_ops, &fault_trackers_freed, 0400);
MODULE_PARM_DESC(fault_trackers_freed, "trackers freed");

void cbt_fault_tracker_freed(struct cbt_tracker *t)
{
	memset(t, POISON_FREE, sizeof(*t));
	atomic_inc(&fault_trackers_freed);
}

static unsigned int fault_put_wait_ms;
module_param(fault_put_wait_ms, uint, 0600);
MODULE_PARM_DESC(fault_put_wait_ms, "a control ioctl waits this long at most, after dropping its tracker, for a tracker to be freed");

static atomic_t fault_put_waiting = ATOMIC_INIT(0);
module_param_cb(fault_put_waiting, &counter_ops, &fault_put_waiting, 0400);
MODULE_PARM_DESC(fault_put_waiting, "control ioctls waiting after dropping their tracker");

void cbt_fault_put_wait(void)
{
	int freed = atomic_read(&fault_trackers_freed);
	unsigned long deadline;

	if (!READ_ONCE(fault_put_wait_ms))
		return;
	atomic_inc(&fault_put_waiting);
	deadline = jiffies + msecs_to_jiffies(READ_ONCE(fault_put_wait_ms));
	while (atomic_read(&fault_trackers_freed) == freed &&
	       time_before(jiffies, deadline) && !fatal_signal_pending(current))
		msleep(1);
	atomic_dec(&fault_put_waiting);
}

static atomic_t fault_store_reclaim_io = ATOMIC_INIT(0);
module_param_cb(fault_store_reclaim_io, &counter_ops, &fault_store_reclaim_io, 0400);
MODULE_PARM_DESC(fault_store_reclaim_io, "store I/O run where reclaim could write (to a member)");

void cbt_fault_store_io(void)
{
	if (current_gfp_context(GFP_KERNEL) & __GFP_IO) {
		atomic_inc(&fault_store_reclaim_io);
		pr_warn_once("cbt: fault: store I/O where reclaim may write\n");
	}
}

static char fault_copy_comm[TASK_COMM_LEN];
module_param_string(fault_copy_comm, fault_copy_comm, sizeof(fault_copy_comm), 0600);
MODULE_PARM_DESC(fault_copy_comm, "copies made by this command wait, holding their chunk, for another write to claim it");

static unsigned int fault_copy_wait_ms;
module_param(fault_copy_wait_ms, uint, 0600);
MODULE_PARM_DESC(fault_copy_wait_ms, "longest wait for another write to claim the chunk");

/* Copies waiting now; copies whose chunk another write claimed meanwhile. */
static atomic_t fault_copy_waiting = ATOMIC_INIT(0);
static atomic_t fault_copy_met = ATOMIC_INIT(0);
module_param_cb(fault_copy_waiting, &counter_ops, &fault_copy_waiting, 0400);
MODULE_PARM_DESC(fault_copy_waiting, "copies waiting, holding their chunk");
module_param_cb(fault_copy_met, &counter_ops, &fault_copy_met, 0400);
MODULE_PARM_DESC(fault_copy_met, "waiting copies whose chunk another write claimed");

/* The waiting copy, under waiter_lock; one at a time. */
static struct {
	struct cbt_cow *cow;
	struct task_struct *task;
	u64 pos, end;
	bool met;
} copier;

static void set_copier(struct cbt_cow *cow, u64 pos, u64 end)
{
	unsigned long flags;

	spin_lock_irqsave(&waiter_lock, flags);
	copier.cow = cow;
	copier.task = current;
	copier.pos = pos;
	copier.end = end;
	copier.met = false;
	spin_unlock_irqrestore(&waiter_lock, flags);
}

static bool copier_met(bool clear)
{
	unsigned long flags;
	bool met;

	spin_lock_irqsave(&waiter_lock, flags);
	met = copier.met;
	if (clear)
		copier.cow = NULL;
	spin_unlock_irqrestore(&waiter_lock, flags);
	return met;
}

void cbt_fault_copy_wait(struct cbt_cow *cow, u64 pos, u64 end)
{
	unsigned long deadline;

	if (!comm_is(fault_copy_comm))
		return;
	set_copier(cow, pos, end);
	atomic_inc(&fault_copy_waiting);
	deadline = jiffies + msecs_to_jiffies(min(READ_ONCE(fault_copy_wait_ms),
						  FAULT_MARK_MAX_MS));
	while (!copier_met(false) && time_before(jiffies, deadline) &&
	       !fatal_signal_pending(current))
		msleep(1);
	if (copier_met(true)) {
		atomic_inc(&fault_copy_met);
		msleep(200);
	}
	atomic_dec(&fault_copy_waiting);
}

void cbt_fault_claim(struct cbt_cow *cow, u64 pos, u64 end)
{
	unsigned long flags;

	if (!atomic_read(&fault_copy_waiting))
		return;
	spin_lock_irqsave(&waiter_lock, flags);
	if (copier.cow == cow && copier.task != current && pos < copier.end &&
	    end > copier.pos)
		copier.met = true;
	spin_unlock_irqrestore(&waiter_lock, flags);
}

static unsigned int fault_create_wait_at;
module_param(fault_create_wait_at, uint, 0600);
MODULE_PARM_DESC(fault_create_wait_at, "where a set's creation waits: 1 its id reserved, 2 its writers frozen, 3 the set made");

static unsigned int fault_create_wait_ms;
module_param(fault_create_wait_ms, uint, 0600);
MODULE_PARM_DESC(fault_create_wait_ms, "how long the next creation waits at fault_create_wait_at (once)");

static atomic_t fault_create_waiting = ATOMIC_INIT(0);
module_param_cb(fault_create_waiting, &counter_ops, &fault_create_waiting, 0400);
MODULE_PARM_DESC(fault_create_waiting, "creations waiting at fault_create_wait_at");

void cbt_fault_create_wait(unsigned int at)
{
	unsigned int ms;

	if (READ_ONCE(fault_create_wait_at) != at)
		return;
	ms = xchg(&fault_create_wait_ms, 0);
	if (!ms)
		return;
	atomic_inc(&fault_create_waiting);
	schedule_timeout_killable(msecs_to_jiffies(ms));
	atomic_dec(&fault_create_waiting);
}
