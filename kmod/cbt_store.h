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

#define CBT_STORE_MAX_FILES	64

struct cbt_store {
	/*
	 * @lock protects the file table and the slot counters. Files are only
	 * ever appended, so a slot once allocated keeps its place.
	 */
	spinlock_t lock;
	struct file *files[CBT_STORE_MAX_FILES];
	struct block_device *bdevs[CBT_STORE_MAX_FILES];	/* NULL: a regular file */
	u64 first_slot[CBT_STORE_MAX_FILES];	/* global number of each file's slot 0 */
	unsigned int nr_files;
	u64 capacity;		/* slots in all files */
	u64 used;		/* slots handed out */
	unsigned int slot_shift;	/* log2(slot size in bytes) */
};

void cbt_store_init(struct cbt_store *s, unsigned int slot_shift);
/* Take over a reference to @file; -EINVAL when it cannot serve as a store. */
int cbt_store_add(struct cbt_store *s, struct file *file);
void cbt_store_release(struct cbt_store *s);
/* A fresh slot, or -ENOSPC. */
s64 cbt_store_alloc(struct cbt_store *s);
void cbt_store_usage(struct cbt_store *s, u64 *capacity, u64 *used,
		     unsigned int *files);
/* Copy @len bytes at @off within @slot from or to @buf (process context). */
int cbt_store_read(struct cbt_store *s, u64 slot, unsigned int off,
		   void *buf, size_t len);
int cbt_store_write(struct cbt_store *s, u64 slot, unsigned int off,
		    const void *buf, size_t len);
/* The block device a store file's I/O lands on, if any (for exclusion). */
struct block_device *cbt_store_file_bdev(struct file *file);

/*
 * Synchronous I/O of @len bytes at @sector of @bdev to or from @buf (any
 * kernel address: kmalloc, vmalloc or a mapped page). Submitted from inside
 * the module, so the write hook lets it pass unseen: neither the store's
 * writes nor copy-on-write's reads are tracked or copied.
 */
int cbt_bio_rw(struct block_device *bdev, sector_t sector, void *buf,
	       unsigned int len, bool write);

int cbt_store_module_init(void);
void cbt_store_module_exit(void);

#endif /* CBT_STORE_H */
