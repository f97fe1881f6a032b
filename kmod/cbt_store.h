/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_store.h - a snapshot set's copy-on-write store: the files and block
 * devices old chunks are preserved in, cut into fixed-size slots.
 */
#ifndef CBT_STORE_H
#define CBT_STORE_H

#include <linux/fs.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include "cbt_compat.h"

#define CBT_STORE_MAX_FILES	64

struct store_entry;
#define CBT_COPY_PAGES		16	/* pages per copy bio: 64 KiB */

struct cbt_store {
	/*
	 * @lock protects the file table and the slot counters. Files are only
	 * ever appended, so a slot once allocated keeps its place.
	 */
	spinlock_t lock;
	struct file *files[CBT_STORE_MAX_FILES];
	struct store_entry *entries[CBT_STORE_MAX_FILES];	/* registrations */
	/* A block device and its exclusive claim; no bdev: a regular file. */
	struct cbt_store_dev {
		struct block_device *bdev;
		bool owned;		/* @open is ours (else the file's O_EXCL) */
		struct cbt_bdev_open open;
	} devs[CBT_STORE_MAX_FILES];
	u64 first_slot[CBT_STORE_MAX_FILES];	/* global number of each file's slot 0 */
	unsigned int nr_files;
	u64 capacity;		/* slots in all files */
	u64 used;		/* slots handed out */
	unsigned int slot_shift;	/* log2(slot size in bytes) */
	unsigned int low_pct;	/* space is low below this share free */
	bool has_files;		/* regular files are (or are about to be) in it */
};

void cbt_store_init(struct cbt_store *s, unsigned int slot_shift,
		    unsigned int low_pct);
/*
 * Take over a reference to @file. A block device is opened exclusively
 * (-EBUSY: something else holds it: a filesystem, LVM, md, another store;
 * or it, or a regular file, is a store already, of this set or another).
 * -EINVAL: neither a regular file nor a block device, or a file opened with
 * O_APPEND (writes would not land at their slot) or O_DIRECT; -EBADF: not
 * open for reading and writing; -ENOSPC: not one slot of room.
 */
int cbt_store_add(struct cbt_store *s, struct file *file);
/*
 * A store receives the members' old blocks, whatever they held: a regular
 * file (a store itself, or the file behind a loop device used as one) must
 * be private to root and be only itself: owned by root, no group or other
 * permission bits, one link, not on a pseudo filesystem. NULL when @inode
 * may hold a store, else why not.
 */
const char *cbt_store_file_unsafe(const struct inode *inode);
/* A regular file is about to be added (see cbt_cow_set_no_inline()). */
void cbt_store_expect_file(struct cbt_store *s);
/* Are regular files in the store? Lock-free. */
static inline bool cbt_store_has_files(struct cbt_store *s)
{
	return READ_ONCE(s->has_files);
}
void cbt_store_release(struct cbt_store *s);
/* A fresh slot, or -ENOSPC; *@low: space is low after it. */
s64 cbt_store_alloc(struct cbt_store *s, bool *low);
/* Is less than the low share of the store free? */
bool cbt_store_low(struct cbt_store *s);
void cbt_store_usage(struct cbt_store *s, u64 *capacity, u64 *used,
		     unsigned int *files);
/*
 * Read or write (by its op) the data of @bio at byte @off within @slot, in
 * process context, with reclaim I/O off (memalloc_noio_save(): it could
 * be a write to a member waiting for this copy). On a block device the bio
 * itself goes there (its device and sector are changed); on a file its
 * pages are copied through the VFS.
 */
int cbt_store_bio(struct cbt_store *s, u64 slot, unsigned int off,
		  struct bio *bio);
/*
 * Preserve @len bytes (a multiple of the logical block size) at @sector of
 * @origin in @slot from byte @off: read them, then write them to the store.
 * Process context; the reads and writes pass the write hook unseen.
 */
int cbt_store_preserve(struct cbt_store *s, u64 slot, unsigned int off,
		       struct block_device *origin, sector_t sector,
		       unsigned int len);
/*
 * Is a store of any set on sectors [start, start + nr) of @disk? Attach
 * refuses such a device: the store's writes would go unrecorded.
 */
bool cbt_store_overlaps(struct gendisk *disk, sector_t start, sector_t nr);

/* Module unload: the pages kept for copies. */
void cbt_store_module_exit(void);

#endif /* CBT_STORE_H */
