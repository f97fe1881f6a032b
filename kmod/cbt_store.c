// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_store.c - where copy-on-write keeps old chunks. A store is a list of
 * files given by user space as open descriptors: regular files (on any
 * filesystem, tmpfs included) or block devices. Their space is cut into
 * slots of one chunk each and handed out in order; growing the store adds a
 * file. I/O goes through the VFS from the snapshot workers (process
 * context), so the store's data never passes the write hook as a member's.
 */
#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/fs.h>
#include "cbt_store.h"

void cbt_store_init(struct cbt_store *s, unsigned int slot_shift)
{
	memset(s, 0, sizeof(*s));
	spin_lock_init(&s->lock);
	s->slot_shift = slot_shift;
}

struct block_device *cbt_store_file_bdev(struct file *file)
{
	struct inode *inode = file_inode(file);

	if (S_ISBLK(inode->i_mode))
		return I_BDEV(file->f_mapping->host);
	return inode->i_sb->s_bdev;
}

static loff_t store_file_size(struct file *file)
{
	struct inode *inode = file_inode(file);

	if (S_ISBLK(inode->i_mode))
		return bdev_nr_bytes(I_BDEV(file->f_mapping->host));
	return i_size_read(inode);
}

int cbt_store_add(struct cbt_store *s, struct file *file)
{
	umode_t mode = file_inode(file)->i_mode;
	u64 slots;
	int ret = 0;

	if (!S_ISREG(mode) && !S_ISBLK(mode))
		return -EINVAL;
	if ((file->f_mode & (FMODE_READ | FMODE_WRITE)) !=
	    (FMODE_READ | FMODE_WRITE))
		return -EBADF;
	slots = store_file_size(file) >> s->slot_shift;
	if (!slots)
		return -ENOSPC;

	spin_lock(&s->lock);
	if (s->nr_files == CBT_STORE_MAX_FILES) {
		ret = -EMFILE;
	} else {
		s->files[s->nr_files] = file;
		s->first_slot[s->nr_files] = s->capacity;
		s->nr_files++;
		s->capacity += slots;
	}
	spin_unlock(&s->lock);
	return ret;
}

void cbt_store_release(struct cbt_store *s)
{
	unsigned int i;

	for (i = 0; i < s->nr_files; i++)
		fput(s->files[i]);
	s->nr_files = 0;
	s->capacity = 0;
}

s64 cbt_store_alloc(struct cbt_store *s)
{
	s64 slot = -ENOSPC;

	spin_lock(&s->lock);
	if (s->used < s->capacity)
		slot = s->used++;
	spin_unlock(&s->lock);
	return slot;
}

void cbt_store_usage(struct cbt_store *s, u64 *capacity, u64 *used,
		     unsigned int *files)
{
	spin_lock(&s->lock);
	*capacity = s->capacity;
	*used = s->used;
	*files = s->nr_files;
	spin_unlock(&s->lock);
}

/* The file holding global slot @slot, and the byte where it starts. */
static struct file *slot_place(struct cbt_store *s, u64 slot, loff_t *pos)
{
	struct file *file = NULL;
	unsigned int i;

	spin_lock(&s->lock);
	for (i = s->nr_files; i-- > 0;) {
		if (slot >= s->first_slot[i]) {
			file = s->files[i];
			*pos = (slot - s->first_slot[i]) << s->slot_shift;
			break;
		}
	}
	spin_unlock(&s->lock);
	return file;
}

int cbt_store_read(struct cbt_store *s, u64 slot, unsigned int off,
		   void *buf, size_t len)
{
	loff_t pos;
	struct file *file = slot_place(s, slot, &pos);
	ssize_t n;

	if (!file)
		return -EIO;
	pos += off;
	n = kernel_read(file, buf, len, &pos);
	if (n == len)
		return 0;
	return n < 0 ? n : -EIO;
}

int cbt_store_write(struct cbt_store *s, u64 slot, unsigned int off,
		    const void *buf, size_t len)
{
	loff_t pos;
	struct file *file = slot_place(s, slot, &pos);
	ssize_t n;

	if (!file)
		return -EIO;
	pos += off;
	n = kernel_write(file, buf, len, &pos);
	if (n == len)
		return 0;
	return n < 0 ? n : -EIO;
}
