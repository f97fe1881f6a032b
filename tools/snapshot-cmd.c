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
#include <json-c/json.h>

#include "libcbt.h"
#include "cli.h"

#define MAX_STORES	64

void usage_snapshot(FILE *f)
{
	fprintf(f,
		"\n"
		"Snapshot sets:\n"
		"  snapshot create VOL... --store PATH[:SIZE] [--store ...] [--no-freeze]\n"
		"          [--writable] [--hold MS] [--low-space PCT] [--json]\n"
		"                      snapshot the volumes at one instant; prints the set\n"
		"                      id, then per volume its stamp and image device\n"
		"  snapshot list [--json]       live sets, their state and store use\n"
		"  snapshot destroy ID          release a set's images and store\n"
		"  snapshot watch ID [--grow DIR:SIZE]\n"
		"                      report events; on low space add a SIZE file in DIR\n"
		"A store is a block device (used whole) or a file on another filesystem,\n"
		"created or grown to SIZE and preallocated.\n");
}

enum {
	OPT_STORE = 300, OPT_NO_FREEZE, OPT_WRITABLE, OPT_HOLD, OPT_LOW_SPACE,
	OPT_SJSON, OPT_GROW,
};

struct snap_args {
	const char *pos[16];
	int npos;
	const char *stores[MAX_STORES];
	unsigned int nstores;
	unsigned int flags;
	uint64_t hold_ms, low_space;
	const char *grow;
	int json;
};

static int parse_snap_args(int argc, char **argv, const int *allowed,
			   struct snap_args *a)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, OPT_STORE },
		{ "no-freeze", no_argument, NULL, OPT_NO_FREEZE },
		{ "writable", no_argument, NULL, OPT_WRITABLE },
		{ "hold", required_argument, NULL, OPT_HOLD },
		{ "low-space", required_argument, NULL, OPT_LOW_SPACE },
		{ "json", no_argument, NULL, OPT_SJSON },
		{ "grow", required_argument, NULL, OPT_GROW },
		{ NULL, 0, NULL, 0 },
	};
	int c, i, ok;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		for (ok = 0, i = 0; allowed[i]; i++)
			ok |= allowed[i] == c;
		if (!ok || c == '?') {
			fail_msg("snapshot %s: unknown or incomplete option '%s'",
				 argv[0], argv[optind - 1]);
			return -1;
		}
		switch (c) {
		case OPT_STORE:
			if (a->nstores == MAX_STORES) {
				fail_msg("--store: at most %d stores", MAX_STORES);
				return -1;
			}
			a->stores[a->nstores++] = optarg;
			break;
		case OPT_NO_FREEZE:
			a->flags |= LIBCBT_SNAPSET_NO_FREEZE;
			break;
		case OPT_WRITABLE:
			a->flags |= LIBCBT_SNAPSET_WRITABLE;
			break;
		case OPT_HOLD:
			if (cbt_parse_size(optarg, &a->hold_ms) || !a->hold_ms ||
			    a->hold_ms > 60000) {
				fail_msg("--hold: milliseconds from 1 to 60000, not '%s'", optarg);
				return -1;
			}
			break;
		case OPT_LOW_SPACE:
			if (cbt_parse_size(optarg, &a->low_space) || !a->low_space ||
			    a->low_space > 90) {
				fail_msg("--low-space: a percentage from 1 to 90, not '%s'", optarg);
				return -1;
			}
			break;
		case OPT_SJSON:
			a->json = 1;
			break;
		case OPT_GROW:
			a->grow = optarg;
			break;
		}
	}
	for (; optind < argc; optind++) {
		if (a->npos == (int)(sizeof(a->pos) / sizeof(a->pos[0]))) {
			fail_msg("snapshot %s: too many arguments", argv[0]);
			return -1;
		}
		a->pos[a->npos++] = argv[optind];
	}
	return 0;
}

static int parse_id(const char *text, uint32_t *id)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (errno || end == text || *end || !v || v > UINT32_MAX || *text == '-') {
		fail_msg("'%s' is not a snapshot set id", text);
		return -1;
	}
	*id = (uint32_t)v;
	return 0;
}

static json_object *members_json(const struct cbt_snapset *set)
{
	json_object *arr = json_object_new_array();
	unsigned int i;

	for (i = 0; i < cbt_snapset_get_member_count(set); i++) {
		json_object *m = json_object_new_object();

		json_object_object_add(m, "volume",
				       json_object_new_string(cbt_snapset_get_member_path(set, i)));
		json_object_object_add(m, "stamp",
				       json_object_new_string(cbt_snapset_get_member_stamp(set, i)));
		json_object_object_add(m, "image",
				       json_object_new_string(cbt_snapset_get_member_image(set, i)));
		json_object_object_add(m, "frozen",
				       json_object_new_uint64(cbt_snapset_get_member_frozen(set, i)));
		json_object_object_add(m, "quiesced",
				       json_object_new_boolean(cbt_snapset_get_member_frozen(set, i) > 0));
		json_object_array_add(arr, m);
	}
	return arr;
}

static int snap_create(int argc, char **argv)
{
	static const int allowed[] = { OPT_STORE, OPT_NO_FREEZE, OPT_WRITABLE,
				       OPT_HOLD, OPT_LOW_SPACE, OPT_SJSON, 0 };
	struct cbt_snapset_opts *o = NULL;
	struct cbt_snapset *set;
	struct cbt_ctx *ctx;
	struct snap_args a;
	unsigned int i;
	int ret;

	if (parse_snap_args(argc, argv, allowed, &a))
		return EXIT_USAGE;
	if (!a.npos) {
		fail_msg("snapshot create: which volumes?");
		return EXIT_USAGE;
	}
	if (!a.nstores) {
		fail_msg("snapshot create: --store PATH[:SIZE] is required (a block device or a file on another filesystem)");
		return EXIT_USAGE;
	}
	for (i = 0; i < (unsigned int)a.npos; i++) {
		dev_t dev;

		ret = cbt_volume_resolve(a.pos[i], &dev);
		if (ret)
			return report(ret, a.pos[i]);
	}
	if (open_ctx(&ctx))
		return 1;
	ret = cbt_snapset_opts_new(&o);
	for (i = 0; !ret && i < (unsigned int)a.npos; i++) {
		struct cbt_volume *vol = NULL;

		ret = cbt_volume_open(ctx, a.pos[i], &vol);
		if (!ret)
			ret = cbt_snapset_opts_add_volume(o, vol);
		cbt_volume_free(vol);
	}
	for (i = 0; !ret && i < a.nstores; i++)
		ret = cbt_snapset_opts_add_store(o, a.stores[i]);
	if (!ret)
		ret = cbt_snapset_opts_set_flags(o, a.flags);
	if (!ret)
		ret = cbt_snapset_opts_set_hold_ms(o, (unsigned int)a.hold_ms);
	if (!ret)
		ret = cbt_snapset_opts_set_low_space(o, (unsigned int)a.low_space);
	if (!ret)
		ret = cbt_snapset_create(ctx, o, &set);
	cbt_snapset_opts_free(o);
	if (ret) {
		cbt_ctx_unref(ctx);
		if (ret == -ENOENT)
			fail_msg("snapshot create: a volume is not tracked, or a store path does not exist (attach the volumes first)");
		else if (ret == -EINVAL)
			fail_msg("snapshot create: bad --store PATH[:SIZE] (SIZE: digits with K, M, G or T), or a store file that is empty and given no size");
		else if (ret == -ENODEV)
			fail_msg("snapshot create: a volume was detached, or its device went away, while the set was being made");
		else
			report(ret, "snapshot create");
		return 1;
	}
	for (i = 0; !(a.flags & LIBCBT_SNAPSET_NO_FREEZE) && i < cbt_snapset_get_member_count(set); i++)
		if (!cbt_snapset_get_member_frozen(set, i))
			fprintf(stderr, "cbt-snap: %s: no filesystem on it was frozen; its image is crash-consistent\n",
				cbt_snapset_get_member_path(set, i));
	if (a.json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "id", json_object_new_uint64(cbt_snapset_get_id(set)));
		json_object_object_add(o, "hold_ns", json_object_new_uint64(cbt_snapset_get_hold_ns(set)));
		json_object_object_add(o, "members", members_json(set));
		print_json(o);
		json_object_put(o);
	} else {
		printf("%" PRIu32 "\n", cbt_snapset_get_id(set));
		for (i = 0; i < cbt_snapset_get_member_count(set); i++)
			printf("%s %s %s\n", cbt_snapset_get_member_path(set, i),
			       cbt_snapset_get_member_stamp(set, i), cbt_snapset_get_member_image(set, i));
	}
	cbt_snapset_free(set);
	cbt_ctx_unref(ctx);
	return 0;
}

static void state_text(uint32_t state, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s%s%s",
		 state & (LIBCBT_STATE_OVERFLOW | LIBCBT_STATE_INVALID) ? "" : "ok",
		 state & LIBCBT_STATE_OVERFLOW ? "overflow" : "",
		 state & LIBCBT_STATE_INVALID ? (state & LIBCBT_STATE_OVERFLOW ? ",invalid" : "invalid") : "",
		 state & LIBCBT_STATE_LOW_SPACE ? ",low-space" : "",
		 state & LIBCBT_STATE_WRITABLE ? ",writable" : "");
}

static int snap_list(int argc, char **argv)
{
	static const int allowed[] = { OPT_SJSON, 0 };
	json_object *arr = NULL;
	struct cbt_ctx *ctx;
	struct snap_args a;
	uint32_t *ids;
	size_t n, k;
	int ret, rc = 0;

	if (parse_snap_args(argc, argv, allowed, &a))
		return EXIT_USAGE;
	if (a.npos) {
		fail_msg("snapshot list: unexpected argument '%s'", a.pos[0]);
		return EXIT_USAGE;
	}
	if (open_ctx(&ctx))
		return 1;
	ret = cbt_ctx_get_snapsets(ctx, &ids, &n);
	if (ret) {
		cbt_ctx_unref(ctx);
		return report(ret, "snapshot list");
	}
	if (a.json)
		arr = json_object_new_array();
	for (k = 0; k < n; k++) {
		struct cbt_snapset *set;
		char state[64];
		unsigned int i;

		ret = cbt_snapset_open(ctx, ids[k], &set);
		if (ret == -ENOENT)
			continue;	/* destroyed since the list */
		if (ret) {
			rc = report(ret, "snapshot list");
			continue;
		}
		state_text(cbt_snapset_get_state(set), state, sizeof(state));
		if (arr) {
			json_object *o = json_object_new_object();

			json_object_object_add(o, "id", json_object_new_uint64(ids[k]));
			json_object_object_add(o, "state", json_object_new_string(state));
			json_object_object_add(o, "store_size", json_object_new_uint64(cbt_snapset_get_store_size(set)));
			json_object_object_add(o, "store_used", json_object_new_uint64(cbt_snapset_get_store_used(set)));
			json_object_object_add(o, "stores", json_object_new_uint64(cbt_snapset_get_store_count(set)));
			json_object_object_add(o, "chunks_copied", json_object_new_uint64(cbt_snapset_get_chunks_copied(set)));
			json_object_object_add(o, "hold_ns", json_object_new_uint64(cbt_snapset_get_hold_ns(set)));
			json_object_object_add(o, "members", members_json(set));
			json_object_array_add(arr, o);
		} else {
			printf("%" PRIu32 " %s store %" PRIu64 "/%" PRIu64 " bytes in %u\n",
			       ids[k], state, cbt_snapset_get_store_used(set),
			       cbt_snapset_get_store_size(set), cbt_snapset_get_store_count(set));
			for (i = 0; i < cbt_snapset_get_member_count(set); i++)
				printf("  %s %s %s\n", cbt_snapset_get_member_path(set, i),
				       cbt_snapset_get_member_stamp(set, i), cbt_snapset_get_member_image(set, i));
		}
		cbt_snapset_free(set);
	}
	if (arr) {
		print_json(arr);
		json_object_put(arr);
	}
	free(ids);
	cbt_ctx_unref(ctx);
	return rc;
}

static int snap_destroy(int argc, char **argv)
{
	static const int allowed[] = { 0 };
	struct cbt_snapset *set;
	struct cbt_ctx *ctx;
	struct snap_args a;
	uint32_t id;
	int ret;

	if (parse_snap_args(argc, argv, allowed, &a))
		return EXIT_USAGE;
	if (a.npos != 1) {
		fail_msg("snapshot destroy: one set id, please");
		return EXIT_USAGE;
	}
	if (parse_id(a.pos[0], &id))
		return EXIT_USAGE;
	if (open_ctx(&ctx))
		return 1;
	ret = cbt_snapset_open(ctx, id, &set);
	if (!ret) {
		ret = cbt_snapset_destroy(set);
		cbt_snapset_free(set);
	}
	cbt_ctx_unref(ctx);
	if (ret == -ENOENT) {
		fail_msg("snapshot destroy: no snapshot set %" PRIu32, id);
		return 1;
	}
	return ret ? report(ret, "snapshot destroy") : 0;
}

/* On low space: add DIR/cbt-snap<ID>-grow<N> of SIZE bytes to the store. */
static int grow_store(struct cbt_snapset *set, const char *spec, unsigned int *n)
{
	const char *colon = strrchr(spec, ':');
	char *path;
	int ret;

	if (asprintf(&path, "%.*s/cbt-snap%" PRIu32 "-grow%u%s", (int)(colon - spec),
		     spec, cbt_snapset_get_id(set), (*n)++, colon) < 0)
		return -ENOMEM;
	ret = cbt_snapset_grow(set, path);
	if (!ret)
		printf("set %" PRIu32 ": store grown with %s\n", cbt_snapset_get_id(set), path);
	else
		fail_msg("set %" PRIu32 ": cannot grow the store with %s: %s",
			 cbt_snapset_get_id(set), path, cbt_strerror(ret));
	free(path);
	return ret;
}

static int snap_watch(int argc, char **argv)
{
	static const int allowed[] = { OPT_GROW, 0 };
	struct cbt_snapset *set;
	struct cbt_ctx *ctx;
	struct snap_args a;
	unsigned int grown = 0;
	uint64_t size;
	uint32_t id;
	int ret, rc = 0;

	if (parse_snap_args(argc, argv, allowed, &a))
		return EXIT_USAGE;
	if (a.npos != 1) {
		fail_msg("snapshot watch: one set id, please");
		return EXIT_USAGE;
	}
	if (parse_id(a.pos[0], &id))
		return EXIT_USAGE;
	if (a.grow) {
		const char *colon = strrchr(a.grow, ':');

		if (!colon || colon == a.grow || cbt_parse_size(colon + 1, &size) || !size) {
			fail_msg("--grow: DIR:SIZE expected, not '%s'", a.grow);
			return EXIT_USAGE;
		}
	}
	if (open_ctx(&ctx))
		return 1;
	ret = cbt_snapset_open(ctx, id, &set);
	if (ret) {
		cbt_ctx_unref(ctx);
		if (ret == -ENOENT)
			fail_msg("snapshot watch: no snapshot set %" PRIu32, id);
		else
			report(ret, "snapshot watch");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((ret = cbt_snapset_next_event(set, 1)) > 0) {
		uint32_t state = cbt_snapset_get_state(set);

		if (state & LIBCBT_STATE_OVERFLOW) {
			printf("set %" PRIu32 ": OVERFLOW: the store is full (%" PRIu64
			       " bytes); the images are invalid, the volumes are untouched\n",
			       id, cbt_snapset_get_store_size(set));
			rc = 1;
			break;
		}
		if (state & LIBCBT_STATE_INVALID) {
			printf("set %" PRIu32 ": INVALID: %s\n", id, cbt_strerror(cbt_snapset_get_error(set)));
			rc = 1;
			break;
		}
		if (state & LIBCBT_STATE_DESTROYED) {
			printf("set %" PRIu32 ": destroyed\n", id);
			break;
		}
		if (state & LIBCBT_STATE_LOW_SPACE) {
			printf("set %" PRIu32 ": low space: %" PRIu64 " of %" PRIu64 " bytes used\n",
			       id, cbt_snapset_get_store_used(set), cbt_snapset_get_store_size(set));
			if (a.grow && grow_store(set, a.grow, &grown))
				rc = 1;
		}
	}
	if (ret < 0)
		rc = report(ret, "snapshot watch");
	cbt_snapset_free(set);
	cbt_ctx_unref(ctx);
	return rc;
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

	if (argc < 2) {
		fail_msg("snapshot: create, list, destroy or watch? (see '%s --help')", prog);
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fail_msg("snapshot: unknown command '%s'", argv[1]);
	return EXIT_USAGE;
}
