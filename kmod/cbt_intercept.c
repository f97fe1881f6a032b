// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_intercept.c - where bios are intercepted, and where each write to a
 * tracked volume is dispatched: to copy-on-write first when a snapshot
 * still needs its old data, then to the tracker's marking.
 *
 * The hook is an ftrace hook on submit_bio_noacct_nocheck(), which every
 * bio passes once on its way to a device, whoever submits it (filesystems,
 * the page cache, stacked drivers such as dm and md resubmitting to the
 * device below, partitions), after submit_bio_noacct() checked it and
 * remapped a partition's sectors, and after blk-throttle let it go: a
 * throttled write is seen when it leaves the throttle, not before. Its
 * callback does the common case itself: a write to a tracked disk is
 * marked in each tracker's map and followed to its completion right there,
 * and the bio goes on as if nothing had happened. Only when a snapshot
 * still wants the write's old data, which a callback cannot copy, does it
 * move the instruction pointer to cbt_submit_redirected(). That copies (or
 * hands the bio to copy-on-write, which submits it later), marks, and
 * submits the bio again with submit_bio_noacct(): it comes back to the hook
 * followed, and passes.
 *
 * A write is marked and followed once, on its first pass: a remainder that
 * bio_split_to_limits() or a stacked driver submits again is the same
 * write, already counted whole in its generation, and passes (a bio that a
 * driver moves to another tracked disk is marked there too). Bios the
 * module submits itself get no pass: a store is never tracked, and the
 * writes copy-on-write held are followed already.
 *
 * Two more watchers need no redirect. A request that request-based dm
 * clones onto a path carries bios made below the hook: they are marked
 * there. And passthrough commands (SG_IO, NVMe ioctls) carry no bio the
 * hook could read a range from: one that sends data to a tracked disk
 * costs the tracker its continuity (cbt_tracker_lose()).
 *
 * The hooks are registered only while something is tracked: every tracker
 * holds a reference (cbt_intercept_get/put), so a loaded module with
 * nothing to track costs the machine nothing. While they are in place, a
 * write to an untracked disk costs one trampoline and a test of one
 * (empty) hash bucket.
 *
 * The callbacks are called straight from ftrace's trampolines, without
 * ftrace's recursion guard: they never call the functions they hook, and
 * what they do call (RCU, per-CPU counters, a GFP_NOWAIT allocation) is
 * safe in any context a bio can be submitted from, preemptible or not.
 * They take no static key: a key flipped while the callback runs would
 * patch its text under every CPU that is in it.
 */
#include <linux/bio.h>
#include <linux/blk-mq.h>
#include <linux/delay.h>
#include <linux/ftrace.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include "cbt_compat.h"
#include "cbt_cow.h"
#include "cbt_fault.h"
#include "cbt_intercept.h"
#include "cbt_tracker.h"

/* Tasks between the main callback's redirect and the end of our handler. */
static DEFINE_PER_CPU(long, cbt_handlers_active);

static long handlers_active(void)
{
	long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu(cbt_handlers_active, cpu);
	return sum;
}

/* ---- what a write covers ------------------------------------------------ */

/* Does @bio change data (zone operations all count as writes)? */
static __always_inline bool bio_writes(struct bio *bio)
{
	return op_is_write(bio_op(bio));
}

/*
 * The sectors of its whole disk that @bio writes, [*sector, *end); false
 * when none. A bio that went through submit_bio_noacct() once already
 * (BIO_REMAPPED: a split remainder, a throttled bio) has whole-disk sectors.
 */
static __always_inline bool write_span(struct bio *bio, sector_t *sector,
				       sector_t *end)
{
	struct block_device *bdev = bio->bi_bdev;
	sector_t start = bio->bi_iter.bi_sector, nr = bio_sectors(bio);

	if (bdev_is_partition(bdev) && !bio_flagged(bio, BIO_REMAPPED))
		start += bdev->bd_start_sect;
	switch (bio_op(bio)) {
	case REQ_OP_ZONE_APPEND:	/* lands anywhere in its zone */
	case REQ_OP_ZONE_RESET:		/* data of the zone is gone */
	case REQ_OP_ZONE_FINISH:
		nr = bdev_zone_sectors(bdev);
		if (nr)
			start -= start % nr;
		break;
	case REQ_OP_ZONE_RESET_ALL:
		start = 0;
		nr = get_capacity(bdev->bd_disk);
		break;
	default:
		break;
	}
	*sector = start;
	*end = start + nr;
	return nr != 0;
}

/* ---- dispatch ----------------------------------------------------------- */

/*
 * The generation a write to @t marks: the open one, or, while @t's snapshot
 * holds writes before its instant, the first one after the instant.
 */
static __always_inline u64 write_gen(struct cbt_tracker *t,
				     struct cbt_cow *cow)
{
	u64 gen = cbt_tracker_gen(t);

	return cow ? max(gen, cbt_cow_first_gen(cow)) : gen;
}

/*
 * Mark the write in every tracker of its disk. Under RCU; @epoch was read
 * before the section's first look for trackers.
 */
static __always_inline void mark_write(struct bio *bio, sector_t sector,
				       sector_t end, unsigned long epoch)
{
	struct gendisk *disk = bio->bi_bdev->bd_disk;
	struct cbt_tracker *t;
	u64 gen;

	cbt_for_each_tracker(t, disk) {
		if (!cbt_tracker_covers(t, sector, end))
			continue;
		gen = write_gen(t, cbt_tracker_cow(t));
		cbt_fault_mark_wait(t, gen, sector, end);
		cbt_tracker_mark(t, bio, sector, end, gen, epoch);
	}
}

/*
 * The main callback's part: false when the write is marked (or not ours to
 * mark) and goes on; true when copy-on-write may be wanted and the handler
 * must take it. The read section disables preemption rather than taking
 * rcu_read_lock(): it is cheaper, nothing in it sleeps, and every
 * synchronize_rcu() that frees what writers read waits for both kinds.
 */
static __always_inline bool hook_write(struct bio *bio)
{
	struct gendisk *disk = bio->bi_bdev->bd_disk;
	bool tracked = false, wanted = false;
	struct cbt_tracker *t;
	sector_t sector, end;
	struct cbt_cow *cow;
	unsigned long epoch;

	if (!write_span(bio, &sector, &end))
		return false;
	rcu_read_lock_sched_notrace();
	epoch = cbt_follow_epoch_read();
	cbt_for_each_tracker(t, disk) {
		if (!cbt_tracker_covers(t, sector, end))
			continue;
		tracked = true;
		cow = cbt_tracker_cow(t);
		if (unlikely(cow) && cbt_cow_wanted(cow, sector, end)) {
			wanted = true;
			break;
		}
	}
	if (tracked && !wanted)
		mark_write(bio, sector, end, epoch);
	rcu_read_unlock_sched_notrace();
	return wanted;
}

/*
 * The handler's part, where the submitter's context allows what it allows:
 * claim the snapshots that want the write's old data; copy it right here
 * when the submitter may sleep, else mark the write and hand it to
 * copy-on-write, which submits it later (true). False: the write is
 * marked and goes on.
 */
static bool take_write(struct bio *bio)
{
	struct cbt_cow_claim claims[CBT_COW_MAX_CLAIMS];
	struct gendisk *disk = bio->bi_bdev->bd_disk;
	bool may_sleep = cbt_cow_may_sleep(bio);
	unsigned int nr = 0, first, i;
	bool defer = false;
	struct cbt_tracker *t;
	sector_t sector, end;
	struct cbt_cow *cow;
	unsigned long epoch;

	if (!write_span(bio, &sector, &end))
		return false;
	do {
		first = nr;
		/* Nothing in it sleeps; held writes wait for its end to be seen. */
		rcu_read_lock_sched();
		epoch = cbt_follow_epoch_read();
		cbt_for_each_tracker(t, disk) {
			cow = cbt_tracker_cow(t);
			if (!cow || !cbt_tracker_covers(t, sector, end) ||
			    !cbt_cow_wanted(cow, sector, end))
				continue;
			if (nr == CBT_COW_MAX_CLAIMS) {
				cbt_cow_fail(cow, -E2BIG);	/* never the write */
				continue;
			}
			cbt_cow_claim(cow, may_sleep, sector, end, &claims[nr]);
			defer |= !claims[nr].inline_copy;
			nr++;
		}
		if (nr == first || defer)
			mark_write(bio, sector, end, epoch);
		rcu_read_unlock_sched();
		/* Copy here, then look again: a set may have come meanwhile. */
		for (i = first; i < nr && !defer; i++)
			cbt_cow_copy(&claims[i]);
	} while (nr != first && !defer);

	if (defer)
		cbt_cow_defer(bio, &claims[first], nr - first);
	/* Held until here: a set copied for stays alive while we look. */
	for (i = 0; i < first; i++)
		cbt_cow_release(&claims[i]);
	return defer;
}

/*
 * Where the hook sends a write copy-on-write wants, in place of
 * submit_bio_noacct_nocheck(): whatever happens, the bio leaves marked and
 * followed (or held by copy-on-write), so the hook lets it pass next time.
 */
static noinline void cbt_submit_redirected(struct bio *bio)
{
	if (!take_write(bio))
		submit_bio_noacct(bio);
	this_cpu_dec(cbt_handlers_active);
	barrier();
}

static void notrace cbt_main_callback(unsigned long ip, unsigned long parent_ip,
				      struct ftrace_ops *ops,
				      struct ftrace_regs *fregs)
{
	struct bio *bio = cbt_ftrace_arg0(fregs);

	if (unlikely(!bio) || !bio_writes(bio) || !bio->bi_bdev)
		return;
	if (!cbt_disk_maybe_tracked(bio->bi_bdev->bd_disk))
		return;
	cbt_fault_remainder_wait(bio);
	if (cbt_bio_followed(bio))
		return;
	if (!hook_write(bio))
		return;
	this_cpu_inc(cbt_handlers_active);
	cbt_ftrace_set_ip(fregs, (unsigned long)cbt_submit_redirected);
}

/*
 * A write that reaches a queue unfollowed, in a request request-based dm
 * cloned: mark and follow it now; a snapshot that wanted its old data
 * cannot have it any more and is failed.
 */
static void late_write(struct bio *bio)
{
	struct gendisk *disk = bio->bi_bdev->bd_disk;
	struct cbt_tracker *t;
	sector_t sector, end;
	struct cbt_cow *cow;
	unsigned long epoch;

	if (!write_span(bio, &sector, &end))
		return;
	rcu_read_lock_sched_notrace();
	epoch = cbt_follow_epoch_read();
	cbt_for_each_tracker(t, disk) {
		if (!cbt_tracker_covers(t, sector, end))
			continue;
		cow = cbt_tracker_cow(t);
		if (unlikely(cow) && cbt_cow_wanted(cow, sector, end))
			cbt_cow_fail(cow, -EIO);
		cbt_tracker_mark(t, bio, sector, end, write_gen(t, cow), epoch);
	}
	rcu_read_unlock_sched_notrace();
}

/*
 * Requests that reach a queue without a bio passing the hooks. A
 * passthrough command (SG_IO, bsg, sg, NVMe ioctls) carries no range the
 * hooks could read: one that moves data to the device (a SCSI or ATA
 * WRITE, WRITE SAME, UNMAP, an NVMe write; also PERSISTENT RESERVE OUT,
 * MODE SELECT, WRITE BUFFER) costs its disk's trackers their continuity,
 * and its sets their images (their old data went uncopied). Commands
 * without data that change the medium (FORMAT UNIT, SANITIZE, an NVMe
 * Write Zeroes) are not seen: docs/design.md says so. A request that
 * request-based dm (multipath) clones onto a path carries bios made
 * there, below the hook: they are marked here.
 */
static void request_write(struct request *rq)
{
	struct gendisk *disk = rq->q->disk;
	struct cbt_tracker *t;
	struct cbt_cow *cow;
	struct bio *bio;

	if (!blk_rq_is_passthrough(rq)) {
		if (op_is_write(req_op(rq)))
			__rq_for_each_bio(bio, rq)
				if (!cbt_bio_followed(bio))
					late_write(bio);
		return;
	}
	rcu_read_lock_sched_notrace();
	cbt_for_each_tracker(t, disk) {
		cbt_tracker_lose(t, "a passthrough command wrote to it");
		cow = cbt_tracker_cow(t);
		if (cow)
			cbt_cow_fail(cow, -EIO);
	}
	rcu_read_unlock_sched_notrace();
}

static void notrace cbt_request_callback(unsigned long ip,
					 unsigned long parent_ip,
					 struct ftrace_ops *ops,
					 struct ftrace_regs *fregs)
{
	struct request *rq = cbt_ftrace_arg0(fregs);
	struct gendisk *disk;

	if (unlikely(!rq) || !op_is_write(req_op(rq)))
		return;
	disk = rq->q->disk;
	if (!disk || !cbt_disk_maybe_tracked(disk))
		return;
	request_write(rq);
}

static struct ftrace_ops cbt_main_ops = {
	.func = cbt_main_callback,
	.flags = CBT_FTRACE_OPS_REGS | FTRACE_OPS_FL_IPMODIFY,
};

static struct ftrace_ops cbt_request_ops = {
	.func = cbt_request_callback,
	.flags = CBT_FTRACE_OPS_REGS,
};

/* ---- registration ------------------------------------------------------- */

/* cbt_hook_mutex protects cbt_hook_users and the hooks' registration. */
static DEFINE_MUTEX(cbt_hook_mutex);
static unsigned int cbt_hook_users;

/* Hook the functions at @ips, or the one named @name when @nr_ips is 0. */
static int ops_register(struct ftrace_ops *ops, const char *name,
			unsigned long *ips, unsigned int nr_ips)
{
	int ret = nr_ips ? ftrace_set_filter_ips(ops, ips, nr_ips, 0, 1) :
			   ftrace_set_filter(ops, (unsigned char *)name,
					     strlen(name), 1);

	if (!ret)
		ret = register_ftrace_function(ops);
	if (ret) {
		pr_err("cbt: cannot hook %s: %d\n", name, ret);
		ftrace_set_filter(ops, NULL, 0, 1);
	}
	return ret;
}

/* Unhook, and empty the filter for the next registration. */
static void ops_unregister(struct ftrace_ops *ops)
{
	unregister_ftrace_function(ops);
	ftrace_set_filter(ops, NULL, 0, 1);
}

static int hooks_register(void)
{
	static unsigned long requests[] = {
		(unsigned long)blk_execute_rq,
		(unsigned long)blk_execute_rq_nowait,
		(unsigned long)blk_insert_cloned_request,
	};
	int ret;

	ret = ops_register(&cbt_request_ops, "request entries", requests,
			   ARRAY_SIZE(requests));
	if (ret)
		return ret;
	/* Not exported: found by name. */
	ret = ops_register(&cbt_main_ops, "submit_bio_noacct_nocheck", NULL, 0);
	if (ret)
		ops_unregister(&cbt_request_ops);
	return ret;
}

static void hooks_unregister(void)
{
	ops_unregister(&cbt_main_ops);
	ops_unregister(&cbt_request_ops);
	/* Let every task that was sent to our handler leave it. */
	while (handlers_active())
		msleep(20);
	synchronize_rcu_tasks();
}

int cbt_intercept_get(void)
{
	int ret = 0;

	mutex_lock(&cbt_hook_mutex);
	if (!cbt_hook_users)
		ret = hooks_register();
	if (!ret)
		cbt_hook_users++;
	mutex_unlock(&cbt_hook_mutex);
	return ret;
}

void cbt_intercept_put(void)
{
	mutex_lock(&cbt_hook_mutex);
	if (!WARN_ON_ONCE(!cbt_hook_users) && !--cbt_hook_users)
		hooks_unregister();
	mutex_unlock(&cbt_hook_mutex);
}

bool cbt_intercept_active(void)
{
	bool active;

	mutex_lock(&cbt_hook_mutex);
	active = cbt_hook_users;
	mutex_unlock(&cbt_hook_mutex);
	return active;
}
