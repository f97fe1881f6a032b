// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * test-writer.c - unit tests of what writers need without a module: the
 * tracked volumes beneath a path (lib/writer.c over a fake sysfs tree), the
 * writers in a point's manifest (lib/point.c, written and read back), and
 * `cbt-snap writer run`'s hooks and option values (tools/writer-hooks.c).
 * cmocka, on the host, in a temporary directory.
 *
 *   test-writer [GROUP]   GROUP: resolve manifest hooks fsfreeze options (all when none)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "internal.h"
#include "writer-hooks.h"

static char tmpdir[64];

static int tmp_setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/cbt-writer-test.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int tmp_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd);
}

static char *path_in(const char *name)
{
	static char p[4][512];
	static unsigned int next;
	char *out = p[next++ % 4];

	snprintf(out, sizeof(p[0]), "%s/%s", tmpdir, name);
	return out;
}

static void put(const char *name, const char *text, mode_t mode)
{
	int fd = open(path_in(name), O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	chmod(path_in(name), mode);
}

static void mkdir_in(const char *name)
{
	assert_int_equal(mkdir(path_in(name), 0755), 0);
}

static void link_in(const char *target, const char *name)
{
	assert_int_equal(symlink(target, path_in(name)), 0);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* ---- resolve ---------------------------------------------------------------------- */

/*
 * A sysfs as the kernel lays it out: sda (8:0) with partition sda1 (8:1),
 * a dm device dm-0 (253:0) on sda1, md0 (9:0) on dm-0 and on sdb (8:16),
 * and /sys/dev/block links to each.
 */
static void fake_sysfs(void)
{
	mkdir_in("block");
	mkdir_in("block/sda");
	put("block/sda/dev", "8:0\n", 0644);
	mkdir_in("block/sda/sda1");
	put("block/sda/sda1/dev", "8:1\n", 0644);
	put("block/sda/sda1/partition", "1\n", 0644);
	mkdir_in("block/sdb");
	put("block/sdb/dev", "8:16\n", 0644);
	mkdir_in("block/dm-0");
	put("block/dm-0/dev", "253:0\n", 0644);
	mkdir_in("block/dm-0/slaves");
	link_in("../../sda/sda1", "block/dm-0/slaves/sda1");
	mkdir_in("block/md0");
	put("block/md0/dev", "9:0\n", 0644);
	mkdir_in("block/md0/slaves");
	link_in("../../dm-0", "block/md0/slaves/dm-0");
	link_in("../../sdb", "block/md0/slaves/sdb");
	mkdir_in("dev");
	mkdir_in("dev/block");
	link_in("../../block/sda", "dev/block/8:0");
	link_in("../../block/sda/sda1", "dev/block/8:1");
	link_in("../../block/sdb", "dev/block/8:16");
	link_in("../../block/dm-0", "dev/block/253:0");
	link_in("../../block/md0", "dev/block/9:0");
	cbt__sysfs_dev_block = strdup(path_in("dev/block"));
}

static int has(const dev_t *v, size_t n, dev_t d)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == d)
			return 1;
	return 0;
}

static void resolve_stacks(void **state)
{
	dev_t *d = NULL;
	size_t n = 0;
	const dev_t disk[] = { makedev(8, 0) }, part[] = { makedev(8, 1) },
		    both[] = { makedev(8, 0), makedev(8, 16) }, dm[] = { makedev(253, 0) };

	(void)state;
	fake_sysfs();
	/* A tracked device is itself. */
	assert_int_equal(cbt__tracked_below(makedev(8, 1), part, 1, &d, &n), 0);
	assert_int_equal(n, 1);
	assert_true(d[0] == makedev(8, 1));
	free(d);
	/* A partition of a tracked disk: the disk. */
	assert_int_equal(cbt__tracked_below(makedev(8, 1), disk, 1, &d, &n), 0);
	assert_int_equal(n, 1);
	assert_true(d[0] == makedev(8, 0));
	free(d);
	/* dm on a partition of a tracked disk: down two levels. */
	assert_int_equal(cbt__tracked_below(makedev(253, 0), disk, 1, &d, &n), 0);
	assert_int_equal(n, 1);
	assert_true(d[0] == makedev(8, 0));
	free(d);
	/* md over dm and sdb: both tracked disks beneath. */
	assert_int_equal(cbt__tracked_below(makedev(9, 0), both, 2, &d, &n), 0);
	assert_int_equal(n, 2);
	assert_true(has(d, n, makedev(8, 0)));
	assert_true(has(d, n, makedev(8, 16)));
	free(d);
	/* md with dm-0 tracked: the walk stops at the tracked level. */
	assert_int_equal(cbt__tracked_below(makedev(9, 0), dm, 1, &d, &n), 0);
	assert_int_equal(n, 1);
	assert_true(d[0] == makedev(253, 0));
	free(d);
	/* Nothing tracked beneath: -ENODEV, no list. */
	assert_int_equal(cbt__tracked_below(makedev(8, 16), disk, 1, &d, &n), -ENODEV);
	assert_null(d);
	assert_int_equal(n, 0);
	/* A device sysfs does not know: -ENODEV too. */
	assert_int_equal(cbt__tracked_below(makedev(7, 9), disk, 1, &d, &n), -ENODEV);
}

static void resolve_path(void **state)
{
	struct stat st;
	dev_t *d = NULL, tracked;
	size_t n = 0;
	char dir[64];

	(void)state;
	fake_sysfs();
	/* A file's filesystem device, made a partition of a fake tracked disk. */
	put("file", "x", 0644);
	assert_int_equal(stat(path_in("file"), &st), 0);
	snprintf(dir, sizeof(dir), "block/fs%u_%u", major(st.st_dev), minor(st.st_dev));
	mkdir_in("block/fakedisk");
	put("block/fakedisk/dev", "250:5\n", 0644);
	snprintf(dir, sizeof(dir), "block/fakedisk/p1");
	mkdir_in(dir);
	{
		char devtext[32], name[64], target[64];

		snprintf(devtext, sizeof(devtext), "%u:%u\n", major(st.st_dev), minor(st.st_dev));
		put("block/fakedisk/p1/dev", devtext, 0644);
		put("block/fakedisk/p1/partition", "1\n", 0644);
		snprintf(name, sizeof(name), "dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
		snprintf(target, sizeof(target), "../../block/fakedisk/p1");
		link_in(target, name);
	}
	tracked = makedev(250, 5);
	assert_int_equal(cbt__resolve_tracked(path_in("file"), &tracked, 1, &d, &n), 0);
	assert_int_equal(n, 1);
	assert_true(d[0] == tracked);
	free(d);
	/* A directory on it likewise. */
	assert_int_equal(cbt__resolve_tracked(tmpdir, &tracked, 1, &d, &n), 0);
	assert_int_equal(n, 1);
	free(d);
	/* A path that does not exist. */
	assert_int_equal(cbt__resolve_tracked(path_in("nothing"), &tracked, 1, &d, &n), -ENOENT);
}

/* ---- manifest --------------------------------------------------------------------- */

static void manifest_round_trip(void **state)
{
	static const char label[] = "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\n"
				    "LABEL: cbt \xc3\xa9t\xc3\xa9\n";
	static const unsigned char bin[] = { 0x00, 0xff, 0x10, 0x80, 0x41 };
	struct cbt_repo *r;
	struct cbt_newpoint *np;
	struct cbt_point *p;
	struct json_object *o, *ws, *w, *v;
	const void *st;
	size_t len;
	uint64_t id;
	char *text, mpath[600];
	int fd;

	(void)state;
	assert_int_equal(cbt_repo_open(path_in("repo"), LIBCBT_REPO_CREATE, 0, &r), 0);
	assert_int_equal(cbt_newpoint_begin(r, NULL, CBT_POINT_FULL, &np), 0);
	put("vol", "some data", 0600);
	fd = open(path_in("vol"), O_RDONLY);
	assert_int_equal(cbt_newpoint_add_volume(np, "vol", fd, 9, NULL, NULL, 0), 0);
	close(fd);
	assert_int_equal(cbt_newpoint_add_writer(np, "pg", "ok", NULL, NULL, NULL, label,
						 strlen(label)), 0);
	assert_int_equal(cbt_newpoint_add_writer(np, "bin", "ok", NULL, NULL, "", bin,
						 sizeof(bin)), 0);
	assert_int_equal(cbt_newpoint_add_writer(np, "mail", "failed", "freeze",
						 "timed out", "flush took too long", NULL, 0), 0);
	assert_int_equal(cbt_newpoint_add_writer(np, "x", "maybe", NULL, NULL, NULL, NULL, 0),
			 -EINVAL);
	assert_int_equal(cbt_newpoint_commit(np, &id), 0);
	cbt_newpoint_free(np);

	/* Read back through the library. */
	assert_int_equal(cbt_point_open(r, id, &p), 0);
	assert_int_equal(cbt_point_get_writer_count(p), 3);
	assert_string_equal(cbt_point_get_writer_name(p, 0), "pg");
	assert_string_equal(cbt_point_get_writer_outcome(p, 0), "ok");
	assert_null(cbt_point_get_writer_failed_phase(p, 0));
	st = cbt_point_get_writer_stamp(p, 0, &len);
	assert_int_equal(len, strlen(label));
	assert_memory_equal(st, label, len);
	st = cbt_point_get_writer_stamp(p, 1, &len);
	assert_int_equal(len, sizeof(bin));
	assert_memory_equal(st, bin, len);
	assert_null(cbt_point_get_writer_message(p, 1));	/* "" kept as none */
	assert_string_equal(cbt_point_get_writer_outcome(p, 2), "failed");
	assert_string_equal(cbt_point_get_writer_failed_phase(p, 2), "freeze");
	assert_string_equal(cbt_point_get_writer_error(p, 2), "timed out");
	assert_string_equal(cbt_point_get_writer_message(p, 2), "flush took too long");
	assert_null(cbt_point_get_writer_stamp(p, 2, &len));
	assert_int_equal(len, 0);
	assert_null(cbt_point_get_writer_name(p, 3));
	cbt_point_free(p);

	/* The manifest itself, read with json-c: the documented keys. */
	snprintf(mpath, sizeof(mpath), "%s/points/%llu/manifest.json", path_in("repo"),
		 (unsigned long long)id);
	text = slurp(mpath);
	o = json_tokener_parse(text);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "writers", &ws));
	assert_int_equal(json_object_array_length(ws), 3);
	w = json_object_array_get_idx(ws, 0);
	assert_true(json_object_object_get_ex(w, "stamp-text", &v));
	assert_string_equal(json_object_get_string(v), label);
	assert_true(json_object_object_get_ex(w, "stamp-base64", &v));
	assert_true(json_object_is_type(v, json_type_string));
	w = json_object_array_get_idx(ws, 1);
	/* Not text: no stamp-text, the bytes in base64 ("AP8QgEE=" by hand). */
	assert_true(json_object_object_get_ex(w, "stamp-text", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(w, "stamp-base64", &v));
	assert_string_equal(json_object_get_string(v), "AP8QgEE=");
	w = json_object_array_get_idx(ws, 2);
	assert_true(json_object_object_get_ex(w, "outcome", &v));
	assert_string_equal(json_object_get_string(v), "failed");
	assert_true(json_object_object_get_ex(w, "failed-phase", &v));
	assert_string_equal(json_object_get_string(v), "freeze");
	assert_true(json_object_object_get_ex(w, "stamp-base64", &v));
	assert_null(v);
	json_object_put(o);
	free(text);
	cbt_repo_close(r);
}

/* ---- hooks ------------------------------------------------------------------------- */

static void hooks_status(void **state)
{
	static const char *const env[] = { "CBT_PHASE=freeze", "CBT_SET_ID=7", NULL };
	struct hook_result res;

	(void)state;
	assert_int_equal(hook_run_shell("exit 0", env, 5000, -1, &res), 0);
	assert_int_equal(res.status, 0);
	/* Non-zero: the last line of stderr is the message. */
	assert_int_equal(hook_run_shell("echo first >&2; echo 'the last line' >&2; exit 3", env,
					5000, -1, &res), 0);
	assert_int_equal(res.status, -EIO);
	assert_int_equal(res.exit_status, 3);
	assert_string_equal(res.message, "the last line");
	/* No newline at the end, and empty lines after it. */
	assert_int_equal(hook_run_shell("printf 'a\\nb\\n\\n\\n' >&2; printf 'no newline' >&2; exit 1",
					env, 5000, -1, &res), 0);
	assert_string_equal(res.message, "no newline");
	assert_int_equal(hook_run_shell("printf 'x\\n\\n' >&2; exit 1", env, 5000, -1, &res), 0);
	assert_string_equal(res.message, "x");
	/* Nothing on stderr: the status says it. */
	assert_int_equal(hook_run_shell("exit 42", env, 5000, -1, &res), 0);
	assert_string_equal(res.message, "exited with status 42");
	/* The environment reaches the hook. */
	assert_int_equal(hook_run_shell("[ \"$CBT_PHASE\" = freeze ] && [ \"$CBT_SET_ID\" = 7 ]",
					env, 5000, -1, &res), 0);
	assert_int_equal(res.status, 0);
	assert_int_equal(hook_run_shell("[ \"$CBT_PHASE\" = thaw ]", env, 5000, -1, &res), 0);
	assert_int_equal(res.status, -EIO);
	/* A line longer than the message keeps its beginning. */
	assert_int_equal(hook_run_shell("head -c 3000 /dev/zero | tr '\\0' a >&2; exit 1", env, 5000,
					-1, &res), 0);
	assert_int_equal(strlen(res.message), sizeof(res.message) - 1);
	assert_int_equal(res.message[0], 'a');
}

/* Dead: no such process, or a zombie waiting for whoever adopted it. */
static int gone(pid_t pid)
{
	char path[64], *text, *p;
	int z;

	if (kill(pid, 0) < 0)
		return errno == ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (access(path, R_OK))
		return 1;
	text = slurp(path);
	p = strrchr(text, ')');
	z = p && p[1] == ' ' && p[2] == 'Z';
	free(text);
	return z;
}

static void hooks_timeout(void **state)
{
	struct hook_result res;
	struct timespec a, b;
	char cmd[700], *pidtext;
	pid_t child;
	double s;

	(void)state;
	/* The hook and what it started are killed at the limit. */
	snprintf(cmd, sizeof(cmd), "sleep 30 & echo $! > '%s'; wait", path_in("pid"));
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(hook_run_shell(cmd, NULL, 400, -1, &res), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	assert_int_equal(res.status, -ETIMEDOUT);
	assert_true(s >= 0.35 && s < 3.0);
	assert_non_null(strstr(res.message, "killed after 400 ms"));
	pidtext = slurp(path_in("pid"));
	child = (pid_t)atoi(pidtext);
	free(pidtext);
	assert_true(child > 0);
	usleep(200000);
	assert_true(gone(child));
	/* A hook that leaves a child behind holding stderr still returns. */
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(hook_run_shell("sleep 3 & exit 0", NULL, 10000, -1, &res), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	assert_int_equal(res.status, 0);
	assert_true(s < 2.5);
}

/* ---- fsfreeze --------------------------------------------------------------------- */

static void fsfreeze_order(void **state)
{
	char **names;
	size_t n, i;
	char log[600], cmd[800];
	struct hook_result res;
	static const char script[] = "#!/bin/sh\necho \"$(basename \"$0\") $1\" >> \"$LOG\"\n";

	(void)state;
	mkdir_in("hooks");
	put("hooks/20-b", script, 0755);
	put("hooks/10-a", script, 0755);
	put("hooks/Z-upper", script, 0755);		/* byte order: before lower case */
	put("hooks/10-a.bak", script, 0755);		/* skipped by qemu's hook */
	put("hooks/30-c~", script, 0755);
	put("hooks/40-d.dpkg-old", script, 0755);
	put("hooks/41-e.rpmsave", script, 0755);
	put("hooks/42-f.sample", script, 0755);
	put("hooks/.hidden", script, 0755);		/* not matched by the glob */
	put("hooks/50-noexec", script, 0644);		/* [ -x ] fails */
	assert_int_equal(fsfreeze_scripts(path_in("hooks"), &names, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(strrchr(names[0], '/') + 1, "10-a");
	assert_string_equal(strrchr(names[1], '/') + 1, "20-b");
	assert_string_equal(strrchr(names[2], '/') + 1, "Z-upper");
	/* Each run with the argument, as the hook does. */
	snprintf(log, sizeof(log), "LOG=%s", path_in("log"));
	for (i = 0; i < n; i++) {
		const char *argv[] = { names[i], "freeze", NULL };
		const char *env[] = { log, NULL };

		assert_int_equal(hook_run(argv, env, 5000, -1, &res), 0);
		assert_int_equal(res.status, 0);
	}
	fsfreeze_free(names, n);
	snprintf(cmd, sizeof(cmd), "%s", path_in("log"));
	{
		char *text = slurp(cmd);

		assert_string_equal(text, "10-a freeze\n20-b freeze\nZ-upper freeze\n");
		free(text);
	}
	assert_true(fsfreeze_ignored("x.dpkg-remove"));
	assert_true(fsfreeze_ignored("x.orig"));
	assert_false(fsfreeze_ignored("x.sh"));
	assert_int_equal(fsfreeze_scripts(path_in("nodir"), &names, &n), -ENOENT);
}

/* ---- options ---------------------------------------------------------------------- */

static void options_parse(void **state)
{
	char name[64], **v;
	size_t n;
	unsigned int m;

	(void)state;
	assert_int_equal(parse_component("db:/dev/vdb,/srv/wal", name, sizeof(name), &v, &n), 0);
	assert_string_equal(name, "db");
	assert_int_equal(n, 2);
	assert_string_equal(v[0], "/dev/vdb");
	assert_string_equal(v[1], "/srv/wal");
	fsfreeze_free(v, n);
	assert_int_equal(parse_component("db:/a:b", name, sizeof(name), &v, &n), 0);
	assert_string_equal(v[0], "/a:b");	/* the first ':' ends the name */
	fsfreeze_free(v, n);
	assert_int_equal(parse_component("db", name, sizeof(name), &v, &n), -EINVAL);
	assert_int_equal(parse_component(":/dev/vdb", name, sizeof(name), &v, &n), -EINVAL);
	assert_int_equal(parse_component("db:", name, sizeof(name), &v, &n), -EINVAL);
	assert_int_equal(parse_component("db:/a,,/b", name, sizeof(name), &v, &n), -EINVAL);
	assert_int_equal(parse_component("db:/a,", name, sizeof(name), &v, &n), -EINVAL);
	assert_int_equal(parse_types("full,incremental", &m), 0);
	assert_int_equal(m, (1u << 1) | (1u << 2));
	assert_int_equal(parse_types("none,copy,differential", &m), 0);
	assert_int_equal(m, 1u | (1u << 4) | (1u << 3));
	assert_int_equal(parse_types("full,", &m), -EINVAL);
	assert_int_equal(parse_types("", &m), -EINVAL);
	assert_int_equal(parse_types("fulll", &m), -EINVAL);
	assert_int_equal(parse_writers_policy("require"), LIBCBT_WRITERS_REQUIRE);
	assert_int_equal(parse_writers_policy("best-effort"), LIBCBT_WRITERS_BEST_EFFORT);
	assert_int_equal(parse_writers_policy("none"), LIBCBT_WRITERS_NONE);
	assert_int_equal(parse_writers_policy("required"), -EINVAL);
	assert_string_equal(type_word(2), "incremental");
	assert_null(type_word(5));
	assert_string_equal(cbt_writer_phase_name(LIBCBT_WRITER_POST_SNAPSHOT), "post-snapshot");
	assert_null(cbt_writer_phase_name(7));
	assert_string_equal(cbt_writer_backup_type_name(LIBCBT_BACKUP_NONE), "none");
}

static void options_snapset(void **state)
{
	struct cbt_snapset_opts *o, *c;
	static const char s[] = "lsn 0/1";

	(void)state;
	assert_int_equal(cbt_snapset_opts_new(&o), 0);
	assert_int_equal(cbt_snapset_opts_set_writers(o, 3), -EINVAL);
	assert_int_equal(cbt_snapset_opts_set_writers(o, LIBCBT_WRITERS_REQUIRE), 0);
	assert_int_equal(cbt_snapset_opts_set_backup_type(o, 5), -EINVAL);
	assert_int_equal(cbt_snapset_opts_set_backup_type(o, LIBCBT_BACKUP_NONE), 0);
	assert_int_equal(cbt_snapset_opts_set_writer_timeouts(o, 600001, 0), -ERANGE);
	assert_int_equal(cbt_snapset_opts_set_writer_timeouts(o, 1000, 2000), 0);
	assert_int_equal(cbt_snapset_opts_add_writer_stamp(o, "pg", s, sizeof(s)), 0);
	assert_int_equal(cbt_snapset_opts_add_writer_stamp(o, "pg", s, sizeof(s)), -EEXIST);
	assert_int_equal(cbt_snapset_opts_add_writer_stamp(o, "bad name", s, sizeof(s)), -EINVAL);
	assert_int_equal(cbt_snapset_opts_add_writer_stamp(o, "big", s, 4097), -E2BIG);
	/* A copy (backup sessions copy their options) carries the stamps. */
	assert_int_equal(cbt__snapset_opts_dup(o, &c), 0);
	assert_int_equal(cbt_snapset_opts_add_writer_stamp(c, "pg", s, sizeof(s)), -EEXIST);
	cbt_snapset_opts_free(c);
	cbt_snapset_opts_free(o);
}

#define T(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int main(int argc, char **argv)
{
	static const struct CMUnitTest resolve[] = { T(resolve_stacks), T(resolve_path) };
	static const struct CMUnitTest manifest[] = { T(manifest_round_trip) };
	static const struct CMUnitTest hooks[] = { T(hooks_status), T(hooks_timeout) };
	static const struct CMUnitTest fsfreeze[] = { T(fsfreeze_order) };
	static const struct CMUnitTest options[] = { T(options_parse), T(options_snapset) };
	const char *only = argc > 1 ? argv[1] : NULL;
	int failed = 0, ran = 0;

	unsetenv("LIBCBT_DEBUG");
#define GROUP(name, tests)							\
	if (!only || !strcmp(only, name)) {					\
		failed += cmocka_run_group_tests_name(name, tests, NULL, NULL);	\
		ran++;								\
	}
	GROUP("resolve", resolve);
	GROUP("manifest", manifest);
	GROUP("hooks", hooks);
	GROUP("fsfreeze", fsfreeze);
	GROUP("options", options);
	if (!ran) {
		fprintf(stderr, "test-writer: no group '%s'\n", only);
		return 2;
	}
	return failed ? 1 : 0;
}
