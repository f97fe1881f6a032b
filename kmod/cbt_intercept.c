// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_intercept.c - where bios are intercepted: an ftrace hook on
 * submit_bio_noacct(), the entry every bio passes through on its way to a
 * device, whoever submits it (filesystems, the page cache, stacked drivers
 * such as dm and md resubmitting to the device below, partitions).
 *
 * The ftrace callback does the common case itself: a write-type bio to a
 * tracked disk is marked in the change map right there, and
 * submit_bio_noacct() goes on as if nothing had happened. Only when the
 * write may have to wait for copy-on-write (old data on a snapshotted
 * volume not yet preserved), which a callback cannot do, does it move the
 * instruction pointer to cbt_submit_bio_noacct(). That copies, records the
 * write and then calls the real submit_bio_noacct() from inside this
 * module, which is how the callback tells the call from a fresh submission
 * and lets it through.
 * The hook is in place only while something is tracked: every tracker
 * holds a reference on it (cbt_intercept_get/put), and when the last one is
 * freed the hook is unregistered, so a loaded module with nothing to track
 * costs the machine nothing. While it is in place, a write to an untracked
 * disk costs the trampoline and a test of one (empty) hash bucket.
 *
 * The callback is called straight from ftrace's trampoline, without
 * ftrace's recursion guard: it never calls the function it hooks, and what
 * it does call (RCU, per-CPU counters, a GFP_NOWAIT allocation) is safe in
 * any context a bio can be submitted from, preemptible or not.
 */
#include <linux/bio.h>
#include <linux/ftrace.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/rcupdate.h>
#include <linux/delay.h>
#include "cbt_intercept.h"
#include "cbt_tracker.h"
#include "cbt_compat.h"

/* Tasks between the callback's redirect and the end of our handler. */
static DEFINE_PER_CPU(long, cbt_handlers_active);

static long handlers_active(void)
{
	long sum = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		sum += per_cpu(cbt_handlers_active, cpu);
	return sum;
}

/*
 * Must not be a tail call: submit_bio_noacct() has to see a return address
 * inside this module, or the callback would redirect it here again forever.
 */
static noinline void cbt_submit_bio_noacct(struct bio *bio)
{
	/* A write taken for copy-on-write is submitted again by its worker. */
	if (!cbt_track_write(bio, true))
		submit_bio_noacct(bio);
	this_cpu_dec(cbt_handlers_active);
	barrier();
}

/* Same rule: the call must come from inside the module. */
noinline void cbt_resubmit_bio(struct bio *bio)
{
	if (!cbt_track_write(bio, false))
		submit_bio_noacct(bio);
	barrier();
}

static void notrace cbt_ftrace_callback(unsigned long ip,
					unsigned long parent_ip,
					struct ftrace_ops *ops,
					struct ftrace_regs *fregs)
{
	struct bio *bio;

	/*
	 * No static key here: the hook exists only while something is
	 * tracked, and a key flipped while the callback runs would patch its
	 * text under every CPU that is in it.
	 */
	bio = cbt_ftrace_arg0(fregs);
	if (unlikely(!bio) || !op_is_write(bio_op(bio)) || !bio->bi_bdev)
		return;
	if (!cbt_disk_maybe_tracked(bio->bi_bdev->bd_disk))
		return;
	if (cbt_own_text(parent_ip))
		return;
	if (!cbt_hook_write(bio))
		return;
	this_cpu_inc(cbt_handlers_active);
	cbt_ftrace_set_ip(fregs, (unsigned long)cbt_submit_bio_noacct);
}

static struct ftrace_ops cbt_ftrace_ops = {
	.func = cbt_ftrace_callback,
	.flags = CBT_FTRACE_OPS_REGS | FTRACE_OPS_FL_IPMODIFY,
};

/* cbt_hook_mutex protects cbt_hook_users and the hook's registration. */
static DEFINE_MUTEX(cbt_hook_mutex);
static unsigned int cbt_hook_users;

static int hook_register(void)
{
	int ret;

	ret = ftrace_set_filter_ip(&cbt_ftrace_ops,
				   (unsigned long)submit_bio_noacct, 0, 0);
	if (ret) {
		pr_err("cbt: cannot hook submit_bio_noacct: %d\n", ret);
		return ret;
	}
	ret = register_ftrace_function(&cbt_ftrace_ops);
	if (ret) {
		pr_err("cbt: cannot register the ftrace hook: %d\n", ret);
		ftrace_set_filter_ip(&cbt_ftrace_ops,
				     (unsigned long)submit_bio_noacct, 1, 0);
	}
	return ret;
}

static void hook_unregister(void)
{
	unregister_ftrace_function(&cbt_ftrace_ops);
	ftrace_set_filter_ip(&cbt_ftrace_ops, (unsigned long)submit_bio_noacct,
			     1, 0);
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
		ret = hook_register();
	if (!ret)
		cbt_hook_users++;
	mutex_unlock(&cbt_hook_mutex);
	return ret;
}

void cbt_intercept_put(void)
{
	mutex_lock(&cbt_hook_mutex);
	if (!WARN_ON_ONCE(!cbt_hook_users) && !--cbt_hook_users)
		hook_unregister();
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
