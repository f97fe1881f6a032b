// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_main.c - module load and unload, the debugfs status files, and the
 * periodic check that drops trackers of devices that went away.
 *
 * Unloading detaches everything: the control device goes first (no new
 * requests), then every snapshot set is destroyed, then the trackers (each
 * freed once the writes it follows have completed); the last one to go
 * takes the hook with it, once every task sent to our handler has left it.
 */
#include <linux/debugfs.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/workqueue.h>
#include "cbt_ctl.h"
#include "cbt_intercept.h"
#include "cbt_snapshot.h"
#include "cbt_tracker.h"
#include "cbt_version.h"
#include "cbt_writer.h"

#define CBT_REAP_INTERVAL	HZ

static struct dentry *cbt_debugfs_dir;
static void cbt_reap_fn(struct work_struct *work);
static DECLARE_DELAYED_WORK(cbt_reap_work, cbt_reap_fn);

static void cbt_reap_fn(struct work_struct *work)
{
	cbt_snapshot_reap();	/* sets first: their members may be going */
	cbt_tracker_reap();
	cbt_writer_reap();	/* rounds held for acks that never came */
	schedule_delayed_work(&cbt_reap_work, CBT_REAP_INTERVAL);
}

static int cbt_trackers_show(struct seq_file *m, void *v)
{
	cbt_tracker_show(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(cbt_trackers);

static int cbt_snapshots_show(struct seq_file *m, void *v)
{
	cbt_snapset_show(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(cbt_snapshots);

static int cbt_writers_show(struct seq_file *m, void *v)
{
	cbt_writer_show(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(cbt_writers);

static int cbt_hook_show(struct seq_file *m, void *v)
{
	seq_puts(m, cbt_intercept_active() ? "registered\n" : "unregistered\n");
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(cbt_hook);

static int __init cbt_init(void)
{
	int ret;

	ret = cbt_tracker_init();
	if (ret)
		return ret;
	ret = cbt_snapshot_init();
	if (ret)
		goto exit_tracker;
	ret = cbt_ctl_init();
	if (ret)
		goto exit_snapshot;
	cbt_debugfs_dir = debugfs_create_dir("cbt", NULL);
	debugfs_create_file("trackers", 0400, cbt_debugfs_dir, NULL,
			    &cbt_trackers_fops);
	debugfs_create_file("snapshots", 0400, cbt_debugfs_dir, NULL,
			    &cbt_snapshots_fops);
	debugfs_create_file("writers", 0400, cbt_debugfs_dir, NULL,
			    &cbt_writers_fops);
	debugfs_create_file("hook", 0400, cbt_debugfs_dir, NULL, &cbt_hook_fops);
	schedule_delayed_work(&cbt_reap_work, CBT_REAP_INTERVAL);
	pr_info("cbt: loaded\n");
	return 0;

exit_snapshot:
	cbt_snapshot_exit();
exit_tracker:
	cbt_tracker_exit();
	return ret;
}

static void __exit cbt_exit(void)
{
	cbt_ctl_exit();
	debugfs_remove_recursive(cbt_debugfs_dir);
	cancel_delayed_work_sync(&cbt_reap_work);
	cbt_snapshot_exit();
	cbt_writer_exit();	/* the rounds of the sets just destroyed */
	cbt_tracker_exit();
	pr_info("cbt: unloaded\n");
}

module_init(cbt_init);
module_exit(cbt_exit);
MODULE_DESCRIPTION("Changed-block tracking for live block devices");
MODULE_AUTHOR("The cbt developers");
MODULE_LICENSE("GPL");
MODULE_VERSION(CBT_MODULE_VERSION);
