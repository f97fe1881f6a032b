// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_store.c - where copy-on-write keeps old chunks. A store is a list of
 * files given by user space as open descriptors: regular files (on any
 * filesystem, tmpfs included) or block devices. Their space is cut into
 * slots of one chunk each and handed out in order; growing the store adds a
 * file. A block device is written with bios straight from the module (no
 * page cache, no writeback competing with the origin later, and unseen by
 * the write hook); a regular file goes through the VFS.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/vmalloc.h>
#include <linux/fs.h>
#include "cbt_store.h"

#define CBT_IO_RESERVE		16

/* Our own bios: never waiting on a pool the submitter's bio came from. */
static struct bio_set cbt_io_bioset;

struct cbt_bio_wait {
	struct completion done;
	blk_status_t status;
};

static void cbt_bio_rw_end(struct bio *bio)
{
	struct cbt_bio_wait *w = bio->bi_private;

	w->status = bio->bi_status;
	complete(&w->done);
}

int cbt_bio_rw(struct block_device *bdev, sector_t sector, void *buf,
	       unsigned int len, bool write)
{
	unsigned int nr = DIV_ROUND_UP(offset_in_page(buf) + len, PAGE_SIZE);
	struct cbt_bio_wait w;
	unsigned int done = 0;
	struct bio *bio;

	bio = bio_alloc_bioset(bdev, nr, write ? REQ_OP_WRITE : REQ_OP_READ,
			       GFP_NOIO, &cbt_io_bioset);
	bio->bi_iter.bi_sector = sector;
	while (done < len) {
		void *p = buf + done;
		unsigned int n = min_t(unsigned int, len - done,
				       PAGE_SIZE - offset_in_page(p));
		struct page *page = is_vmalloc_addr(p) ? vmalloc_to_page(p) :
							 virt_to_page(p);

		if (bio_add_page(bio, page, n, offset_in_page(p)) != n) {
			bio_put(bio);
			return -EIO;
		}
		done += n;
	}
	if (write && is_vmalloc_addr(buf))
		flush_kernel_vmap_range(buf, len);
	init_completion(&w.done);
	bio->bi_private = &w;
	bio->bi_end_io = cbt_bio_rw_end;
	/* Called from here, not through submit_bio(): the hook lets it pass. */
	submit_bio_noacct(bio);
	wait_for_completion_io(&w.done);
	bio_put(bio);
	if (!write && is_vmalloc_addr(buf))
		invalidate_kernel_vmap_range(buf, len);
	return blk_status_to_errno(w.status);
}

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
		s->bdevs[s->nr_files] = S_ISBLK(mode) ?
			I_BDEV(file->f_mapping->host) : NULL;
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
static struct file *slot_place(struct cbt_store *s, u64 slot, loff_t *pos,
			       struct block_device **bdev)
{
	struct file *file = NULL;
	unsigned int i;

	spin_lock(&s->lock);
	for (i = s->nr_files; i-- > 0;) {
		if (slot >= s->first_slot[i]) {
			file = s->files[i];
			*bdev = s->bdevs[i];
			*pos = (slot - s->first_slot[i]) << s->slot_shift;
			break;
		}
	}
	spin_unlock(&s->lock);
	return file;
}

static int store_rw(struct cbt_store *s, u64 slot, unsigned int off,
		    void *buf, size_t len, bool write)
{
	struct block_device *bdev;
	loff_t pos;
	struct file *file = slot_place(s, slot, &pos, &bdev);
	ssize_t n;

	if (!file)
		return -EIO;
	pos += off;
	if (bdev)	/* aligned: the store's block size is checked at add */
		return cbt_bio_rw(bdev, pos >> SECTOR_SHIFT, buf, len, write);
	if (write)
		n = kernel_write(file, buf, len, &pos);
	else
		n = kernel_read(file, buf, len, &pos);
	if (n == len)
		return 0;
	return n < 0 ? n : -EIO;
}

int cbt_store_read(struct cbt_store *s, u64 slot, unsigned int off,
		   void *buf, size_t len)
{
	return store_rw(s, slot, off, buf, len, false);
}

int cbt_store_write(struct cbt_store *s, u64 slot, unsigned int off,
		    const void *buf, size_t len)
{
	return store_rw(s, slot, off, (void *)buf, len, true);
}

int cbt_store_module_init(void)
{
	return bioset_init(&cbt_io_bioset, CBT_IO_RESERVE, 0, BIOSET_NEED_BVECS);
}

void cbt_store_module_exit(void)
{
	bioset_exit(&cbt_io_bioset);
}
