// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * snapshot-cmd.c - cbt-snap snapshot create|list|destroy|watch.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <libsmartcols.h>
#include <json-c/json.h>

#include "cli.h"
#include "writer-hooks.h"

#define MAX_STORES	64
#define MAX_VOLUMES	16

/* ---- the snapsets table (create --json, list) --------------------------- */

enum {
	S_ID, S_STATE, S_STORE_SIZE, S_STORE_USED, S_STORES, S_CHUNKS, S_HOLD,
	S_VOLUME, S_STAMP, S_IMAGE, S_FROZEN, S_QUIESCED,
};

static const struct col_info set_cols[] = {
	[S_ID] = { "ID", 4, COL_NUMBER, 0, "set id" },
	[S_STATE] = { "STATE", 8, COL_ARRAY, 0, "ok, overflow, invalid, low-space, writable" },
	[S_STORE_SIZE] = { "STORE-SIZE", 10, COL_NUMBER, 1, "store size, bytes" },
	[S_STORE_USED] = { "STORE-USED", 10, COL_NUMBER, 1, "store used, bytes" },
	[S_STORES] = { "STORES", 3, COL_NUMBER, 1, "files or devices in the store" },
	[S_CHUNKS] = { "CHUNKS-COPIED", 6, COL_NUMBER, 1, "chunks copied to the store" },
	[S_HOLD] = { "HOLD-NS", 8, COL_NUMBER, 1, "how long writes were held at the instant, ns" },
	[S_VOLUME] = { "VOLUME", 0.2, COL_STRING, 0, "member: volume path" },
	[S_STAMP] = { "STAMP", 0.2, COL_STRING, 0, "member: stamp the set closed" },
	[S_IMAGE] = { "IMAGE", 0.2, COL_STRING, 0, "member: image device" },
	[S_FROZEN] = { "FROZEN", 3, COL_NUMBER, 1, "member: filesystems frozen at the instant" },
	[S_QUIESCED] = { "QUIESCED", 3, COL_BOOL, 0, "member: FROZEN > 0" },
};
#define N_SET_COLS (sizeof(set_cols) / sizeof(set_cols[0]))

static const int set_defaults[] = {
	S_ID, S_STATE, S_STORE_USED, S_STORE_SIZE, S_VOLUME, S_STAMP, S_IMAGE, -1,
};

static void state_items(uint32_t state, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s",
		 state & (CL_SET_OVERFLOW | CL_SET_INVALID) ? "" : "ok\n",
		 state & CL_SET_OVERFLOW ? "overflow\n" : "",
		 state & CL_SET_INVALID ? "invalid\n" : "",
		 state & CL_SET_LOW_SPACE ? "low-space\n" : "",
		 state & CL_SET_WRITABLE ? "writable\n" : "");
	len = strlen(buf);
	if (len)
		buf[len - 1] = '\0';
}

/* A set line, its members as child lines. */
static void set_lines(const struct out_opts *out, struct libscols_table *tb,
		      const struct cl_set *set)
{
	struct libscols_line *ln = scols_table_new_line(tb, NULL), *m;
	char state[64];
	unsigned int i;

	if (!ln)
		goto nomem;
	state_items(set->st.state, state, sizeof(state));
	out_cell_u64(out, ln, S_ID, set->id);
	out_cell_array(out, ln, S_STATE, state);
	out_cell_u64(out, ln, S_STORE_SIZE, set->st.store_size);
	out_cell_u64(out, ln, S_STORE_USED, set->st.store_used);
	out_cell_u64(out, ln, S_STORES, set->st.stores);
	out_cell_u64(out, ln, S_CHUNKS, set->st.chunks_copied);
	out_cell_u64(out, ln, S_HOLD, set->hold_ns);
	for (i = 0; i < set->nmembers; i++) {
		m = scols_table_new_line(tb, ln);
		if (!m)
			goto nomem;
		out_cell_u64(out, m, S_ID, set->id);
		out_cell_array(out, m, S_STATE, state);
		out_cell(out, m, S_VOLUME, set->members[i].volume);
		out_cell(out, m, S_STAMP, set->members[i].stamp);
		out_cell(out, m, S_IMAGE, set->members[i].image);
		out_cell_u64(out, m, S_FROZEN, set->members[i].frozen);
		out_cell_bool(out, m, S_QUIESCED, set->members[i].frozen > 0);
	}
	return;
nomem:
	fail_msg("out of memory");
	exit(1);
}

static const char sets_json_help[] =
	"JSON: {\"snapsets\": [{\"id\": N, \"state\": [...], ..., \"children\": [MEMBER, ...]}]},\n"
	"a member being an object with the same keys (its set's id and state; the\n"
	"other set keys null or false; the member keys null or false in a set).\n";

/* ---- create ------------------------------------------------------------ */

static void usage_create(void)
{
	printf("Usage:\n %s snapshot create [options] VOL... --store PATH[:SIZE]\n\n"
	       "Snapshot the tracked volumes at one instant. Prints the set id, then one\n"
	       "\"VOLUME STAMP IMAGE\" line per volume; with --json the set as\n"
	       "'snapshot list --json' shows it.\n\n"
	       "Options:\n"
	       " -s, --store PATH[:SIZE]  a block device (used whole) or a file on another\n"
	       "                          filesystem, created or grown to SIZE and\n"
	       "                          preallocated; may be given more than once\n"
	       "     --no-freeze          do not freeze filesystems (crash-consistent)\n"
	       "     --writable           images take writes (into the store)\n"
	       "     --hold TIME          bound on the freeze-to-thaw hold, 1ms to 60s\n"
	       "                          (default 10s); ms, s or m, a bare number is ms\n"
	       "     --low-space PCT      raise an event when less than PCT%% of the\n"
	       "                          store is free, 1 to 90 (default 20), '20' or '20%%'\n"
	       "     --writers POLICY     registered writers: require (a writer's failure\n"
	       "                          fails the set), best-effort (the default) or none\n"
	       " -o, --output LIST        columns for --json (see 'snapshot list --help')\n"
	       " -J, --json               JSON output\n"
	       " -h, --help               display this help\n"
	       "SIZE is bytes or with a K, M, G or T suffix (KiB, MiB, ... alike).\n", prog);
}

/*
 * A store spec with its SIZE in bytes, so the library reads what this CLI
 * documents. A colon whose tail is not a size is refused unless the whole
 * spec names something that exists (a path with a colon in it).
 */
static char *store_spec(const char *spec)
{
	const char *colon = strrchr(spec, ':');
	struct stat st;
	uint64_t size;
	char *out;

	if (!colon || !stat(spec, &st))
		return strdup(spec);
	if (colon == spec || parse_size(colon + 1, &size) || !size)
		usage_error("snapshot create", "--store: PATH[:SIZE] with SIZE a size above 0, not '%s'",
			    spec);
	if (asprintf(&out, "%.*s:%" PRIu64, (int)(colon - spec), spec, size) < 0)
		return NULL;
	return out;
}

/*
 * The set as JSON with its writers' outcome ("writers" in the set's
 * object): the table's JSON, parsed, the array added, printed again.
 */
static void print_with_writers(struct libscols_table *tb, const char *writers_json)
{
	struct json_object *o, *arr, *set, *w;
	char *text = NULL;

	if (!writers_json || scols_print_table_to_string(tb, &text) || !text) {
		free(text);
		scols_print_table(tb);
		return;
	}
	o = json_tokener_parse(text);
	w = json_tokener_parse(writers_json);
	if (!o || !w || !json_object_object_get_ex(o, "snapsets", &arr) ||
	    !(set = json_object_array_get_idx(arr, 0))) {
		json_object_put(o);
		json_object_put(w);
		fputs(text, stdout);
		printf("\n");
		free(text);
		return;
	}
	json_object_object_add(set, "writers", w);
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	free(text);
}

enum { OPT_NO_FREEZE = 256, OPT_WRITABLE, OPT_HOLD, OPT_LOW_SPACE, OPT_GROW, OPT_WRITERS };

static int snap_create(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "store", required_argument, NULL, 's' },
		{ "no-freeze", no_argument, NULL, OPT_NO_FREEZE },
		{ "writable", no_argument, NULL, OPT_WRITABLE },
		{ "hold", required_argument, NULL, OPT_HOLD },
		{ "low-space", required_argument, NULL, OPT_LOW_SPACE },
		{ "writers", required_argument, NULL, OPT_WRITERS },
		OUT_LONGOPTS,
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	static const int repeatable[] = { 's', 0 };
	struct cmd_opts o = { "snapshot create", usage_create, "s:" OUT_SHORTOPTS, lo,
			      repeatable, 0 };
	const char *vols[MAX_VOLUMES];
	char *stores[MAX_STORES];
	unsigned int nvols = 0, nstores = 0, flags = 0, low = 0, i;
	struct out_opts out = { 0 };
	uint64_t hold = 0;
	struct cbt_ctx *ctx;
	struct cl_set set;
	int c, ret;

	while ((c = next_opt(&o, argc, argv)) != -1) {
		if (out_opt(&out, c, optarg))
			continue;
		switch (c) {
		case 's':
			if (nstores == MAX_STORES)
				usage_error("snapshot create", "--store: at most %d stores", MAX_STORES);
			stores[nstores] = store_spec(optarg);
			if (!stores[nstores++]) {
				fail_msg("out of memory");
				return 1;
			}
			break;
		case OPT_NO_FREEZE:
			flags |= CL_CREATE_NO_FREEZE;
			break;
		case OPT_WRITABLE:
			flags |= CL_CREATE_WRITABLE;
			break;
		case OPT_HOLD:
			if (parse_duration_ms(optarg, &hold) || !hold || hold > 60000)
				usage_error("snapshot create", "--hold: a time from 1ms to 60s, not '%s'",
					    optarg);
			break;
		case OPT_LOW_SPACE:
			if (parse_percent(optarg, &low) || !low || low > 90)
				usage_error("snapshot create", "--low-space: a percentage from 1 to 90, not '%s'",
					    optarg);
			break;
		case OPT_WRITERS:
			cl_writers_policy = parse_writers_policy(optarg);
			if (cl_writers_policy < 0)
				usage_error("snapshot create", "--writers: require, best-effort or none, not '%s'",
					    optarg);
			break;
		}
	}
	for (; optind < argc; optind++) {
		if (nvols == MAX_VOLUMES)
			usage_error("snapshot create", "at most %d volumes", MAX_VOLUMES);
		vols[nvols++] = argv[optind];
	}
	if (!nvols)
		usage_error("snapshot create", "no volume given");
	if (!nstores)
		usage_error("snapshot create", "--store PATH[:SIZE] is required (a block device or a file on another filesystem)");
	out_columns("snapshot create", &out, set_cols, N_SET_COLS, set_defaults);
	for (i = 0; i < nvols; i++)
		if (cl_check_volume(vols[i]))
			return 1;
	if (cl_open(&ctx))
		return 1;
	ret = cl_set_create(ctx, vols, nvols, (const char *const *)stores, nstores, flags,
			    (unsigned int)hold, low, &set);
	for (i = 0; i < nstores; i++)
		free(stores[i]);
	if (ret) {
		if (set.writers_text)
			fputs(set.writers_text, stderr);
		if (set.error) {
			fail_msg("snapshot create: %s", set.error);
			cl_set_free(&set);
			cl_close(ctx);
			return 1;
		}
		cl_set_free(&set);
		cl_close(ctx);
		if (ret == -ENOENT)
			fail_msg("snapshot create: a volume is not tracked, or a store path does not exist (attach the volumes first)");
		else if (ret == -ENODEV)
			fail_msg("snapshot create: a volume was detached, or its device went away, while the set was being made");
		else
			report(ret, "snapshot create");
		return 1;
	}
	for (i = 0; !(flags & CL_CREATE_NO_FREEZE) && i < set.nmembers; i++)
		if (!set.members[i].frozen)
			fail_msg("%s: no filesystem on it was frozen; its image is crash-consistent",
				 set.members[i].volume);
	if (out.json) {
		struct libscols_table *tb = out_table(&out, set_cols, "snapsets", 1);

		set_lines(&out, tb, &set);
		print_with_writers(tb, set.writers_json);
		scols_unref_table(tb);
	} else {
		printf("%" PRIu32 "\n", set.id);
		for (i = 0; i < set.nmembers; i++)
			printf("%s %s %s\n", set.members[i].volume, set.members[i].stamp,
			       set.members[i].image);
		if (set.writers_text)
			fputs(set.writers_text, stderr);
	}
	cl_set_free(&set);
	cl_close(ctx);
	return 0;
}

/* ---- list -------------------------------------------------------------- */

static void usage_list(void)
{
	printf("Usage:\n %s snapshot list [options]\n\n"
	       "Show the live sets, one line each and one line per member below it.\n", prog);
	printf("%s", sets_json_help);
	printf("\nOptions:\n"
	       " -o, --output LIST  columns to show (+LIST adds to the defaults)\n"
	       " -J, --json         JSON output (every column unless -o)\n"
	       " -r, --raw          raw output\n"
	       " -n, --noheadings   do not print headings\n"
	       " -h, --help         display this help\n");
	print_columns_help(set_cols, N_SET_COLS);
}

static int snap_list(int argc, char **argv)
{
	static const struct option lo[] = {
		OUT_LONGOPTS,
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct cmd_opts o = { "snapshot list", usage_list, OUT_SHORTOPTS, lo, NULL, 0 };
	struct out_opts out = { 0 };
	struct libscols_table *tb;
	struct cbt_ctx *ctx;
	uint32_t *ids;
	size_t n, k;
	int c, ret, rc = 0;

	while ((c = next_opt(&o, argc, argv)) != -1)
		out_opt(&out, c, optarg);
	if (optind < argc)
		usage_error("snapshot list", "unexpected argument '%s'", argv[optind]);
	out_columns("snapshot list", &out, set_cols, N_SET_COLS, set_defaults);
	if (cl_open(&ctx))
		return 1;
	ret = cl_set_list(ctx, &ids, &n);
	if (ret) {
		cl_close(ctx);
		return report(ret, "snapshot list");
	}
	tb = out_table(&out, set_cols, "snapsets", 1);
	for (k = 0; k < n; k++) {
		struct cl_set set;

		ret = cl_set_open(ctx, ids[k], &set);
		if (ret && ret != -ENOENT)	/* -ENOENT: destroyed since the list */
			rc = report(ret, "snapshot list");
		else if (!ret)
			set_lines(&out, tb, &set);
		cl_set_free(&set);
	}
	scols_print_table(tb);
	scols_unref_table(tb);
	free(ids);
	cl_close(ctx);
	return rc;
}

/* ---- destroy ----------------------------------------------------------- */

static void usage_destroy(void)
{
	printf("Usage:\n %s snapshot destroy ID\n\n"
	       "Release a set's images and store now. ID is the set id in decimal.\n\n"
	       "Options:\n"
	       " -h, --help   display this help\n", prog);
}

/* The one positional ID of destroy and watch. */
static uint32_t one_id(const char *cmd, int argc, char **argv)
{
	uint32_t id;

	if (optind == argc)
		usage_error(cmd, "no set id given");
	if (optind < argc - 1)
		usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
	if (parse_id(argv[optind], &id))
		usage_error(cmd, "'%s' is not a snapshot set id (decimal, 1 to %" PRIu32 ")",
			    argv[optind], UINT32_MAX);
	return id;
}

static int snap_destroy(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct cmd_opts o = { "snapshot destroy", usage_destroy, "", lo, NULL, 0 };
	struct cbt_ctx *ctx;
	struct cl_set set;
	uint32_t id;
	int ret;

	while (next_opt(&o, argc, argv) != -1)
		;
	id = one_id("snapshot destroy", argc, argv);
	if (cl_open(&ctx))
		return 1;
	ret = cl_set_open(ctx, id, &set);
	if (!ret)
		ret = cl_set_destroy(&set);
	cl_set_free(&set);
	cl_close(ctx);
	if (ret == -ENOENT) {
		fail_msg("snapshot destroy: no snapshot set %" PRIu32, id);
		return 1;
	}
	return ret ? report(ret, "snapshot destroy") : 0;
}

/* ---- watch ------------------------------------------------------------- */

static void usage_watch(void)
{
	printf("Usage:\n %s snapshot watch [options] ID\n\n"
	       "Print the set's events until it is destroyed; exit 1 when it overflows\n"
	       "or becomes invalid.\n\n"
	       "Options:\n"
	       " -g, --grow DIR:SIZE  on each low-space event add a SIZE file in DIR (an\n"
	       "                      existing directory) to the store\n"
	       " -h, --help           display this help\n"
	       "SIZE is bytes or with a K, M, G or T suffix (KiB, MiB, ... alike).\n", prog);
}

struct grow {
	char dir[4096];
	uint64_t size;
	unsigned int n;
};

/* On low space: add DIR/cbt-snap<ID>-grow<N> of SIZE bytes to the store. */
static int grow_store(struct cl_set *set, struct grow *g)
{
	char *path;
	int ret;

	if (asprintf(&path, "%s/cbt-snap%" PRIu32 "-grow%u:%" PRIu64, g->dir, set->id,
		     g->n++, g->size) < 0)
		return -ENOMEM;
	ret = cl_set_grow(set, path);
	*strrchr(path, ':') = '\0';
	if (!ret)
		printf("set %" PRIu32 ": store grown with %s\n", set->id, path);
	else
		fail_msg("set %" PRIu32 ": cannot grow the store with %s: %s",
			 set->id, path, cl_strerror(ret));
	free(path);
	return ret;
}

static int snap_watch(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "grow", required_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct cmd_opts o = { "snapshot watch", usage_watch, "g:", lo, NULL, 0 };
	struct grow grow = { .size = 0 };
	struct cl_set_state st;
	struct cbt_ctx *ctx;
	struct cl_set set;
	struct stat sb;
	uint32_t id;
	int c, ret, rc = 0;

	while ((c = next_opt(&o, argc, argv)) != -1) {
		const char *colon = c == 'g' ? strrchr(optarg, ':') : NULL;

		if (c != 'g')
			continue;
		if (!colon || colon == optarg || parse_size(colon + 1, &grow.size) ||
		    !grow.size || (size_t)(colon - optarg) >= sizeof(grow.dir))
			usage_error("snapshot watch", "--grow: DIR:SIZE expected, not '%s'", optarg);
		snprintf(grow.dir, sizeof(grow.dir), "%.*s", (int)(colon - optarg), optarg);
		if (stat(grow.dir, &sb) || !S_ISDIR(sb.st_mode))
			usage_error("snapshot watch", "--grow: '%s' is not a directory", grow.dir);
	}
	id = one_id("snapshot watch", argc, argv);
	if (cl_open(&ctx))
		return 1;
	ret = cl_set_open(ctx, id, &set);
	if (ret) {
		cl_set_free(&set);
		cl_close(ctx);
		if (ret == -ENOENT)
			fail_msg("snapshot watch: no snapshot set %" PRIu32, id);
		else
			report(ret, "snapshot watch");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((ret = cl_set_next_event(&set, &st)) > 0) {
		if (st.state & CL_SET_OVERFLOW) {
			printf("set %" PRIu32 ": OVERFLOW: the store is full (%" PRIu64
			       " bytes); the images are invalid, the volumes are untouched\n",
			       id, st.store_size);
			rc = 1;
			break;
		}
		if (st.state & CL_SET_INVALID) {
			printf("set %" PRIu32 ": INVALID: %s\n", id, cl_strerror(st.error));
			rc = 1;
			break;
		}
		if (st.state & CL_SET_DESTROYED) {
			printf("set %" PRIu32 ": destroyed\n", id);
			break;
		}
		if (st.state & CL_SET_LOW_SPACE) {
			printf("set %" PRIu32 ": low space: %" PRIu64 " of %" PRIu64 " bytes used\n",
			       id, st.store_used, st.store_size);
			if (grow.size && grow_store(&set, &grow))
				rc = 1;
		}
	}
	if (ret < 0)
		rc = report(ret, "snapshot watch");
	cl_set_free(&set);
	cl_close(ctx);
	return rc;
}

/* ---- dispatch ---------------------------------------------------------- */

void usage_snapshot_list(FILE *f)
{
	fprintf(f,
		"Usage:\n %s snapshot COMMAND [options] [arguments]\n\n"
		"Snapshot sets: tracked volumes snapshotted at one instant.\n\n"
		"Commands:\n"
		" create VOL... --store PATH[:SIZE]  take a set\n"
		" list                               live sets, their state and store use\n"
		" destroy ID                         release a set's images and store\n"
		" watch ID [--grow DIR:SIZE]         report events, grow the store\n"
		"Run '%s snapshot COMMAND --help' for a command's options.\n", prog, prog);
}

int cmd_snapshot(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "create", snap_create },
		{ "list", snap_list },
		{ "destroy", snap_destroy },
		{ "watch", snap_watch },
	};
	size_t i;

	if (argc < 2)
		usage_error("snapshot", "no command given: create, list, destroy or watch");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		if (argc > 2)
			usage_error("snapshot", "unexpected argument '%s'", argv[2]);
		usage_snapshot_list(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	if (argv[1][0] == '-')
		usage_error("snapshot", "unrecognized option '%s'", argv[1]);
	usage_error("snapshot", "unknown command '%s': create, list, destroy or watch", argv[1]);
}
