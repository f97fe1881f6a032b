/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libcbt - changed-block tracking for Linux block devices.
 *
 * Conventions:
 *  - Every function that can fail returns a negative errno value (0 or a
 *    positive count on success); cbt_strerror() turns it into a sentence.
 *  - Handles (struct cbt_ctx, struct cbt_changes) are opaque; each is freed
 *    by the function named with it. Strings and arrays the library returns
 *    through a pointer-to-pointer belong to the caller and are freed with
 *    free(). Nothing else the library returns needs freeing.
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

/* A sentence for a negative errno returned by this library. */
const char *cbt_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif /* LIBCBT_H */
