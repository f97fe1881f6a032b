// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * snap-abuse - feed the snapshot-set ioctls bad requests and check each
 * gets the documented error and leaves no set behind; then one good set
 * through its whole life (info, list, events, grow, destroy), then random
 * garbage. Prints one line per check; exit 1 if any check failed.
 *
 *   snap-abuse TRACKED_DEV UNTRACKED_DEV STORE_FILE   (as root)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cbt_ioctl.h"
#include "abuse.h"

/* A second store file of @size bytes, unlinked (the set holds it). */
static int more_store(uint64_t size)
{
	char path[] = "/tmp/snap-abuse-more.XXXXXX";
	int sfd = mkstemp(path);

	if (sfd < 0 || ftruncate(sfd, (off_t)size)) {
		perror("second store");
		exit(2);
	}
	unlink(path);
	return sfd;
}

static unsigned int live_sets(void)
{
	struct cbt_snap_list l;

	memset(&l, 0, sizeof(l));
	if (ioctl(fd, CBT_IOC_SNAP_LIST, &l) < 0)
		return 9999;
	return l.count;
}

static void bad_create(struct cbt_dev tracked, struct cbt_dev untracked,
		       const char *store, const char *tracked_path)
{
	struct cbt_snap_member m[CBT_SNAP_MAX_MEMBERS + 1], base_m;
	struct cbt_snap_create c, base;
	int sfd = open(store, O_RDWR), ro = open(store, O_RDONLY);
	int pipefd[2], dev_fd = open(tracked_path, O_RDWR);
	char empty[] = "/tmp/snap-abuse-empty.XXXXXX";
	int efd = mkstemp(empty);

	if (sfd < 0 || ro < 0 || dev_fd < 0 || efd < 0 || pipe(pipefd)) {
		perror("setup");
		exit(2);
	}
	memset(&base_m, 0, sizeof(base_m));
	base_m.dev = tracked;
	memset(&base, 0, sizeof(base));
	base.members = (uintptr_t)m;
	base.count = 1;
	base.store_fd = sfd;

#define TRY(what, mutate, err) do {					\
		m[0] = base_m; m[1] = base_m; c = base;			\
		mutate;							\
		expect("create: " what,					\
		       ioctl(fd, CBT_IOC_SNAP_CREATE, &c), err);	\
	} while (0)

	TRY("no members", c.count = 0, EINVAL);
	TRY("too many members", c.count = CBT_SNAP_MAX_MEMBERS + 1, EINVAL);
	TRY("unknown flag", c.flags = 1u << 9, EINVAL);
	TRY("reserved field set", c.reserved[1] = 7, EINVAL);
	TRY("output id set", c.id = 5, EINVAL);
	TRY("hold over 60 s", c.hold_ms = 60001, EINVAL);
	TRY("low-space over 90%", c.low_space = 91, EINVAL);
	TRY("NULL members", c.members = 0, EFAULT);
	TRY("member reserved set", m[0].reserved[1] = 1, EINVAL);
	TRY("member output stamp set", m[0].stamp.generation = 1, EINVAL);
	TRY("member device number overflow", m[0].dev.major = 1u << 20, EINVAL);
	TRY("untracked member", m[0].dev = untracked, ENOENT);
	TRY("same member twice", c.count = 2, EINVAL);
	TRY("store fd -1", c.store_fd = -1, EBADF);
	TRY("store fd not open", c.store_fd = 999, EBADF);
	TRY("store is a pipe", c.store_fd = pipefd[1], EINVAL);
	TRY("store opened read-only", c.store_fd = ro, EBADF);
	TRY("store is the member itself", c.store_fd = dev_fd, EXDEV);
	TRY("store file is empty", c.store_fd = efd, ENOSPC);
#undef TRY
	check("no set left behind by any bad create", live_sets() == 0);
	close(pipefd[0]);
	close(pipefd[1]);
	close(ro);
	close(dev_fd);
	close(efd);
	unlink(empty);
	close(sfd);
}

static void set_life(struct cbt_dev tracked, const char *store)
{
	struct cbt_snap_member m, mm[2];
	struct cbt_snap_create c;
	struct cbt_snap_info info;
	struct cbt_snap_grow g;
	struct cbt_snap_destroy d;
	struct cbt_snap_events e;
	struct cbt_snap_event ev;
	struct cbt_detach det;
	struct cbt_snap_list l;
	uint32_t ids[4], id;
	int sfd = open(store, O_RDWR), efd;
	char small[8];

	memset(&m, 0, sizeof(m));
	m.dev = tracked;
	memset(&c, 0, sizeof(c));
	c.members = (uintptr_t)&m;
	c.count = 1;
	c.store_fd = sfd;
	c.flags = CBT_SNAP_NO_FREEZE;
	expect("create: good request", ioctl(fd, CBT_IOC_SNAP_CREATE, &c), 0);
	check("create: an id and an image came back", c.id && m.image.major);
	close(sfd);	/* the kernel holds its own reference */

	id = c.id;
	memset(&m.image, 0, sizeof(m.image));
	memset(&m.stamp, 0, sizeof(m.stamp));
	m.chunk_size = 0;
	sfd = open(store, O_RDWR);
	c.id = 0;
	c.hold_ns = 0;
	expect("create: member already in a set", ioctl(fd, CBT_IOC_SNAP_CREATE, &c), EBUSY);
	c.id = id;

	memset(&det, 0, sizeof(det));
	det.dev = tracked;
	expect("detach: member of a live set", ioctl(fd, CBT_IOC_DETACH, &det), EBUSY);

	memset(&info, 0, sizeof(info));
	info.id = 0xdeadbeef;
	expect("info: unknown id", ioctl(fd, CBT_IOC_SNAP_INFO, &info), ENOENT);
	memset(&info, 0, sizeof(info));
	info.id = c.id;
	info.flags = 1;
	expect("info: flags set", ioctl(fd, CBT_IOC_SNAP_INFO, &info), EINVAL);
	memset(&info, 0, sizeof(info));
	info.id = c.id;
	info.capacity = 2;
	expect("info: NULL member array", ioctl(fd, CBT_IOC_SNAP_INFO, &info), EFAULT);
	info.members = (uintptr_t)mm;
	expect("info: good request", ioctl(fd, CBT_IOC_SNAP_INFO, &info), 0);
	check("info: one member, the tracked device",
	      info.count == 1 && mm[0].dev.major == tracked.major &&
	      mm[0].dev.minor == tracked.minor && info.store_size > 0);

	memset(&l, 0, sizeof(l));
	l.reserved[0] = 1;
	expect("list: reserved set", ioctl(fd, CBT_IOC_SNAP_LIST, &l), EINVAL);
	memset(&l, 0, sizeof(l));
	l.capacity = 4;
	expect("list: NULL array", ioctl(fd, CBT_IOC_SNAP_LIST, &l), EFAULT);
	l.ids = (uintptr_t)ids;
	expect("list: good request", ioctl(fd, CBT_IOC_SNAP_LIST, &l), 0);
	check("list: the set is there", l.count == 1 && ids[0] == c.id);

	memset(&e, 0, sizeof(e));
	e.id = 0xdeadbeef;
	expect("events: unknown id", ioctl(fd, CBT_IOC_SNAP_EVENTS, &e), ENOENT);
	e.id = c.id;
	e.reserved[1] = 1;
	expect("events: reserved set", ioctl(fd, CBT_IOC_SNAP_EVENTS, &e), EINVAL);
	e.reserved[1] = 0;
	efd = ioctl(fd, CBT_IOC_SNAP_EVENTS, &e);
	expect("events: good request", efd, 0);
	fcntl(efd, F_SETFL, O_NONBLOCK);
	expect("events: read into a short buffer", (int)read(efd, small, sizeof(small)), EINVAL);
	check("events: first read gives the state now",
	      read(efd, &ev, sizeof(ev)) == sizeof(ev) && ev.id == c.id &&
	      !(ev.state & CBT_SNAP_STATE_DESTROYED));
	expect("events: nothing new", (int)read(efd, &ev, sizeof(ev)), EAGAIN);

	memset(&g, 0, sizeof(g));
	g.id = c.id;
	g.store_fd = -5;
	expect("grow: bad fd", ioctl(fd, CBT_IOC_SNAP_GROW, &g), EBADF);
	g.store_fd = sfd;
	g.flags = 2;
	expect("grow: flags set", ioctl(fd, CBT_IOC_SNAP_GROW, &g), EINVAL);
	g.flags = 0;
	g.id = 0xdeadbeef;
	expect("grow: unknown id", ioctl(fd, CBT_IOC_SNAP_GROW, &g), ENOENT);
	g.id = c.id;
	/* Its slots would be handed out twice. */
	expect("grow: a store already in the set", ioctl(fd, CBT_IOC_SNAP_GROW, &g), EBUSY);
	g.store_fd = more_store(info.store_size);
	expect("grow: good request", ioctl(fd, CBT_IOC_SNAP_GROW, &g), 0);
	close(g.store_fd);
	check("events: growth is an event",
	      read(efd, &ev, sizeof(ev)) == sizeof(ev) && ev.store_size == 2 * info.store_size);

	memset(&d, 0, sizeof(d));
	d.id = c.id;
	d.flags = 1;
	expect("destroy: flags set", ioctl(fd, CBT_IOC_SNAP_DESTROY, &d), EINVAL);
	d.flags = 0;
	d.reserved[0] = 1;
	expect("destroy: reserved set", ioctl(fd, CBT_IOC_SNAP_DESTROY, &d), EINVAL);
	d.reserved[0] = 0;
	d.id = 0xdeadbeef;
	expect("destroy: unknown id", ioctl(fd, CBT_IOC_SNAP_DESTROY, &d), ENOENT);
	d.id = c.id;
	expect("destroy: good request", ioctl(fd, CBT_IOC_SNAP_DESTROY, &d), 0);
	expect("destroy: twice", ioctl(fd, CBT_IOC_SNAP_DESTROY, &d), ENOENT);
	check("events: destruction is reported",
	      read(efd, &ev, sizeof(ev)) == sizeof(ev) &&
	      (ev.state & CBT_SNAP_STATE_DESTROYED));
	check("events: then end of file", read(efd, &ev, sizeof(ev)) == 0);
	close(efd);
	close(sfd);
	expect("detach: allowed once the set is gone", ioctl(fd, CBT_IOC_DETACH, &det), 0);
}

/* Random bytes for every snapshot command: refused, never a crash. */
static void garbage(void)
{
	static const unsigned long cmds[] = {
		CBT_IOC_SNAP_CREATE, CBT_IOC_SNAP_GROW, CBT_IOC_SNAP_DESTROY,
		CBT_IOC_SNAP_INFO, CBT_IOC_SNAP_LIST, CBT_IOC_SNAP_EVENTS,
	};
	uint8_t raw[256];
	int i, j, refused = 0;

	srand(4242);
	for (i = 0; i < 20000; i++) {
		for (j = 0; j < (int)sizeof(raw); j++)
			raw[j] = (uint8_t)rand();
		if (ioctl(fd, cmds[i % 6], raw) < 0)
			refused++;
	}
	check("20000 garbage snapshot requests all refused", refused == 20000);
	check("no set left behind by garbage", live_sets() == 0);
}

int main(int argc, char **argv)
{
	fd = open("/dev/cbt-ctl", O_RDWR);
	if (fd < 0) {
		perror("/dev/cbt-ctl");
		return 2;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: %s TRACKED UNTRACKED STORE_FILE\n", argv[0]);
		return 2;
	}
	bad_create(devof(argv[1]), devof(argv[2]), argv[3], argv[1]);
	set_life(devof(argv[1]), argv[3]);
	garbage();
	printf("%d failures\n", failures);
	return failures ? 1 : 0;
}
