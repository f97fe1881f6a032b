/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_compat.h - the kernel API differences cbt depends on, each chosen by
 * a feature probe (see probe.sh and probes/), never by version number.
 */
#ifndef CBT_COMPAT_H
#define CBT_COMPAT_H

#include <linux/blkdev.h>
#include <linux/ftrace.h>
#include <linux/module.h>
#include "cbt_probed.h"

/* How cbt_bdev_open() opens: for reading, writing, exclusively. */
#define CBT_OPEN_READ		(1u << 0)
#define CBT_OPEN_WRITE		(1u << 1)
#define CBT_OPEN_EXCL		(1u << 2)	/* claimed for @holder */

/* An open reference to a block device, and what closing it needs. */
struct cbt_bdev_open {
	struct block_device *bdev;
#if defined(CBT_HAVE_BDEV_FILE_OPEN_BY_DEV)
	struct file *file;
#elif defined(CBT_HAVE_BDEV_OPEN_BY_DEV)
	struct bdev_handle *handle;
#elif defined(CBT_HAVE_BLKDEV_GET_BY_DEV_HOPS)
	void *holder;
#else
	fmode_t mode;
#endif
};

static inline int cbt_bdev_open(dev_t dev, unsigned int how, void *holder,
				struct cbt_bdev_open *o)
{
#if defined(CBT_HAVE_BDEV_FILE_OPEN_BY_DEV) || defined(CBT_HAVE_BDEV_OPEN_BY_DEV) || \
	defined(CBT_HAVE_BLKDEV_GET_BY_DEV_HOPS)
	blk_mode_t mode = (how & CBT_OPEN_READ ? BLK_OPEN_READ : 0) |
			  (how & CBT_OPEN_WRITE ? BLK_OPEN_WRITE : 0) |
			  (how & CBT_OPEN_EXCL ? BLK_OPEN_EXCL : 0);

	if (!(how & CBT_OPEN_EXCL))
		holder = NULL;
#endif
#if defined(CBT_HAVE_BDEV_FILE_OPEN_BY_DEV)
	o->file = bdev_file_open_by_dev(dev, mode, holder, NULL);
	if (IS_ERR(o->file))
		return PTR_ERR(o->file);
	o->bdev = file_bdev(o->file);
#elif defined(CBT_HAVE_BDEV_OPEN_BY_DEV)
	o->handle = bdev_open_by_dev(dev, mode, holder, NULL);
	if (IS_ERR(o->handle))
		return PTR_ERR(o->handle);
	o->bdev = o->handle->bdev;
#elif defined(CBT_HAVE_BLKDEV_GET_BY_DEV_HOPS)
	o->bdev = blkdev_get_by_dev(dev, mode, holder, NULL);
	if (IS_ERR(o->bdev))
		return PTR_ERR(o->bdev);
	o->holder = holder;
#else
	o->mode = (how & CBT_OPEN_READ ? FMODE_READ : 0) |
		  (how & CBT_OPEN_WRITE ? FMODE_WRITE : 0) |
		  (how & CBT_OPEN_EXCL ? FMODE_EXCL : 0);
	o->bdev = blkdev_get_by_dev(dev, o->mode, holder);
	if (IS_ERR(o->bdev))
		return PTR_ERR(o->bdev);
#endif
	return 0;
}

static inline void cbt_bdev_close(struct cbt_bdev_open *o)
{
#if defined(CBT_HAVE_BDEV_FILE_OPEN_BY_DEV)
	fput(o->file);
#elif defined(CBT_HAVE_BDEV_OPEN_BY_DEV)
	bdev_release(o->handle);
#elif defined(CBT_HAVE_BLKDEV_GET_BY_DEV_HOPS)
	blkdev_put(o->bdev, o->holder);
#else
	blkdev_put(o->bdev, o->mode);
#endif
}

/*
 * The hooked function's first argument. Where ftrace hands arguments to a
 * callback without a full register save, the hook does without one: it is
 * passed by every bio submitted on the machine.
 */
#ifdef CBT_HAVE_FTRACE_REGS_GET_ARGUMENT
#define CBT_FTRACE_OPS_REGS	0
static __always_inline void *cbt_ftrace_arg0(struct ftrace_regs *fregs)
{
	return (void *)ftrace_regs_get_argument(fregs, 0);
}
#elif defined(CBT_HAVE_FTRACE_REGS_PT_REGS_ARGS)
#define CBT_FTRACE_OPS_REGS	0
static __always_inline void *cbt_ftrace_arg0(struct ftrace_regs *fregs)
{
	return (void *)regs_get_kernel_argument(&fregs->regs, 0);
}
#else
#define CBT_FTRACE_OPS_REGS	FTRACE_OPS_FL_SAVE_REGS
static __always_inline void *cbt_ftrace_arg0(struct ftrace_regs *fregs)
{
	struct pt_regs *regs = ftrace_get_regs(fregs);

	return regs ? (void *)regs_get_kernel_argument(regs, 0) : NULL;
}
#endif

static __always_inline void cbt_ftrace_set_ip(struct ftrace_regs *fregs,
					      unsigned long ip)
{
#ifdef CBT_HAVE_FTRACE_REGS_SET_INSTRUCTION_POINTER
	ftrace_regs_set_instruction_pointer(fregs, ip);
#else
	ftrace_instruction_pointer_set(fregs, ip);
#endif
}

/*
 * Freeze (and thaw) the filesystem mounted on @bdev, if any (without one,
 * its buffers are written out). *@fs: a filesystem is frozen. Returns 1
 * when it is being or has been frozen by someone else (fsfreeze) and is
 * not ours to thaw: bdev_freeze() nests such freezes; freeze_bdev() says
 * EBUSY, which cannot tell a finished freeze from one under way (nor hold
 * off a thaw), so that filesystem is not counted as quiesced.
 */
static inline int cbt_bdev_freeze(struct block_device *bdev, bool *fs)
{
	int ret;

#ifdef CBT_HAVE_BDEV_FREEZE
	*fs = bdev->bd_holder_ops == &fs_holder_ops;
	ret = bdev_freeze(bdev);
#else
	ret = freeze_bdev(bdev);
	if (ret == -EBUSY) {
		*fs = false;
		return 1;
	}
	*fs = !ret && bdev->bd_fsfreeze_sb;
#endif
	return ret;
}

static inline int cbt_bdev_thaw(struct block_device *bdev)
{
#ifdef CBT_HAVE_BDEV_FREEZE
	return bdev_thaw(bdev);
#else
	return thaw_bdev(bdev);
#endif
}

/* A bio-based disk with the given logical block size; ERR_PTR on failure. */
static inline struct gendisk *cbt_alloc_disk(unsigned int lbs,
					     unsigned int max_sectors)
{
#ifdef CBT_HAVE_BLK_ALLOC_DISK_LIMITS
	struct queue_limits lim = {
		.logical_block_size = lbs,
		.physical_block_size = lbs,
		.max_hw_sectors = max_sectors,
	};

	return blk_alloc_disk(&lim, NUMA_NO_NODE);
#else
	struct gendisk *disk = blk_alloc_disk(NUMA_NO_NODE);

	if (!disk)
		return ERR_PTR(-ENOMEM);
	blk_queue_logical_block_size(disk->queue, lbs);
	blk_queue_physical_block_size(disk->queue, lbs);
	blk_queue_max_hw_sectors(disk->queue, max_sectors);
	return disk;
#endif
}

#endif /* CBT_COMPAT_H */
