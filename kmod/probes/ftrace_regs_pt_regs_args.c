/*
 * Before ftrace_regs_get_argument() (6.1 on x86): with
 * DYNAMIC_FTRACE_WITH_ARGS, ftrace_regs is a struct pt_regs whose argument
 * registers ftrace saves on every call, so the hook can read its bio there
 * without asking for a full register save.
 */
#include <linux/ftrace.h>
#include <linux/ptrace.h>
#ifndef CONFIG_HAVE_DYNAMIC_FTRACE_WITH_ARGS
#error arguments need FTRACE_OPS_FL_SAVE_REGS here
#endif
unsigned long cbt_probe(struct ftrace_regs *fregs);
unsigned long cbt_probe(struct ftrace_regs *fregs)
{
	return regs_get_kernel_argument(&fregs->regs, 0);
}
