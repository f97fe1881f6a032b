// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_image.c - where a snapshot is read from: one bio-based block device
 * per member, /dev/cbt-snap<set>-<member>, whose content is the origin as
 * it was at the snapshot instant.
 *
 * Image I/O runs on the set's workqueue, a chunk at a time: a chunk already
 * copied is read from the store; any other chunk is read straight from the
 * origin while its chunk lock is held for reading, so no write can reach
 * the origin chunk (its copy takes the lock for writing) until the read is
 * done. When the set fails (overflow, a member gone) every image I/O fails
 * with EIO, including a read that was in progress when it failed.
 *
 * Writable images keep their writes in the store (copying the chunk first
 * when needed) and mark the origin's map, so the next backup includes them.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/highmem.h>
#include <linux/idr.h>
#include <linux/mempool.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include "cbt_compat.h"
#include "cbt_cow.h"
#include "cbt_image.h"
#include "cbt_tracker.h"

#define CBT_IMAGE_RESERVE	64
#define CBT_IMAGE_MAX_SECTORS	2048	/* 1 MiB per request */

struct cbt_image_work {
	struct work_struct work;
	struct cbt_cow *cow;
	struct bio *bio;
};

static int cbt_image_major;
static DEFINE_IDA(cbt_image_ida);
static struct bio_set cbt_image_bioset;
static struct kmem_cache *image_work_cache;
static mempool_t *image_work_pool;

/* A clone of bytes [pos, end) of @bio, on the origin. */
static struct bio *clone_range(struct cbt_cow *cow, struct bio *bio, u64 pos,
			       u64 end)
{
	u64 bio_pos = (u64)bio->bi_iter.bi_sector << SECTOR_SHIFT;
	struct bio *clone;

	clone = bio_alloc_clone(cow->origin, bio, GFP_NOIO, &cbt_image_bioset);
	if (clone)
		bio_trim(clone, (pos - bio_pos) >> SECTOR_SHIFT,
			 (end - pos) >> SECTOR_SHIFT);
	return clone;
}

/*
 * Read bytes [pos, end) of @bio, all within @chunk, under the chunk's lock:
 * runs of preserved pieces from the store, the others from the origin.
 */
static int image_chunk_read(struct cbt_cow *cow, struct bio *bio, u64 chunk,
			    u64 pos, u64 end)
{
	u64 base = chunk << cow->chunk_shift, next;
	struct cbt_chunk *c = cbt_chunks_find(&cow->chunks, chunk);
	struct bio *clone;
	bool have;
	int ret = 0;

	for (; pos < end && !ret; pos = next) {
		unsigned int p = (pos - base) >> CBT_PIECE_SHIFT;

		have = c && cbt_cow_have(c, p);
		next = pos;
		do {
			next = min(end, base + ((u64)(p + 1) << CBT_PIECE_SHIFT));
			p++;
		} while (next < end && (c && cbt_cow_have(c, p)) == have);
		clone = clone_range(cow, bio, pos, next);
		if (!clone)
			return -ENOMEM;
		if (have) {
			ret = cbt_store_bio(&cow->set->store, c->slot,
					    pos - base, clone);
		} else {
			clone->bi_opf = REQ_OP_READ;
			ret = submit_bio_wait(clone);
		}
		bio_put(clone);
	}
	return ret;
}

/* A writable image's write: the old pieces to the store, then the data. */
static int image_chunk_write(struct cbt_cow *cow, struct bio *bio, u64 chunk,
			     u64 pos, u64 end)
{
	u64 base = chunk << cow->chunk_shift;
	struct cbt_chunk *c;
	struct bio *clone;
	int ret;

	ret = cbt_cow_copy_locked(cow, chunk, pos, end);
	c = cbt_chunks_find(&cow->chunks, chunk);
	if (!ret && (!c || c->slot == CBT_NO_SLOT))
		ret = -EIO;
	if (ret)
		return ret;
	clone = clone_range(cow, bio, pos, end);
	if (!clone)
		return -ENOMEM;
	ret = cbt_store_bio(&cow->set->store, c->slot, pos - base, clone);
	bio_put(clone);
	return ret;
}

/* Bytes [pos, end) of @bio, all within one chunk. */
static int image_chunk_io(struct cbt_cow *cow, struct bio *bio, u64 pos,
			  u64 end)
{
	u64 chunk = pos >> cow->chunk_shift;
	struct rw_semaphore *lock = cbt_cow_lock(cow, chunk);
	int ret;

	if (op_is_write(bio_op(bio))) {
		down_write(lock);
		ret = image_chunk_write(cow, bio, chunk, pos, end);
		up_write(lock);
		if (!ret)
			cbt_tracker_mark_range(cow->tracker, pos >> SECTOR_SHIFT,
					       end >> SECTOR_SHIFT);
	} else {
		down_read(lock);
		ret = image_chunk_read(cow, bio, chunk, pos, end);
		up_read(lock);
	}
	return ret;
}

static blk_status_t image_rw(struct cbt_cow *cow, struct bio *bio)
{
	u64 pos = (u64)bio->bi_iter.bi_sector << SECTOR_SHIFT;
	u64 end = pos + bio->bi_iter.bi_size, next;
	int ret = 0;

	while (pos < end && !ret) {
		next = min(end, ((pos >> cow->chunk_shift) + 1) << cow->chunk_shift);
		ret = image_chunk_io(cow, bio, pos, next);
		pos = next;
	}
	/* The set may have failed while we read: then the data is suspect. */
	if (ret || !cbt_cow_set_usable(cow->set))
		return BLK_STS_IOERR;
	return BLK_STS_OK;
}

static void image_work_fn(struct work_struct *work)
{
	struct cbt_image_work *w = container_of(work, struct cbt_image_work, work);
	struct cbt_cow *cow = w->cow;
	struct cbt_cow_set *set = cow->set;
	struct bio *bio = w->bio;
	unsigned int noio;
	blk_status_t st;

	/* Under a chunk's lock, reclaim must not write to a member: see cbt_cow_copy(). */
	noio = memalloc_noio_save();
	if (!cbt_cow_set_usable(set))
		st = BLK_STS_IOERR;
	else if (bio_op(bio) == REQ_OP_READ)
		st = image_rw(cow, bio);
	else if (bio_op(bio) == REQ_OP_WRITE && test_bit(CBT_SET_WRITABLE, &set->flags))
		st = image_rw(cow, bio);
	else if (bio_op(bio) == REQ_OP_FLUSH)
		st = BLK_STS_OK;	/* the store is not kept across reboots */
	else
		st = BLK_STS_NOTSUPP;
	memalloc_noio_restore(noio);
	mempool_free(w, image_work_pool);
	bio->bi_status = st;
	bio_endio(bio);
	cbt_cow_set_put(set);
}

static void image_submit_bio(struct bio *bio)
{
	struct cbt_cow *cow = bio->bi_bdev->bd_disk->private_data;
	struct cbt_image_work *w;

	if (!bio->bi_iter.bi_size && bio_op(bio) == REQ_OP_FLUSH) {
		bio_endio(bio);
		return;
	}
	w = mempool_alloc(image_work_pool, GFP_NOIO);
	w->cow = cow;
	w->bio = bio;
	INIT_WORK(&w->work, image_work_fn);
	cbt_cow_set_get(cow->set);
	queue_work(cow->set->wq, &w->work);
}

/*
 * /sys/block/cbt-snap<set>-<n>/cbt/{origin,set,stamp}: which volume and set
 * an image belongs to (udev/99-cbt.rules makes /dev/cbt/<set>/<volume>).
 */
static struct cbt_cow *dev_cow(struct device *dev)
{
	return dev_to_disk(dev)->private_data;
}

static ssize_t origin_show(struct device *dev, struct device_attribute *attr,
			   char *buf)
{
	struct cbt_cow *cow = dev_cow(dev);

	return sysfs_emit(buf, "%pg %u:%u\n", cow->origin,
			  MAJOR(cow->origin->bd_dev), MINOR(cow->origin->bd_dev));
}
static DEVICE_ATTR_RO(origin);

static ssize_t set_show(struct device *dev, struct device_attribute *attr,
			char *buf)
{
	return sysfs_emit(buf, "%u\n", dev_cow(dev)->set->id);
}
static DEVICE_ATTR_RO(set);

static ssize_t stamp_show(struct device *dev, struct device_attribute *attr,
			  char *buf)
{
	struct cbt_cow *cow = dev_cow(dev);

	return sysfs_emit(buf, "%pUb:%llu\n", cow->stamp.uuid,
			  (unsigned long long)cow->stamp.generation);
}
static DEVICE_ATTR_RO(stamp);

static struct attribute *cbt_image_attrs[] = {
	&dev_attr_origin.attr,
	&dev_attr_set.attr,
	&dev_attr_stamp.attr,
	NULL,
};

static const struct attribute_group cbt_image_group = {
	.name = "cbt",
	.attrs = cbt_image_attrs,
};

static const struct attribute_group *cbt_image_groups[] = {
	&cbt_image_group,
	NULL,
};

static const struct block_device_operations cbt_image_fops = {
	.owner = THIS_MODULE,
	.submit_bio = image_submit_bio,
};

bool cbt_image_is(struct gendisk *disk)
{
	return disk->fops == &cbt_image_fops;
}

int cbt_image_create(struct cbt_cow *cow)
{
	struct gendisk *disk;
	int minor;

	minor = ida_alloc_max(&cbt_image_ida, MINORMASK, GFP_KERNEL);
	if (minor < 0)
		return minor;
	disk = cbt_alloc_disk(bdev_logical_block_size(cow->origin),
			      CBT_IMAGE_MAX_SECTORS);
	if (IS_ERR(disk)) {
		ida_free(&cbt_image_ida, minor);
		return PTR_ERR(disk);
	}
	disk->major = cbt_image_major;
	disk->first_minor = minor;
	disk->minors = 1;
	disk->fops = &cbt_image_fops;
	disk->private_data = cow;
	disk->flags |= GENHD_FL_NO_PART;
	snprintf(disk->disk_name, DISK_NAME_LEN, "cbt-snap%u-%u",
		 cow->set->id, cow->index);
	set_capacity(disk, cow->nr_sects);
	set_disk_ro(disk, !test_bit(CBT_SET_WRITABLE, &cow->set->flags));
	cow->image = disk;
	return 0;
}

int cbt_image_add(struct cbt_cow *cow)
{
	int ret = device_add_disk(NULL, cow->image, cbt_image_groups);

	cow->image_added = !ret;
	return ret;
}

/* Take the image away: no new I/O can reach us after this returns. */
void cbt_image_remove(struct cbt_cow *cow)
{
	if (cow->image && cow->image_added)
		del_gendisk(cow->image);
	cow->image_added = false;
}

/* After the set's workqueue is drained. */
void cbt_image_free(struct cbt_cow *cow)
{
	if (!cow->image)
		return;
	ida_free(&cbt_image_ida, cow->image->first_minor);
	put_disk(cow->image);
	cow->image = NULL;
}

int cbt_image_init(void)
{
	int ret;

	ret = bioset_init(&cbt_image_bioset, CBT_IMAGE_RESERVE, 0, BIOSET_NEED_BVECS);
	if (ret)
		return ret;
	image_work_cache = KMEM_CACHE(cbt_image_work, 0);
	if (!image_work_cache)
		goto exit_bioset;
	image_work_pool = mempool_create_slab_pool(CBT_IMAGE_RESERVE,
						   image_work_cache);
	if (!image_work_pool)
		goto free_cache;
	cbt_image_major = register_blkdev(0, "cbt-snap");
	if (cbt_image_major < 0) {
		ret = cbt_image_major;
		goto free_pool;
	}
	return 0;

free_pool:
	mempool_destroy(image_work_pool);
free_cache:
	kmem_cache_destroy(image_work_cache);
exit_bioset:
	bioset_exit(&cbt_image_bioset);
	return ret ? ret : -ENOMEM;
}

void cbt_image_exit(void)
{
	unregister_blkdev(cbt_image_major, "cbt-snap");
	mempool_destroy(image_work_pool);
	kmem_cache_destroy(image_work_cache);
	bioset_exit(&cbt_image_bioset);
	ida_destroy(&cbt_image_ida);
}
