/* 6.4+: a module's memory is described by mem[MOD_TEXT], ... */
#include <linux/module.h>
unsigned long cbt_probe(struct module *mod);
unsigned long cbt_probe(struct module *mod)
{
	return (unsigned long)mod->mem[MOD_TEXT].base + mod->mem[MOD_TEXT].size;
}
