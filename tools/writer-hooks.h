/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * writer-hooks.h - `cbt-snap writer run`'s hooks and option values
 * (writer-hooks.c), and the writers' outcome as the other commands print
 * it (writer-cmd.c).
 */
#ifndef CBT_WRITER_HOOKS_H
#define CBT_WRITER_HOOKS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define HOOK_LINE_MAX	1024

struct hook_result {
	int status;		/* 0, -EIO (non-zero exit), -ETIMEDOUT (killed) */
	int exit_status;	/* as the shell says it: 128 + signal when killed */
	char message[128];	/* the last line of its stderr, or why it failed */
};

/*
 * Run @argv (argv[0] a path) with @env ("NAME=VALUE", NULL-ended) added, in
 * its own process group, killed (the whole group) after @timeout_ms (0: no
 * limit). Its stderr is copied to @echo_fd (-1: not) and its last line kept.
 * 0 with @res filled, or a negative errno when it could not be started.
 */
int hook_run(const char *const *argv, const char *const *env, unsigned int timeout_ms,
	     int echo_fd, struct hook_result *res);
/* The same for "/bin/sh -c CMD". */
int hook_run_shell(const char *cmd, const char *const *env, unsigned int timeout_ms,
		   int echo_fd, struct hook_result *res);

/* 1 if qemu's fsfreeze-hook skips a script of that name (backups, dpkg/rpm files). */
int fsfreeze_ignored(const char *name);
/* The scripts of @dir qemu's fsfreeze-hook runs, in its order (full paths). */
int fsfreeze_scripts(const char *dir, char ***names, size_t *count);
void fsfreeze_free(char **names, size_t n);

/* "NAME:VOL[,VOL...]" (-EINVAL when malformed); *vols freed with fsfreeze_free(). */
int parse_component(const char *text, char *name, size_t name_size, char ***vols, size_t *n);
/* "full,incremental,..." (also "none", "differential", "copy") into (1 << type) bits. */
int parse_types(const char *text, unsigned int *mask);
/* "none", "full", ... for a backup type, NULL otherwise. */
const char *type_word(int type);
/* "best-effort" 0, "require" 1, "none" 2 (LIBCBT_WRITERS_*), else -EINVAL. */
int parse_writers_policy(const char *text);

/* writer-cmd.c: the writers' part in a set, for snapshot create and backup. */
struct cbt_snapset;
/* "ok", "failed" or "skipped" for writer @i. */
const char *writer_outcome(const struct cbt_snapset *set, unsigned int i);
/* One line each: "writer NAME: ok" or "writer NAME: failed in PHASE: MESSAGE". */
void print_writer_outcomes(const struct cbt_snapset *set, FILE *f);
/* A JSON array of them (name, outcome, failed-phase, error, message); malloc'd. */
char *writer_outcomes_json(const struct cbt_snapset *set);

int cmd_writers(int argc, char **argv);
int cmd_writer(int argc, char **argv);

#endif /* CBT_WRITER_HOOKS_H */
