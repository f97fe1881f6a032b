/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * abuse.h - what the ioctl abuse programs share: the control device, the
 * failure count, one line per check, device numbers of block devices.
 */
#ifndef CBT_TESTS_ABUSE_H
#define CBT_TESTS_ABUSE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "cbt_ioctl.h"

static int fd, failures;

/* @ret is an ioctl's (or syscall's) result; it must fail with @want_errno. */
static void expect(const char *what, int ret, int want_errno)
{
	int got = ret < 0 ? errno : 0;

	if (got == want_errno) {
		printf("ok   %-58s %s\n", what, want_errno ? strerror(want_errno) : "success");
	} else {
		printf("FAIL %-58s got %s, want %s\n", what,
		       got ? strerror(got) : "success",
		       want_errno ? strerror(want_errno) : "success");
		failures++;
	}
}

/* A condition that must hold. */
static inline void check(const char *what, int ok)
{
	errno = EIO;
	expect(what, ok ? 0 : -1, 0);
}

static struct cbt_dev devof(const char *path)
{
	struct cbt_dev d = { 0, 0 };
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISBLK(st.st_mode)) {
		fprintf(stderr, "%s: not a block device\n", path);
		exit(2);
	}
	d.major = major(st.st_rdev);
	d.minor = minor(st.st_rdev);
	return d;
}

#endif /* CBT_TESTS_ABUSE_H */
