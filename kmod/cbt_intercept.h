/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CBT_INTERCEPT_H
#define CBT_INTERCEPT_H

int cbt_intercept_start(void);
void cbt_intercept_stop(void);

#endif
