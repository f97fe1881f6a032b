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
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include "cbt_fault.h"
#include "cbt_store.h"

struct cbt_bio_wait {
	struct completion done;
	blk_status_t status;
};

static void cbt_bio_wait_end(struct bio *bio)
{
	struct cbt_bio_wait *w = bio->bi_private;

	w->status = bio->bi_status;
	complete(&w->done);
}

/* A store is never tracked: its bios pass the write hook untouched. */
static int submit_wait(struct bio *bio)
{
	struct cbt_bio_wait w;

	init_completion(&w.done);
	bio->bi_private = &w;
	bio->bi_end_io = cbt_bio_wait_end;
	submit_bio_noacct(bio);
	wait_for_completion_io(&w.done);
	return blk_status_to_errno(w.status);
}

void cbt_store_init(struct cbt_store *s, unsigned int slot_shift,
		    unsigned int low_pct)
{
	memset(s, 0, sizeof(*s));
	spin_lock_init(&s->lock);
	s->slot_shift = slot_shift;
	s->low_pct = low_pct;
}

/*
 * Every file of every store, so that none is used twice and no store
 * device is tracked. cbt_stores_lock protects the list.
 */
struct store_entry {
	struct list_head node;
	struct inode *inode;		/* a regular file */
	struct block_device *bdev;	/* or a block device */
};

static DEFINE_SPINLOCK(cbt_stores_lock);
static LIST_HEAD(cbt_stores);

static sector_t bdev_first(struct block_device *b)
{
	return bdev_is_partition(b) ? b->bd_start_sect : 0;
}

static bool entry_overlaps(struct store_entry *e, struct gendisk *disk,
			   sector_t start, sector_t nr)
{
	return e->bdev && e->bdev->bd_disk == disk &&
	       start < bdev_first(e->bdev) + bdev_nr_sectors(e->bdev) &&
	       bdev_first(e->bdev) < start + nr;
}

bool cbt_store_overlaps(struct gendisk *disk, sector_t start, sector_t nr)
{
	struct store_entry *e;
	bool found = false;

	spin_lock(&cbt_stores_lock);
	list_for_each_entry(e, &cbt_stores, node)
		found |= entry_overlaps(e, disk, start, nr);
	spin_unlock(&cbt_stores_lock);
	return found;
}

/* Register @file's inode or device; -EBUSY when it is a store already. */
static int store_register(struct store_entry *n, struct file *file)
{
	struct inode *inode = file_inode(file);
	struct store_entry *e;
	int ret = 0;

	if (S_ISBLK(inode->i_mode))
		n->bdev = I_BDEV(file->f_mapping->host);
	else
		n->inode = inode;
	spin_lock(&cbt_stores_lock);
	list_for_each_entry(e, &cbt_stores, node) {
		if ((n->inode && e->inode == n->inode) ||
		    (n->bdev && entry_overlaps(e, n->bdev->bd_disk,
					      bdev_first(n->bdev),
					      bdev_nr_sectors(n->bdev))))
			ret = -EBUSY;
	}
	if (!ret)
		list_add(&n->node, &cbt_stores);
	spin_unlock(&cbt_stores_lock);
	return ret;
}

static void store_unregister(struct store_entry *e)
{
	spin_lock(&cbt_stores_lock);
	list_del(&e->node);
	spin_unlock(&cbt_stores_lock);
	kfree(e);
}

static loff_t store_file_size(struct file *file)
{
	struct inode *inode = file_inode(file);

	if (S_ISBLK(inode->i_mode))
		return bdev_nr_bytes(I_BDEV(file->f_mapping->host));
	return i_size_read(inode);
}

/*
 * Filesystems whose regular files are no place for a store (/proc/self/mem
 * is a regular file owned by root, mode 0600).
 */
static const unsigned long store_pseudo_fs[] = {
	PROC_SUPER_MAGIC, SYSFS_MAGIC, DEBUGFS_MAGIC, TRACEFS_MAGIC,
	SECURITYFS_MAGIC, SELINUX_MAGIC, SMACK_MAGIC, CGROUP_SUPER_MAGIC,
	CGROUP2_SUPER_MAGIC, RDTGROUP_SUPER_MAGIC, DEVPTS_SUPER_MAGIC,
	BINFMTFS_MAGIC, BINDERFS_SUPER_MAGIC, PSTOREFS_MAGIC, EFIVARFS_MAGIC,
	NSFS_MAGIC, BPF_FS_MAGIC, PIPEFS_MAGIC, SOCKFS_MAGIC,
	ANON_INODE_FS_MAGIC, USBDEVICE_SUPER_MAGIC, OPENPROM_SUPER_MAGIC,
	0x62656570 /* configfs */, 0x65735543 /* fusectl */,
};

const char *cbt_store_file_unsafe(const struct inode *inode)
{
	unsigned int i;

	/*
	 * Root only: a file's owner can always read it, and may chmod or link
	 * it later; only root's files are out of everyone else's reach.
	 */
	if (!uid_eq(inode->i_uid, GLOBAL_ROOT_UID))
		return "not owned by root";
	if (inode->i_mode & 0077)
		return "group or others have permissions on it";
	if (READ_ONCE(inode->i_nlink) > 1)
		return "it has more than one link";
	for (i = 0; i < ARRAY_SIZE(store_pseudo_fs); i++)
		if (inode->i_sb->s_magic == store_pseudo_fs[i])
			return "on a pseudo filesystem";
	return NULL;
}

void cbt_store_expect_file(struct cbt_store *s)
{
	WRITE_ONCE(s->has_files, true);
}

int cbt_store_add(struct cbt_store *s, struct file *file)
{
	umode_t mode = file_inode(file)->i_mode;
	struct cbt_store_dev dev = {};
	struct store_entry *entry;
	u64 slots;
	int ret = 0;

	if (!S_ISREG(mode) && !S_ISBLK(mode))
		return -EINVAL;
	if ((file->f_mode & (FMODE_READ | FMODE_WRITE)) !=
	    (FMODE_READ | FMODE_WRITE))
		return -EBADF;
	if (file->f_flags & (O_APPEND | O_DIRECT))
		return -EINVAL;
	slots = store_file_size(file) >> s->slot_shift;
	if (!slots)
		return -ENOSPC;
	entry = kzalloc(sizeof(*entry), GFP_KERNEL);
	if (!entry)
		return -ENOMEM;
	ret = store_register(entry, file);
	if (ret) {
		kfree(entry);
		return ret;
	}
	if (S_ISBLK(mode)) {
		/*
		 * Claimed for the store's lifetime; a descriptor opened with
		 * O_EXCL holds the claim itself, and the store keeps it.
		 */
		dev.bdev = I_BDEV(file->f_mapping->host);
		if (READ_ONCE(dev.bdev->bd_holder) != file) {
			ret = cbt_bdev_open(file_inode(file)->i_rdev,
					    CBT_OPEN_READ | CBT_OPEN_WRITE |
					    CBT_OPEN_EXCL, s, &dev.open);
			if (ret) {
				store_unregister(entry);
				return ret;
			}
			dev.owned = true;
		}
	} else {
		cbt_store_expect_file(s);
	}

	spin_lock(&s->lock);
	if (s->nr_files == CBT_STORE_MAX_FILES) {
		ret = -EMFILE;
	} else {
		s->files[s->nr_files] = file;
		s->entries[s->nr_files] = entry;
		s->devs[s->nr_files] = dev;
		s->first_slot[s->nr_files] = s->capacity;
		s->nr_files++;
		s->capacity += slots;
	}
	spin_unlock(&s->lock);
	if (ret) {
		if (dev.owned)
			cbt_bdev_close(&dev.open);
		store_unregister(entry);
	}
	return ret;
}

void cbt_store_release(struct cbt_store *s)
{
	unsigned int i;

	for (i = 0; i < s->nr_files; i++) {
		if (s->devs[i].owned)
			cbt_bdev_close(&s->devs[i].open);
		store_unregister(s->entries[i]);
		fput(s->files[i]);
	}
	s->nr_files = 0;
	s->capacity = 0;
}

/* Under @s->lock. */
static bool space_low(struct cbt_store *s)
{
	return (s->capacity - s->used) * 100 < s->capacity * s->low_pct;
}

s64 cbt_store_alloc(struct cbt_store *s, bool *low)
{
	s64 slot = -ENOSPC;

	spin_lock(&s->lock);
	if (s->used < s->capacity)
		slot = s->used++;
	*low = space_low(s);
	spin_unlock(&s->lock);
	return slot;
}

bool cbt_store_low(struct cbt_store *s)
{
	bool low;

	spin_lock(&s->lock);
	low = space_low(s);
	spin_unlock(&s->lock);
	return low;
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
			*bdev = s->devs[i].bdev;
			*pos = (slot - s->first_slot[i]) << s->slot_shift;
			break;
		}
	}
	spin_unlock(&s->lock);
	return file;
}

int cbt_store_bio(struct cbt_store *s, u64 slot, unsigned int off,
		  struct bio *bio)
{
	bool write = op_is_write(bio_op(bio));
	struct block_device *bdev;
	struct bvec_iter iter;
	struct bio_vec bv;
	struct file *file;
	loff_t pos;
	int ret = 0;

	cbt_fault_store_io();
	file = slot_place(s, slot, &pos, &bdev);
	if (!file)
		return -EIO;
	pos += off;
	if (bdev) {	/* aligned: the store's block size is checked at add */
		bio_set_dev(bio, bdev);
		bio->bi_iter.bi_sector = pos >> SECTOR_SHIFT;
		return submit_wait(bio);
	}
	bio_for_each_segment(bv, bio, iter) {
		void *p = kmap_local_page(bv.bv_page) + bv.bv_offset;
		ssize_t n;

		if (write)
			n = kernel_write(file, p, bv.bv_len, &pos);
		else
			n = kernel_read(file, p, bv.bv_len, &pos);
		kunmap_local(p);
		if (n != bv.bv_len) {
			ret = n < 0 ? n : -EIO;
			break;
		}
	}
	return ret;
}

/* ---- preserving old data -------------------------------------------- */

/*
 * One page per CPU kept for copies. A copy's pages are filled by its read
 * of the origin before anything else sees them, so a page can go from one
 * copy to the next as it is: a fresh one would be zeroed first
 * (init_on_alloc) and cost the allocator's work on every first write.
 */
static DEFINE_PER_CPU(struct page *, cbt_copy_spare);

static struct page *copy_page_get(void)
{
	struct page *page = this_cpu_xchg(cbt_copy_spare, NULL);

	return page ? page : alloc_page(GFP_NOIO);
}

static void copy_page_put(struct page *page)
{
	if (this_cpu_cmpxchg(cbt_copy_spare, NULL, page))
		__free_page(page);
}

/* One batch of cbt_store_preserve(): at most CBT_COPY_PAGES pages. */
static int preserve_batch(struct cbt_store *s, u64 slot, unsigned int off,
			  struct block_device *origin, sector_t sector,
			  unsigned int len)
{
	struct bio_vec bvec[CBT_COPY_PAGES];
	unsigned int nr = DIV_ROUND_UP(len, PAGE_SIZE), added, i;
	struct bio bio;
	int ret = 0;

	bio_init(&bio, origin, bvec, nr, REQ_OP_READ);
	bio.bi_iter.bi_sector = sector;
	for (i = 0; i < nr; i++) {
		struct page *page = copy_page_get();

		if (!page) {
			ret = -ENOMEM;
			break;
		}
		__bio_add_page(&bio, page, min_t(unsigned int, len - i * PAGE_SIZE,
						 PAGE_SIZE), 0);
	}
	added = bio.bi_vcnt;
	if (!ret)
		ret = submit_wait(&bio);
	bio_uninit(&bio);
	if (!ret) {
		/* The same pages, as a write (the read left the table as built). */
		bio_init(&bio, NULL, bvec, nr, REQ_OP_WRITE);
		for (i = 0; i < nr; i++)
			__bio_add_page(&bio, bvec[i].bv_page, bvec[i].bv_len, 0);
		ret = cbt_store_bio(s, slot, off, &bio);
		bio_uninit(&bio);
	}
	for (i = 0; i < added; i++)
		copy_page_put(bvec[i].bv_page);
	return ret;
}

int cbt_store_preserve(struct cbt_store *s, u64 slot, unsigned int off,
		       struct block_device *origin, sector_t sector,
		       unsigned int len)
{
	unsigned int n;
	int ret = 0;

	for (; len && !ret; len -= n) {
		n = min_t(unsigned int, len, CBT_COPY_PAGES * PAGE_SIZE);
		ret = preserve_batch(s, slot, off, origin, sector, n);
		off += n;
		sector += n >> SECTOR_SHIFT;
	}
	return ret;
}

void cbt_store_module_exit(void)
{
	int cpu;

	for_each_possible_cpu(cpu) {
		struct page *page = per_cpu(cbt_copy_spare, cpu);

		if (page)
			__free_page(page);
	}
}
