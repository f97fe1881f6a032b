// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * debug.c - LIBCBT_DEBUG: which calls are traced to stderr, and the tracing.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "internal.h"

/* Bit 31 set: the environment was read; the low bits are the mask. */
#define MASK_READ	(1u << 31)

static unsigned int debug_mask;	/* __atomic; 0: not read yet */

static const struct {
	const char *name;
	unsigned int mask;
} debug_names[] = {
	{ "all", LIBCBT_DEBUG_ALL },
	{ "ctx", LIBCBT_DEBUG_CTX },
	{ "volume", LIBCBT_DEBUG_VOLUME },
	{ "changes", LIBCBT_DEBUG_CHANGES },
	{ "snapset", LIBCBT_DEBUG_SNAPSET },
	{ "store", LIBCBT_DEBUG_STORE },
	{ "util", LIBCBT_DEBUG_UTIL },
	{ "backup", LIBCBT_DEBUG_BACKUP },
	{ "writer", LIBCBT_DEBUG_WRITER },
};

/*
 * "all", a comma-separated list of names, or a number (decimal or 0x hex)
 * as libmount takes LIBMOUNT_DEBUG. Unknown names count for nothing.
 */
unsigned int cbt__debug_parse(const char *text)
{
	unsigned int mask = 0;
	const char *p = text;
	size_t i, len;

	if (!text || !*text)
		return 0;
	if (*text >= '0' && *text <= '9') {
		char *end;
		unsigned long v = strtoul(text, &end, 0);

		return *end ? 0 : (unsigned int)(v & LIBCBT_DEBUG_ALL);
	}
	while (*p) {
		len = strcspn(p, ",");
		for (i = 0; i < sizeof(debug_names) / sizeof(debug_names[0]); i++)
			if (strlen(debug_names[i].name) == len &&
			    !strncasecmp(p, debug_names[i].name, len))
				mask |= debug_names[i].mask;
		p += len;
		if (*p == ',')
			p++;
	}
	return mask;
}

unsigned int cbt__debug_mask(void)
{
	unsigned int m = __atomic_load_n(&debug_mask, __ATOMIC_ACQUIRE);

	if (!m) {
		/* Two threads may both read it: they compute the same value. */
		m = cbt__debug_parse(getenv("LIBCBT_DEBUG")) | MASK_READ;
		__atomic_store_n(&debug_mask, m, __ATOMIC_RELEASE);
	}
	return m & ~MASK_READ;
}

void cbt__debug_reset(void)
{
	__atomic_store_n(&debug_mask, 0, __ATOMIC_RELEASE);
}

static void vtrace(const char *fmt, va_list ap, const char *tail)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	/* One write a line, so lines of different threads do not mix. */
	fprintf(stderr, "libcbt: [%d] %s%s\n", (int)getpid(), line, tail);
}

void cbt__trace(unsigned int mask, const char *fmt, ...)
{
	va_list ap;

	if (!(cbt__debug_mask() & mask))
		return;
	va_start(ap, fmt);
	vtrace(fmt, ap, "");
	va_end(ap);
}

int cbt__ret(unsigned int mask, int ret, const char *fmt, ...)
{
	char tail[320];
	va_list ap;

	if (!(cbt__debug_mask() & mask))
		return ret;
	if (ret < 0)
		snprintf(tail, sizeof(tail), " = %d (%s)", ret, cbt__errtext(ret));
	else
		snprintf(tail, sizeof(tail), " = %d", ret);
	va_start(ap, fmt);
	vtrace(fmt, ap, tail);
	va_end(ap);
	return ret;
}
