// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * writer-tool - the writers' ioctls, raw, for tests/vm/88-writers.bats.
 *
 *   writer-tool writer --name N --component NAME:DEV[,DEV...] [--types MASK]
 *               [--fail PHASE[:MSG]] [--delay PHASE:MS] [--no-read]
 *               [--no-ack PHASE]...
 *               [--die-in PHASE] [--stamp TEXT] [--extent DEV:OFF:LEN]
 *               [--drop-caps]
 *       registers, prints "REGISTERED id", then one line per event
 *       ("EVENT seq phase set type success stamp=TEXT") and per ack
 *       ("ACK seq phase status=N ret=ok|ERRNO", or "NOACK seq phase" for
 *       a phase it reads but never acks), flushing stdout.
 *   writer-tool create [--policy require|best-effort|none] [--type T]
 *               [--freeze-ms N] [--phase-ms N] [--stamp NAME=TEXT]...
 *               [--no-writers] [--no-freeze] --store PATH DEV...
 *       prints one RESULT line per writer, then "ID n" or "ERROR name"
 *       (and "MISSING maj:min" for EXDEV); exit 1 when the create failed.
 *   writer-tool end ID success|failure [TYPE]
 *   writer-tool results ID
 *   writer-tool list
 *   writer-tool cycles N DEV               register and unregister N times
 *   writer-tool abuse TRACKED_DEV STORE    bad input for every new ioctl
 *
 * Phases are named prepare freeze thaw post complete abort; types none
 * full incremental differential copy.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cbt_ioctl.h"
#include "abuse.h"

static const char *phases[] = { "-", "prepare", "freeze", "thaw", "post",
				"complete", "abort" };
static const char *types[] = { "none", "full", "incremental", "differential",
			       "copy" };

static const char *phase_name(uint32_t p)
{
	return p < sizeof(phases) / sizeof(phases[0]) ? phases[p] : "?";
}

static uint32_t lookup(const char *s, const char **names, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (!strcmp(s, names[i]))
			return i;
	fprintf(stderr, "unknown name %s\n", s);
	exit(2);
}

#define PHASE(s) lookup(s, phases, 7)
#define TYPE(s) lookup(s, types, 5)

static const char *errname(int e)
{
	const char *n;

	if (!e)
		return "0";
	n = strerrorname_np(e < 0 ? -e : e);
	return n ? n : "?";
}

static int open_ctl(void)
{
	int c = open("/dev/" CBT_CTL_NAME, O_RDWR | O_CLOEXEC);

	if (c < 0) {
		perror("/dev/" CBT_CTL_NAME);
		exit(2);
	}
	return c;
}

static void print_results(struct cbt_writer_result *r, uint32_t n,
			  uint8_t (*stamps)[CBT_WRITER_STAMP_MAX],
			  struct cbt_writer_extent (*ext)[CBT_WRITER_MAX_EXTENTS])
{
	uint32_t i, j;

	for (i = 0; i < n; i++) {
		printf("RESULT %s phase=%s failed_phase=%s error=%s completed=%u message=\"%s\" stamp=\"%.*s\" extents=",
		       r[i].name, phase_name(r[i].phase),
		       phase_name(r[i].failed_phase), errname(r[i].error),
		       r[i].completed, r[i].message, (int)r[i].stamp_len,
		       (char *)stamps[i]);
		for (j = 0; j < r[i].nr_extents; j++)
			printf("%s%u:%u:%llu:%llu", j ? "," : "",
			       ext[i][j].dev.major, ext[i][j].dev.minor,
			       (unsigned long long)ext[i][j].offset,
			       (unsigned long long)ext[i][j].length);
		printf("\n");
	}
}

/* Room for @n results with their stamps and extents. */
static struct cbt_writer_result *alloc_results(uint32_t n,
					       uint8_t (**stamps)[CBT_WRITER_STAMP_MAX],
					       struct cbt_writer_extent (**ext)[CBT_WRITER_MAX_EXTENTS])
{
	struct cbt_writer_result *r = calloc(n, sizeof(*r));
	uint32_t i;

	*stamps = calloc(n, sizeof(**stamps));
	*ext = calloc(n, sizeof(**ext));
	if (!r || !*stamps || !*ext)
		exit(2);
	for (i = 0; i < n; i++) {
		r[i].stamp = (uintptr_t)(*stamps)[i];
		r[i].extents = (uintptr_t)(*ext)[i];
	}
	return r;
}

/* ---- writer -------------------------------------------------------------- */

struct act {
	uint32_t fail, delay, die;	/* phases */
	uint32_t no_ack;		/* bits: phases read, never acked */
	const char *fail_msg;
	unsigned int delay_ms;
};

static void drop_caps(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d)) {
		perror("capset");
		exit(2);
	}
}

static int run_writer(int argc, char **argv)
{
	struct cbt_writer_component comps[CBT_WRITER_MAX_COMPONENTS];
	struct cbt_writer_extent extents[CBT_WRITER_MAX_EXTENTS];
	struct cbt_writer_register reg;
	struct cbt_writer_event *ev;
	const char *stamp = NULL;
	struct act act = { 0 };
	int no_read = 0, caps = 0, ctl, wfd, i;
	unsigned int nx = 0;

	memset(&reg, 0, sizeof(reg));
	memset(comps, 0, sizeof(comps));
	for (i = 2; i < argc; i++) {
		char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--no-read")) {
			no_read = 1;
			continue;
		}
		if (!strcmp(a, "--drop-caps")) {
			caps = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "%s needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--name")) {
			snprintf(reg.name, sizeof(reg.name), "%s", v);
		} else if (!strcmp(a, "--component")) {
			struct cbt_writer_component *c = &comps[reg.count++];
			char *colon = strchr(v, ':'), *dev;

			if (!colon || reg.count > CBT_WRITER_MAX_COMPONENTS)
				return 2;
			*colon = 0;
			snprintf(c->name, sizeof(c->name), "%s", v);
			for (dev = strtok(colon + 1, ","); dev; dev = strtok(NULL, ","))
				c->vols[c->count++] = devof(dev);
		} else if (!strcmp(a, "--types")) {
			reg.types = strtoul(v, NULL, 0);
		} else if (!strcmp(a, "--fail")) {
			char *colon = strchr(v, ':');

			if (colon)
				*colon = 0;
			act.fail = PHASE(v);
			act.fail_msg = colon ? colon + 1 : "";
		} else if (!strcmp(a, "--delay")) {
			char *colon = strchr(v, ':');

			if (!colon)
				return 2;
			*colon = 0;
			act.delay = PHASE(v);
			act.delay_ms = atoi(colon + 1);
		} else if (!strcmp(a, "--no-ack")) {
			act.no_ack |= 1u << PHASE(v);
		} else if (!strcmp(a, "--die-in")) {
			act.die = PHASE(v);
		} else if (!strcmp(a, "--stamp")) {
			stamp = v;
		} else if (!strcmp(a, "--extent")) {
			char *p1 = strchr(v, ':'), *p2 = p1 ? strchr(p1 + 1, ':') : NULL;

			if (!p2 || nx == CBT_WRITER_MAX_EXTENTS)
				return 2;
			*p1 = *p2 = 0;
			extents[nx].dev = devof(v);
			extents[nx].offset = strtoull(p1 + 1, NULL, 0);
			extents[nx].length = strtoull(p2 + 1, NULL, 0);
			nx++;
		} else {
			fprintf(stderr, "unknown option %s\n", a);
			return 2;
		}
	}
	reg.components = (uintptr_t)comps;
	ctl = open_ctl();
	wfd = ioctl(ctl, CBT_IOC_WRITER_REGISTER, &reg);
	if (wfd < 0) {
		printf("ERROR %s\n", errname(errno));
		return 1;
	}
	close(ctl);
	if (caps)
		drop_caps();
	printf("REGISTERED %u\n", reg.id);
	fflush(stdout);
	if (no_read)
		for (;;)
			pause();
	ev = malloc(sizeof(*ev));
	if (!ev)
		return 2;
	for (;;) {
		struct cbt_writer_ack ack;
		ssize_t n = read(wfd, ev, sizeof(*ev));
		int ret;

		if (n != (ssize_t)sizeof(*ev)) {
			printf("READ %zd %s\n", n, errname(errno));
			return 1;
		}
		printf("EVENT %llu %s %u %s %u stamp=%.*s\n",
		       (unsigned long long)ev->seq, phase_name(ev->phase),
		       ev->set_id, ev->backup_type < 5 ? types[ev->backup_type] : "?",
		       ev->success, (int)ev->stamp_len, (char *)ev->stamp);
		fflush(stdout);
		if (act.die == ev->phase)
			raise(SIGKILL);
		if (act.delay == ev->phase)
			usleep(act.delay_ms * 1000u);
		if (ev->phase < 32 && (act.no_ack & (1u << ev->phase))) {
			printf("NOACK %llu %s\n", (unsigned long long)ev->seq,
			       phase_name(ev->phase));
			fflush(stdout);
			continue;
		}
		memset(&ack, 0, sizeof(ack));
		ack.seq = ev->seq;
		if (act.fail == ev->phase) {
			ack.status = -EIO;
			snprintf(ack.message, sizeof(ack.message), "%s", act.fail_msg);
		}
		if (ev->phase == CBT_WRITER_POST_SNAPSHOT && !ack.status) {
			if (stamp) {
				ack.stamp = (uintptr_t)stamp;
				ack.stamp_len = strlen(stamp);
			}
			if (nx) {
				ack.extents = (uintptr_t)extents;
				ack.nr_extents = nx;
			}
		}
		ret = ioctl(wfd, CBT_WRITER_IOC_ACK, &ack);
		printf("ACK %llu %s status=%d ret=%s\n", (unsigned long long)ev->seq,
		       phase_name(ev->phase), ack.status, ret ? errname(errno) : "ok");
		fflush(stdout);
	}
}

/* ---- requester ----------------------------------------------------------- */

static int run_create(int argc, char **argv)
{
	struct cbt_writer_stamp stamps[CBT_WRITER_MAX];
	struct cbt_snap_member m[CBT_SNAP_MAX_MEMBERS];
	struct cbt_writer_extent (*ext)[CBT_WRITER_MAX_EXTENTS];
	uint8_t (*rstamps)[CBT_WRITER_STAMP_MAX];
	struct cbt_writer_result *res;
	struct cbt_snap_writers sw;
	struct cbt_snap_create c;
	int ctl, i, no_writers = 0, ret;
	const char *store = NULL;

	memset(&sw, 0, sizeof(sw));
	memset(&c, 0, sizeof(c));
	memset(m, 0, sizeof(m));
	memset(stamps, 0, sizeof(stamps));
	for (i = 2; i < argc; i++) {
		char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--no-writers")) {
			no_writers = 1;
		} else if (!strcmp(a, "--no-freeze")) {
			c.flags |= CBT_SNAP_NO_FREEZE;
		} else if (a[0] == '-' && a[1] == '-' && !v) {
			return 2;
		} else if (!strcmp(a, "--policy")) {
			i++;
			sw.policy = !strcmp(v, "require") ? CBT_WRITERS_REQUIRE :
				    !strcmp(v, "none") ? CBT_WRITERS_NONE :
				    CBT_WRITERS_BEST_EFFORT;
		} else if (!strcmp(a, "--type")) {
			i++;
			sw.backup_type = TYPE(v);
		} else if (!strcmp(a, "--freeze-ms")) {
			i++;
			sw.freeze_ms = atoi(v);
		} else if (!strcmp(a, "--phase-ms")) {
			i++;
			sw.phase_ms = atoi(v);
		} else if (!strcmp(a, "--stamp")) {
			char *eq = strchr(v, '=');

			i++;
			if (!eq)
				return 2;
			*eq = 0;
			snprintf(stamps[sw.nr_stamps].name, CBT_WRITER_NAME_MAX, "%s", v);
			stamps[sw.nr_stamps].data = (uintptr_t)(eq + 1);
			stamps[sw.nr_stamps].len = strlen(eq + 1);
			sw.nr_stamps++;
		} else if (!strcmp(a, "--store")) {
			i++;
			store = v;
		} else {
			if (c.count == CBT_SNAP_MAX_MEMBERS)
				return 2;
			m[c.count++].dev = devof(a);
		}
	}
	if (!store || !c.count)
		return 2;
	sw.stamps = (uintptr_t)stamps;
	sw.capacity = CBT_WRITER_MAX;
	res = alloc_results(CBT_WRITER_MAX, &rstamps, &ext);
	sw.results = (uintptr_t)res;
	c.members = (uintptr_t)m;
	c.store_fd = open(store, O_RDWR);
	if (c.store_fd < 0) {
		perror(store);
		return 2;
	}
	c.writers = no_writers ? 0 : (uintptr_t)&sw;
	ctl = open_ctl();
	ret = ioctl(ctl, CBT_IOC_SNAP_CREATE, &c);
	if (ret)
		ret = errno;
	if (!no_writers) {
		printf("COUNT %u\n", sw.count);
		print_results(res, sw.count < CBT_WRITER_MAX ? sw.count : CBT_WRITER_MAX,
			      rstamps, ext);
	}
	if (ret) {
		printf("ERROR %s\n", errname(ret));
		if (ret == EXDEV)
			printf("MISSING %u:%u\n", c.missing.major, c.missing.minor);
		return 1;
	}
	printf("ID %u\n", c.id);
	return 0;
}

static int run_end(int argc, char **argv)
{
	struct cbt_snap_end e;
	int ctl = open_ctl();

	if (argc < 4)
		return 2;
	memset(&e, 0, sizeof(e));
	e.id = atoi(argv[2]);
	e.flags = !strcmp(argv[3], "success") ? CBT_SNAP_END_SUCCESS : 0;
	if (argc > 4)
		e.backup_type = TYPE(argv[4]);
	if (ioctl(ctl, CBT_IOC_SNAP_END, &e)) {
		printf("ERROR %s\n", errname(errno));
		return 1;
	}
	printf("ENDED %u\n", e.id);
	return 0;
}

static int run_results(int argc, char **argv)
{
	struct cbt_writer_extent (*ext)[CBT_WRITER_MAX_EXTENTS];
	uint8_t (*rstamps)[CBT_WRITER_STAMP_MAX];
	struct cbt_writer_results q;
	int ctl = open_ctl();

	if (argc < 3)
		return 2;
	memset(&q, 0, sizeof(q));
	q.id = atoi(argv[2]);
	q.capacity = CBT_WRITER_MAX;
	q.results = (uintptr_t)alloc_results(CBT_WRITER_MAX, &rstamps, &ext);
	if (ioctl(ctl, CBT_IOC_WRITER_RESULTS, &q)) {
		printf("ERROR %s\n", errname(errno));
		return 1;
	}
	printf("COUNT %u\n", q.count);
	print_results((void *)(uintptr_t)q.results, q.count, rstamps, ext);
	return 0;
}

static int run_list(void)
{
	struct cbt_writer_info *w = calloc(CBT_WRITER_MAX, sizeof(*w));
	struct cbt_writer_list l;
	int ctl = open_ctl();
	uint32_t i, j, k;

	memset(&l, 0, sizeof(l));
	l.writers = (uintptr_t)w;
	l.capacity = CBT_WRITER_MAX;
	if (ioctl(ctl, CBT_IOC_WRITER_LIST, &l)) {
		printf("ERROR %s\n", errname(errno));
		return 1;
	}
	printf("COUNT %u\n", l.count);
	for (i = 0; i < l.count && i < CBT_WRITER_MAX; i++) {
		printf("WRITER %s id=%u pid=%u types=%#x phase=%s last_set=%u last_phase=%s last_error=%s last_message=\"%s\" components=",
		       w[i].name, w[i].id, w[i].pid, w[i].types,
		       phase_name(w[i].phase), w[i].last_set,
		       phase_name(w[i].last_phase), errname(w[i].last_error),
		       w[i].last_message);
		for (j = 0; j < w[i].count; j++) {
			printf("%s%s:", j ? ";" : "", w[i].components[j].name);
			for (k = 0; k < w[i].components[j].count; k++)
				printf("%s%u:%u", k ? "," : "",
				       w[i].components[j].vols[k].major,
				       w[i].components[j].vols[k].minor);
		}
		printf("\n");
	}
	return 0;
}

/*
 * Register and unregister @n times in one process, half of them with an
 * read that finds nothing queued, then check that the list is empty.
 */
static int run_cycles(int argc, char **argv)
{
	struct cbt_writer_component comp;
	struct cbt_writer_register r;
	struct cbt_writer_list l;
	struct cbt_writer_event *ev = malloc(sizeof(*ev));
	int ctl = open_ctl(), i, n, w;

	if (argc < 4)
		return 2;
	n = atoi(argv[2]);
	memset(&comp, 0, sizeof(comp));
	snprintf(comp.name, sizeof(comp.name), "data");
	comp.count = 1;
	comp.vols[0] = devof(argv[3]);
	for (i = 0; i < n; i++) {
		memset(&r, 0, sizeof(r));
		snprintf(r.name, sizeof(r.name), "cycle-%d", i % 7);
		r.components = (uintptr_t)&comp;
		r.count = 1;
		w = ioctl(ctl, CBT_IOC_WRITER_REGISTER, &r);
		if (w < 0) {
			printf("cycle %d: %s\n", i, errname(errno));
			return 1;
		}
		if (i % 2 && (fcntl(w, F_SETFL, O_NONBLOCK) ||
			      read(w, ev, sizeof(*ev)) != -1 || errno != EAGAIN)) {
			printf("cycle %d: read did not say EAGAIN\n", i);
			return 1;
		}
		close(w);
	}
	memset(&l, 0, sizeof(l));
	if (ioctl(ctl, CBT_IOC_WRITER_LIST, &l)) {
		printf("list: %s\n", errname(errno));
		return 1;
	}
	printf("CYCLES %d left %u\n", n, l.count);
	return l.count ? 1 : 0;
}

/* ---- bad input ----------------------------------------------------------- */

static int live_sets(void)
{
	struct cbt_snap_list l;

	memset(&l, 0, sizeof(l));
	return ioctl(fd, CBT_IOC_SNAP_LIST, &l) < 0 ? 9999 : (int)l.count;
}

static int nr_writers(void)
{
	struct cbt_writer_list l;

	memset(&l, 0, sizeof(l));
	return ioctl(fd, CBT_IOC_WRITER_LIST, &l) < 0 ? 9999 : (int)l.count;
}

static void *bad_page(void)
{
	void *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		exit(2);
	return p;
}

static void abuse_register(struct cbt_dev dev)
{
	struct cbt_writer_component comp[CBT_WRITER_MAX_COMPONENTS + 1], bc;
	struct cbt_writer_register r, base;
	int fds[CBT_WRITER_MAX + 1], i, n;
	void *bad = bad_page();

	memset(&bc, 0, sizeof(bc));
	snprintf(bc.name, sizeof(bc.name), "data");
	bc.count = 1;
	bc.vols[0] = dev;
	memset(&base, 0, sizeof(base));
	snprintf(base.name, sizeof(base.name), "abuse");
	base.components = (uintptr_t)comp;
	base.count = 1;

#define REG(what, mutate, err) do {					\
		for (i = 0; i <= CBT_WRITER_MAX_COMPONENTS; i++)	\
			comp[i] = bc;					\
		r = base;						\
		mutate;							\
		n = ioctl(fd, CBT_IOC_WRITER_REGISTER, &r);		\
		expect("register: " what, n, err);			\
		if (n >= 0)						\
			close(n);					\
	} while (0)

	REG("flags", r.flags = 1, EINVAL);
	REG("reserved[0]", r.reserved[0] = 1, EINVAL);
	REG("reserved[1]", r.reserved[1] = 1, EINVAL);
	REG("id (out) set", r.id = 5, EINVAL);
	REG("unknown type bit", r.types = 1u << 5, EINVAL);
	REG("no components", r.count = 0, EINVAL);
	REG("too many components", r.count = CBT_WRITER_MAX_COMPONENTS + 1, EINVAL);
	REG("empty name", r.name[0] = 0, EINVAL);
	REG("name without NUL", memset(r.name, 'a', sizeof(r.name)), EINVAL);
	REG("name with a control char", r.name[1] = '\n', EINVAL);
	REG("name with a high byte", r.name[1] = (char)0xc3, EINVAL);
	REG("components NULL", r.components = 0, EFAULT);
	REG("components unmapped", r.components = (uintptr_t)bad, EFAULT);
	REG("components kernel pointer", r.components = 0xffff888000000000ull, EFAULT);
	REG("component empty name", comp[0].name[0] = 0, EINVAL);
	REG("component name without NUL", memset(comp[0].name, 'b', sizeof(comp[0].name)), EINVAL);
	REG("component reserved0", comp[0].reserved0 = 1, EINVAL);
	REG("component no volumes", comp[0].count = 0, EINVAL);
	REG("component too many volumes", comp[0].count = CBT_WRITER_COMPONENT_VOLS + 1, EINVAL);
	REG("component bad major", comp[0].vols[0].major = 1u << 20, EINVAL);
	REG("component bad minor", comp[0].vols[0].minor = 1u << 20, EINVAL);
	REG("component unused volume slot set", comp[0].vols[3].major = 7, EINVAL);
	REG("two components with one name", r.count = 2, EINVAL);
	REG("good", (void)0, 0);

	/* Duplicate names, then the limit. */
	r = base;
	for (i = 0; i <= CBT_WRITER_MAX_COMPONENTS; i++)
		comp[i] = bc;
	fds[0] = ioctl(fd, CBT_IOC_WRITER_REGISTER, &r);
	expect("register: first of a name", fds[0], 0);
	r = base;
	n = ioctl(fd, CBT_IOC_WRITER_REGISTER, &r);
	expect("register: duplicate name", n, EEXIST);
	if (n >= 0)
		close(n);
	for (i = 1; i < CBT_WRITER_MAX; i++) {
		r = base;
		snprintf(r.name, sizeof(r.name), "abuse-%d", i);
		fds[i] = ioctl(fd, CBT_IOC_WRITER_REGISTER, &r);
		if (fds[i] < 0)
			expect("register: one of the 64", fds[i], 0);
	}
	check("register: 64 writers listed", nr_writers() == CBT_WRITER_MAX);
	r = base;
	snprintf(r.name, sizeof(r.name), "abuse-65");
	n = ioctl(fd, CBT_IOC_WRITER_REGISTER, &r);
	expect("register: the 65th", n, ENOSPC);
	if (n >= 0)
		close(n);
	for (i = 0; i < CBT_WRITER_MAX; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	check("register: none left after closing", nr_writers() == 0);
	r = base;
	n = ioctl(fd, CBT_IOC_WRITER_REGISTER, &r);
	expect("register: the name is free again", n, 0);
	if (n >= 0) {
		struct cbt_writer_ack a;
		char big[200];

		check("register: the fd is close-on-exec",
		      (fcntl(n, F_GETFD) & FD_CLOEXEC) != 0);
		memset(big, 'x', sizeof(big));
		expect("writer fd: unknown ioctl", ioctl(n, CBT_IOC_VERSION, big), ENOTTY);
		expect("writer fd: read short buffer", (int)read(n, big, sizeof(big)), EINVAL);
		fcntl(n, F_SETFL, O_NONBLOCK);
		{
			struct cbt_writer_event *ev = malloc(sizeof(*ev));

			expect("writer fd: read with nothing queued",
			       (int)read(n, ev, sizeof(*ev)), EAGAIN);
			free(ev);
		}
#define ACK(what, mutate, err) do {					\
		memset(&a, 0, sizeof(a));				\
		a.seq = 1;						\
		mutate;							\
		expect("ack: " what, ioctl(n, CBT_WRITER_IOC_ACK, &a), err); \
	} while (0)
		ACK("flags", a.flags = 1, EINVAL);
		ACK("reserved[0]", a.reserved[0] = 1, EINVAL);
		ACK("reserved[1]", a.reserved[1] = 1, EINVAL);
		ACK("positive status", a.status = 5, EINVAL);
		ACK("status below -4095", a.status = -5000, EINVAL);
		ACK("message without NUL", memset(a.message, 'm', sizeof(a.message)), EINVAL);
		ACK("message with a newline", a.message[0] = '\n', EINVAL);
		ACK("stamp too long", (a.stamp = (uintptr_t)big, a.stamp_len = CBT_WRITER_STAMP_MAX + 1), EINVAL);
		ACK("stamp pointer without length", a.stamp = (uintptr_t)big, EINVAL);
		ACK("stamp length without pointer", a.stamp_len = 4, EFAULT);
		ACK("stamp unmapped", (a.stamp = (uintptr_t)bad, a.stamp_len = 4), EFAULT);
		ACK("too many extents", (a.extents = (uintptr_t)big, a.nr_extents = CBT_WRITER_MAX_EXTENTS + 1), EINVAL);
		ACK("extents pointer without count", a.extents = (uintptr_t)big, EINVAL);
		ACK("extents count without pointer", a.nr_extents = 1, EFAULT);
		ACK("extents unmapped", (a.extents = (uintptr_t)bad, a.nr_extents = 1), EFAULT);
		{
			struct cbt_writer_extent x = { dev, 0, 0 };

			ACK("extent of length 0", (a.extents = (uintptr_t)&x, a.nr_extents = 1), EINVAL);
			x.length = 4096;
			x.offset = ~0ull - 100;
			ACK("extent wrapping", (a.extents = (uintptr_t)&x, a.nr_extents = 1), EINVAL);
		}
		ACK("a seq never sent", a.seq = 77, ESTALE);
		ACK("seq 0", a.seq = 0, ESTALE);
		expect("ack: bad argument pointer",
		       ioctl(n, CBT_WRITER_IOC_ACK, bad), EFAULT);
		close(n);
	}
	check("register: none left", nr_writers() == 0);
	expect("register: bad argument pointer",
	       ioctl(fd, CBT_IOC_WRITER_REGISTER, bad), EFAULT);
}

static void abuse_list_results_end(void)
{
	struct cbt_writer_results q;
	struct cbt_writer_list l;
	struct cbt_snap_end e;
	void *bad = bad_page();

#define LST(what, mutate, err) do {					\
		memset(&l, 0, sizeof(l));				\
		mutate;							\
		expect("list: " what, ioctl(fd, CBT_IOC_WRITER_LIST, &l), err); \
	} while (0)
	LST("reserved[0]", l.reserved[0] = 1, EINVAL);
	LST("reserved[1]", l.reserved[1] = 1, EINVAL);
	LST("capacity without pointer", l.capacity = 1, EFAULT);
	LST("good, capacity 0", (void)0, 0);
	expect("list: bad argument pointer", ioctl(fd, CBT_IOC_WRITER_LIST, bad), EFAULT);

#define RES(what, mutate, err) do {					\
		memset(&q, 0, sizeof(q));				\
		q.id = 0xfffffff0u;					\
		mutate;							\
		expect("results: " what, ioctl(fd, CBT_IOC_WRITER_RESULTS, &q), err); \
	} while (0)
	RES("flags", q.flags = 1, EINVAL);
	RES("reserved[0]", q.reserved[0] = 1, EINVAL);
	RES("reserved[1]", q.reserved[1] = 1, EINVAL);
	RES("capacity without pointer", q.capacity = 1, EFAULT);
	RES("no such set", (void)0, ENOENT);
	expect("results: bad argument pointer", ioctl(fd, CBT_IOC_WRITER_RESULTS, bad), EFAULT);

#define END(what, mutate, err) do {					\
		memset(&e, 0, sizeof(e));				\
		e.id = 0xfffffff0u;					\
		mutate;							\
		expect("end: " what, ioctl(fd, CBT_IOC_SNAP_END, &e), err); \
	} while (0)
	END("unknown flag", e.flags = 2, EINVAL);
	END("backup type 5", e.backup_type = 5, EINVAL);
	END("reserved0", e.reserved0 = 1, EINVAL);
	END("reserved[0]", e.reserved[0] = 1, EINVAL);
	END("reserved[1]", e.reserved[1] = 1, EINVAL);
	END("no such set", (void)0, ENOENT);
	expect("end: bad argument pointer", ioctl(fd, CBT_IOC_SNAP_END, bad), EFAULT);
}

static void abuse_create(struct cbt_dev dev, const char *store)
{
	struct cbt_snap_member m;
	struct cbt_snap_writers sw, bw;
	struct cbt_writer_stamp st[2];
	struct cbt_snap_create c;
	struct cbt_snap_destroy d;
	struct cbt_snap_end e;
	int sfd = open(store, O_RDWR), ret;
	void *bad = bad_page();
	char data[] = "x";

	if (sfd < 0) {
		perror(store);
		exit(2);
	}
	memset(&bw, 0, sizeof(bw));
	memset(st, 0, sizeof(st));
	snprintf(st[0].name, sizeof(st[0].name), "a");
	st[0].data = (uintptr_t)data;
	st[0].len = 1;
	st[1] = st[0];
	snprintf(st[1].name, sizeof(st[1].name), "b");

#define CRE(what, mutate, err) do {					\
		memset(&m, 0, sizeof(m));				\
		m.dev = dev;						\
		memset(&c, 0, sizeof(c));				\
		c.members = (uintptr_t)&m;				\
		c.count = 1;						\
		c.store_fd = sfd;					\
		sw = bw;						\
		c.writers = (uintptr_t)&sw;				\
		mutate;							\
		ret = ioctl(fd, CBT_IOC_SNAP_CREATE, &c);		\
		expect("create writers: " what, ret, err);		\
		if (!ret) {						\
			memset(&d, 0, sizeof(d));			\
			d.id = c.id;					\
			ioctl(fd, CBT_IOC_SNAP_DESTROY, &d);		\
		}							\
		check("create writers: no set left: " what, live_sets() == 0); \
	} while (0)
	CRE("policy 3", sw.policy = 3, EINVAL);
	CRE("backup type 5", sw.backup_type = 5, EINVAL);
	CRE("freeze_ms over the maximum", sw.freeze_ms = CBT_WRITER_TIMEOUT_MAX_MS + 1, EINVAL);
	CRE("phase_ms over the maximum", sw.phase_ms = CBT_WRITER_TIMEOUT_MAX_MS + 1, EINVAL);
	CRE("nr_stamps over the maximum", (sw.nr_stamps = CBT_WRITER_MAX + 1, sw.stamps = (uintptr_t)st), EINVAL);
	CRE("count (out) set", sw.count = 1, EINVAL);
	CRE("reserved0", sw.reserved0 = 1, EINVAL);
	CRE("reserved[0]", sw.reserved[0] = 1, EINVAL);
	CRE("reserved[1]", sw.reserved[1] = 1, EINVAL);
	CRE("stamps NULL", sw.nr_stamps = 1, EFAULT);
	CRE("stamps unmapped", (sw.nr_stamps = 1, sw.stamps = (uintptr_t)bad), EFAULT);
	CRE("results NULL", sw.capacity = 1, EFAULT);
	CRE("writers unmapped", c.writers = (uintptr_t)bad, EFAULT);
	CRE("writers kernel pointer", c.writers = 0xffff888000000000ull, EFAULT);
	CRE("missing (out) set", c.missing.major = 1, EINVAL);
	CRE("stamp empty name", (st[0].name[0] = 0, sw.nr_stamps = 1, sw.stamps = (uintptr_t)st), EINVAL);
	st[0].name[0] = 'a';
	CRE("stamp length 0", (st[0].len = 0, sw.nr_stamps = 1, sw.stamps = (uintptr_t)st), EINVAL);
	CRE("stamp too long", (st[0].len = CBT_WRITER_STAMP_MAX + 1, sw.nr_stamps = 1, sw.stamps = (uintptr_t)st), EINVAL);
	st[0].len = 1;
	CRE("stamp reserved0", (st[0].reserved0 = 1, sw.nr_stamps = 1, sw.stamps = (uintptr_t)st), EINVAL);
	st[0].reserved0 = 0;
	CRE("stamp data NULL", (st[0].data = 0, sw.nr_stamps = 1, sw.stamps = (uintptr_t)st), EFAULT);
	st[0].data = (uintptr_t)data;
	CRE("two stamps of one name", (st[1].name[0] = 'a', sw.nr_stamps = 2, sw.stamps = (uintptr_t)st), EINVAL);
	st[1].name[0] = 'b';
	CRE("stamps of writers not registered", (sw.nr_stamps = 2, sw.stamps = (uintptr_t)st), 0);
	CRE("policy none", sw.policy = CBT_WRITERS_NONE, 0);
	CRE("no writers struct", c.writers = 0, 0);

	/* END on a live set: once. */
	memset(&m, 0, sizeof(m));
	m.dev = dev;
	memset(&c, 0, sizeof(c));
	c.members = (uintptr_t)&m;
	c.count = 1;
	c.store_fd = sfd;
	ret = ioctl(fd, CBT_IOC_SNAP_CREATE, &c);
	expect("end: a set to end", ret, 0);
	memset(&e, 0, sizeof(e));
	e.id = c.id;
	e.flags = CBT_SNAP_END_SUCCESS;
	expect("end: first", ioctl(fd, CBT_IOC_SNAP_END, &e), 0);
	expect("end: second", ioctl(fd, CBT_IOC_SNAP_END, &e), EALREADY);
	memset(&d, 0, sizeof(d));
	d.id = c.id;
	expect("end: destroy", ioctl(fd, CBT_IOC_SNAP_DESTROY, &d), 0);
	expect("end: after destroy", ioctl(fd, CBT_IOC_SNAP_END, &e), ENOENT);
	close(sfd);
}

static int run_abuse(int argc, char **argv)
{
	struct cbt_version v;

	if (argc < 4)
		return 2;
	fd = open_ctl();
	memset(&v, 0, sizeof(v));
	expect("version", ioctl(fd, CBT_IOC_VERSION, &v), 0);
	check("version: CBT_FEAT_WRITERS", (v.features & CBT_FEAT_WRITERS) != 0);
	abuse_register(devof(argv[2]));
	abuse_list_results_end();
	abuse_create(devof(argv[2]), argv[3]);
	printf("%d failure(s)\n", failures);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		goto usage;
	if (!strcmp(argv[1], "writer"))
		return run_writer(argc, argv);
	if (!strcmp(argv[1], "create"))
		return run_create(argc, argv);
	if (!strcmp(argv[1], "end"))
		return run_end(argc, argv);
	if (!strcmp(argv[1], "results"))
		return run_results(argc, argv);
	if (!strcmp(argv[1], "list"))
		return run_list();
	if (!strcmp(argv[1], "cycles"))
		return run_cycles(argc, argv);
	if (!strcmp(argv[1], "abuse"))
		return run_abuse(argc, argv);
usage:
	fprintf(stderr, "usage: writer-tool writer|create|end|results|list|abuse ...\n");
	return 2;
}
