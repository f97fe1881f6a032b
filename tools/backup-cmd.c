// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * backup-cmd.c - cbt-snap's repository commands: repo init, backup (of
 * sources that are not tracked: files, images, devices; optionally only
 * the extents a --changes file names), restore, verify, list, prune, gc.
 * backup_write_point() is the one place a point is written from sources.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <json-c/json.h>
#include <libsmartcols.h>

#include "cli.h"
#include "backup.h"
#include "writer-hooks.h"

/* ---- common ---------------------------------------------------------------- */

static void oom(void)
{
	fail_msg("out of memory");
	exit(1);
}

/* One line for a repository error: the library's detail, or the errno's text. */
static int repo_fail(struct cbt_repo *r, int err, const char *what)
{
	const char *detail = cbt_repo_get_error(r);

	if (detail && *detail)
		fail_msg("%s: %s", what, detail);
	else
		fail_msg("%s: %s", what, strerror(-err));
	return 1;
}

static struct cbt_repo *open_repo(const char *path, int create, int allow_shared,
				  uint32_t chunk_size, int quiet)
{
	unsigned int flags = (create ? LIBCBT_REPO_CREATE : 0) |
			     (allow_shared ? LIBCBT_REPO_ALLOW_SHARED : 0);
	struct cbt_repo *r;
	int ret;

	ret = cbt_repo_open(path, flags, chunk_size, &r);
	if (ret) {
		if (ret == -ENOENT && !*cbt_repo_get_error(NULL))
			fail_msg("%s: no such repository", path);
		else if (ret == -EACCES && !allow_shared && strstr(cbt_repo_get_error(NULL), "others"))
			fail_msg("%s (or give --allow-shared)", cbt_repo_get_error(NULL));
		else
			repo_fail(NULL, ret, path);
		return NULL;
	}
	if (cbt_repo_is_shared(r) && !quiet)
		fail_msg("warning: %s: others may read this repository (chmod 700 it)", path);
	return r;
}

static void human(uint64_t v, char *buf, size_t len)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double d = (double)v;
	int i = 0;

	while (d >= 1024 && i < 5) {
		d /= 1024;
		i++;
	}
	if (i)
		snprintf(buf, len, "%.1f %s", d, u[i]);
	else
		snprintf(buf, len, "%" PRIu64 " B", v);
}

/* ---- progress bar ------------------------------------------------------------ */

struct progress {
	const char *what;
	struct timespec start, last;
	int shown, bar;
	uint64_t stop_at;	/* CBT_SNAP_TEST_STOP_AT: SIGSTOP itself there, once */
};

static double since(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

volatile sig_atomic_t backup_interrupted;

static int progress_cb(void *data, uint64_t done, uint64_t total)
{
	struct progress *p = data;
	struct timespec now;
	char d[32], t[32], rate[32], left[32];
	double el, bps;
	int pct, i, w = 24;

	if (backup_interrupted)
		return -1;	/* the library gives up: -ECANCELED */
	if (p->stop_at && done >= p->stop_at) {
		p->stop_at = 0;
		raise(SIGSTOP);
	}
	if (!p->bar)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (done < total && p->shown && since(&p->last, &now) < 0.2)
		return 0;
	p->last = now;
	p->shown = 1;
	el = since(&p->start, &now);
	bps = el > 0 ? (double)done / el : 0;
	pct = total ? (int)(done * 100 / total) : 100;
	human(done, d, sizeof(d));
	human(total, t, sizeof(t));
	human((uint64_t)bps, rate, sizeof(rate));
	if (bps > 0 && done < total) {
		uint64_t s = (uint64_t)((double)(total - done) / bps);

		snprintf(left, sizeof(left), "%" PRIu64 ":%02" PRIu64 " left", s / 60, s % 60);
	} else {
		snprintf(left, sizeof(left), "%.1fs", el);
	}
	fprintf(stderr, "\r%s [", p->what);
	for (i = 0; i < w; i++)
		fputc(i < pct * w / 100 ? '#' : '.', stderr);
	fprintf(stderr, "] %3d%% %s of %s, %s/s, %s\033[K", pct, d, t, rate, left);
	fflush(stderr);
	return 0;
}

/*
 * The bar, on a terminal. CBT_SNAP_TEST_STOP_AT=BYTES (tests only) stops
 * the process once that much is done, so a test can act while it waits.
 */
static void progress_start(struct cbt_repo *r, struct progress *p, const char *what, int quiet)
{
	const char *stop = getenv("CBT_SNAP_TEST_STOP_AT");

	memset(p, 0, sizeof(*p));
	p->what = what;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	p->bar = !quiet && isatty(STDERR_FILENO);
	if (stop && parse_size(stop, &p->stop_at))
		p->stop_at = 0;
	cbt_repo_set_progress(r, progress_cb, p);	/* also to see backup_interrupted */
}

static void progress_end(struct cbt_repo *r, struct progress *p)
{
	if (p->shown)
		fprintf(stderr, "\r\033[K");
	cbt_repo_set_progress(r, NULL, NULL);
	p->shown = 0;
}

/* ---- writing a point --------------------------------------------------------- */

static int source_open(struct backup_source *s)
{
	struct stat st;
	uint64_t size;

	if (s->fd < 0) {
		s->fd = open(s->path, O_RDONLY | O_CLOEXEC);
		if (s->fd < 0) {
			fail_msg("%s: %s", s->path, strerror(errno));
			return -1;
		}
	}
	if (fstat(s->fd, &st)) {
		fail_msg("%s: %s", s->path, strerror(errno));
		return -1;
	}
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(s->fd, BLKGETSIZE64, &size)) {
			fail_msg("%s: size: %s", s->path, strerror(errno));
			return -1;
		}
	} else if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else {
		fail_msg("%s: not a file or a block device", s->path);
		return -1;
	}
	if (!s->size)
		s->size = size;
	if (!s->size) {
		fail_msg("%s: empty: nothing to back up", s->path);
		return -1;
	}
	return 0;
}

int backup_write_point(const struct backup_opts *o, struct backup_source *src, size_t n,
		       struct backup_result *res)
{
	struct cbt_newpoint *np = NULL;
	struct cbt_repo *r;
	struct progress pg;
	char what[64];
	size_t i;
	int ret, rc = 1;

	memset(res, 0, sizeof(*res));
	if (!o->prepare)
		for (i = 0; i < n; i++)
			if (source_open(&src[i]))
				return 1;
	r = open_repo(o->repo, 1, o->allow_shared, o->chunk_size, o->quiet);
	if (!r)
		return 1;
	ret = cbt_newpoint_begin(r, o->chain, o->type, &np);
	if (ret) {
		repo_fail(r, ret, o->repo);
		goto out;
	}
	if (o->prepare) {
		if (o->prepare(o->hook_data, r, np, src, n))
			goto out;
		for (i = 0; i < n; i++)
			if (source_open(&src[i]))
				goto out;
	}
	if (o->app_metadata && cbt_newpoint_set_app_metadata(np, o->app_metadata)) {
		fail_msg("application metadata: refused");
		goto out;
	}
	for (i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "backup %zu/%zu", i + 1, n);
		progress_start(r, &pg, what, o->quiet || o->json);
		ret = cbt_newpoint_add_volume(np, src[i].name, src[i].fd, src[i].size, src[i].stamp,
					      src[i].extents, src[i].nextents);
		progress_end(r, &pg);
		if (ret) {
			repo_fail(r, ret, src[i].path);
			goto out;
		}
		if (!i && src[i].extents && cbt_newpoint_get_type(np) == CBT_POINT_FULL &&
		    !o->quiet && !o->json)
			fail_msg("note: chain '%s' has no usable backup of %s: a full backup, every block read",
				 o->chain ? o->chain : "default", src[i].path);
	}
	if (o->ready && o->ready(o->hook_data))
		goto out;
	ret = cbt_newpoint_commit(np, &res->id);
	if (ret) {
		repo_fail(r, ret, o->repo);
		goto out;
	}
	if (o->prepare)
		for (i = 0; i < n; i++) {	/* the images go with the set */
			close(src[i].fd);
			src[i].fd = -1;
		}
	if (o->finish && o->finish(o->hook_data, r, res->id)) {
		ret = cbt_repo_remove_point(r, res->id);
		if (ret)
			repo_fail(r, ret, o->repo);
		goto out;
	}
	res->type = cbt_newpoint_get_type(np);
	res->base = cbt_newpoint_get_base(np);
	res->bytes_read = cbt_newpoint_get_bytes_read(np);
	res->bytes_stored = cbt_newpoint_get_bytes_stored(np);
	rc = 0;
out:
	cbt_newpoint_free(np);
	cbt_repo_close(r);
	return rc;
}

/* ---- --changes FILE ---------------------------------------------------------- */

/*
 * The JSON `cbt-snap changes --json` prints: {"stamp": S, "block-size": N,
 * "changes": [{"offset": N, "length": N}, ...]}. Offsets and lengths are
 * bytes; the extents must lie within @size.
 */
static int read_changes(const char *file, uint64_t size, uint64_t **ext, size_t *n)
{
	struct json_object *o = NULL, *arr, *e, *v;
	struct json_tokener *tok = NULL;
	char *text = NULL;
	size_t len = 0, cap = 0, i, k;
	uint64_t *x = NULL;
	FILE *f;
	int64_t off, l;
	int ret = -1;

	f = strcmp(file, "-") ? fopen(file, "re") : stdin;
	if (!f) {
		fail_msg("%s: %s", file, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 1 << 20;
			text = realloc(text, cap);
			if (!text)
				oom();
		}
		k = fread(text + len, 1, cap - len - 1, f);
		len += k;
		if (!k)
			break;
	}
	if (f != stdin)
		fclose(f);
	text[len] = '\0';
	tok = json_tokener_new_ex(8);
	if (!tok)
		oom();
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (strlen(text) != len || json_tokener_get_error(tok) != json_tokener_success || !o) {
		fail_msg("%s: not JSON (%s)", file,
			 strlen(text) != len ? "a NUL byte" :
			 json_tokener_error_desc(json_tokener_get_error(tok)));
		goto out;
	}
	k = json_tokener_get_parse_end(tok);
	if (text[k + strspn(text + k, " \t\r\n")]) {
		fail_msg("%s: not JSON (something after the object)", file);
		goto out;
	}
	if (!json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "changes", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		fail_msg("%s: not what 'cbt-snap changes --json' prints (no \"changes\" array)", file);
		goto out;
	}
	*n = json_object_array_length(arr);
	x = calloc(*n ? *n * 2 : 1, sizeof(*x));
	if (!x)
		oom();
	for (i = 0; i < *n; i++) {
		e = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, "offset", &v) || !json_object_is_type(v, json_type_int) ||
		    (errno = 0, off = json_object_get_int64(v), errno) || off < 0 ||
		    !json_object_object_get_ex(e, "length", &v) || !json_object_is_type(v, json_type_int) ||
		    (errno = 0, l = json_object_get_int64(v), errno) || l <= 0) {
			fail_msg("%s: change %zu: not {\"offset\": BYTES, \"length\": BYTES} with a length above 0",
				 file, i + 1);
			goto out;
		}
		if ((uint64_t)off > size || (uint64_t)l > size - (uint64_t)off) {
			fail_msg("%s: change %zu (%" PRId64 "+%" PRId64 ") lies beyond the source's %" PRIu64 " bytes",
				 file, i + 1, off, l, size);
			goto out;
		}
		x[2 * i] = (uint64_t)off;
		x[2 * i + 1] = (uint64_t)l;
	}
	*ext = x;
	x = NULL;
	ret = 0;
out:
	free(x);
	free(text);
	json_tokener_free(tok);
	json_object_put(o);
	return ret;
}

/* ---- backup ------------------------------------------------------------------ */

static void usage_backup(void)
{
	printf("Usage:\n %s backup [options] SOURCE... --to REPO\n\n"
	       "Back up volumes into the repository REPO (created, private, if missing).\n"
	       "Tracked volumes are backed up together from one snapshot set (one instant,\n"
	       "filesystems frozen for it): an incremental reads only what changed since the\n"
	       "chain's last backup, a differential what changed since its last full one.\n"
	       "Files, images or block devices that are not tracked are read whole (only\n"
	       "chunks the repository lacks are stored) or, with --changes, only the extents\n"
	       "the file names, on top of the chain's last backup of the same source.\n"
	       "Each SOURCE is its own volume in the repository, named by its absolute path.\n\n"
	       "Options:\n"
	       " -T, --to REPO          the repository\n"
	       " -t, --type TYPE        full, incremental, differential or copy (default:\n"
	       "                        full when the chain has no usable backup, else\n"
	       "                        incremental)\n"
	       " -c, --chain NAME       the chain (default \"default\"): a base is looked for\n"
	       "                        only among the chain's points\n"
	       " -C, --changes FILE     the extents to read, as 'cbt-snap changes --json'\n"
	       "                        prints them (- for stdin); once per SOURCE, in order\n"
	       " -s, --store PATH[:SIZE]  tracked volumes: the snapshot's copy-on-write store\n"
	       "                        (repeatable; default a file in the repository's\n"
	       "                        workspace, a quarter of the volumes' size)\n"
	       "     --no-fallback      tracked volumes: fail when a tracker was reset rather\n"
	       "                        than take a full backup\n"
	       "     --state-dir DIR    tracked volumes: where chains keep their stamps\n"
	       "                        (default /var/lib/cbt)\n"
	       "     --writers POLICY   tracked volumes: require (a writer's failure fails\n"
	       "                        the backup), best-effort (the default: the backup\n"
	       "                        goes on, crash-consistent for that writer) or none\n"
	       "     --chunk-size SIZE  a new repository's chunk size (default 1M)\n"
	       "     --allow-shared     use a repository others may read (a warning)\n"
	       " -q, --quiet            no progress bar, no summary\n"
	       " -J, --json             the summary as JSON\n"
	       " -h, --help             display this help\n", prog);
}

enum { OPT_NO_FALLBACK = 300, OPT_STATE_DIR, OPT_WRITERS };
enum { OPT_CHUNK_SIZE = 256, OPT_ALLOW_SHARED, OPT_DRY_RUN, OPT_FORCE, OPT_KEEP_LAST,
       OPT_KEEP_DAILY, OPT_KEEP_WEEKLY, OPT_KEEP_MONTHLY };

static void print_result(const struct backup_opts *o, const struct backup_result *res,
			 struct backup_source *src, size_t n)
{
	char rd[32], st[32];
	size_t i;

	if (o->json) {
		printf("{\"id\": %" PRIu64 ", \"type\": \"%s\", \"base\": ", res->id,
		       cbt_point_type_name(res->type));
		if (res->base)
			printf("%" PRIu64, res->base);
		else
			printf("null");
		printf(", \"chain\": \"%s\", \"bytes-read\": %" PRIu64 ", \"bytes-stored\": %" PRIu64
		       ", \"volumes\": [", o->chain ? o->chain : "default", res->bytes_read,
		       res->bytes_stored);
		for (i = 0; i < n; i++)
			printf("%s%s", i ? ", " : "",
			       json_object_to_json_string_ext(json_object_new_string(src[i].name),
							      JSON_C_TO_STRING_NOSLASHESCAPE));
		printf("]");
		if (res->writers_json)
			printf(", \"writers\": %s", res->writers_json);
		printf("}\n");
		return;
	}
	if (o->quiet)
		return;
	human(res->bytes_read, rd, sizeof(rd));
	human(res->bytes_stored, st, sizeof(st));
	if (res->base)
		printf("point %" PRIu64 ": %s on point %" PRIu64 ", %s read, %s stored\n", res->id,
		       cbt_point_type_name(res->type), res->base, rd, st);
	else
		printf("point %" PRIu64 ": %s, %s read, %s stored\n", res->id,
		       cbt_point_type_name(res->type), rd, st);
}

int cmd_backup(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "to", required_argument, NULL, 'T' },
		{ "type", required_argument, NULL, 't' },
		{ "chain", required_argument, NULL, 'c' },
		{ "changes", required_argument, NULL, 'C' },
		{ "store", required_argument, NULL, 's' },
		{ "no-fallback", no_argument, NULL, OPT_NO_FALLBACK },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "writers", required_argument, NULL, OPT_WRITERS },
		{ "chunk-size", required_argument, NULL, OPT_CHUNK_SIZE },
		{ "allow-shared", no_argument, NULL, OPT_ALLOW_SHARED },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	static const int rep[] = { 'C', 's', 0 };
	struct cmd_opts o = { "backup", usage_backup, "T:t:c:C:s:qJ", lo, rep, 0 };
	struct backup_opts bo = { 0 };
	struct tracked_opts to = { 0 };
	int ntracked = 0;
	struct backup_source *src;
	struct backup_result res = { 0 };
	const char *changes[64];
	size_t nchanges = 0, n, i, j;
	uint64_t cs;
	int c, rc;

	while ((c = next_opt(&o, argc, argv)) != -1) {
		switch (c) {
		case 'T':
			bo.repo = optarg;
			break;
		case 't':
			if (cbt_point_type_parse(optarg, &bo.type))
				usage_error("backup", "--type: full, incremental, differential or copy, not '%s'",
					    optarg);
			break;
		case 'c':
			if (!*optarg || strlen(optarg) > 255 || strchr(optarg, '\n'))
				usage_error("backup", "--chain: a name of 1 to 255 characters");
			bo.chain = optarg;
			break;
		case 'C':
			if (nchanges == 64)
				usage_error("backup", "--changes: at most 64");
			changes[nchanges++] = optarg;
			break;
		case OPT_CHUNK_SIZE:
			if (parse_size(optarg, &cs) || cs < LIBCBT_REPO_CHUNK_MIN ||
			    cs > LIBCBT_REPO_CHUNK_MAX || (cs & (cs - 1)))
				usage_error("backup", "--chunk-size: a power of two from 64K to 16M, not '%s'",
					    optarg);
			bo.chunk_size = (uint32_t)cs;
			break;
		case OPT_ALLOW_SHARED:
			bo.allow_shared = 1;
			break;
		case 's':
			if (to.nstores == sizeof(to.stores) / sizeof(to.stores[0]))
				usage_error("backup", "--store: at most %zu",
					    sizeof(to.stores) / sizeof(to.stores[0]));
			to.stores[to.nstores++] = optarg;
			break;
		case OPT_NO_FALLBACK:
			to.no_fallback = 1;
			break;
		case OPT_STATE_DIR:
			if (!*optarg)
				usage_error("backup", "--state-dir: a folder");
			to.state_dir = optarg;
			break;
		case OPT_WRITERS:
			to.writers = parse_writers_policy(optarg);
			if (to.writers < 0)
				usage_error("backup", "--writers: require, best-effort or none, not '%s'",
					    optarg);
			to.writers_given = 1;
			break;
		case 'q':
			bo.quiet = 1;
			break;
		case 'J':
			bo.json = 1;
			break;
		}
	}
	if (!bo.repo)
		usage_error("backup", "--to REPO is required");
	if (optind == argc)
		usage_error("backup", "no source given");
	n = (size_t)(argc - optind);
	if (nchanges && nchanges != n)
		usage_error("backup", "--changes: one per source (%zu sources, %zu files)", n,
			    nchanges);
	if (nchanges && (bo.type == CBT_POINT_FULL || bo.type == CBT_POINT_COPY))
		usage_error("backup", "--changes: a %s backup reads every block",
			    cbt_point_type_name(bo.type));
	for (i = 0; i < n; i++) {
		c = backup_source_is_tracked(argv[optind + i]);
		if (c < 0)
			return 1;
		ntracked += c;
	}
	if (ntracked && ntracked != (int)n)
		usage_error("backup", "tracked and untracked sources in one backup: back them up apart");
	if (ntracked && nchanges)
		usage_error("backup", "--changes: the module says what changed on a tracked volume");
	if (!ntracked && (to.nstores || to.no_fallback || to.state_dir || to.writers_given))
		usage_error("backup", "--store, --no-fallback, --state-dir and --writers are for tracked volumes");
	src = calloc(n, sizeof(*src));
	if (!src)
		oom();
	for (i = 0; i < n; i++) {
		char *abs = realpath(argv[optind + i], NULL);

		if (!abs) {
			fail_msg("%s: %s", argv[optind + i], strerror(errno));
			return 1;
		}
		for (j = 0; j < i; j++)
			if (!strcmp(src[j].name, abs))
				usage_error("backup", "'%s' given twice", argv[optind + i]);
		src[i].name = abs;
		src[i].path = argv[optind + i];
		src[i].fd = -1;
		if (nchanges) {
			if (source_open(&src[i]))
				return 1;
			if (read_changes(changes[i], src[i].size, (uint64_t **)&src[i].extents,
					 &src[i].nextents))
				return 1;
		}
	}
	if (ntracked)
		rc = backup_tracked(&bo, &to, n, src, &res);
	else
		rc = backup_write_point(&bo, src, n, &res);
	if (!rc)
		print_result(&bo, &res, src, n);
	for (i = 0; i < n; i++) {
		if (src[i].fd >= 0)
			close(src[i].fd);
		free((void *)src[i].name);
		free((void *)src[i].extents);
	}
	free(src);
	free(res.writers_json);
	return rc;
}

/* ---- repo init --------------------------------------------------------------- */

static void usage_repo_init(void)
{
	printf("Usage:\n %s repo init [options] REPO\n\n"
	       "Create an empty repository (a private folder; 'backup' also creates one\n"
	       "when its --to folder is missing).\n\n"
	       "Options:\n"
	       "     --chunk-size SIZE  the chunk size: a power of two from 64K to 16M\n"
	       "                        (default 1M, see docs/chunk-size.md)\n"
	       " -h, --help             display this help\n", prog);
}

static int repo_init(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "chunk-size", required_argument, NULL, OPT_CHUNK_SIZE },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct cmd_opts o = { "repo init", usage_repo_init, "", lo, NULL, 0 };
	struct cbt_repo *r;
	uint64_t cs = 0;
	struct stat st;
	int c;

	while ((c = next_opt(&o, argc, argv)) != -1)
		if (c == OPT_CHUNK_SIZE && (parse_size(optarg, &cs) || cs < LIBCBT_REPO_CHUNK_MIN ||
					    cs > LIBCBT_REPO_CHUNK_MAX || (cs & (cs - 1))))
			usage_error("repo init", "--chunk-size: a power of two from 64K to 16M, not '%s'",
				    optarg);
	if (optind == argc)
		usage_error("repo init", "no repository given");
	if (optind < argc - 1)
		usage_error("repo init", "unexpected argument '%s'", argv[optind + 1]);
	if (!lstat(argv[optind], &st)) {
		fail_msg("%s: already exists", argv[optind]);
		return 1;
	}
	r = open_repo(argv[optind], 1, 0, (uint32_t)cs, 0);
	if (!r)
		return 1;
	cbt_repo_close(r);
	return 0;
}

int cmd_repo(int argc, char **argv)
{
	if (argc < 2)
		usage_error("repo", "no command given: init");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		printf("Usage:\n %s repo init [options] REPO\n", prog);
		return 0;
	}
	if (!strcmp(argv[1], "init"))
		return repo_init(argc - 1, argv + 1);
	if (argv[1][0] == '-')
		usage_error("repo", "unrecognized option '%s'", argv[1]);
	usage_error("repo", "unknown command '%s': init", argv[1]);
}

/* ---- restore ----------------------------------------------------------------- */

static void usage_restore(void)
{
	printf("Usage:\n %s restore [options] REPO --point ID --to FILE|DEV\n\n"
	       "Write a volume of a point to a file (made or replaced) or to a block device\n"
	       "(at least as big, not mounted or in use, and not tracked by cbt unless\n"
	       "--force). Every chunk's digest is checked.\n\n"
	       "Options:\n"
	       " -p, --point ID       the point ('cbt-snap list REPO')\n"
	       " -v, --volume NAME    which volume of the point (needed when it has several)\n"
	       " -T, --to FILE|DEV    where to write it\n"
	       "     --force          write to a device cbt tracks\n"
	       "     --allow-shared   use a repository others may read (a warning)\n"
	       " -q, --quiet          no progress bar\n"
	       " -h, --help           display this help\n", prog);
}

static int parse_point_id(const char *cmd, const char *text, uint64_t *id)
{
	const char *p;

	for (p = text; *p; p++)
		if (*p < '0' || *p > '9')
			break;
	if (!*text || *p || *text == '0' || strlen(text) > 18)
		usage_error(cmd, "--point: a point id (a number from 1), not '%s'", text);
	*id = strtoull(text, NULL, 10);
	return 0;
}

/* 1 when cbt tracks device @rdev (0 when not, or the module is not loaded). */
static int tracked(dev_t rdev)
{
	struct cbt_ctx *ctx;
	dev_t *devs = NULL;
	size_t n = 0, i;
	int hit = 0;

	if (access("/dev/cbt-ctl", F_OK) || cbt_ctx_new(&ctx))
		return 0;
	if (!cbt_ctx_get_tracked(ctx, &devs, &n))
		for (i = 0; i < n; i++)
			if (devs[i] == rdev)
				hit = 1;
	free(devs);
	cbt_ctx_unref(ctx);
	return hit;
}

static int open_target(const char *path, uint64_t size, int force, unsigned int *flags)
{
	struct stat st;
	uint64_t dsize;
	int fd;

	*flags = 0;
	if (lstat(path, &st) && errno != ENOENT) {
		fail_msg("%s: %s", path, strerror(errno));
		return -1;
	}
	if (!lstat(path, &st) && S_ISLNK(st.st_mode) && stat(path, &st)) {
		fail_msg("%s: a dangling symbolic link", path);
		return -1;
	}
	if (errno == ENOENT || S_ISREG(st.st_mode)) {
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			fail_msg("%s: %s", path, strerror(errno));
			return -1;
		}
		*flags = LIBCBT_RESTORE_SPARSE;
		if (ftruncate(fd, (off_t)size)) {
			fail_msg("%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		return fd;
	}
	if (!S_ISBLK(st.st_mode)) {
		fail_msg("%s: not a file or a block device", path);
		return -1;
	}
	if (tracked(st.st_rdev) && !force) {
		fail_msg("%s: tracked by cbt: a restore would rewrite it (give --force to do so)", path);
		return -1;
	}
	fd = open(path, O_WRONLY | O_EXCL | O_CLOEXEC);
	if (fd < 0) {
		if (errno == EBUSY)
			fail_msg("%s: mounted or in use: refused", path);
		else
			fail_msg("%s: %s", path, strerror(errno));
		return -1;
	}
	if (ioctl(fd, BLKGETSIZE64, &dsize)) {
		fail_msg("%s: size: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (dsize < size) {
		fail_msg("%s: too small (%" PRIu64 " bytes, the volume has %" PRIu64 ")", path, dsize,
			 size);
		close(fd);
		return -1;
	}
	return fd;
}

int cmd_restore(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "point", required_argument, NULL, 'p' },
		{ "volume", required_argument, NULL, 'v' },
		{ "to", required_argument, NULL, 'T' },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "allow-shared", no_argument, NULL, OPT_ALLOW_SHARED },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct cmd_opts o = { "restore", usage_restore, "p:v:T:q", lo, NULL, 0 };
	const char *volume = NULL, *to = NULL, *repo;
	int c, force = 0, shared = 0, quiet = 0, vi, fd, ret, rc = 1;
	struct cbt_point *p = NULL;
	struct cbt_repo *r;
	struct progress pg;
	unsigned int flags;
	uint64_t id = 0;

	while ((c = next_opt(&o, argc, argv)) != -1) {
		switch (c) {
		case 'p':
			parse_point_id("restore", optarg, &id);
			break;
		case 'v':
			volume = optarg;
			break;
		case 'T':
			to = optarg;
			break;
		case OPT_FORCE:
			force = 1;
			break;
		case OPT_ALLOW_SHARED:
			shared = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		}
	}
	if (optind == argc)
		usage_error("restore", "no repository given");
	if (optind < argc - 1)
		usage_error("restore", "unexpected argument '%s'", argv[optind + 1]);
	if (!id)
		usage_error("restore", "--point ID is required");
	if (!to)
		usage_error("restore", "--to FILE|DEV is required");
	repo = argv[optind];
	r = open_repo(repo, 0, shared, 0, quiet);
	if (!r)
		return 1;
	ret = cbt_point_open(r, id, &p);
	if (ret) {
		repo_fail(r, ret, repo);
		goto out;
	}
	if (volume) {
		vi = cbt_point_find_volume(p, volume);
		if (vi < 0) {
			fail_msg("point %" PRIu64 " has no volume '%s'", id, volume);
			goto out;
		}
	} else if (cbt_point_get_volume_count(p) == 1) {
		vi = 0;
	} else {
		fail_msg("point %" PRIu64 " has %u volumes: name one with --volume (%s, ...)", id,
			 cbt_point_get_volume_count(p), cbt_point_get_volume_name(p, 0));
		goto out;
	}
	fd = open_target(to, cbt_point_get_volume_size(p, (unsigned int)vi), force, &flags);
	if (fd < 0)
		goto out;
	progress_start(r, &pg, "restore", quiet);
	ret = cbt_point_restore(p, (unsigned int)vi, fd, flags);
	progress_end(r, &pg);
	if (ret) {
		close(fd);
		repo_fail(r, ret, repo);
		goto out;
	}
	if (fsync(fd)) {
		fail_msg("%s: %s", to, strerror(errno));
		close(fd);
		goto out;
	}
	close(fd);
	rc = 0;
out:
	cbt_point_free(p);
	cbt_repo_close(r);
	return rc;
}

/* ---- verify ------------------------------------------------------------------ */

static void usage_verify(void)
{
	printf("Usage:\n %s verify [options] REPO\n\n"
	       "Re-read every chunk of each point (or of one), check its digest, and record\n"
	       "the result in the point: a point that fails is never a base again. A damaged\n"
	       "chunk is moved aside, so the next backup holding that data stores it again.\n"
	       "The exit status is 1 when a point fails.\n\n"
	       "Options:\n"
	       " -p, --point ID       only this point\n"
	       "     --allow-shared   use a repository others may read (a warning)\n"
	       " -q, --quiet          no progress bar, only failures\n"
	       " -J, --json           the results as JSON\n"
	       " -h, --help           display this help\n", prog);
}

int cmd_verify(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "point", required_argument, NULL, 'p' },
		{ "allow-shared", no_argument, NULL, OPT_ALLOW_SHARED },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct cmd_opts o = { "verify", usage_verify, "p:qJ", lo, NULL, 0 };
	int c, shared = 0, quiet = 0, json = 0, ret, rc = 0;
	uint64_t id = 0, *ids = NULL, bad;
	struct json_object *arr = NULL, *e;
	size_t n = 0, i;
	struct cbt_repo *r;
	struct progress pg;
	char what[40];

	while ((c = next_opt(&o, argc, argv)) != -1) {
		if (c == 'p')
			parse_point_id("verify", optarg, &id);
		else if (c == OPT_ALLOW_SHARED)
			shared = 1;
		else if (c == 'q')
			quiet = 1;
		else if (c == 'J')
			json = 1;
	}
	if (optind == argc)
		usage_error("verify", "no repository given");
	if (optind < argc - 1)
		usage_error("verify", "unexpected argument '%s'", argv[optind + 1]);
	r = open_repo(argv[optind], 0, shared, 0, quiet || json);
	if (!r)
		return 1;
	if (id) {
		ids = malloc(sizeof(*ids));
		if (!ids)
			oom();
		ids[0] = id;
		n = 1;
	} else if ((ret = cbt_repo_get_points(r, &ids, &n))) {
		repo_fail(r, ret, argv[optind]);
		cbt_repo_close(r);
		return 1;
	}
	if (json)
		arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		struct cbt_point *p = NULL;
		const char *err = NULL;

		bad = 0;
		ret = cbt_point_open(r, ids[i], &p);
		if (!ret) {
			snprintf(what, sizeof(what), "verify %" PRIu64, ids[i]);
			progress_start(r, &pg, what, quiet || json);
			ret = cbt_point_verify(p, &bad);
			progress_end(r, &pg);
		}
		if (ret)
			err = *cbt_repo_get_error(r) ? cbt_repo_get_error(r) : strerror(-ret);
		if (ret)
			rc = 1;
		if (json) {
			e = json_object_new_object();
			json_object_object_add(e, "id", json_object_new_int64((int64_t)ids[i]));
			json_object_object_add(e, "state", json_object_new_string(ret ? "failed" : "ok"));
			json_object_object_add(e, "bad-chunks", json_object_new_int64((int64_t)bad));
			json_object_object_add(e, "error", err ? json_object_new_string(err) : NULL);
			json_object_array_add(arr, e);
		} else if (ret) {
			fail_msg("point %" PRIu64 ": FAILED: %s", ids[i], err);
		} else if (!quiet) {
			printf("point %" PRIu64 ": ok\n", ids[i]);
		}
		cbt_point_free(p);
	}
	if (json) {
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
							       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	}
	free(ids);
	cbt_repo_close(r);
	return rc;
}

/* ---- list -------------------------------------------------------------------- */

enum { P_ID, P_TYPE, P_BASE, P_CHAIN, P_TIME, P_VOLUMES, P_SIZE, P_READ, P_STORED, P_VERIFY,
       P_STAMPS, P_FSTYPES, N_POINT_COLS };

static const struct col_info point_cols[] = {
	[P_ID] = { "ID", 4, COL_NUMBER, 1, "the point's id" },
	[P_TYPE] = { "TYPE", 12, COL_STRING, 0, "full, incremental, differential or copy" },
	[P_BASE] = { "BASE", 4, COL_NUMBER, 1, "the point it was built on (0: none)" },
	[P_CHAIN] = { "CHAIN", 8, COL_STRING, 0, "its chain" },
	[P_TIME] = { "TIME", 20, COL_STRING, 0, "when it was taken (UTC, ISO 8601)" },
	[P_VOLUMES] = { "VOLUMES", 0.3, COL_ARRAY, 0, "its volumes' names" },
	[P_SIZE] = { "SIZE", 10, COL_NUMBER, 1, "the volumes' total size, bytes" },
	[P_READ] = { "READ", 10, COL_NUMBER, 1, "bytes read to make it" },
	[P_STORED] = { "STORED", 10, COL_NUMBER, 1, "bytes of new chunks it stored" },
	[P_VERIFY] = { "VERIFY", 6, COL_STRING, 0, "last verify: none, ok or failed" },
	[P_STAMPS] = { "STAMPS", 0.2, COL_ARRAY, 0, "its volumes' tracker stamps" },
	[P_FSTYPES] = { "FSTYPES", 0.1, COL_ARRAY, 0, "its volumes' filesystem types" },
};

static const int point_defaults[] = { P_ID, P_TYPE, P_BASE, P_CHAIN, P_TIME, P_VOLUMES, P_SIZE,
				      P_STORED, P_VERIFY, -1 };

static void usage_list(void)
{
	printf("Usage:\n %s list [options] REPO\n\n"
	       "List the repository's points.\n\n"
	       "Options:\n"
	       " -o, --output LIST    the columns to show (+LIST adds to the default)\n"
	       " -J, --json           JSON output (every column unless -o)\n"
	       " -r, --raw            raw output\n"
	       " -n, --noheadings     no header line\n"
	       "     --allow-shared   use a repository others may read (a warning)\n"
	       " -h, --help           display this help\n", prog);
	print_columns_help(point_cols, N_POINT_COLS);
}

static void append(char **s, const char *item)
{
	size_t a = *s ? strlen(*s) : 0, b = strlen(item);
	char *n = realloc(*s, a + b + 2);

	if (!n)
		oom();
	if (a)
		n[a++] = '\n';
	memcpy(n + a, item, b + 1);
	*s = n;
}

/* Valid UTF-8 with no control character but tab, newline and return. */
static int printable_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	uint32_t cp;

	while (i < len) {
		unsigned char c = s[i];

		if (c < 0x80) {
			if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			n = 1, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			n = 2, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			n = 3, cp = c & 0x07;
		else
			return 0;
		if (i + n >= len)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
			return 0;
		i += n + 1;
	}
	return 1;
}

/* A point's writers as its manifest keeps them (docs/repository-format.md). */
static struct json_object *point_writers_json(struct cbt_point *p)
{
	struct json_object *arr = json_object_new_array(), *w;
	unsigned int i, n = cbt_point_get_writer_count(p);

	for (i = 0; i < n; i++) {
		static const char b64[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
		const char *s;
		size_t len, k, o = 0;
		const unsigned char *st = cbt_point_get_writer_stamp(p, i, &len);
		char *enc;
		int text = st != NULL;

		w = json_object_new_object();
		json_object_object_add(w, "name", json_object_new_string(cbt_point_get_writer_name(p, i)));
		json_object_object_add(w, "outcome",
				       json_object_new_string(cbt_point_get_writer_outcome(p, i)));
		s = cbt_point_get_writer_failed_phase(p, i);
		json_object_object_add(w, "failed-phase", s ? json_object_new_string(s) : NULL);
		s = cbt_point_get_writer_error(p, i);
		json_object_object_add(w, "error", s ? json_object_new_string(s) : NULL);
		s = cbt_point_get_writer_message(p, i);
		json_object_object_add(w, "message", s ? json_object_new_string(s) : NULL);
		/* As text when it is text (json-c would print any bytes). */
		text = text && printable_utf8(st, len);
		json_object_object_add(w, "stamp-text",
				       text ? json_object_new_string_len((const char *)st, (int)len)
					    : NULL);
		enc = st ? malloc(4 * ((len + 2) / 3) + 1) : NULL;
		if (st && !enc)
			oom();
		for (k = 0; st && k < len; k += 3) {
			uint32_t v = (uint32_t)st[k] << 16;

			if (k + 1 < len)
				v |= (uint32_t)st[k + 1] << 8;
			if (k + 2 < len)
				v |= st[k + 2];
			enc[o++] = b64[(v >> 18) & 63];
			enc[o++] = b64[(v >> 12) & 63];
			enc[o++] = k + 1 < len ? b64[(v >> 6) & 63] : '=';
			enc[o++] = k + 2 < len ? b64[v & 63] : '=';
		}
		if (enc)
			enc[o] = '\0';
		json_object_object_add(w, "stamp-base64", enc ? json_object_new_string(enc) : NULL);
		free(enc);
		json_object_array_add(arr, w);
	}
	return arr;
}

/*
 * list --json: the table's JSON with each point's "writers" added (an array
 * of objects, which a table cell cannot hold).
 */
static void print_points_json(struct libscols_table *tb, struct json_object *wall)
{
	struct json_object *o, *arr, *pt;
	char *text = NULL;
	size_t i;

	if (scols_print_table_to_string(tb, &text) || !text)
		oom();
	o = json_tokener_parse(text);
	if (!o || !json_object_object_get_ex(o, "points", &arr)) {
		json_object_put(o);
		printf("%s\n", text);
		free(text);
		return;
	}
	for (i = 0; i < json_object_array_length(arr); i++) {
		pt = json_object_array_get_idx(arr, i);
		json_object_object_add(pt, "writers",
				       json_object_get(json_object_array_get_idx(wall, i)));
	}
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	free(text);
}

int cmd_list(int argc, char **argv)
{
	static const struct option lo[] = {
		OUT_LONGOPTS,
		{ "allow-shared", no_argument, NULL, OPT_ALLOW_SHARED },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	static const char *const vnames[] = { "none", "ok", "failed" };
	struct cmd_opts o = { "list", usage_list, OUT_SHORTOPTS, lo, NULL, 0 };
	struct out_opts out = { 0 };
	struct libscols_table *tb;
	struct json_object *wall;
	struct cbt_repo *r;
	uint64_t *ids = NULL;
	size_t n = 0, i;
	int c, shared = 0, ret, rc = 0;

	while ((c = next_opt(&o, argc, argv)) != -1)
		if (!out_opt(&out, c, optarg) && c == OPT_ALLOW_SHARED)
			shared = 1;
	if (optind == argc)
		usage_error("list", "no repository given");
	if (optind < argc - 1)
		usage_error("list", "unexpected argument '%s'", argv[optind + 1]);
	out_columns("list", &out, point_cols, N_POINT_COLS, point_defaults);
	r = open_repo(argv[optind], 0, shared, 0, out.json);
	if (!r)
		return 1;
	ret = cbt_repo_get_points(r, &ids, &n);
	if (ret) {
		repo_fail(r, ret, argv[optind]);
		cbt_repo_close(r);
		return 1;
	}
	tb = out_table(&out, point_cols, "points", 0);
	wall = out.json ? json_object_new_array() : NULL;
	for (i = 0; i < n; i++) {
		struct cbt_point *p;
		struct libscols_line *ln;
		char *vols = NULL, *stamps = NULL, *fst = NULL, tbuf[32];
		uint64_t size = 0;
		unsigned int v, nv;
		time_t t;
		struct tm tm;

		ret = cbt_point_open(r, ids[i], &p);
		if (ret) {
			repo_fail(r, ret, argv[optind]);
			rc = 1;
			continue;
		}
		ln = scols_table_new_line(tb, NULL);
		if (!ln)
			oom();
		nv = cbt_point_get_volume_count(p);
		for (v = 0; v < nv; v++) {
			const char *s = cbt_point_get_volume_stamp(p, v);
			const char *f = cbt_point_get_volume_fstype(p, v);

			append(&vols, cbt_point_get_volume_name(p, v));
			append(&stamps, s ? s : "-");
			append(&fst, f ? f : "-");
			size += cbt_point_get_volume_size(p, v);
		}
		t = (time_t)cbt_point_get_time(p);
		gmtime_r(&t, &tm);
		strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		out_cell_u64(&out, ln, P_ID, cbt_point_get_id(p));
		out_cell(&out, ln, P_TYPE, cbt_point_type_name(cbt_point_get_type(p)));
		out_cell_u64(&out, ln, P_BASE, cbt_point_get_base(p));
		out_cell(&out, ln, P_CHAIN, cbt_point_get_chain(p));
		out_cell(&out, ln, P_TIME, tbuf);
		out_cell_array(&out, ln, P_VOLUMES, vols);
		out_cell_u64(&out, ln, P_SIZE, size);
		out_cell_u64(&out, ln, P_READ, cbt_point_get_bytes_read(p));
		out_cell_u64(&out, ln, P_STORED, cbt_point_get_bytes_stored(p));
		out_cell(&out, ln, P_VERIFY, vnames[cbt_point_get_verify_state(p)]);
		out_cell_array(&out, ln, P_STAMPS, stamps);
		out_cell_array(&out, ln, P_FSTYPES, fst);
		if (wall)
			json_object_array_add(wall, point_writers_json(p));
		free(vols);
		free(stamps);
		free(fst);
		cbt_point_free(p);
	}
	if (wall)
		print_points_json(tb, wall);
	else
		scols_print_table(tb);
	json_object_put(wall);
	scols_unref_table(tb);
	free(ids);
	cbt_repo_close(r);
	return rc;
}

/* ---- prune ------------------------------------------------------------------- */

static void usage_prune(void)
{
	printf("Usage:\n %s prune [options] REPO\n"
	       " %s prune --point ID... REPO\n\n"
	       "Remove the points no --keep option keeps, per chain and set of volumes\n"
	       "(each point is a complete index: no other point depends on it). Then\n"
	       "'cbt-snap gc' frees the chunks no point uses. Days, weeks (ISO) and months\n"
	       "are local time; each keeps the newest point of each of the last N periods\n"
	       "that have one.\n\n"
	       "Options:\n"
	       " -l, --keep-last N     keep the N newest points\n"
	       " -d, --keep-daily N    keep the newest point of each of the last N days\n"
	       " -w, --keep-weekly N   ... of each of the last N weeks\n"
	       " -m, --keep-monthly N  ... of each of the last N months\n"
	       " -c, --chain NAME      prune only this chain\n"
	       " -p, --point ID        remove this point (repeatable; no --keep option then)\n"
	       "     --dry-run         say what would be removed, remove nothing\n"
	       "     --allow-shared    use a repository others may read (a warning)\n"
	       " -q, --quiet           say nothing\n"
	       " -J, --json            what was kept and removed, as JSON\n"
	       " -h, --help            display this help\n", prog, prog);
}

struct ppoint {
	uint64_t id;
	int64_t time;
	char *group;	/* chain + '\n' + volume names */
	int keep;
};

static int cmp_ppoint(const void *a, const void *b)
{
	const struct ppoint *x = a, *y = b;
	int c = strcmp(x->group, y->group);

	if (c)
		return c;
	return x->id < y->id ? 1 : x->id > y->id ? -1 : 0;	/* newest first */
}

/* The period of @t for a --keep-* kind: a number equal for the same period. */
static long period(int64_t t, int kind)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[16];

	localtime_r(&tt, &tm);
	switch (kind) {
	case 1:
		return (tm.tm_year + 1900L) * 1000 + tm.tm_yday;
	case 2:
		strftime(buf, sizeof(buf), "%G%V", &tm);
		return strtol(buf, NULL, 10);
	default:
		return (tm.tm_year + 1900L) * 100 + tm.tm_mon;
	}
}

static uint64_t parse_keep(const char *opt, const char *text)
{
	uint64_t v;

	if (parse_size(text, &v) || strspn(text, "0123456789") != strlen(text) || !v ||
	    v > 1000000)
		usage_error("prune", "%s: a number from 1, not '%s'", opt, text);
	return v;
}

int cmd_prune(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "keep-last", required_argument, NULL, 'l' },
		{ "keep-daily", required_argument, NULL, 'd' },
		{ "keep-weekly", required_argument, NULL, 'w' },
		{ "keep-monthly", required_argument, NULL, 'm' },
		{ "chain", required_argument, NULL, 'c' },
		{ "point", required_argument, NULL, 'p' },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "allow-shared", no_argument, NULL, OPT_ALLOW_SHARED },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	static const int rep[] = { 'p', 0 };
	struct cmd_opts o = { "prune", usage_prune, "l:d:w:m:c:p:qJ", lo, rep, 0 };
	uint64_t keep[4] = { 0 }, *ids = NULL, only[64];
	size_t nonly = 0;
	const char *chain = NULL;
	int c, dry = 0, shared = 0, quiet = 0, json = 0, ret, rc = 0, kind;
	struct json_object *jk = NULL, *jr = NULL, *jo;
	struct ppoint *pp;
	struct cbt_repo *r;
	size_t n = 0, np = 0, i, j;

	while ((c = next_opt(&o, argc, argv)) != -1) {
		switch (c) {
		case 'l':
			keep[0] = parse_keep("--keep-last", optarg);
			break;
		case 'd':
			keep[1] = parse_keep("--keep-daily", optarg);
			break;
		case 'w':
			keep[2] = parse_keep("--keep-weekly", optarg);
			break;
		case 'm':
			keep[3] = parse_keep("--keep-monthly", optarg);
			break;
		case 'c':
			chain = optarg;
			break;
		case 'p':
			if (nonly == 64)
				usage_error("prune", "--point: at most 64");
			parse_point_id("prune", optarg, &only[nonly++]);
			break;
		case OPT_DRY_RUN:
			dry = 1;
			break;
		case OPT_ALLOW_SHARED:
			shared = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'J':
			json = 1;
			break;
		}
	}
	if (optind == argc)
		usage_error("prune", "no repository given");
	if (optind < argc - 1)
		usage_error("prune", "unexpected argument '%s'", argv[optind + 1]);
	if (!keep[0] && !keep[1] && !keep[2] && !keep[3] && !nonly)
		usage_error("prune", "no --keep-last, --keep-daily, --keep-weekly, --keep-monthly or --point given");
	if (nonly && (keep[0] || keep[1] || keep[2] || keep[3] || chain))
		usage_error("prune", "--point: not with --keep-* or --chain");
	r = open_repo(argv[optind], 0, shared, 0, quiet || json);
	if (!r)
		return 1;
	ret = cbt_repo_get_points(r, &ids, &n);
	if (ret) {
		repo_fail(r, ret, argv[optind]);
		cbt_repo_close(r);
		return 1;
	}
	if (nonly) {
		for (i = 0; i < nonly; i++) {
			ret = dry ? 0 : cbt_repo_remove_point(r, only[i]);
			if (ret) {
				repo_fail(r, ret, argv[optind]);
				rc = 1;
			} else if (!quiet) {
				printf("%s point %" PRIu64 "\n", dry ? "would remove" : "removed", only[i]);
			}
		}
		free(ids);
		cbt_repo_close(r);
		return rc;
	}
	pp = calloc(n ? n : 1, sizeof(*pp));
	if (!pp)
		oom();
	for (i = 0; i < n; i++) {
		struct cbt_point *p;
		char *g = NULL;
		unsigned int v;

		if (cbt_point_open(r, ids[i], &p)) {
			if (!quiet)
				fail_msg("warning: %s (left alone)", cbt_repo_get_error(r));
			continue;
		}
		if (chain && strcmp(chain, cbt_point_get_chain(p))) {
			cbt_point_free(p);
			continue;
		}
		append(&g, cbt_point_get_chain(p));
		for (v = 0; v < cbt_point_get_volume_count(p); v++)
			append(&g, cbt_point_get_volume_name(p, v));
		pp[np].id = ids[i];
		pp[np].time = cbt_point_get_time(p);
		pp[np++].group = g;
		cbt_point_free(p);
	}
	qsort(pp, np, sizeof(*pp), cmp_ppoint);
	for (i = 0; i < np; i = j) {
		uint64_t left[4];
		long last[4] = { -1, -1, -1, -1 };

		memcpy(left, keep, sizeof(left));
		for (j = i; j < np && !strcmp(pp[j].group, pp[i].group); j++) {
			if (left[0]) {
				left[0]--;
				pp[j].keep = 1;
			}
			for (kind = 1; kind <= 3; kind++) {
				long per = period(pp[j].time, kind);

				if (left[kind] && per != last[kind]) {
					last[kind] = per;
					left[kind]--;
					pp[j].keep = 1;
				}
			}
		}
	}
	if (json) {
		jk = json_object_new_array();
		jr = json_object_new_array();
	}
	for (i = 0; i < np; i++) {
		if (pp[i].keep) {
			if (json)
				json_object_array_add(jk, json_object_new_int64((int64_t)pp[i].id));
			continue;
		}
		ret = dry ? 0 : cbt_repo_remove_point(r, pp[i].id);
		if (ret) {
			repo_fail(r, ret, argv[optind]);
			rc = 1;
			continue;
		}
		if (json)
			json_object_array_add(jr, json_object_new_int64((int64_t)pp[i].id));
		else if (!quiet)
			printf("%s point %" PRIu64 "\n", dry ? "would remove" : "removed", pp[i].id);
	}
	if (json) {
		jo = json_object_new_object();
		json_object_object_add(jo, "kept", jk);
		json_object_object_add(jo, "removed", jr);
		json_object_object_add(jo, "dry-run", json_object_new_boolean(dry));
		printf("%s\n", json_object_to_json_string_ext(jo, JSON_C_TO_STRING_PRETTY));
		json_object_put(jo);
	}
	for (i = 0; i < np; i++)
		free(pp[i].group);
	free(pp);
	free(ids);
	cbt_repo_close(r);
	return rc;
}

/* ---- gc ---------------------------------------------------------------------- */

static void usage_gc(void)
{
	printf("Usage:\n %s gc [options] REPO\n\n"
	       "Remove the chunks no point uses. Safe while backups run: a chunk a running\n"
	       "backup wrote or reused is kept.\n\n"
	       "Options:\n"
	       "     --allow-shared   use a repository others may read (a warning)\n"
	       " -q, --quiet          say nothing\n"
	       " -J, --json           the counts as JSON\n"
	       " -h, --help           display this help\n", prog);
}

int cmd_gc(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "allow-shared", no_argument, NULL, OPT_ALLOW_SHARED },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct cmd_opts o = { "gc", usage_gc, "qJ", lo, NULL, 0 };
	uint64_t removed = 0, bytes = 0, kept = 0;
	int c, shared = 0, quiet = 0, json = 0, ret;
	struct cbt_repo *r;
	char hb[32];

	while ((c = next_opt(&o, argc, argv)) != -1) {
		if (c == OPT_ALLOW_SHARED)
			shared = 1;
		else if (c == 'q')
			quiet = 1;
		else if (c == 'J')
			json = 1;
	}
	if (optind == argc)
		usage_error("gc", "no repository given");
	if (optind < argc - 1)
		usage_error("gc", "unexpected argument '%s'", argv[optind + 1]);
	r = open_repo(argv[optind], 0, shared, 0, quiet || json);
	if (!r)
		return 1;
	ret = cbt_repo_gc(r, &removed, &bytes, &kept);
	if (ret) {
		repo_fail(r, ret, argv[optind]);
		cbt_repo_close(r);
		return 1;
	}
	cbt_repo_close(r);
	if (json) {
		printf("{\"removed\": %" PRIu64 ", \"removed-bytes\": %" PRIu64 ", \"kept\": %" PRIu64
		       "}\n", removed, bytes, kept);
	} else if (!quiet) {
		human(bytes, hb, sizeof(hb));
		printf("removed %" PRIu64 " chunk%s (%s), kept %" PRIu64 "\n", removed,
		       removed == 1 ? "" : "s", hb, kept);
	}
	return 0;
}
