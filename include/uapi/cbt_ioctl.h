/* SPDX-License-Identifier: (GPL-2.0 WITH Linux-syscall-note) OR LGPL-2.1-or-later */
/*
 * cbt_ioctl.h - the ABI between the cbt kernel module and user space.
 *
 * Every command works on the control device /dev/cbt-ctl and needs
 * CAP_SYS_ADMIN. Structures are fixed-width and 8-byte aligned; the size
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
	__u64 reserved[4];	/* in: zero */
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

#endif /* _UAPI_CBT_IOCTL_H */
