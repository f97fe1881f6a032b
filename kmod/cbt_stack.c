// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_stack.c - what lies on what: block device stacks.
 *
 * The kernel records stacking in two places this module can read without
 * private structures: partitions share their disk (and a sector range of
 * it), and a stacking driver (dm, md) links itself as a *holder* of each
 * device it sits on (/sys/block/sda/holders/dm-0). Holder links are looked
 * up by name, so the stack is built by listing every block device of the
 * machine once and asking, level by level, which of them hold a device
 * already in the stack. Loop devices register no holder link; the file
 * they are backed by is found by the path they publish in sysfs.
 */
#include <linux/blkdev.h>
#include <linux/device.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/kernfs.h>
#include <linux/magic.h>
#include <linux/major.h>
#include <linux/namei.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include "cbt_compat.h"
#include "cbt_stack.h"

#define CBT_STACK_NONE		UINT_MAX

struct cbt_stack_dev {
	struct block_device *bdev;	/* pinned with get_device() */
	unsigned int depth;		/* levels above a base; NONE: not in */
	u64 bases;			/* bit i: lies on base i (first 64) */
	bool within;			/* level 0: wholly inside a base */
	unsigned int frozen;		/* the order it was frozen in; 0: not */
	bool fs;			/* a filesystem was frozen on it */
	bool by_other;			/* frozen already, not by us: no thaw */
};

struct cbt_stack {
	unsigned int nr;
	unsigned int nr_frozen;
	unsigned int nr_bases;
	struct block_device **bases;	/* the caller's, copied */
	struct cbt_stack_dev devs[];
};

static sector_t bdev_first(struct block_device *b)
{
	return bdev_is_partition(b) ? b->bd_start_sect : 0;
}

/* Does @a lie wholly inside @b? */
static bool inside(struct block_device *a, struct block_device *b)
{
	return a->bd_disk == b->bd_disk && bdev_first(a) >= bdev_first(b) &&
	       bdev_first(a) + bdev_nr_sectors(a) <=
	       bdev_first(b) + bdev_nr_sectors(b);
}

/* Do @a and @b share sectors of one disk? */
static bool overlap(struct block_device *a, struct block_device *b)
{
	return a->bd_disk == b->bd_disk &&
	       bdev_first(a) < bdev_first(b) + bdev_nr_sectors(b) &&
	       bdev_first(b) < bdev_first(a) + bdev_nr_sectors(a);
}

/*
 * @lower's holders directory, referenced, or NULL when it is going away.
 * The disk's open_mutex keeps it while the disk is live and a partition
 * is still in its table: the rule bd_link_disk_holder() itself follows.
 */
static struct kobject *holders_get(struct block_device *lower)
{
	struct gendisk *disk = lower->bd_disk;
	struct kobject *dir = NULL;
	struct block_device *part;
	unsigned long idx;

	mutex_lock(&disk->open_mutex);
	if (disk_live(disk)) {
		if (!bdev_is_partition(lower)) {
			dir = lower->bd_holder_dir;
		} else {
			xa_for_each_start(&disk->part_tbl, idx, part, 1)
				if (part == lower)
					dir = lower->bd_holder_dir;
		}
		dir = kobject_get(dir);
	}
	mutex_unlock(&disk->open_mutex);
	return dir;
}

/* Is @upper's disk a holder (a dm or md volume on it) of the device whose
 * holders directory is @holders?
 */
static bool holds(struct block_device *upper, struct kobject *holders)
{
	struct kernfs_node *kn;

	kn = kernfs_find_and_get(holders->sd, upper->bd_disk->disk_name);
	kernfs_put(kn);
	return kn;
}

/* The class every block device is in (whose constness changed in 6.4). */
#define block_class_of(bdev)	(disk_to_dev((bdev)->bd_disk)->class)

static unsigned int count_devices(struct block_device *any)
{
	struct class_dev_iter iter;
	unsigned int n = 0;

	class_dev_iter_init(&iter, block_class_of(any), NULL, NULL);
	while (class_dev_iter_next(&iter))
		n++;
	class_dev_iter_exit(&iter);
	return n;
}

/* Every block device of the machine, pinned (one added meanwhile is not). */
static struct cbt_stack *list_devices(struct block_device *any)
{
	unsigned int max = count_devices(any);
	struct class_dev_iter iter;
	struct cbt_stack *st;
	struct device *dev;

	st = kvzalloc(struct_size(st, devs, max), GFP_KERNEL);
	if (!st)
		return ERR_PTR(-ENOMEM);
	class_dev_iter_init(&iter, block_class_of(any), NULL, NULL);
	while (st->nr < max && (dev = class_dev_iter_next(&iter))) {
		get_device(dev);
		st->devs[st->nr].bdev = dev_to_bdev(dev);
		st->devs[st->nr].depth = CBT_STACK_NONE;
		st->nr++;
	}
	class_dev_iter_exit(&iter);
	return st;
}

struct cbt_stack *cbt_stack_above(struct block_device **bases,
				  unsigned int nr_bases)
{
	unsigned int i, j, head = 0, tail = 0, *queue;
	struct cbt_stack_dev *a, *x;
	struct kobject *holders;
	struct cbt_stack *st;

	if (!nr_bases)
		return ERR_PTR(-EINVAL);
	st = list_devices(bases[0]);
	if (IS_ERR(st))
		return st;
	st->bases = kvmalloc_array(nr_bases, sizeof(*bases), GFP_KERNEL);
	if (!st->bases) {
		cbt_stack_free(st);
		return ERR_PTR(-ENOMEM);
	}
	memcpy(st->bases, bases, nr_bases * sizeof(*bases));
	st->nr_bases = nr_bases;
	queue = kvmalloc_array(max(st->nr, 1u), sizeof(*queue), GFP_KERNEL);
	if (!queue) {
		cbt_stack_free(st);
		return ERR_PTR(-ENOMEM);
	}
	/* Level 0: what shares sectors with a base (its partitions, its disk). */
	for (i = 0; i < st->nr; i++) {
		a = &st->devs[i];
		for (j = 0; j < nr_bases; j++) {
			if (!overlap(a->bdev, bases[j]))
				continue;
			if (a->depth == CBT_STACK_NONE)
				queue[tail++] = i;
			a->depth = 0;
			a->within |= inside(a->bdev, bases[j]);
			if (j < 64)
				a->bases |= BIT_ULL(j);
		}
	}
	/* Breadth first: every disk (and its partitions) holding one of those. */
	while (head < tail) {
		x = &st->devs[queue[head++]];
		holders = holders_get(x->bdev);
		if (!holders)
			continue;
		for (i = 0; i < st->nr; i++) {
			a = &st->devs[i];
			if (a->depth != CBT_STACK_NONE || a->bdev->bd_disk == x->bdev->bd_disk ||
			    !holds(a->bdev, holders))
				continue;
			a->depth = x->depth + 1;
			a->bases = x->bases;
			queue[tail++] = i;
		}
		kobject_put(holders);
	}
	kvfree(queue);
	return st;
}

void cbt_stack_free(struct cbt_stack *st)
{
	unsigned int i;

	if (IS_ERR_OR_NULL(st))
		return;
	for (i = 0; i < st->nr; i++)
		put_device(&st->devs[i].bdev->bd_device);
	kvfree(st->bases);
	kvfree(st);
}

bool cbt_stack_contains(struct cbt_stack *st, struct block_device *bdev)
{
	struct cbt_stack_dev *d;
	unsigned int i;

	for (i = 0; i < st->nr_bases; i++)
		if (overlap(st->bases[i], bdev))
			return true;
	/*
	 * A disk only partly on a base (the disk of a partition member)
	 * counts by the base's own sectors, tested above: a store on a
	 * sibling partition is not on the member.
	 */
	for (i = 0; i < st->nr; i++) {
		d = &st->devs[i];
		if (d->depth == CBT_STACK_NONE || (d->depth == 0 && !d->within))
			continue;
		if (overlap(d->bdev, bdev))
			return true;
	}
	return false;
}

/* The path loop publishes for its backing file, without the newline. */
static int loop_backing_path(struct block_device *bdev, char *buf, size_t len)
{
	char attr[64];
	struct file *f;
	loff_t pos = 0;
	ssize_t n;

	snprintf(attr, sizeof(attr), "/sys/block/%s/loop/backing_file",
		 bdev->bd_disk->disk_name);
	f = filp_open(attr, O_RDONLY, 0);
	if (IS_ERR(f))
		return PTR_ERR(f);
	n = kernel_read(f, buf, len - 1, &pos);
	fput(f);
	if (n <= 0)
		return n ? n : -ENOENT;
	buf[n] = 0;
	strim(buf);
	return 0;
}

/* The device numbered @dev among the machine's; ERR_PTR(-EXDEV) if absent. */
static struct block_device *find_dev(struct cbt_stack *st, dev_t dev)
{
	unsigned int i;

	for (i = 0; i < st->nr; i++)
		if (st->devs[i].bdev->bd_dev == dev)
			return st->devs[i].bdev;
	return ERR_PTR(-EXDEV);	/* added since the list was taken */
}

/*
 * Does the filesystem of @sb hold @bdev? A filesystem claims the devices
 * it writes besides its own (an ext4 external journal, an xfs log) with
 * its super block or its private info as the holder; btrfs claims each of
 * its devices so, or, before the holder rework of 6.8, with its type
 * (@by_type: any filesystem of its kind then counts).
 */
static bool fs_holds(struct super_block *sb, struct block_device *bdev,
		     bool by_type)
{
	void *holder = READ_ONCE(bdev->bd_holder);

	return holder && (holder == sb || holder == sb->s_fs_info ||
			  (by_type && holder == sb->s_type));
}

struct block_device *cbt_stack_inode_dev(struct cbt_stack *st,
					 struct inode *inode, unsigned int nth)
{
	struct super_block *sb = inode->i_sb;
	struct block_device *own = sb->s_bdev;
	unsigned int i, n;

	if (S_ISBLK(inode->i_mode))	/* a device node: the device itself */
		return nth ? NULL : find_dev(st, inode->i_rdev);
	if (own && !nth)
		return find_dev(st, own->bd_dev);
	/* Memory and network filesystems lie on no local device. */
	if (!own && !(sb->s_type->fs_flags & FS_REQUIRES_DEV) &&
	    sb->s_magic != FUSE_SUPER_MAGIC)
		return NULL;
	/* FUSE writes wherever its daemon does: that cannot be told. */
	if (sb->s_magic == FUSE_SUPER_MAGIC)
		return ERR_PTR(-EXDEV);
	/* Then every other device it holds (all of them, without s_bdev). */
	for (i = 0, n = own ? 1 : 0; i < st->nr; i++) {
		if (st->devs[i].bdev == own ||
		    !fs_holds(sb, st->devs[i].bdev, !own))
			continue;
		if (n++ == nth)
			return st->devs[i].bdev;
	}
	/* None at all: a filesystem this rule does not know. */
	return n ? NULL : ERR_PTR(-EXDEV);
}

struct block_device *cbt_stack_loop_lower(struct cbt_stack *st,
					  struct block_device *bdev,
					  struct inode **file)
{
	struct block_device *lower;
	struct inode *inode;
	struct path path;
	char *buf;
	int ret;

	*file = NULL;
	if (bdev->bd_disk->major != LOOP_MAJOR)	/* its partitions too */
		return NULL;
	buf = kmalloc(PATH_MAX, GFP_KERNEL);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	ret = loop_backing_path(bdev, buf, PATH_MAX);
	if (ret == -ENOENT) {	/* no file: an unbound loop device */
		kfree(buf);
		return NULL;
	}
	if (!ret)
		ret = kern_path(buf, LOOKUP_FOLLOW, &path);
	kfree(buf);
	if (ret)
		return ERR_PTR(-EXDEV);	/* deleted, or elsewhere: cannot tell */
	inode = d_real_inode(path.dentry);
	lower = cbt_stack_inode_dev(st, inode, 0);
	/* Only one device is followed down: a file on several cannot be. */
	if (!IS_ERR_OR_NULL(lower) && cbt_stack_inode_dev(st, inode, 1))
		lower = ERR_PTR(-EXDEV);
	*file = igrab(inode);
	path_put(&path);
	return lower;
}

/* ---- freezing ------------------------------------------------------------ */

/* The next device to freeze: the deepest above the bases, partitions first. */
static struct cbt_stack_dev *next_to_freeze(struct cbt_stack *st)
{
	struct cbt_stack_dev *best = NULL, *d;
	unsigned int i;

	for (i = 0; i < st->nr; i++) {
		d = &st->devs[i];
		if (d->depth == CBT_STACK_NONE || d->frozen || d->by_other)
			continue;
		if (!best || d->depth > best->depth ||
		    (d->depth == best->depth && bdev_is_partition(d->bdev) &&
		     !bdev_is_partition(best->bdev)))
			best = d;
	}
	return best;
}

int cbt_stack_freeze(struct cbt_stack *st, u32 *frozen,
		     unsigned long deadline)
{
	struct cbt_stack_dev *d;
	unsigned int b;
	int ret;

	while ((d = next_to_freeze(st))) {
		if (time_after(jiffies, deadline))
			return -ETIMEDOUT;
		ret = cbt_bdev_freeze(d->bdev, &d->fs);
		if (ret < 0)
			return ret;
		if (ret)
			d->by_other = true;
		else
			d->frozen = ++st->nr_frozen;
		for (b = 0; d->fs && b < 64; b++)
			if (d->bases & BIT_ULL(b))
				frozen[b]++;
	}
	return 0;
}

/* The reverse order: the last frozen first. */
void cbt_stack_thaw(struct cbt_stack *st)
{
	unsigned int i;

	for (; st->nr_frozen; st->nr_frozen--)
		for (i = 0; i < st->nr; i++)
			if (st->devs[i].frozen == st->nr_frozen) {
				cbt_bdev_thaw(st->devs[i].bdev);
				st->devs[i].frozen = 0;
			}
}
