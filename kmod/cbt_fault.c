// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_fault.c - fault injection for the tests (see cbt_fault.h). Built only
 * into the test module (make -C kmod faults).
 */
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/moduleparam.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/sysfs.h>
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
 * Waiting writes that another write, of a later generation, overtook: it
 * came to mark while they waited (read-only). One waiting write at a time.
 */
static atomic_t fault_mark_overtaken = ATOMIC_INIT(0);
static atomic_t overtakers = ATOMIC_INIT(0);
static u64 waiter_gen = U64_MAX;

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

static bool waits(void)
{
	size_t len = strcspn(fault_mark_comm, "\n");

	return len && strlen(current->comm) == len &&
	       !strncmp(current->comm, fault_mark_comm, len);
}

void cbt_fault_mark_wait(struct cbt_tracker *t, u64 gen)
{
	unsigned long deadline;
	int before;

	if (!waits()) {
		if (atomic_read(&fault_mark_waiting) && gen > READ_ONCE(waiter_gen))
			atomic_inc(&overtakers);
		return;
	}
	WRITE_ONCE(waiter_gen, gen);
	atomic_inc(&fault_mark_waiting);
	deadline = jiffies + msecs_to_jiffies(READ_ONCE(fault_mark_wait_ms));
	while (gen_now(t) == gen && time_before(jiffies, deadline))
		cpu_relax();
	if (gen_now(t) != gen)
		atomic_inc(&fault_mark_seen);
	before = atomic_read(&overtakers);
	mdelay(READ_ONCE(fault_mark_extra_ms));
	if (atomic_read(&overtakers) != before)
		atomic_inc(&fault_mark_overtaken);
	atomic_dec(&fault_mark_waiting);
	WRITE_ONCE(waiter_gen, U64_MAX);
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
	while (!atomic_read(&fault_mark_waiting) && time_before(jiffies, deadline))
		msleep(1);
	if (!atomic_read(&fault_mark_waiting))
		pr_warn("cbt: fault: no write came to wait before the instant\n");
	atomic_dec(&fault_instant_waiting);
}

static unsigned int fault_member_wait_ms;
module_param(fault_member_wait_ms, uint, 0600);
MODULE_PARM_DESC(fault_member_wait_ms, "a snapshot set waits this long between finding a member's tracker and claiming it");

static atomic_t fault_member_waiting = ATOMIC_INIT(0);
module_param_cb(fault_member_waiting, &counter_ops, &fault_member_waiting, 0400);
MODULE_PARM_DESC(fault_member_waiting, "snapshot sets waiting between finding a member's tracker and claiming it");

void cbt_fault_member_wait(void)
{
	unsigned int ms = READ_ONCE(fault_member_wait_ms);

	if (!ms)
		return;
	atomic_inc(&fault_member_waiting);
	msleep(ms);
	atomic_dec(&fault_member_waiting);
}
