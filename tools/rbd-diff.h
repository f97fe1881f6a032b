/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rbd-diff.h - a writer of Ceph's "rbd diff v1" stream (the input of
 * `rbd import-diff`; format: Ceph's doc/dev/rbd-diff.rst).
 *
 * The stream is the header "rbd diff v1\n", then metadata records (from-snap
 * 'f', to-snap 't', image size 's'), then data records in any order ('w'
 * offset, length and the bytes; 'z' offset and length read back as zeroes),
 * then 'e'. Integers are little-endian: le32 name lengths, le64 offsets,
 * lengths and size.
 *
 * Use: rbd_diff_begin(), then rbd_diff_data()/rbd_diff_zero() in ascending
 * offset order, then rbd_diff_end(). The writer turns the runs of zero
 * bytes it is handed into 'z' records and merges adjacent zero runs;
 * nothing is buffered but one pending zero record.
 */
#ifndef CBT_RBD_DIFF_H
#define CBT_RBD_DIFF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Zero runs are found at this granularity (and at the end of a buffer):
 * an aligned 4 KiB of zeroes becomes part of a 'z' record.
 */
#define RBD_DIFF_ZERO_GRAIN	4096u

struct rbd_diff {
	FILE *f;
	uint64_t size;		/* the image size written in 's' */
	uint64_t next;		/* data records must start here or later */
	uint64_t zoff, zlen;	/* the pending 'z' record, when zlen > 0 */
	uint64_t bytes_w, bytes_z;	/* totals, for the caller's report */
	int err;		/* first error: -errno (sticky) */
};

/*
 * Header and metadata. @from may be NULL (a diff from empty: no 'f'
 * record); @to names the snapshot import-diff creates. Names are at most
 * 4096 bytes. Returns 0 or -errno.
 */
int rbd_diff_begin(struct rbd_diff *d, FILE *f, const char *from, const char *to,
		   uint64_t size);
/*
 * @len bytes of @buf at @offset, which must not lie below the end of the
 * previous record nor reach past the size: 'w' for the non-zero parts, 'z'
 * for the zero ones. Returns 0 or -errno (-EINVAL for an offset out of
 * order or out of range).
 */
int rbd_diff_data(struct rbd_diff *d, uint64_t offset, const void *buf, size_t len);
/* A range that reads back as zeroes (same rules as rbd_diff_data). */
int rbd_diff_zero(struct rbd_diff *d, uint64_t offset, uint64_t len);
/* The pending zero record, 'e', and a flush. Returns 0 or -errno. */
int rbd_diff_end(struct rbd_diff *d);

#endif /* CBT_RBD_DIFF_H */
