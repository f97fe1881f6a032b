/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cli.h - what the cbt-snap command files share.
 *
 * Every call into libcbt is in cbt-lib.c, behind the cl_* wrappers below;
 * the command files see only the CLI's own structures.
 */
#ifndef CBT_CLI_H
#define CBT_CLI_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * Usage errors exit 2 (util-linux uses 1 for them; cbt-snap keeps 2 so a
 * script can tell "you called it wrong" from "the request failed").
 */
#define EXIT_USAGE	2

extern const char *prog;

/* ---- messages (cli-util.c) --------------------------------------------- */

void fail_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "cbt-snap: CMD: message" and "Try 'cbt-snap CMD --help' ...", exit 2. */
void usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

/* ---- options (cli-util.c) ---------------------------------------------- */

struct cmd_opts {
	const char *cmd;		/* "attach", "snapshot create", ... */
	void (*usage)(void);		/* prints the command's help on stdout */
	const char *shortopts;		/* without the leading ':' */
	const struct option *longopts;	/* must include "help" -> 'h' */
	const int *repeatable;		/* option values that may repeat, 0-ended */
	unsigned long seen;
};
/*
 * getopt_long() for one command: -h/--help prints the command's usage and
 * exits 0; an unknown option, a missing argument or a repeated option is
 * a usage error naming the word at fault. Returns the option or -1.
 */
int next_opt(struct cmd_opts *o, int argc, char **argv);
void opts_reset(void);

/* ---- strict parsers (cli-util.c); on bad input a usage error ---------- */

/* Digits, optionally K, M, G or T (powers of 1024), optionally + "iB". */
int parse_size(const char *text, uint64_t *bytes);
/* Digits, optionally ms, s, m or h; a bare number is milliseconds. */
int parse_duration_ms(const char *text, uint64_t *ms);
/* Digits, optionally followed by %, at most 100. */
int parse_percent(const char *text, unsigned int *pct);
/* Plain decimal digits, 1 to UINT32_MAX. */
int parse_id(const char *text, uint32_t *id);

/* ---- tables (cli-util.c), libsmartcols -------------------------------- */

enum col_type { COL_STRING, COL_NUMBER, COL_BOOL, COL_ARRAY };

struct col_info {
	const char *name;	/* header; the JSON key is its lower case */
	double whint;
	enum col_type type;
	int right;		/* right-aligned */
	const char *help;
};

#define MAX_COLS	32

struct out_opts {
	int json, raw, noheadings;
	const char *columns;	/* -o argument, or NULL */
	int cols[MAX_COLS];
	size_t ncols;
};

/* Output options: -o/--output, -J/--json, -r/--raw, -n/--noheadings. */
#define OUT_SHORTOPTS	"o:Jrn"
#define OUT_LONGOPTS \
	{ "output", required_argument, NULL, 'o' }, \
	{ "json", no_argument, NULL, 'J' }, \
	{ "raw", no_argument, NULL, 'r' }, \
	{ "noheadings", no_argument, NULL, 'n' }
/* Takes an output option; 1 if @c was one. */
int out_opt(struct out_opts *out, int c, const char *arg);
/*
 * Resolve the columns: -o LIST (a leading + adds to the defaults), else
 * the defaults (-1 ended), or with --json every column.
 */
void out_columns(const char *cmd, struct out_opts *out, const struct col_info *cols,
		 size_t ncols, const int *defaults);
void print_columns_help(const struct col_info *cols, size_t ncols);

struct libscols_table;
struct libscols_line;
struct libscols_table *out_table(const struct out_opts *out, const struct col_info *cols,
				 const char *name, int tree);
/* Set cell @k (index into out->cols) of @ln if column @col is shown. */
void out_cell(const struct out_opts *out, struct libscols_line *ln, int col,
	      const char *text);
void out_cell_u64(const struct out_opts *out, struct libscols_line *ln, int col,
		  uint64_t v);
void out_cell_bool(const struct out_opts *out, struct libscols_line *ln, int col, int v);
/* An array cell: @items are '\n' separated (comma separated in tables). */
void out_cell_array(const struct out_opts *out, struct libscols_line *ln, int col,
		    const char *items);

/* ---- libcbt, through these wrappers only (cbt-lib.c) ------------------- */

struct cbt_ctx;

#define CL_STAMP_MAX	64

struct cl_volume {
	char *path;
	unsigned int major, minor;
	char tracker_uuid[37];
	uint64_t generation, oldest, device_size, blocks, changed, map_bytes;
	uint32_t block_size;
	int lost;
};

struct cl_member {
	const char *volume, *stamp, *image;
	unsigned int frozen;
};

/* state bits, as the library's */
#define CL_SET_LOW_SPACE	(1u << 0)
#define CL_SET_OVERFLOW		(1u << 1)
#define CL_SET_INVALID		(1u << 2)
#define CL_SET_DESTROYED	(1u << 3)
#define CL_SET_WRITABLE		(1u << 4)

struct cl_set_state {
	uint32_t state;
	unsigned int stores;
	uint64_t store_size, store_used, chunks_copied;
	int error;
};

struct cl_set {
	char *writers_text;	/* create: each writer's outcome, a line each, or NULL */
	char *writers_json;	/* create: the same as a JSON array, or NULL */
	char *error;		/* create failed: why, in one line, or NULL */
	uint32_t id;
	uint64_t hold_ns;
	unsigned int nmembers;
	struct cl_member *members;
	struct cl_set_state st;
	void *handle;
};

const char *cl_strerror(int err);
const char *cl_library_version(void);
/* The loaded module's version as text; -ENOENT when it is not loaded. */
int cl_module_version(char *buf, size_t len);
/* Open the control device, reporting failure on stderr; 0 or 1. */
int cl_open(struct cbt_ctx **ctx);
void cl_close(struct cbt_ctx *ctx);
/* One line on stderr for a library error; returns the exit status 1. */
int report(int err, const char *what);
/* Reject a volume the library cannot resolve, reporting it; 0 or 1. */
int cl_check_volume(const char *vol);
int cl_resolve(const char *vol, dev_t *dev);
int cl_attach(struct cbt_ctx *ctx, const char *vol, uint32_t block_size);
int cl_detach(struct cbt_ctx *ctx, const char *vol);
int cl_checkpoint(struct cbt_ctx *ctx, const char *vol, unsigned int timeout_ms,
		  char stamp[CL_STAMP_MAX]);
int cl_stamp_check(const char *stamp);
int cl_volume_list(struct cbt_ctx *ctx, dev_t **devs, size_t *n);
/* Fills @v (v->path is freed with cl_volume_clear). */
int cl_volume_info(struct cbt_ctx *ctx, dev_t dev, struct cl_volume *v);
void cl_volume_clear(struct cl_volume *v);

struct cl_changes;
int cl_changes_open(struct cbt_ctx *ctx, const char *vol, const char *since,
		    uint64_t offset, uint64_t length, struct cl_changes **it);
int cl_changes_next(struct cl_changes *it, uint64_t *offset, uint64_t *length);
uint32_t cl_changes_block_size(struct cl_changes *it);
void cl_changes_free(struct cl_changes *it);

#define CL_CREATE_NO_FREEZE	(1u << 0)
#define CL_CREATE_WRITABLE	(1u << 1)
int cl_set_create(struct cbt_ctx *ctx, const char *const *vols, unsigned int nvols,
		  const char *const *stores, unsigned int nstores, unsigned int flags,
		  unsigned int hold_ms, unsigned int low_space, struct cl_set *set);
/* The writers' policy cl_set_create() asks for (LIBCBT_WRITERS_*: 0 best-effort). */
extern int cl_writers_policy;
int cl_set_list(struct cbt_ctx *ctx, uint32_t **ids, size_t *n);
/* A set's members and state now. */
int cl_set_open(struct cbt_ctx *ctx, uint32_t id, struct cl_set *set);
int cl_set_destroy(struct cl_set *set);
int cl_set_grow(struct cl_set *set, const char *store);
/* 1 and a state, 0 once destroyed and reported, or -errno. */
int cl_set_next_event(struct cl_set *set, struct cl_set_state *st);
void cl_set_free(struct cl_set *set);

/* ---- commands ---------------------------------------------------------- */

int cmd_snapshot(int argc, char **argv);
int cmd_export(int argc, char **argv);	/* export-cmd.c */
void usage_snapshot_list(FILE *f);

#endif /* CBT_CLI_H */
