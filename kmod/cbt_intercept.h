/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CBT_INTERCEPT_H
#define CBT_INTERCEPT_H

struct bio;

int cbt_intercept_start(void);
void cbt_intercept_stop(void);
/* Submit a bio that was held (copy-on-write) through the write path again. */
void cbt_resubmit_bio(struct bio *bio);

#endif
