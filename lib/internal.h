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
