// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * writer-hooks.c - what `cbt-snap writer run` does around libcbt: running a
 * hook command with a time limit and reporting its failure in one line, the
 * qemu-guest-agent fsfreeze hook directory, and parsing the command's
 * --component and --types values. No call into libcbt here, so the unit
 * tests (tests/unit/test-writer-hooks.c) run it without a module.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "writer-hooks.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The message, cut to fit. */
static void set_msg(struct hook_result *res, const char *s)
{
	size_t n = strlen(s);

	if (n >= sizeof(res->message))
		n = sizeof(res->message) - 1;
	memcpy(res->message, s, n);
	res->message[n] = '\0';
}

/* Keep the last non-empty line of what the hook wrote on stderr. */
static void last_line(struct hook_result *res, char *buf, size_t *len)
{
	char *nl, *start = buf;

	while ((nl = memchr(start, '\n', *len - (size_t)(start - buf)))) {
		*nl = '\0';
		if (*start) {
			set_msg(res, start);
		}
		start = nl + 1;
	}
	*len -= (size_t)(start - buf);
	memmove(buf, start, *len);
	/* A line longer than the buffer: keep its beginning. */
	if (*len == HOOK_LINE_MAX - 1) {
		buf[*len] = '\0';
		set_msg(res, buf);
		*len = 0;
	}
}

int hook_run(const char *const *argv, const char *const *env, unsigned int timeout_ms,
	     int echo_fd, struct hook_result *res)
{
	char buf[HOOK_LINE_MAX];
	size_t len = 0;
	uint64_t deadline = timeout_ms ? now_ms() + timeout_ms : 0;
	int pfd[2], status = 0, exited = 0, timed_out = 0;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = -errno;

		close(pfd[0]);
		close(pfd[1]);
		return e;
	}
	if (pid == 0) {
		size_t i;

		/* Its own process group: a timeout kills whatever it started. */
		setpgid(0, 0);
		dup2(pfd[1], STDERR_FILENO);
		for (i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		signal(SIGPIPE, SIG_DFL);
		execv(argv[0], (char *const *)argv);
		dprintf(STDERR_FILENO, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);	/* also here: no race with the kill below */
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int wait_ms = 100;
		ssize_t n;

		if (deadline) {
			uint64_t t = now_ms();

			if (t >= deadline) {
				kill(-pid, SIGKILL);
				timed_out = 1;
				break;
			}
			if (deadline - t < (uint64_t)wait_ms)
				wait_ms = (int)(deadline - t);
		}
		if (poll(&p, 1, wait_ms) > 0) {
			n = read(pfd[0], buf + len, sizeof(buf) - 1 - len);
			if (n > 0) {
				if (echo_fd >= 0 && write(echo_fd, buf + len, (size_t)n) < 0)
					echo_fd = -1;
				len += (size_t)n;
				last_line(res, buf, &len);
				continue;
			}
		}
		/* EOF, or the hook left a child holding stderr: is it done? */
		if (waitpid(pid, &status, WNOHANG) == pid) {
			exited = 1;
			break;
		}
	}
	/* What is left, without waiting for a child it left behind. */
	for (;;) {
		ssize_t n = read(pfd[0], buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			break;
		if (echo_fd >= 0 && write(echo_fd, buf + len, (size_t)n) < 0)
			echo_fd = -1;
		len += (size_t)n;
		last_line(res, buf, &len);
	}
	if (len) {
		buf[len] = '\0';
		set_msg(res, buf);
	}
	close(pfd[0]);
	if (!exited)
		waitpid(pid, &status, 0);
	if (timed_out) {
		res->status = -ETIMEDOUT;
		snprintf(res->message, sizeof(res->message), "killed after %u ms (the phase's limit)",
			 timeout_ms);
	} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		res->status = 0;
	} else {
		res->status = -EIO;
		if (!res->message[0]) {
			if (WIFEXITED(status))
				snprintf(res->message, sizeof(res->message), "exited with status %d",
					 WEXITSTATUS(status));
			else
				snprintf(res->message, sizeof(res->message), "killed by signal %d",
					 WTERMSIG(status));
		}
	}
	res->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return 0;
}

int hook_run_shell(const char *cmd, const char *const *env, unsigned int timeout_ms,
		   int echo_fd, struct hook_result *res)
{
	const char *argv[] = { "/bin/sh", "-c", cmd, NULL };

	return hook_run(argv, env, timeout_ms, echo_fd, res);
}

/* ---- qemu-guest-agent's fsfreeze hook directory ------------------------------ */

/*
 * The suffixes qemu's scripts/qemu-guest-agent/fsfreeze-hook skips
 * (is_ignored_file): backups and package managers' leftovers.
 */
static const char *const ignored_suffixes[] = {
	"~", ".bak", ".orig", ".rpmnew", ".rpmorig", ".rpmsave", ".sample", ".dpkg-old",
	".dpkg-new", ".dpkg-tmp", ".dpkg-dist", ".dpkg-bak", ".dpkg-backup", ".dpkg-remove",
};

int fsfreeze_ignored(const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < sizeof(ignored_suffixes) / sizeof(ignored_suffixes[0]); i++) {
		size_t s = strlen(ignored_suffixes[i]);

		if (n >= s && !strcmp(name + n - s, ignored_suffixes[i]))
			return 1;
	}
	return 0;
}

static int byte_order(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void fsfreeze_free(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/*
 * As qemu's hook iterates the glob "$FSFREEZE_D/<star>": names not starting with '.', in
 * the shell's glob order (byte order: the C locale), not ignored, and
 * executable ([ -x ]). Full paths.
 */
int fsfreeze_scripts(const char *dir, char ***out, size_t *count)
{
	char **names = NULL, **p;
	size_t n = 0;
	struct dirent *de;
	DIR *d = opendir(dir);

	*out = NULL;
	*count = 0;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char *path;

		if (de->d_name[0] == '.' || fsfreeze_ignored(de->d_name))
			continue;
		if (asprintf(&path, "%s/%s", dir, de->d_name) < 0) {
			closedir(d);
			fsfreeze_free(names, n);
			return -ENOMEM;
		}
		if (access(path, X_OK)) {
			free(path);
			continue;
		}
		p = realloc(names, (n + 1) * sizeof(*p));
		if (!p) {
			free(path);
			closedir(d);
			fsfreeze_free(names, n);
			return -ENOMEM;
		}
		names = p;
		names[n++] = path;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), byte_order);
	*out = names;
	*count = n;
	return 0;
}

/* ---- option values ------------------------------------------------------------- */

int parse_component(const char *text, char *name, size_t name_size, char ***vols, size_t *n)
{
	const char *colon = strchr(text, ':');
	char *list, *tok, *save = NULL, **v = NULL, **p;
	size_t k = 0;

	*vols = NULL;
	*n = 0;
	if (!colon || colon == text || (size_t)(colon - text) >= name_size || !colon[1])
		return -EINVAL;
	memcpy(name, text, (size_t)(colon - text));
	name[colon - text] = '\0';
	list = strdup(colon + 1);
	if (!list)
		return -ENOMEM;
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		p = realloc(v, (k + 1) * sizeof(*p));
		if (!p || !(p[k] = strdup(tok))) {
			free(p ? p : v);
			free(list);
			return -ENOMEM;
		}
		v = p;
		k++;
	}
	free(list);
	if (!k || strstr(colon + 1, ",,") || colon[strlen(colon) - 1] == ',') {
		fsfreeze_free(v, k);
		return -EINVAL;
	}
	*vols = v;
	*n = k;
	return 0;
}

static const char *const type_words[] = { "none", "full", "incremental", "differential", "copy" };

int parse_types(const char *text, unsigned int *mask)
{
	char *list = strdup(text), *tok, *save = NULL;
	unsigned int m = 0, t;
	int ret = 0;

	if (!list)
		return -ENOMEM;
	if (!*text || text[strlen(text) - 1] == ',' || strstr(text, ",,"))
		ret = -EINVAL;
	for (tok = strtok_r(list, ",", &save); !ret && tok; tok = strtok_r(NULL, ",", &save)) {
		for (t = 0; t < sizeof(type_words) / sizeof(type_words[0]); t++)
			if (!strcmp(tok, type_words[t]))
				break;
		if (t == sizeof(type_words) / sizeof(type_words[0]))
			ret = -EINVAL;
		else
			m |= 1u << t;
	}
	free(list);
	if (!ret)
		*mask = m;
	return ret;
}

const char *type_word(int type)
{
	return type >= 0 && type < (int)(sizeof(type_words) / sizeof(type_words[0])) ?
	       type_words[type] : NULL;
}

int parse_writers_policy(const char *text)
{
	if (!strcmp(text, "best-effort"))
		return 0;
	if (!strcmp(text, "require"))
		return 1;
	if (!strcmp(text, "none"))
		return 2;
	return -EINVAL;
}
