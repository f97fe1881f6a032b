/* SPDX-License-Identifier: GPL-2.0 */
#ifndef CBT_CTL_H
#define CBT_CTL_H

int cbt_ctl_init(void);
void cbt_ctl_exit(void);

#endif
