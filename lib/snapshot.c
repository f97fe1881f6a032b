// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * snapshot.c - the library side of snapshot sets (see include/libcbt.h):
 * creating them with their stores, watching, growing and destroying them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"

#define SNAP_LIST_MAX	64

struct snap_member {
	char *volume;
	char *image;
	char stamp[CBT_STAMP_MAX];
	unsigned int frozen;
};

struct cbt_snapset {
	struct cbt_ctx *ctx;
	uint32_t id;
	unsigned int count;
	uint64_t hold_ns;
	int event_fd;
	struct snap_member members[CBT_SNAP_MAX_MEMBERS];
};

/*
 * Stores receive the old blocks of the volumes: whatever was there, secrets
 * included. So a store must be private to root and be only itself: a block
 * device, or a regular file owned by root (or by the caller's euid) with no
 * group or other permission bits, one link, not on a pseudo filesystem
 * (/proc/self/mem is a regular file owned by root, mode 0600). A symlink as
 * the last component is refused (O_NOFOLLOW) unless root (or the caller)
 * owns it and it leads to a block device (LVM's /dev/VG/LV); so is a parent
 * directory that others may write without the sticky bit (they could swap
 * the name after our checks). Every check is on the opened descriptor
 * (fstat, fstatfs), never on a second look-up of the path. Refusals are
 * -EACCES.
 *
 * A file that is readable by others is refused rather than made 0600: a
 * reader who opened it while it was 0644 keeps reading through a chmod.
 */

/* Filesystems whose "regular files" are no place for a store. */
static const unsigned long store_pseudo_fs[] = {
	PROC_SUPER_MAGIC, SYSFS_MAGIC, DEBUGFS_MAGIC, TRACEFS_MAGIC,
	SECURITYFS_MAGIC, SELINUX_MAGIC, SMACK_MAGIC, CGROUP_SUPER_MAGIC,
	CGROUP2_SUPER_MAGIC, RDTGROUP_SUPER_MAGIC, DEVPTS_SUPER_MAGIC,
	BINFMTFS_MAGIC, BINDERFS_SUPER_MAGIC, PSTOREFS_MAGIC, EFIVARFS_MAGIC,
	NSFS_MAGIC, BPF_FS_MAGIC, PIPEFS_MAGIC, SOCKFS_MAGIC,
	ANON_INODE_FS_MAGIC, USBDEVICE_SUPER_MAGIC, OPENPROM_SUPER_MAGIC,
	0x62656570 /* configfs */, 0x65735543 /* fusectl */,
};

/* -EACCES unless @fd is a store private to root (see above). */
static int store_check_fd(int fd)
{
	struct statfs sfs;
	struct stat st;
	size_t i;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISBLK(st.st_mode))
		return 0;
	if (!S_ISREG(st.st_mode))
		return -EACCES;
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return -EACCES;
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return -EACCES;
	if (st.st_nlink > 1)
		return -EACCES;
	if (fstatfs(fd, &sfs) < 0)
		return -errno;
	for (i = 0; i < sizeof(store_pseudo_fs) / sizeof(store_pseudo_fs[0]); i++)
		if ((unsigned long)sfs.f_type == store_pseudo_fs[i])
			return -EACCES;
	return 0;
}

/* An opened store: its descriptor, and its name if we created the file. */
struct store_file {
	int fd;
	int dirfd;		/* the parent directory, while the name is kept */
	char *name;		/* set when the library created the file */
};

/* Remove a file the library created, if the name is still that file. */
static void store_discard(struct store_file *sf)
{
	struct stat a, b;

	if (sf->name && fstat(sf->fd, &a) == 0 &&
	    fstatat(sf->dirfd, sf->name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		unlinkat(sf->dirfd, sf->name, 0);
}

static void store_close(struct store_file *sf)
{
	if (sf->fd >= 0)
		close(sf->fd);
	if (sf->dirfd >= 0)
		close(sf->dirfd);
	free(sf->name);
	sf->fd = sf->dirfd = -1;
	sf->name = NULL;
}

/*
 * Open (or create, mode 0600) the store at @path, checked, sized to @size
 * when it is a file (0: as it is). On failure nothing the library created
 * is left behind.
 */
static int store_file_open(const char *path, uint64_t size,
			   struct store_file *sf)
{
	const int flags = O_RDWR | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC;
	char *dir = strdup(path), *slash;
	const char *name;
	struct stat st;
	int ret = 0;

	sf->fd = sf->dirfd = -1;
	sf->name = NULL;
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash) {
		name = path + (slash - dir) + 1;
		slash[slash == dir] = '\0';	/* "/x" -> "/" */
	} else {
		name = path;
		strcpy(dir, ".");
	}
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..")) {
		ret = -EINVAL;
		goto out;
	}
	sf->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sf->dirfd < 0 || fstat(sf->dirfd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	/* Others could rename or replace the name under us. */
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
		ret = -EACCES;
		goto out;
	}
	if (fstatat(sf->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT) {
			ret = -errno;
			goto out;
		}
		sf->fd = openat(sf->dirfd, name, flags | O_CREAT | O_EXCL, 0600);
		if (sf->fd < 0) {
			ret = -errno;
			goto out;
		}
		sf->name = strdup(name);
		if (!sf->name || fchmod(sf->fd, 0600) < 0) {
			ret = sf->name ? -errno : -ENOMEM;
			goto out;
		}
	} else if (S_ISBLK(st.st_mode)) {
		/* Exclusive: nothing may mount or use the device meanwhile. */
		sf->fd = openat(sf->dirfd, name, flags | O_EXCL);
	} else if (S_ISLNK(st.st_mode) &&
		   (st.st_uid == 0 || st.st_uid == geteuid())) {
		/*
		 * Root's symlink (/dev/vg0/cow, /dev/disk/by-id/...) is
		 * followed, to a block device only (checked below).
		 */
		sf->fd = openat(sf->dirfd, name, (flags & ~O_NOFOLLOW) | O_EXCL);
		if (sf->fd >= 0 && (fstat(sf->fd, &st) < 0 || !S_ISBLK(st.st_mode))) {
			ret = -EACCES;
			goto out;
		}
	} else if (S_ISREG(st.st_mode)) {
		sf->fd = openat(sf->dirfd, name, flags);
	} else {
		ret = -EACCES;	/* a symlink, a FIFO, a character device... */
		goto out;
	}
	if (sf->fd < 0) {
		ret = errno == ELOOP ? -EACCES : -errno;
		goto out;
	}
	ret = store_check_fd(sf->fd);
	if (!ret && fstat(sf->fd, &st) < 0)
		ret = -errno;
	if (ret || S_ISBLK(st.st_mode))
		goto out;
	if (size > (uint64_t)st.st_size)
		/* Preallocated, so the store cannot fail for lack of space. */
		ret = -posix_fallocate(sf->fd, 0, (off_t)size);
	else if (!st.st_size)
		ret = -EINVAL;	/* an empty file and no size to give it */
out:
	if (ret) {
		store_discard(sf);
		store_close(sf);
	}
	free(dir);
	return ret;
}

int cbt_store_prepare(const char *path, uint64_t size)
{
	struct store_file sf;
	int ret = store_file_open(path, size, &sf);

	if (!ret)
		store_close(&sf);
	return ret;
}

/*
 * Parse a store spec "PATH[:SIZE]". The text after the last ':' is a size
 * when it begins with a digit, and must then be a valid one: digits and
 * an optional K, M, G or T, either case (-EINVAL otherwise: "cow:4G5" and
 * "cow:4KiB" are errors, not files named so); anything else
 * after it is part of the path. A trailing ':' ends the path with no size
 * ("a:1:" is the file "a:1").
 */
static int store_spec_parse(const char *spec, char **path, uint64_t *size)
{
	const char *colon = strrchr(spec, ':');
	size_t len = strlen(spec);

	*size = 0;
	if (colon && (!colon[1] || (colon[1] >= '0' && colon[1] <= '9'))) {
		/* Digits and at most one of the documented suffixes. */
		const char *end = colon + 1 + strspn(colon + 1, "0123456789");

		if (*end && (!strchr("KMGTkmgt", *end) || end[1]))
			return -EINVAL;
		if (colon[1] && cbt_parse_size(colon + 1, size))
			return -EINVAL;
		len = (size_t)(colon - spec);
	}
	if (!len)
		return -EINVAL;
	*path = strndup(spec, len);
	return *path ? 0 : -ENOMEM;
}

/* Open a store spec "PATH[:SIZE]" for the kernel to keep. */
static int store_open(const char *spec, struct store_file *sf)
{
	uint64_t size;
	char *path;
	int ret;

	sf->fd = sf->dirfd = -1;
	sf->name = NULL;
	ret = store_spec_parse(spec, &path, &size);
	if (ret)
		return ret;
	ret = store_file_open(path, size, sf);
	free(path);
	return ret;
}

static void member_free(struct snap_member *m)
{
	free(m->volume);
	free(m->image);
	m->volume = m->image = NULL;
}

void cbt_snapset_free(struct cbt_snapset *set)
{
	unsigned int i;

	if (!set)
		return;
	for (i = 0; i < set->count; i++)
		member_free(&set->members[i]);
	if (set->event_fd >= 0)
		close(set->event_fd);
	free(set);
}

static struct cbt_snapset *set_new(struct cbt_ctx *ctx)
{
	struct cbt_snapset *set = calloc(1, sizeof(*set));

	if (set) {
		set->ctx = ctx;
		set->event_fd = -1;
	}
	return set;
}

/* Fill the handle's members from the kernel's answer. */
static int set_fill(struct cbt_snapset *set, const struct cbt_snap_member *m,
		    unsigned int count)
{
	unsigned int i;
	int ret;

	for (i = 0; i < count; i++) {
		struct snap_member *sm = &set->members[i];

		ret = cbt_device_path(makedev(m[i].dev.major, m[i].dev.minor),
				      &sm->volume);
		if (ret)
			return ret;
		if (asprintf(&sm->image, "/dev/cbt-snap%u-%u", set->id, i) < 0) {
			sm->image = NULL;
			return -ENOMEM;
		}
		cbt__stamp_format(&m[i].stamp, sm->stamp);
		sm->frozen = m[i].frozen;
		set->count = i + 1;
	}
	return 0;
}

/* Add the store @spec to @set; @sf keeps it (open) for the caller. */
static int set_grow(struct cbt_snapset *set, const char *spec,
		    struct store_file *sf)
{
	struct cbt_snap_grow g;
	int ret;

	ret = store_open(spec, sf);
	if (ret)
		return ret;
	memset(&g, 0, sizeof(g));
	g.id = set->id;
	g.store_fd = sf->fd;
	ret = cbt__ioctl(set->ctx, CBT_IOC_SNAP_GROW, &g);
	if (ret) {
		store_discard(sf);
		store_close(sf);
	}
	return ret;
}

int cbt_snapshot_create(struct cbt_ctx *ctx, const char *const *volumes,
			unsigned int count, const char *const *stores,
			unsigned int nstores, unsigned int flags,
			unsigned int hold_ms, unsigned int low_space,
			struct cbt_snapset **out)
{
	struct cbt_snap_member m[CBT_SNAP_MAX_MEMBERS];
	struct cbt_snapset *set = NULL;
	struct cbt_snap_create c;
	struct store_file *sf;
	unsigned int i;
	int ret;

	if (!count || count > CBT_SNAP_MAX_MEMBERS || !nstores ||
	    (flags & ~(CBT_SNAPSHOT_NO_FREEZE | CBT_SNAPSHOT_WRITABLE)))
		return -EINVAL;
	memset(m, 0, sizeof(m));
	for (i = 0; i < count; i++) {
		ret = cbt__to_dev(volumes[i], &m[i].dev);
		if (ret)
			return ret;
	}
	/* Kept open until the end: files we created go if the set fails. */
	sf = calloc(nstores, sizeof(*sf));
	if (!sf)
		return -ENOMEM;
	for (i = 0; i < nstores; i++)
		sf[i].fd = sf[i].dirfd = -1;
	ret = store_open(stores[0], &sf[0]);
	if (ret)
		goto out;
	memset(&c, 0, sizeof(c));
	c.members = (uintptr_t)m;
	c.count = count;
	c.flags = (flags & CBT_SNAPSHOT_NO_FREEZE ? CBT_SNAP_NO_FREEZE : 0) |
		  (flags & CBT_SNAPSHOT_WRITABLE ? CBT_SNAP_WRITABLE : 0);
	c.store_fd = sf[0].fd;	/* the kernel keeps its own reference */
	c.hold_ms = hold_ms;
	c.low_space = low_space;
	ret = cbt__ioctl(ctx, CBT_IOC_SNAP_CREATE, &c);
	if (ret)
		goto out;

	set = set_new(ctx);
	if (!set) {
		ret = -ENOMEM;
		goto destroy;
	}
	set->id = c.id;
	set->hold_ns = c.hold_ns;
	ret = set_fill(set, m, count);
	for (i = 1; !ret && i < nstores; i++)
		ret = set_grow(set, stores[i], &sf[i]);
	if (ret)
		goto destroy;
	*out = set;
	set = NULL;
	goto out;
destroy:
	/* All or nothing: a set the caller cannot have is not left behind. */
	{
		struct cbt_snap_destroy d = { .id = c.id };

		cbt__ioctl(ctx, CBT_IOC_SNAP_DESTROY, &d);
	}
	cbt_snapset_free(set);
out:
	for (i = 0; i < nstores; i++) {
		if (ret)
			store_discard(&sf[i]);
		store_close(&sf[i]);
	}
	free(sf);
	return ret;
}

static int info_get(struct cbt_ctx *ctx, uint32_t id, struct cbt_snap_info *in,
		    struct cbt_snap_member *m)
{
	memset(in, 0, sizeof(*in));
	in->id = id;
	in->members = (uintptr_t)m;
	in->capacity = CBT_SNAP_MAX_MEMBERS;
	return cbt__ioctl(ctx, CBT_IOC_SNAP_INFO, in);
}

int cbt_snapset_open(struct cbt_ctx *ctx, uint32_t id, struct cbt_snapset **out)
{
	struct cbt_snap_member m[CBT_SNAP_MAX_MEMBERS];
	struct cbt_snap_info in;
	struct cbt_snapset *set;
	int ret;

	ret = info_get(ctx, id, &in, m);
	if (ret)
		return ret;
	set = set_new(ctx);
	if (!set)
		return -ENOMEM;
	set->id = id;
	set->hold_ns = in.hold_ns;
	ret = set_fill(set, m, in.count);
	if (ret) {
		cbt_snapset_free(set);
		return ret;
	}
	*out = set;
	return 0;
}

int cbt_snapshot_list(struct cbt_ctx *ctx, uint32_t **ids, size_t *count)
{
	struct cbt_snap_list l;
	uint32_t *out;
	int ret;

	out = calloc(SNAP_LIST_MAX, sizeof(*out));
	if (!out)
		return -ENOMEM;
	memset(&l, 0, sizeof(l));
	l.ids = (uintptr_t)out;
	l.capacity = SNAP_LIST_MAX;
	ret = cbt__ioctl(ctx, CBT_IOC_SNAP_LIST, &l);
	if (ret) {
		free(out);
		return ret;
	}
	*ids = out;
	*count = l.count < SNAP_LIST_MAX ? l.count : SNAP_LIST_MAX;
	return 0;
}

uint32_t cbt_snapset_id(const struct cbt_snapset *set)
{
	return set->id;
}

unsigned int cbt_snapset_count(const struct cbt_snapset *set)
{
	return set->count;
}

const char *cbt_snapset_volume(const struct cbt_snapset *set, unsigned int i)
{
	return i < set->count ? set->members[i].volume : NULL;
}

const char *cbt_snapset_stamp(const struct cbt_snapset *set, unsigned int i)
{
	return i < set->count ? set->members[i].stamp : NULL;
}

const char *cbt_snapset_image(const struct cbt_snapset *set, unsigned int i)
{
	return i < set->count ? set->members[i].image : NULL;
}

uint64_t cbt_snapset_hold_ns(const struct cbt_snapset *set)
{
	return set->hold_ns;
}

unsigned int cbt_snapset_frozen(const struct cbt_snapset *set, unsigned int i)
{
	return i < set->count ? set->members[i].frozen : 0;
}

static uint32_t state_bits(uint32_t k)
{
	return (k & CBT_SNAP_STATE_LOW_SPACE ? CBT_SNAPSET_LOW_SPACE : 0) |
	       (k & CBT_SNAP_STATE_OVERFLOW ? CBT_SNAPSET_OVERFLOW : 0) |
	       (k & CBT_SNAP_STATE_INVALID ? CBT_SNAPSET_INVALID : 0) |
	       (k & CBT_SNAP_STATE_DESTROYED ? CBT_SNAPSET_DESTROYED : 0) |
	       (k & CBT_SNAP_STATE_WRITABLE ? CBT_SNAPSET_WRITABLE : 0);
}

int cbt_snapset_state(struct cbt_snapset *set, struct cbt_snapset_state *st)
{
	struct cbt_snap_member m[CBT_SNAP_MAX_MEMBERS];
	struct cbt_snap_info in;
	int ret = info_get(set->ctx, set->id, &in, m);

	if (ret)
		return ret;
	memset(st, 0, sizeof(*st));
	st->state = state_bits(in.state);
	st->stores = in.stores;
	st->store_size = in.store_size;
	st->store_used = in.store_used;
	st->chunks_copied = in.chunks_copied;
	return 0;
}

int cbt_snapset_grow(struct cbt_snapset *set, const char *store)
{
	struct store_file sf;
	int ret;

	ret = set_grow(set, store, &sf);
	if (!ret)
		store_close(&sf);	/* the kernel keeps its own reference */
	return ret;
}

int cbt_snapset_destroy(struct cbt_snapset *set)
{
	struct cbt_snap_destroy d;

	memset(&d, 0, sizeof(d));
	d.id = set->id;
	return cbt__ioctl(set->ctx, CBT_IOC_SNAP_DESTROY, &d);
}

int cbt_snapset_event_fd(struct cbt_snapset *set)
{
	struct cbt_snap_events e;
	int fd;

	if (set->event_fd >= 0)
		return set->event_fd;
	memset(&e, 0, sizeof(e));
	e.id = set->id;
	fd = ioctl(set->ctx->fd, CBT_IOC_SNAP_EVENTS, &e);
	if (fd < 0)
		return -errno;
	set->event_fd = fd;
	return fd;
}

int cbt_snapset_next_event(struct cbt_snapset *set, int wait,
			   struct cbt_snapset_state *st)
{
	struct cbt_snap_event ev;
	struct pollfd p;
	ssize_t n;
	int fd = cbt_snapset_event_fd(set);

	if (fd < 0)
		return fd;
	p.fd = fd;
	p.events = POLLIN;
	if (poll(&p, 1, wait ? -1 : 0) < 0)
		return -errno;
	if (!(p.revents & POLLIN))
		return -EAGAIN;
	n = read(fd, &ev, sizeof(ev));
	if (n < 0)
		return -errno;
	if (n == 0)
		return 0;
	if ((size_t)n != sizeof(ev))
		return -EIO;
	memset(st, 0, sizeof(*st));
	st->state = state_bits(ev.state);
	st->store_size = ev.store_size;
	st->store_used = ev.store_used;
	st->error = ev.error;
	return 1;
}
