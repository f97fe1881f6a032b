// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_snapshot.c - where a snapshot is taken: snapshot sets, the instant
 * they are taken at, their stores, events and destruction.
 *
 * The instant (take_instant()), for all members at once:
 *
 *  1. Lock every member's tracker, by the hold's deadline. Nothing is held
 *     or frozen yet: a lock kept by a long drain or a query makes the set
 *     fail, never a filesystem stay frozen.
 *  2. Prepare every member: a lost map is reset, a generation whose drain
 *     timed out is waited for, the map is swept when its codes would wrap.
 *  3. Freeze every filesystem whose data lies on a member: on the volume,
 *     on its partitions, on dm or md volumes above it (cbt_stack.c). The
 *     hold bound counts from here.
 *  4. Publish every member's copy-on-write state, then wait for a grace
 *     period: from then on every new write to any member is held until
 *     the set is ready, and marked with the generation after the instant.
 *  5. Open the next generation on every member, then wait for a grace
 *     period: nobody marks the closed ones any more.
 *  6. Drain them: every write that marked one has completed. Those writes
 *     are wholly before the instant on every member, the held ones wholly
 *     after it: that is one instant for the whole set.
 *  7. READY (or, on any failure, DEAD with copy-on-write withdrawn, and no
 *     stamp); held writes go on; thaw; unlock.
 *
 * Once step 4 has published anything, step 5 always runs, so that a write
 * held and marked with the next generation never sits in a generation that
 * is not open yet (cbt_generation.c checks that a slot is empty before it
 * is reused).
 *
 * Lifetime: a set is on cbt_snapsets from creation to destruction and holds
 * one reference for that; claimed copies, held writes, image requests and
 * event descriptors hold one each (cbt_cow.h). Destruction makes
 * everything pass (DEAD), withdraws copy-on-write, removes the images,
 * drains the workqueue and releases the store; the last reference frees
 * memory.
 *
 * Locks, outermost first: cbt_snapsets_mutex, cbt_trackers_mutex (claims,
 * cbt_tracker.c), the members' tracker locks in member order, then
 * whatever freezing a filesystem takes (its s_umount, the bdev's freeze
 * mutex). The write path takes none of them. The writers' round mutex
 * (cbt_writer.c) is taken outside cbt_snapsets_mutex, never inside; this
 * file never calls into cbt_writer.c.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include "cbt_compat.h"
#include "cbt_fault.h"
#include "cbt_image.h"
#include "cbt_snapshot.h"
#include "cbt_stack.h"
#include "cbt_tracker.h"

#define CBT_SNAP_MAX_SETS	64

/*
 * cbt_snapsets_mutex protects the set list and id allocation, and
 * serialises creation, growth and destruction.
 */
static DEFINE_MUTEX(cbt_snapsets_mutex);
static LIST_HEAD(cbt_snapsets);
static u32 cbt_snap_next_id = 1;
/*
 * Ids reserved (cbt_snapset_reserve_id()) for sets about to be created,
 * 0 for a free slot; under cbt_snapsets_mutex. The writers' round names the
 * set in PREPARE, before the set exists.
 */
static u32 cbt_snap_reserved[CBT_SNAP_MAX_SETS];

/* Frees sets: the last reference may be dropped where nothing may sleep. */
static struct workqueue_struct *cbt_snap_free_wq;

static void snapset_free(struct work_struct *work)
{
	struct cbt_snapset *set = container_of(work, struct cbt_snapset, free_work);
	unsigned int i;

	for (i = 0; i < set->nr; i++) {
		cbt_tracker_put(set->members[i]->tracker);
		cbt_cow_free(set->members[i]);
	}
	kfree(set);
}

static void snapset_release(struct cbt_cow_set *cs)
{
	struct cbt_snapset *set = container_of(cs, struct cbt_snapset, cs);

	queue_work(cbt_snap_free_wq, &set->free_work);
}

/* ---- the instant -------------------------------------------------------- */

/* Unlock the first @n members' trackers. */
static void unlock_members(struct cbt_snapset *set, unsigned int n)
{
	while (n-- > 0)
		cbt_tracker_unlock(set->members[n]->tracker);
}

/*
 * Steps 1 and 2: -ETIMEDOUT when a lock or a drain is not had in time;
 * -EAGAIN when a volume changed size since its image was made (its
 * tracker restarted: try again).
 */
static int lock_members(struct cbt_snapset *set, unsigned long deadline)
{
	struct cbt_tracker *t;
	unsigned int i;
	int ret;

	for (i = 0; i < set->nr; i++) {
		ret = cbt_tracker_lock(set->members[i]->tracker, deadline);
		if (ret)
			goto unlock;
	}
	for (i = 0; i < set->nr; i++) {
		t = set->members[i]->tracker;
		ret = cbt_tracker_prepare(t, deadline);
		if (!ret && cbt_tracker_size(t) != set->members[i]->nr_sects)
			ret = -EAGAIN;
		if (ret) {
			i = set->nr;
			goto unlock;
		}
	}
	return 0;
unlock:
	unlock_members(set, i);
	return ret;
}

/* Steps 4 to 6, under the members' locks; @deadline bounds the drains. */
static int switch_generations(struct cbt_snapset *set, unsigned long deadline)
{
	struct cbt_tracker *t;
	struct cbt_cow *cow;
	unsigned int i;
	int ret = 0;

	cbt_fault_instant_wait();
	for (i = 0; i < set->nr; i++) {
		cow = set->members[i];
		cow->first_gen = cbt_tracker_first_gen(cow->tracker);
		cbt_tracker_set_cow(cow->tracker, cow);
	}
	synchronize_rcu_expedited();	/* every new write to a member is held */
	for (i = 0; i < set->nr; i++)
		cbt_tracker_close(set->members[i]->tracker);
	synchronize_rcu_expedited();	/* nobody marks the closed generations */
	for (i = 0; i < set->nr && !ret; i++) {
		cow = set->members[i];
		t = cow->tracker;
		ret = cbt_tracker_drain(t, deadline);
		if (!ret) {
			uuid_t uuid;

			cbt_tracker_stamp(t, &uuid, &cow->stamp.generation);
			memcpy(cow->stamp.uuid, &uuid, CBT_UUID_SIZE);
		}
	}
	return ret;
}

static void withdraw_cow(struct cbt_snapset *set)
{
	unsigned int i;

	for (i = 0; i < set->nr; i++)
		cbt_tracker_set_cow(set->members[i]->tracker, NULL);
}

/*
 * Returns with the filesystems thawed and the trackers unlocked; on
 * success the set is READY and each member has its stamp.
 */
static int take_instant(struct cbt_snapset *set, bool freeze,
			unsigned int hold_ms)
{
	struct block_device *origins[CBT_SNAP_MAX_MEMBERS];
	unsigned long deadline = jiffies + msecs_to_jiffies(hold_ms);
	u32 frozen[CBT_SNAP_MAX_MEMBERS] = {};
	struct cbt_stack *st = NULL;
	unsigned int i;
	ktime_t t0;
	int ret;

	for (i = 0; i < set->nr; i++)
		origins[i] = set->members[i]->origin;
	if (freeze) {
		st = cbt_stack_above(origins, set->nr);
		if (IS_ERR(st))
			return PTR_ERR(st);
	}
	ret = lock_members(set, deadline);
	if (ret)
		goto out;

	t0 = ktime_get();
	deadline = jiffies + msecs_to_jiffies(hold_ms);
	if (st)
		ret = cbt_stack_freeze(st, frozen, deadline);
	if (!ret) {
		ret = switch_generations(set, deadline);
		if (!ret && ktime_ms_delta(ktime_get(), t0) > hold_ms)
			ret = -ETIMEDOUT;
		/* Failed while held (a copy could not be queued, say): no stamp. */
		if (!ret && !cbt_cow_set_usable(&set->cs))
			ret = READ_ONCE(set->cs.error) ?: -EIO;
		if (ret)
			withdraw_cow(set);
	}
	if (!ret) {
		for (i = 0; i < set->nr; i++)
			set->members[i]->frozen = frozen[i];
		set_bit(CBT_SET_READY, &set->cs.flags);
	} else {
		set_bit(CBT_SET_DEAD, &set->cs.flags);
	}
	/* Writes held since publication go on: copied first, or as they are. */
	wake_up_all(&set->cs.ready_wq);
	if (st)
		cbt_stack_thaw(st);
	set->hold_ns = ktime_to_ns(ktime_sub(ktime_get(), t0));
	unlock_members(set, set->nr);
out:
	cbt_stack_free(st);
	return ret;
}

/* ---- stores ------------------------------------------------------------- */

/*
 * Under cbt_snapsets_mutex: the members of @set and of every live set,
 * stored in @bdevs unless it is NULL; returns how many.
 */
static unsigned int all_members(struct cbt_snapset *set,
				struct block_device **bdevs)
{
	struct cbt_snapset *s;
	unsigned int n = 0, i;

	for (i = 0; i < set->nr; i++, n++)
		if (bdevs)
			bdevs[n] = set->members[i]->origin;
	list_for_each_entry(s, &cbt_snapsets, node)
		for (i = 0; s != set && i < s->nr; i++, n++)
			if (bdevs)
				bdevs[n] = s->members[i]->origin;
	return n;
}

static bool disk_has_parts(struct gendisk *disk)
{
	struct block_device *part;
	unsigned long idx;
	bool found = false;

	rcu_read_lock();
	xa_for_each_start(&disk->part_tbl, idx, part, 1) {
		found = true;
		break;
	}
	rcu_read_unlock();
	return found;
}

static int refuse_store(struct cbt_snapset *set, struct file *file,
			const char *why, int error)
{
	pr_warn("cbt: snapshot set %u: store %pD refused: %s\n", set->cs.id,
		file, why);
	return error;
}

/* What the device a store writes to must not be, stacks aside. */
static int check_store_dev(struct cbt_snapset *set, struct file *file,
			   struct block_device *bdev, bool is_dev)
{
	unsigned int i;

	if (!is_dev)
		return 0;	/* images: check_store_chain(), at every level */
	if (cbt_tracker_overlaps(bdev->bd_disk,
				 bdev_is_partition(bdev) ? bdev->bd_start_sect : 0,
				 bdev_nr_sectors(bdev)))
		return refuse_store(set, file, "it is a tracked volume", -EXDEV);
	if (!bdev_is_partition(bdev) && disk_has_parts(bdev->bd_disk))
		return refuse_store(set, file, "the disk has partitions", -EBUSY);
	for (i = 0; i < set->nr; i++)
		if (bdev_logical_block_size(bdev) >
		    bdev_logical_block_size(set->members[i]->origin))
			return refuse_store(set, file,
					    "its block size is larger than a member's",
					    -EINVAL);
	return 0;
}

/* How many stacked layers a store is looked through (loop over file...). */
#define CBT_STORE_DEPTH		4

/* Neither @bdev nor what lies under it (loop devices down) is on a member. */
static int check_store_chain(struct cbt_snapset *set, struct file *file,
			     struct cbt_stack *st, struct block_device *bdev)
{
	const char *unsafe = NULL;
	struct inode *backing;
	unsigned int i;

	for (i = 0; i < CBT_STORE_DEPTH && bdev; i++) {
		if (cbt_stack_contains(st, bdev))
			return refuse_store(set, file, "it lies on a snapshot member",
					    -EXDEV);
		if (cbt_image_is(bdev->bd_disk))
			return refuse_store(set, file, "it lies on a snapshot image",
					    -EXDEV);
		bdev = cbt_stack_loop_lower(st, bdev, &backing);
		if (IS_ERR(bdev))
			return refuse_store(set, file,
					    "the file behind its loop device cannot be found",
					    PTR_ERR(bdev));
		/*
		 * Old blocks land in that file: it must be private too (said
		 * once the whole chain is known not to lie on a member).
		 */
		if (backing && !unsafe)
			unsafe = cbt_store_file_unsafe(backing);
		iput(backing);
	}
	if (bdev)
		return refuse_store(set, file, "too many loop devices deep", -EXDEV);
	return unsafe ? refuse_store(set, file, unsafe, -EACCES) : 0;
}

/*
 * A store's writes leave from this module, unseen by the write hook: they
 * must not land on a tracked volume (unrecorded), on a snapshot member of
 * any set (uncopied), or under one (overwriting it). Members and what is
 * stacked on them are found in the stack above them; a loop device is
 * followed to the device its backing file is on. A file store's writes
 * go through its filesystem, which the hooks see: only its devices (each
 * of a multi-device filesystem's, an overlay's real one's) must not lie on
 * a member; where they cannot be told (FUSE) it is refused. Exclusive
 * opens (cbt_store_add()) refuse what is held: mounted filesystems, LVM
 * and md components.
 */
static int check_store(struct cbt_snapset *set, struct file *file)
{
	struct inode *inode = file_inode(file);
	bool is_dev = S_ISBLK(inode->i_mode);
	struct block_device **bases, *bdev;
	struct cbt_stack *st;
	const char *why;
	unsigned int n;
	int ret = 0;

	if (!is_dev && !S_ISREG(inode->i_mode))
		return refuse_store(set, file, "neither a block device nor a regular file",
				    -EINVAL);
	why = is_dev ? NULL : cbt_store_file_unsafe(inode);
	if (why)
		return refuse_store(set, file, why, -EACCES);
	n = all_members(set, NULL);
	bases = kvmalloc_array(n, sizeof(*bases), GFP_KERNEL);
	if (!bases)
		return -ENOMEM;
	all_members(set, bases);
	st = cbt_stack_above(bases, n);
	kvfree(bases);
	if (IS_ERR(st))
		return PTR_ERR(st);

	if (is_dev) {
		bdev = I_BDEV(file->f_mapping->host);
		ret = check_store_dev(set, file, bdev, true) ?:
			check_store_chain(set, file, st, bdev);
		goto out;
	}
	/* A file's data lands where its (overlay's real) filesystem is. */
	inode = d_real_inode(file->f_path.dentry);
	for (n = 0; !ret; n++) {
		bdev = cbt_stack_inode_dev(st, inode, n);
		if (IS_ERR(bdev))
			ret = refuse_store(set, file,
					   "the device its filesystem lies on cannot be told",
					   PTR_ERR(bdev));
		else if (!bdev)
			break;	/* no more; none for tmpfs, a network filesystem */
		else
			ret = check_store_dev(set, file, bdev, false) ?:
				check_store_chain(set, file, st, bdev);
	}
out:
	cbt_stack_free(st);
	return ret;
}

/* Under cbt_snapsets_mutex. Takes over @file's reference, or drops it. */
static int add_store(struct cbt_snapset *set, struct file *file)
{
	int ret = check_store(set, file);

	if (!ret && S_ISREG(file_inode(file)->i_mode) &&
	    !cbt_store_has_files(&set->cs.store)) {
		/* Files are written from the workqueue only: no more inline copies. */
		cbt_store_expect_file(&set->cs.store);
		cbt_cow_set_no_inline(&set->cs);
	}
	if (!ret)
		ret = cbt_store_add(&set->cs.store, file);
	if (ret == -EBUSY)
		pr_warn("cbt: snapshot set %u: store %pD refused: in use (mounted, or part of LVM, md or another store)\n",
			set->cs.id, file);
	if (ret)
		fput(file);
	return ret;
}

/* ---- creation ------------------------------------------------------------ */

/*
 * The members named by @m: tracked, distinct, claimed by no other set;
 * each tracker's lock had by @deadline (a checkpoint may be draining).
 */
static int gather_members(struct cbt_snapset *set, struct cbt_snap_member *m,
			  unsigned int count, unsigned long deadline)
{
	struct cbt_tracker *t;
	struct cbt_cow *cow;
	unsigned int i, j;
	int ret;

	for (i = 0; i < count; i++) {
		t = cbt_tracker_get(MKDEV(m[i].dev.major, m[i].dev.minor));
		if (!t)
			return -ENOENT;
		for (j = 0; j < set->nr; j++) {
			if (set->members[j]->tracker == t) {
				cbt_tracker_put(t);
				return -EINVAL;
			}
		}
		cbt_fault_member_wait(t);
		ret = cbt_tracker_claim(t, set);
		if (ret) {
			cbt_tracker_put(t);
			return ret;
		}
		cow = cbt_cow_alloc(&set->cs, t, i, deadline);
		if (IS_ERR(cow)) {
			cbt_tracker_unclaim(t, set);
			cbt_tracker_put(t);
			return PTR_ERR(cow);
		}
		set->members[set->nr] = cow;
		set->nr++;
	}
	return 0;
}

/* Undo everything a set holds. Under cbt_snapsets_mutex. */
static void teardown(struct cbt_snapset *set)
{
	unsigned int i;

	set_bit(CBT_SET_DEAD, &set->cs.flags);
	wake_up_all(&set->cs.ready_wq);
	withdraw_cow(set);
	synchronize_rcu();		/* the write hook no longer sees the set */
	cbt_cow_set_quiesce(&set->cs);	/* nor does any claim on it */
	for (i = 0; i < set->nr; i++)
		cbt_image_remove(set->members[i]);
	if (set->cs.wq)
		destroy_workqueue(set->cs.wq);	/* image I/O ends */
	set->cs.wq = NULL;
	for (i = 0; i < set->nr; i++) {
		cbt_image_free(set->members[i]);
		cbt_tracker_unclaim(set->members[i]->tracker, set);
	}
	cbt_store_release(&set->cs.store);
	cbt_cow_set_event(&set->cs);
}

static bool id_reserved(u32 id)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cbt_snap_reserved); i++)
		if (cbt_snap_reserved[i] == id)
			return true;
	return false;
}

static u32 alloc_id(void)
{
	struct cbt_snapset *s;
	u32 id;

	for (;;) {
		id = cbt_snap_next_id++;
		if (!id || id_reserved(id))
			continue;
		list_for_each_entry(s, &cbt_snapsets, node)
			if (s->cs.id == id)
				break;
		if (list_entry_is_head(s, &cbt_snapsets, node))
			return id;
	}
}

/*
 * An id no set has and no other creation will take, for a set created
 * with it later (cbt_snapset_create(..., id, ...)); -ENOSPC when too many
 * creations are under way. Released by cbt_snapset_release_id(), whether
 * the set was made or not.
 */
int cbt_snapset_reserve_id(u32 *id)
{
	unsigned int i;
	int ret = -ENOSPC;

	mutex_lock(&cbt_snapsets_mutex);
	for (i = 0; i < ARRAY_SIZE(cbt_snap_reserved); i++) {
		if (!cbt_snap_reserved[i]) {
			*id = alloc_id();
			cbt_snap_reserved[i] = *id;
			ret = 0;
			break;
		}
	}
	mutex_unlock(&cbt_snapsets_mutex);
	return ret;
}

void cbt_snapset_release_id(u32 id)
{
	unsigned int i;

	mutex_lock(&cbt_snapsets_mutex);
	for (i = 0; i < ARRAY_SIZE(cbt_snap_reserved); i++)
		if (cbt_snap_reserved[i] == id)
			cbt_snap_reserved[i] = 0;
	mutex_unlock(&cbt_snapsets_mutex);
}

static unsigned int count_sets(void)
{
	struct cbt_snapset *s;
	unsigned int n = 0;

	list_for_each_entry(s, &cbt_snapsets, node)
		n++;
	return n;
}

static void answer_member(struct cbt_cow *cow, struct cbt_snap_member *m)
{
	m->dev.major = MAJOR(cow->origin->bd_dev);
	m->dev.minor = MINOR(cow->origin->bd_dev);
	m->image.major = cow->image->major;
	m->image.minor = cow->image->first_minor;
	m->stamp = cow->stamp;
	m->chunk_size = 1u << cow->chunk_shift;
	m->frozen = cow->frozen;
}

/* @id: 0, or one reserved by cbt_snapset_reserve_id(). */
int cbt_snapset_create(struct cbt_snap_member *m, unsigned int count,
		       u32 flags, struct file *store, unsigned int hold_ms,
		       unsigned int low_space, u32 *id, u64 *hold_ns)
{
	struct cbt_snapset *set;
	unsigned int i, shift = 0;
	int ret;

	set = kzalloc(sizeof(*set), GFP_KERNEL);
	if (!set) {
		fput(store);
		return -ENOMEM;
	}
	set->created_ns = ktime_get_real_ns();
	INIT_WORK(&set->free_work, snapset_free);

	mutex_lock(&cbt_snapsets_mutex);
	cbt_cow_set_init(&set->cs, *id ? *id : alloc_id(), snapset_release);
	if (flags & CBT_SNAP_WRITABLE)
		set_bit(CBT_SET_WRITABLE, &set->cs.flags);
	if (count_sets() >= CBT_SNAP_MAX_SETS) {
		ret = -ENOSPC;
		fput(store);
		goto out;
	}
	ret = gather_members(set, m, count,
			     jiffies + msecs_to_jiffies(hold_ms));
	for (i = 0; i < set->nr; i++)
		shift = max(shift, set->members[i]->chunk_shift);
	cbt_store_init(&set->cs.store, shift, low_space);
	if (ret)
		fput(store);
	else
		ret = add_store(set, store);
	if (ret)
		goto out;
	set->cs.wq = alloc_workqueue("cbt-snap%u", WQ_UNBOUND | WQ_MEM_RECLAIM,
				     0, set->cs.id);
	if (!set->cs.wq) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < set->nr && !ret; i++)
		ret = cbt_image_create(set->members[i]);
	if (ret)
		goto out;

	ret = take_instant(set, !(flags & CBT_SNAP_NO_FREEZE), hold_ms);
	if (ret)
		goto out;
	cbt_cow_set_check_space(&set->cs);
	for (i = 0; i < set->nr && !ret; i++)
		ret = cbt_image_add(set->members[i]);
	if (ret)
		goto out;

	for (i = 0; i < set->nr; i++)
		answer_member(set->members[i], &m[i]);
	*id = set->cs.id;
	*hold_ns = set->hold_ns;
	list_add_tail(&set->node, &cbt_snapsets);
	pr_info("cbt: snapshot set %u of %u volume(s), writes held %llu us\n",
		set->cs.id, set->nr, set->hold_ns / 1000);
	mutex_unlock(&cbt_snapsets_mutex);
	return 0;
out:
	teardown(set);
	mutex_unlock(&cbt_snapsets_mutex);
	cbt_cow_set_put(&set->cs);
	return ret;
}

/* ---- operations on live sets -------------------------------------------- */

/* Under cbt_snapsets_mutex. */
static struct cbt_snapset *find_set(u32 id)
{
	struct cbt_snapset *set;

	list_for_each_entry(set, &cbt_snapsets, node)
		if (set->cs.id == id)
			return set;
	return NULL;
}

int cbt_snapset_grow(u32 id, struct file *store)
{
	struct cbt_snapset *set;
	int ret = -ENOENT;

	mutex_lock(&cbt_snapsets_mutex);
	set = find_set(id);
	if (!set) {
		fput(store);
		goto out;
	}
	ret = add_store(set, store);
	if (!ret) {
		/* Still low: the event comes again, so a watcher grows again. */
		if (!cbt_store_low(&set->cs.store))
			clear_bit(CBT_SET_LOW_SPACE, &set->cs.flags);
		cbt_cow_set_event(&set->cs);
	}
out:
	mutex_unlock(&cbt_snapsets_mutex);
	return ret;
}

static void destroy_locked(struct cbt_snapset *set)
{
	list_del(&set->node);
	teardown(set);
	pr_info("cbt: snapshot set %u destroyed\n", set->cs.id);
	cbt_cow_set_put(&set->cs);
}

int cbt_snapset_destroy(u32 id)
{
	struct cbt_snapset *set;

	mutex_lock(&cbt_snapsets_mutex);
	set = find_set(id);
	if (set)
		destroy_locked(set);
	mutex_unlock(&cbt_snapsets_mutex);
	return set ? 0 : -ENOENT;
}

void cbt_snapshot_reap(void)
{
	struct cbt_snapset *set;
	unsigned int i;

	mutex_lock(&cbt_snapsets_mutex);
	list_for_each_entry(set, &cbt_snapsets, node)
		for (i = 0; i < set->nr; i++)
			if (!cbt_tracker_alive(set->members[i]->tracker))
				cbt_cow_set_fail(&set->cs, CBT_SET_INVALID, -ENODEV);
	mutex_unlock(&cbt_snapsets_mutex);
}

static u32 set_state(struct cbt_snapset *set)
{
	unsigned long f = READ_ONCE(set->cs.flags);
	u32 state = 0;

	if (f & BIT(CBT_SET_LOW_SPACE))
		state |= CBT_SNAP_STATE_LOW_SPACE;
	if (f & BIT(CBT_SET_OVERFLOW))
		state |= CBT_SNAP_STATE_OVERFLOW;
	if (f & BIT(CBT_SET_INVALID))
		state |= CBT_SNAP_STATE_INVALID;
	if (f & BIT(CBT_SET_DEAD))
		state |= CBT_SNAP_STATE_DESTROYED;
	if (f & BIT(CBT_SET_WRITABLE))
		state |= CBT_SNAP_STATE_WRITABLE;
	return state;
}

int cbt_snapset_info(u32 id, struct cbt_snap_info *info,
		     struct cbt_snap_member *members, unsigned int capacity)
{
	struct cbt_snapset *set;
	unsigned int i, files;
	u64 cap, used, slot;

	mutex_lock(&cbt_snapsets_mutex);
	set = find_set(id);
	if (!set) {
		mutex_unlock(&cbt_snapsets_mutex);
		return -ENOENT;
	}
	cbt_store_usage(&set->cs.store, &cap, &used, &files);
	slot = 1ull << set->cs.store.slot_shift;
	info->count = set->nr;
	info->state = set_state(set);
	info->stores = files;
	info->store_size = cap * slot;
	info->store_used = used * slot;
	info->chunks_copied = atomic64_read(&set->cs.chunks_copied);
	info->created_ns = set->created_ns;
	info->hold_ns = set->hold_ns;
	info->low_space = set->cs.store.low_pct;
	for (i = 0; i < min(capacity, set->nr); i++) {
		memset(&members[i], 0, sizeof(members[i]));
		answer_member(set->members[i], &members[i]);
	}
	mutex_unlock(&cbt_snapsets_mutex);
	return 0;
}

int cbt_snapset_list(u32 *ids, u32 capacity, u32 *count)
{
	struct cbt_snapset *set;
	u32 n = 0;

	mutex_lock(&cbt_snapsets_mutex);
	list_for_each_entry(set, &cbt_snapsets, node) {
		if (n < capacity)
			ids[n] = set->cs.id;
		n++;
	}
	mutex_unlock(&cbt_snapsets_mutex);
	*count = n;
	return 0;
}

/* ---- events -------------------------------------------------------------- */

struct event_reader {
	struct cbt_snapset *set;
	u64 seen;		/* the event_seq last returned */
	bool primed;		/* the first read returns the state at once */
	bool done;		/* DESTROYED was returned */
};

static bool event_pending(struct event_reader *r)
{
	return !r->done && (!r->primed ||
			    atomic64_read(&r->set->cs.event_seq) != r->seen);
}

static ssize_t event_read(struct file *file, char __user *buf, size_t len,
			  loff_t *ppos)
{
	struct event_reader *r = file->private_data;
	struct cbt_snapset *set = r->set;
	struct cbt_snap_event ev = {};
	unsigned int files;
	u64 cap, used;

	if (len < sizeof(ev))
		return -EINVAL;
	if (r->done)
		return 0;
	while (!event_pending(r)) {
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		if (wait_event_interruptible(set->cs.event_wq, event_pending(r)))
			return -ERESTARTSYS;
	}
	ev.seq = atomic64_read(&set->cs.event_seq);
	ev.id = set->cs.id;
	ev.state = set_state(set);
	cbt_store_usage(&set->cs.store, &cap, &used, &files);
	ev.store_size = cap << set->cs.store.slot_shift;
	ev.store_used = used << set->cs.store.slot_shift;
	ev.error = READ_ONCE(set->cs.error);
	if (copy_to_user(buf, &ev, sizeof(ev)))
		return -EFAULT;
	r->seen = ev.seq;
	r->primed = true;
	r->done = ev.state & CBT_SNAP_STATE_DESTROYED;
	return sizeof(ev);
}

static __poll_t event_poll(struct file *file, poll_table *wait)
{
	struct event_reader *r = file->private_data;

	poll_wait(file, &r->set->cs.event_wq, wait);
	return event_pending(r) || r->done ? EPOLLIN | EPOLLRDNORM : 0;
}

static int event_release(struct inode *inode, struct file *file)
{
	struct event_reader *r = file->private_data;

	cbt_cow_set_put(&r->set->cs);
	kfree(r);
	return 0;
}

static const struct file_operations cbt_event_fops = {
	.owner = THIS_MODULE,
	.read = event_read,
	.poll = event_poll,
	.release = event_release,
	.llseek = noop_llseek,
};

int cbt_snapset_events_fd(u32 id)
{
	struct event_reader *r = kzalloc(sizeof(*r), GFP_KERNEL);
	struct cbt_snapset *set;
	int fd;

	if (!r)
		return -ENOMEM;
	mutex_lock(&cbt_snapsets_mutex);
	set = find_set(id);
	if (set)
		cbt_cow_set_get(&set->cs);
	mutex_unlock(&cbt_snapsets_mutex);
	if (!set) {
		kfree(r);
		return -ENOENT;
	}
	r->set = set;
	fd = anon_inode_getfd("[cbt-snapset]", &cbt_event_fops, r,
			      O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cbt_cow_set_put(&set->cs);
		kfree(r);
	}
	return fd;
}

/* ---- status and module lifetime ----------------------------------------- */

void cbt_snapset_show(struct seq_file *m)
{
	struct cbt_snapset *set;
	unsigned int i, files;
	u64 cap, used;

	mutex_lock(&cbt_snapsets_mutex);
	list_for_each_entry(set, &cbt_snapsets, node) {
		cbt_store_usage(&set->cs.store, &cap, &used, &files);
		seq_printf(m, "set %u state=%#x store=%llu/%llu chunks files=%u copied=%lld hold_us=%llu\n",
			   set->cs.id, set_state(set), used, cap, files,
			   (long long)atomic64_read(&set->cs.chunks_copied),
			   set->hold_ns / 1000);
		for (i = 0; i < set->nr; i++)
			seq_printf(m, "  %pg -> %s frozen=%u\n",
				   set->members[i]->origin,
				   set->members[i]->image->disk_name,
				   set->members[i]->frozen);
	}
	mutex_unlock(&cbt_snapsets_mutex);
}

int cbt_snapshot_init(void)
{
	int ret;

	cbt_snap_free_wq = alloc_workqueue("cbt-snap-free", 0, 0);
	if (!cbt_snap_free_wq)
		return -ENOMEM;
	ret = cbt_cow_init();
	if (ret)
		goto free_wq;
	ret = cbt_image_init();
	if (ret)
		goto cow;
	return 0;
cow:
	cbt_cow_exit();
free_wq:
	destroy_workqueue(cbt_snap_free_wq);
	return ret;
}

/* Destroy every set (rmmod). */
void cbt_snapshot_exit(void)
{
	struct cbt_snapset *set, *tmp;

	mutex_lock(&cbt_snapsets_mutex);
	list_for_each_entry_safe(set, tmp, &cbt_snapsets, node)
		destroy_locked(set);
	mutex_unlock(&cbt_snapsets_mutex);
	destroy_workqueue(cbt_snap_free_wq);	/* frees what is left */
	cbt_image_exit();
	cbt_cow_exit();
	cbt_store_module_exit();
}
