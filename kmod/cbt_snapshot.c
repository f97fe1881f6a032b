// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_snapshot.c - where a snapshot is taken: snapshot sets, their
 * creation at one instant, growth, events and destruction.
 *
 * Taking a set (cbt_snapset_create): every member's filesystem is frozen
 * (unless the caller asks for a crash-consistent set), then
 * cbt_tracker_snapshot() holds new writes to all members, closes each
 * member's generation and drains the writes in flight; then copy-on-write
 * is released and the filesystems thawed. All of that must fit in the hold
 * bound; any failure abandons the whole set and leaves nothing behind.
 *
 * Lifetime: a set is on cbt_snapsets from creation to destruction and holds
 * one reference for that; copy-on-write and image work items and event
 * file descriptors hold one each. Destruction makes everything pass (DEAD),
 * unpublishes the members' copy-on-write state, removes the images, drains
 * the workqueue and releases the store; the last reference frees memory.
 */
#include <linux/anon_inodes.h>
#include <linux/file.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/poll.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include "cbt_compat.h"
#include "cbt_snapshot.h"
#include "cbt_tracker.h"

#define CBT_SNAP_MAX_SETS	64

/*
 * cbt_snapsets_mutex protects the set list and id allocation, and
 * serialises creation and destruction (so the members' cow pointers only
 * change under it).
 */
static DEFINE_MUTEX(cbt_snapsets_mutex);
static LIST_HEAD(cbt_snapsets);
static u32 cbt_snap_next_id = 1;

#define CBT_SET_FAILED_MASK	(BIT(CBT_SET_DEAD) | BIT(CBT_SET_OVERFLOW) | \
				 BIT(CBT_SET_INVALID))

bool cbt_snapset_usable(struct cbt_snapset *set)
{
	return !(READ_ONCE(set->flags) & CBT_SET_FAILED_MASK);
}

static void raise_event(struct cbt_snapset *set)
{
	atomic64_inc(&set->event_seq);
	wake_up_all(&set->event_wq);
}

/* Any context: the write hook calls this when it cannot hold a write. */
void cbt_snapset_fail(struct cbt_snapset *set, int bit, int error)
{
	if (test_and_set_bit(bit, &set->flags))
		return;
	cmpxchg(&set->error, 0, error);
	if (bit == CBT_SET_OVERFLOW)
		pr_warn_ratelimited("cbt: snapshot set %u: store full, images invalidated\n",
				    set->id);
	else if (bit == CBT_SET_INVALID)
		pr_warn_ratelimited("cbt: snapshot set %u invalidated: error %d\n",
				    set->id, error);
	raise_event(set);
}

void cbt_snapset_check_space(struct cbt_snapset *set)
{
	if (!test_bit(CBT_SET_LOW_SPACE, &set->flags) &&
	    cbt_store_low(&set->store) &&
	    !test_and_set_bit(CBT_SET_LOW_SPACE, &set->flags))
		raise_event(set);
}

void cbt_snapset_get(struct cbt_snapset *set)
{
	kref_get(&set->ref);
}

static void free_cow(struct cbt_cow *cow)
{
	if (!cow)
		return;
	cbt_cow_free_chunks(cow);
	kvfree(cow->copied);
	if (cow->tracker)
		cbt_tracker_put(cow->tracker);
	kfree(cow);
}

static void snapset_release(struct kref *ref)
{
	struct cbt_snapset *set = container_of(ref, struct cbt_snapset, ref);
	unsigned int i;

	for (i = 0; i < set->nr; i++)
		free_cow(set->members[i]);
	kfree(set);
}

void cbt_snapset_put(struct cbt_snapset *set)
{
	kref_put(&set->ref, snapset_release);
}

/* ---- creation ------------------------------------------------------------ */

static struct cbt_cow *cow_alloc(struct cbt_snapset *set,
				 struct cbt_tracker *t, unsigned int index)
{
	struct cbt_cow *cow = kzalloc(sizeof(*cow), GFP_KERNEL);
	u32 block_size;
	u64 bytes;
	int i;

	if (!cow)
		return NULL;
	cbt_tracker_geometry(t, &bytes, &block_size);
	cow->set = set;
	cow->tracker = t;
	cow->origin = t->bdev;
	cow->start = t->start;
	cow->nr_sects = bytes >> SECTOR_SHIFT;
	cow->chunk_shift = ilog2(block_size);
	cow->nr_chunks = DIV_ROUND_UP_ULL(bytes, block_size);
	cow->index = index;
	for (i = 0; i < CBT_COW_LOCKS; i++)
		init_rwsem(&cow->locks[i]);
	cow->copied = kvcalloc(BITS_TO_LONGS(cow->nr_chunks),
			       sizeof(unsigned long), GFP_KERNEL);
	if (!cow->copied ||
	    cbt_chunks_init(&cow->chunks, cow->nr_chunks,
			    block_size >> CBT_PIECE_SHIFT)) {
		kvfree(cow->copied);
		kfree(cow);
		return NULL;
	}
	return cow;
}

/* The members named by @m: tracked, distinct, not in another set. */
static int gather_members(struct cbt_snapset *set, struct cbt_snap_member *m,
			  unsigned int count)
{
	struct cbt_tracker *t;
	unsigned int i, j;

	for (i = 0; i < count; i++) {
		dev_t devt = MKDEV(m[i].dev.major, m[i].dev.minor);

		t = cbt_tracker_get(devt);
		if (!t)
			return -ENOENT;
		for (j = 0; j < set->nr; j++) {
			if (set->members[j]->tracker == t) {
				cbt_tracker_put(t);
				return -EINVAL;
			}
		}
		if (rcu_access_pointer(t->cow)) {
			cbt_tracker_put(t);
			return -EBUSY;
		}
		set->members[set->nr] = cow_alloc(set, t, i);
		if (!set->members[set->nr]) {
			cbt_tracker_put(t);
			return -ENOMEM;
		}
		set->nr++;
	}
	return 0;
}

/*
 * A store must not live on a member's disk: its writes would be copied.
 * A store device must take I/O in the units images are read in.
 */
static int check_store(struct cbt_snapset *set, struct file *store)
{
	struct block_device *bdev = cbt_store_file_bdev(store);
	bool is_dev = S_ISBLK(file_inode(store)->i_mode);
	unsigned int i;

	for (i = 0; bdev && i < set->nr; i++) {
		struct block_device *origin = set->members[i]->origin;

		if (bdev->bd_disk == origin->bd_disk)
			return -EXDEV;
		if (is_dev && bdev_logical_block_size(bdev) >
			      bdev_logical_block_size(origin))
			return -EINVAL;
	}
	return 0;
}

static void thaw_members(struct cbt_snapset *set, unsigned int frozen)
{
	while (frozen-- > 0)
		cbt_bdev_thaw(set->members[frozen]->origin);
}

/*
 * The instant. Returns with the filesystems thawed; on success the set is
 * READY and the stamps are in the members.
 */
static int take_instant(struct cbt_snapset *set, bool freeze,
			unsigned int hold_ms)
{
	struct cbt_tracker *ts[CBT_SNAP_MAX_MEMBERS];
	struct cbt_cow **cows = set->members;
	uuid_t uuids[CBT_SNAP_MAX_MEMBERS];
	u64 gens[CBT_SNAP_MAX_MEMBERS];
	unsigned int i, frozen = 0;
	s64 left_ms;
	ktime_t t0;
	int ret = 0;

	for (i = 0; i < set->nr; i++)
		ts[i] = cows[i]->tracker;
	t0 = ktime_get();
	for (; freeze && frozen < set->nr; frozen++) {
		ret = cbt_bdev_freeze(cows[frozen]->origin);
		if (ret)
			goto thaw;
	}
	left_ms = hold_ms - ktime_ms_delta(ktime_get(), t0);
	if (left_ms <= 0) {
		ret = -ETIMEDOUT;
		goto thaw;
	}
	ret = cbt_tracker_snapshot(ts, cows, set->nr, left_ms, uuids, gens);
	if (!ret && ktime_ms_delta(ktime_get(), t0) > hold_ms) {
		for (i = 0; i < set->nr; i++)
			cbt_tracker_clear_cow(ts[i]);
		ret = -ETIMEDOUT;
	}
	if (!ret) {
		for (i = 0; i < set->nr; i++) {
			memcpy(cows[i]->stamp.uuid, &uuids[i], CBT_UUID_SIZE);
			cows[i]->stamp.generation = gens[i];
		}
		set_bit(CBT_SET_READY, &set->flags);
	} else {
		set_bit(CBT_SET_DEAD, &set->flags);
	}
	/* Writes held since publication go on: copied first, or as they are. */
	wake_up_all(&set->ready_wq);
thaw:
	thaw_members(set, frozen);
	set->hold_ns = ktime_to_ns(ktime_sub(ktime_get(), t0));
	return ret;
}

/* Undo everything a set holds. Under cbt_snapsets_mutex. */
static void teardown(struct cbt_snapset *set)
{
	unsigned int i;

	set_bit(CBT_SET_DEAD, &set->flags);
	wake_up_all(&set->ready_wq);
	for (i = 0; i < set->nr; i++)
		cbt_tracker_clear_cow(set->members[i]->tracker);
	synchronize_rcu();	/* the write hook no longer sees the set */
	cbt_cow_quiesce(set);	/* nor does any writer still copying */
	for (i = 0; i < set->nr; i++)
		cbt_image_remove(set->members[i]);
	if (set->wq)
		destroy_workqueue(set->wq);	/* held writes go on, image I/O ends */
	set->wq = NULL;
	for (i = 0; i < set->nr; i++)
		cbt_image_free(set->members[i]);
	cbt_store_release(&set->store);
	raise_event(set);
}

static u32 alloc_id(void)
{
	struct cbt_snapset *s;
	u32 id;

	for (;;) {
		id = cbt_snap_next_id++;
		if (!id)
			continue;
		list_for_each_entry(s, &cbt_snapsets, node)
			if (s->id == id)
				break;
		if (list_entry_is_head(s, &cbt_snapsets, node))
			return id;
	}
}

static unsigned int count_sets(void)
{
	struct cbt_snapset *s;
	unsigned int n = 0;

	list_for_each_entry(s, &cbt_snapsets, node)
		n++;
	return n;
}

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
	kref_init(&set->ref);
	init_waitqueue_head(&set->ready_wq);
	init_waitqueue_head(&set->event_wq);
	atomic64_set(&set->chunks_copied, 0);
	atomic64_set(&set->event_seq, 0);
	set->created_ns = ktime_get_real_ns();
	if (flags & CBT_SNAP_WRITABLE)
		set_bit(CBT_SET_WRITABLE, &set->flags);

	mutex_lock(&cbt_snapsets_mutex);
	if (count_sets() >= CBT_SNAP_MAX_SETS) {
		ret = -ENOSPC;
		fput(store);
		goto out;
	}
	set->id = alloc_id();
	ret = gather_members(set, m, count);
	for (i = 0; i < set->nr; i++)
		shift = max(shift, set->members[i]->chunk_shift);
	cbt_store_init(&set->store, shift, low_space);
	if (!ret)
		ret = check_store(set, store);
	if (!ret)
		ret = cbt_store_add(&set->store, store);
	if (ret) {
		fput(store);
		goto out;
	}
	set->wq = alloc_workqueue("cbt-snap%u", WQ_UNBOUND | WQ_MEM_RECLAIM,
				  0, set->id);
	if (!set->wq) {
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
	cbt_snapset_check_space(set);
	for (i = 0; i < set->nr && !ret; i++)
		ret = cbt_image_add(set->members[i]);
	if (ret)
		goto out;

	for (i = 0; i < set->nr; i++) {
		struct cbt_cow *cow = set->members[i];

		m[i].image.major = cow->image->major;
		m[i].image.minor = cow->image->first_minor;
		m[i].stamp = cow->stamp;
		m[i].chunk_size = 1u << cow->chunk_shift;
	}
	*id = set->id;
	*hold_ns = set->hold_ns;
	list_add_tail(&set->node, &cbt_snapsets);
	pr_info("cbt: snapshot set %u of %u volume(s), writes held %llu us\n",
		set->id, set->nr, set->hold_ns / 1000);
	mutex_unlock(&cbt_snapsets_mutex);
	return 0;
out:
	teardown(set);
	mutex_unlock(&cbt_snapsets_mutex);
	cbt_snapset_put(set);
	return ret;
}

/* ---- operations on live sets -------------------------------------------- */

/* Under cbt_snapsets_mutex. */
static struct cbt_snapset *find_set(u32 id)
{
	struct cbt_snapset *set;

	list_for_each_entry(set, &cbt_snapsets, node)
		if (set->id == id)
			return set;
	return NULL;
}

int cbt_snapset_grow(u32 id, struct file *store)
{
	struct cbt_snapset *set;
	int ret = -ENOENT;

	mutex_lock(&cbt_snapsets_mutex);
	set = find_set(id);
	if (set) {
		ret = check_store(set, store);
		if (!ret)
			ret = cbt_store_add(&set->store, store);
	}
	if (!ret) {
		/* Still low: the event comes again, so a watcher grows again. */
		if (!cbt_store_low(&set->store))
			clear_bit(CBT_SET_LOW_SPACE, &set->flags);
		raise_event(set);
	}
	mutex_unlock(&cbt_snapsets_mutex);
	if (ret)
		fput(store);
	return ret;
}

static void destroy_locked(struct cbt_snapset *set)
{
	list_del(&set->node);
	teardown(set);
	pr_info("cbt: snapshot set %u destroyed\n", set->id);
	cbt_snapset_put(set);
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

static u32 set_state(struct cbt_snapset *set)
{
	unsigned long f = READ_ONCE(set->flags);
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
	cbt_store_usage(&set->store, &cap, &used, &files);
	slot = 1ull << set->store.slot_shift;
	info->count = set->nr;
	info->state = set_state(set);
	info->stores = files;
	info->store_size = cap * slot;
	info->store_used = used * slot;
	info->chunks_copied = atomic64_read(&set->chunks_copied);
	info->created_ns = set->created_ns;
	info->hold_ns = set->hold_ns;
	info->low_space = set->store.low_pct;
	for (i = 0; i < min(capacity, set->nr); i++) {
		struct cbt_cow *cow = set->members[i];

		memset(&members[i], 0, sizeof(members[i]));
		members[i].dev.major = MAJOR(cow->tracker->devt);
		members[i].dev.minor = MINOR(cow->tracker->devt);
		members[i].image.major = cow->image->major;
		members[i].image.minor = cow->image->first_minor;
		members[i].stamp = cow->stamp;
		members[i].chunk_size = 1u << cow->chunk_shift;
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
			ids[n] = set->id;
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
			    atomic64_read(&r->set->event_seq) != r->seen);
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
		if (wait_event_interruptible(set->event_wq, event_pending(r)))
			return -ERESTARTSYS;
	}
	ev.seq = atomic64_read(&set->event_seq);
	ev.id = set->id;
	ev.state = set_state(set);
	cbt_store_usage(&set->store, &cap, &used, &files);
	ev.store_size = cap << set->store.slot_shift;
	ev.store_used = used << set->store.slot_shift;
	ev.error = READ_ONCE(set->error);
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

	poll_wait(file, &r->set->event_wq, wait);
	return event_pending(r) || r->done ? EPOLLIN | EPOLLRDNORM : 0;
}

static int event_release(struct inode *inode, struct file *file)
{
	struct event_reader *r = file->private_data;

	cbt_snapset_put(r->set);
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
		cbt_snapset_get(set);
	mutex_unlock(&cbt_snapsets_mutex);
	if (!set) {
		kfree(r);
		return -ENOENT;
	}
	r->set = set;
	fd = anon_inode_getfd("[cbt-snapset]", &cbt_event_fops, r,
			      O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cbt_snapset_put(set);
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
		cbt_store_usage(&set->store, &cap, &used, &files);
		seq_printf(m, "set %u state=%#x store=%llu/%llu chunks files=%u copied=%lld hold_us=%llu\n",
			   set->id, set_state(set), used, cap, files,
			   (long long)atomic64_read(&set->chunks_copied),
			   set->hold_ns / 1000);
		for (i = 0; i < set->nr; i++)
			seq_printf(m, "  %pg -> %s\n", set->members[i]->origin,
				   set->members[i]->image->disk_name);
	}
	mutex_unlock(&cbt_snapsets_mutex);
}

int cbt_snapshot_init(void)
{
	int ret = cbt_cow_init();

	if (ret)
		return ret;
	ret = cbt_image_init();
	if (ret)
		cbt_cow_exit();
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
	cbt_image_exit();
	cbt_cow_exit();
	cbt_store_module_exit();
}
