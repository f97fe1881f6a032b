// SPDX-License-Identifier: MIT
/*
 * backup-example.c - a backup with libcbt's requester API, small enough to
 * copy into imaging software: a session over tracked volumes, read what
 * changed from each snapshot image, end with success or failure.
 *
 * Each volume i is copied into DIR/i.img at the same offsets (the file is
 * not truncated): a FULL, then INCREMENTALs applied over it in order, make
 * DIR/i.img the volume as it was at the last backup's instant.
 *
 *   cc -o backup-example backup-example.c $(pkg-config --cflags --libs cbt)
 *   backup-example -o DIR [-t TYPE] [-c CHAIN] [-d STATE_DIR] -s STORE[:SIZE]
 *                  [-m NAME=VALUE]... [-n] [-b] [-e CMD] [-x] VOLUME...
 *
 *   -t  full, incremental (default), differential or copy
 *   -c  the chain (default "default"); -d where its anchors are kept
 *   -s  the copy-on-write store of the snapshot set
 *   -m  application metadata kept with the anchors; the previous backup's
 *       is printed as "prev-meta NAME VALUE"
 *   -n  fail rather than fall back to a full backup when a base is stale
 *   -b  decide what to read from the changes bitmap instead of the extents
 *   -e  run CMD once the snapshot is taken (resume an application, say)
 *   -x  end the session as failed (the anchors do not move)
 *
 * Prints, one record a line: "volume I PATH TYPE BASE STAMP SIZE BLOCK_SIZE"
 * ("-" for no base), "reason I SENTENCE" when a volume fell back to a full
 * backup, "extent I OFFSET LENGTH" for each extent copied, then "committed
 * 0|1". Exit status 0 when the backup was committed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libcbt.h>

#define COPY_BUF	(1u << 20)

static char *buf;

/* Copy [off, off + len) of the image into the output file, same offsets. */
static int copy_extent(int in, int out, uint64_t off, uint64_t len)
{
	while (len) {
		size_t n = len < COPY_BUF ? (size_t)len : COPY_BUF;
		ssize_t r = pread(in, buf, n, (off_t)off);

		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		if (pwrite(out, buf, (size_t)r, (off_t)off) != r)
			return -errno;
		off += (uint64_t)r;
		len -= (uint64_t)r;
	}
	return 0;
}

/* What to read, from the extents iterator. */
static int copy_by_extents(struct cbt_backup *b, unsigned int i, int in, int out)
{
	struct cbt_changes_iter *it;
	uint64_t off, len;
	int ret = cbt_backup_volume_changes_open(b, i, &it);

	while (!ret && (ret = cbt_changes_next(it, &off, &len)) == 1) {
		printf("extent %u %" PRIu64 " %" PRIu64 "\n", i, off, len);
		ret = copy_extent(in, out, off, len);
	}
	cbt_changes_free(it);
	return ret;
}

/* The same from the bitmap: runs of set bits are extents. */
static int copy_by_bitmap(struct cbt_backup *b, unsigned int i, int in, int out)
{
	uint64_t size = cbt_backup_volume_get_size(b, i);
	uint64_t bs = cbt_backup_volume_get_block_size(b, i);
	uint64_t nbits = (size + bs - 1) / bs, k, start;
	uint8_t *map = calloc(nbits / 8 + 1, 1);
	int64_t got;
	int ret = 0;

	if (!map)
		return -ENOMEM;
	got = cbt_backup_volume_changes_bitmap(b, i, 0, nbits, map);
	if (got < 0)
		ret = (int)got;
	for (k = 0; !ret && k < (uint64_t)got; k++) {
		if (!(map[k / 8] & (1u << (k % 8))))
			continue;
		for (start = k; k + 1 < (uint64_t)got && (map[(k + 1) / 8] & (1u << ((k + 1) % 8))); k++)
			;
		uint64_t off = start * bs, end = (k + 1) * bs < size ? (k + 1) * bs : size;

		printf("extent %u %" PRIu64 " %" PRIu64 "\n", i, off, end - off);
		ret = copy_extent(in, out, off, end - off);
	}
	free(map);
	return ret;
}

static void usage(void)
{
	fprintf(stderr, "usage: backup-example -o DIR [-t TYPE] [-c CHAIN] [-d STATE_DIR] "
		"-s STORE [-m NAME=VALUE]... [-n] [-b] [-e CMD] [-x] VOLUME...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *chain = NULL, *state = NULL, *cmd = NULL;
	int type = LIBCBT_BACKUP_INCREMENTAL, bitmap = 0, fail = 0, committed, opt, ret;
	struct cbt_snapset_opts *opts = NULL;
	struct cbt_backup *b = NULL;
	struct cbt_ctx *ctx = NULL;
	unsigned int flags = 0, i, n;

	if (cbt_ctx_new(&ctx) || cbt_snapset_opts_new(&opts)) {
		fprintf(stderr, "backup-example: cannot open /dev/cbt-ctl (module loaded? root?)\n");
		return 1;
	}
	/* The session is made first: options are set on it as they come. */
	while ((opt = getopt(argc, argv, "o:t:c:d:s:m:nbe:x")) != -1) {
		switch (opt) {
		case 'o': dir = optarg; break;
		case 't':
			if (cbt_backup_type_parse(optarg, &type))
				usage();
			break;
		case 'c': chain = optarg; break;
		case 'd': state = optarg; break;
		case 's':
			if ((ret = cbt_snapset_opts_add_store(opts, optarg))) {
				fprintf(stderr, "backup-example: store %s: %s\n", optarg, cbt_strerror(ret));
				return 1;
			}
			break;
		case 'm': break;	/* after the session exists */
		case 'n': flags |= LIBCBT_BACKUP_NO_FALLBACK; break;
		case 'b': bitmap = 1; break;
		case 'e': cmd = optarg; break;
		case 'x': fail = 1; break;
		default: usage();
		}
	}
	if (!dir || optind == argc)
		usage();

	ret = cbt_backup_new(ctx, type, &b);
	if (!ret && chain)
		ret = cbt_backup_set_chain(b, chain);
	if (!ret && state)
		ret = cbt_backup_set_state_dir(b, state);
	if (!ret)
		ret = cbt_backup_set_flags(b, flags);
	if (!ret)
		ret = cbt_backup_set_snapset_opts(b, opts);
	for (i = (unsigned int)optind; !ret && i < (unsigned int)argc; i++) {
		struct cbt_volume *vol = NULL;

		ret = cbt_volume_open(ctx, argv[i], &vol);
		if (!ret)
			ret = cbt_backup_add_volume(b, vol);
		cbt_volume_free(vol);	/* the session keeps its device number */
	}
	optind = 1;	/* metadata, now that the session exists */
	while (!ret && (opt = getopt(argc, argv, "o:t:c:d:s:m:nbe:x")) != -1) {
		char *eq = opt == 'm' ? strchr(optarg, '=') : NULL;

		if (opt != 'm')
			continue;
		if (!eq)
			usage();
		*eq = '\0';
		ret = cbt_backup_set_metadata(b, optarg, eq + 1, strlen(eq + 1));
	}
	cbt_snapset_opts_free(opts);	/* the session has its copy */
	if (ret) {
		fprintf(stderr, "backup-example: %s\n", cbt_strerror(ret));
		goto out;
	}

	/* The snapshot set, and each volume's type and base. */
	ret = cbt_backup_begin(b);
	n = cbt_backup_get_volume_count(b);
	for (i = 0; i < n; i++)
		if (cbt_backup_volume_get_reason(b, i))
			printf("reason %u %s\n", i, cbt_backup_volume_get_reason(b, i));
	if (ret) {
		fprintf(stderr, "backup-example: %s\n", cbt_strerror(ret));
		goto out;
	}
	for (i = 0; i < cbt_backup_get_prev_metadata_count(b); i++) {
		const char *name = cbt_backup_get_prev_metadata_name(b, i);
		const void *data;
		size_t len;

		if (!cbt_backup_get_prev_metadata(b, name, &data, &len))
			printf("prev-meta %s %.*s\n", name, (int)len, (const char *)data);
	}
	if (cmd && system(cmd) != 0)
		fprintf(stderr, "backup-example: %s failed\n", cmd);

	for (i = 0; !ret && i < n; i++) {
		char path[4096];
		int in, out;

		printf("volume %u %s %s %s %s %" PRIu64 " %" PRIu32 "\n", i,
		       cbt_backup_volume_get_path(b, i),
		       cbt_backup_type_name(cbt_backup_volume_get_type(b, i)),
		       cbt_backup_volume_get_base(b, i) ? cbt_backup_volume_get_base(b, i) : "-",
		       cbt_backup_volume_get_stamp(b, i), cbt_backup_volume_get_size(b, i),
		       cbt_backup_volume_get_block_size(b, i));
		snprintf(path, sizeof(path), "%s/%u.img", dir, i);
		in = open(cbt_backup_volume_get_image(b, i), O_RDONLY | O_CLOEXEC);
		out = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (!buf)
			buf = malloc(COPY_BUF);
		if (in < 0 || out < 0 || !buf)
			ret = -errno;
		else if (bitmap)
			ret = copy_by_bitmap(b, i, in, out);
		else
			ret = copy_by_extents(b, i, in, out);
		if (!ret && fsync(out) < 0)
			ret = -errno;
		if (in >= 0)
			close(in);
		if (out >= 0)
			close(out);
		if (ret)
			fprintf(stderr, "backup-example: %s: %s\n",
				cbt_backup_volume_get_path(b, i), cbt_strerror(ret));
	}

	/* Anchors move only if the backup is declared good. */
	ret = cbt_backup_end(b, !ret && !fail);
	if (ret)
		fprintf(stderr, "backup-example: end: %s\n", cbt_strerror(ret));
out:
	committed = cbt_backup_is_committed(b);
	printf("committed %d\n", committed);
	cbt_backup_free(b);	/* a session not ended would end as failed */
	cbt_ctx_unref(ctx);
	free(buf);
	return committed ? 0 : 1;
}
