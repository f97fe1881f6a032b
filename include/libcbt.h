/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libcbt - changed-block tracking and snapshot sets for Linux block devices.
 *
 * Conventions (the same for every function below):
 *  - A function that can fail returns a negative errno value on failure, 0
 *    (or a count, where said) on success; cbt_strerror() turns the errno
 *    into a sentence. -EINVAL also answers a NULL handle or out-pointer.
 *  - Every object is opaque and allocated by the library; a later release
 *    can grow it without breaking programs built against this one. There is
 *    no public struct a caller allocates or passes by value.
 *  - One prefix per object: cbt_ctx_* (the context: the open control
 *    device), cbt_volume_* (a block device, resolved once), cbt_changes_*
 *    (an iterator over changed extents), cbt_snapset_opts_* (what a new set
 *    is made of), cbt_snapset_* (a snapshot set), cbt_store_* (store files),
 *    cbt_backup_* (a backup session: snapshot set, chain anchors),
 *    cbt_writer_* (an application taking part in sets), cbt_wevent_* (an
 *    event a writer read), cbt_writers_* (a list of registered writers).
 *    Library macros are LIBCBT_*; no name here is also a name in the kernel
 *    ABI header <cbt/cbt_ioctl.h>, and this header does not include it.
 *  - Ownership: an object is freed by the _free (or _unref) function of its
 *    prefix; each accepts NULL. Strings returned through "char **" belong to
 *    the caller (free()); "const char *" returned by a getter belongs to the
 *    object and lives until the object is freed or refreshed (said where).
 *  - Lifetimes: a volume, an iterator and a set each hold a reference on the
 *    context they came from, so cbt_ctx_unref() may be called while they
 *    live; the control device is closed when the last of them is freed.
 *    A snapset_opts holds no reference on anything (it copies device
 *    numbers and store specs), and may be freed once a set is created.
 *  - Threads: functions are safe on different objects (a context shared by
 *    several objects included); one object must not be used by two threads
 *    at once.
 *  - A volume is named by a path to a block device or by a tag libblkid
 *    understands: UUID=..., LABEL=..., PARTUUID=..., PARTLABEL=...
 *  - A stamp is text ("UUID:GENERATION") naming the end of one generation of
 *    one tracker; the library hands stamps out as strings the caller frees.
 *    -ESTALE from a query means the tracker cannot answer for that stamp
 *    (it was reset, or the stamp is too old): take a full backup.
 *  - Debugging: LIBCBT_DEBUG=all (or a comma-separated list of ctx, volume,
 *    changes, snapset, store, util, backup, writer; or a number, the LIBCBT_DEBUG_* mask)
 *    traces every call and its result to stderr. It is read once, when the
 *    first context is created (or at the first call, if that is earlier).
 */
#ifndef LIBCBT_H
#define LIBCBT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- library ------------------------------------------------------------- */

/*
 * The library's version: *ver (if not NULL) is set to a static string such
 * as "0.1.0"; returns the same as a number, MAJOR * 10000 + MINOR * 100 +
 * PATCH (as blkid_get_library_version does).
 */
int cbt_get_library_version(const char **ver);

/* A sentence for a negative errno returned by this library (never NULL). */
const char *cbt_strerror(int err);

/*
 * Parse a size: a decimal number of bytes, optionally followed by K, M, G or
 * T (powers of 1024), optionally followed by "iB" or "B". -EINVAL when
 * malformed, -ERANGE when it does not fit in 64 bits.
 */
int cbt_parse_size(const char *text, uint64_t *bytes);

/* Check a stamp's form without asking the kernel (-EINVAL if malformed). */
int cbt_stamp_check(const char *stamp);

/* LIBCBT_DEBUG mask bits (the names in LIBCBT_DEBUG in brackets). */
#define LIBCBT_DEBUG_CTX	(1u << 0)	/* [ctx] contexts, lists */
#define LIBCBT_DEBUG_VOLUME	(1u << 1)	/* [volume] */
#define LIBCBT_DEBUG_CHANGES	(1u << 2)	/* [changes] */
#define LIBCBT_DEBUG_SNAPSET	(1u << 3)	/* [snapset] sets and options */
#define LIBCBT_DEBUG_STORE	(1u << 4)	/* [store] */
#define LIBCBT_DEBUG_UTIL	(1u << 5)	/* [util] parsing, strerror, version */
#define LIBCBT_DEBUG_BACKUP	(1u << 6)	/* [backup] sessions and anchors */
#define LIBCBT_DEBUG_WRITER	(1u << 7)	/* [writer] writers, their events */
#define LIBCBT_DEBUG_ALL	0xffffu		/* [all] */

/* ---- context -------------------------------------------------------------
 *
 * The context is the open control device /dev/cbt-ctl. Reference counted:
 * cbt_ctx_new() returns it with one reference, cbt_ctx_ref() adds one,
 * cbt_ctx_unref() drops one and frees it with the last. Volumes, iterators
 * and sets made from it hold their own reference.
 */
struct cbt_ctx;

/* -ENOENT: the module is not loaded; -EACCES/-EPERM: not root. */
int cbt_ctx_new(struct cbt_ctx **ctx);
struct cbt_ctx *cbt_ctx_ref(struct cbt_ctx *ctx);
void cbt_ctx_unref(struct cbt_ctx *ctx);

/* The loaded module's ABI version and its version; NULL pointers skipped. */
int cbt_ctx_get_module_version(struct cbt_ctx *ctx, unsigned int *abi,
			       unsigned int *major, unsigned int *minor,
			       unsigned int *patch);

/* cbt_ctx_get_module_features() bits */
#define LIBCBT_FEATURE_TRACKING		(1ull << 0)
#define LIBCBT_FEATURE_SNAPSHOT		(1ull << 1)
#define LIBCBT_FEATURE_MEMBER_FROZEN	(1ull << 2) /* frozen counts are filled */
#define LIBCBT_FEATURE_WRITERS		(1ull << 3) /* writers take part in sets */

/* What the loaded module can do: LIBCBT_FEATURE_* bits. */
int cbt_ctx_get_module_features(struct cbt_ctx *ctx, uint64_t *features);

/*
 * The device numbers of every tracked volume, however many: *devs is an
 * array of *count entries the caller frees with free() (not NULL even when
 * *count is 0). A volume may stop being tracked right after the list.
 */
int cbt_ctx_get_tracked(struct cbt_ctx *ctx, dev_t **devs, size_t *count);

/* The ids of every live snapshot set, however many; *ids as above. */
int cbt_ctx_get_snapsets(struct cbt_ctx *ctx, uint32_t **ids, size_t *count);

/* ---- volumes --------------------------------------------------------------
 *
 * A volume handle names one block device by its device number, resolved once
 * when the handle is made; every call on the handle acts on that device,
 * whatever happens to the name afterwards.
 */
struct cbt_volume;

/*
 * Resolve a volume name to its device number without a context: -ENOTBLK
 * when the path is not a block device, -ENOENT when nothing has that name
 * or tag, -EINVAL for an empty name.
 */
int cbt_volume_resolve(const char *name, dev_t *devno);

/* A handle on the volume @name (errors as for cbt_volume_resolve()). */
int cbt_volume_open(struct cbt_ctx *ctx, const char *name,
		    struct cbt_volume **vol);
/* A handle on the block device @devno (not checked until used). */
int cbt_volume_open_devno(struct cbt_ctx *ctx, dev_t devno,
			  struct cbt_volume **vol);
void cbt_volume_free(struct cbt_volume *vol);

dev_t cbt_volume_get_devno(const struct cbt_volume *vol);
/*
 * The device's /dev path (the name libblkid finds for its device number,
 * "MAJ:MIN" if none); owned by the handle.
 */
const char *cbt_volume_get_path(const struct cbt_volume *vol);

/*
 * Start tracking. block_size 0 means the default (64 KiB); otherwise a
 * power of two from 4 KiB to 1 MiB. -EBUSY when already tracked.
 */
int cbt_volume_attach(struct cbt_volume *vol, uint32_t block_size);
/* Stop tracking and drop the map (-ENOENT: not tracked). */
int cbt_volume_detach(struct cbt_volume *vol);

/*
 * Close the open generation; *stamp is its stamp, freed by the caller.
 * Waits for writes in flight (timeout_ms, 0 = 30 s; -ETIMEDOUT).
 */
int cbt_volume_checkpoint(struct cbt_volume *vol, unsigned int timeout_ms,
			  char **stamp);

/*
 * Read the tracker's state into the handle (-ENOENT: not tracked). The
 * cbt_volume_get_* getters below return what the last successful refresh
 * read, and 0 (or NULL) before any.
 */
int cbt_volume_refresh(struct cbt_volume *vol);
/* Tracker identity (a UUID in lower case); owned by the handle. */
const char *cbt_volume_get_tracker_uuid(const struct cbt_volume *vol);
uint64_t cbt_volume_get_generation(const struct cbt_volume *vol); /* open one */
uint64_t cbt_volume_get_oldest(const struct cbt_volume *vol); /* oldest a stamp may name */
uint64_t cbt_volume_get_size(const struct cbt_volume *vol);	/* bytes tracked */
uint64_t cbt_volume_get_blocks(const struct cbt_volume *vol);
uint64_t cbt_volume_get_blocks_written(const struct cbt_volume *vol); /* since attach */
uint64_t cbt_volume_get_map_bytes(const struct cbt_volume *vol); /* kernel memory */
uint32_t cbt_volume_get_block_size(const struct cbt_volume *vol);
/* 1: continuity was lost (the next use resets the tracker), 0: not. */
int cbt_volume_is_lost(const struct cbt_volume *vol);

/*
 * Changed blocks since @since as a bitmap: bit i (bit i % 8 of byte i / 8)
 * stands for block first_block + i; nbits bits are filled (the bitmap must
 * hold (nbits + 7) / 8 bytes; nbits must be a multiple of 8 unless the
 * range ends with the device). Returns the number of bits filled, fewer
 * when the device ends first; *block_size (if not NULL) is the block size.
 */
int64_t cbt_volume_changes_bitmap(struct cbt_volume *vol, const char *since,
				  uint64_t first_block, uint64_t nbits,
				  uint8_t *bitmap, uint32_t *block_size);

/* ---- changed extents ------------------------------------------------------
 *
 * Changed extents since @since within [offset, offset + length) of the
 * volume (length 0: to the end), in ascending order, as an iterator. The
 * stamp is checked, and the first batch fetched, by cbt_changes_open().
 * The iterator holds a reference on the context, not on the volume: the
 * volume handle may be freed first.
 */
struct cbt_changes_iter;

int cbt_changes_open(struct cbt_volume *vol, const char *since,
		     uint64_t offset, uint64_t length,
		     struct cbt_changes_iter **it);
/* 1 and an extent (bytes), 0 at the end (and after), or a negative errno. */
int cbt_changes_next(struct cbt_changes_iter *it, uint64_t *offset,
		     uint64_t *length);
uint32_t cbt_changes_get_block_size(const struct cbt_changes_iter *it);
void cbt_changes_free(struct cbt_changes_iter *it);

/* ---- snapshot sets --------------------------------------------------------
 *
 * A snapshot set is one or more tracked volumes snapshotted at one instant.
 * Each member has a stamp (the generation the snapshot closed: a backup
 * read from the image is "everything up to this stamp") and an image, a
 * read-only block device holding the volume as it was at the instant.
 * Old data is kept in a store: block devices or files (a file is created
 * or grown to the size given and preallocated), never on a member.
 *
 * A set is described by a cbt_snapset_opts, then created:
 *
 *	cbt_snapset_opts_new(&o);
 *	cbt_snapset_opts_add_volume(o, vol);
 *	cbt_snapset_opts_add_store(o, "/srv/cow:4G");
 *	ret = cbt_snapset_create(ctx, o, &set);
 *	cbt_snapset_opts_free(o);
 */
struct cbt_snapset_opts;
struct cbt_snapset;

/* cbt_snapset_opts_set_flags() bits */
#define LIBCBT_SNAPSET_NO_FREEZE	(1u << 0) /* crash-consistent: no fs freeze */
#define LIBCBT_SNAPSET_WRITABLE		(1u << 1) /* images take writes (into the store) */

/* Limits the options check (the module's own). */
#define LIBCBT_SNAPSET_MAX_VOLUMES	16	/* members in one set */
#define LIBCBT_SNAPSET_HOLD_MAX_MS	60000	/* cbt_snapset_opts_set_hold_ms() */
#define LIBCBT_SNAPSET_LOW_SPACE_MAX	90	/* percent */

int cbt_snapset_opts_new(struct cbt_snapset_opts **opts);
void cbt_snapset_opts_free(struct cbt_snapset_opts *opts);
/*
 * Add a member (its device number is copied). -E2BIG past
 * LIBCBT_SNAPSET_MAX_VOLUMES, -EEXIST when the device is already a member.
 */
int cbt_snapset_opts_add_volume(struct cbt_snapset_opts *opts,
				const struct cbt_volume *vol);
/*
 * Add a store spec "PATH[:SIZE]" (SIZE as for cbt_parse_size(), needed when
 * PATH is a file that does not exist yet; a block device is used whole). The
 * first is given at creation, the others are added at once. The spec is
 * copied and only checked here for naming a path (-EINVAL for "" or
 * ":SIZE"); the path is opened by cbt_snapset_create().
 */
int cbt_snapset_opts_add_store(struct cbt_snapset_opts *opts, const char *spec);
/* LIBCBT_SNAPSET_* bits; -EINVAL for an unknown bit. */
int cbt_snapset_opts_set_flags(struct cbt_snapset_opts *opts, unsigned int flags);
/*
 * Bound on the freeze-to-thaw hold, 1..60000 ms; 0 = the default (10 s).
 * -ERANGE above the maximum (the setters below likewise).
 */
int cbt_snapset_opts_set_hold_ms(struct cbt_snapset_opts *opts, unsigned int ms);
/* Low-space event below this percent of free store, 1..90; 0 = default (20). */
int cbt_snapset_opts_set_low_space(struct cbt_snapset_opts *opts,
				   unsigned int percent);

/*
 * Take a set. -EINVAL without a volume or a store. All or nothing: on
 * failure no set is left behind. The handle is freed with
 * cbt_snapset_free(), which does not destroy the set.
 */
int cbt_snapset_create(struct cbt_ctx *ctx, const struct cbt_snapset_opts *opts,
		       struct cbt_snapset **set);
/* A handle on an existing set, read at once (-ENOENT: no such set). */
int cbt_snapset_open(struct cbt_ctx *ctx, uint32_t id,
		     struct cbt_snapset **set);
void cbt_snapset_free(struct cbt_snapset *set);

/*
 * Re-read the set's state, store and members (-ENOENT once destroyed: the
 * handle then keeps what it last read). Strings from the member getters
 * stay valid across a refresh.
 */
int cbt_snapset_refresh(struct cbt_snapset *set);

uint32_t cbt_snapset_get_id(const struct cbt_snapset *set);
/* Creation time, nanoseconds since the epoch (CLOCK_REALTIME). */
uint64_t cbt_snapset_get_created_ns(const struct cbt_snapset *set);
/* How long writes were held while the set was taken, in nanoseconds. */
uint64_t cbt_snapset_get_hold_ns(const struct cbt_snapset *set);
/* The low-space threshold in force, percent of the store left free. */
unsigned int cbt_snapset_get_low_space(const struct cbt_snapset *set);

/* cbt_snapset_get_state() bits */
#define LIBCBT_STATE_LOW_SPACE	(1u << 0)
#define LIBCBT_STATE_OVERFLOW	(1u << 1) /* store exhausted: images fail */
#define LIBCBT_STATE_INVALID	(1u << 2) /* a member went away, or a copy failed */
#define LIBCBT_STATE_DESTROYED	(1u << 3)
#define LIBCBT_STATE_WRITABLE	(1u << 4)

/*
 * The state as last read (by open, create, refresh or next_event):
 * LIBCBT_STATE_* bits, and the store: files or devices in it, its size and
 * use in bytes, and chunks copied into it so far.
 */
uint32_t cbt_snapset_get_state(const struct cbt_snapset *set);
unsigned int cbt_snapset_get_store_count(const struct cbt_snapset *set);
uint64_t cbt_snapset_get_store_size(const struct cbt_snapset *set);
uint64_t cbt_snapset_get_store_used(const struct cbt_snapset *set);
uint64_t cbt_snapset_get_chunks_copied(const struct cbt_snapset *set);
/*
 * Why the set went invalid or overflowed (a negative errno), from the last
 * event read with cbt_snapset_next_event(); 0 when none said so. The module
 * reports this in events only.
 */
int cbt_snapset_get_error(const struct cbt_snapset *set);
/* The sequence number of the last event read (counts state changes). */
uint64_t cbt_snapset_get_event_seq(const struct cbt_snapset *set);

/* Members: index 0 .. count - 1. Out of range: NULL, 0. */
unsigned int cbt_snapset_get_member_count(const struct cbt_snapset *set);
dev_t cbt_snapset_get_member_devno(const struct cbt_snapset *set, unsigned int i);
/* The member volume's /dev path ("MAJ:MIN" if none); owned by the handle. */
const char *cbt_snapset_get_member_path(const struct cbt_snapset *set, unsigned int i);
/* The generation the snapshot closed, as a stamp; owned by the handle. */
const char *cbt_snapset_get_member_stamp(const struct cbt_snapset *set, unsigned int i);
/* The image block device: its number and /dev path (owned by the handle). */
dev_t cbt_snapset_get_member_image_devno(const struct cbt_snapset *set, unsigned int i);
const char *cbt_snapset_get_member_image(const struct cbt_snapset *set, unsigned int i);
/* The copy-on-write unit of the member, bytes (its tracking block size). */
uint32_t cbt_snapset_get_member_chunk_size(const struct cbt_snapset *set, unsigned int i);
/*
 * How many filesystems whose data lies on member @i (on the volume, on its
 * partitions, on dm or md volumes above it) were frozen at the instant.
 */
unsigned int cbt_snapset_get_member_frozen(const struct cbt_snapset *set, unsigned int i);
/*
 * 1 when member @i was quiesced (frozen > 0); 0: its image is
 * crash-consistent (a raw volume, LIBCBT_SNAPSET_NO_FREEZE, or a filesystem
 * the module cannot see, such as one on a loop device over a file on it).
 */
int cbt_snapset_is_member_quiesced(const struct cbt_snapset *set, unsigned int i);

/* Add a store ("PATH[:SIZE]") while the set lives. */
int cbt_snapset_grow(struct cbt_snapset *set, const char *store);
/* Release the set's images and store now. The handle stays to be freed. */
int cbt_snapset_destroy(struct cbt_snapset *set);
/*
 * A descriptor (owned by the handle) that polls readable when the set's
 * state changes; cbt_snapset_next_event() then reads that state into the
 * handle (state, store size and use, error, event sequence). The first
 * read returns the current state at once. Returns 1 with a new state, 0 once
 * the set is destroyed and that was reported, or a negative errno
 * (-EAGAIN: nothing new and @wait was 0).
 */
int cbt_snapset_get_event_fd(struct cbt_snapset *set);
int cbt_snapset_next_event(struct cbt_snapset *set, int wait);

/* ---- stores ---------------------------------------------------------------- */

/* Make a store file: create or grow @path to @size bytes, preallocated. */
int cbt_store_prepare(const char *path, uint64_t size);

/* ---- backup repository (CBT_0.2) -------------------------------------------
 *
 * A repository in the manner of Proxmox Backup Server and restic: a folder
 * of content-addressed chunks (fixed-size pieces of a volume, aligned to
 * volume offsets, zstd-compressed, named by their SHA-256, kept many to a
 * pack file) and of points.
 * A point is one backup run over one or more volumes: a JSON manifest (id,
 * type, base, chain, time, bytes read and stored, application metadata,
 * verify state; per volume its name, identity and stamp) and, per volume,
 * a complete index (the digest of every chunk). An incremental's index is
 * its base's with what changed replaced (whole chunks, or 64 KiB pieces of
 * them stored as patches), so any point restores in one pass and may be
 * removed alone; gc then frees the chunks no index names.
 * docs/repository-format.md describes the files.
 *
 * Objects: cbt_repo_* (an open repository), cbt_point_* (one point, read
 * from its manifest), cbt_newpoint_* (a point being written).
 *  - cbt_repo_open() -> cbt_repo_close(); cbt_point_open() ->
 *    cbt_point_free(); cbt_newpoint_begin() -> cbt_newpoint_commit() and
 *    cbt_newpoint_free() (without a commit, free discards the point).
 *    Points and newpoints borrow their repository: close it last.
 *  - Errors are negative errnos; cbt_repo_get_error() then gives one line
 *    naming what failed (a file, a chunk, a point), owned by the repo.
 *    -EBADMSG: a digest or a file's format is wrong; -EXDEV: a point of
 *    another volume (or identity); -EACCES: a repository others may read;
 *    -ELOOP: a symbolic link inside the repository; -ENODATA: no usable base.
 *  - Every file is written to a temporary name, synced and renamed; a
 *    process killed at any moment leaves every committed point intact, and
 *    the next writer cleans up. Writers, prune and gc may run at once.
 */
struct cbt_repo;
struct cbt_point;
struct cbt_newpoint;

#define LIBCBT_REPO_CREATE		(1u << 0) /* create it if missing */
#define LIBCBT_REPO_ALLOW_SHARED	(1u << 1) /* open one others may read */

#define LIBCBT_REPO_CHUNK_MIN		(64u << 10)
#define LIBCBT_REPO_CHUNK_MAX		(16u << 20)
#define LIBCBT_REPO_CHUNK_DEFAULT	(1u << 20)

/*
 * Open (with LIBCBT_REPO_CREATE: create, 0700, with chunks of @chunk_size
 * bytes, a power of two, 0 = the default) the repository at @path. It must
 * be owned by the caller; one that group or others may read is refused
 * (-EACCES) unless LIBCBT_REPO_ALLOW_SHARED (cbt_repo_is_shared() says).
 * Stale temporary files of killed writers are removed.
 */
int cbt_repo_open(const char *path, unsigned int flags, uint32_t chunk_size,
		  struct cbt_repo **repo);
void cbt_repo_close(struct cbt_repo *repo);
/* 1 when group or others may read it (opened with ..._ALLOW_SHARED). */
int cbt_repo_is_shared(struct cbt_repo *repo);
uint32_t cbt_repo_get_chunk_size(struct cbt_repo *repo);
/*
 * The last failure in one line ("" if none); owned by @repo. With NULL:
 * why this thread's last cbt_repo_open() failed.
 */
const char *cbt_repo_get_error(struct cbt_repo *repo);
/*
 * Long work (backup, restore, verify) calls @fn with the bytes done and the
 * bytes to do; NULL turns it off. A non-zero return cancels (-ECANCELED).
 */
typedef int (*cbt_progress_fn)(void *data, uint64_t done, uint64_t total);
void cbt_repo_set_progress(struct cbt_repo *repo, cbt_progress_fn fn, void *data);
/* The points' ids, ascending, into *ids (the caller frees it). */
int cbt_repo_get_points(struct cbt_repo *repo, uint64_t **ids, size_t *count);
/* Remove point @id (atomically: it is there whole or not at all). */
int cbt_repo_remove_point(struct cbt_repo *repo, uint64_t id);
/*
 * Remove every chunk no point names (a pack file holding some that are
 * named is rewritten with those). Safe while backups run: a chunk in a
 * pack written or reused after the oldest running writer began is kept.
 * Counters (each may be NULL) say what was removed and kept.
 */
int cbt_repo_gc(struct cbt_repo *repo, uint64_t *removed, uint64_t *removed_bytes,
		uint64_t *kept);

enum cbt_point_type {
	CBT_POINT_AUTO = 0,	/* newpoint: FULL without a usable base, else INCREMENTAL */
	CBT_POINT_FULL = 1,
	CBT_POINT_INCREMENTAL = 2,
	CBT_POINT_DIFFERENTIAL = 3,
	CBT_POINT_COPY = 4,
};
enum cbt_verify_state {
	CBT_VERIFY_NONE = 0,	/* never verified */
	CBT_VERIFY_OK = 1,
	CBT_VERIFY_FAILED = 2,	/* never a base again */
};
/* "full", "incremental", ... (NULL for an unknown value); and back (-EINVAL). */
const char *cbt_point_type_name(enum cbt_point_type type);
int cbt_point_type_parse(const char *name, enum cbt_point_type *type);

/* Read point @id's manifest (-ENOENT: no such point; -EBADMSG: damaged). */
int cbt_point_open(struct cbt_repo *repo, uint64_t id, struct cbt_point **point);
void cbt_point_free(struct cbt_point *point);
uint64_t cbt_point_get_id(struct cbt_point *point);
enum cbt_point_type cbt_point_get_type(struct cbt_point *point);
uint64_t cbt_point_get_base(struct cbt_point *point);	/* 0: none */
const char *cbt_point_get_chain(struct cbt_point *point);
int64_t cbt_point_get_time(struct cbt_point *point);	/* Unix seconds */
uint64_t cbt_point_get_bytes_read(struct cbt_point *point);
uint64_t cbt_point_get_bytes_stored(struct cbt_point *point);
const char *cbt_point_get_app_metadata(struct cbt_point *point); /* NULL: none */
enum cbt_verify_state cbt_point_get_verify_state(struct cbt_point *point);
int64_t cbt_point_get_verify_time(struct cbt_point *point);	/* 0: never */
unsigned int cbt_point_get_volume_count(struct cbt_point *point);
/* The index of volume @name in the point, or -ENOENT. */
int cbt_point_find_volume(struct cbt_point *point, const char *name);
/* Volume @i's fields; strings may be NULL (unknown), owned by the point. */
const char *cbt_point_get_volume_name(struct cbt_point *point, unsigned int i);
uint64_t cbt_point_get_volume_size(struct cbt_point *point, unsigned int i);
uint32_t cbt_point_get_volume_block_size(struct cbt_point *point, unsigned int i);
const char *cbt_point_get_volume_fstype(struct cbt_point *point, unsigned int i);
const char *cbt_point_get_volume_fsuuid(struct cbt_point *point, unsigned int i);
const char *cbt_point_get_volume_stamp(struct cbt_point *point, unsigned int i);
uint64_t cbt_point_get_volume_base(struct cbt_point *point, unsigned int i);
uint64_t cbt_point_get_volume_bytes_read(struct cbt_point *point, unsigned int i);
uint64_t cbt_point_get_volume_bytes_stored(struct cbt_point *point, unsigned int i);
/*
 * Re-read every chunk of the point, check each digest, and record the
 * verify state in its manifest. 0 (OK) or -EBADMSG (FAILED: *bad, if not
 * NULL, counts the missing or damaged chunks; a damaged chunk is dropped
 * from its pack, the old pack kept aside, so that the next backup holding
 * that data stores it again).
 */
int cbt_point_verify(struct cbt_point *point, uint64_t *bad);

#define LIBCBT_RESTORE_SPARSE	(1u << 0) /* @fd reads zeros: skip zero chunks */
/*
 * Write volume @i of the point to @fd from offset 0 (its size bytes),
 * checking every chunk's digest (-EBADMSG, -ENOENT for a missing chunk).
 */
int cbt_point_restore(struct cbt_point *point, unsigned int i, int fd, unsigned int flags);

/*
 * A new point of @chain (NULL: "default") of @type. Each volume's base is
 * the chain's newest point holding that volume (by name): not a COPY; for
 * DIFFERENTIAL, a FULL. A base whose last verify failed, or of another
 * identity, is not usable: INCREMENTAL and DIFFERENTIAL then fail
 * (-ENODATA, -EXDEV); AUTO becomes FULL when the first volume has no usable
 * base, else INCREMENTAL (a later volume without one is read whole, its
 * base 0). cbt_newpoint_get_type() (AUTO until the first volume is added)
 * and _get_base() (the first volume's) say what was chosen.
 */
int cbt_newpoint_begin(struct cbt_repo *repo, const char *chain, enum cbt_point_type type,
		       struct cbt_newpoint **np);
enum cbt_point_type cbt_newpoint_get_type(struct cbt_newpoint *np);
uint64_t cbt_newpoint_get_base(struct cbt_newpoint *np);
/*
 * The point volume @name would be built on, as cbt_newpoint_add_volume()
 * chooses it, and the stamp recorded for the volume there (owned by @np;
 * NULL if it had none): a requester passes extents only when that stamp is
 * the one its changes are counted from. *id 0 and *stamp NULL when there is
 * no usable base (FULL, COPY, none in the chain, or its verify failed).
 */
int cbt_newpoint_get_volume_base(struct cbt_newpoint *np, const char *name, uint64_t *id,
				 const char **stamp);
/*
 * The point's workspace: a folder of the repository ("tmp/TOKEN", relative
 * to it; owned by @np) that goes with the newpoint, or, after a kill, with
 * the repository's next opener. Room for the caller's temporary files on
 * the repository's filesystem, such as a copy-on-write store.
 */
const char *cbt_newpoint_get_workspace(struct cbt_newpoint *np);
/*
 * Change the point's type before its first volume is added (-EINVAL after,
 * or for CBT_POINT_AUTO): a requester whose volumes all went full (no base,
 * a reset tracker) records the point as FULL.
 */
int cbt_newpoint_set_type(struct cbt_newpoint *np, enum cbt_point_type type);
/* Opaque application metadata kept with the point (text; copied). */
int cbt_newpoint_set_app_metadata(struct cbt_newpoint *np, const char *text);
/*
 * Back up a volume into the point: @size bytes read from @fd (which the
 * caller keeps). @name is its group (the same name in every point of that
 * volume); @stamp (or NULL) its tracker stamp. With @extents (@count pairs
 * of offset, length in bytes) only the 64 KiB pieces those ranges touch are
 * read (a chunk with more than a quarter of its pieces changed: all of it),
 * on top of the base's index of the same volume (-ENODATA if the base has
 * no such volume);
 * with NULL, or for FULL and COPY points, every block. The base's volume
 * must have the same identity (size, filesystem UUID). The identity is
 * probed with libblkid from @fd. A chunk of the base found missing is read
 * again from @fd.
 */
int cbt_newpoint_add_volume(struct cbt_newpoint *np, const char *name, int fd, uint64_t size,
			    const char *stamp, const uint64_t *extents, size_t count);
uint64_t cbt_newpoint_get_bytes_read(struct cbt_newpoint *np);
uint64_t cbt_newpoint_get_bytes_stored(struct cbt_newpoint *np);
/*
 * Make the point durable and visible; *id (if not NULL) is its id. Every
 * chunk this point stored is read back first and checked against its
 * digest: -EIO (nothing put in place, the handle stops) when one does not
 * read back. On
 * failure the point is not visible, unless it could not be taken back
 * after its rename: then *id is set all the same, for the caller to remove
 * it (cbt_repo_remove_point()).
 */
int cbt_newpoint_commit(struct cbt_newpoint *np, uint64_t *id);
void cbt_newpoint_free(struct cbt_newpoint *np);

/*
 * The chunks of volume @i of @point that differ from volume @from_i of
 * @from (the same volume: -EXDEV otherwise), compared index against index
 * (digests), in ascending order: @fn gets each changed chunk's (or, where
 * the two differ only in patched pieces, each run of changed pieces')
 * volume offset, bytes (digests checked) and length (the last may be short), and
 * stops the walk by returning a negative errno. A chunk past the end of
 * @from's volume counts as changed unless all zeroes. With @from NULL, a
 * difference from empty: every chunk that is not all zeroes. The export to
 * Ceph (`cbt-snap export --format rbd-diff`) is built on it.
 */
typedef int (*cbt_chunk_fn)(void *data, uint64_t offset, const void *buf, size_t len);
int cbt_point_diff(struct cbt_point *point, unsigned int i, struct cbt_point *from,
		   unsigned int from_i, cbt_chunk_fn fn, void *data);

/* ---- backup sessions (CBT_0.2) ----------------------------------------------
 *
 * A backup session is what a requester (backup or imaging software) drives:
 * it takes one snapshot set over one or more tracked volumes, says per volume
 * what to read and from where, and at the end records the backup's stamps as
 * the chain's anchors, only if the backup succeeded.
 *
 *	cbt_backup_new(ctx, LIBCBT_BACKUP_INCREMENTAL, &b);
 *	cbt_backup_add_volume(b, vol);
 *	cbt_backup_set_snapset_opts(b, opts);	(stores, hold: copied)
 *	ret = cbt_backup_begin(b);
 *	for each volume i: cbt_backup_volume_changes_open(b, i, &it), read
 *	    each extent from cbt_backup_volume_get_image(b, i);
 *	cbt_backup_end(b, ok);			(anchors move only if ok)
 *	cbt_backup_free(b);
 *
 * Types: FULL reads every block; INCREMENTAL what changed since the chain's
 * last successful FULL, INCREMENTAL or DIFFERENTIAL; DIFFERENTIAL what
 * changed since the chain's last successful FULL; COPY every block, and it
 * moves no anchor. "Changed since" is asked of the live map with no upper
 * bound: a block written after the instant is reported once more (harmless),
 * never lost.
 *
 * Chains: anchors are kept per chain (a name: letters, digits, '.', '_',
 * '-', at most 64, not starting with '.'; default "default"), so two backup
 * products on one machine do not move each other's bases. A chain's anchors
 * live in STATE_DIR/CHAIN.anchors (default state directory /var/lib/cbt,
 * created 0700; it must be owned by the caller and not writable by group
 * or others: -EACCES; a symlink: -ELOOP), one entry per volume device
 * number (MAJ:MIN): the incremental base (the stamp of the last successful
 * backup of any kind but COPY) and the differential base (the stamp of the
 * last successful FULL). Written atomically (a temporary file, fsync,
 * rename, fsync of the directory). A session holds STATE_DIR/CHAIN.lock
 * from begin until end (or free): a second session on the chain gets
 * -EBUSY. A damaged or foreign anchor file is -EBADMSG (move it away: the
 * chain's next backups are then FULL).
 *
 * Fallback: a volume with no base in the chain is backed up FULL
 * (LIBCBT_BACKUP_FALLBACK_NO_BASE). When a base no longer matches its
 * tracker (the tracker was attached again, so its UUID changed, or the
 * stamp is older than the map can answer), the volume is backed up FULL
 * (LIBCBT_BACKUP_FALLBACK_STALE) and cbt_backup_volume_get_reason() says
 * why in a sentence; with LIBCBT_BACKUP_NO_FALLBACK cbt_backup_begin()
 * fails with -ESTALE instead (the getters still say which volume and why).
 *
 * Application metadata: named byte strings (a writer's own backup stamp,
 * its components) attached to the session are kept with the anchors when
 * the session ends with success (not for COPY), replacing the chain's
 * previous set, and handed back by the next session of the chain through
 * cbt_backup_get_prev_metadata*().
 *
 * Ownership: the session copies what it is given (volumes by device number,
 * options, metadata) and holds a reference on the context. "const char *"
 * and "const void *" from its getters belong to the session and live until
 * cbt_backup_free(). Volume getters take an index 0 .. count - 1 in the
 * order the volumes were added; out of range or before begin: 0 or NULL.
 */
struct cbt_backup;

/* Backup types */
#define LIBCBT_BACKUP_FULL		1
#define LIBCBT_BACKUP_INCREMENTAL	2
#define LIBCBT_BACKUP_DIFFERENTIAL	3
#define LIBCBT_BACKUP_COPY		4

/* cbt_backup_set_flags() bits */
#define LIBCBT_BACKUP_NO_FALLBACK	(1u << 0) /* begin fails (-ESTALE) rather than go FULL */

/* cbt_backup_volume_get_fallback(): why a volume's type is not the one asked */
#define LIBCBT_BACKUP_FALLBACK_NONE	0
#define LIBCBT_BACKUP_FALLBACK_NO_BASE	1 /* no earlier backup of it in the chain */
#define LIBCBT_BACKUP_FALLBACK_STALE	2 /* tracker reset, or the base too old */

#define LIBCBT_BACKUP_STATE_DIR		"/var/lib/cbt"
#define LIBCBT_BACKUP_CHAIN		"default"
#define LIBCBT_BACKUP_CHAIN_MAX		64	/* characters in a chain name */
#define LIBCBT_BACKUP_META_NAME_MAX	64	/* characters in a metadata name */
#define LIBCBT_BACKUP_META_SIZE_MAX	65536	/* bytes in one metadata entry */
#define LIBCBT_BACKUP_META_MAX		64	/* metadata entries a session */

/* "full", "incremental", "differential", "copy" (NULL for another value). */
const char *cbt_backup_type_name(int type);
/* The reverse; -EINVAL for an unknown name. */
int cbt_backup_type_parse(const char *name, int *type);

/* A session of @type (LIBCBT_BACKUP_*) on @ctx; -EINVAL for another type. */
int cbt_backup_new(struct cbt_ctx *ctx, int type, struct cbt_backup **b);
/* Frees the session; one begun and not ended is ended as a failure. */
void cbt_backup_free(struct cbt_backup *b);

/* Setters: before cbt_backup_begin() only (-EBUSY after). */
/* Add a tracked volume (-EEXIST twice, -E2BIG past LIBCBT_SNAPSET_MAX_VOLUMES). */
int cbt_backup_add_volume(struct cbt_backup *b, const struct cbt_volume *vol);
/* The chain's name (copied; -EINVAL when not a valid name). */
int cbt_backup_set_chain(struct cbt_backup *b, const char *chain);
/* Where anchors are kept (copied; created 0700 by begin if missing). */
int cbt_backup_set_state_dir(struct cbt_backup *b, const char *path);
/* LIBCBT_BACKUP_* flag bits; -EINVAL for an unknown bit. */
int cbt_backup_set_flags(struct cbt_backup *b, unsigned int flags);
/*
 * Options for the snapshot set: stores, flags, hold, low-space threshold
 * (copied; the caller keeps and frees @opts). The session's volumes are
 * added to its copy. Without it there is no store and begin fails -EINVAL.
 */
int cbt_backup_set_snapset_opts(struct cbt_backup *b,
				const struct cbt_snapset_opts *opts);
/*
 * Attach @len bytes of @data under @name (letters, digits, '.', '_', '-',
 * ':', at most LIBCBT_BACKUP_META_NAME_MAX); replaces an earlier entry of
 * that name; @len 0 removes it. -E2BIG past the limits above. May be called
 * until cbt_backup_end().
 */
int cbt_backup_set_metadata(struct cbt_backup *b, const char *name,
			    const void *data, size_t len);

/*
 * Begin: lock the chain, read its anchors, decide each volume's type, take
 * the snapshot set. On failure nothing is left behind (no set, no lock) and
 * the session may only be freed. A session killed before its end leaves
 * its set behind (the module keeps sets until destroyed): the chain's next
 * begin destroys it (STATE_DIR/CHAIN.set names it). -ENOENT: a volume is not tracked; -EBUSY:
 * the chain is locked by another session; -ESTALE: LIBCBT_BACKUP_NO_FALLBACK
 * and a volume would have to go FULL for want of a valid base.
 */
int cbt_backup_begin(struct cbt_backup *b);
/*
 * End: @success non-zero declares the backup good. Then, unless the set
 * overflowed or went invalid meanwhile (-EIO: the images were not whole,
 * nothing moves), the anchors move (not for COPY) and the metadata is kept.
 * The snapshot set is destroyed in every case and the chain unlocked.
 * Returns 0 or the first error; cbt_backup_is_committed() tells whether
 * the anchors moved.
 */
int cbt_backup_end(struct cbt_backup *b, int success);
/* 1 once cbt_backup_end() recorded a success (also for COPY), else 0. */
int cbt_backup_is_committed(const struct cbt_backup *b);

int cbt_backup_get_type(const struct cbt_backup *b);	/* as asked */
const char *cbt_backup_get_chain(const struct cbt_backup *b);
/* The session's snapshot set while it lives (grow it, watch its events). */
struct cbt_snapset *cbt_backup_get_snapset(struct cbt_backup *b);

/*
 * The metadata the chain's last successful backup attached: how many
 * entries, the name of entry @i, and the bytes of entry @name (-ENOENT if
 * none). Read by begin.
 */
unsigned int cbt_backup_get_prev_metadata_count(const struct cbt_backup *b);
const char *cbt_backup_get_prev_metadata_name(const struct cbt_backup *b,
					      unsigned int i);
int cbt_backup_get_prev_metadata(const struct cbt_backup *b, const char *name,
				 const void **data, size_t *len);

unsigned int cbt_backup_get_volume_count(const struct cbt_backup *b);
dev_t cbt_backup_volume_get_devno(const struct cbt_backup *b, unsigned int i);
/* The volume's /dev path ("MAJ:MIN" if none). */
const char *cbt_backup_volume_get_path(const struct cbt_backup *b, unsigned int i);
/* The image to read from: the volume at the instant, read-only. */
const char *cbt_backup_volume_get_image(const struct cbt_backup *b, unsigned int i);
uint64_t cbt_backup_volume_get_size(const struct cbt_backup *b, unsigned int i);
uint32_t cbt_backup_volume_get_block_size(const struct cbt_backup *b, unsigned int i);
/* The type this volume is backed up with (FULL after a fallback). */
int cbt_backup_volume_get_type(const struct cbt_backup *b, unsigned int i);
/* The stamp at the instant (what the anchors become on success). */
const char *cbt_backup_volume_get_stamp(const struct cbt_backup *b, unsigned int i);
/* The base changes are asked since; NULL for FULL and COPY. */
const char *cbt_backup_volume_get_base(const struct cbt_backup *b, unsigned int i);
/* LIBCBT_BACKUP_FALLBACK_*, and a sentence saying why (NULL: none). */
int cbt_backup_volume_get_fallback(const struct cbt_backup *b, unsigned int i);
const char *cbt_backup_volume_get_reason(const struct cbt_backup *b, unsigned int i);
/*
 * What to read from the image, as extents (bytes, ascending): changed since
 * the base, or one extent of the whole volume for FULL and COPY. The
 * iterator is the caller's (cbt_changes_free()) and may outlive the session.
 */
int cbt_backup_volume_changes_open(struct cbt_backup *b, unsigned int i,
				   struct cbt_changes_iter **it);
/*
 * The same as a bitmap, as for cbt_volume_changes_bitmap() (every bit set
 * for FULL and COPY). Returns the bits filled or a negative errno.
 */
int64_t cbt_backup_volume_changes_bitmap(struct cbt_backup *b, unsigned int i,
					 uint64_t first_block, uint64_t nbits,
					 uint8_t *bitmap);

/* ---- writers (CBT_0.3) -------------------------------------------------------
 *
 * A writer is an application (a database, a mail store) that takes part in
 * every snapshot set touching its volumes, in the order of Windows' VSS:
 * PREPARE, FREEZE (flush and hold writes), the instant, THAW,
 * POST_SNAPSHOT (give a new stamp of its own, name extents that must be
 * copied), and when the requester ends the backup COMPLETE (success or
 * failure; a writer truncates its logs only after a successful FULL or
 * INCREMENTAL) or ABORT. Every event is acked, ok or failed with a message.
 *
 *	cbt_writer_new(ctx, "pg", &w);
 *	cbt_writer_add_component(w, "data", paths, 2);
 *	cbt_writer_start(w);
 *	poll cbt_writer_get_fd(w); cbt_writer_next_event(w, 1, &ev);
 *	switch (cbt_wevent_get_phase(ev)) ... cbt_writer_ack_event(w, ev, 0, NULL);
 *	cbt_wevent_free(ev);
 *	cbt_writer_free(w);		(closes the descriptor: unregistered)
 *
 * The registration lasts as long as the writer's descriptor: freeing the
 * writer, or the process dying, ends it; a round waiting for its ack stops
 * waiting at once. An event not acked within its timeout fails the writer
 * for that round. Objects: cbt_writer_* (a writer), cbt_wevent_* (one event
 * it read; freed by the caller), cbt_writers_* (a list of the registered
 * writers, from cbt_ctx_get_writers()).
 */
struct cbt_writer;
struct cbt_wevent;
struct cbt_writers;

/* Phases: cbt_wevent_get_phase(), results' phase and failed phase. */
#define LIBCBT_WRITER_PREPARE		1
#define LIBCBT_WRITER_FREEZE		2
#define LIBCBT_WRITER_THAW		3
#define LIBCBT_WRITER_POST_SNAPSHOT	4
#define LIBCBT_WRITER_COMPLETE		5
#define LIBCBT_WRITER_ABORT		6

/* Backup types as writers see them: LIBCBT_BACKUP_* above, and this one. */
#define LIBCBT_BACKUP_NONE		0	/* a plain snapshot, no backup */
/* cbt_writer_set_types() bit for a type */
#define LIBCBT_WRITER_TYPE(t)		(1u << (t))

/* Limits (the module's). */
#define LIBCBT_WRITER_NAME_MAX		63	/* bytes in a writer or component name */
#define LIBCBT_WRITER_MSG_MAX		127	/* bytes in an ack's message */
#define LIBCBT_WRITER_MAX_COMPONENTS	8
#define LIBCBT_WRITER_COMPONENT_VOLS	8	/* tracked volumes in one component */
#define LIBCBT_WRITER_STAMP_MAX		4096	/* bytes in a writer's stamp */
#define LIBCBT_WRITER_MAX_EXTENTS	64

/* "prepare", "freeze", "thaw", "post-snapshot", "complete", "abort"; NULL else. */
const char *cbt_writer_phase_name(int phase);
/* "none" for LIBCBT_BACKUP_NONE, else as cbt_backup_type_name(). */
const char *cbt_writer_backup_type_name(int type);

/*
 * The tracked volumes beneath @path: a block device, or a file or directory
 * whose filesystem lies on one. The device is followed down through sysfs
 * (a partition to its disk, a dm or md device to its slaves, recursively)
 * and the tracked ones are kept. *devs (free()) holds *count entries.
 * -ENODEV: nothing tracked lies beneath @path; -ENOENT: no such path.
 */
int cbt_ctx_resolve_tracked(struct cbt_ctx *ctx, const char *path, dev_t **devs,
			    size_t *count);

/* A writer named @name (printable ASCII, 1..63 bytes; unique once registered). */
int cbt_writer_new(struct cbt_ctx *ctx, const char *name, struct cbt_writer **w);
/* Unregister (close the descriptor) and free; NULL is fine. */
void cbt_writer_free(struct cbt_writer *w);
/*
 * Add component @name held by @paths (each resolved as by
 * cbt_ctx_resolve_tracked(); every tracked volume found is a volume of the
 * component). A path with nothing tracked beneath fails with -ENODEV, and
 * cbt_writer_get_error() names it. Before register only (-EBUSY after).
 */
int cbt_writer_add_component(struct cbt_writer *w, const char *name,
			     const char *const *paths, size_t n);
/* LIBCBT_WRITER_TYPE() bits of the backup types it takes part in; 0: all. */
int cbt_writer_set_types(struct cbt_writer *w, unsigned int mask);
/* Register (-EEXIST: the name is taken; -EINVAL: no component). */
int cbt_writer_start(struct cbt_writer *w);
/* The last failure of a call on @w in one line ("" if none); owned by @w. */
const char *cbt_writer_get_error(const struct cbt_writer *w);
const char *cbt_writer_get_name(const struct cbt_writer *w);
uint32_t cbt_writer_get_id(const struct cbt_writer *w);	/* 0 before register */
/* The registration's descriptor, for poll (readable: an event waits); -EINVAL before. */
int cbt_writer_get_fd(const struct cbt_writer *w);
/*
 * Read the next event: 1 and *ev (the caller frees it with cbt_wevent_free()),
 * -EAGAIN when none waits and @wait is 0.
 */
int cbt_writer_next_event(struct cbt_writer *w, int wait, struct cbt_wevent **ev);
/* The writer's new stamp (copied, up to LIBCBT_WRITER_STAMP_MAX bytes). */
int cbt_writer_set_stamp(struct cbt_writer *w, const void *data, size_t len);
/*
 * An extent of @volume (a path, resolved to its tracked volume) that the
 * requester must copy whatever changed (a log): bytes. -E2BIG past
 * LIBCBT_WRITER_MAX_EXTENTS.
 */
int cbt_writer_add_extent(struct cbt_writer *w, const char *volume, uint64_t offset,
			  uint64_t length);
/*
 * Ack @ev: @status 0 ok, or a negative errno (failed), and a message (NULL:
 * none; cut to LIBCBT_WRITER_MSG_MAX bytes). The stamp and extents set
 * since the last ack go with an ack of FREEZE, THAW or POST_SNAPSHOT (and
 * are then forgotten); with other phases they wait. -ESTALE: the round no
 * longer waits for this event (it timed out, or ended).
 */
int cbt_writer_ack_event(struct cbt_writer *w, const struct cbt_wevent *ev, int status,
		   const char *message);

/* An event's fields. Strings and bytes are owned by the event. */
void cbt_wevent_free(struct cbt_wevent *ev);
int cbt_wevent_get_phase(const struct cbt_wevent *ev);
uint32_t cbt_wevent_get_set_id(const struct cbt_wevent *ev);
int cbt_wevent_get_backup_type(const struct cbt_wevent *ev);	/* LIBCBT_BACKUP_* */
int cbt_wevent_get_success(const struct cbt_wevent *ev);	/* COMPLETE: 1 ok */
unsigned int cbt_wevent_get_timeout_ms(const struct cbt_wevent *ev);
unsigned int cbt_wevent_get_volume_count(const struct cbt_wevent *ev);
dev_t cbt_wevent_get_volume_devno(const struct cbt_wevent *ev, unsigned int i);
/* Volume @i's /dev path ("MAJ:MIN" if none). */
const char *cbt_wevent_get_volume_path(const struct cbt_wevent *ev, unsigned int i);
/* PREPARE of an incremental or differential: the writer's stamp from the base (NULL: none). */
const void *cbt_wevent_get_base_stamp(const struct cbt_wevent *ev, size_t *len);

/*
 * The registered writers now: *list is freed with cbt_writers_free().
 * Getters take an index 0 .. count - 1 (out of range: NULL or 0).
 */
int cbt_ctx_get_writers(struct cbt_ctx *ctx, struct cbt_writers **list);
void cbt_writers_free(struct cbt_writers *list);
unsigned int cbt_writers_get_count(const struct cbt_writers *list);
const char *cbt_writers_get_name(const struct cbt_writers *list, unsigned int i);
uint32_t cbt_writers_get_id(const struct cbt_writers *list, unsigned int i);
pid_t cbt_writers_get_pid(const struct cbt_writers *list, unsigned int i);
unsigned int cbt_writers_get_types(const struct cbt_writers *list, unsigned int i);
unsigned int cbt_writers_get_component_count(const struct cbt_writers *list, unsigned int i);
const char *cbt_writers_get_component_name(const struct cbt_writers *list, unsigned int i,
					   unsigned int c);
/* Component @c's volumes: how many, and volume @v's device number. */
unsigned int cbt_writers_get_component_volume_count(const struct cbt_writers *list,
						    unsigned int i, unsigned int c);
dev_t cbt_writers_get_component_volume(const struct cbt_writers *list, unsigned int i,
				       unsigned int c, unsigned int v);
int cbt_writers_get_phase(const struct cbt_writers *list, unsigned int i); /* 0: idle */
/* Its last round: the set (0: none), the phase it ended in, its error and message. */
uint32_t cbt_writers_get_last_set(const struct cbt_writers *list, unsigned int i);
int cbt_writers_get_last_phase(const struct cbt_writers *list, unsigned int i);
int cbt_writers_get_last_error(const struct cbt_writers *list, unsigned int i);
const char *cbt_writers_get_last_message(const struct cbt_writers *list, unsigned int i);

/* ---- snapshot sets with writers (CBT_0.3) -----------------------------------
 *
 * Registered writers whose volumes the set touches take part in it. The
 * policy says what a writer's failure does: BEST_EFFORT (the default) takes
 * the set anyway, crash-consistent for that writer; REQUIRE aborts it
 * cleanly (create fails with -EBUSY: nothing frozen, no stamp, no image);
 * NONE sends writers nothing. A writer's component spanning several
 * volumes pulls them all in: cbt_snapset_create() adds a missing one when
 * it is tracked and tries again, and fails with -EXDEV naming it (see
 * cbt_ctx_get_error()) when it is not.
 */
#define LIBCBT_WRITERS_BEST_EFFORT	0
#define LIBCBT_WRITERS_REQUIRE		1
#define LIBCBT_WRITERS_NONE		2

/* LIBCBT_WRITERS_*; -EINVAL for another value. */
int cbt_snapset_opts_set_writers(struct cbt_snapset_opts *opts, int policy);
/* The backup type the writers are told (LIBCBT_BACKUP_*, NONE by default). */
int cbt_snapset_opts_set_backup_type(struct cbt_snapset_opts *opts, int type);
/* The writers' freeze window and every other phase's limit, ms (0: 60 s, 30 s; max 600 s). */
int cbt_snapset_opts_set_writer_timeouts(struct cbt_snapset_opts *opts,
					 unsigned int freeze_ms, unsigned int phase_ms);
/* Writer @name's stamp from the base backup, handed to it in PREPARE (copied). */
int cbt_snapset_opts_add_writer_stamp(struct cbt_snapset_opts *opts, const char *name,
				      const void *data, size_t len);

/*
 * The last failure of a call on @ctx made by this thread, in one line (""
 * if none), such as the volume a writer's component lacks (-EXDEV) or the
 * writer that failed a REQUIRE set (-EBUSY). Owned by the library, valid
 * until this thread's next call.
 */
const char *cbt_ctx_get_error(struct cbt_ctx *ctx);

/*
 * As cbt_snapset_create(), but when the module refused the set and can say
 * what the writers did, *set is still a handle: a failed set (id 0, no
 * members) whose writer getters say which writer failed and why. On
 * success as cbt_snapset_create(). *set is NULL when there is nothing to
 * say; the caller frees it either way.
 */
int cbt_snapset_attempt(struct cbt_ctx *ctx, const struct cbt_snapset_opts *opts,
			struct cbt_snapset **set);

/*
 * The writers that took part: filled by create (or attempt) and by
 * cbt_snapset_refresh_writers() (while the set lives). Index 0 .. count - 1.
 */
int cbt_snapset_refresh_writers(struct cbt_snapset *set);
unsigned int cbt_snapset_get_writer_count(const struct cbt_snapset *set);
const char *cbt_snapset_get_writer_name(const struct cbt_snapset *set, unsigned int i);
/* The last phase sent to it, and the phase it failed in (0: none). */
int cbt_snapset_get_writer_phase(const struct cbt_snapset *set, unsigned int i);
int cbt_snapset_get_writer_failed_phase(const struct cbt_snapset *set, unsigned int i);
/*
 * 0, the writer's failure status, -ETIMEDOUT (no ack in time), -ESRCH (it
 * went away) or -EOPNOTSUPP (the backup type is not one it takes: skipped).
 */
int cbt_snapset_get_writer_error(const struct cbt_snapset *set, unsigned int i);
const char *cbt_snapset_get_writer_message(const struct cbt_snapset *set, unsigned int i);
/* Its new stamp (NULL, *len 0: none). */
const void *cbt_snapset_get_writer_stamp(const struct cbt_snapset *set, unsigned int i,
					 size_t *len);
/* 1 once it acked COMPLETE or ABORT. */
int cbt_snapset_get_writer_completed(const struct cbt_snapset *set, unsigned int i);
/* The extents it named: how many, and extent @j (volume, bytes). */
unsigned int cbt_snapset_get_writer_extents(const struct cbt_snapset *set, unsigned int i);
int cbt_snapset_get_writer_extent(const struct cbt_snapset *set, unsigned int i,
				  unsigned int j, dev_t *dev, uint64_t *offset,
				  uint64_t *length);
/*
 * End the backup of the set: its writers get COMPLETE with @success and
 * @type (LIBCBT_BACKUP_*; -1: as at creation); waits for their acks, then
 * refreshes the writer results. Once (-EALREADY).
 */
int cbt_snapset_end(struct cbt_snapset *set, int success, int type);

/* ---- backups with writers (CBT_0.3) -------------------------------------------
 *
 * A session passes its type and policy to the writers, hands each its own
 * stamp from the chain's last successful backup (kept in the session's
 * metadata as "writer:NAME"), reads the extents writers name on top of the
 * changes (cbt_backup_volume_get_writer_extents()), and ends the set's
 * writer round (COMPLETE) with the session's outcome. A writer's component
 * that spans a volume the session does not read pulls it into the set; under
 * require cbt_backup_begin() then fails with -EXDEV, cbt_ctx_get_error()
 * naming the volume to add. Otherwise the set holds it (one more member
 * than cbt_backup_get_volume_count()) but the backup does not.
 */
/* LIBCBT_WRITERS_* (default best-effort); before begin. */
int cbt_backup_set_writers(struct cbt_backup *b, int policy);
/*
 * What the writers did: a set handle whose cbt_snapset_get_writer_*()
 * getters answer, after begin (also a failed one) and after end (with the
 * COMPLETE round). NULL before begin. Owned by the session.
 */
const struct cbt_snapset *cbt_backup_get_writer_results(const struct cbt_backup *b);
/*
 * The extents writers named on volume @i (offset, length pairs, bytes):
 * *count pairs at *extents, owned by the session. Read them as well as the
 * changes.
 */
int cbt_backup_volume_get_writer_extents(const struct cbt_backup *b, unsigned int i,
					 const uint64_t **extents, size_t *count);

/* ---- points with writers (CBT_0.3) ------------------------------------------- */

/*
 * Record writer @name's part in the point (its manifest's "writers"):
 * @outcome "ok", "failed" or "skipped", the phase it failed in (NULL: none),
 * the error as text (NULL: none), its message (NULL: none) and its stamp.
 */
int cbt_newpoint_add_writer(struct cbt_newpoint *np, const char *name, const char *outcome,
			    const char *failed_phase, const char *error,
			    const char *message, const void *stamp, size_t len);
unsigned int cbt_point_get_writer_count(struct cbt_point *point);
const char *cbt_point_get_writer_name(struct cbt_point *point, unsigned int i);
const char *cbt_point_get_writer_outcome(struct cbt_point *point, unsigned int i);
const char *cbt_point_get_writer_failed_phase(struct cbt_point *point, unsigned int i);
const char *cbt_point_get_writer_error(struct cbt_point *point, unsigned int i);
const char *cbt_point_get_writer_message(struct cbt_point *point, unsigned int i);
const void *cbt_point_get_writer_stamp(struct cbt_point *point, unsigned int i, size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* LIBCBT_H */
