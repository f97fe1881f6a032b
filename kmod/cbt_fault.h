/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_fault.h - fault injection for the tests (a build with CBT_FAULTS,
 * kmod/out/<kernel>/faults/cbt.ko): knobs that widen the windows the
 * generation proof must survive. A regular build has none of it.
 */
#ifndef CBT_FAULT_H
#define CBT_FAULT_H

#include <linux/types.h>

struct cbt_tracker;

#ifdef CBT_FAULTS
/*
 * Between reading the generation a write marks (@gen) and marking: a
 * write whose submitter's command name is the fault_mark_comm parameter
 * waits (spinning, as the hook may not sleep) until the tracker has opened
 * another generation or fault_mark_wait_ms have passed, then
 * fault_mark_extra_ms more.
 */
void cbt_fault_mark_wait(struct cbt_tracker *t, u64 gen);
#else
static inline void cbt_fault_mark_wait(struct cbt_tracker *t, u64 gen)
{
}
#endif

#endif /* CBT_FAULT_H */
