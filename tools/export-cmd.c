// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * export-cmd.c - cbt-snap export: a point of a repository (or the difference
 * between two points of one volume) as a Ceph "rbd diff v1" stream, the input
 * of `rbd import-diff` (writer: rbd-diff.c).
 *
 * The difference is libcbt's cbt_point_diff(): chunks whose digests differ,
 * index against index; from empty, every chunk that is not all zeroes. The
 * snapshot names in the stream are the point ids, so a chain imports in
 * order: the full export creates snapshot "ID1", the next export (--from ID1)
 * needs "ID1" on the image and creates "ID2", and so on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libcbt.h"
#include "cli.h"
#include "backup.h"
#include "rbd-diff.h"

enum { OPT_FROM = 256, OPT_ALLOW_SHARED };

static void usage_export(void)
{
	printf("Usage:\n %s export [options] REPO --point ID --format rbd-diff\n\n"
	       "Write a volume of a point as a Ceph 'rbd diff v1' stream for\n"
	       "'rbd import-diff': with --from, only the chunks that differ between the\n"
	       "two points of that volume; without, every chunk that is not all zeroes.\n"
	       "The stream's snapshot names are the point ids: import-diff creates\n"
	       "snapshot ID; a stream --from ID0 needs snapshot ID0 on the image first.\n"
	       "Every chunk's digest is checked.\n\n"
	       "Options:\n"
	       " -p, --point ID        the point to export ('cbt-snap list REPO')\n"
	       "     --from ID         the point the image already holds (same volume)\n"
	       " -v, --volume NAME     which volume (needed when the point has several)\n"
	       " -F, --format FORMAT   the stream's format: rbd-diff (required)\n"
	       " -o, --output FILE     write to FILE (made or replaced, mode 0600) or '-'\n"
	       "                       for standard output (the default; refused on a\n"
	       "                       terminal)\n"
	       "     --allow-shared    use a repository others may read (a warning)\n"
	       " -q, --quiet           no progress bar (it shows on a terminal)\n"
	       " -h, --help            display this help\n", prog);
}

static uint64_t parse_point(const char *opt, const char *text)
{
	const char *p;

	for (p = text; *p >= '0' && *p <= '9'; p++)
		;
	if (!*text || *p || *text == '0' || strlen(text) > 18)
		usage_error("export", "%s: a point id (a number from 1), not '%s'", opt, text);
	return strtoull(text, NULL, 10);
}

/* Volume @name of point @p (or its only one); -1 after saying why not. */
static int pick_volume(struct cbt_point *p, const char *name)
{
	uint64_t id = cbt_point_get_id(p);
	int vi;

	if (name) {
		vi = cbt_point_find_volume(p, name);
		if (vi < 0)
			fail_msg("point %" PRIu64 " has no volume '%s'", id, name);
		return vi < 0 ? -1 : vi;
	}
	if (cbt_point_get_volume_count(p) == 1)
		return 0;
	fail_msg("point %" PRIu64 " has %u volumes: name one with --volume (%s, ...)", id,
		 cbt_point_get_volume_count(p), cbt_point_get_volume_name(p, 0));
	return -1;
}

static int write_chunk(void *data, uint64_t offset, const void *buf, size_t len)
{
	return rbd_diff_data(data, offset, buf, len);
}

/*
 * The output: stdout, or a temporary file next to @path renamed over it
 * once complete (a failed export leaves no half stream behind).
 */
struct output {
	const char *path;	/* NULL: stdout */
	char *tmp;
	FILE *f;
};

static int output_open(struct output *out, const char *path)
{
	int fd;

	out->path = path && strcmp(path, "-") ? path : NULL;
	if (!out->path) {
		if (isatty(STDOUT_FILENO)) {
			fail_msg("export: standard output is a terminal: give -o FILE or redirect it");
			return 1;
		}
		out->f = stdout;
		return 0;
	}
	if (asprintf(&out->tmp, "%s.XXXXXX", out->path) < 0) {
		fail_msg("out of memory");
		return 1;
	}
	fd = mkstemp(out->tmp);	/* 0600: the stream holds the volume's data */
	if (fd < 0 || !(out->f = fdopen(fd, "wb"))) {
		fail_msg("%s: %s", out->path, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(out->tmp);
		}
		free(out->tmp);
		return 1;
	}
	return 0;
}

/* Finish (@ok) or drop the output; 0 or 1 after saying why. */
static int output_close(struct output *out, int ok)
{
	const char *what = out->path ? out->path : "standard output";
	int err = 0;

	if (fflush(out->f) || ferror(out->f))
		err = errno ? errno : EIO;
	if (out->path) {
		if (!err && ok && fsync(fileno(out->f)))
			err = errno;
		if (fclose(out->f) && !err)
			err = errno;
		if (!err && ok && rename(out->tmp, out->path))
			err = errno;
		if (err || !ok)
			unlink(out->tmp);
		free(out->tmp);
	}
	if (err && ok)
		fail_msg("%s: %s", what, strerror(err));
	return err || !ok;
}

int cmd_export(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "point", required_argument, NULL, 'p' },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "volume", required_argument, NULL, 'v' },
		{ "format", required_argument, NULL, 'F' },
		{ "output", required_argument, NULL, 'o' },
		{ "allow-shared", no_argument, NULL, OPT_ALLOW_SHARED },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct cmd_opts o = { "export", usage_export, "p:v:F:o:q", lo, NULL, 0 };
	const char *volume = NULL, *format = NULL, *path = NULL, *repo;
	struct cbt_point *p = NULL, *from = NULL;
	uint64_t id = 0, from_id = 0;
	char to_name[24], from_name[24];
	struct output out = { 0 };
	struct rbd_diff d;
	struct progress pg;
	struct cbt_repo *r;
	int c, vi, fvi = 0, ret, shared = 0, quiet = 0, rc = 1;

	while ((c = next_opt(&o, argc, argv)) != -1) {
		switch (c) {
		case 'p':
			id = parse_point("--point", optarg);
			break;
		case OPT_FROM:
			from_id = parse_point("--from", optarg);
			break;
		case 'v':
			volume = optarg;
			break;
		case 'F':
			format = optarg;
			break;
		case 'o':
			path = optarg;
			break;
		case OPT_ALLOW_SHARED:
			shared = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		}
	}
	repo_arg("export", argc, argv);
	if (!id)
		usage_error("export", "--point ID is required");
	if (!format)
		usage_error("export", "--format is required (rbd-diff)");
	if (strcmp(format, "rbd-diff"))
		usage_error("export", "--format: rbd-diff is the only format, not '%s'", format);
	if (from_id == id)
		usage_error("export", "--from: the point itself (%" PRIu64 "): an empty difference",
			    id);
	repo = argv[optind];
	r = open_repo(repo, 0, shared, 0, 0);
	if (!r)
		return 1;
	ret = cbt_point_open(r, id, &p);
	if (!ret && from_id)
		ret = cbt_point_open(r, from_id, &from);
	if (ret) {
		repo_fail(r, ret, repo);
		goto out;
	}
	vi = pick_volume(p, volume);
	if (vi < 0)
		goto out;
	if (from) {
		fvi = cbt_point_find_volume(from, cbt_point_get_volume_name(p, (unsigned int)vi));
		if (fvi < 0) {
			fail_msg("point %" PRIu64 " has no volume '%s': not a base of point %" PRIu64,
				 from_id, cbt_point_get_volume_name(p, (unsigned int)vi), id);
			goto out;
		}
	}
	snprintf(to_name, sizeof(to_name), "%" PRIu64, id);
	snprintf(from_name, sizeof(from_name), "%" PRIu64, from_id);
	if (output_open(&out, path))
		goto out;
	ret = rbd_diff_begin(&d, out.f, from ? from_name : NULL, to_name,
			     cbt_point_get_volume_size(p, (unsigned int)vi));
	if (!ret) {
		progress_start(r, &pg, "export", quiet);
		ret = cbt_point_diff(p, (unsigned int)vi, from, (unsigned int)fvi, write_chunk, &d);
		progress_end(r, &pg);
	}
	if (!ret)
		ret = rbd_diff_end(&d);
	if (ret) {
		if (d.err)	/* the stream's own write failed */
			fail_msg("%s: %s", out.path ? out.path : "standard output",
				 strerror(-d.err));
		else
			repo_fail(r, ret, repo);
	}
	rc = output_close(&out, !ret);
out:
	cbt_point_free(from);
	cbt_point_free(p);
	cbt_repo_close(r);
	return rc;
}
