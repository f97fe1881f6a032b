/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CBT_INTERCEPT_H
#define CBT_INTERCEPT_H

#include <linux/types.h>

struct bio;

/*
 * The hook is registered while it has users (trackers): get registers it
 * on first use (it may sleep), put unregisters it after the last, once
 * every task sent to our handler has left it.
 */
int cbt_intercept_get(void);
void cbt_intercept_put(void);
/* Is the hook in place? (debugfs) */
bool cbt_intercept_active(void);
/* Submit a bio that was held (copy-on-write) through the write path again. */
void cbt_resubmit_bio(struct bio *bio);

#endif
