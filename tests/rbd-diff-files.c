// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rbd-diff-files - the rbd diff v1 writer (tools/rbd-diff.c) on two image
 * files, for tests/host/ceph.bats: its output goes to `rbd import-diff`.
 *
 *   rbd-diff-files [--from NAME OLD] TONAME NEW
 *
 * Writes to stdout the diff from snapshot NAME (holding OLD) to TONAME
 * (holding NEW): every 64 KiB block of NEW that differs from OLD's (OLD read
 * as zeroes past its end). Without --from, a diff from empty: every block of
 * NEW that is not all zeroes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rbd-diff.h"

#define BLOCK	65536

static size_t read_block(FILE *f, unsigned char *buf)
{
	size_t n = f ? fread(buf, 1, BLOCK, f) : 0;

	if (f && ferror(f)) {
		fprintf(stderr, "rbd-diff-files: read error: %s\n", strerror(errno));
		exit(1);
	}
	memset(buf + n, 0, BLOCK - n);
	return n;
}

int main(int argc, char **argv)
{
	static unsigned char a[BLOCK], b[BLOCK], zero[BLOCK];
	const char *from = NULL, *to;
	FILE *old = NULL, *new;
	struct rbd_diff d;
	struct stat st;
	uint64_t off;
	int ret;

	if (argc == 6 && !strcmp(argv[1], "--from")) {
		from = argv[2];
		old = fopen(argv[3], "rb");
		if (!old) {
			perror(argv[3]);
			return 1;
		}
		argv += 3;
		argc -= 3;
	}
	if (argc != 3) {
		fprintf(stderr, "usage: rbd-diff-files [--from NAME OLD] TONAME NEW\n");
		return 2;
	}
	to = argv[1];
	new = fopen(argv[2], "rb");
	if (!new || fstat(fileno(new), &st)) {
		perror(argv[2]);
		return 1;
	}
	ret = rbd_diff_begin(&d, stdout, from, to, (uint64_t)st.st_size);
	for (off = 0; !ret && off < (uint64_t)st.st_size; off += BLOCK) {
		size_t n = read_block(new, b);

		read_block(old, a);
		if (old ? !memcmp(a, b, n) : !memcmp(zero, b, n))
			continue;
		ret = rbd_diff_data(&d, off, b, n);
	}
	if (!ret)
		ret = rbd_diff_end(&d);
	if (ret) {
		fprintf(stderr, "rbd-diff-files: %s\n", strerror(-ret));
		return 1;
	}
	return 0;
}
