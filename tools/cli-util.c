// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cli-util.c - cbt-snap's messages, option loop, strict parsers and tables.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libsmartcols.h>

#include "cli.h"

void fail_msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s%s", prog, cmd ? cmd : "", cmd ? ": " : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry '%s%s%s --help' for more information.\n", prog,
		cmd ? " " : "", cmd ? cmd : "");
	exit(EXIT_USAGE);
}

void opts_reset(void)
{
	optind = 0;	/* 0: glibc reinitialises its state */
	opterr = 0;
}

/* The argv word holding unknown short option @ch. */
static const char *short_word(int argc, char **argv, int ch)
{
	if (optind < argc && argv[optind][0] == '-' && argv[optind][1] != '-' &&
	    strchr(argv[optind] + 1, ch) && optind > 0 &&
	    !(argv[optind - 1][0] == '-' && strchr(argv[optind - 1] + 1, ch)))
		return argv[optind];
	return optind > 0 ? argv[optind - 1] : "?";
}

int next_opt(struct cmd_opts *o, int argc, char **argv)
{
	char shortopts[64];
	int c, i, ok;

	snprintf(shortopts, sizeof(shortopts), ":%sh", o->shortopts);
	c = getopt_long(argc, argv, shortopts, o->longopts, NULL);
	if (c == -1)
		return c;
	if (c == 'h') {
		o->usage();
		exit(0);
	}
	if (c == '?') {
		if (optopt && optopt < 256 && !(optind > 0 && !strncmp(argv[optind - 1], "--", 2)))
			usage_error(o->cmd, "unrecognized option '%s'",
				    short_word(argc, argv, optopt));
		if (optopt && strchr(argv[optind - 1], '='))
			usage_error(o->cmd, "option '%.*s' doesn't allow an argument",
				    (int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
		usage_error(o->cmd, "unrecognized option '%s'", argv[optind - 1]);
	}
	if (c == ':') {
		if (!strncmp(argv[optind - 1], "--", 2))
			usage_error(o->cmd, "option '%s' requires an argument", argv[optind - 1]);
		usage_error(o->cmd, "option '-%c' requires an argument", optopt);
	}
	for (i = 0; o->longopts[i].name; i++) {
		if (o->longopts[i].val != c)
			continue;
		for (ok = 0; o->repeatable && o->repeatable[ok]; ok++)
			if (o->repeatable[ok] == c)
				break;
		if (o->repeatable && o->repeatable[ok])
			break;
		if (o->seen & (1ul << i))
			usage_error(o->cmd, "option '--%s' given more than once",
				    o->longopts[i].name);
		o->seen |= 1ul << i;
		break;
	}
	return c;
}

/* Digits only, no sign, no space, in range: the number and the rest. */
static int digits(const char *text, uint64_t *v, const char **rest)
{
	uint64_t n = 0;
	const char *p = text;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	*v = n;
	*rest = p;
	return 0;
}

int parse_size(const char *text, uint64_t *bytes)
{
	static const char units[] = "KMGT";
	const char *rest, *u;
	uint64_t v;
	int shift = 0;

	if (digits(text, &v, &rest))
		return -EINVAL;
	if (*rest) {
		u = strchr(units, *rest);
		if (!u || !*u)
			return -EINVAL;
		shift = 10 * (int)(u - units + 1);
		rest++;
		if (!strcmp(rest, "iB"))
			rest += 2;
		if (*rest)
			return -EINVAL;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*bytes = v << shift;
	return 0;
}

int parse_duration_ms(const char *text, uint64_t *ms)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
	};
	const char *rest;
	uint64_t v;
	size_t i;

	if (digits(text, &v, &rest))
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(rest, units[i].unit)) {
			if (v > UINT64_MAX / units[i].ms)
				return -ERANGE;
			*ms = v * units[i].ms;
			return 0;
		}
	return -EINVAL;
}

int parse_percent(const char *text, unsigned int *pct)
{
	const char *rest;
	uint64_t v;

	if (digits(text, &v, &rest) || (*rest && strcmp(rest, "%")) || v > 100)
		return -EINVAL;
	*pct = (unsigned int)v;
	return 0;
}

int parse_id(const char *text, uint32_t *id)
{
	const char *rest;
	uint64_t v;

	if (digits(text, &v, &rest) || *rest || !v || v > UINT32_MAX)
		return -EINVAL;
	*id = (uint32_t)v;
	return 0;
}

/* ---- tables ------------------------------------------------------------ */

int out_opt(struct out_opts *out, int c, const char *arg)
{
	switch (c) {
	case 'o':
		out->columns = arg;
		return 1;
	case 'J':
		out->json = 1;
		return 1;
	case 'r':
		out->raw = 1;
		return 1;
	case 'n':
		out->noheadings = 1;
		return 1;
	}
	return 0;
}

static void add_col(const char *cmd, struct out_opts *out, int col)
{
	if (out->ncols == MAX_COLS)
		usage_error(cmd, "too many columns");
	out->cols[out->ncols++] = col;
}

void out_columns(const char *cmd, struct out_opts *out, const struct col_info *cols,
		 size_t ncols, const int *defaults)
{
	const char *p = out->columns;
	size_t i;

	out->ncols = 0;
	if (!p || *p == '+') {
		if (out->json && !p)
			for (i = 0; i < ncols; i++)
				add_col(cmd, out, (int)i);
		else
			for (i = 0; defaults[i] >= 0; i++)
				add_col(cmd, out, defaults[i]);
		if (!p)
			return;
		p++;
	}
	while (*p) {
		size_t len = strcspn(p, ",");

		for (i = 0; i < ncols; i++)
			if (strlen(cols[i].name) == len && !strncasecmp(p, cols[i].name, len))
				break;
		if (i == ncols)
			usage_error(cmd, "unknown column '%.*s'", (int)len, p);
		add_col(cmd, out, (int)i);
		p += len;
		if (*p == ',' && *++p == '\0')
			usage_error(cmd, "empty column name in '%s'", out->columns);
	}
	if (!out->ncols)
		usage_error(cmd, "no columns in '%s'", out->columns);
}

void print_columns_help(const struct col_info *cols, size_t ncols)
{
	size_t i;

	printf("\nAvailable output columns (JSON keys are their lower case):\n");
	for (i = 0; i < ncols; i++)
		printf(" %14s  %s\n", cols[i].name, cols[i].help);
}

struct libscols_table *out_table(const struct out_opts *out, const struct col_info *cols,
				 const char *name, int tree)
{
	struct libscols_table *tb = scols_new_table();
	size_t i;

	if (!tb) {
		fail_msg("out of memory");
		exit(1);
	}
	scols_table_enable_json(tb, out->json);
	scols_table_set_name(tb, name);
	scols_table_enable_raw(tb, out->raw);
	scols_table_enable_noheadings(tb, out->noheadings);
	for (i = 0; i < out->ncols; i++) {
		const struct col_info *ci = &cols[out->cols[i]];
		int fl = ci->right ? SCOLS_FL_RIGHT : 0;
		struct libscols_column *cl;

		if (tree && i == 0 && !out->raw)	/* raw: a flat list, as lsblk -r */
			fl = SCOLS_FL_TREE;
		cl = scols_table_new_column(tb, ci->name, ci->whint, fl);
		if (!cl) {
			fail_msg("out of memory");
			exit(1);
		}
		switch (ci->type) {
		case COL_NUMBER:
			scols_column_set_json_type(cl, SCOLS_JSON_NUMBER);
			break;
		case COL_BOOL:
			scols_column_set_json_type(cl, SCOLS_JSON_BOOLEAN);
			break;
		case COL_ARRAY:
			/* items are '\n' separated in JSON mode */
			scols_column_set_json_type(cl, SCOLS_JSON_ARRAY_STRING);
			scols_column_set_flags(cl, scols_column_get_flags(cl) | SCOLS_FL_WRAP);
			scols_column_set_wrapfunc(cl, scols_wrapnl_chunksize,
						  scols_wrapnl_nextchunk, NULL);
			scols_column_set_safechars(cl, "\n");
			break;
		default:
			scols_column_set_json_type(cl, SCOLS_JSON_STRING);
			break;
		}
	}
	return tb;
}

void out_cell(const struct out_opts *out, struct libscols_line *ln, int col,
	      const char *text)
{
	size_t i;

	if (!text)
		return;
	for (i = 0; i < out->ncols; i++)
		if (out->cols[i] == col && scols_line_set_data(ln, i, text)) {
			fail_msg("out of memory");
			exit(1);
		}
}

void out_cell_u64(const struct out_opts *out, struct libscols_line *ln, int col,
		  uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	out_cell(out, ln, col, buf);
}

void out_cell_bool(const struct out_opts *out, struct libscols_line *ln, int col, int v)
{
	/* libsmartcols: "0", "n..." and "" are false in JSON */
	out_cell(out, ln, col, v ? "yes" : "no");
}

void out_cell_array(const struct out_opts *out, struct libscols_line *ln, int col,
		    const char *items)
{
	char *s = strdup(items), *p;

	if (!s) {
		fail_msg("out of memory");
		exit(1);
	}
	if (!out->json)
		for (p = s; *p; p++)
			if (*p == '\n')
				*p = ',';
	out_cell(out, ln, col, s);
	free(s);
}
