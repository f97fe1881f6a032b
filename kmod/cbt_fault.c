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

void cbt_fault_mark_wait(struct cbt_tracker *t, u64 gen)
{
	unsigned long deadline;

	if (!fault_mark_comm[0] ||
	    strncmp(current->comm, fault_mark_comm, strcspn(fault_mark_comm, "\n")) ||
	    strlen(current->comm) != strcspn(fault_mark_comm, "\n"))
		return;
	atomic_inc(&fault_mark_waiting);
	deadline = jiffies + msecs_to_jiffies(READ_ONCE(fault_mark_wait_ms));
	while (cbt_tracker_gen(t) == gen && time_before(jiffies, deadline))
		cpu_relax();
	if (cbt_tracker_gen(t) != gen)
		atomic_inc(&fault_mark_seen);
	mdelay(READ_ONCE(fault_mark_extra_ms));
	atomic_dec(&fault_mark_waiting);
}
