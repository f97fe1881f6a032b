/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_snapshot.h - snapshot sets: one or more tracked volumes snapshotted
 * at one instant, each member with a copy-on-write state and an image.
 */
#ifndef CBT_SNAPSHOT_H
#define CBT_SNAPSHOT_H

#include <linux/fs.h>
#include <linux/list.h>
#include <linux/seq_file.h>
#include "cbt_cow.h"
#include "cbt_ioctl.h"

struct cbt_snapset {
	struct cbt_cow_set cs;		/* what the members share; holds the refs */
	struct list_head node;		/* cbt_snapsets, under cbt_snapsets_mutex */
	u64 created_ns, hold_ns;
	struct work_struct free_work;	/* after the last reference */
	unsigned int nr;
	struct cbt_cow *members[CBT_SNAP_MAX_MEMBERS];
};

int cbt_snapset_create(struct cbt_snap_member *members, unsigned int count,
		       u32 flags, struct file *store, unsigned int hold_ms,
		       unsigned int low_space, u32 *id, u64 *hold_ns);
int cbt_snapset_reserve_id(u32 *id);
void cbt_snapset_release_id(u32 id);
int cbt_snapset_grow(u32 id, struct file *store);
int cbt_snapset_destroy(u32 id);
int cbt_snapset_info(u32 id, struct cbt_snap_info *info,
		     struct cbt_snap_member *members, unsigned int capacity);
int cbt_snapset_list(u32 *ids, u32 capacity, u32 *count);
int cbt_snapset_events_fd(u32 id);
/* Fail the sets whose members went away; called periodically. */
void cbt_snapshot_reap(void);
void cbt_snapset_show(struct seq_file *m);
int cbt_snapshot_init(void);
void cbt_snapshot_exit(void);

#endif /* CBT_SNAPSHOT_H */
