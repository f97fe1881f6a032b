// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cbt-snap - command line front end of libcbt.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <blkid/blkid.h>
#include <json-c/json.h>

#include "libcbt.h"
#include "cli.h"

const char *prog = "cbt-snap";

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s COMMAND [OPTIONS]\n"
		"\n"
		"Commands:\n"
		"  attach VOL [--block-size SIZE]   start tracking writes to VOL\n"
		"  detach VOL                       stop tracking VOL\n"
		"  status [VOL] [--json]            show tracked volumes\n"
		"  checkpoint VOL                   close a generation, print its stamp\n"
		"  changes VOL --since STAMP [--json] [--offset N] [--length N]\n"
		"                                   blocks written after STAMP\n"
		"  version                          library and module versions\n"
		"  snapshot create|list|destroy|watch ...\n"
		"                                   snapshot sets (see below)\n"
		"\n"
		"VOL is a block device path or UUID=, LABEL=, PARTUUID=, PARTLABEL=.\n"
		"SIZE is in bytes or with a K or M suffix (4K to 1M, default 64K).\n",
		prog);
	usage_snapshot(f);
}

void fail_msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* One line on stderr for a library error; the exit status to use. */
int report(int err, const char *what)
{
	if (err == -ENOENT && !strcmp(what, "/dev/cbt-ctl"))
		fail_msg("the cbt module is not loaded (no /dev/cbt-ctl): run 'modprobe cbt'");
	else
		fail_msg("%s: %s", what, cbt_strerror(err));
	return 1;
}

int open_ctx(struct cbt_ctx **ctx)
{
	int ret = cbt_ctx_new(ctx);

	return ret ? report(ret, "/dev/cbt-ctl") : 0;
}

/* A context and a handle on @name, reporting failure; 0 or 1. */
static int open_volume(const char *name, struct cbt_ctx **ctx, struct cbt_volume **vol)
{
	int ret;

	if (open_ctx(ctx))
		return 1;
	ret = cbt_volume_open(*ctx, name, vol);
	if (ret) {
		cbt_ctx_unref(*ctx);
		return report(ret, name);
	}
	return 0;
}

static void close_volume(struct cbt_ctx *ctx, struct cbt_volume *vol)
{
	cbt_volume_free(vol);
	cbt_ctx_unref(ctx);
}

void print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o,
		JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Reject a volume the library cannot resolve, with the volume's name. */
static int check_volume(const char *vol)
{
	dev_t dev;
	int ret = cbt_volume_resolve(vol, &dev);

	return ret ? report(ret, vol) : 0;
}

enum {
	OPT_JSON = 256, OPT_SINCE, OPT_BLOCK_SIZE, OPT_OFFSET, OPT_LENGTH,
	OPT_TIMEOUT,
};

struct args {
	const char *vol;
	const char *since;
	int json;
	uint64_t block_size, offset, length, timeout_ms;
	int have_block_size;
};

static int parse_u64(const char *opt, const char *text, uint64_t *v)
{
	if (cbt_parse_size(text, v)) {
		fail_msg("%s: not a size: '%s'", opt, text);
		return -1;
	}
	return 0;
}

/* Parse the options of one command; @allowed lists the OPT_* it takes. */
static int parse_args(int argc, char **argv, const int *allowed, int max_pos,
		      struct args *a)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "block-size", required_argument, NULL, OPT_BLOCK_SIZE },
		{ "offset", required_argument, NULL, OPT_OFFSET },
		{ "length", required_argument, NULL, OPT_LENGTH },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, i, ok;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		for (ok = 0, i = 0; allowed[i]; i++)
			ok |= allowed[i] == c;
		if (!ok || c == '?' || c == ':') {
			fail_msg("%s: unknown or incomplete option '%s'", argv[0],
				 argv[optind - 1]);
			return -1;
		}
		switch (c) {
		case OPT_JSON:
			a->json = 1;
			break;
		case OPT_SINCE:
			a->since = optarg;
			break;
		case OPT_BLOCK_SIZE:
			if (parse_u64("--block-size", optarg, &a->block_size))
				return -1;
			a->have_block_size = 1;
			break;
		case OPT_OFFSET:
			if (parse_u64("--offset", optarg, &a->offset))
				return -1;
			break;
		case OPT_LENGTH:
			if (parse_u64("--length", optarg, &a->length))
				return -1;
			break;
		case OPT_TIMEOUT:
			if (parse_u64("--timeout", optarg, &a->timeout_ms))
				return -1;
			break;
		}
	}
	if (argc - optind > max_pos) {
		fail_msg("%s: unexpected argument '%s'", argv[0], argv[optind + max_pos]);
		return -1;
	}
	if (optind < argc)
		a->vol = argv[optind];
	return 0;
}

static int need_volume(const char *cmd, const struct args *a)
{
	if (!a->vol) {
		fail_msg("%s: which volume? (see '%s --help')", cmd, prog);
		return -1;
	}
	return 0;
}

static int cmd_attach(int argc, char **argv)
{
	static const int allowed[] = { OPT_BLOCK_SIZE, 0 };
	struct cbt_volume *vol;
	struct cbt_ctx *ctx;
	struct args a;
	int ret;

	if (parse_args(argc, argv, allowed, 1, &a) || need_volume("attach", &a))
		return EXIT_USAGE;
	if (a.have_block_size &&
	    (a.block_size < 4096 || a.block_size > 1048576 ||
	     (a.block_size & (a.block_size - 1)))) {
		fail_msg("--block-size: must be a power of two from 4K to 1M, not %" PRIu64,
			 a.block_size);
		return EXIT_USAGE;
	}
	if (check_volume(a.vol) || open_volume(a.vol, &ctx, &vol))
		return 1;
	ret = cbt_volume_attach(vol, (uint32_t)a.block_size);
	close_volume(ctx, vol);
	return ret ? report(ret, a.vol) : 0;
}

static int cmd_detach(int argc, char **argv)
{
	static const int allowed[] = { 0 };
	struct cbt_volume *vol;
	struct cbt_ctx *ctx;
	struct args a;
	int ret;

	if (parse_args(argc, argv, allowed, 1, &a) || need_volume("detach", &a))
		return EXIT_USAGE;
	if (check_volume(a.vol) || open_volume(a.vol, &ctx, &vol))
		return 1;
	ret = cbt_volume_detach(vol);
	close_volume(ctx, vol);
	if (ret == -ENOENT) {
		fail_msg("%s: not tracked", a.vol);
		return 1;
	}
	return ret ? report(ret, a.vol) : 0;
}

/* Filesystem type and UUID, when libblkid finds one. */
static void probe_fs(const char *path, char *type, char *uuid, size_t len)
{
	blkid_probe pr = blkid_new_probe_from_filename(path);
	const char *v;

	*type = *uuid = '\0';
	if (!pr)
		return;
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID);
	if (blkid_do_safeprobe(pr) == 0) {
		if (!blkid_probe_lookup_value(pr, "TYPE", &v, NULL))
			snprintf(type, len, "%s", v);
		if (!blkid_probe_lookup_value(pr, "UUID", &v, NULL))
			snprintf(uuid, len, "%s", v);
	}
	blkid_free_probe(pr);
}

static json_object *status_json(const char *path, const struct cbt_volume *i,
				const char *fstype, const char *fsuuid)
{
	json_object *o = json_object_new_object();
	dev_t dev = cbt_volume_get_devno(i);
	char devno[32];

	snprintf(devno, sizeof(devno), "%u:%u", major(dev), minor(dev));
	json_object_object_add(o, "device", json_object_new_string(path));
	json_object_object_add(o, "devno", json_object_new_string(devno));
	json_object_object_add(o, "tracker_uuid", json_object_new_string(cbt_volume_get_tracker_uuid(i)));
	json_object_object_add(o, "generation", json_object_new_uint64(cbt_volume_get_generation(i)));
	json_object_object_add(o, "oldest_generation", json_object_new_uint64(cbt_volume_get_oldest(i)));
	json_object_object_add(o, "block_size", json_object_new_uint64(cbt_volume_get_block_size(i)));
	json_object_object_add(o, "device_size", json_object_new_uint64(cbt_volume_get_size(i)));
	json_object_object_add(o, "blocks", json_object_new_uint64(cbt_volume_get_blocks(i)));
	json_object_object_add(o, "changed_blocks", json_object_new_uint64(cbt_volume_get_blocks_written(i)));
	json_object_object_add(o, "map_bytes", json_object_new_uint64(cbt_volume_get_map_bytes(i)));
	json_object_object_add(o, "continuity_lost", json_object_new_boolean(cbt_volume_is_lost(i)));
	json_object_object_add(o, "fs_type", *fstype ? json_object_new_string(fstype) : NULL);
	json_object_object_add(o, "fs_uuid", *fsuuid ? json_object_new_string(fsuuid) : NULL);
	return o;
}

static void status_text(const char *path, const struct cbt_volume *i,
			const char *fstype, const char *fsuuid)
{
	printf("%s (%u:%u)\n", path, major(cbt_volume_get_devno(i)),
	       minor(cbt_volume_get_devno(i)));
	printf("  tracker uuid:   %s\n", cbt_volume_get_tracker_uuid(i));
	printf("  generation:     %" PRIu64 " (stamps answerable from %" PRIu64 ")\n",
	       cbt_volume_get_generation(i), cbt_volume_get_oldest(i));
	printf("  block size:     %u\n", cbt_volume_get_block_size(i));
	printf("  device size:    %" PRIu64 " bytes, %" PRIu64 " blocks\n",
	       cbt_volume_get_size(i), cbt_volume_get_blocks(i));
	printf("  changed blocks: %" PRIu64 " since attach\n", cbt_volume_get_blocks_written(i));
	printf("  map memory:     %" PRIu64 " bytes\n", cbt_volume_get_map_bytes(i));
	if (*fstype)
		printf("  filesystem:     %s%s%s\n", fstype, *fsuuid ? " " : "", fsuuid);
	if (cbt_volume_is_lost(i))
		printf("  continuity:     LOST (the next use starts a new tracker uuid)\n");
}

static int cmd_status(int argc, char **argv)
{
	static const int allowed[] = { OPT_JSON, 0 };
	json_object *arr = NULL;
	struct cbt_ctx *ctx;
	dev_t *devs = NULL, one;
	size_t n = 0, k;
	struct args a;
	int ret = 0, rc = 0;

	if (parse_args(argc, argv, allowed, 1, &a))
		return EXIT_USAGE;
	if (a.vol) {
		ret = cbt_volume_resolve(a.vol, &one);
		if (ret)
			return report(ret, a.vol);
	}
	if (open_ctx(&ctx))
		return 1;
	if (a.vol) {
		devs = &one;
		n = 1;
	} else {
		ret = cbt_ctx_get_tracked(ctx, &devs, &n);
		if (ret) {
			cbt_ctx_unref(ctx);
			return report(ret, "list");
		}
	}
	if (a.json)
		arr = json_object_new_array();
	for (k = 0; k < n; k++) {
		char fstype[64], fsuuid[64];
		struct cbt_volume *info;
		const char *path;

		ret = cbt_volume_open_devno(ctx, devs[k], &info);
		if (ret) {
			rc = report(ret, "status");
			continue;
		}
		ret = cbt_volume_refresh(info);
		if (ret)
			cbt_volume_free(info);
		if (ret == -ENOENT && a.vol) {
			fail_msg("%s: not tracked", a.vol);
			rc = 1;
			continue;
		}
		if (ret == -ENOENT)	/* went away since the list */
			continue;
		if (ret) {
			rc = report(ret, a.vol ? a.vol : "status");
			continue;
		}
		path = cbt_volume_get_path(info);
		probe_fs(path, fstype, fsuuid, sizeof(fstype));
		if (a.json)
			json_object_array_add(arr, status_json(path, info, fstype, fsuuid));
		else
			status_text(path, info, fstype, fsuuid);
		cbt_volume_free(info);
	}
	if (arr) {
		if (!rc || !a.vol)
			print_json(arr);
		json_object_put(arr);
	}
	if (devs != &one)
		free(devs);
	cbt_ctx_unref(ctx);
	return rc;
}

static int cmd_checkpoint(int argc, char **argv)
{
	static const int allowed[] = { OPT_TIMEOUT, 0 };
	struct cbt_volume *vol;
	struct cbt_ctx *ctx;
	char *stamp;
	struct args a;
	int ret;

	if (parse_args(argc, argv, allowed, 1, &a) || need_volume("checkpoint", &a))
		return EXIT_USAGE;
	if (a.timeout_ms > 3600000) {
		fail_msg("--timeout: at most 3600000 ms");
		return EXIT_USAGE;
	}
	if (check_volume(a.vol) || open_volume(a.vol, &ctx, &vol))
		return 1;
	ret = cbt_volume_checkpoint(vol, (unsigned int)a.timeout_ms, &stamp);
	close_volume(ctx, vol);
	if (ret == -ENOENT) {
		fail_msg("%s: not tracked (run 'cbt-snap attach %s' first)", a.vol, a.vol);
		return 1;
	}
	if (ret)
		return report(ret, a.vol);
	printf("%s\n", stamp);
	free(stamp);
	return 0;
}

static int cmd_changes(int argc, char **argv)
{
	static const int allowed[] = { OPT_JSON, OPT_SINCE, OPT_OFFSET, OPT_LENGTH, 0 };
	json_object *root = NULL, *arr = NULL;
	struct cbt_changes_iter *it;
	struct cbt_volume *vol;
	struct cbt_ctx *ctx;
	uint64_t off, len;
	struct args a;
	int ret;

	if (parse_args(argc, argv, allowed, 1, &a) || need_volume("changes", &a))
		return EXIT_USAGE;
	if (!a.since) {
		fail_msg("changes: --since STAMP is required (a stamp from 'cbt-snap checkpoint')");
		return EXIT_USAGE;
	}
	if (cbt_stamp_check(a.since)) {
		fail_msg("changes: '%s' is not a stamp (expected UUID:GENERATION)", a.since);
		return EXIT_USAGE;
	}
	if (check_volume(a.vol) || open_volume(a.vol, &ctx, &vol))
		return 1;
	ret = cbt_changes_open(vol, a.since, a.offset, a.length, &it);
	close_volume(ctx, vol);	/* the iterator holds what it needs */
	if (ret) {
		if (ret == -ENOENT)
			fail_msg("%s: not tracked", a.vol);
		else if (ret == -ESTALE)
			fail_msg("%s: tracking was reset or the stamp is too old: the changes since %s are unknown; take a full backup",
				 a.vol, a.since);
		else
			report(ret, a.vol);
		return 1;
	}
	if (a.json) {
		root = json_object_new_object();
		arr = json_object_new_array();
		json_object_object_add(root, "stamp", json_object_new_string(a.since));
		json_object_object_add(root, "block_size",
				       json_object_new_uint64(cbt_changes_get_block_size(it)));
	}
	while ((ret = cbt_changes_next(it, &off, &len)) > 0) {
		if (arr) {
			json_object *e = json_object_new_object();

			json_object_object_add(e, "offset", json_object_new_uint64(off));
			json_object_object_add(e, "length", json_object_new_uint64(len));
			json_object_array_add(arr, e);
		} else {
			printf("%" PRIu64 " %" PRIu64 "\n", off, len);
		}
	}
	cbt_changes_free(it);
	if (ret < 0) {
		json_object_put(root);
		json_object_put(arr);
		return report(ret, a.vol);
	}
	if (root) {
		json_object_object_add(root, "extents", arr);
		printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
		json_object_put(root);
	}
	return 0;
}

static int cmd_version(int argc, char **argv)
{
	unsigned int abi, maj, min, pat;
	struct cbt_ctx *ctx;
	int ret;

	(void)argc;
	(void)argv;
	printf("cbt-snap %s\n", CBT_VERSION);
	ret = cbt_ctx_new(&ctx);
	if (ret) {
		printf("module: not loaded\n");
		return 0;
	}
	ret = cbt_ctx_get_module_version(ctx, &abi, &maj, &min, &pat);
	cbt_ctx_unref(ctx);
	if (ret)
		return report(ret, "version");
	printf("module: %u.%u.%u (ABI %u)\n", maj, min, pat, abi);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{ "attach", cmd_attach },
		{ "detach", cmd_detach },
		{ "status", cmd_status },
		{ "checkpoint", cmd_checkpoint },
		{ "changes", cmd_changes },
		{ "version", cmd_version },
		{ "snapshot", cmd_snapshot },
	};
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fail_msg("unknown command '%s' (see '%s --help')", argv[1], prog);
	return EXIT_USAGE;
}
