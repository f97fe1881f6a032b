// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_ctl.c - the control device /dev/cbt-ctl and its ioctls.
 *
 * Each handler copies its fixed-size struct in, checks every field (flags,
 * reserved words, ranges) before acting, and copies the answer out. Nothing
 * changes unless every check passed.
 */
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "cbt_ctl.h"
#include "cbt_fault.h"
#include "cbt_ioctl.h"
#include "cbt_snapshot.h"
#include "cbt_tracker.h"
#include "cbt_writer.h"

#define CBT_VERSION_MAJOR	0
#define CBT_VERSION_MINOR	1
#define CBT_VERSION_PATCH	0

/* Largest batch of extents or bitmap bytes staged in the kernel at once. */
#define CBT_CHANGES_BATCH	PAGE_SIZE
/* Device sizes beyond this are refused: offsets must fit in signed 64 bits. */
#define CBT_OFFSET_MAX		((u64)S64_MAX)

static bool all_zero(const void *p, size_t n)
{
	return !memchr_inv(p, 0, n);
}

static int dev_from_user(const struct cbt_dev *d, dev_t *devt)
{
	if (d->major >= (1u << (32 - MINORBITS)) || d->minor > MINORMASK)
		return -EINVAL;
	*devt = MKDEV(d->major, d->minor);
	if (MAJOR(*devt) != d->major || MINOR(*devt) != d->minor)
		return -EINVAL;
	return 0;
}

static int ctl_version(void __user *arg)
{
	struct cbt_version v = {
		.abi = CBT_ABI_VERSION,
		.major = CBT_VERSION_MAJOR,
		.minor = CBT_VERSION_MINOR,
		.patch = CBT_VERSION_PATCH,
		.features = CBT_FEAT_TRACKING | CBT_FEAT_SNAPSHOT |
			    CBT_FEAT_MEMBER_FROZEN | CBT_FEAT_WRITERS,
	};

	return copy_to_user(arg, &v, sizeof(v)) ? -EFAULT : 0;
}

/* Drop a request's reference: nothing of @t may be read after this. */
static void put_tracker(struct cbt_tracker *t)
{
	cbt_tracker_put(t);
	cbt_fault_put_wait();
}

static int ctl_attach(void __user *arg)
{
	struct cbt_tracker_status st;
	struct cbt_tracker *t;
	struct cbt_attach a;
	dev_t devt;
	int ret;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	if (a.flags || !all_zero(a.reserved, sizeof(a.reserved)))
		return -EINVAL;
	ret = dev_from_user(&a.dev, &devt);
	if (ret)
		return ret;
	ret = cbt_tracker_attach(devt, a.block_size, &t);
	if (ret)
		return ret;
	ret = cbt_tracker_status(t, &st);
	put_tracker(t);
	if (ret)
		return ret;
	memcpy(a.head.uuid, &st.uuid, CBT_UUID_SIZE);
	a.head.generation = st.gen;
	a.block_size = st.block_size;
	return copy_to_user(arg, &a, sizeof(a)) ? -EFAULT : 0;
}

static int ctl_detach(void __user *arg)
{
	struct cbt_detach d;
	dev_t devt;
	int ret;

	if (copy_from_user(&d, arg, sizeof(d)))
		return -EFAULT;
	if (d.flags || d.reserved)
		return -EINVAL;
	ret = dev_from_user(&d.dev, &devt);
	if (ret)
		return ret;
	return cbt_tracker_detach(devt);
}

/* Look up the tracker a request names; -ENOENT when there is none. */
static int get_tracker(const struct cbt_dev *d, struct cbt_tracker **t)
{
	dev_t devt;
	int ret = dev_from_user(d, &devt);

	if (ret)
		return ret;
	*t = cbt_tracker_get(devt);
	return *t ? 0 : -ENOENT;
}

static int ctl_status(void __user *arg)
{
	struct cbt_tracker_status st;
	struct cbt_tracker *t;
	struct cbt_status s;
	int ret;

	if (copy_from_user(&s, arg, sizeof(s)))
		return -EFAULT;
	if (s.flags)
		return -EINVAL;
	ret = get_tracker(&s.dev, &t);
	if (ret)
		return ret;
	ret = cbt_tracker_status(t, &st);
	memset(&s, 0, sizeof(s));
	s.dev.major = MAJOR(t->devt);
	s.dev.minor = MINOR(t->devt);
	put_tracker(t);
	if (ret)
		return ret;
	s.state = st.lost ? CBT_STATE_LOST : 0;
	memcpy(s.head.uuid, &st.uuid, CBT_UUID_SIZE);
	s.head.generation = st.gen;
	s.oldest = st.oldest;
	s.device_size = st.device_bytes;
	s.blocks = st.blocks;
	s.blocks_written = st.blocks_written;
	s.map_bytes = st.map_bytes;
	s.block_size = st.block_size;
	return copy_to_user(arg, &s, sizeof(s)) ? -EFAULT : 0;
}

static int ctl_list(void __user *arg)
{
	struct cbt_dev __user *udevs;
	struct cbt_list l;
	dev_t *devs = NULL;
	u32 i, n, count;
	int ret;

	if (copy_from_user(&l, arg, sizeof(l)))
		return -EFAULT;
	if (!all_zero(l.reserved, sizeof(l.reserved)))
		return -EINVAL;
	if (l.capacity && !l.devs)
		return -EFAULT;
	udevs = u64_to_user_ptr(l.devs);
	/* Never more than the kernel could be tracking: bounded staging. */
	n = min_t(u32, l.capacity, 4096);
	if (n) {
		devs = kcalloc(n, sizeof(*devs), GFP_KERNEL);
		if (!devs)
			return -ENOMEM;
	}
	ret = cbt_tracker_list(devs, n, &count);
	for (i = 0; !ret && i < min(n, count); i++) {
		struct cbt_dev d = { MAJOR(devs[i]), MINOR(devs[i]) };

		if (copy_to_user(&udevs[i], &d, sizeof(d)))
			ret = -EFAULT;
	}
	kfree(devs);
	if (ret)
		return ret;
	l.count = count;
	return copy_to_user(arg, &l, sizeof(l)) ? -EFAULT : 0;
}

static int ctl_checkpoint(void __user *arg)
{
	struct cbt_checkpoint c;
	struct cbt_tracker *t;
	uuid_t uuid;
	u64 gen;
	int ret;

	if (copy_from_user(&c, arg, sizeof(c)))
		return -EFAULT;
	if (c.flags || !all_zero(c.reserved, sizeof(c.reserved)) ||
	    !all_zero(&c.stamp, sizeof(c.stamp)))
		return -EINVAL;
	if (c.timeout_ms > 3600 * 1000)
		return -EINVAL;
	ret = get_tracker(&c.dev, &t);
	if (ret)
		return ret;
	ret = cbt_tracker_checkpoint(t, c.timeout_ms, &uuid, &gen);
	put_tracker(t);
	if (ret)
		return ret;
	memcpy(c.stamp.uuid, &uuid, CBT_UUID_SIZE);
	c.stamp.generation = gen;
	return copy_to_user(arg, &c, sizeof(c)) ? -EFAULT : 0;
}

/*
 * CBT_IOC_CHANGES. The map is scanned under the tracker's lock into a
 * kernel page of extents or bits; the page is copied out after the lock is
 * dropped, and the scan goes on where it stopped. So no user memory is
 * touched under the lock: a fault on the buffer (say a MAP_SHARED page of
 * a filesystem a snapshot is freezing) cannot hold up a snapshot.
 */
#define CBT_STAGE_BITS		(CBT_CHANGES_BATCH * 8)

struct changes_out {
	bool bitmap;
	unsigned int block_shift;
	u64 range_start, range_end;	/* extents are clipped to the request */
	u64 first_block;	/* bitmap: the block of bit 0 */
	u64 stage_bit;		/* bitmap: the bit at the start of @stage */
	void *stage;
	size_t staged;		/* extents: bytes in @stage */
	u64 room;		/* extents: entries the user buffer still takes */
	u64 count;
};

/* Extent mode: a run is taken whole, or not at all (stage or buffer full). */
static u64 emit_extent(struct changes_out *o, u64 first, u64 count)
{
	struct cbt_extent *e;
	u64 start = max(first << o->block_shift, o->range_start);
	u64 end = min((first + count) << o->block_shift, o->range_end);

	if (!o->room || o->staged + sizeof(*e) > CBT_CHANGES_BATCH)
		return 0;
	e = o->stage + o->staged;
	e->offset = start;
	e->length = end - start;
	o->staged += sizeof(*e);
	o->room--;
	o->count++;
	return count;
}

/* Bitmap mode: the blocks whose bits fall in the stage. */
static u64 emit_bits(struct changes_out *o, u64 first, u64 count)
{
	u64 bit = first - o->first_block, taken;
	u8 *stage = o->stage;

	for (taken = 0; taken < count; taken++, bit++) {
		if (bit >= o->stage_bit + CBT_STAGE_BITS)
			break;
		if (bit >= o->stage_bit)
			stage[(bit - o->stage_bit) / 8] |= 1u << (bit % 8);
	}
	return taken;
}

static u64 changes_emit(void *ctx, u64 first, u64 count)
{
	struct changes_out *o = ctx;

	return o->bitmap ? emit_bits(o, first, count) :
			   emit_extent(o, first, count);
}

/* Extent mode: copy the staged extents out. */
static int flush_extents(struct changes_out *o, u8 __user **ubuf)
{
	if (copy_to_user(*ubuf, o->stage, o->staged))
		return -EFAULT;
	*ubuf += o->staged;
	o->staged = 0;
	return 0;
}

/*
 * Bitmap mode: copy out the stage, then zeros up to the page that holds
 * bit @next (nothing changed before it), or to the end of the bitmap.
 */
static int flush_bits(struct changes_out *o, u8 __user *ubuf, u64 next,
		      u64 nbits)
{
	u64 bytes = DIV_ROUND_UP(nbits, 8), from = o->stage_bit / 8, upto;

	if (from < bytes &&
	    copy_to_user(ubuf + from, o->stage,
			 min_t(u64, CBT_CHANGES_BATCH, bytes - from)))
		return -EFAULT;
	memset(o->stage, 0, CBT_CHANGES_BATCH);
	o->stage_bit += CBT_STAGE_BITS;
	upto = next >= nbits ? bytes * 8 : round_down(next, CBT_STAGE_BITS);
	if (upto > o->stage_bit) {
		if (clear_user(ubuf + o->stage_bit / 8, (upto - o->stage_bit) / 8))
			return -EFAULT;
		o->stage_bit = upto;
	}
	return 0;
}

static int ctl_changes(void __user *arg)
{
	struct changes_out o = {};
	u64 dev_bytes, end, first, last, nbits = 0;
	struct cbt_tracker *t;
	struct cbt_changes c;
	u8 __user *ubuf;
	u32 block_size;
	uuid_t uuid;
	s64 stop;
	int ret;

	if (copy_from_user(&c, arg, sizeof(c)))
		return -EFAULT;
	if ((c.flags & ~CBT_CHANGES_BITMAP) || c.block_size || c.next_offset ||
	    c.count || !all_zero(c.reserved, sizeof(c.reserved)))
		return -EINVAL;
	if (c.buf_size && !c.buf)
		return -EFAULT;
	if (c.offset > CBT_OFFSET_MAX || c.length > CBT_OFFSET_MAX)
		return -EINVAL;
	ret = get_tracker(&c.dev, &t);
	if (ret)
		return ret;
	ret = cbt_tracker_geometry(t, 0, &dev_bytes, &block_size);
	if (ret)
		goto put;
	end = c.length ? c.offset + c.length : dev_bytes;
	if (end > dev_bytes || c.offset > end) {
		ret = -EINVAL;
		goto put;
	}
	o.bitmap = c.flags & CBT_CHANGES_BITMAP;
	o.block_shift = ilog2(block_size);
	o.range_start = c.offset;
	o.range_end = end;
	ubuf = u64_to_user_ptr(c.buf);
	if (o.bitmap && (c.offset & (block_size - 1))) {
		ret = -EINVAL;
		goto put;
	}
	c.block_size = block_size;
	c.next_offset = end;
	if (c.offset == end)
		goto done;

	first = c.offset >> o.block_shift;
	last = (end - 1) >> o.block_shift;
	if (o.bitmap) {
		nbits = min_t(u64, c.buf_size, U64_MAX / 8) * 8;
		if (!nbits) {
			ret = -ENOSPC;
			goto put;
		}
		if (last - first + 1 > nbits)
			last = first + nbits - 1;
		nbits = last - first + 1;
		o.first_block = first;
	} else {
		o.room = c.buf_size / sizeof(struct cbt_extent);
		if (!o.room) {
			ret = -ENOSPC;
			goto put;
		}
	}
	o.stage = (void *)get_zeroed_page(GFP_KERNEL);
	if (!o.stage) {
		ret = -ENOMEM;
		goto put;
	}
	memcpy(&uuid, c.since.uuid, sizeof(uuid));
	for (;;) {
		stop = cbt_tracker_changes(t, &uuid, c.since.generation, first,
					   last, changes_emit, &o);
		if (stop < 0) {
			ret = stop;
			break;
		}
		/* Out of the tracker's lock: now the user buffer. */
		ret = o.bitmap ? flush_bits(&o, ubuf, stop - o.first_block, nbits) :
				 flush_extents(&o, &ubuf);
		if (ret || stop > last || (!o.bitmap && !o.room))
			break;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		first = stop;
	}
	free_page((unsigned long)o.stage);
	if (ret)
		goto put;
	c.count = o.bitmap ? nbits : o.count;
	c.next_offset = max(min((u64)stop << o.block_shift, end), c.offset);
done:
	ret = copy_to_user(arg, &c, sizeof(c)) ? -EFAULT : 0;
put:
	put_tracker(t);
	return ret;
}

/* ---- snapshot sets ------------------------------------------------------ */

/* A store descriptor: a regular file or block device open read-write. */
static struct file *store_from_user(s32 fd)
{
	struct file *f;

	if (fd < 0)
		return ERR_PTR(-EBADF);
	f = fget(fd);
	return f ? f : ERR_PTR(-EBADF);
}

/*
 * A set and the writers' round around it: PREPARE and FREEZE, the
 * instant, THAW and POST_SNAPSHOT (cbt_writer.h). The round mutex is
 * taken, then the set's id reserved: PREPARE names it.
 */
static int ctl_snap_create(void __user *arg)
{
	struct cbt_snap_member *m;
	struct cbt_snap_create c;
	struct cbt_round *round;
	struct file *store;
	bool made = false;
	unsigned int i;
	dev_t devt;
	u32 id;
	int ret, ret2;

	if (copy_from_user(&c, arg, sizeof(c)))
		return -EFAULT;
	if ((c.flags & ~(CBT_SNAP_NO_FREEZE | CBT_SNAP_WRITABLE)) || c.id ||
	    c.hold_ns || !all_zero(&c.missing, sizeof(c.missing)) ||
	    !all_zero(c.reserved, sizeof(c.reserved)))
		return -EINVAL;
	if (!c.count || c.count > CBT_SNAP_MAX_MEMBERS ||
	    c.hold_ms > 60000 || c.low_space > 90)
		return -EINVAL;
	m = memdup_user(u64_to_user_ptr(c.members), c.count * sizeof(*m));
	if (IS_ERR(m))
		return PTR_ERR(m);
	for (i = 0; i < c.count; i++) {
		ret = dev_from_user(&m[i].dev, &devt);
		if (!ret && (m[i].frozen || m[i].chunk_size ||
			     !all_zero(m[i].reserved, sizeof(m[i].reserved)) ||
			     !all_zero(&m[i].image, sizeof(m[i].image)) ||
			     !all_zero(&m[i].stamp, sizeof(m[i].stamp))))
			ret = -EINVAL;
		if (ret)
			goto free;
	}
	ret = cbt_round_prepare(c.writers, m, c.count, &c.missing, &round);
	if (ret == -EXDEV) {
		/* The volume a writer's component needs: the caller adds it. */
		cbt_round_finish(round, false, c.writers);
		if (copy_to_user(arg, &c, sizeof(c)))
			ret = -EFAULT;
		goto free;
	}
	if (ret)
		goto free;
	store = store_from_user(c.store_fd);
	if (IS_ERR(store)) {
		ret = PTR_ERR(store);
		goto finish;
	}
	/* Before the id: PREPARE names ids in the order sets are made. */
	ret = cbt_round_lock(round);
	if (ret) {
		fput(store);
		goto finish;
	}
	ret = cbt_snapset_reserve_id(&id);
	if (ret) {
		fput(store);
		goto finish;
	}
	cbt_fault_create_wait(CBT_FAULT_AT_RESERVED);
	ret = cbt_round_start(round, id);
	if (ret) {
		fput(store);
	} else {
		cbt_fault_create_wait(CBT_FAULT_AT_FROZEN);
		c.id = id;
		ret = cbt_snapset_create(m, c.count, c.flags, store,
					 c.hold_ms ? c.hold_ms : CBT_SNAP_HOLD_DEFAULT_MS,
					 c.low_space ? c.low_space : CBT_SNAP_LOW_SPACE_DEFAULT,
					 &c.id, &c.hold_ns);
		made = !ret;
		if (made)
			cbt_fault_create_wait(CBT_FAULT_AT_MADE);
		ret = cbt_round_instant(round, ret);
		/*
		 * A writer failed its THAW or POST_SNAPSHOT under REQUIRE, or
		 * the set was destroyed meanwhile (ENOENT: nothing to do).
		 */
		if (ret && made) {
			cbt_snapset_destroy(id);
			made = false;
		}
	}
	cbt_snapset_release_id(id);
finish:
	ret2 = cbt_round_finish(round, made, c.writers);
	if (!ret && ret2)
		ret = ret2;
	if (!made)
		goto free;
	/* The set exists now; a caller that cannot take the answer destroys it. */
	if (ret || copy_to_user(u64_to_user_ptr(c.members), m, c.count * sizeof(*m)) ||
	    copy_to_user(arg, &c, sizeof(c))) {
		round = cbt_writer_destroy_begin(c.id);
		cbt_writer_destroy_end(round, !cbt_snapset_destroy(c.id));
		ret = -EFAULT;
	}
free:
	kfree(m);
	return ret;
}

static int ctl_snap_grow(void __user *arg)
{
	struct cbt_snap_grow g;
	struct file *store;

	if (copy_from_user(&g, arg, sizeof(g)))
		return -EFAULT;
	if (g.flags || g.reserved0 || !all_zero(g.reserved, sizeof(g.reserved)))
		return -EINVAL;
	store = store_from_user(g.store_fd);
	if (IS_ERR(store))
		return PTR_ERR(store);
	return cbt_snapset_grow(g.id, store);
}

static int ctl_snap_destroy(void __user *arg)
{
	struct cbt_snap_destroy d;
	struct cbt_round *round;
	int ret;

	if (copy_from_user(&d, arg, sizeof(d)))
		return -EFAULT;
	if (d.flags || !all_zero(d.reserved, sizeof(d.reserved)))
		return -EINVAL;
	/* END is refused from here on; ABORT unless it came first. */
	round = cbt_writer_destroy_begin(d.id);
	ret = cbt_snapset_destroy(d.id);
	cbt_writer_destroy_end(round, !ret);
	return ret;
}

static int ctl_snap_info(void __user *arg)
{
	struct cbt_snap_member m[CBT_SNAP_MAX_MEMBERS];
	struct cbt_snap_info in, out = {};
	unsigned int n;
	int ret;

	if (copy_from_user(&in, arg, sizeof(in)))
		return -EFAULT;
	if (in.flags || in.reserved0 || !all_zero(in.reserved, sizeof(in.reserved)))
		return -EINVAL;
	if (in.capacity && !in.members)
		return -EFAULT;
	n = min_t(u32, in.capacity, CBT_SNAP_MAX_MEMBERS);
	ret = cbt_snapset_info(in.id, &out, m, n);
	if (ret)
		return ret;
	out.id = in.id;
	out.members = in.members;
	out.capacity = in.capacity;
	if (copy_to_user(u64_to_user_ptr(in.members), m,
			 min(n, out.count) * sizeof(*m)))
		return -EFAULT;
	return copy_to_user(arg, &out, sizeof(out)) ? -EFAULT : 0;
}

static int ctl_snap_list(void __user *arg)
{
	struct cbt_snap_list l;
	u32 ids[64], count;

	if (copy_from_user(&l, arg, sizeof(l)))
		return -EFAULT;
	if (!all_zero(l.reserved, sizeof(l.reserved)))
		return -EINVAL;
	if (l.capacity && !l.ids)
		return -EFAULT;
	cbt_snapset_list(ids, ARRAY_SIZE(ids), &count);
	if (copy_to_user(u64_to_user_ptr(l.ids), ids,
			 min3(l.capacity, count, (u32)ARRAY_SIZE(ids)) * sizeof(u32)))
		return -EFAULT;
	l.count = count;
	return copy_to_user(arg, &l, sizeof(l)) ? -EFAULT : 0;
}

static int ctl_snap_events(void __user *arg)
{
	struct cbt_snap_events e;

	if (copy_from_user(&e, arg, sizeof(e)))
		return -EFAULT;
	if (e.flags || !all_zero(e.reserved, sizeof(e.reserved)))
		return -EINVAL;
	return cbt_snapset_events_fd(e.id);
}

static long cbt_ctl_ioctl(struct file *file, unsigned int cmd,
			  unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	switch (cmd) {
	case CBT_IOC_VERSION:
		return ctl_version(uarg);
	case CBT_IOC_ATTACH:
		return ctl_attach(uarg);
	case CBT_IOC_DETACH:
		return ctl_detach(uarg);
	case CBT_IOC_STATUS:
		return ctl_status(uarg);
	case CBT_IOC_LIST:
		return ctl_list(uarg);
	case CBT_IOC_CHECKPOINT:
		return ctl_checkpoint(uarg);
	case CBT_IOC_CHANGES:
		return ctl_changes(uarg);
	case CBT_IOC_SNAP_CREATE:
		return ctl_snap_create(uarg);
	case CBT_IOC_SNAP_GROW:
		return ctl_snap_grow(uarg);
	case CBT_IOC_SNAP_DESTROY:
		return ctl_snap_destroy(uarg);
	case CBT_IOC_SNAP_INFO:
		return ctl_snap_info(uarg);
	case CBT_IOC_SNAP_LIST:
		return ctl_snap_list(uarg);
	case CBT_IOC_SNAP_EVENTS:
		return ctl_snap_events(uarg);
	case CBT_IOC_SNAP_END:
		return cbt_writer_end(uarg);
	case CBT_IOC_WRITER_REGISTER:
		return cbt_writer_register(uarg);
	case CBT_IOC_WRITER_LIST:
		return cbt_writer_list(uarg);
	case CBT_IOC_WRITER_RESULTS:
		return cbt_writer_results(uarg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations cbt_ctl_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = cbt_ctl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice cbt_ctl_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = CBT_CTL_NAME,
	.fops = &cbt_ctl_fops,
	.mode = 0600,
};

int cbt_ctl_init(void)
{
	return misc_register(&cbt_ctl_dev);
}

void cbt_ctl_exit(void)
{
	misc_deregister(&cbt_ctl_dev);
}
