/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cli.h - what the cbt-snap command files share.
 */
#ifndef CBT_CLI_H
#define CBT_CLI_H

#include <stdio.h>
#include "libcbt.h"

#define EXIT_USAGE	2

extern const char *prog;

void fail_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One line on stderr for a library error; returns the exit status 1. */
int report(int err, const char *what);
/* Open the control device, reporting failure; 0 or 1. */
int open_ctx(struct cbt_ctx **ctx);
/* Print a json-c object the way every command does. */
struct json_object;
void print_json(struct json_object *o);

/* cbt-snap snapshot ... (snapshot-cmd.c) */
int cmd_snapshot(int argc, char **argv);
void usage_snapshot(FILE *f);

#endif /* CBT_CLI_H */
