/*
 * 6.3+ (with DYNAMIC_FTRACE_WITH_ARGS): a callback reads a traced
 * function's arguments from the registers ftrace saves anyway, so the hook
 * need not ask for all of them (FTRACE_OPS_FL_SAVE_REGS) on every call.
 */
#include <linux/ftrace.h>
unsigned long cbt_probe(struct ftrace_regs *fregs);
unsigned long cbt_probe(struct ftrace_regs *fregs)
{
	return ftrace_regs_get_argument(fregs, 0);
}
