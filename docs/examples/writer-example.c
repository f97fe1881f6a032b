// SPDX-License-Identifier: MIT
/*
 * writer-example.c - an application taking part in snapshot sets with
 * libcbt's writer API, small enough to copy into a database: register with
 * the volumes that hold the data, and answer each event. Here the
 * "application" is a file: at FREEZE it is fsync()ed and held (a flag), at
 * THAW released; its stamp is the file's size at the instant, and the file's
 * first 64 KiB are named as an extent the backup must copy in any case.
 *
 *   cc -o writer-example writer-example.c $(pkg-config --cflags --libs cbt)
 *   writer-example -n NAME -f FILE [VOLUME...]
 *
 * VOLUME (default: FILE itself, resolved to the tracked volume beneath it)
 * is a path on the volumes holding the data. Prints one line an event:
 * "event PHASE SET TYPE" and, in PREPARE when there is one, "base STAMP".
 * Runs until SIGINT or SIGTERM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libcbt.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	const char *name = NULL, *file = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	struct cbt_writer *w = NULL;
	struct cbt_ctx *ctx = NULL;
	int c, ret, fd, held = 0;

	while ((c = getopt(argc, argv, "n:f:")) != -1) {
		if (c == 'n')
			name = optarg;
		else if (c == 'f')
			file = optarg;
		else
			return 2;
	}
	if (!name || !file) {
		fprintf(stderr, "usage: writer-example -n NAME -f FILE [VOLUME...]\n");
		return 2;
	}
	fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(file);
		return 1;
	}
	ret = cbt_ctx_new(&ctx);
	if (!ret)
		ret = cbt_writer_new(ctx, name, &w);
	if (!ret) {
		/* The component's paths: the volumes given, or the file's own. */
		const char *const self[] = { file };

		if (optind < argc)
			ret = cbt_writer_add_component(w, "data", (const char *const *)argv + optind,
						       (size_t)(argc - optind));
		else
			ret = cbt_writer_add_component(w, "data", self, 1);
	}
	if (!ret)
		ret = cbt_writer_start(w);	/* registered: events from now on */
	if (ret) {
		fprintf(stderr, "writer-example: %s\n",
			w && *cbt_writer_get_error(w) ? cbt_writer_get_error(w) : cbt_strerror(ret));
		cbt_writer_free(w);
		cbt_ctx_unref(ctx);
		return 1;
	}
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("registered %s\n", name);
	fflush(stdout);

	while (!stop) {
		struct pollfd p = { .fd = cbt_writer_get_fd(w), .events = POLLIN };
		struct cbt_wevent *ev;
		const void *base;
		size_t len;
		int status = 0;
		char msg[128] = "";

		if (poll(&p, 1, -1) < 0)
			continue;	/* EINTR: look at stop */
		ret = cbt_writer_next_event(w, 0, &ev);
		if (ret == -EAGAIN)
			continue;
		if (ret < 0) {
			fprintf(stderr, "writer-example: %s\n", cbt_strerror(ret));
			break;
		}
		printf("event %s %u %s\n", cbt_writer_phase_name(cbt_wevent_get_phase(ev)),
		       cbt_wevent_get_set_id(ev),
		       cbt_writer_backup_type_name(cbt_wevent_get_backup_type(ev)));
		switch (cbt_wevent_get_phase(ev)) {
		case LIBCBT_WRITER_PREPARE:
			/* An incremental: what we said at the base backup. */
			base = cbt_wevent_get_base_stamp(ev, &len);
			if (base)
				printf("base %.*s\n", (int)len, (const char *)base);
			break;
		case LIBCBT_WRITER_FREEZE: {
			struct stat st;
			char stamp[32];

			/* Flush and hold: nothing is written until THAW. */
			if (fsync(fd) < 0 || fstat(fd, &st) < 0) {
				status = -errno;
				snprintf(msg, sizeof(msg), "%s: %s", file, strerror(errno));
				break;
			}
			held = 1;
			snprintf(stamp, sizeof(stamp), "size=%lld", (long long)st.st_size);
			cbt_writer_set_stamp(w, stamp, strlen(stamp));
			/* Copied whatever the changes say: the file's head. */
			cbt_writer_add_extent(w, file, 0, 65536);
			break;
		}
		case LIBCBT_WRITER_THAW:
		case LIBCBT_WRITER_ABORT:
			held = 0;
			break;
		case LIBCBT_WRITER_COMPLETE:
			/* Only now may a database drop the logs the backup holds. */
			printf("complete %s\n", cbt_wevent_get_success(ev) ? "ok" : "failed");
			break;
		}
		ret = cbt_writer_ack_event(w, ev, status, msg[0] ? msg : NULL);
		if (ret && ret != -ESTALE)
			fprintf(stderr, "writer-example: ack: %s\n", cbt_strerror(ret));
		cbt_wevent_free(ev);
		fflush(stdout);
	}
	(void)held;
	cbt_writer_free(w);	/* closes the descriptor: unregistered */
	cbt_ctx_unref(ctx);
	close(fd);
	return 0;
}
