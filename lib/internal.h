/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * internal.h - what the library's source files (and its unit tests, which
 * link the objects directly) share; not installed.
 */
#ifndef LIBCBT_INTERNAL_H
#define LIBCBT_INTERNAL_H

#include "libcbt.h"
#include "cbt_ioctl.h"

#define CBT_CTL_PATH		"/dev/" CBT_CTL_NAME

/*
 * CBT_IOC_LIST fills at most this many entries a call, whatever the
 * capacity (cbt_ioctl.h: "the first min(count, capacity, 4096)").
 */
#define CBT__LIST_FILL_MAX	4096u

/* A stamp's text: a UUID, ':', a 64-bit generation, NUL. */
#define CBT__STAMP_LEN		(36 + 1 + 20 + 1)

struct cbt_ctx {
	int fd;			/* the control device */
	int refs;		/* __atomic: cbt_ctx_ref/unref, handles */
};

/* Where the sysfs scan of cbt_ctx_get_tracked() looks; tests move it. */
extern const char *cbt__sysfs_dev_block;

/* A context on an open descriptor (taken over), for cbt_ctx_new and tests. */
int cbt__ctx_new_fd(int fd, struct cbt_ctx **ctx);
/* ioctl on the control device: 0 or a negative errno. */
int cbt__ioctl(struct cbt_ctx *ctx, unsigned long cmd, void *arg);
/* A stamp's text form, freshly allocated (NULL: out of memory). */
char *cbt__stamp_format(const struct cbt_stamp *s);
/* A stamp's text form into the ABI's stamp (-EINVAL if malformed). */
int cbt__stamp_parse(const char *text, struct cbt_stamp *s);
/* cbt_strerror() without tracing. */
const char *cbt__errtext(int err);
/* The /dev path of a device number, or "MAJ:MIN"; NULL: out of memory. */
char *cbt__devno_path(dev_t dev);

/* ---- backup anchors (anchor.c) ------------------------------------------------ */

/* Limits of an anchor file: beyond them it is not ours (-EBADMSG). */
#define CBT__ANCHOR_FILE_MAX	(16u << 20)
#define CBT__ANCHOR_VOLUMES_MAX	4096u

/* One volume's bases in a chain; "" when there is none. */
struct cbt__anchor {
	dev_t dev;
	char incr[CBT__STAMP_LEN];	/* last FULL, INCREMENTAL or DIFFERENTIAL */
	char diff[CBT__STAMP_LEN];	/* last FULL */
};

struct cbt__meta {
	char *name;
	unsigned char *data;
	size_t len;
};

/* A chain's anchors and the metadata its last successful backup kept. */
struct cbt__anchors {
	struct cbt__anchor *v;
	size_t nv;
	struct cbt__meta *m;
	size_t nm;
};

/* 0 if @name is a valid chain name, else -EINVAL. */
int cbt__chain_check(const char *name);
/* 0 if @name is a valid metadata name, else -EINVAL. */
int cbt__meta_name_check(const char *name);
/* Open (creating it 0700 if missing) and check the state directory. */
int cbt__state_open(const char *path, int *dirfd);
/* Take the chain's lock (CHAIN.lock in @dirfd): -EBUSY when held. */
int cbt__chain_lock(int dirfd, const char *chain, int *lockfd);
/* Parse an anchor file's text (-EBADMSG when it is not a valid one). */
int cbt__anchors_parse(const char *text, size_t len, struct cbt__anchors *a);
/* The text of an anchor file (malloc'd; NULL: out of memory). */
char *cbt__anchors_format(const struct cbt__anchors *a, size_t *len);
/* Read the chain's anchors (none yet: empty, 0). */
int cbt__anchors_load(int dirfd, const char *chain, struct cbt__anchors *a);
/* Write them atomically (temporary file, fsync, rename, fsync dir). */
int cbt__anchors_save(int dirfd, const char *chain, const struct cbt__anchors *a);
/* The entry for @dev, added (empty) if @create; NULL: none, or no memory. */
struct cbt__anchor *cbt__anchors_find(struct cbt__anchors *a, dev_t dev, int create);
/* Set (copy) or, with @len 0, remove metadata @name. */
int cbt__meta_set(struct cbt__meta **m, size_t *nm, const char *name,
		  const void *data, size_t len);
void cbt__meta_clear(struct cbt__meta **m, size_t *nm);
void cbt__anchors_clear(struct cbt__anchors *a);

/* An iterator that yields [0, size) as one extent (FULL, COPY). */
int cbt__changes_open_all(struct cbt_ctx *ctx, uint64_t size, uint32_t block_size,
			  struct cbt_changes_iter **it);
/* A copy of snapset options. */
int cbt__snapset_opts_dup(const struct cbt_snapset_opts *o,
			  struct cbt_snapset_opts **out);
/* 1 when the options name the volume @dev, else 0. */
int cbt__snapset_opts_has_volume(const struct cbt_snapset_opts *o, dev_t dev);

/* ---- writers (writer.c) ---------------------------------------------------------- */

/* This thread's last error on a context (cbt_ctx_get_error()). */
void cbt__set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "freeze", ... for a LIBCBT_WRITER_* phase; NULL otherwise. */
const char *cbt__phase_name(int phase);
/* 0 if @name is a valid writer name (printable ASCII, 1..63 bytes). */
int cbt__writer_name_check(const char *name);
/*
 * The volumes of @tracked beneath @path, walking sysfs from
 * cbt__sysfs_dev_block: *devs (malloc'd) and *count; -ENODEV for none.
 */
int cbt__resolve_tracked(const char *path, const dev_t *tracked, size_t nt, dev_t **devs,
			 size_t *count);
/* The same from device @d. */
int cbt__tracked_below(dev_t d, const dev_t *tracked, size_t nt, dev_t **devs, size_t *count);

/* ---- LIBCBT_DEBUG ---------------------------------------------------------- */

/* Parse a LIBCBT_DEBUG value into a LIBCBT_DEBUG_* mask (unknown names: 0). */
unsigned int cbt__debug_parse(const char *text);
/* The mask in force (LIBCBT_DEBUG read at the first call). */
unsigned int cbt__debug_mask(void);
/* Forget the mask, so the next call reads LIBCBT_DEBUG again (tests). */
void cbt__debug_reset(void);
/* "libcbt: <text>" on stderr when @mask is traced. */
void cbt__trace(unsigned int mask, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Trace "<call> = ret (sentence)" and return @ret. */
int cbt__ret(unsigned int mask, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define CBT__S(s)	((s) ? (s) : "(null)")

#endif /* LIBCBT_INTERNAL_H */
