/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_intercept.h - the write hooks (see cbt_intercept.c).
 */
#ifndef CBT_INTERCEPT_H
#define CBT_INTERCEPT_H

#include <linux/types.h>

/*
 * The hooks are registered while they have users (trackers): get registers
 * them on first use (it may sleep), put unregisters them after the last,
 * once every task sent to our handler has left it.
 */
int cbt_intercept_get(void);
void cbt_intercept_put(void);
/* Are the hooks in place? (debugfs) */
bool cbt_intercept_active(void);

#endif /* CBT_INTERCEPT_H */
