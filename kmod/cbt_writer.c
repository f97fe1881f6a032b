// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_writer.c - where writers take part in a snapshot set.
 *
 * A writer registers (CBT_IOC_WRITER_REGISTER) and gets a descriptor: its
 * events are read from it, its acks given on it, and closing it ends the
 * registration. Every set created through /dev/cbt-ctl has a round: the
 * writers it touches (a volume of one of their components is a member),
 * what each was sent, acked, failed, and the stamps and extents they gave.
 *
 * The sequence, driven by cbt_ctl.c around cbt_snapset_create():
 *
 *   PREPARE -> all ack -> FREEZE -> all ack -> the instant -> THAW ->
 *   all ack -> POST_SNAPSHOT -> all ack ... END: COMPLETE -> all ack
 *
 * or ABORT when the set is not made, or destroyed before END. A writer
 * that does not ack in time, acks with a failure or goes away has failed
 * the round; it gets nothing more of it but ABORT or COMPLETE. One that
 * fails PREPARE or FREEZE gets ABORT at once (it must not stay frozen),
 * then nothing more. Under REQUIRE any failure ends the creation (EBUSY).
 * The freeze window runs from FREEZE to THAW: a writer still frozen when
 * it has passed (a slow instant) has failed too.
 *
 * Waiting for acks happens under cbt_round_mutex only, which serialises
 * rounds from PREPARE to POST_SNAPSHOT machine-wide and is taken only when
 * some writer takes part, before the set's id is reserved (so PREPAREs go
 * out in the order of the ids). No other lock is held while waiting, and
 * no lock at all across a copy to or from user memory.
 *
 * Destruction of a set is bracketed by cbt_writer_destroy_begin() and
 * cbt_writer_destroy_end(): END refuses a set being destroyed (ENOENT),
 * and exactly one of COMPLETE (END) or ABORT (destroy) is sent, decided
 * under cbt_writer_lock by round->ended. A set destroyed while its
 * creation is still in its round fails that creation (ENOENT).
 *
 * Lifetime: a writer is referenced by its descriptor and by each round
 * part naming it; a round by the round list (while its set lives, or a few
 * failed creations for CBT_IOC_WRITER_RESULTS), by the creation, END or
 * destroy driving it, by each queued event, and by a COMPLETE or ABORT
 * read but not yet acked (so that ack is taken after the set is gone),
 * until that ack is overdue (cbt_writer_reap(), every second). A
 * writer's queue and held events are dropped when its descriptor is
 * released, so no reference cycle outlives it.
 *
 * Locks, outermost first: cbt_round_mutex (then cbt_snapshot.c's
 * cbt_snapsets_mutex, taken by the id reservation and the creation it
 * wraps), cbt_writers_mutex or cbt_rounds_mutex (never both, and neither
 * held across a call into cbt_snapshot.c), a writer's read_mutex, then the
 * cbt_writer_lock spinlock (innermost; only wake-ups under it).
 */
#include <linux/anon_inodes.h>
#include <linux/err.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include "cbt_writer.h"

/* Events queued for a writer not reading; one more fails its round. */
#define CBT_WRITER_QUEUE	32
/* Rounds of failed creations kept for CBT_IOC_WRITER_RESULTS. */
#define CBT_ROUNDS_KEPT		16
#define CBT_BACKUP_TYPES	((1u << (CBT_BACKUP_COPY + 1)) - 1)

struct cbt_round;
struct cbt_wpart;

/* A queued event: what read() turns into a struct cbt_writer_event. */
struct cbt_wevent {
	u64 seq;
	u32 phase, backup_type, success, timeout_ms;
	struct cbt_round *round;	/* a reference */
	struct cbt_wpart *part;		/* in @round */
};

struct cbt_writer {
	refcount_t ref;
	struct list_head node;		/* cbt_writers, under cbt_writers_mutex */
	u32 id;
	pid_t pid;
	u32 types;			/* CBT_BACKUP_* bits; never 0 */
	unsigned int nr_comps;
	char name[CBT_WRITER_NAME_MAX];
	struct cbt_writer_component comps[CBT_WRITER_MAX_COMPONENTS];
	/* One reader at a time: the head event stays until it is copied out. */
	struct mutex read_mutex;
	wait_queue_head_t wq;		/* readers, poll: an event was queued */
	/* The rest under cbt_writer_lock. */
	bool gone;			/* the descriptor was released */
	u64 next_seq;
	unsigned int head, len;
	struct cbt_wevent queue[CBT_WRITER_QUEUE];
	struct list_head parts;		/* cbt_wpart.wnode, rounds not freed */
	u32 phase;			/* awaiting the ack of this, 0 idle */
	u32 last_set, last_phase;
	s32 last_error;
	char last_message[CBT_WRITER_MSG_MAX];
};

/* One writer's part in one round. */
struct cbt_wpart {
	struct cbt_writer *w;		/* a reference */
	struct cbt_round *round;
	struct list_head wnode;		/* w->parts, under cbt_writer_lock */
	u8 *base;			/* PREPARE's stamp; read-only once sent */
	u32 base_len;
	bool skip;			/* the type is not one it takes */
	/* The rest under cbt_writer_lock. */
	bool failed, completed;
	bool aborted;			/* ABORT sent: nothing more after it */
	bool held;			/* its last event read: the reader's ref */
	unsigned long held_end;		/* jiffies: when that ack is given up */
	u64 wait_seq;			/* the ack awaited, 0 none */
	u32 phase, failed_phase;
	s32 error;
	char message[CBT_WRITER_MSG_MAX];
	u8 *stamp;			/* its new stamp */
	u32 stamp_len;
	struct cbt_writer_extent *extents;
	u32 nr_extents;
};

/* Staging for one result: the stamp and extents copied out of the lock. */
struct result_stage {
	struct cbt_writer_result res;
	u8 stamp[CBT_WRITER_STAMP_MAX];
	struct cbt_writer_extent extents[CBT_WRITER_MAX_EXTENTS];
};

struct cbt_round {
	refcount_t ref;
	struct list_head node;		/* cbt_rounds, under cbt_rounds_mutex */
	/* Under cbt_rounds_mutex: */
	bool listed;
	bool creating;			/* cbt_round_finish() not yet called */
	bool live;			/* the set exists */
	bool destroyed;			/* the set was destroyed */
	unsigned int destroying;	/* destroys under way (begin to end) */
	/* Set before the round is shared, then read-only: */
	u32 set_id;
	u32 policy, backup_type, freeze_ms, phase_ms;
	unsigned int nr_vols;
	struct cbt_dev vols[CBT_SNAP_MAX_MEMBERS];
	u64 uresults;			/* the requester's results, capacity */
	u32 capacity;
	/* The creator's own: */
	bool locked;			/* holds cbt_round_mutex */
	struct result_stage *stage;	/* copy_results()' buffer */
	wait_queue_head_t wq;		/* an ack came, a writer went, set gone */
	/* Under cbt_writer_lock: */
	bool ended;			/* COMPLETE or ABORT was sent to all */
	bool gone;			/* the set was destroyed */
	unsigned long freeze_end;	/* jiffies: the freeze window's end */
	unsigned int nr;		/* set before the round is shared */
	struct cbt_wpart parts[];
};

/* Registered writers, their ids and names. */
static DEFINE_MUTEX(cbt_writers_mutex);
static LIST_HEAD(cbt_writers);
static unsigned int cbt_nr_writers;
static u32 cbt_writer_next_id = 1;

/* Rounds of live sets and the last failed creations. */
static DEFINE_MUTEX(cbt_rounds_mutex);
static LIST_HEAD(cbt_rounds);
/* Rounds in memory, listed or not (debugfs). */
static atomic_t cbt_rounds_alive = ATOMIC_INIT(0);

/* One round from PREPARE to POST_SNAPSHOT at a time: waits happen here. */
static DEFINE_MUTEX(cbt_round_mutex);

/* Queues, parts and phases: held briefly, nothing sleeps under it. */
static DEFINE_SPINLOCK(cbt_writer_lock);

/* ---- checks -------------------------------------------------------------- */

static bool all_zero(const void *p, size_t n)
{
	return !memchr_inv(p, 0, n);
}

static int check_dev(const struct cbt_dev *d)
{
	dev_t devt;

	if (d->major >= (1u << (32 - MINORBITS)) || d->minor > MINORMASK)
		return -EINVAL;
	devt = MKDEV(d->major, d->minor);
	if (MAJOR(devt) != d->major || MINOR(devt) != d->minor)
		return -EINVAL;
	return 0;
}

/* NUL-terminated within @size, non-empty, printable ASCII. */
static int check_name(const char *s, size_t size)
{
	size_t i, n = strnlen(s, size);

	if (!n || n == size)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return -EINVAL;
	return 0;
}

/* NUL-terminated within @size, no control characters; may be empty. */
static int check_message(const char *s, size_t size)
{
	size_t i, n = strnlen(s, size);

	if (n == size)
		return -EINVAL;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -EINVAL;
	return 0;
}

static bool same_dev(const struct cbt_dev *a, const struct cbt_dev *b)
{
	return a->major == b->major && a->minor == b->minor;
}

/* ---- lifetimes ----------------------------------------------------------- */

static void writer_put(struct cbt_writer *w)
{
	if (!refcount_dec_and_test(&w->ref))
		return;
	mutex_destroy(&w->read_mutex);
	kfree(w);
}

/* Not under cbt_writer_lock: the last reference unlinks the parts. */
static void round_put(struct cbt_round *r)
{
	struct cbt_wpart *p;
	unsigned int i;

	if (!refcount_dec_and_test(&r->ref))
		return;
	for (i = 0; i < r->nr; i++) {
		p = &r->parts[i];
		spin_lock(&cbt_writer_lock);
		if (!list_empty(&p->wnode))
			list_del(&p->wnode);
		spin_unlock(&cbt_writer_lock);
		writer_put(p->w);
		kfree(p->base);
		kfree(p->stamp);
		kfree(p->extents);
	}
	kvfree(r->stage);
	kfree(r);
	atomic_dec(&cbt_rounds_alive);
}

/* ---- events and acks ----------------------------------------------------- */

/* Under cbt_writer_lock: what the writer list shows as its last outcome. */
static void writer_outcome(struct cbt_wpart *p, u32 phase, s32 error)
{
	struct cbt_writer *w = p->w;

	w->last_set = p->round->set_id;
	w->last_phase = phase;
	w->last_error = error;
	strscpy_pad(w->last_message, p->message, sizeof(w->last_message));
	if (w->phase == phase)
		w->phase = 0;
}

/* Under cbt_writer_lock: @p failed the round in @phase. */
static void part_fail(struct cbt_wpart *p, u32 phase, int error,
		      const char *msg)
{
	p->wait_seq = 0;
	if (p->failed)
		return;
	p->failed = true;
	p->failed_phase = phase;
	p->error = error;
	if (msg)
		strscpy_pad(p->message, msg, sizeof(p->message));
	writer_outcome(p, phase, error);
}

/* Under cbt_writer_lock: queue @phase for @p and await its ack. */
static int send_event(struct cbt_wpart *p, u32 phase, u32 type, u32 success,
		      u32 timeout_ms)
{
	struct cbt_writer *w = p->w;
	struct cbt_wevent *e;

	if (w->gone)
		return -ESRCH;
	if (w->len == CBT_WRITER_QUEUE)
		return -ENOBUFS;
	e = &w->queue[(w->head + w->len) % CBT_WRITER_QUEUE];
	w->len++;
	e->seq = ++w->next_seq;
	e->phase = phase;
	e->backup_type = type;
	e->success = success;
	e->timeout_ms = timeout_ms;
	e->round = p->round;
	e->part = p;
	refcount_inc(&p->round->ref);
	p->phase = phase;
	p->wait_seq = e->seq;
	w->phase = phase;
	wake_up_interruptible(&w->wq);
	return 0;
}

/*
 * Under cbt_writer_lock: send @phase to every part that takes it. Parts
 * that failed get only ABORT and COMPLETE; skipped ones nothing.
 */
static void round_send(struct cbt_round *r, u32 phase, u32 type, u32 success,
		       u32 timeout_ms)
{
	bool last = phase == CBT_WRITER_COMPLETE || phase == CBT_WRITER_ABORT;
	struct cbt_wpart *p;
	unsigned int i;
	int ret;

	/* Once ended (a set destroyed mid-creation), nothing but that end. */
	if (!last && r->ended)
		return;
	for (i = 0; i < r->nr; i++) {
		p = &r->parts[i];
		if (p->skip || p->completed || p->aborted || (p->failed && !last))
			continue;
		/*
		 * ABORT and COMPLETE only to those that were sent something
		 * and are still there: one that went away after its last ack
		 * has not failed for that.
		 */
		if (last && (!p->phase || p->w->gone))
			continue;
		if (phase == CBT_WRITER_ABORT)
			p->aborted = true;
		ret = send_event(p, phase, type, success, timeout_ms);
		if (ret)
			part_fail(p, phase, ret, ret == -ESRCH ?
				  "the writer went away" : "its event queue is full");
	}
}

/* ABORT to every part once, unless the round was ended already. */
static void round_abort(struct cbt_round *r)
{
	spin_lock(&cbt_writer_lock);
	if (!r->ended) {
		r->ended = true;
		round_send(r, CBT_WRITER_ABORT, r->backup_type, 0, r->phase_ms);
	}
	spin_unlock(&cbt_writer_lock);
}

/*
 * Under cbt_writer_lock: ABORT at once to each part that failed after it
 * was sent something, so it undoes its PREPARE or FREEZE now; it gets
 * nothing more of the round.
 */
static void round_abort_failed(struct cbt_round *r)
{
	struct cbt_wpart *p;
	unsigned int i;

	if (r->ended)
		return;
	for (i = 0; i < r->nr; i++) {
		p = &r->parts[i];
		if (p->skip || !p->failed || p->aborted || !p->phase)
			continue;
		p->aborted = true;
		/* Gone or its queue full: it has failed already. */
		send_event(p, CBT_WRITER_ABORT, r->backup_type, 0, r->phase_ms);
	}
}

/* COMPLETE and ABORT: a round's last event for a writer. */
static bool is_last_phase(u32 phase)
{
	return phase == CBT_WRITER_COMPLETE || phase == CBT_WRITER_ABORT;
}

/* Under cbt_writer_lock: is an ack awaited from @p? ABORT's never is. */
static bool part_awaited(struct cbt_wpart *p)
{
	return p->wait_seq && p->phase != CBT_WRITER_ABORT;
}

static bool round_settled(struct cbt_round *r)
{
	bool settled = true;
	unsigned int i;

	spin_lock(&cbt_writer_lock);
	for (i = 0; i < r->nr && !r->gone; i++)
		if (part_awaited(&r->parts[i]))
			settled = false;
	spin_unlock(&cbt_writer_lock);
	return settled;
}

/*
 * Wait until every part has acked or failed, or @deadline: then those
 * still awaited have failed (-ETIMEDOUT). -EINTR when the caller is killed.
 */
static int round_wait(struct cbt_round *r, unsigned long deadline)
{
	unsigned int i, unheld = 0;
	struct cbt_wpart *p;
	long left;
	int ret = 0;

	while (!round_settled(r)) {
		left = (long)(deadline - jiffies);
		if (left <= 0)
			break;
		left = wait_event_killable_timeout(r->wq, round_settled(r), left);
		if (left < 0) {
			ret = -EINTR;
			break;
		}
	}
	spin_lock(&cbt_writer_lock);
	for (i = 0; i < r->nr; i++) {
		p = &r->parts[i];
		if (!part_awaited(p))
			continue;
		/* Set gone: COMPLETE's ack is still taken, the rest are not. */
		if (r->gone) {
			if (!is_last_phase(p->phase))
				p->wait_seq = 0;
		} else {
			part_fail(p, p->phase, ret ?: -ETIMEDOUT, ret ?
				  "the requester was killed" : "no ack in time");
			/* Its ack is refused now: nothing to keep the round for. */
			if (p->held) {
				p->held = false;
				unheld++;
			}
		}
	}
	spin_unlock(&cbt_writer_lock);
	/* Not the last references: the caller holds one. */
	while (unheld--)
		round_put(r);
	return ret;
}

/* Under REQUIRE, did any part fail? */
static bool round_refused(struct cbt_round *r)
{
	bool failed = false;
	unsigned int i;

	if (r->policy != CBT_WRITERS_REQUIRE)
		return false;
	spin_lock(&cbt_writer_lock);
	for (i = 0; i < r->nr; i++)
		if (!r->parts[i].skip && r->parts[i].failed)
			failed = true;
	spin_unlock(&cbt_writer_lock);
	return failed;
}

/* One phase: sent, then every ack awaited until @deadline. */
static int round_phase(struct cbt_round *r, u32 phase, u32 timeout_ms,
		       unsigned long deadline)
{
	int ret;

	spin_lock(&cbt_writer_lock);
	if (phase == CBT_WRITER_FREEZE)
		r->freeze_end = deadline;
	round_send(r, phase, r->backup_type, 0, timeout_ms);
	spin_unlock(&cbt_writer_lock);
	ret = round_wait(r, deadline);
	if (!ret && round_refused(r))
		ret = -EBUSY;
	if (phase == CBT_WRITER_PREPARE || phase == CBT_WRITER_FREEZE) {
		spin_lock(&cbt_writer_lock);
		round_abort_failed(r);
		spin_unlock(&cbt_writer_lock);
	}
	return ret;
}

/*
 * Let go of the rounds @w holds for a COMPLETE or ABORT it read but did not
 * ack: all of them (@all, the descriptor is released), or those whose ack
 * is overdue. An overdue ack is refused from then on (ESTALE; a COMPLETE
 * not acked has failed), so a writer that never acks pins at most the
 * rounds of the events it read within one phase limit and a reap interval.
 * Called from the reaper (cbt_writer_reap()) and the release; round_put()
 * may unlink a part, so the walk starts over after each.
 */
static void writer_unhold(struct cbt_writer *w, bool all)
{
	struct cbt_round *r;
	struct cbt_wpart *p;

	do {
		r = NULL;
		spin_lock(&cbt_writer_lock);
		list_for_each_entry(p, &w->parts, wnode) {
			if (!p->held ||
			    (!all && !time_after(jiffies, p->held_end)))
				continue;
			if (!all) {
				if (p->phase == CBT_WRITER_COMPLETE &&
				    p->wait_seq)
					part_fail(p, p->phase, -ETIMEDOUT,
						  "no ack in time");
				p->wait_seq = 0;
				if (p->w->phase == p->phase)
					p->w->phase = 0;
				/* An END still waiting need not wait on. */
				wake_up(&p->round->wq);
			}
			p->held = false;
			r = p->round;
			break;
		}
		spin_unlock(&cbt_writer_lock);
		if (r)
			round_put(r);
	} while (r);
}

static ssize_t writer_read(struct file *file, char __user *buf, size_t len,
			   loff_t *ppos)
{
	struct cbt_writer *w = file->private_data;
	struct cbt_writer_event *ev;
	struct cbt_round *r;
	struct cbt_wevent e;
	bool held = false;
	ssize_t ret;

	if (len < sizeof(*ev))
		return -EINVAL;
	ev = kzalloc(sizeof(*ev), GFP_KERNEL);
	if (!ev)
		return -ENOMEM;
	if (mutex_lock_interruptible(&w->read_mutex)) {
		kfree(ev);
		return -ERESTARTSYS;
	}
	for (;;) {
		spin_lock(&cbt_writer_lock);
		if (w->len) {
			e = w->queue[w->head];
			spin_unlock(&cbt_writer_lock);
			break;
		}
		spin_unlock(&cbt_writer_lock);
		if (file->f_flags & O_NONBLOCK) {
			ret = -EAGAIN;
			goto out;
		}
		if (wait_event_interruptible(w->wq, READ_ONCE(w->len))) {
			ret = -ERESTARTSYS;
			goto out;
		}
	}
	/* The head event and its round stay put: only we pop it. */
	r = e.round;
	ev->seq = e.seq;
	ev->phase = e.phase;
	ev->set_id = r->set_id;
	ev->backup_type = e.backup_type;
	ev->success = e.success;
	ev->timeout_ms = e.timeout_ms;
	ev->count = r->nr_vols;
	memcpy(ev->vols, r->vols, sizeof(ev->vols));
	if (e.phase == CBT_WRITER_PREPARE && e.part->base) {
		ev->stamp_len = e.part->base_len;
		memcpy(ev->stamp, e.part->base, e.part->base_len);
	}
	if (copy_to_user(buf, ev, sizeof(*ev))) {
		ret = -EFAULT;
		goto out;
	}
	spin_lock(&cbt_writer_lock);
	w->head = (w->head + 1) % CBT_WRITER_QUEUE;
	w->len--;
	/*
	 * A COMPLETE or ABORT still awaited keeps its round until acked, so
	 * that the ack is taken even after the set and its round are gone.
	 */
	if (is_last_phase(e.phase) && e.part->wait_seq == e.seq &&
	    !e.part->held) {
		e.part->held = true;
		e.part->held_end = jiffies + msecs_to_jiffies(e.timeout_ms);
		held = true;
	}
	spin_unlock(&cbt_writer_lock);
	if (!held)
		round_put(r);
	ret = sizeof(*ev);
out:
	mutex_unlock(&w->read_mutex);
	kfree(ev);
	return ret;
}

static __poll_t writer_poll(struct file *file, poll_table *wait)
{
	struct cbt_writer *w = file->private_data;

	poll_wait(file, &w->wq, wait);
	return READ_ONCE(w->len) ? EPOLLIN | EPOLLRDNORM : 0;
}

static int ack_check(const struct cbt_writer_ack *a)
{
	if (a->flags || !all_zero(a->reserved, sizeof(a->reserved)))
		return -EINVAL;
	if (a->status > 0 || a->status < -MAX_ERRNO)
		return -EINVAL;
	if (check_message(a->message, sizeof(a->message)))
		return -EINVAL;
	if (a->stamp_len > CBT_WRITER_STAMP_MAX ||
	    a->nr_extents > CBT_WRITER_MAX_EXTENTS)
		return -EINVAL;
	if ((!a->stamp_len && a->stamp) || (!a->nr_extents && a->extents))
		return -EINVAL;
	if ((a->stamp_len && !a->stamp) || (a->nr_extents && !a->extents))
		return -EFAULT;
	return 0;
}

static int extents_check(const struct cbt_writer_extent *x, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (check_dev(&x[i].dev) || !x[i].length ||
		    x[i].offset > (u64)S64_MAX ||
		    x[i].length > (u64)S64_MAX - x[i].offset)
			return -EINVAL;
	return 0;
}

/* Under cbt_writer_lock: is every extent on a volume of @r? */
static bool extents_in_set(struct cbt_round *r,
			   const struct cbt_writer_extent *x, unsigned int n)
{
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		for (j = 0; j < r->nr_vols; j++)
			if (same_dev(&x[i].dev, &r->vols[j]))
				break;
		if (j == r->nr_vols)
			return false;
	}
	return true;
}

static int writer_ack(struct cbt_writer *w, void __user *arg)
{
	struct cbt_writer_extent *extents = NULL;
	struct cbt_round *drop = NULL;
	struct cbt_writer_ack a;
	struct cbt_wpart *p;
	u8 *stamp = NULL;
	bool found = false;
	int ret;

	if (copy_from_user(&a, arg, sizeof(a)))
		return -EFAULT;
	ret = ack_check(&a);
	if (ret)
		return ret;
	if (a.stamp_len) {
		stamp = memdup_user(u64_to_user_ptr(a.stamp), a.stamp_len);
		if (IS_ERR(stamp))
			return PTR_ERR(stamp);
	}
	if (a.nr_extents) {
		extents = memdup_user(u64_to_user_ptr(a.extents),
				      a.nr_extents * sizeof(*extents));
		if (IS_ERR(extents)) {
			ret = PTR_ERR(extents);
			extents = NULL;
			goto out;
		}
		ret = extents_check(extents, a.nr_extents);
		if (ret)
			goto out;
	}

	spin_lock(&cbt_writer_lock);
	list_for_each_entry(p, &w->parts, wnode) {
		if (a.seq && p->wait_seq == a.seq) {
			found = true;
			break;
		}
	}
	if (!found) {
		ret = -ESTALE;
	} else if (p->phase == CBT_WRITER_FREEZE &&
		   time_after(jiffies, p->round->freeze_end)) {
		/* The window is over, whether or not the waiter woke yet. */
		part_fail(p, CBT_WRITER_FREEZE, -ETIMEDOUT, "no ack in time");
		wake_up(&p->round->wq);
		ret = -ESTALE;
	} else if ((stamp || extents) && p->phase != CBT_WRITER_FREEZE &&
		   p->phase != CBT_WRITER_THAW &&
		   p->phase != CBT_WRITER_POST_SNAPSHOT) {
		ret = -EINVAL;
	} else if (extents && !extents_in_set(p->round, extents, a.nr_extents)) {
		ret = -EINVAL;
	} else {
		/* The last stamp and extents given are kept. */
		if (stamp) {
			swap(p->stamp, stamp);
			p->stamp_len = a.stamp_len;
		}
		if (extents) {
			swap(p->extents, extents);
			p->nr_extents = a.nr_extents;
		}
		/* A failure's message stays: later acks do not hide it. */
		if (!p->failed)
			strscpy_pad(p->message, a.message, sizeof(p->message));
		if (a.status) {
			part_fail(p, p->phase, a.status, a.message);
		} else {
			p->wait_seq = 0;
			if (!p->failed)
				writer_outcome(p, p->phase, 0);
		}
		if (p->phase == CBT_WRITER_COMPLETE ||
		    p->phase == CBT_WRITER_ABORT) {
			p->completed = true;
			if (w->phase == p->phase)
				w->phase = 0;
		}
		if (p->held && is_last_phase(p->phase)) {
			p->held = false;
			drop = p->round;
		}
		/* The round lives while we hold the lock (round_put()). */
		wake_up(&p->round->wq);
	}
	spin_unlock(&cbt_writer_lock);
	if (drop)
		round_put(drop);
out:
	kfree(stamp);
	kfree(extents);
	return ret;
}

static long writer_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	if (cmd != CBT_WRITER_IOC_ACK)
		return -ENOTTY;
	return writer_ack(file->private_data, (void __user *)arg);
}

/* The registration ends: its rounds stop waiting for it at once. */
static int writer_release(struct inode *inode, struct file *file)
{
	struct cbt_round *drop[CBT_WRITER_QUEUE];
	struct cbt_writer *w = file->private_data;
	struct cbt_wpart *p;
	unsigned int n = 0;

	spin_lock(&cbt_writer_lock);
	w->gone = true;
	/* Only what is still awaited from it fails: its acks stand. */
	list_for_each_entry(p, &w->parts, wnode) {
		if (p->skip || p->completed || !part_awaited(p))
			continue;
		part_fail(p, p->phase, -ESRCH, "the writer went away");
		wake_up(&p->round->wq);
	}
	while (w->len) {
		drop[n++] = w->queue[w->head].round;
		w->head = (w->head + 1) % CBT_WRITER_QUEUE;
		w->len--;
	}
	w->phase = 0;
	spin_unlock(&cbt_writer_lock);
	while (n)
		round_put(drop[--n]);
	/* Last events read, never acked. */
	writer_unhold(w, true);

	mutex_lock(&cbt_writers_mutex);
	list_del(&w->node);
	cbt_nr_writers--;
	mutex_unlock(&cbt_writers_mutex);
	writer_put(w);
	return 0;
}

static const struct file_operations cbt_writer_fops = {
	.owner = THIS_MODULE,
	.read = writer_read,
	.poll = writer_poll,
	.unlocked_ioctl = writer_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.release = writer_release,
	.llseek = noop_llseek,
};

/* ---- registration and the list ------------------------------------------ */

static int check_components(const struct cbt_writer_component *c,
			    unsigned int n)
{
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		if (check_name(c[i].name, sizeof(c[i].name)) || c[i].reserved0 ||
		    !c[i].count || c[i].count > CBT_WRITER_COMPONENT_VOLS)
			return -EINVAL;
		for (j = 0; j < c[i].count; j++)
			if (check_dev(&c[i].vols[j]))
				return -EINVAL;
		for (j = c[i].count; j < CBT_WRITER_COMPONENT_VOLS; j++)
			if (!all_zero(&c[i].vols[j], sizeof(c[i].vols[j])))
				return -EINVAL;
		for (j = 0; j < i; j++)
			if (!strcmp(c[i].name, c[j].name))
				return -EINVAL;
	}
	return 0;
}

/* Under cbt_writers_mutex. */
static struct cbt_writer *find_writer(const char *name)
{
	struct cbt_writer *w;

	list_for_each_entry(w, &cbt_writers, node)
		if (!strcmp(w->name, name))
			return w;
	return NULL;
}

/* Under cbt_writers_mutex: an id no registered writer has. */
static u32 alloc_writer_id(void)
{
	struct cbt_writer *w;
	bool used;
	u32 id;

	do {
		id = cbt_writer_next_id++;
		used = !id;
		list_for_each_entry(w, &cbt_writers, node)
			if (w->id == id)
				used = true;
	} while (used);
	return id;
}

int cbt_writer_register(void __user *arg)
{
	struct cbt_writer_component *comps;
	struct cbt_writer_register reg;
	struct cbt_writer *w;
	struct file *file;
	unsigned int i;
	int fd, ret;

	if (copy_from_user(&reg, arg, sizeof(reg)))
		return -EFAULT;
	if (reg.flags || reg.id || !all_zero(reg.reserved, sizeof(reg.reserved)) ||
	    (reg.types & ~CBT_BACKUP_TYPES) || check_name(reg.name, sizeof(reg.name)) ||
	    !reg.count || reg.count > CBT_WRITER_MAX_COMPONENTS)
		return -EINVAL;
	comps = memdup_user(u64_to_user_ptr(reg.components),
			    reg.count * sizeof(*comps));
	if (IS_ERR(comps))
		return PTR_ERR(comps);
	ret = check_components(comps, reg.count);
	if (ret)
		goto free_comps;

	w = kzalloc(sizeof(*w), GFP_KERNEL);
	if (!w) {
		ret = -ENOMEM;
		goto free_comps;
	}
	refcount_set(&w->ref, 1);
	mutex_init(&w->read_mutex);
	init_waitqueue_head(&w->wq);
	INIT_LIST_HEAD(&w->parts);
	/* Names go out to others: nothing after the NUL comes along. */
	strscpy_pad(w->name, reg.name, sizeof(w->name));
	w->types = reg.types ?: CBT_BACKUP_TYPES;
	w->nr_comps = reg.count;
	memcpy(w->comps, comps, reg.count * sizeof(*comps));
	for (i = 0; i < reg.count; i++)
		strscpy_pad(w->comps[i].name, comps[i].name,
			    sizeof(w->comps[i].name));
	w->pid = task_tgid_vnr(current);

	mutex_lock(&cbt_writers_mutex);
	if (find_writer(w->name))
		ret = -EEXIST;
	else if (cbt_nr_writers >= CBT_WRITER_MAX)
		ret = -ENOSPC;
	if (ret) {
		mutex_unlock(&cbt_writers_mutex);
		writer_put(w);
		goto free_comps;
	}
	w->id = alloc_writer_id();
	list_add_tail(&w->node, &cbt_writers);
	cbt_nr_writers++;
	mutex_unlock(&cbt_writers_mutex);
	kfree(comps);

	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto unregister;
	}
	file = anon_inode_getfile("[cbt-writer]", &cbt_writer_fops, w,
				  O_RDWR | O_CLOEXEC);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		ret = PTR_ERR(file);
		goto unregister;
	}
	reg.id = w->id;
	if (copy_to_user(arg, &reg, sizeof(reg))) {
		put_unused_fd(fd);
		fput(file);	/* writer_release() unregisters */
		return -EFAULT;
	}
	fd_install(fd, file);
	return fd;

unregister:
	mutex_lock(&cbt_writers_mutex);
	list_del(&w->node);
	cbt_nr_writers--;
	mutex_unlock(&cbt_writers_mutex);
	writer_put(w);
	return ret;
free_comps:
	kfree(comps);
	return ret;
}

int cbt_writer_list(void __user *arg)
{
	struct cbt_writer_info *infos = NULL, *in;
	struct cbt_writer_list l;
	struct cbt_writer *w;
	u32 n, count = 0;
	int ret = 0;

	if (copy_from_user(&l, arg, sizeof(l)))
		return -EFAULT;
	if (!all_zero(l.reserved, sizeof(l.reserved)))
		return -EINVAL;
	if (l.capacity && !l.writers)
		return -EFAULT;
	n = min_t(u32, l.capacity, CBT_WRITER_MAX);
	if (n) {
		infos = kvcalloc(n, sizeof(*infos), GFP_KERNEL);
		if (!infos)
			return -ENOMEM;
	}
	mutex_lock(&cbt_writers_mutex);
	list_for_each_entry(w, &cbt_writers, node) {
		if (count < n) {
			in = &infos[count];
			memcpy(in->name, w->name, sizeof(in->name));
			in->id = w->id;
			in->pid = w->pid;
			in->types = w->types;
			in->count = w->nr_comps;
			memcpy(in->components, w->comps,
			       w->nr_comps * sizeof(w->comps[0]));
			spin_lock(&cbt_writer_lock);
			in->phase = w->phase;
			in->last_set = w->last_set;
			in->last_phase = w->last_phase;
			in->last_error = w->last_error;
			memcpy(in->last_message, w->last_message,
			       sizeof(in->last_message));
			spin_unlock(&cbt_writer_lock);
		}
		count++;
	}
	mutex_unlock(&cbt_writers_mutex);
	if (copy_to_user(u64_to_user_ptr(l.writers), infos,
			 min(n, count) * sizeof(*infos)))
		ret = -EFAULT;
	kvfree(infos);
	if (ret)
		return ret;
	l.count = count;
	return copy_to_user(arg, &l, sizeof(l)) ? -EFAULT : 0;
}

/* ---- rounds -------------------------------------------------------------- */

/* The base stamps given for the writers of @r, by name. */
static int round_stamps(struct cbt_round *r, const struct cbt_snap_writers *sw)
{
	struct cbt_writer_stamp *st;
	unsigned int i, j;
	int ret = 0;

	if (!sw->nr_stamps)
		return 0;
	st = memdup_user(u64_to_user_ptr(sw->stamps), sw->nr_stamps * sizeof(*st));
	if (IS_ERR(st))
		return PTR_ERR(st);
	for (i = 0; i < sw->nr_stamps && !ret; i++) {
		if (check_name(st[i].name, sizeof(st[i].name)) || st[i].reserved0 ||
		    !st[i].len || st[i].len > CBT_WRITER_STAMP_MAX)
			ret = -EINVAL;
		else if (!st[i].data)
			ret = -EFAULT;
		for (j = 0; j < i && !ret; j++)
			if (!strcmp(st[i].name, st[j].name))
				ret = -EINVAL;
	}
	/* Only an incremental or differential has a base to hand back. */
	if (r->backup_type != CBT_BACKUP_INCREMENTAL &&
	    r->backup_type != CBT_BACKUP_DIFFERENTIAL)
		goto out;
	for (i = 0; i < sw->nr_stamps && !ret; i++) {
		for (j = 0; j < r->nr; j++) {
			struct cbt_wpart *p = &r->parts[j];
			u8 *data;

			if (p->skip || strcmp(p->w->name, st[i].name))
				continue;
			data = memdup_user(u64_to_user_ptr(st[i].data), st[i].len);
			if (IS_ERR(data)) {
				ret = PTR_ERR(data);
				break;
			}
			p->base = data;
			p->base_len = st[i].len;
		}
	}
out:
	kfree(st);
	return ret;
}

static bool is_member(const struct cbt_dev *d, const struct cbt_snap_member *m,
		      unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++)
		if (same_dev(d, &m[i].dev))
			return true;
	return false;
}

/* Does a set of @m hold one of @c's volumes? */
static bool comp_touched(const struct cbt_writer_component *c,
			 const struct cbt_snap_member *m, unsigned int count)
{
	unsigned int j;

	for (j = 0; j < c->count; j++)
		if (is_member(&c->vols[j], m, count))
			return true;
	return false;
}

/*
 * Under cbt_writers_mutex: a part for @w if the set touches its volumes.
 * -EXDEV, with *@missing, when a component the set touches lacks one of
 * its volumes (a component the set does not touch lacks nothing); the
 * part is still added, failed, so that the results name it.
 */
static int round_add(struct cbt_round *r, struct cbt_writer *w,
		     const struct cbt_snap_member *m, unsigned int count,
		     struct cbt_dev *missing)
{
	const struct cbt_writer_component *c;
	struct cbt_wpart *p;
	bool touched = false;
	unsigned int i, j;

	for (i = 0; i < w->nr_comps; i++)
		if (comp_touched(&w->comps[i], m, count))
			touched = true;
	if (!touched)
		return 0;
	p = &r->parts[r->nr++];
	refcount_inc(&w->ref);
	p->w = w;
	p->round = r;
	INIT_LIST_HEAD(&p->wnode);
	if (!(w->types & (1u << r->backup_type))) {
		p->skip = true;
		p->error = -EOPNOTSUPP;
		strscpy_pad(p->message, "the backup type is not one it takes",
			    sizeof(p->message));
		return 0;
	}
	for (i = 0; i < w->nr_comps; i++) {
		c = &w->comps[i];
		if (!comp_touched(c, m, count))
			continue;
		for (j = 0; j < c->count; j++) {
			if (is_member(&c->vols[j], m, count))
				continue;
			p->failed = true;
			p->error = -EXDEV;
			snprintf(p->message, sizeof(p->message),
				 "component %s needs %u:%u", c->name,
				 c->vols[j].major, c->vols[j].minor);
			*missing = c->vols[j];
			return -EXDEV;
		}
	}
	return 0;
}

/*
 * Check the requester's cbt_snap_writers (@uwriters, 0 for the defaults;
 * read from user memory here only) and choose the writers of a set of @m.
 * Nothing is sent yet. On -EXDEV (*@missing: the first volume lacking)
 * *@rp is a round all the same, for its results: the caller finishes it.
 */
int cbt_round_prepare(u64 uwriters, const struct cbt_snap_member *m,
		      unsigned int count, struct cbt_dev *missing,
		      struct cbt_round **rp)
{
	struct cbt_snap_writers sw = {
		.policy = CBT_WRITERS_BEST_EFFORT,
		.backup_type = CBT_BACKUP_NONE,
	};
	struct cbt_writer *w;
	struct cbt_round *r;
	struct cbt_dev dev;
	unsigned int i;
	int ret = 0;

	*rp = NULL;
	if (uwriters && copy_from_user(&sw, u64_to_user_ptr(uwriters), sizeof(sw)))
		return -EFAULT;
	if (sw.policy > CBT_WRITERS_NONE || sw.backup_type > CBT_BACKUP_COPY ||
	    sw.freeze_ms > CBT_WRITER_TIMEOUT_MAX_MS ||
	    sw.phase_ms > CBT_WRITER_TIMEOUT_MAX_MS ||
	    sw.nr_stamps > CBT_WRITER_MAX || sw.count || sw.reserved0 ||
	    !all_zero(sw.reserved, sizeof(sw.reserved)))
		return -EINVAL;
	if ((sw.nr_stamps && !sw.stamps) || (sw.capacity && !sw.results))
		return -EFAULT;

	r = kzalloc(struct_size(r, parts, CBT_WRITER_MAX), GFP_KERNEL);
	if (!r)
		return -ENOMEM;
	atomic_inc(&cbt_rounds_alive);
	refcount_set(&r->ref, 1);
	INIT_LIST_HEAD(&r->node);
	init_waitqueue_head(&r->wq);
	r->creating = true;
	r->policy = sw.policy;
	r->backup_type = sw.backup_type;
	r->freeze_ms = sw.freeze_ms ?: CBT_WRITER_FREEZE_DEFAULT_MS;
	r->phase_ms = sw.phase_ms ?: CBT_WRITER_PHASE_DEFAULT_MS;
	r->nr_vols = count;
	for (i = 0; i < count; i++)
		r->vols[i] = m[i].dev;
	if (uwriters) {
		r->uresults = sw.results;
		r->capacity = sw.capacity;
	}
	/* Staged now: the results never fail for memory once a set exists. */
	if (r->capacity) {
		r->stage = kvmalloc(sizeof(*r->stage), GFP_KERNEL);
		if (!r->stage) {
			round_put(r);
			return -ENOMEM;
		}
	}

	if (r->policy != CBT_WRITERS_NONE) {
		mutex_lock(&cbt_writers_mutex);
		list_for_each_entry(w, &cbt_writers, node) {
			if (round_add(r, w, m, count, &dev) && !ret) {
				*missing = dev;
				ret = -EXDEV;
			}
		}
		mutex_unlock(&cbt_writers_mutex);
	}
	if (ret) {
		*rp = r;
		return ret;
	}
	ret = round_stamps(r, &sw);
	if (ret) {
		round_put(r);
		return ret;
	}
	/* From here a writer that goes away fails its part at once. */
	spin_lock(&cbt_writer_lock);
	for (i = 0; i < r->nr; i++) {
		struct cbt_wpart *p = &r->parts[i];

		list_add_tail(&p->wnode, &p->w->parts);
		if (p->w->gone && !p->skip)
			part_fail(p, CBT_WRITER_PREPARE, -ESRCH,
				  "the writer went away");
	}
	spin_unlock(&cbt_writer_lock);
	*rp = r;
	return 0;
}

/* Under cbt_rounds_mutex: forget all but the last failed creations. */
static struct cbt_round *round_trim(void)
{
	struct cbt_round *r, *oldest = NULL;
	unsigned int kept = 0;

	list_for_each_entry(r, &cbt_rounds, node) {
		if (r->live || r->creating)
			continue;
		if (!oldest)
			oldest = r;
		kept++;
	}
	if (kept <= CBT_ROUNDS_KEPT)
		return NULL;
	list_del(&oldest->node);
	oldest->listed = false;
	return oldest;
}

static bool round_has_writers(struct cbt_round *r)
{
	unsigned int i;

	for (i = 0; i < r->nr; i++)
		if (!r->parts[i].skip)
			return true;
	return false;
}

/*
 * Before the set's id is reserved, so that PREPARE names ids in the order
 * sets are made: with writers taking part, take the round mutex, held
 * until cbt_round_finish(). -EINTR when killed waiting for it.
 */
int cbt_round_lock(struct cbt_round *r)
{
	if (!round_has_writers(r))
		return 0;
	if (mutex_lock_killable(&cbt_round_mutex))
		return -EINTR;
	r->locked = true;
	return 0;
}

/*
 * The round is known by the set's id from now on. With writers taking
 * part (cbt_round_lock()): PREPARE and FREEZE, each acked. An error
 * (EBUSY under REQUIRE) means ABORT was sent and the set must not be made.
 */
int cbt_round_start(struct cbt_round *r, u32 set_id)
{
	struct cbt_round *old, *stale = NULL;
	int ret;

	r->set_id = set_id;
	mutex_lock(&cbt_rounds_mutex);
	list_for_each_entry(old, &cbt_rounds, node) {
		if (old->set_id == set_id) {	/* a failed creation's */
			list_del(&old->node);
			old->listed = false;
			stale = old;
			break;
		}
	}
	refcount_inc(&r->ref);
	list_add_tail(&r->node, &cbt_rounds);
	r->listed = true;
	mutex_unlock(&cbt_rounds_mutex);
	if (stale)
		round_put(stale);

	if (!r->locked)
		return 0;
	ret = round_phase(r, CBT_WRITER_PREPARE, r->phase_ms,
			  jiffies + msecs_to_jiffies(r->phase_ms));
	if (!ret)
		ret = round_phase(r, CBT_WRITER_FREEZE, r->freeze_ms,
				  jiffies + msecs_to_jiffies(r->freeze_ms));
	if (ret)
		round_abort(r);
	return ret;
}

static bool round_gone(struct cbt_round *r)
{
	bool gone;

	spin_lock(&cbt_writer_lock);
	gone = r->gone;
	spin_unlock(&cbt_writer_lock);
	return gone;
}

/*
 * Under cbt_writer_lock, at THAW: a writer still frozen after the freeze
 * window has failed; ABORT lets it thaw.
 */
static void round_freeze_expired(struct cbt_round *r)
{
	struct cbt_wpart *p;
	unsigned int i;

	if (r->gone || !time_after(jiffies, r->freeze_end))
		return;
	for (i = 0; i < r->nr; i++) {
		p = &r->parts[i];
		if (!p->skip && !p->failed && p->phase == CBT_WRITER_FREEZE)
			part_fail(p, CBT_WRITER_FREEZE, -ETIMEDOUT,
				  "the freeze window ended before the thaw");
	}
	round_abort_failed(r);
}

/*
 * After the instant (@created: what cbt_snapset_create() returned): ABORT
 * if there is no set, else THAW and POST_SNAPSHOT, each acked. An error
 * means the caller destroys the set: EBUSY under REQUIRE, ENOENT when it
 * was destroyed meanwhile (its writers had ABORT then).
 */
int cbt_round_instant(struct cbt_round *r, int created)
{
	bool destroyed;
	int ret = 0;

	if (created) {
		round_abort(r);
		return created;
	}
	mutex_lock(&cbt_rounds_mutex);
	destroyed = r->destroyed;
	if (!destroyed)
		r->live = true;
	mutex_unlock(&cbt_rounds_mutex);
	if (destroyed)
		return -ENOENT;
	if (!r->locked)
		return 0;
	spin_lock(&cbt_writer_lock);
	round_freeze_expired(r);
	spin_unlock(&cbt_writer_lock);
	if (round_refused(r))
		ret = -EBUSY;
	if (!ret)
		ret = round_phase(r, CBT_WRITER_THAW, r->phase_ms,
				  jiffies + msecs_to_jiffies(r->phase_ms));
	if (!ret)
		ret = round_phase(r, CBT_WRITER_POST_SNAPSHOT, r->phase_ms,
				  jiffies + msecs_to_jiffies(r->phase_ms));
	if (round_gone(r))
		ret = -ENOENT;
	return ret;
}

static int copy_results(struct cbt_round *r, struct result_stage *s,
			u64 uresults, u32 capacity)
{
	struct cbt_writer_result __user *ures = u64_to_user_ptr(uresults);
	struct cbt_wpart *p;
	u64 ustamp, uext;
	unsigned int i;
	int ret = 0;

	for (i = 0; i < min_t(u32, capacity, r->nr) && !ret; i++) {
		if (copy_from_user(&s->res, &ures[i], sizeof(s->res))) {
			ret = -EFAULT;
			break;
		}
		ustamp = s->res.stamp;
		uext = s->res.extents;
		memset(&s->res, 0, sizeof(s->res));
		p = &r->parts[i];
		strscpy_pad(s->res.name, p->w->name, sizeof(s->res.name));
		s->res.writer_id = p->w->id;
		spin_lock(&cbt_writer_lock);
		s->res.phase = p->phase;
		s->res.failed_phase = p->failed_phase;
		s->res.error = p->error;
		strscpy_pad(s->res.message, p->message, sizeof(s->res.message));
		s->res.stamp_len = p->stamp_len;
		memcpy(s->stamp, p->stamp, p->stamp_len);
		s->res.nr_extents = p->nr_extents;
		memcpy(s->extents, p->extents, p->nr_extents * sizeof(s->extents[0]));
		s->res.completed = p->completed;
		spin_unlock(&cbt_writer_lock);
		s->res.stamp = ustamp;
		s->res.extents = uext;
		if ((ustamp && s->res.stamp_len &&
		     copy_to_user(u64_to_user_ptr(ustamp), s->stamp, s->res.stamp_len)) ||
		    (uext && s->res.nr_extents &&
		     copy_to_user(u64_to_user_ptr(uext), s->extents,
				  s->res.nr_extents * sizeof(s->extents[0]))) ||
		    copy_to_user(&ures[i], &s->res, sizeof(s->res)))
			ret = -EFAULT;
	}
	return ret;
}

/*
 * The creation is over (@made: the set exists), or ended early (EXDEV, no
 * store, no id). Releases the round mutex, fills the requester's results
 * (@uwriters: its cbt_snap_writers, for the count; what else it said was
 * read in cbt_round_prepare()) and drops the creation's reference; a round
 * without a set stays for CBT_IOC_WRITER_RESULTS a while.
 */
int cbt_round_finish(struct cbt_round *r, bool made, u64 uwriters)
{
	struct cbt_snap_writers __user *usw = u64_to_user_ptr(uwriters);
	struct cbt_round *trim;
	int ret = 0;

	if (!made)
		round_abort(r);
	if (r->locked) {
		r->locked = false;
		mutex_unlock(&cbt_round_mutex);
	}
	mutex_lock(&cbt_rounds_mutex);
	r->creating = false;
	if (!made)
		r->live = false;
	trim = round_trim();
	mutex_unlock(&cbt_rounds_mutex);
	if (trim)
		round_put(trim);

	if (uwriters) {
		if (r->stage)
			ret = copy_results(r, r->stage, r->uresults, r->capacity);
		if (!ret && put_user(r->nr, &usw->count))
			ret = -EFAULT;
	}
	round_put(r);
	return ret;
}

/* Under cbt_rounds_mutex. */
static struct cbt_round *find_round(u32 set_id)
{
	struct cbt_round *r;

	list_for_each_entry(r, &cbt_rounds, node)
		if (r->set_id == set_id)
			return r;
	return NULL;
}

/*
 * A destroy of set @set_id begins: END refuses the set from now on.
 * Returns its round (a reference) for cbt_writer_destroy_end(), or NULL.
 */
struct cbt_round *cbt_writer_destroy_begin(u32 set_id)
{
	struct cbt_round *r;

	mutex_lock(&cbt_rounds_mutex);
	r = find_round(set_id);
	if (r && !r->destroyed && (r->live || r->creating)) {
		r->destroying++;
		refcount_inc(&r->ref);
	} else {
		r = NULL;
	}
	mutex_unlock(&cbt_rounds_mutex);
	return r;
}

/*
 * The destroy of @r's set is over (@destroyed: this one destroyed it):
 * ABORT unless END came first, and the round is forgotten. A creation
 * still under way finds out (ENOENT) and keeps the round for its results.
 */
void cbt_writer_destroy_end(struct cbt_round *r, bool destroyed)
{
	bool unlisted = false;

	if (!r)
		return;
	mutex_lock(&cbt_rounds_mutex);
	r->destroying--;
	if (destroyed) {
		r->destroyed = true;
		r->live = false;
		if (r->listed && !r->creating) {
			list_del(&r->node);
			r->listed = false;
			unlisted = true;
		}
	}
	mutex_unlock(&cbt_rounds_mutex);
	if (destroyed) {
		round_abort(r);
		spin_lock(&cbt_writer_lock);
		r->gone = true;
		wake_up(&r->wq);
		spin_unlock(&cbt_writer_lock);
	}
	if (unlisted)
		round_put(r);
	round_put(r);
}

int cbt_writer_end(void __user *arg)
{
	struct cbt_snap_end e;
	struct cbt_round *r;
	int ret = 0;

	if (copy_from_user(&e, arg, sizeof(e)))
		return -EFAULT;
	if ((e.flags & ~CBT_SNAP_END_SUCCESS) || e.backup_type > CBT_BACKUP_COPY ||
	    e.reserved0 || !all_zero(e.reserved, sizeof(e.reserved)))
		return -EINVAL;
	mutex_lock(&cbt_rounds_mutex);
	r = find_round(e.id);
	if (!r || !r->live || r->destroyed || r->destroying)
		ret = -ENOENT;
	else if (r->creating)
		ret = -EBUSY;
	else
		refcount_inc(&r->ref);
	mutex_unlock(&cbt_rounds_mutex);
	if (ret)
		return ret;

	/* END or the destroy's ABORT: whichever sets ->ended first. */
	spin_lock(&cbt_writer_lock);
	if (r->gone) {
		ret = -ENOENT;
	} else if (r->ended) {
		ret = -EALREADY;
	} else {
		r->ended = true;
		round_send(r, CBT_WRITER_COMPLETE, e.backup_type ?: r->backup_type,
			   !!(e.flags & CBT_SNAP_END_SUCCESS), r->phase_ms);
	}
	spin_unlock(&cbt_writer_lock);
	if (!ret)
		ret = round_wait(r, jiffies + msecs_to_jiffies(r->phase_ms));
	round_put(r);
	return ret;
}

int cbt_writer_results(void __user *arg)
{
	struct cbt_writer_results q;
	struct result_stage *s;
	struct cbt_round *r;
	int ret = 0;

	if (copy_from_user(&q, arg, sizeof(q)))
		return -EFAULT;
	if (q.flags || !all_zero(q.reserved, sizeof(q.reserved)))
		return -EINVAL;
	if (q.capacity && !q.results)
		return -EFAULT;
	mutex_lock(&cbt_rounds_mutex);
	r = find_round(q.id);
	if (r)
		refcount_inc(&r->ref);
	mutex_unlock(&cbt_rounds_mutex);
	if (!r)
		return -ENOENT;
	if (q.capacity && r->nr) {
		s = kvmalloc(sizeof(*s), GFP_KERNEL);
		if (s)
			ret = copy_results(r, s, q.results, q.capacity);
		else
			ret = -ENOMEM;
		kvfree(s);
	}
	q.count = r->nr;
	round_put(r);
	if (ret)
		return ret;
	return copy_to_user(arg, &q, sizeof(q)) ? -EFAULT : 0;
}

/*
 * Every second, from cbt_main.c's reaper: the COMPLETE and ABORT acks
 * overdue are given up, and the rounds held for them let go.
 */
void cbt_writer_reap(void)
{
	struct cbt_writer *w;

	mutex_lock(&cbt_writers_mutex);
	list_for_each_entry(w, &cbt_writers, node)
		writer_unhold(w, false);
	mutex_unlock(&cbt_writers_mutex);
}

/* debugfs: the rounds in memory, and each writer's phase and held rounds. */
void cbt_writer_show(struct seq_file *m)
{
	struct cbt_writer *w;
	struct cbt_wpart *p;
	unsigned int held;

	seq_printf(m, "rounds %d\n", atomic_read(&cbt_rounds_alive));
	mutex_lock(&cbt_writers_mutex);
	list_for_each_entry(w, &cbt_writers, node) {
		held = 0;
		spin_lock(&cbt_writer_lock);
		list_for_each_entry(p, &w->parts, wnode)
			held += p->held;
		seq_printf(m, "writer %u %s pid %d phase %u queued %u held %u\n",
			   w->id, w->name, w->pid, w->phase, w->len, held);
		spin_unlock(&cbt_writer_lock);
	}
	mutex_unlock(&cbt_writers_mutex);
}

/* Module unload: no writer is registered (each descriptor pins us). */
void cbt_writer_exit(void)
{
	struct cbt_round *r;

	mutex_lock(&cbt_rounds_mutex);
	while (!list_empty(&cbt_rounds)) {
		r = list_first_entry(&cbt_rounds, struct cbt_round, node);
		list_del(&r->node);
		r->listed = false;
		mutex_unlock(&cbt_rounds_mutex);
		round_put(r);
		mutex_lock(&cbt_rounds_mutex);
	}
	mutex_unlock(&cbt_rounds_mutex);
}
