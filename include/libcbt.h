/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libcbt - changed-block tracking for Linux block devices.
 *
 * Conventions:
 *  - Every function that can fail returns a negative errno value (0 or a
 *    positive count on success); cbt_strerror() turns it into a sentence.
 *  - Handles (struct cbt_ctx, struct cbt_extent_iter, struct cbt_snapset)
 *    are opaque; each is freed by the function named with it. Strings and
 *    arrays the library returns through a pointer-to-pointer belong to the
 *    caller and are freed with free(). Strings returned by a handle's
 *    accessors live as long as the handle. Nothing else needs freeing.
 *  - A volume is named by a path to a block device, or by a tag libblkid
 *    understands: UUID=..., LABEL=..., PARTUUID=..., PARTLABEL=...
 *  - Stamps are opaque text ("UUID:GENERATION") that fits in
 *    CBT_STAMP_MAX bytes. -ESTALE from a query means the tracker cannot
 *    answer for that stamp (it was reset, or the stamp is too old): take a
 *    full backup.
 *  - Functions are thread-safe on different handles; one handle must not
 *    be used by two threads at once.
 */
#ifndef LIBCBT_H
#define LIBCBT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CBT_STAMP_MAX	64	/* bytes, terminating NUL included */
#define CBT_UUID_STR	37

struct cbt_ctx;
struct cbt_extent_iter;

/* Open /dev/cbt-ctl (-ENOENT: the module is not loaded). */
int cbt_open(struct cbt_ctx **ctx);
void cbt_close(struct cbt_ctx *ctx);

/* The loaded module's ABI and version. */
int cbt_module_version(struct cbt_ctx *ctx, unsigned int *abi,
		       unsigned int *major, unsigned int *minor,
		       unsigned int *patch);

/*
 * Resolve a volume name to its device number. -ENOTBLK when the path is
 * not a block device, -ENOENT when nothing has that name or tag.
 */
int cbt_resolve(const char *volume, dev_t *dev);
/* The /dev path of a device number, in a buffer the caller frees. */
int cbt_device_path(dev_t dev, char **path);

/* Parse a block size: a number of bytes, or with a K, M suffix. */
int cbt_parse_size(const char *text, uint64_t *bytes);

/*
 * Start tracking. block_size 0 means the default (64 KiB); otherwise a
 * power of two from 4 KiB to 1 MiB. -EBUSY when already tracked.
 */
int cbt_attach(struct cbt_ctx *ctx, const char *volume, uint32_t block_size);
/* Stop tracking and drop the map (-ENOENT: not tracked). */
int cbt_detach(struct cbt_ctx *ctx, const char *volume);

struct cbt_info {
	dev_t dev;
	char uuid[CBT_UUID_STR];	/* tracker identity */
	uint64_t generation;		/* the open generation */
	uint64_t oldest;		/* oldest generation a stamp may name */
	uint64_t device_size;		/* bytes */
	uint64_t blocks;
	uint64_t blocks_written;	/* since the tracker started */
	uint64_t map_bytes;		/* kernel memory the map uses */
	uint32_t block_size;
	int lost;			/* continuity lost: resets on next use */
};

int cbt_status(struct cbt_ctx *ctx, const char *volume, struct cbt_info *info);
int cbt_status_dev(struct cbt_ctx *ctx, dev_t dev, struct cbt_info *info);
/* Tracked devices: *devs is an array of *count entries, freed with free(). */
int cbt_list(struct cbt_ctx *ctx, dev_t **devs, size_t *count);

/*
 * Close the open generation and write its stamp into stamp[CBT_STAMP_MAX].
 * Waits for writes in flight (timeout_ms, 0 = 30 s).
 */
int cbt_checkpoint(struct cbt_ctx *ctx, const char *volume,
		   unsigned int timeout_ms, char *stamp);

/* Check a stamp's form without asking the kernel (-EINVAL if malformed). */
int cbt_stamp_check(const char *stamp);

/*
 * Changed extents since @since within [offset, offset + length) of the
 * volume (length 0: to the end), as an iterator. cbt_changes_next() returns
 * 1 and an extent (bytes), 0 at the end, or a negative errno.
 */
int cbt_changes_open(struct cbt_ctx *ctx, const char *volume,
		     const char *since, uint64_t offset, uint64_t length,
		     struct cbt_extent_iter **it);
int cbt_changes_next(struct cbt_extent_iter *it, uint64_t *offset,
		     uint64_t *length);
uint32_t cbt_changes_block_size(const struct cbt_extent_iter *it);
void cbt_changes_free(struct cbt_extent_iter *it);

/*
 * Changed blocks since @since as a bitmap: bit i (bit i % 8 of byte i / 8)
 * stands for block first_block + i; nbits bits are filled (the bitmap must
 * hold them: (nbits + 7) / 8 bytes). Returns the number of bits filled,
 * fewer when the device ends first.
 */
int64_t cbt_changes_bitmap(struct cbt_ctx *ctx, const char *volume,
			   const char *since, uint64_t first_block,
			   uint64_t nbits, uint8_t *bitmap,
			   uint32_t *block_size);

/* ---- snapshot sets --------------------------------------------------------
 *
 * A snapshot set is one or more tracked volumes snapshotted at one instant.
 * Each member has a stamp (the generation the snapshot closed: a backup
 * read from the image is "everything up to this stamp") and an image, a
 * read-only block device holding the volume as it was at the instant.
 * Old data is kept in a store: block devices or files (a file is created
 * or grown to the size given and preallocated), never on a member.
 */
struct cbt_snapset;

/* cbt_snapshot_create() flags */
#define CBT_SNAPSHOT_NO_FREEZE	(1u << 0) /* crash-consistent: no fs freeze */
#define CBT_SNAPSHOT_WRITABLE	(1u << 1) /* images take writes (into the store) */

/*
 * Take a set of @count volumes. @stores are store specs "PATH[:SIZE]"
 * (SIZE as for cbt_parse_size, needed when PATH is a file that does not
 * exist yet; a block device is used whole); the first is given at creation,
 * the others are added at once. @hold_ms bounds the freeze-to-thaw hold
 * (0 = 10 s); @low_space is the percent of free store below which a
 * low-space event is raised (0 = 20). The handle is freed with
 * cbt_snapset_free(), which does not destroy the set.
 */
int cbt_snapshot_create(struct cbt_ctx *ctx, const char *const *volumes,
			unsigned int count, const char *const *stores,
			unsigned int nstores, unsigned int flags,
			unsigned int hold_ms, unsigned int low_space,
			struct cbt_snapset **set);
/* A handle on an existing set (-ENOENT: no such set). */
int cbt_snapset_open(struct cbt_ctx *ctx, uint32_t id, struct cbt_snapset **set);
/* Ids of the live sets: *ids has *count entries, freed with free(). */
int cbt_snapshot_list(struct cbt_ctx *ctx, uint32_t **ids, size_t *count);

uint32_t cbt_snapset_id(const struct cbt_snapset *set);
unsigned int cbt_snapset_count(const struct cbt_snapset *set);
/* Member @i's volume path, stamp and image path; owned by the handle. */
const char *cbt_snapset_volume(const struct cbt_snapset *set, unsigned int i);
const char *cbt_snapset_stamp(const struct cbt_snapset *set, unsigned int i);
const char *cbt_snapset_image(const struct cbt_snapset *set, unsigned int i);
/* How long writes were held while the set was taken, in nanoseconds. */
uint64_t cbt_snapset_hold_ns(const struct cbt_snapset *set);
/*
 * How many filesystems whose data lies on member @i (on the volume, on its
 * partitions, on dm or md volumes above it) were frozen at the instant. 0:
 * nothing on it was quiesced, its image is crash-consistent (a raw volume,
 * --no-freeze, or a filesystem the module cannot see, such as one on a
 * loop device over a file on the volume).
 */
unsigned int cbt_snapset_frozen(const struct cbt_snapset *set, unsigned int i);

/* cbt_snapset_state() state bits */
#define CBT_SNAPSET_LOW_SPACE	(1u << 0)
#define CBT_SNAPSET_OVERFLOW	(1u << 1) /* store exhausted: images fail */
#define CBT_SNAPSET_INVALID	(1u << 2) /* a member went away, or a copy failed */
#define CBT_SNAPSET_DESTROYED	(1u << 3)
#define CBT_SNAPSET_WRITABLE	(1u << 4)

struct cbt_snapset_state {
	uint32_t state;			/* CBT_SNAPSET_* */
	unsigned int stores;		/* files or devices in the store */
	uint64_t store_size, store_used;	/* bytes */
	uint64_t chunks_copied;
	int error;			/* why invalid or overflowed: -errno */
};

/* The set's state now (-ENOENT once destroyed). */
int cbt_snapset_state(struct cbt_snapset *set, struct cbt_snapset_state *st);
/* Add a store ("PATH[:SIZE]") while the set lives. */
int cbt_snapset_grow(struct cbt_snapset *set, const char *store);
/* Release the set's images and store now. The handle stays to be freed. */
int cbt_snapset_destroy(struct cbt_snapset *set);
/*
 * A descriptor (owned by the handle) that polls readable when the set's
 * state changes; cbt_snapset_next_event() then reads that state. The first
 * read returns the current state at once. Returns 1 with a state, 0 once
 * the set is destroyed and that was reported, or a negative errno
 * (-EAGAIN: nothing new and @wait was 0).
 */
int cbt_snapset_event_fd(struct cbt_snapset *set);
int cbt_snapset_next_event(struct cbt_snapset *set, int wait,
			   struct cbt_snapset_state *st);
void cbt_snapset_free(struct cbt_snapset *set);

/* Make a store file: create or grow @path to @size bytes, preallocated. */
int cbt_store_prepare(const char *path, uint64_t size);

/* A sentence for a negative errno returned by this library. */
const char *cbt_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* LIBCBT_H */
