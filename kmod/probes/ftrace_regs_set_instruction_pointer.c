/* 6.2+: the ftrace_regs accessor that moves the instruction pointer. */
#include <linux/ftrace.h>
void cbt_probe(struct ftrace_regs *fregs);
void cbt_probe(struct ftrace_regs *fregs)
{
	ftrace_regs_set_instruction_pointer(fregs, 0);
}
