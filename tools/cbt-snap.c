// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cbt-snap - command line front end of libcbt.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <blkid/blkid.h>
#include <libsmartcols.h>

#include "cli.h"
#include "writer-hooks.h"
#include "backup.h"

const char *prog = "cbt-snap";

static void usage(void)
{
	printf("Usage:\n"
	       " %s COMMAND [options] [arguments]\n"
	       " %s -V|--version\n"
	       " %s -h|--help\n"
	       "\n"
	       "Changed-block tracking and snapshot sets for block devices.\n"
	       "\n"
	       "Commands:\n"
	       " attach VOL            start tracking writes to VOL\n"
	       " detach VOL            stop tracking VOL\n"
	       " status [VOL]          show tracked volumes (a table, or --json)\n"
	       " checkpoint VOL        close a generation, print its stamp\n"
	       " changes VOL --since STAMP\n"
	       "                       extents written after STAMP\n"
	       " version               CLI, library and module versions\n"
	       " snapshot create|list|destroy|watch\n"
	       "                       snapshot sets\n"
	       " backup SOURCE... --to REPO\n"
	       "                       back up files, images or devices into a repository\n"
	       " restore REPO --point ID --to FILE|DEV\n"
	       "                       write a point's volume back\n"
	       " verify REPO           check every chunk of the points\n"
	       " list REPO             the repository's points\n"
	       " prune REPO --keep-... remove the points no --keep option keeps\n"
	       " gc REPO               remove the chunks no point uses\n"
	       " repo init REPO        create an empty repository\n"
	       " export REPO --point ID --format rbd-diff\n"
	       "                       a point, or two points' difference, for rbd import-diff\n"
	       " writers               the registered writers (applications in snapshot sets)\n"
	       " writer run --name NAME --volume VOL... --freeze CMD --thaw CMD\n"
	       "                       a writer that runs hook commands at each phase\n"
	       "\n"
	       "VOL is a block device path or UUID=, LABEL=, PARTUUID=, PARTLABEL=.\n"
	       "Run '%s COMMAND --help' for a command's options.\n",
	       prog, prog, prog, prog);
}

/* ---- version ----------------------------------------------------------- */

static int print_version(void)
{
	char mod[64];
	int ret;

	printf("%s from cbt %s\n", prog, CBT_VERSION);
	printf("libcbt: %s\n", cl_library_version());
	ret = cl_module_version(mod, sizeof(mod));
	if (ret == -ENOENT) {
		printf("module: not loaded\n");
		return 0;
	}
	if (ret)
		return report(ret, "module version");
	printf("module: %s\n", mod);
	return 0;
}

static void usage_version(void)
{
	printf("Usage:\n %s version\n\n"
	       "Print the versions of cbt-snap, of libcbt and of the loaded cbt module\n"
	       "(\"module: not loaded\" when it is not; the exit status is 0 then).\n",
	       prog);
}

static int cmd_version(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct cmd_opts o = { "version", usage_version, "", lo, NULL, 0 };

	while (next_opt(&o, argc, argv) != -1)
		;
	if (optind < argc)
		usage_error("version", "unexpected argument '%s'", argv[optind]);
	return print_version();
}

/* ---- attach, detach, checkpoint ----------------------------------------- */

/* One volume argument: the first positional; more is an error. */
static const char *one_volume(const char *cmd, int argc, char **argv, int required)
{
	if (optind < argc - 1)
		usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
	if (optind == argc && required)
		usage_error(cmd, "no volume given");
	return optind < argc ? argv[optind] : NULL;
}

static void usage_attach(void)
{
	printf("Usage:\n %s attach [options] VOL\n\n"
	       "Start tracking writes to VOL.\n\n"
	       "Options:\n"
	       " -b, --block-size SIZE  tracking granularity, a power of two from 4K\n"
	       "                        to 1M (default 64K); SIZE is bytes or with a\n"
	       "                        K, M, G or T suffix (KiB, MiB, ... alike)\n"
	       " -h, --help             display this help\n", prog);
}

static int cmd_attach(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "block-size", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct cmd_opts o = { "attach", usage_attach, "b:", lo, NULL, 0 };
	struct cbt_ctx *ctx;
	uint64_t bs = 0;
	const char *vol;
	int c, ret;

	while ((c = next_opt(&o, argc, argv)) != -1)
		if (c == 'b' && (parse_size(optarg, &bs) || bs < 4096 || bs > 1048576 ||
				 (bs & (bs - 1))))
			usage_error("attach", "--block-size: a power of two from 4K to 1M, not '%s'",
				    optarg);
	vol = one_volume("attach", argc, argv, 1);
	if (cl_check_volume(vol) || cl_open(&ctx))
		return 1;
	ret = cl_attach(ctx, vol, (uint32_t)bs);
	cl_close(ctx);
	return ret ? report(ret, vol) : 0;
}

static void usage_detach(void)
{
	printf("Usage:\n %s detach VOL\n\n"
	       "Stop tracking VOL and drop its map.\n\n"
	       "Options:\n"
	       " -h, --help   display this help\n", prog);
}

static int cmd_detach(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct cmd_opts o = { "detach", usage_detach, "", lo, NULL, 0 };
	struct cbt_ctx *ctx;
	const char *vol;
	int ret;

	while (next_opt(&o, argc, argv) != -1)
		;
	vol = one_volume("detach", argc, argv, 1);
	if (cl_check_volume(vol) || cl_open(&ctx))
		return 1;
	ret = cl_detach(ctx, vol);
	cl_close(ctx);
	if (ret == -ENOENT) {
		fail_msg("%s: not tracked", vol);
		return 1;
	}
	return ret ? report(ret, vol) : 0;
}

static void usage_checkpoint(void)
{
	printf("Usage:\n %s checkpoint [options] VOL\n\n"
	       "Close the open generation of VOL and print its stamp (UUID:GENERATION).\n\n"
	       "Options:\n"
	       " -t, --timeout TIME  how long to wait for writes in flight (default 30s,\n"
	       "                     at most 1h); TIME is a number with ms, s, m or h,\n"
	       "                     a bare number is milliseconds\n"
	       " -h, --help          display this help\n", prog);
}

static int cmd_checkpoint(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct cmd_opts o = { "checkpoint", usage_checkpoint, "t:", lo, NULL, 0 };
	char stamp[CL_STAMP_MAX];
	struct cbt_ctx *ctx;
	uint64_t ms = 0;
	const char *vol;
	int c, ret;

	while ((c = next_opt(&o, argc, argv)) != -1)
		if (c == 't' && (parse_duration_ms(optarg, &ms) || !ms || ms > 3600000))
			usage_error("checkpoint", "--timeout: a time from 1ms to 1h, not '%s'",
				    optarg);
	vol = one_volume("checkpoint", argc, argv, 1);
	if (cl_check_volume(vol) || cl_open(&ctx))
		return 1;
	ret = cl_checkpoint(ctx, vol, (unsigned int)ms, stamp);
	cl_close(ctx);
	if (ret == -ENOENT) {
		fail_msg("%s: not tracked (run 'cbt-snap attach %s' first)", vol, vol);
		return 1;
	}
	if (ret)
		return report(ret, vol);
	printf("%s\n", stamp);
	return 0;
}

/* ---- status ------------------------------------------------------------ */

enum {
	V_DEVICE, V_MAJMIN, V_TRACKER, V_GENERATION, V_OLDEST, V_BLOCK_SIZE, V_SIZE,
	V_BLOCKS, V_CHANGED, V_MAP, V_LOST, V_FSTYPE, V_FSUUID,
};

static const struct col_info vol_cols[] = {
	[V_DEVICE] = { "DEVICE", 0.2, COL_STRING, 0, "device path" },
	[V_MAJMIN] = { "MAJ:MIN", 6, COL_STRING, 0, "major:minor device number" },
	[V_TRACKER] = { "TRACKER-UUID", 36, COL_STRING, 0, "tracker identity (first part of a stamp)" },
	[V_GENERATION] = { "GENERATION", 5, COL_NUMBER, 1, "the open generation" },
	[V_OLDEST] = { "OLDEST", 5, COL_NUMBER, 1, "oldest generation a stamp may name" },
	[V_BLOCK_SIZE] = { "BLOCK-SIZE", 7, COL_NUMBER, 1, "tracking block size, bytes" },
	[V_SIZE] = { "SIZE", 10, COL_NUMBER, 1, "device size, bytes" },
	[V_BLOCKS] = { "BLOCKS", 8, COL_NUMBER, 1, "device size, blocks" },
	[V_CHANGED] = { "CHANGED", 8, COL_NUMBER, 1, "blocks written since attach" },
	[V_MAP] = { "MAP-BYTES", 8, COL_NUMBER, 1, "kernel memory the map uses, bytes" },
	[V_LOST] = { "LOST", 4, COL_BOOL, 0, "continuity lost: the next use starts a new tracker" },
	[V_FSTYPE] = { "FSTYPE", 6, COL_STRING, 0, "filesystem type on the volume" },
	[V_FSUUID] = { "FSUUID", 36, COL_STRING, 0, "filesystem UUID" },
};
#define N_VOL_COLS (sizeof(vol_cols) / sizeof(vol_cols[0]))

static const int vol_defaults[] = {
	V_DEVICE, V_MAJMIN, V_BLOCK_SIZE, V_SIZE, V_GENERATION, V_CHANGED, V_MAP,
	V_LOST, V_FSTYPE, -1,
};

static void usage_status(void)
{
	printf("Usage:\n %s status [options] [VOL]\n\n"
	       "Show the tracked volumes, or VOL, as a table (one line each) or JSON\n"
	       "({\"volumes\": [...]}). Sizes are in bytes.\n\n"
	       "Options:\n"
	       " -o, --output LIST  columns to show (+LIST adds to the defaults)\n"
	       " -J, --json         JSON output (every column unless -o)\n"
	       " -r, --raw          raw output\n"
	       " -n, --noheadings   do not print headings\n"
	       " -h, --help         display this help\n", prog);
	print_columns_help(vol_cols, N_VOL_COLS);
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

static void volume_line(const struct out_opts *out, struct libscols_table *tb,
			const struct cl_volume *v)
{
	struct libscols_line *ln = scols_table_new_line(tb, NULL);
	char fstype[64], fsuuid[64], majmin[32];

	if (!ln) {
		fail_msg("out of memory");
		exit(1);
	}
	probe_fs(v->path, fstype, fsuuid, sizeof(fstype));
	snprintf(majmin, sizeof(majmin), "%u:%u", v->major, v->minor);
	out_cell(out, ln, V_DEVICE, v->path);
	out_cell(out, ln, V_MAJMIN, majmin);
	out_cell(out, ln, V_TRACKER, v->tracker_uuid);
	out_cell_u64(out, ln, V_GENERATION, v->generation);
	out_cell_u64(out, ln, V_OLDEST, v->oldest);
	out_cell_u64(out, ln, V_BLOCK_SIZE, v->block_size);
	out_cell_u64(out, ln, V_SIZE, v->device_size);
	out_cell_u64(out, ln, V_BLOCKS, v->blocks);
	out_cell_u64(out, ln, V_CHANGED, v->changed);
	out_cell_u64(out, ln, V_MAP, v->map_bytes);
	out_cell_bool(out, ln, V_LOST, v->lost);
	out_cell(out, ln, V_FSTYPE, *fstype ? fstype : NULL);
	out_cell(out, ln, V_FSUUID, *fsuuid ? fsuuid : NULL);
}

static int cmd_status(int argc, char **argv)
{
	static const struct option lo[] = {
		OUT_LONGOPTS,
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct cmd_opts o = { "status", usage_status, OUT_SHORTOPTS, lo, NULL, 0 };
	struct out_opts out = { 0 };
	struct libscols_table *tb;
	struct cbt_ctx *ctx;
	dev_t *devs = NULL, one;
	size_t n = 0, k;
	const char *vol;
	int c, ret, rc = 0;

	while ((c = next_opt(&o, argc, argv)) != -1)
		out_opt(&out, c, optarg);
	vol = one_volume("status", argc, argv, 0);
	out_columns("status", &out, vol_cols, N_VOL_COLS, vol_defaults);
	if (vol) {
		ret = cl_resolve(vol, &one);
		if (ret)
			return report(ret, vol);
	}
	if (cl_open(&ctx))
		return 1;
	if (vol) {
		devs = &one;
		n = 1;
	} else {
		ret = cl_volume_list(ctx, &devs, &n);
		if (ret) {
			cl_close(ctx);
			return report(ret, "status");
		}
	}
	tb = out_table(&out, vol_cols, "volumes", 0);
	for (k = 0; k < n; k++) {
		struct cl_volume v;

		ret = cl_volume_info(ctx, devs[k], &v);
		if (ret == -ENOENT && vol) {
			fail_msg("%s: not tracked", vol);
			rc = 1;
		} else if (ret == -ENOENT) {
			;	/* went away since the list */
		} else if (ret) {
			rc = report(ret, vol ? vol : "status");
		} else {
			volume_line(&out, tb, &v);
		}
		cl_volume_clear(&v);
	}
	if (!rc || !vol)
		scols_print_table(tb);
	scols_unref_table(tb);
	if (devs != &one)
		free(devs);
	cl_close(ctx);
	return rc;
}

/* ---- changes ------------------------------------------------------------ */

static void usage_changes(void)
{
	printf("Usage:\n %s changes [options] VOL --since STAMP\n\n"
	       "Print the extents of VOL written after STAMP, one \"OFFSET LENGTH\" line\n"
	       "each, in bytes, in ascending order. With --json, one object\n"
	       "{\"stamp\": STAMP, \"block-size\": N, \"changes\": [{\"offset\": N, \"length\": N}, ...]}\n"
	       "written as the extents come (one extent a line, bounded memory).\n\n"
	       "Options:\n"
	       " -s, --since STAMP    a stamp from 'cbt-snap checkpoint' (required)\n"
	       "     --offset SIZE    start of the range to report (default 0)\n"
	       "     --length SIZE    length of the range (default: to the end)\n"
	       " -J, --json           JSON output\n"
	       " -h, --help           display this help\n"
	       "SIZE is bytes or with a K, M, G or T suffix (KiB, MiB, ... alike).\n", prog);
}

enum { OPT_OFFSET = 256, OPT_LENGTH };

static int cmd_changes(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "since", required_argument, NULL, 's' },
		{ "offset", required_argument, NULL, OPT_OFFSET },
		{ "length", required_argument, NULL, OPT_LENGTH },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct cmd_opts o = { "changes", usage_changes, "s:J", lo, NULL, 0 };
	const char *vol, *since = NULL;
	uint64_t off = 0, len = 0, eoff, elen;
	struct cl_changes *it;
	struct cbt_ctx *ctx;
	int c, json = 0, ret, first = 1;

	while ((c = next_opt(&o, argc, argv)) != -1) {
		switch (c) {
		case 's':
			since = optarg;
			break;
		case 'J':
			json = 1;
			break;
		case OPT_OFFSET:
			if (parse_size(optarg, &off))
				usage_error("changes", "--offset: not a size: '%s'", optarg);
			break;
		case OPT_LENGTH:
			if (parse_size(optarg, &len))
				usage_error("changes", "--length: not a size: '%s'", optarg);
			break;
		}
	}
	vol = one_volume("changes", argc, argv, 1);
	if (!since)
		usage_error("changes", "--since STAMP is required (a stamp from 'cbt-snap checkpoint')");
	if (cl_stamp_check(since))
		usage_error("changes", "'%s' is not a stamp (expected UUID:GENERATION)", since);
	if (cl_check_volume(vol) || cl_open(&ctx))
		return 1;
	ret = cl_changes_open(ctx, vol, since, off, len, &it);
	if (ret) {
		cl_close(ctx);
		if (ret == -ENOENT)
			fail_msg("%s: not tracked", vol);
		else if (ret == -ESTALE)
			fail_msg("%s: tracking was reset or the stamp is too old: the changes since %s are unknown; take a full backup",
				 vol, since);
		else
			report(ret, vol);
		return 1;
	}
	/*
	 * Streamed: nothing is kept per extent. The stamp was checked to be
	 * hex digits, dashes and a colon, so it needs no JSON escaping.
	 */
	if (json)
		printf("{\"stamp\": \"%s\", \"block-size\": %" PRIu32 ", \"changes\": [",
		       since, cl_changes_block_size(it));
	while ((ret = cl_changes_next(it, &eoff, &elen)) > 0) {
		if (json)
			printf("%s\n{\"offset\": %" PRIu64 ", \"length\": %" PRIu64 "}",
			       first ? "" : ",", eoff, elen);
		else
			printf("%" PRIu64 " %" PRIu64 "\n", eoff, elen);
		first = 0;
	}
	cl_changes_free(it);
	cl_close(ctx);
	if (json)
		printf("%s]}\n", first ? "" : "\n");
	if (ret < 0) {
		fflush(stdout);
		return report(ret, vol);
	}
	if (fflush(stdout) || ferror(stdout)) {
		fail_msg("write error: %s", strerror(errno));
		return 1;
	}
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
		{ "backup", cmd_backup },
		{ "restore", cmd_restore },
		{ "verify", cmd_verify },
		{ "list", cmd_list },
		{ "prune", cmd_prune },
		{ "gc", cmd_gc },
		{ "repo", cmd_repo },
		{ "export", cmd_export },
		{ "writers", cmd_writers },
		{ "writer", cmd_writer },
	};
	size_t i;

	opts_reset();
	if (argc < 2)
		usage_error(NULL, "no command given");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		if (argc > 2)
			usage_error(NULL, "unexpected argument '%s'", argv[2]);
		usage();
		return 0;
	}
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version")) {
		if (argc > 2)
			usage_error(NULL, "unexpected argument '%s'", argv[2]);
		return print_version();
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	if (argv[1][0] == '-')
		usage_error(NULL, "unrecognized option '%s'", argv[1]);
	usage_error(NULL, "unknown command '%s'", argv[1]);
}
