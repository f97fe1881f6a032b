/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_writer.h - writers: applications that take part in snapshot sets.
 *
 * cbt_ctl.c drives a set's creation through a round:
 *
 *   cbt_round_prepare()   check the request, choose the writers (EXDEV)
 *   cbt_round_lock()      the round mutex, before the set's id is reserved
 *   cbt_round_start()     PREPARE, FREEZE, each acked (or failed)
 *   cbt_snapset_create()  the instant
 *   cbt_round_instant()   THAW and POST_SNAPSHOT, or ABORT if no set
 *   cbt_round_finish()    the results to the caller; the round lives on
 *                         with the set (END, RESULTS) until it is gone
 *
 * and every destroy of a set through cbt_writer_destroy_begin() and
 * cbt_writer_destroy_end() around cbt_snapset_destroy().
 */
#ifndef CBT_WRITER_H
#define CBT_WRITER_H

#include <linux/seq_file.h>
#include <linux/types.h>
#include "cbt_ioctl.h"

struct cbt_round;

int cbt_writer_register(void __user *arg);
int cbt_writer_list(void __user *arg);
int cbt_writer_results(void __user *arg);
int cbt_writer_end(void __user *arg);

int cbt_round_prepare(u64 uwriters, const struct cbt_snap_member *m,
		      unsigned int count, struct cbt_dev *missing,
		      struct cbt_round **rp);
int cbt_round_lock(struct cbt_round *r);
int cbt_round_start(struct cbt_round *r, u32 set_id);
int cbt_round_instant(struct cbt_round *r, int created);
int cbt_round_finish(struct cbt_round *r, bool made, u64 uwriters);
/* Around a set's destruction: ABORT unless ended, then forget its round. */
struct cbt_round *cbt_writer_destroy_begin(u32 set_id);
void cbt_writer_destroy_end(struct cbt_round *r, bool destroyed);
void cbt_writer_reap(void);
void cbt_writer_show(struct seq_file *m);
void cbt_writer_exit(void);

#endif
