// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * writer-cmd.c - cbt-snap writers (the registered writers) and cbt-snap
 * writer run (a ready writer that runs hook commands, or qemu-guest-agent
 * fsfreeze hook scripts, at each phase of a snapshot set).
 *
 * These commands call libcbt's writer API directly, as the repository
 * commands call the repository API.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include <libsmartcols.h>

#include "cli.h"
#include "libcbt.h"
#include "writer-hooks.h"

static void oom(void)
{
	fail_msg("out of memory");
	exit(1);
}

/* ---- the writers' outcome in a set (snapshot create, backup) ------------------- */

const char *writer_outcome(const struct cbt_snapset *set, unsigned int i)
{
	int e = cbt_snapset_get_writer_error(set, i);

	return !e ? "ok" : e == -EOPNOTSUPP ? "skipped" : "failed";
}

void print_writer_outcomes(const struct cbt_snapset *set, FILE *f)
{
	unsigned int i, n = cbt_snapset_get_writer_count(set);

	for (i = 0; i < n; i++) {
		const char *name = cbt_snapset_get_writer_name(set, i);
		const char *msg = cbt_snapset_get_writer_message(set, i);
		int e = cbt_snapset_get_writer_error(set, i);

		if (!e) {
			fprintf(f, "%s: writer %s: ok\n", prog, name);
		} else if (e == -EOPNOTSUPP) {
			fprintf(f, "%s: writer %s: skipped (it does not take this backup type)\n",
				prog, name);
		} else {
			const char *ph = cbt_writer_phase_name(
				cbt_snapset_get_writer_failed_phase(set, i));

			fprintf(f, "%s: writer %s: failed in %s: %s%s%s\n", prog, name,
				ph ? ph : "?", msg && *msg ? msg : cbt_strerror(e),
				msg && *msg ? " - " : "", msg && *msg ? cbt_strerror(e) : "");
		}
	}
}

char *writer_outcomes_json(const struct cbt_snapset *set)
{
	struct json_object *arr = json_object_new_array(), *w;
	unsigned int i, n = cbt_snapset_get_writer_count(set);
	char *text;

	for (i = 0; i < n; i++) {
		int e = cbt_snapset_get_writer_error(set, i);
		const char *msg = cbt_snapset_get_writer_message(set, i);
		const char *ph = cbt_writer_phase_name(cbt_snapset_get_writer_failed_phase(set, i));

		w = json_object_new_object();
		json_object_object_add(w, "name",
				       json_object_new_string(cbt_snapset_get_writer_name(set, i)));
		json_object_object_add(w, "outcome", json_object_new_string(writer_outcome(set, i)));
		json_object_object_add(w, "failed-phase", ph ? json_object_new_string(ph) : NULL);
		json_object_object_add(w, "error", e ? json_object_new_string(cbt_strerror(e)) : NULL);
		json_object_object_add(w, "message",
				       msg && *msg ? json_object_new_string(msg) : NULL);
		json_object_array_add(arr, w);
	}
	text = strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(arr);
	if (!text)
		oom();
	return text;
}

/* ---- writers ----------------------------------------------------------------- */

enum { W_NAME, W_ID, W_PID, W_TYPES, W_COMPONENTS, W_PHASE, W_LAST_SET, W_LAST, W_MESSAGE,
       N_WCOLS };

static const struct col_info wcols[] = {
	[W_NAME] = { "NAME", 0.2, COL_STRING, 0, "the writer's name" },
	[W_ID] = { "ID", 4, COL_NUMBER, 1, "its id" },
	[W_PID] = { "PID", 6, COL_NUMBER, 1, "the process that registered it" },
	[W_TYPES] = { "TYPES", 0.2, COL_ARRAY, 0, "the backup types it takes part in" },
	[W_COMPONENTS] = { "COMPONENTS", 0.3, COL_ARRAY, 0,
			   "its components and their volumes (NAME:VOL,...)" },
	[W_PHASE] = { "PHASE", 8, COL_STRING, 0, "the phase it is in now (idle: none)" },
	[W_LAST_SET] = { "LAST-SET", 4, COL_NUMBER, 1, "the last set it took part in (0: none)" },
	[W_LAST] = { "LAST-OUTCOME", 8, COL_STRING, 0,
		     "how its last round ended: ok, failed in PHASE, skipped or none" },
	[W_MESSAGE] = { "MESSAGE", 0.3, COL_STRING, 0, "its last message" },
};

static const int wdefaults[] = { W_NAME, W_PID, W_TYPES, W_COMPONENTS, W_PHASE, W_LAST,
				 W_MESSAGE, -1 };

static void usage_writers(void)
{
	printf("Usage:\n %s writers [options]\n\n"
	       "List the registered writers: applications taking part in snapshot sets.\n\n"
	       "Options:\n"
	       " -o, --output LIST    the columns to show (+LIST adds to the default)\n"
	       " -J, --json           JSON output (every column unless -o)\n"
	       " -r, --raw            raw output\n"
	       " -n, --noheadings     no header line\n"
	       " -h, --help           display this help\n", prog);
	print_columns_help(wcols, N_WCOLS);
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

int cmd_writers(int argc, char **argv)
{
	static const struct option lo[] = {
		OUT_LONGOPTS,
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	struct cmd_opts o = { "writers", usage_writers, OUT_SHORTOPTS, lo, NULL, 0 };
	struct out_opts out = { 0 };
	struct libscols_table *tb;
	struct cbt_writers *ws;
	struct cbt_ctx *ctx;
	unsigned int i, n;
	int c, ret;

	while ((c = next_opt(&o, argc, argv)) != -1)
		out_opt(&out, c, optarg);
	if (optind < argc)
		usage_error("writers", "unexpected argument '%s'", argv[optind]);
	out_columns("writers", &out, wcols, N_WCOLS, wdefaults);
	if (cl_open(&ctx))
		return 1;
	ret = cbt_ctx_get_writers(ctx, &ws);
	if (ret) {
		cl_close(ctx);
		if (ret == -ENOTTY || ret == -EINVAL)
			return report(ret, "writers (does the loaded cbt module support writers?)");
		return report(ret, "writers");
	}
	tb = out_table(&out, wcols, "writers", 0);
	n = cbt_writers_get_count(ws);
	for (i = 0; i < n; i++) {
		struct libscols_line *ln = scols_table_new_line(tb, NULL);
		char *types = NULL, *comps = NULL, last[192], item[1024];
		unsigned int t, k, v, mask = cbt_writers_get_types(ws, i);
		int phase = cbt_writers_get_phase(ws, i), err = cbt_writers_get_last_error(ws, i);

		if (!ln)
			oom();
		for (t = 0; t <= LIBCBT_BACKUP_COPY; t++)
			if (!mask || (mask & LIBCBT_WRITER_TYPE(t)))
				append(&types, type_word((int)t));
		for (k = 0; k < cbt_writers_get_component_count(ws, i); k++) {
			size_t len = (size_t)snprintf(item, sizeof(item), "%s:",
						      cbt_writers_get_component_name(ws, i, k));

			for (v = 0; v < cbt_writers_get_component_volume_count(ws, i, k) &&
				    len < sizeof(item) - 64; v++) {
				dev_t d = cbt_writers_get_component_volume(ws, i, k, v);
				struct cbt_volume *vol;
				const char *path = NULL;

				if (!cbt_volume_open_devno(ctx, d, &vol))
					path = cbt_volume_get_path(vol);
				len += (size_t)snprintf(item + len, sizeof(item) - len, "%s%s",
							v ? "," : "", path ? path : "?");
				cbt_volume_free(vol);
			}
			append(&comps, item);
		}
		if (!cbt_writers_get_last_set(ws, i))
			snprintf(last, sizeof(last), "none");
		else if (!err)
			snprintf(last, sizeof(last), "ok");
		else if (err == -EOPNOTSUPP)
			snprintf(last, sizeof(last), "skipped");
		else
			snprintf(last, sizeof(last), "failed in %s",
				 cbt_writer_phase_name(cbt_writers_get_last_phase(ws, i)) ?
				 cbt_writer_phase_name(cbt_writers_get_last_phase(ws, i)) : "?");
		out_cell(&out, ln, W_NAME, cbt_writers_get_name(ws, i));
		out_cell_u64(&out, ln, W_ID, cbt_writers_get_id(ws, i));
		out_cell_u64(&out, ln, W_PID, (uint64_t)cbt_writers_get_pid(ws, i));
		out_cell_array(&out, ln, W_TYPES, types ? types : "");
		out_cell_array(&out, ln, W_COMPONENTS, comps ? comps : "");
		out_cell(&out, ln, W_PHASE, phase ? cbt_writer_phase_name(phase) : "idle");
		out_cell_u64(&out, ln, W_LAST_SET, cbt_writers_get_last_set(ws, i));
		out_cell(&out, ln, W_LAST, last);
		out_cell(&out, ln, W_MESSAGE, cbt_writers_get_last_message(ws, i));
		free(types);
		free(comps);
	}
	scols_print_table(tb);
	scols_unref_table(tb);
	cbt_writers_free(ws);
	cl_close(ctx);
	return 0;
}

/* ---- writer run ------------------------------------------------------------------ */

enum { OPT_NAME = 400, OPT_VOLUME, OPT_COMPONENT, OPT_FREEZE, OPT_THAW, OPT_PREPARE,
       OPT_POST, OPT_COMPLETE, OPT_ABORT, OPT_HOOK_DIR, OPT_TYPES };

struct run {
	const char *name;
	const char *vols[64];
	size_t nvols;
	const char *comps[LIBCBT_WRITER_MAX_COMPONENTS];
	size_t ncomps;
	const char *hook[LIBCBT_WRITER_ABORT + 1];	/* by phase */
	const char *hook_dir;
	unsigned int types;
	int have_types;
	struct cbt_writer *w;
	char dir[64];		/* the hooks' files */
	char stamp_file[128], base_file[128], extents_file[128];
	int have_base;
	int frozen;		/* the freeze hook ran and no thaw yet */
	uint64_t thaw_by;	/* ms (monotonic): thaw ourselves then */
};

static volatile sig_atomic_t stop_sig;
static int sig_pipe[2] = { -1, -1 };

static void on_stop(int sig)
{
	int e = errno;

	stop_sig = sig;
	if (sig_pipe[1] >= 0 && write(sig_pipe[1], "x", 1) < 0)
		(void)0;
	errno = e;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void usage_writer_run(void)
{
	printf("Usage:\n %s writer run --name NAME --volume VOL... --freeze CMD --thaw CMD [options]\n\n"
	       "Register a writer and run until SIGINT or SIGTERM: at each phase of a snapshot\n"
	       "set that touches its volumes, run that phase's hook through /bin/sh -c.\n\n"
	       "Options:\n"
	       "     --name NAME             the writer's name (unique)\n"
	       "     --volume VOL            a volume, or a file or directory on one, holding\n"
	       "                             its data (repeatable; one component \"data\")\n"
	       "     --component NAME:VOL,...  a component on those volumes (repeatable): a set\n"
	       "                             with one of them gets them all\n"
	       "     --prepare CMD           before the set is taken\n"
	       "     --freeze CMD            flush and hold the application's writes\n"
	       "     --thaw CMD              let it write again\n"
	       "     --post-snapshot CMD     after the instant (give a stamp, name extents)\n"
	       "     --complete CMD          the backup ended (CBT_SUCCESS 1 or 0)\n"
	       "     --abort CMD             the set was abandoned\n"
	       "     --fsfreeze-hook-dir DIR run qemu-guest-agent fsfreeze hook scripts of DIR with\n"
	       "                             'freeze' and 'thaw' (instead of --freeze and --thaw)\n"
	       "     --types LIST            the backup types it takes part in: none, full,\n"
	       "                             incremental, differential, copy (default all)\n"
	       " -h, --help                  display this help\n\n"
	       "Hooks get CBT_PHASE, CBT_SET_ID, CBT_BACKUP_TYPE, CBT_SUCCESS, CBT_VOLUMES,\n"
	       "CBT_BASE_STAMP_FILE (the writer's stamp from the base backup, if any),\n"
	       "CBT_STAMP_FILE (write the new stamp here) and CBT_EXTENTS_FILE (write lines\n"
	       "'VOLUME OFFSET LENGTH' to copy in any case). A hook that exits non-zero fails\n"
	       "the phase with the last line of its stderr; one that outlives the phase's\n"
	       "limit is killed and fails. If no thaw comes within the freeze window after a\n"
	       "freeze, the thaw hook runs anyway.\n", prog);
}

static void usage_writer(void)
{
	printf("Usage:\n %s writer run [options]\n\n"
	       "Commands:\n"
	       " run     register a writer that runs hook commands\n\n"
	       "Run '%s writer run --help' for its options.\n", prog, prog);
}

static int write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int ok;

	if (fd < 0)
		return -errno;
	ok = len == 0 || write(fd, data, len) == (ssize_t)len;
	close(fd);
	return ok ? 0 : -EIO;
}

/* The stamp the hook wrote (none: *len 0). */
static int read_stamp(const char *path, unsigned char *buf, size_t *len, char *msg, size_t msz)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t n;

	*len = 0;
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) || st.st_size > LIBCBT_WRITER_STAMP_MAX) {
		close(fd);
		snprintf(msg, msz, "CBT_STAMP_FILE: more than %d bytes", LIBCBT_WRITER_STAMP_MAX);
		return -E2BIG;
	}
	n = read(fd, buf, LIBCBT_WRITER_STAMP_MAX);
	close(fd);
	if (n < 0)
		return -errno;
	*len = (size_t)n;
	return 0;
}

/* Lines "VOLUME OFFSET LENGTH" into the writer's extents. */
static int read_extents(struct run *r, char *msg, size_t msz)
{
	FILE *f = fopen(r->extents_file, "re");
	char line[4200], vol[4096];
	unsigned long long off, len;
	unsigned int ln = 0;
	int ret = 0;

	if (!f)
		return 0;
	while (!ret && fgets(line, sizeof(line), f)) {
		char extra;

		ln++;
		if (line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (sscanf(line, "%4095s %llu %llu %c", vol, &off, &len, &extra) != 3 || !len) {
			snprintf(msg, msz, "CBT_EXTENTS_FILE line %u: not 'VOLUME OFFSET LENGTH'", ln);
			ret = -EINVAL;
			break;
		}
		ret = cbt_writer_add_extent(r->w, vol, off, len);
		if (ret)
			snprintf(msg, msz, "CBT_EXTENTS_FILE line %u: %s", ln,
				 *cbt_writer_get_error(r->w) ? cbt_writer_get_error(r->w) :
				 cbt_strerror(ret));
	}
	fclose(f);
	return ret;
}

/*
 * Run the hook(s) of @phase for event @ev (NULL: our own thaw after the
 * freeze window). 0 or a negative errno with @msg saying why.
 */
static int run_phase(struct run *r, int phase, const struct cbt_wevent *ev, char *msg, size_t msz)
{
	char e_phase[48], e_set[32], e_type[48], e_succ[16], e_vols[4200], e_base[160],
	     e_stamp[160], e_ext[160];
	const char *env[9];
	unsigned int timeout = ev ? cbt_wevent_get_timeout_ms(ev) : 30000, i, k = 0;
	struct hook_result res;
	size_t vlen;
	int ret = 0;

	/* Leave the module time to take our ack before it gives up on us. */
	if (timeout > 2000)
		timeout -= timeout / 10 < 1000 ? timeout / 10 : 1000;
	msg[0] = '\0';
	snprintf(e_phase, sizeof(e_phase), "CBT_PHASE=%s", cbt_writer_phase_name(phase));
	snprintf(e_set, sizeof(e_set), "CBT_SET_ID=%u", ev ? cbt_wevent_get_set_id(ev) : 0);
	snprintf(e_type, sizeof(e_type), "CBT_BACKUP_TYPE=%s",
		 ev ? cbt_writer_backup_type_name(cbt_wevent_get_backup_type(ev)) : "none");
	snprintf(e_succ, sizeof(e_succ), "CBT_SUCCESS=%d",
		 ev && phase == LIBCBT_WRITER_COMPLETE ? cbt_wevent_get_success(ev) : 0);
	vlen = (size_t)snprintf(e_vols, sizeof(e_vols), "CBT_VOLUMES=");
	for (i = 0; ev && i < cbt_wevent_get_volume_count(ev) && vlen < sizeof(e_vols) - 1; i++)
		vlen += (size_t)snprintf(e_vols + vlen, sizeof(e_vols) - vlen, "%s%s", i ? " " : "",
					 cbt_wevent_get_volume_path(ev, i));
	snprintf(e_stamp, sizeof(e_stamp), "CBT_STAMP_FILE=%s", r->stamp_file);
	snprintf(e_ext, sizeof(e_ext), "CBT_EXTENTS_FILE=%s", r->extents_file);
	env[k++] = e_phase;
	env[k++] = e_set;
	env[k++] = e_type;
	env[k++] = e_succ;
	env[k++] = e_vols;
	env[k++] = e_stamp;
	env[k++] = e_ext;
	if (r->have_base) {
		snprintf(e_base, sizeof(e_base), "CBT_BASE_STAMP_FILE=%s", r->base_file);
		env[k++] = e_base;
	} else {
		env[k++] = "CBT_BASE_STAMP_FILE=";
	}
	env[k] = NULL;
	unlink(r->stamp_file);
	unlink(r->extents_file);

	if (r->hook_dir && (phase == LIBCBT_WRITER_FREEZE || phase == LIBCBT_WRITER_THAW)) {
		const char *arg = phase == LIBCBT_WRITER_FREEZE ? "freeze" : "thaw";
		char **scripts;
		size_t n, j;

		ret = fsfreeze_scripts(r->hook_dir, &scripts, &n);
		if (ret) {
			snprintf(msg, msz, "%s: %s", r->hook_dir, strerror(-ret));
			return ret;
		}
		/* All of them, as qemu's hook does; the first failure is reported. */
		for (j = 0; j < n; j++) {
			const char *argv[] = { scripts[j], arg, NULL };

			if (hook_run(argv, env, timeout, STDERR_FILENO, &res))
				res.status = -EIO;
			if (res.status && !ret) {
				ret = res.status;
				snprintf(msg, msz, "%s: %s", scripts[j], res.message);
			}
		}
		fsfreeze_free(scripts, n);
	} else if (r->hook[phase]) {
		int e = hook_run_shell(r->hook[phase], env, timeout, STDERR_FILENO, &res);

		if (e) {
			snprintf(msg, msz, "cannot run the hook: %s", strerror(-e));
			return e;
		}
		ret = res.status;
		if (ret)
			snprintf(msg, msz, "%s", res.message);
	} else {
		return 0;
	}
	if (!ret && ev && (phase == LIBCBT_WRITER_FREEZE || phase == LIBCBT_WRITER_THAW ||
			   phase == LIBCBT_WRITER_POST_SNAPSHOT)) {
		unsigned char stamp[LIBCBT_WRITER_STAMP_MAX];
		size_t slen;

		ret = read_stamp(r->stamp_file, stamp, &slen, msg, msz);
		if (!ret && slen)
			ret = cbt_writer_set_stamp(r->w, stamp, slen);
		if (!ret)
			ret = read_extents(r, msg, msz);
	}
	return ret;
}

static int thaw_now(struct run *r, const struct cbt_wevent *ev, char *msg, size_t msz)
{
	int ret = 0;

	if (r->frozen) {
		r->frozen = 0;
		ret = run_phase(r, LIBCBT_WRITER_THAW, ev, msg, msz);
	}
	return ret;
}

static int handle_event(struct run *r, struct cbt_wevent *ev)
{
	int phase = cbt_wevent_get_phase(ev), ret = 0;
	char msg[256];

	msg[0] = '\0';
	switch (phase) {
	case LIBCBT_WRITER_PREPARE: {
		size_t len;
		const void *b = cbt_wevent_get_base_stamp(ev, &len);

		r->have_base = 0;
		if (b && !write_file(r->base_file, b, len))
			r->have_base = 1;
		else
			unlink(r->base_file);
		ret = run_phase(r, phase, ev, msg, sizeof(msg));
		break;
	}
	case LIBCBT_WRITER_FREEZE:
		r->frozen = 1;	/* whatever the hook managed, thaw must follow */
		r->thaw_by = mono_ms() + cbt_wevent_get_timeout_ms(ev) + 1000;
		ret = run_phase(r, phase, ev, msg, sizeof(msg));
		break;
	case LIBCBT_WRITER_THAW:
		if (r->frozen)
			ret = thaw_now(r, ev, msg, sizeof(msg));
		break;
	case LIBCBT_WRITER_ABORT: {
		char m2[256];
		int t = thaw_now(r, ev, m2, sizeof(m2));

		ret = run_phase(r, phase, ev, msg, sizeof(msg));
		if (t && !ret) {
			ret = t;
			snprintf(msg, sizeof(msg), "%s", m2);
		}
		break;
	}
	default:
		ret = run_phase(r, phase, ev, msg, sizeof(msg));
		break;
	}
	if (ret > 0)
		ret = -EIO;
	ret = cbt_writer_ack_event(r->w, ev, ret, msg[0] ? msg : NULL);
	if (ret && ret != -ESTALE)
		fail_msg("writer %s: acking %s: %s", r->name, cbt_writer_phase_name(phase),
			 cbt_strerror(ret));
	if (phase == LIBCBT_WRITER_COMPLETE || phase == LIBCBT_WRITER_ABORT) {
		r->have_base = 0;
		unlink(r->base_file);
	}
	return 0;
}

static int writer_loop(struct run *r)
{
	int fd = cbt_writer_get_fd(r->w);

	while (!stop_sig) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = sig_pipe[0], .events = POLLIN } };
		int timeout = -1, n;

		if (r->frozen) {
			uint64_t t = mono_ms();

			if (t >= r->thaw_by) {
				char msg[256];

				fail_msg("writer %s: no thaw within the freeze window: thawing now",
					 r->name);
				if (thaw_now(r, NULL, msg, sizeof(msg)))
					fail_msg("writer %s: thaw: %s", r->name, msg);
				continue;
			}
			timeout = (int)(r->thaw_by - t);
		}
		n = poll(p, 2, timeout);
		if (n < 0 && errno != EINTR) {
			fail_msg("writer %s: poll: %s", r->name, strerror(errno));
			return 1;
		}
		if (n > 0 && (p[0].revents & POLLIN)) {
			struct cbt_wevent *ev;
			int ret = cbt_writer_next_event(r->w, 0, &ev);

			if (ret == 1) {
				handle_event(r, ev);
				cbt_wevent_free(ev);
			} else if (ret != -EAGAIN && ret != -EINTR) {
				fail_msg("writer %s: reading an event: %s", r->name, cbt_strerror(ret));
				return 1;
			}
		} else if (n > 0 && (p[0].revents & (POLLERR | POLLHUP | POLLNVAL))) {
			fail_msg("writer %s: the registration ended", r->name);
			return 1;
		}
	}
	return 0;
}

static void rm_dir(struct run *r)
{
	unlink(r->stamp_file);
	unlink(r->base_file);
	unlink(r->extents_file);
	rmdir(r->dir);
}

static int writer_run(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "name", required_argument, NULL, OPT_NAME },
		{ "volume", required_argument, NULL, OPT_VOLUME },
		{ "component", required_argument, NULL, OPT_COMPONENT },
		{ "freeze", required_argument, NULL, OPT_FREEZE },
		{ "thaw", required_argument, NULL, OPT_THAW },
		{ "prepare", required_argument, NULL, OPT_PREPARE },
		{ "post-snapshot", required_argument, NULL, OPT_POST },
		{ "complete", required_argument, NULL, OPT_COMPLETE },
		{ "abort", required_argument, NULL, OPT_ABORT },
		{ "fsfreeze-hook-dir", required_argument, NULL, OPT_HOOK_DIR },
		{ "types", required_argument, NULL, OPT_TYPES },
		{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
	};
	static const int rep[] = { OPT_VOLUME, OPT_COMPONENT, 0 };
	struct cmd_opts o = { "writer run", usage_writer_run, "", lo, rep, 0 };
	struct run r = { 0 };
	struct sigaction sa = { .sa_handler = on_stop };
	struct cbt_ctx *ctx;
	struct stat st;
	const char *tmp;
	size_t i;
	int c, ret, rc = 1;

	while ((c = next_opt(&o, argc, argv)) != -1) {
		switch (c) {
		case OPT_NAME:
			r.name = optarg;
			break;
		case OPT_VOLUME:
			if (r.nvols == sizeof(r.vols) / sizeof(r.vols[0]))
				usage_error("writer run", "--volume: at most %zu", r.nvols);
			r.vols[r.nvols++] = optarg;
			break;
		case OPT_COMPONENT: {
			char name[LIBCBT_WRITER_NAME_MAX + 1], **v;
			size_t n;

			if (r.ncomps == LIBCBT_WRITER_MAX_COMPONENTS)
				usage_error("writer run", "--component: at most %d",
					    LIBCBT_WRITER_MAX_COMPONENTS);
			if (parse_component(optarg, name, sizeof(name), &v, &n))
				usage_error("writer run", "--component: NAME:VOL[,VOL...], not '%s'",
					    optarg);
			fsfreeze_free(v, n);
			r.comps[r.ncomps++] = optarg;
			break;
		}
		case OPT_FREEZE:
			r.hook[LIBCBT_WRITER_FREEZE] = optarg;
			break;
		case OPT_THAW:
			r.hook[LIBCBT_WRITER_THAW] = optarg;
			break;
		case OPT_PREPARE:
			r.hook[LIBCBT_WRITER_PREPARE] = optarg;
			break;
		case OPT_POST:
			r.hook[LIBCBT_WRITER_POST_SNAPSHOT] = optarg;
			break;
		case OPT_COMPLETE:
			r.hook[LIBCBT_WRITER_COMPLETE] = optarg;
			break;
		case OPT_ABORT:
			r.hook[LIBCBT_WRITER_ABORT] = optarg;
			break;
		case OPT_HOOK_DIR:
			r.hook_dir = optarg;
			break;
		case OPT_TYPES:
			if (parse_types(optarg, &r.types))
				usage_error("writer run", "--types: a list of none, full, incremental, differential, copy, not '%s'",
					    optarg);
			r.have_types = 1;
			break;
		}
	}
	if (optind < argc)
		usage_error("writer run", "unexpected argument '%s'", argv[optind]);
	if (!r.name)
		usage_error("writer run", "--name NAME is required");
	if (!r.nvols && !r.ncomps)
		usage_error("writer run", "--volume VOL or --component NAME:VOL,... is required");
	if (r.hook_dir && (r.hook[LIBCBT_WRITER_FREEZE] || r.hook[LIBCBT_WRITER_THAW]))
		usage_error("writer run", "--fsfreeze-hook-dir replaces --freeze and --thaw: not both");
	if (!r.hook_dir && (!r.hook[LIBCBT_WRITER_FREEZE] || !r.hook[LIBCBT_WRITER_THAW]))
		usage_error("writer run", "--freeze CMD and --thaw CMD are required (or --fsfreeze-hook-dir DIR)");
	if (r.hook_dir && (stat(r.hook_dir, &st) || !S_ISDIR(st.st_mode)))
		usage_error("writer run", "--fsfreeze-hook-dir: '%s' is not a directory", r.hook_dir);

	if (cl_open(&ctx))
		return 1;
	ret = cbt_writer_new(ctx, r.name, &r.w);
	if (ret) {
		cl_close(ctx);
		if (ret == -EINVAL)
			usage_error("writer run", "--name: printable ASCII without spaces, 1 to %d bytes, not '%s'",
				    LIBCBT_WRITER_NAME_MAX, r.name);
		return report(ret, r.name);
	}
	if (r.nvols) {
		ret = cbt_writer_add_component(r.w, "data", r.vols, r.nvols);
		if (ret)
			goto werr;
	}
	for (i = 0; i < r.ncomps; i++) {
		char name[LIBCBT_WRITER_NAME_MAX + 1], **v;
		size_t n;

		parse_component(r.comps[i], name, sizeof(name), &v, &n);
		ret = cbt_writer_add_component(r.w, name, (const char *const *)v, n);
		fsfreeze_free(v, n);
		if (ret)
			goto werr;
	}
	if (r.have_types && (ret = cbt_writer_set_types(r.w, r.types)))
		goto werr;
	tmp = getenv("TMPDIR");
	snprintf(r.dir, sizeof(r.dir), "%s/cbt-writer.XXXXXX",
		 tmp && *tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	if (!mkdtemp(r.dir)) {
		fail_msg("writer %s: %s: %s", r.name, r.dir, strerror(errno));
		goto out;
	}
	snprintf(r.stamp_file, sizeof(r.stamp_file), "%s/stamp", r.dir);
	snprintf(r.base_file, sizeof(r.base_file), "%s/base-stamp", r.dir);
	snprintf(r.extents_file, sizeof(r.extents_file), "%s/extents", r.dir);
	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		fail_msg("writer %s: pipe: %s", r.name, strerror(errno));
		goto out_dir;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	ret = cbt_writer_start(r.w);
	if (ret)
		goto werr_dir;
	fprintf(stderr, "%s: writer %s registered (id %u): running until SIGINT or SIGTERM\n",
		prog, r.name, cbt_writer_get_id(r.w));
	rc = writer_loop(&r);
	if (r.frozen) {
		char msg[256];

		if (thaw_now(&r, NULL, msg, sizeof(msg)))
			fail_msg("writer %s: thaw: %s", r.name, msg);
	}
	goto out_dir;
werr_dir:
	fail_msg("writer %s: %s", r.name, *cbt_writer_get_error(r.w) ? cbt_writer_get_error(r.w) :
		 cbt_strerror(ret));
	goto out_dir;
werr:
	fail_msg("writer %s: %s", r.name, *cbt_writer_get_error(r.w) ? cbt_writer_get_error(r.w) :
		 cbt_strerror(ret));
	goto out;
out_dir:
	rm_dir(&r);
out:
	cbt_writer_free(r.w);
	cl_close(ctx);
	return rc;
}

int cmd_writer(int argc, char **argv)
{
	if (argc < 2)
		usage_error("writer", "no command given: run");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		if (argc > 2)
			usage_error("writer", "unexpected argument '%s'", argv[2]);
		usage_writer();
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return writer_run(argc - 1, argv + 1);
	if (argv[1][0] == '-')
		usage_error("writer", "unrecognized option '%s'", argv[1]);
	usage_error("writer", "unknown command '%s': run", argv[1]);
}
