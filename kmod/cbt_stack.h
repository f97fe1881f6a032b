/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_stack.h - block device stacks: which devices hold data that lies on
 * a given set of devices (partitions, dm and md volumes above them, loop
 * devices over files on them), so a snapshot can freeze every filesystem
 * whose data is on a member and refuse a store that would write to one.
 */
#ifndef CBT_STACK_H
#define CBT_STACK_H

#include <linux/blkdev.h>
#include <linux/types.h>

struct cbt_stack;

/*
 * Every block device whose data lies on one of @bases: the bases, the
 * partitions (and whole disks) that share sectors with them, and every
 * disk holding one of those (dm and md register as holders), with its
 * partitions, up to the top. Process context; the devices are pinned until
 * cbt_stack_free().
 */
struct cbt_stack *cbt_stack_above(struct block_device **bases,
				  unsigned int nr_bases);
void cbt_stack_free(struct cbt_stack *st);

/* Does @bdev share sectors with a base or lie (in part) on what is above one? */
bool cbt_stack_contains(struct cbt_stack *st, struct block_device *bdev);

/*
 * The @nth device (from 0) that @inode's data lies on (a device node's own
 * device, a file's filesystem's: one, or each a multi-device filesystem
 * such as btrfs holds), pinned by @st; NULL past the last, and at once for
 * memory and network filesystems; ERR_PTR(-EXDEV) when it cannot be told
 * (FUSE, a device added since @st was built).
 */
struct block_device *cbt_stack_inode_dev(struct cbt_stack *st,
					 struct inode *inode, unsigned int nth);

/*
 * The device the backing file of loop device (or loop partition) @bdev
 * lies on, as cbt_stack_inode_dev() tells it: NULL also when @bdev is no
 * loop device or is unbound; ERR_PTR(-EXDEV) when the file cannot be found.
 * When @bdev is a bound loop device, *@file is its backing file's inode,
 * with a reference the caller drops with iput() (else NULL).
 */
struct block_device *cbt_stack_loop_lower(struct cbt_stack *st,
					  struct block_device *bdev,
					  struct inode **file);

/*
 * Freeze every device of the stack, the topmost first, within @deadline
 * (jiffies); a filesystem frozen on it counts in @frozen[i] for each base i
 * it lies on. Returns 0 or the first error; cbt_stack_thaw() thaws what
 * was frozen either way.
 */
int cbt_stack_freeze(struct cbt_stack *st, u32 *frozen,
		     unsigned long deadline);
void cbt_stack_thaw(struct cbt_stack *st);

#endif /* CBT_STACK_H */
