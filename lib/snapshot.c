// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * snapshot.c - the library side of snapshot sets (see include/libcbt.h):
 * their options, creating them with their stores, watching, growing and
 * destroying them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
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

#define T_SET		LIBCBT_DEBUG_SNAPSET
#define T_STORE		LIBCBT_DEBUG_STORE

/* ---- stores ----------------------------------------------------------------- */

/*
 * Stores receive the old blocks of the volumes: whatever was there, secrets
 * included. So a store must be private to root and be only itself: a block
 * device, or a regular file owned by root (its owner can always read it,
 * chmod it or link it) with no group or other permission bits, one link,
 * not on a pseudo filesystem (/proc/self/mem is a regular file owned by
 * root, mode 0600), and open nowhere else. A symlink as the last component
 * is refused (O_NOFOLLOW) unless root owns it and it leads to a block
 * device (LVM's /dev/VG/LV); so is a parent directory that others may
 * write without the sticky bit (they could swap the name after our
 * checks). Every check is on the opened descriptor (fstat, fstatfs, a
 * lease), never on a second look-up of the path. Refusals are -EACCES; a
 * file open elsewhere is -EBUSY.
 *
 * A file that is readable by others is refused rather than made 0600: a
 * reader who opened it while it was 0644 keeps reading through a chmod
 * (and one who did so before it was refused is caught by the lease).
 *
 * Not checked: directories above the parent (a symlink or another user's
 * directory higher up the path is followed).
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
	if (st.st_uid != 0)	/* an owner can always read, chmod or link it */
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
 * A file that is private now may have been opened while it was not (made
 * with 0644, then chmod 600): such a reader keeps reading what the store
 * receives. A write lease is granted only to the one open file description
 * of an inode, so taking one (and dropping it at once) proves that nobody
 * else has the file open. Filesystems without leases cannot tell: allowed.
 */
static int store_check_unshared(int fd)
{
	if (fcntl(fd, F_SETLEASE, F_WRLCK) == 0)
		return fcntl(fd, F_SETLEASE, F_UNLCK) < 0 ? -errno : 0;
	return errno == EAGAIN || errno == EBUSY ? -EBUSY : 0;
}

/* Open root's symlink @name in @dirfd if it leads to a block device. */
static int open_block_link(int dirfd, const char *name, int flags)
{
	char proc[32];
	struct stat st;
	int pfd, fd;

	pfd = openat(dirfd, name, O_PATH | O_CLOEXEC);
	if (pfd < 0)
		return -errno;
	if (fstat(pfd, &st) < 0 || !S_ISBLK(st.st_mode)) {
		fd = -EACCES;
	} else {
		/* The very inode looked at, opened exclusively. */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
		fd = open(proc, (flags & ~O_NOFOLLOW) | O_EXCL);
		if (fd < 0)
			fd = -errno;
	}
	close(pfd);
	return fd;
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
		/* The name first: a file made here is never left behind. */
		sf->name = strdup(name);
		if (!sf->name) {
			ret = -ENOMEM;
			goto out;
		}
		sf->fd = openat(sf->dirfd, name, flags | O_CREAT | O_EXCL, 0600);
		if (sf->fd < 0 || fchmod(sf->fd, 0600) < 0) {
			ret = -errno;
			goto out;
		}
	} else if (S_ISBLK(st.st_mode)) {
		/* Exclusive: nothing may mount or use the device meanwhile. */
		sf->fd = openat(sf->dirfd, name, flags | O_EXCL);
	} else if (S_ISLNK(st.st_mode) && st.st_uid == 0) {
		/*
		 * Root's symlink (/dev/vg0/cow, /dev/disk/by-id/...) is
		 * followed, to a block device only: looked at before it is
		 * opened for real (opening a tty or a watchdog does things).
		 */
		ret = open_block_link(sf->dirfd, name, flags);
		if (ret < 0)
			goto out;
		sf->fd = ret;
		ret = 0;
	} else if (S_ISREG(st.st_mode)) {
		sf->fd = openat(sf->dirfd, name, flags);
		if (sf->fd >= 0) {
			ret = store_check_unshared(sf->fd);
			if (ret)
				goto out;
		}
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
	int ret = path ? store_file_open(path, size, &sf) : -EINVAL;

	if (!ret)
		store_close(&sf);
	return cbt__ret(T_STORE, ret, "cbt_store_prepare(\"%s\", %" PRIu64 ")",
			CBT__S(path), size);
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

/* ---- options --------------------------------------------------------------- */

struct cbt_snapset_opts {
	dev_t vols[LIBCBT_SNAPSET_MAX_VOLUMES];
	unsigned int nvols;
	char **stores;			/* specs, copied */
	unsigned int nstores;
	unsigned int flags;		/* LIBCBT_SNAPSET_* */
	unsigned int hold_ms;		/* 0: the module's default */
	unsigned int low_space;		/* 0: the module's default */
	/* Writers (CBT_0.3) */
	int wpolicy;			/* LIBCBT_WRITERS_* */
	int wtype;			/* LIBCBT_BACKUP_* they are told */
	unsigned int freeze_ms, phase_ms; /* 0: the module's defaults */
	struct wstamp *wstamps;		/* copies */
	unsigned int nwstamps;
};

/* A writer's base stamp, to hand back in PREPARE. */
struct wstamp {
	char name[CBT_WRITER_NAME_MAX];
	unsigned char *data;
	size_t len;
};

int cbt_snapset_opts_new(struct cbt_snapset_opts **opts)
{
	int ret = -EINVAL;

	if (opts) {
		*opts = calloc(1, sizeof(**opts));
		ret = *opts ? 0 : -ENOMEM;
	}
	return cbt__ret(T_SET, ret, "cbt_snapset_opts_new() [%p]",
			ret ? NULL : (void *)*opts);
}

void cbt_snapset_opts_free(struct cbt_snapset_opts *opts)
{
	unsigned int i;

	cbt__trace(T_SET, "cbt_snapset_opts_free(%p)", (void *)opts);
	if (!opts)
		return;
	for (i = 0; i < opts->nstores; i++)
		free(opts->stores[i]);
	free(opts->stores);
	for (i = 0; i < opts->nwstamps; i++)
		free(opts->wstamps[i].data);
	free(opts->wstamps);
	free(opts);
}

int cbt_snapset_opts_add_volume(struct cbt_snapset_opts *opts,
				const struct cbt_volume *vol)
{
	dev_t d = cbt_volume_get_devno(vol);
	unsigned int i;
	int ret = 0;

	if (!opts || !vol)
		ret = -EINVAL;
	for (i = 0; !ret && i < opts->nvols; i++)
		if (opts->vols[i] == d)
			ret = -EEXIST;
	if (!ret && opts->nvols == LIBCBT_SNAPSET_MAX_VOLUMES)
		ret = -E2BIG;
	if (!ret)
		opts->vols[opts->nvols++] = d;
	return cbt__ret(T_SET, ret, "cbt_snapset_opts_add_volume(%p, %u:%u)",
			(void *)opts, major(d), minor(d));
}

int cbt_snapset_opts_add_store(struct cbt_snapset_opts *opts, const char *spec)
{
	char **p, *copy = NULL;
	int ret = 0;

	uint64_t size;
	char *path;

	if (!opts || !spec || !*spec || *spec == ':')
		ret = -EINVAL;
	if (!ret) {
		/* A spec that could never be opened is refused now. */
		ret = store_spec_parse(spec, &path, &size);
		if (!ret)
			free(path);
	}
	if (!ret) {
		copy = strdup(spec);
		p = copy ? realloc(opts->stores, (opts->nstores + 1) * sizeof(*p)) : NULL;
		if (!p) {
			free(copy);
			ret = -ENOMEM;
		} else {
			opts->stores = p;
			opts->stores[opts->nstores++] = copy;
		}
	}
	return cbt__ret(T_SET, ret, "cbt_snapset_opts_add_store(%p, \"%s\")",
			(void *)opts, CBT__S(spec));
}

int cbt_snapset_opts_set_flags(struct cbt_snapset_opts *opts, unsigned int flags)
{
	int ret = 0;

	if (!opts || (flags & ~(LIBCBT_SNAPSET_NO_FREEZE | LIBCBT_SNAPSET_WRITABLE)))
		ret = -EINVAL;
	else
		opts->flags = flags;
	return cbt__ret(T_SET, ret, "cbt_snapset_opts_set_flags(%p, %#x)", (void *)opts, flags);
}

int cbt_snapset_opts_set_hold_ms(struct cbt_snapset_opts *opts, unsigned int ms)
{
	int ret = 0;

	if (!opts)
		ret = -EINVAL;
	else if (ms > LIBCBT_SNAPSET_HOLD_MAX_MS)
		ret = -ERANGE;
	else
		opts->hold_ms = ms;
	return cbt__ret(T_SET, ret, "cbt_snapset_opts_set_hold_ms(%p, %u)", (void *)opts, ms);
}

int cbt_snapset_opts_set_low_space(struct cbt_snapset_opts *opts,
				   unsigned int percent)
{
	int ret = 0;

	if (!opts)
		ret = -EINVAL;
	else if (percent > LIBCBT_SNAPSET_LOW_SPACE_MAX)
		ret = -ERANGE;
	else
		opts->low_space = percent;
	return cbt__ret(T_SET, ret, "cbt_snapset_opts_set_low_space(%p, %u)",
			(void *)opts, percent);
}

int cbt_snapset_opts_set_writers(struct cbt_snapset_opts *opts, int policy)
{
	int ret = 0;

	if (!opts || policy < LIBCBT_WRITERS_BEST_EFFORT || policy > LIBCBT_WRITERS_NONE)
		ret = -EINVAL;
	else
		opts->wpolicy = policy;
	return cbt__ret(T_SET, ret, "cbt_snapset_opts_set_writers(%p, %d)", (void *)opts, policy);
}

int cbt_snapset_opts_set_backup_type(struct cbt_snapset_opts *opts, int type)
{
	int ret = 0;

	if (!opts || type < LIBCBT_BACKUP_NONE || type > LIBCBT_BACKUP_COPY)
		ret = -EINVAL;
	else
		opts->wtype = type;
	return cbt__ret(T_SET, ret, "cbt_snapset_opts_set_backup_type(%p, %d)", (void *)opts, type);
}

int cbt_snapset_opts_set_writer_timeouts(struct cbt_snapset_opts *opts,
					 unsigned int freeze_ms, unsigned int phase_ms)
{
	int ret = 0;

	if (!opts)
		ret = -EINVAL;
	else if (freeze_ms > CBT_WRITER_TIMEOUT_MAX_MS || phase_ms > CBT_WRITER_TIMEOUT_MAX_MS)
		ret = -ERANGE;
	else {
		opts->freeze_ms = freeze_ms;
		opts->phase_ms = phase_ms;
	}
	return cbt__ret(T_SET, ret, "cbt_snapset_opts_set_writer_timeouts(%p, %u, %u)",
			(void *)opts, freeze_ms, phase_ms);
}

int cbt_snapset_opts_add_writer_stamp(struct cbt_snapset_opts *opts, const char *name,
				      const void *data, size_t len)
{
	struct wstamp *p;
	unsigned int i;
	int ret = opts && data && len ? cbt__writer_name_check(name) : -EINVAL;

	if (!ret && len > LIBCBT_WRITER_STAMP_MAX)
		ret = -E2BIG;
	for (i = 0; !ret && i < opts->nwstamps; i++)
		if (!strcmp(opts->wstamps[i].name, name))
			ret = -EEXIST;
	if (!ret && opts->nwstamps == CBT_WRITER_MAX)
		ret = -E2BIG;
	if (!ret) {
		p = realloc(opts->wstamps, (opts->nwstamps + 1) * sizeof(*p));
		if (!p) {
			ret = -ENOMEM;
		} else {
			opts->wstamps = p;
			p += opts->nwstamps;
			memset(p, 0, sizeof(*p));
			strcpy(p->name, name);
			p->data = malloc(len);
			if (!p->data) {
				ret = -ENOMEM;
			} else {
				memcpy(p->data, data, len);
				p->len = len;
				opts->nwstamps++;
			}
		}
	}
	return cbt__ret(T_SET, ret, "cbt_snapset_opts_add_writer_stamp(%p, \"%s\", %zu)",
			(void *)opts, CBT__S(name), len);
}

/* ---- sets ---------------------------------------------------------------------- */

struct snap_member {
	dev_t dev, image_dev;
	char *path;			/* the volume's /dev path */
	char *image;			/* the image's /dev path */
	char *stamp;
	uint32_t chunk_size;
	unsigned int frozen;
};

struct cbt_snapset {
	struct cbt_ctx *ctx;		/* a reference */
	uint32_t id;
	unsigned int count;		/* members filled */
	struct snap_member *members;
	/* As last read by open, create, refresh or an event. */
	uint32_t state;			/* LIBCBT_STATE_* */
	unsigned int stores;
	uint64_t store_size, store_used, chunks_copied;
	uint64_t created_ns, hold_ns;
	unsigned int low_space;
	int error;			/* from the last event */
	uint64_t seq;			/* of the last event */
	int event_fd;
	struct wres *wres;		/* the writers' part, as last read */
	unsigned int nwres;
};

/* One writer's result with room for its stamp and extents. */
struct wres {
	struct cbt_writer_result r;
	unsigned char stamp[CBT_WRITER_STAMP_MAX];
	struct cbt_writer_extent ext[CBT_WRITER_MAX_EXTENTS];
};

/* Room for @n results, their pointers set (NULL: out of memory). */
static struct wres *wres_alloc(unsigned int n, struct cbt_writer_result **flat)
{
	struct wres *w = calloc(n ? n : 1, sizeof(*w));
	unsigned int i;

	*flat = w ? calloc(n ? n : 1, sizeof(**flat)) : NULL;
	if (!*flat) {
		free(w);
		return NULL;
	}
	for (i = 0; i < n; i++) {
		(*flat)[i].stamp = (uintptr_t)w[i].stamp;
		(*flat)[i].extents = (uintptr_t)w[i].ext;
	}
	return w;
}

/* Keep @count results read into @flat (with @w's buffers) in @set. */
static void wres_take(struct cbt_snapset *set, struct wres *w,
		      struct cbt_writer_result *flat, unsigned int count)
{
	unsigned int i;

	for (i = 0; i < count; i++) {
		w[i].r = flat[i];
		w[i].r.name[CBT_WRITER_NAME_MAX - 1] = '\0';
		w[i].r.message[CBT_WRITER_MSG_MAX - 1] = '\0';
		if (w[i].r.stamp_len > CBT_WRITER_STAMP_MAX)
			w[i].r.stamp_len = CBT_WRITER_STAMP_MAX;
		if (w[i].r.nr_extents > CBT_WRITER_MAX_EXTENTS)
			w[i].r.nr_extents = CBT_WRITER_MAX_EXTENTS;
	}
	free(set->wres);
	set->wres = w;
	set->nwres = count;
	free(flat);
}

static void member_free(struct snap_member *m)
{
	free(m->path);
	free(m->image);
	free(m->stamp);
	m->path = m->image = m->stamp = NULL;
}

static void set_free(struct cbt_snapset *set)
{
	unsigned int i;

	if (!set)
		return;
	for (i = 0; i < set->count; i++)
		member_free(&set->members[i]);
	free(set->members);
	free(set->wres);
	if (set->event_fd >= 0)
		close(set->event_fd);
	cbt_ctx_unref(set->ctx);
	free(set);
}

void cbt_snapset_free(struct cbt_snapset *set)
{
	cbt__trace(T_SET, "cbt_snapset_free(%p)", (void *)set);
	set_free(set);
}

static struct cbt_snapset *set_new(struct cbt_ctx *ctx, uint32_t id)
{
	struct cbt_snapset *set = calloc(1, sizeof(*set));

	if (set) {
		set->ctx = cbt_ctx_ref(ctx);
		set->id = id;
		set->event_fd = -1;
	}
	return set;
}

/* Fill the handle's members from the kernel's answer (once: they never change). */
static int set_fill(struct cbt_snapset *set, const struct cbt_snap_member *m,
		    unsigned int count)
{
	unsigned int i;

	if (set->members)
		return 0;
	set->members = calloc(count ? count : 1, sizeof(*set->members));
	if (!set->members)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		struct snap_member *sm = &set->members[i];

		set->count = i + 1;
		sm->dev = makedev(m[i].dev.major, m[i].dev.minor);
		sm->image_dev = makedev(m[i].image.major, m[i].image.minor);
		sm->chunk_size = m[i].chunk_size;
		sm->frozen = m[i].frozen;
		sm->path = cbt__devno_path(sm->dev);
		sm->stamp = cbt__stamp_format(&m[i].stamp);
		/* The module names image disks cbt-snap<set>-<member>. */
		if (asprintf(&sm->image, "/dev/cbt-snap%u-%u", set->id, i) < 0)
			sm->image = NULL;
		if (!sm->path || !sm->stamp || !sm->image)
			return -ENOMEM;
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

static uint32_t state_bits(uint32_t k)
{
	return (k & CBT_SNAP_STATE_LOW_SPACE ? LIBCBT_STATE_LOW_SPACE : 0) |
	       (k & CBT_SNAP_STATE_OVERFLOW ? LIBCBT_STATE_OVERFLOW : 0) |
	       (k & CBT_SNAP_STATE_INVALID ? LIBCBT_STATE_INVALID : 0) |
	       (k & CBT_SNAP_STATE_DESTROYED ? LIBCBT_STATE_DESTROYED : 0) |
	       (k & CBT_SNAP_STATE_WRITABLE ? LIBCBT_STATE_WRITABLE : 0);
}

/*
 * Read the set's info and all its members, however many: ask with room for
 * what we think, and again with room for what the kernel says it has.
 */
static int set_read(struct cbt_snapset *set)
{
	struct cbt_snap_member *m = NULL;
	struct cbt_snap_info in;
	uint32_t cap = set->count ? set->count : CBT_SNAP_MAX_MEMBERS;
	int ret;

	for (;;) {
		free(m);
		m = calloc(cap, sizeof(*m));
		if (!m)
			return -ENOMEM;
		memset(&in, 0, sizeof(in));
		in.id = set->id;
		in.members = (uintptr_t)m;
		in.capacity = cap;
		ret = cbt__ioctl(set->ctx, CBT_IOC_SNAP_INFO, &in);
		if (ret || in.count <= cap)
			break;
		cap = in.count;
	}
	if (!ret) {
		set->state = state_bits(in.state);
		set->stores = in.stores;
		set->store_size = in.store_size;
		set->store_used = in.store_used;
		set->chunks_copied = in.chunks_copied;
		set->created_ns = in.created_ns;
		set->hold_ns = in.hold_ns;
		set->low_space = in.low_space;
		ret = set_fill(set, m, in.count);
	}
	free(m);
	return ret;
}

/* Does the loaded module take writers' options (CBT_FEAT_WRITERS)? */
static int module_has_writers(struct cbt_ctx *ctx)
{
	struct cbt_version v;

	memset(&v, 0, sizeof(v));
	return !cbt__ioctl(ctx, CBT_IOC_VERSION, &v) && (v.features & CBT_FEAT_WRITERS);
}

static int dev_tracked(struct cbt_ctx *ctx, struct cbt_dev d)
{
	struct cbt_status st;

	memset(&st, 0, sizeof(st));
	st.dev = d;
	return !cbt__ioctl(ctx, CBT_IOC_STATUS, &st);
}

/* One line naming the writers that failed, for cbt_ctx_get_error(). */
static void writers_failed_error(const struct wres *w, unsigned int n)
{
	char buf[480];
	size_t len = 0;
	unsigned int i;

	buf[0] = '\0';
	for (i = 0; i < n && len < sizeof(buf) - 1; i++) {
		const struct cbt_writer_result *r = &w[i].r;
		int k;

		if (!r->error || r->error == -EOPNOTSUPP)
			continue;
		k = snprintf(buf + len, sizeof(buf) - len, "%swriter %s failed in %s: %s",
			     len ? "; " : "", r->name, CBT__S(cbt__phase_name((int)r->failed_phase)),
			     r->message[0] ? r->message : cbt__errtext(r->error));
		if (k < 0)
			break;
		len += (size_t)k;
		if (len >= sizeof(buf))
			len = sizeof(buf) - 1;
	}
	if (len)
		cbt__set_error("%s: the set was not taken (writers required)", buf);
	else
		cbt__set_error("the set was refused: a writer failed (writers required)");
}

/*
 * Take the set. With writers, a component's missing volume (EXDEV and
 * c.missing) is added when it is tracked and the create tried again;
 * @failed (if not NULL) gets a failed handle holding the writers' results
 * when the module refused the set and said what they did.
 */
static int snapset_create(struct cbt_ctx *ctx, const struct cbt_snapset_opts *o,
			  struct cbt_snapset **out, struct cbt_snapset **failed)
{
	struct cbt_snap_member m[LIBCBT_SNAPSET_MAX_VOLUMES];
	struct cbt_writer_stamp ws[CBT_WRITER_MAX];
	struct cbt_writer_result *flat = NULL;
	struct wres *wr = NULL;
	struct cbt_snap_writers sw;
	struct cbt_snap_create c;
	struct cbt_snapset *set = NULL;
	struct store_file *sf;
	unsigned int i, nvols, tries;
	int ret, writers;

	cbt__set_error("%s", "");
	if (failed)
		*failed = NULL;
	if (!ctx || !o || !out || !o->nvols || !o->nstores)
		return -EINVAL;
	memset(m, 0, sizeof(m));
	nvols = o->nvols;
	for (i = 0; i < o->nvols; i++) {
		m[i].dev.major = major(o->vols[i]);
		m[i].dev.minor = minor(o->vols[i]);
	}
	/*
	 * A module without writers refuses the writers' options: it gets none
	 * (it has no writer to tell anything anyway).
	 */
	writers = module_has_writers(ctx);
	memset(&sw, 0, sizeof(sw));
	if (writers) {
		wr = wres_alloc(CBT_WRITER_MAX, &flat);
		if (!wr)
			return -ENOMEM;
		memset(ws, 0, sizeof(ws));
		for (i = 0; i < o->nwstamps; i++) {
			strcpy(ws[i].name, o->wstamps[i].name);
			ws[i].data = (uintptr_t)o->wstamps[i].data;
			ws[i].len = (uint32_t)o->wstamps[i].len;
		}
		sw.policy = o->wpolicy == LIBCBT_WRITERS_REQUIRE ? CBT_WRITERS_REQUIRE :
			    o->wpolicy == LIBCBT_WRITERS_NONE ? CBT_WRITERS_NONE :
			    CBT_WRITERS_BEST_EFFORT;
		sw.backup_type = (uint32_t)o->wtype;
		sw.freeze_ms = o->freeze_ms;
		sw.phase_ms = o->phase_ms;
		sw.stamps = o->nwstamps ? (uintptr_t)ws : 0;
		sw.nr_stamps = o->nwstamps;
		sw.capacity = CBT_WRITER_MAX;
		sw.results = (uintptr_t)flat;
	}
	/* Kept open until the end: files we created go if the set fails. */
	sf = calloc(o->nstores, sizeof(*sf));
	if (!sf) {
		free(wr);
		free(flat);
		return -ENOMEM;
	}
	for (i = 0; i < o->nstores; i++)
		sf[i].fd = sf[i].dirfd = -1;
	ret = store_open(o->stores[0], &sf[0]);
	if (ret)
		goto out;
	for (tries = 0;; tries++) {
		memset(&c, 0, sizeof(c));
		c.members = (uintptr_t)m;
		c.count = nvols;
		c.flags = (o->flags & LIBCBT_SNAPSET_NO_FREEZE ? CBT_SNAP_NO_FREEZE : 0) |
			  (o->flags & LIBCBT_SNAPSET_WRITABLE ? CBT_SNAP_WRITABLE : 0);
		c.store_fd = sf[0].fd;	/* the kernel keeps its own reference */
		c.hold_ms = o->hold_ms;
		c.low_space = o->low_space;
		c.writers = writers ? (uintptr_t)&sw : 0;
		sw.count = 0;
		ret = cbt__ioctl(ctx, CBT_IOC_SNAP_CREATE, &c);
		if (ret != -EXDEV || !(c.missing.major || c.missing.minor))
			break;
		/* A writer's component spans a volume the set lacks. */
		{
			char *path = cbt__devno_path(makedev(c.missing.major, c.missing.minor));

			if (!dev_tracked(ctx, c.missing)) {
				cbt__set_error("%s: a writer's component lies on it too, and it is not tracked: attach it, or leave that writer's volumes out of the set",
					       CBT__S(path));
			} else if (nvols == LIBCBT_SNAPSET_MAX_VOLUMES || tries >= LIBCBT_SNAPSET_MAX_VOLUMES) {
				cbt__set_error("%s: a writer's component lies on it too, and the set has no room for it",
					       CBT__S(path));
			} else {
				cbt__trace(T_SET, "snapset: a writer's component pulls %s into the set",
					   CBT__S(path));
				free(path);
				m[nvols].dev = c.missing;
				nvols++;
				continue;
			}
			free(path);
			break;
		}
	}
	if (ret) {
		if (writers && sw.count) {
			unsigned int n = sw.count < CBT_WRITER_MAX ? sw.count : CBT_WRITER_MAX;
			struct cbt_snapset *f = set_new(ctx, 0);

			if (f) {
				f->state = LIBCBT_STATE_DESTROYED;
				wres_take(f, wr, flat, n);
				wr = NULL;
				flat = NULL;
				if (ret == -EBUSY && o->wpolicy == LIBCBT_WRITERS_REQUIRE)
					writers_failed_error(f->wres, n);
				if (failed)
					*failed = f;
				else
					set_free(f);
			}
		}
		if (!*cbt_ctx_get_error(ctx))
			cbt__set_error("snapshot set: %s", cbt__errtext(ret));
		goto out;
	}

	set = set_new(ctx, c.id);
	if (!set) {
		ret = -ENOMEM;
		goto destroy;
	}
	ret = set_fill(set, m, nvols);
	for (i = 1; !ret && i < o->nstores; i++)
		ret = set_grow(set, o->stores[i], &sf[i]);
	if (!ret)
		ret = set_read(set);
	if (ret)
		goto destroy;
	set->hold_ns = c.hold_ns;
	if (writers) {
		wres_take(set, wr, flat, sw.count < CBT_WRITER_MAX ? sw.count : CBT_WRITER_MAX);
		wr = NULL;
		flat = NULL;
	}
	*out = set;
	set = NULL;
	goto out;
destroy:
	/* All or nothing: a set the caller cannot have is not left behind. */
	{
		struct cbt_snap_destroy d = { .id = c.id };

		cbt__ioctl(ctx, CBT_IOC_SNAP_DESTROY, &d);
	}
	set_free(set);
out:
	for (i = 0; i < o->nstores; i++) {
		if (ret)
			store_discard(&sf[i]);
		store_close(&sf[i]);
	}
	free(sf);
	free(wr);
	free(flat);
	return ret;
}

int cbt_snapset_create(struct cbt_ctx *ctx, const struct cbt_snapset_opts *opts,
		       struct cbt_snapset **set)
{
	int ret = snapset_create(ctx, opts, set, NULL);

	return cbt__ret(T_SET, ret, "cbt_snapset_create(%p, %p) [%p id %u]",
			(void *)ctx, (const void *)opts, ret ? NULL : (void *)*set,
			ret ? 0 : (*set)->id);
}

int cbt_snapset_attempt(struct cbt_ctx *ctx, const struct cbt_snapset_opts *opts,
			struct cbt_snapset **set)
{
	struct cbt_snapset *failed = NULL;
	int ret = set ? snapset_create(ctx, opts, set, &failed) : -EINVAL;

	if (ret && set)
		*set = failed;
	return cbt__ret(T_SET, ret, "cbt_snapset_attempt(%p, %p) [%p]", (void *)ctx,
			(const void *)opts, set ? (void *)*set : NULL);
}

static int refresh_writers(struct cbt_snapset *set)
{
	struct cbt_writer_results q;
	struct cbt_writer_result *flat;
	struct wres *w;
	unsigned int cap = set->nwres ? set->nwres : 4;
	int ret;

	if (!set->id)
		return 0;	/* a failed set: what create said is all there is */
	for (;;) {
		w = wres_alloc(cap, &flat);
		if (!w)
			return -ENOMEM;
		memset(&q, 0, sizeof(q));
		q.id = set->id;
		q.capacity = cap;
		q.results = (uintptr_t)flat;
		ret = cbt__ioctl(set->ctx, CBT_IOC_WRITER_RESULTS, &q);
		if (ret || q.count <= cap)
			break;
		free(w);
		free(flat);
		cap = q.count;
	}
	if (ret) {
		free(w);
		free(flat);
		return ret;
	}
	wres_take(set, w, flat, q.count);
	return 0;
}

int cbt_snapset_refresh_writers(struct cbt_snapset *set)
{
	int ret = set ? refresh_writers(set) : -EINVAL;

	return cbt__ret(T_SET, ret, "cbt_snapset_refresh_writers(%p) [%u]", (void *)set,
			set ? set->nwres : 0);
}

int cbt_snapset_end(struct cbt_snapset *set, int success, int type)
{
	struct cbt_snap_end e;
	int ret = -EINVAL;

	if (set && set->id && type >= -1 && type <= LIBCBT_BACKUP_COPY) {
		memset(&e, 0, sizeof(e));
		e.id = set->id;
		e.flags = success ? CBT_SNAP_END_SUCCESS : 0;
		e.backup_type = type < 0 ? 0 : (uint32_t)type;
		ret = cbt__ioctl(set->ctx, CBT_IOC_SNAP_END, &e);
		if (!ret)
			refresh_writers(set);
	}
	return cbt__ret(T_SET, ret, "cbt_snapset_end(%p, %d, %d)", (void *)set, success, type);
}

static const struct cbt_writer_result *wresult(const struct cbt_snapset *set, unsigned int i)
{
	return set && i < set->nwres ? &set->wres[i].r : NULL;
}

unsigned int cbt_snapset_get_writer_count(const struct cbt_snapset *set)
{
	return set ? set->nwres : 0;
}

const char *cbt_snapset_get_writer_name(const struct cbt_snapset *set, unsigned int i)
{
	const struct cbt_writer_result *r = wresult(set, i);

	return r ? r->name : NULL;
}

int cbt_snapset_get_writer_phase(const struct cbt_snapset *set, unsigned int i)
{
	const struct cbt_writer_result *r = wresult(set, i);

	return r ? (int)r->phase : 0;
}

int cbt_snapset_get_writer_failed_phase(const struct cbt_snapset *set, unsigned int i)
{
	const struct cbt_writer_result *r = wresult(set, i);

	return r ? (int)r->failed_phase : 0;
}

int cbt_snapset_get_writer_error(const struct cbt_snapset *set, unsigned int i)
{
	const struct cbt_writer_result *r = wresult(set, i);

	return r ? r->error : 0;
}

const char *cbt_snapset_get_writer_message(const struct cbt_snapset *set, unsigned int i)
{
	const struct cbt_writer_result *r = wresult(set, i);

	return r ? r->message : NULL;
}

const void *cbt_snapset_get_writer_stamp(const struct cbt_snapset *set, unsigned int i,
					 size_t *len)
{
	const struct cbt_writer_result *r = wresult(set, i);
	size_t l = r ? r->stamp_len : 0;

	if (len)
		*len = l;
	return l ? set->wres[i].stamp : NULL;
}

int cbt_snapset_get_writer_completed(const struct cbt_snapset *set, unsigned int i)
{
	const struct cbt_writer_result *r = wresult(set, i);

	return r ? !!r->completed : 0;
}

unsigned int cbt_snapset_get_writer_extents(const struct cbt_snapset *set, unsigned int i)
{
	const struct cbt_writer_result *r = wresult(set, i);

	return r ? r->nr_extents : 0;
}

int cbt_snapset_get_writer_extent(const struct cbt_snapset *set, unsigned int i,
				  unsigned int j, dev_t *dev, uint64_t *offset,
				  uint64_t *length)
{
	const struct cbt_writer_result *r = wresult(set, i);
	const struct cbt_writer_extent *e;

	if (!r || j >= r->nr_extents)
		return -EINVAL;
	e = &set->wres[i].ext[j];
	if (dev)
		*dev = makedev(e->dev.major, e->dev.minor);
	if (offset)
		*offset = e->offset;
	if (length)
		*length = e->length;
	return 0;
}

int cbt_snapset_open(struct cbt_ctx *ctx, uint32_t id, struct cbt_snapset **out)
{
	struct cbt_snapset *set = NULL;
	int ret = -EINVAL;

	if (ctx && out) {
		set = set_new(ctx, id);
		ret = set ? set_read(set) : -ENOMEM;
		if (ret) {
			set_free(set);
			set = NULL;
		} else {
			*out = set;
		}
	}
	return cbt__ret(T_SET, ret, "cbt_snapset_open(%p, %u) [%p]", (void *)ctx, id,
			(void *)set);
}

int cbt_snapset_refresh(struct cbt_snapset *set)
{
	int ret = set ? set_read(set) : -EINVAL;

	return cbt__ret(T_SET, ret, "cbt_snapset_refresh(%p)", (void *)set);
}

int cbt_ctx_get_snapsets(struct cbt_ctx *ctx, uint32_t **ids, size_t *count)
{
	struct cbt_snap_list l;
	uint32_t *buf = NULL;
	size_t cap = 64;
	int ret = 0;

	if (!ctx || !ids || !count)
		ret = -EINVAL;
	/* Ask; if more sets live than there was room for, grow and ask again. */
	while (!ret) {
		free(buf);
		buf = calloc(cap, sizeof(*buf));
		if (!buf) {
			ret = -ENOMEM;
			break;
		}
		memset(&l, 0, sizeof(l));
		l.ids = (uintptr_t)buf;
		l.capacity = (uint32_t)cap;
		ret = cbt__ioctl(ctx, CBT_IOC_SNAP_LIST, &l);
		if (ret || l.count <= cap)
			break;
		cap = (size_t)l.count + l.count / 8 + 16;
		if (cap > UINT32_MAX)
			cap = UINT32_MAX;
	}
	if (ret) {
		free(buf);
		return cbt__ret(LIBCBT_DEBUG_CTX, ret, "cbt_ctx_get_snapsets(%p)", (void *)ctx);
	}
	*ids = buf;
	*count = l.count;
	return cbt__ret(LIBCBT_DEBUG_CTX, 0, "cbt_ctx_get_snapsets(%p) [%zu sets]",
			(void *)ctx, *count);
}

#define SET_GET(type, fmt, name, expr)						\
type cbt_snapset_get_##name(const struct cbt_snapset *set)			\
{										\
	type v = set ? (type)(expr) : 0;					\
										\
	cbt__trace(T_SET, "cbt_snapset_get_" #name "(%p) = %" fmt,		\
		   (const void *)set, v);					\
	return v;								\
}

SET_GET(uint32_t, PRIu32, id, set->id)
SET_GET(uint64_t, PRIu64, created_ns, set->created_ns)
SET_GET(uint64_t, PRIu64, hold_ns, set->hold_ns)
SET_GET(unsigned int, "u", low_space, set->low_space)
SET_GET(uint32_t, "#" PRIx32, state, set->state)
SET_GET(unsigned int, "u", store_count, set->stores)
SET_GET(uint64_t, PRIu64, store_size, set->store_size)
SET_GET(uint64_t, PRIu64, store_used, set->store_used)
SET_GET(uint64_t, PRIu64, chunks_copied, set->chunks_copied)
SET_GET(int, "d", error, set->error)
SET_GET(uint64_t, PRIu64, event_seq, set->seq)
SET_GET(unsigned int, "u", member_count, set->count)

static const struct snap_member *member(const struct cbt_snapset *set, unsigned int i)
{
	return set && i < set->count ? &set->members[i] : NULL;
}

#define MEMBER_GET(type, fmt, name, expr)					\
type cbt_snapset_get_member_##name(const struct cbt_snapset *set, unsigned int i) \
{										\
	const struct snap_member *m = member(set, i);				\
	type v = m ? (expr) : 0;						\
										\
	cbt__trace(T_SET, "cbt_snapset_get_member_" #name "(%p, %u) = %" fmt,	\
		   (const void *)set, i, v);					\
	return v;								\
}

MEMBER_GET(uint32_t, PRIu32, chunk_size, m->chunk_size)
MEMBER_GET(unsigned int, "u", frozen, m->frozen)

#define MEMBER_STR(name, field)							\
const char *cbt_snapset_get_member_##name(const struct cbt_snapset *set, unsigned int i) \
{										\
	const struct snap_member *m = member(set, i);				\
	const char *v = m ? m->field : NULL;					\
										\
	cbt__trace(T_SET, "cbt_snapset_get_member_" #name "(%p, %u) = %s",	\
		   (const void *)set, i, CBT__S(v));				\
	return v;								\
}

MEMBER_STR(path, path)
MEMBER_STR(stamp, stamp)
MEMBER_STR(image, image)

dev_t cbt_snapset_get_member_devno(const struct cbt_snapset *set, unsigned int i)
{
	const struct snap_member *m = member(set, i);
	dev_t d = m ? m->dev : 0;

	cbt__trace(T_SET, "cbt_snapset_get_member_devno(%p, %u) = %u:%u",
		   (const void *)set, i, major(d), minor(d));
	return d;
}

dev_t cbt_snapset_get_member_image_devno(const struct cbt_snapset *set, unsigned int i)
{
	const struct snap_member *m = member(set, i);
	dev_t d = m ? m->image_dev : 0;

	cbt__trace(T_SET, "cbt_snapset_get_member_image_devno(%p, %u) = %u:%u",
		   (const void *)set, i, major(d), minor(d));
	return d;
}

int cbt_snapset_is_member_quiesced(const struct cbt_snapset *set, unsigned int i)
{
	const struct snap_member *m = member(set, i);
	int v = m && m->frozen > 0;

	cbt__trace(T_SET, "cbt_snapset_is_member_quiesced(%p, %u) = %d",
		   (const void *)set, i, v);
	return v;
}

int cbt_snapset_grow(struct cbt_snapset *set, const char *store)
{
	struct store_file sf;
	int ret = set && store ? set_grow(set, store, &sf) : -EINVAL;

	if (!ret)
		store_close(&sf);	/* the kernel keeps its own reference */
	return cbt__ret(T_SET, ret, "cbt_snapset_grow(%p, \"%s\")", (void *)set, CBT__S(store));
}

int cbt_snapset_destroy(struct cbt_snapset *set)
{
	struct cbt_snap_destroy d;
	int ret = -EINVAL;

	if (set) {
		memset(&d, 0, sizeof(d));
		d.id = set->id;
		ret = cbt__ioctl(set->ctx, CBT_IOC_SNAP_DESTROY, &d);
	}
	return cbt__ret(T_SET, ret, "cbt_snapset_destroy(%p)", (void *)set);
}

static int event_fd(struct cbt_snapset *set)
{
	struct cbt_snap_events e;
	int fd;

	if (!set)
		return -EINVAL;
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

int cbt_snapset_get_event_fd(struct cbt_snapset *set)
{
	return cbt__ret(T_SET, event_fd(set), "cbt_snapset_get_event_fd(%p)", (void *)set);
}

static int next_event(struct cbt_snapset *set, int wait)
{
	struct cbt_snap_event ev;
	struct pollfd p;
	ssize_t n;
	int fd = event_fd(set);

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
	set->state = state_bits(ev.state);
	set->store_size = ev.store_size;
	set->store_used = ev.store_used;
	set->error = ev.error;
	set->seq = ev.seq;
	return 1;
}

int cbt_snapset_next_event(struct cbt_snapset *set, int wait)
{
	int ret = next_event(set, wait);

	return cbt__ret(T_SET, ret, "cbt_snapset_next_event(%p, %d) [state %#x]",
			(void *)set, wait, set ? set->state : 0);
}

int cbt__snapset_opts_has_volume(const struct cbt_snapset_opts *o, dev_t dev)
{
	unsigned int i;

	for (i = 0; o && i < o->nvols; i++)
		if (o->vols[i] == dev)
			return 1;
	return 0;
}

int cbt__snapset_opts_dup(const struct cbt_snapset_opts *o,
			  struct cbt_snapset_opts **out)
{
	struct cbt_snapset_opts *c;
	unsigned int i;

	if (!o || !out)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	*c = *o;
	c->stores = NULL;
	c->nstores = 0;
	c->wstamps = NULL;
	c->nwstamps = 0;
	for (i = 0; i < o->nwstamps; i++)
		if (cbt_snapset_opts_add_writer_stamp(c, o->wstamps[i].name, o->wstamps[i].data,
						      o->wstamps[i].len)) {
			cbt_snapset_opts_free(c);
			return -ENOMEM;
		}
	if (o->nstores) {
		c->stores = calloc(o->nstores, sizeof(*c->stores));
		if (!c->stores) {
			free(c);
			return -ENOMEM;
		}
	}
	for (i = 0; i < o->nstores; i++) {
		c->stores[i] = strdup(o->stores[i]);
		if (!c->stores[i]) {
			cbt_snapset_opts_free(c);
			return -ENOMEM;
		}
		c->nstores++;
	}
	*out = c;
	return 0;
}
