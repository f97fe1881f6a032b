/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR LGPL-2.1-or-later */
/*
 * cbt_ioctl.h - the ABI between the cbt kernel module and user space.
 *
 * Every command works on the control device /dev/cbt-ctl and needs
 * CAP_SYS_ADMIN, except CBT_WRITER_IOC_ACK (on a writer's descriptor). Structures are fixed-width and 8-byte aligned; the size
 * of each is encoded in its command number. Existing commands never change:
 * new behaviour comes as new commands or new flag bits. Every reserved field
 * and every unknown flag bit must be zero, or the command fails with EINVAL.
 *
 * Volumes are named by device number (major, minor). Sizes and offsets are
 * in bytes unless a name says otherwise.
 */
#ifndef _UAPI_CBT_IOCTL_H
#define _UAPI_CBT_IOCTL_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define CBT_CTL_NAME		"cbt-ctl"
#define CBT_IOCTL_MAGIC		0xCB
#define CBT_ABI_VERSION		1

#define CBT_UUID_SIZE		16
#define CBT_BLOCK_SIZE_MIN	4096u
#define CBT_BLOCK_SIZE_MAX	(1024u * 1024u)
#define CBT_BLOCK_SIZE_DEFAULT	(64u * 1024u)

/* Which volume a command is about. */
struct cbt_dev {
	__u32 major;
	__u32 minor;
};

/*
 * A stamp names the end of one generation of one tracker: "every write
 * that completed before the stamp was issued has generation <= generation".
 */
struct cbt_stamp {
	__u8 uuid[CBT_UUID_SIZE];
	__u64 generation;
};

/* CBT_IOC_VERSION: what the loaded module speaks. */
struct cbt_version {
	__u32 abi;		/* out: CBT_ABI_VERSION */
	__u32 major;		/* out: module version */
	__u32 minor;
	__u32 patch;
	__u64 features;		/* out: CBT_FEAT_* bits */
	__u64 reserved[2];	/* out: zero */
};

#define CBT_FEAT_TRACKING	(1ull << 0)
#define CBT_FEAT_SNAPSHOT	(1ull << 1)
#define CBT_FEAT_MEMBER_FROZEN	(1ull << 2) /* cbt_snap_member.frozen is filled */
#define CBT_FEAT_WRITERS	(1ull << 3) /* writers take part in sets */

/* CBT_IOC_ATTACH: start tracking a volume. */
struct cbt_attach {
	struct cbt_dev dev;	/* in */
	__u32 block_size;	/* in: power of two, 4 KiB..1 MiB; 0 = default */
	__u32 flags;		/* in: zero */
	__u64 reserved[4];	/* in: zero */
	struct cbt_stamp head;	/* out: new tracker uuid, open generation */
};

/* CBT_IOC_DETACH: stop tracking a volume and drop its map. */
struct cbt_detach {
	struct cbt_dev dev;	/* in */
	__u32 flags;		/* in: zero */
	__u32 reserved;		/* in: zero */
};

/* Tracker state bits in cbt_status.state. */
#define CBT_STATE_LOST		(1u << 0) /* continuity lost: next use resets */

/* CBT_IOC_STATUS: one tracker's state. */
struct cbt_status {
	struct cbt_dev dev;	/* in */
	__u32 flags;		/* in: zero */
	__u32 state;		/* out: CBT_STATE_* */
	struct cbt_stamp head;	/* out: uuid and the open generation */
	__u64 oldest;		/* out: oldest generation a stamp may name */
	__u64 device_size;	/* out: bytes tracked */
	__u64 blocks;		/* out: blocks in the map */
	__u64 blocks_written;	/* out: blocks written since attach */
	__u64 map_bytes;	/* out: memory the map uses */
	__u32 block_size;	/* out */
	__u32 reserved0;	/* out: zero */
	__u64 reserved[6];	/* out: zero */
};

/* CBT_IOC_LIST: the devices being tracked. */
struct cbt_list {
	__u64 devs;		/* in: user pointer to struct cbt_dev[capacity] */
	__u32 capacity;		/* in: entries the array holds (may be 0) */
	__u32 count;		/* out: trackers in all; the first
				 * min(count, capacity, 4096) are filled */
	__u64 reserved[2];	/* in: zero */
};

/* CBT_IOC_CHECKPOINT: close the open generation and return its stamp. */
struct cbt_checkpoint {
	struct cbt_dev dev;	/* in */
	__u32 flags;		/* in: zero */
	__u32 timeout_ms;	/* in: wait for writes in flight; 0 = 30 s */
	__u64 reserved[2];	/* in: zero */
	struct cbt_stamp stamp;	/* out */
};

/* cbt_changes.flags */
#define CBT_CHANGES_BITMAP	(1u << 0) /* one bit a block instead of extents */

/* One changed extent, in bytes, clipped to the device size. */
struct cbt_extent {
	__u64 offset;
	__u64 length;
};

/*
 * CBT_IOC_CHANGES: blocks written after the stamp @since, within
 * [offset, offset + length) of the device (length 0: to the end).
 *
 * Extent mode fills buf with struct cbt_extent; bitmap mode fills it with
 * one bit a block (bit i of byte i / 8, least significant first) starting
 * at the block holding @offset, which must then be block-aligned. Either way
 * @count says how many entries (extents or bits) were filled, and
 * @next_offset where to ask again; it equals the end of the range when
 * everything has been returned.
 *
 * A stamp from another tracker, or older than @oldest, fails with ESTALE:
 * the map cannot prove which blocks changed since, a full backup is needed.
 */
struct cbt_changes {
	struct cbt_dev dev;	/* in */
	__u32 flags;		/* in: CBT_CHANGES_* */
	__u32 block_size;	/* out */
	struct cbt_stamp since;	/* in */
	__u64 offset;		/* in: bytes */
	__u64 length;		/* in: bytes; 0 = to the end of the device */
	__u64 buf;		/* in: user pointer */
	__u64 buf_size;		/* in: bytes at buf */
	__u64 next_offset;	/* out */
	__u64 count;		/* out */
	__u64 reserved[4];	/* in: zero */
};

/* ---- snapshot sets (ABI 1, CBT_FEAT_SNAPSHOT) ---------------------------- */

#define CBT_SNAP_MAX_MEMBERS	16
#define CBT_SNAP_HOLD_DEFAULT_MS 10000u	/* freeze-to-thaw bound */
#define CBT_SNAP_LOW_SPACE_DEFAULT 20u	/* percent of the store left free */

/* cbt_snap_create.flags */
#define CBT_SNAP_NO_FREEZE	(1u << 0) /* crash-consistent: no fs freeze */
#define CBT_SNAP_WRITABLE	(1u << 1) /* images accept writes (to the store) */

/* cbt_snap_info.state and cbt_snap_event.state bits */
#define CBT_SNAP_STATE_LOW_SPACE (1u << 0) /* free store below the threshold */
#define CBT_SNAP_STATE_OVERFLOW	(1u << 1)  /* store exhausted: images read EIO */
#define CBT_SNAP_STATE_INVALID	(1u << 2)  /* a member went away or COW failed */
#define CBT_SNAP_STATE_DESTROYED (1u << 3) /* the set is gone */
#define CBT_SNAP_STATE_WRITABLE	(1u << 4)

/* One member of a snapshot set. */
struct cbt_snap_member {
	struct cbt_dev dev;	/* in: a tracked volume */
	struct cbt_dev image;	/* out: its image block device */
	struct cbt_stamp stamp;	/* out: the generation the snapshot closed */
	__u32 chunk_size;	/* out: copy-on-write unit (the block size) */
	__u32 frozen;		/* in: zero; out: filesystems frozen on the
				 * volume (on it, its partitions, or dm/md
				 * volumes above it) at the instant; 0: the
				 * volume was not quiesced (crash-consistent) */
	__u64 reserved[2];	/* in: zero */
};

/*
 * CBT_IOC_SNAP_CREATE: snapshot @count volumes at one instant. The store
 * is an open file descriptor for a block device or a regular file (opened
 * read-write; its size is what the store may use) on none of the members.
 * A store receives the members' old blocks, so a regular file must be
 * private: owned by root, no group or other permission bits, at most one
 * link, not on a pseudo filesystem (procfs, sysfs, debugfs...); so must
 * the file behind a loop device used as a store; otherwise EACCES (also
 * for CBT_IOC_SNAP_GROW).
 * Filesystems on the members are frozen unless CBT_SNAP_NO_FREEZE; new
 * writes are held from the freeze to the thaw, which must take less than
 * @hold_ms or the whole set is abandoned (ETIMEDOUT). On any failure no
 * set, image, stamp or store reference is left behind.
 */
struct cbt_snap_create {
	__u64 members;		/* in: user pointer to cbt_snap_member[count] */
	__u32 count;		/* in: 1..CBT_SNAP_MAX_MEMBERS */
	__u32 flags;		/* in: CBT_SNAP_* */
	__s32 store_fd;		/* in */
	__u32 hold_ms;		/* in: 0 = CBT_SNAP_HOLD_DEFAULT_MS, max 60000 */
	__u32 low_space;	/* in: percent, 0 = default, 1..90 */
	__u32 id;		/* out: the set's id */
	__u64 hold_ns;		/* out: how long writes were held */
	__u64 writers;		/* in: user pointer to a cbt_snap_writers, or
				 * 0: registered writers take part best-effort,
				 * with the default limits, for a plain
				 * snapshot (CBT_BACKUP_NONE) */
	struct cbt_dev missing;	/* out, on EXDEV: a volume that a writer's
				 * component needs and the set lacks */
	__u64 reserved[2];	/* in: zero */
};

/* CBT_IOC_SNAP_GROW: add a block device or file to a live set's store. */
struct cbt_snap_grow {
	__u32 id;		/* in */
	__s32 store_fd;		/* in */
	__u32 flags;		/* in: zero */
	__u32 reserved0;	/* in: zero */
	__u64 reserved[2];	/* in: zero */
};

/* CBT_IOC_SNAP_DESTROY: release a set's images and store at once. */
struct cbt_snap_destroy {
	__u32 id;		/* in */
	__u32 flags;		/* in: zero */
	__u64 reserved[2];	/* in: zero */
};

/* CBT_IOC_SNAP_INFO: one set's state and members. */
struct cbt_snap_info {
	__u32 id;		/* in */
	__u32 flags;		/* in: zero */
	__u64 members;		/* in: user pointer to cbt_snap_member[capacity] */
	__u32 capacity;		/* in */
	__u32 count;		/* out: members in the set */
	__u32 state;		/* out: CBT_SNAP_STATE_* */
	__u32 stores;		/* out: files or devices in the store */
	__u64 store_size;	/* out: bytes */
	__u64 store_used;	/* out: bytes */
	__u64 chunks_copied;	/* out */
	__u64 created_ns;	/* out: CLOCK_REALTIME */
	__u64 hold_ns;		/* out */
	__u32 low_space;	/* out: percent */
	__u32 reserved0;	/* out: zero */
	__u64 reserved[4];	/* in/out: zero */
};

/* CBT_IOC_SNAP_LIST: ids of the live sets. */
struct cbt_snap_list {
	__u64 ids;		/* in: user pointer to __u32[capacity] */
	__u32 capacity;		/* in */
	__u32 count;		/* out: sets in all; min(count, capacity) filled */
	__u64 reserved[2];	/* in: zero */
};

/*
 * CBT_IOC_SNAP_EVENTS: a file descriptor (O_CLOEXEC, returned as the ioctl's
 * value) that polls readable when the set's state changes. read() returns
 * one struct cbt_snap_event with the state at that moment; it blocks (or
 * fails with EAGAIN under O_NONBLOCK) until a change not yet read, and
 * returns 0 once the DESTROYED state has been read.
 */
struct cbt_snap_events {
	__u32 id;		/* in */
	__u32 flags;		/* in: zero */
	__u64 reserved[2];	/* in: zero */
};

struct cbt_snap_event {
	__u32 id;
	__u32 state;		/* CBT_SNAP_STATE_* */
	__u64 seq;		/* counts state changes */
	__u64 store_size;
	__u64 store_used;
	__s32 error;		/* why the set was invalidated, negative errno */
	__u32 reserved0;
	__u64 reserved[2];
};

/* ---- writers (ABI 1, CBT_FEAT_WRITERS) -----------------------------------
 *
 * A writer is an application that takes part in every snapshot set that
 * touches its volumes, in the order of Windows' VSS:
 *
 *   PREPARE -> FREEZE -> (the module takes the instant) -> THAW ->
 *   POST_SNAPSHOT -> ... -> COMPLETE (success or failure) or ABORT
 *
 * It registers with CBT_IOC_WRITER_REGISTER, which returns a file
 * descriptor (O_CLOEXEC) as the ioctl's value. The registration lasts as
 * long as that descriptor: closing it, or the process dying, ends it, and a
 * round waiting for the writer's ack stops waiting at once (the writer has
 * failed that round, -ESRCH). The descriptor polls readable when an event
 * is queued; read() returns one struct cbt_writer_event (blocking, or
 * EAGAIN under O_NONBLOCK). Every event is acked with CBT_WRITER_IOC_ACK on
 * the same descriptor, ok or failed with a short message. An event not
 * acked within its timeout_ms fails the writer for that round (-ETIMEDOUT).
 * Ioctls on a writer descriptor need no capability: the descriptor is one.
 *
 * The requester (CBT_IOC_SNAP_CREATE) chooses what a writer's failure
 * does: REQUIRE aborts the set cleanly (nothing frozen, no stamp, no
 * image; the create fails with EBUSY), BEST_EFFORT takes the set anyway
 * (crash-consistent for that writer, which is sent ABORT at once if it
 * failed PREPARE or FREEZE, then nothing more), NONE sends writers
 * nothing. A writer still frozen when the freeze window (freeze_ms, from
 * FREEZE to THAW) has passed has failed too. A set destroyed before its
 * create returns fails the create with ENOENT (its writers get ABORT). Either
 * way cbt_snap_writers.results says what each writer did; while the set
 * lives, CBT_IOC_WRITER_RESULTS says it again.
 */
#define CBT_WRITER_NAME_MAX	64	/* bytes with the NUL */
#define CBT_WRITER_MSG_MAX	128	/* bytes with the NUL */
#define CBT_WRITER_MAX		64	/* registered at once */
#define CBT_WRITER_MAX_COMPONENTS 8
#define CBT_WRITER_COMPONENT_VOLS 8
#define CBT_WRITER_STAMP_MAX	4096	/* bytes of a writer's stamp */
#define CBT_WRITER_MAX_EXTENTS	64
#define CBT_WRITER_FREEZE_DEFAULT_MS 60000u /* first FREEZE to THAW */
#define CBT_WRITER_PHASE_DEFAULT_MS 30000u  /* each other phase's ack */
#define CBT_WRITER_TIMEOUT_MAX_MS 600000u

/* Backup types: cbt_snap_writers.backup_type, cbt_writer_event.backup_type;
 * cbt_writer_register.types has bit (1 << type) for each type it takes. */
#define CBT_BACKUP_NONE		0	/* a plain snapshot, no backup */
#define CBT_BACKUP_FULL		1
#define CBT_BACKUP_INCREMENTAL	2
#define CBT_BACKUP_DIFFERENTIAL	3
#define CBT_BACKUP_COPY		4

/* cbt_writer_event.phase, cbt_writer_result.phase and .failed_phase */
#define CBT_WRITER_PREPARE	1
#define CBT_WRITER_FREEZE	2
#define CBT_WRITER_THAW		3
#define CBT_WRITER_POST_SNAPSHOT 4
#define CBT_WRITER_COMPLETE	5
#define CBT_WRITER_ABORT	6

/* cbt_snap_writers.policy */
#define CBT_WRITERS_BEST_EFFORT	0
#define CBT_WRITERS_REQUIRE	1
#define CBT_WRITERS_NONE	2

/* One component of a writer: a name and the tracked volumes holding it. */
struct cbt_writer_component {
	char name[CBT_WRITER_NAME_MAX];	/* NUL-terminated, non-empty */
	__u32 count;			/* 1..CBT_WRITER_COMPONENT_VOLS */
	__u32 reserved0;		/* zero */
	struct cbt_dev vols[CBT_WRITER_COMPONENT_VOLS];
};

/*
 * CBT_IOC_WRITER_REGISTER: returns the writer's descriptor. The name is
 * printable ASCII, unique among registered writers (EEXIST). A set that
 * includes one volume of a component must include all of that
 * component's volumes (see cbt_snap_create.missing).
 */
struct cbt_writer_register {
	char name[CBT_WRITER_NAME_MAX];	/* in */
	__u64 components;	/* in: user pointer to cbt_writer_component[count] */
	__u32 count;		/* in: 1..CBT_WRITER_MAX_COMPONENTS */
	__u32 types;		/* in: (1 << CBT_BACKUP_*) bits it takes part
				 * in; 0: all */
	__u32 flags;		/* in: zero */
	__u32 id;		/* out: the writer's id */
	__u64 reserved[2];	/* in: zero */
};

/* read() from a writer descriptor */
struct cbt_writer_event {
	__u64 seq;		/* ack with this number */
	__u32 phase;		/* CBT_WRITER_* */
	__u32 set_id;		/* the snapshot set */
	__u32 backup_type;	/* CBT_BACKUP_* */
	__u32 success;		/* COMPLETE: 1 the backup succeeded, 0 it failed */
	__u32 timeout_ms;	/* how long the module waits for the ack */
	__u32 count;		/* volumes in the set */
	struct cbt_dev vols[CBT_SNAP_MAX_MEMBERS];
	__u32 stamp_len;	/* PREPARE: bytes in stamp */
	__u32 reserved0;
	__u64 reserved[2];
	__u8 stamp[CBT_WRITER_STAMP_MAX]; /* PREPARE of an incremental or
					   * differential: the writer's own
					   * stamp from the base backup */
};

/* A range the requester must copy whatever the changes say (a log). */
struct cbt_writer_extent {
	struct cbt_dev dev;	/* a volume of the set */
	__u64 offset;		/* bytes */
	__u64 length;		/* bytes */
};

/*
 * CBT_WRITER_IOC_ACK, on a writer descriptor: the answer to event @seq.
 * A stamp and extents may come with the ack of FREEZE, THAW or
 * POST_SNAPSHOT (the last one given is kept); with any other, EINVAL.
 * An ack for an event the round no longer waits for: ESTALE.
 */
struct cbt_writer_ack {
	__u64 seq;		/* in */
	__s32 status;		/* in: 0 ok, or a negative errno: failed */
	__u32 flags;		/* in: zero */
	char message[CBT_WRITER_MSG_MAX]; /* in: NUL-terminated, may be empty */
	__u64 stamp;		/* in: user pointer, or 0 */
	__u32 stamp_len;	/* in: 0..CBT_WRITER_STAMP_MAX */
	__u32 nr_extents;	/* in: 0..CBT_WRITER_MAX_EXTENTS */
	__u64 extents;		/* in: user pointer to cbt_writer_extent[] */
	__u64 reserved[2];	/* in: zero */
};

/* A writer's base stamp, handed to it in PREPARE. */
struct cbt_writer_stamp {
	char name[CBT_WRITER_NAME_MAX];	/* in: the writer's name */
	__u64 data;		/* in: user pointer */
	__u32 len;		/* in: 1..CBT_WRITER_STAMP_MAX */
	__u32 reserved0;	/* in: zero */
};

/* cbt_snap_create.writers */
struct cbt_snap_writers {
	__u32 policy;		/* in: CBT_WRITERS_* */
	__u32 backup_type;	/* in: CBT_BACKUP_* */
	__u32 freeze_ms;	/* in: 0 = default; first FREEZE to THAW */
	__u32 phase_ms;		/* in: 0 = default; every other phase */
	__u64 stamps;		/* in: user pointer to cbt_writer_stamp[nr_stamps] */
	__u32 nr_stamps;	/* in: 0..CBT_WRITER_MAX */
	__u32 capacity;		/* in: entries at results */
	__u64 results;		/* in: user pointer to cbt_writer_result
				 * [capacity], or 0; filled when the create
				 * returns, whether it succeeded or not */
	__u32 count;		/* out: writers that took part */
	__u32 reserved0;	/* in: zero */
	__u64 reserved[2];	/* in: zero */
};

/* One writer's part in a set (CBT_IOC_WRITER_RESULTS). */
struct cbt_writer_result {
	char name[CBT_WRITER_NAME_MAX];	/* out */
	__u32 writer_id;	/* out */
	__u32 phase;		/* out: the last phase sent to it */
	__u32 failed_phase;	/* out: 0, or the phase it failed in */
	__s32 error;		/* out: 0; its status; -ETIMEDOUT no ack in
				 * time; -ESRCH it went away; -EOPNOTSUPP the
				 * backup type is not one it takes */
	char message[CBT_WRITER_MSG_MAX]; /* out: its last message */
	__u64 stamp;		/* in: user pointer to CBT_WRITER_STAMP_MAX
				 * bytes, or 0 */
	__u64 extents;		/* in: user pointer to cbt_writer_extent
				 * [CBT_WRITER_MAX_EXTENTS], or 0 */
	__u32 stamp_len;	/* out */
	__u32 nr_extents;	/* out */
	__u32 completed;	/* out: 1 once COMPLETE or ABORT was acked */
	__u32 reserved0;
	__u64 reserved[2];
};

/*
 * CBT_IOC_WRITER_RESULTS: the writers that took part in set @id, from
 * the set's creation (failed or not) until it is destroyed.
 */
struct cbt_writer_results {
	__u32 id;		/* in: the set */
	__u32 capacity;		/* in */
	__u64 results;		/* in: user pointer to cbt_writer_result[capacity] */
	__u32 count;		/* out: writers in the set */
	__u32 flags;		/* in: zero */
	__u64 reserved[2];	/* in: zero */
};

/*
 * CBT_IOC_SNAP_END: the requester ends the backup of set @id: every
 * writer of the set gets COMPLETE (with success or failure) and the call
 * waits for their acks (the phase limit). Once per set (EALREADY). The
 * set stays until destroyed; a set destroyed without END sends ABORT.
 * A writer gets one of the two, never both: END of a set being destroyed
 * fails with ENOENT.
 */
#define CBT_SNAP_END_SUCCESS	(1u << 0)

struct cbt_snap_end {
	__u32 id;		/* in */
	__u32 flags;		/* in: CBT_SNAP_END_* */
	__u32 backup_type;	/* in: CBT_BACKUP_*, or 0: as at creation */
	__u32 reserved0;	/* in: zero */
	__u64 reserved[2];	/* in: zero */
};

/* One registered writer (CBT_IOC_WRITER_LIST). */
struct cbt_writer_info {
	char name[CBT_WRITER_NAME_MAX];
	__u32 id;
	__u32 pid;		/* the process that registered it */
	__u32 types;
	__u32 count;		/* components */
	struct cbt_writer_component components[CBT_WRITER_MAX_COMPONENTS];
	__u32 phase;		/* the phase it is in now, 0 idle */
	__u32 last_set;		/* the last set it took part in, 0 none */
	__u32 last_phase;	/* where that round ended for it */
	__s32 last_error;	/* 0 ok, as cbt_writer_result.error */
	char last_message[CBT_WRITER_MSG_MAX];
	__u64 reserved[2];
};

struct cbt_writer_list {
	__u64 writers;		/* in: user pointer to cbt_writer_info[capacity] */
	__u32 capacity;		/* in */
	__u32 count;		/* out: registered writers; min(count, capacity) filled */
	__u64 reserved[2];	/* in: zero */
};

#define CBT_IOC_VERSION		_IOR(CBT_IOCTL_MAGIC, 0x00, struct cbt_version)
#define CBT_IOC_ATTACH		_IOWR(CBT_IOCTL_MAGIC, 0x01, struct cbt_attach)
#define CBT_IOC_DETACH		_IOW(CBT_IOCTL_MAGIC, 0x02, struct cbt_detach)
#define CBT_IOC_STATUS		_IOWR(CBT_IOCTL_MAGIC, 0x03, struct cbt_status)
#define CBT_IOC_LIST		_IOWR(CBT_IOCTL_MAGIC, 0x04, struct cbt_list)
#define CBT_IOC_CHECKPOINT	_IOWR(CBT_IOCTL_MAGIC, 0x05, struct cbt_checkpoint)
#define CBT_IOC_CHANGES		_IOWR(CBT_IOCTL_MAGIC, 0x06, struct cbt_changes)
#define CBT_IOC_SNAP_CREATE	_IOWR(CBT_IOCTL_MAGIC, 0x10, struct cbt_snap_create)
#define CBT_IOC_SNAP_GROW	_IOW(CBT_IOCTL_MAGIC, 0x11, struct cbt_snap_grow)
#define CBT_IOC_SNAP_DESTROY	_IOW(CBT_IOCTL_MAGIC, 0x12, struct cbt_snap_destroy)
#define CBT_IOC_SNAP_INFO	_IOWR(CBT_IOCTL_MAGIC, 0x13, struct cbt_snap_info)
#define CBT_IOC_SNAP_LIST	_IOWR(CBT_IOCTL_MAGIC, 0x14, struct cbt_snap_list)
#define CBT_IOC_SNAP_EVENTS	_IOW(CBT_IOCTL_MAGIC, 0x15, struct cbt_snap_events)
#define CBT_IOC_SNAP_END	_IOW(CBT_IOCTL_MAGIC, 0x16, struct cbt_snap_end)
#define CBT_IOC_WRITER_REGISTER	_IOWR(CBT_IOCTL_MAGIC, 0x20, struct cbt_writer_register)
#define CBT_IOC_WRITER_LIST	_IOWR(CBT_IOCTL_MAGIC, 0x21, struct cbt_writer_list)
#define CBT_IOC_WRITER_RESULTS	_IOWR(CBT_IOCTL_MAGIC, 0x22, struct cbt_writer_results)

/* On a writer descriptor (CBT_IOC_WRITER_REGISTER), not on /dev/cbt-ctl. */
#define CBT_WRITER_IOC_ACK	_IOW(CBT_IOCTL_MAGIC, 0x30, struct cbt_writer_ack)

#endif /* _UAPI_CBT_IOCTL_H */
