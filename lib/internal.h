/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * internal.h - what the library's source files share; not installed.
 */
#ifndef LIBCBT_INTERNAL_H
#define LIBCBT_INTERNAL_H

#include "libcbt.h"
#include "cbt_ioctl.h"

#define CBT_CTL_PATH		"/dev/" CBT_CTL_NAME

struct cbt_ctx {
	int fd;
};

/* ioctl on the control device: 0 or a negative errno. */
int cbt__ioctl(struct cbt_ctx *ctx, unsigned long cmd, void *arg);
/* Resolve a volume name into the ABI's device number. */
int cbt__to_dev(const char *volume, struct cbt_dev *d);
/* A stamp's text form into out[CBT_STAMP_MAX]. */
void cbt__stamp_format(const struct cbt_stamp *s, char *out);

#endif /* LIBCBT_INTERNAL_H */
