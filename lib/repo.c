// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * repo.c - a backup repository's folder: creation and privacy, the locks,
 * writers' workspaces (and the clean-up of killed ones), atomic files,
 * the list of points, removal of a point, and gc.
 *
 * API (include/libcbt.h, CBT_0.2): cbt_repo_open/close/is_shared/
 * get_chunk_size/get_error/set_progress/get_points/remove_point/gc.
 *
 * Every path is opened one component at a time under a folder descriptor
 * with O_NOFOLLOW: a symlink planted inside the repository is never
 * followed (-ELOOP), whatever it points to.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "repo.h"

int cbt__repo_err(struct cbt_repo *r, int err, const char *fmt, ...)
{
	char buf[sizeof(r->err)];
	va_list ap;

	if (r) {
		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		memcpy(r->err, buf, sizeof(buf));
	}
	return err;
}

/* Errors of cbt_repo_open() go here, as there is no handle to hold them. */
static __thread char open_err[512];

const char *cbt_repo_get_error(struct cbt_repo *repo)
{
	return repo ? repo->err : open_err;
}

int cbt__flock(int fd, int op)
{
	while (flock(fd, op) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

int cbt__open_dir(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int cbt__progress(struct cbt_repo *r, uint64_t done, uint64_t total)
{
	if (r->progress && r->progress(r->progress_data, done, total))
		return cbt__repo_err(r, -ECANCELED, "cancelled");
	return 0;
}

void cbt_repo_set_progress(struct cbt_repo *repo, cbt_progress_fn fn, void *data)
{
	if (repo) {
		repo->progress = fn;
		repo->progress_data = data;
	}
}

uint32_t cbt_repo_get_chunk_size(struct cbt_repo *repo)
{
	return repo ? repo->chunk_size : 0;
}

int cbt_repo_is_shared(struct cbt_repo *repo)
{
	return repo ? repo->shared : 0;
}

/* ---- files ------------------------------------------------------------------- */

int cbt__rmtree(int dirfd, const char *name)
{
	struct dirent *de;
	DIR *d;
	int fd, ret = 0;

	if (!unlinkat(dirfd, name, 0) || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = cbt__open_dir(dirfd, name);
	if (fd < 0)
		return fd == -ENOENT ? 0 : fd;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (cbt__rmtree(fd, de->d_name))
			ret = -EIO;
	}
	closedir(d);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) && errno != ENOENT)
		ret = -errno;
	return ret;
}

void cbt__repo_tmpname(struct cbt_repo *r, char name[32], const char *what)
{
	snprintf(name, 32, "%s.%u", what, ++r->tmp_seq);
}

int cbt__repo_write_file(struct cbt_repo *r, int dirfd, const char *name, const void *buf,
			 size_t len)
{
	char tmp[32];
	int fd, ret;

	ret = cbt__repo_workspace(r);
	if (ret)
		return ret;
	cbt__repo_tmpname(r, tmp, "file");
	fd = openat(r->ws_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return cbt__repo_err(r, -errno, "tmp/%s/%s: %s", r->token, tmp, strerror(errno));
	ret = cbt__write_all(fd, buf, len);
	if (ret)
		goto fail;
	if (fsync(fd)) {
		ret = -errno;
		goto fail;
	}
	close(fd);
	if (renameat(r->ws_fd, tmp, dirfd, name)) {
		ret = -errno;
		unlinkat(r->ws_fd, tmp, 0);
		return cbt__repo_err(r, ret, "%s: %s", name, strerror(-ret));
	}
	if (fsync(dirfd))
		return cbt__repo_err(r, -errno, "%s: sync of its folder: %s", name, strerror(errno));
	return 0;
fail:
	close(fd);
	unlinkat(r->ws_fd, tmp, 0);
	return cbt__repo_err(r, ret, "%s: %s", name, strerror(-ret));
}

int cbt__repo_read_file(struct cbt_repo *r, int dirfd, const char *name, size_t max, char **buf,
			size_t *len)
{
	struct stat st;
	size_t got = 0;
	char *b;
	int fd, ret;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		if (ret == -ELOOP)
			return cbt__repo_err(r, ret, "%s: a symbolic link inside the repository (refused)",
					     name);
		return cbt__repo_err(r, ret, "%s: %s", name, strerror(-ret));
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return cbt__repo_err(r, -EBADMSG, "%s: not a regular file", name);
	}
	if ((uint64_t)st.st_size > max) {
		close(fd);
		return cbt__repo_err(r, -EBADMSG, "%s: too big (%jd bytes)", name,
				     (intmax_t)st.st_size);
	}
	b = malloc((size_t)st.st_size + 1);
	if (!b) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -EBADMSG;
			free(b);
			close(fd);
			return cbt__repo_err(r, ret, "%s: short read", name);
		}
		got += (size_t)n;
	}
	close(fd);
	b[got] = '\0';
	*buf = b;
	*len = got;
	return 0;
}

/* ---- workspaces -------------------------------------------------------------- */

/*
 * A writer's lock file is flocked right after it is created, and the name
 * checked to still be that file: a cleaner that took the lock in between
 * (and removed the file, taking it for a dead writer's) makes us retry.
 * Its folder is made only after that, so a folder whose lock file is
 * missing or unlocked belongs to no one alive.
 */
int cbt__repo_workspace(struct cbt_repo *r)
{
	struct stat a, b;
	char name[64];
	uint64_t rnd;
	int tries, fd, ret;

	if (r->ws_fd >= 0)
		return 0;
	for (tries = 0; tries < 8; tries++) {
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
			rnd = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
		snprintf(r->token, sizeof(r->token), "%d-%016" PRIx64, (int)getpid(), rnd);
		snprintf(name, sizeof(name), "%s.lock", r->token);
		fd = openat(r->tmp_fd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    0600);
		if (fd < 0)
			return cbt__repo_err(r, -errno, "tmp/%s: %s", name, strerror(errno));
		ret = cbt__flock(fd, LOCK_EX);
		if (ret) {
			close(fd);
			return cbt__repo_err(r, ret, "tmp/%s: lock: %s", name, strerror(-ret));
		}
		if (fstat(fd, &a) || fstatat(r->tmp_fd, name, &b, AT_SYMLINK_NOFOLLOW) ||
		    a.st_ino != b.st_ino) {
			close(fd);
			continue;
		}
		if (mkdirat(r->tmp_fd, r->token, 0700)) {
			ret = -errno;
			unlinkat(r->tmp_fd, name, 0);
			close(fd);
			return cbt__repo_err(r, ret, "tmp/%s: %s", r->token, strerror(-ret));
		}
		r->ws_fd = cbt__open_dir(r->tmp_fd, r->token);
		if (r->ws_fd < 0) {
			ret = r->ws_fd;
			unlinkat(r->tmp_fd, r->token, AT_REMOVEDIR);
			unlinkat(r->tmp_fd, name, 0);
			close(fd);
			return cbt__repo_err(r, ret, "tmp/%s: %s", r->token, strerror(-ret));
		}
		r->ws_lock_fd = fd;
		r->ws_start = a.st_mtim;
		return 0;
	}
	return cbt__repo_err(r, -EAGAIN, "tmp: could not make a workspace");
}

static void workspace_drop(struct cbt_repo *r)
{
	char name[64];

	if (r->ws_fd < 0)
		return;
	close(r->ws_fd);
	r->ws_fd = -1;
	cbt__rmtree(r->tmp_fd, r->token);
	snprintf(name, sizeof(name), "%s.lock", r->token);
	unlinkat(r->tmp_fd, name, 0);
	close(r->ws_lock_fd);
	r->ws_lock_fd = -1;
}

/*
 * Walk tmp/: remove what killed writers left (a lock file nobody holds and
 * its folder; a folder without a lock file). With @oldest, the earliest
 * start among live writers (ours included) is kept there.
 */
static int workspaces_scan(struct cbt_repo *r, struct timespec *oldest)
{
	struct dirent *de;
	struct stat st;
	char name[300];
	DIR *d;
	int fd, dup_fd;

	dup_fd = fcntl(r->tmp_fd, F_DUPFD_CLOEXEC, 0);
	if (dup_fd < 0)
		return -errno;
	d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.')
			continue;
		if (len > 5 && !strcmp(de->d_name + len - 5, ".lock")) {
			if (r->ws_fd >= 0 && !strncmp(de->d_name, r->token, len - 5) &&
			    strlen(r->token) == len - 5)
				continue;
			fd = openat(r->tmp_fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				continue;
			if (flock(fd, LOCK_EX | LOCK_NB)) {
				/* alive */
				if (oldest && !fstat(fd, &st) &&
				    (st.st_mtim.tv_sec < oldest->tv_sec ||
				     (st.st_mtim.tv_sec == oldest->tv_sec &&
				      st.st_mtim.tv_nsec < oldest->tv_nsec)))
					*oldest = st.st_mtim;
				close(fd);
				continue;
			}
			snprintf(name, sizeof(name), "%.*s", (int)(len - 5), de->d_name);
			cbt__rmtree(r->tmp_fd, name);
			unlinkat(r->tmp_fd, de->d_name, 0);
			close(fd);
			continue;
		}
		snprintf(name, sizeof(name), "%s.lock", de->d_name);
		if (fstatat(r->tmp_fd, name, &st, AT_SYMLINK_NOFOLLOW) && errno == ENOENT)
			cbt__rmtree(r->tmp_fd, de->d_name);
	}
	closedir(d);
	return 0;
}

/* ---- open, create ------------------------------------------------------------ */

static int open_sub(struct cbt_repo *r, const char *name, int create)
{
	int fd;

	if (create && mkdirat(r->dfd, name, 0700) && errno != EEXIST)
		return cbt__repo_err(r, -errno, "%s: %s", name, strerror(errno));
	fd = cbt__open_dir(r->dfd, name);
	if (fd == -ELOOP || fd == -ENOTDIR)
		return cbt__repo_err(r, -ELOOP, "%s: not a folder (a symbolic link?): refused",
				     name);
	if (fd < 0)
		return cbt__repo_err(r, fd, "%s: %s", name, strerror(-fd));
	return fd;
}

static int open_lockfile(struct cbt_repo *r, const char *name, int create)
{
	int fd = openat(r->dfd, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT : 0),
			0600);

	if (fd < 0)
		return cbt__repo_err(r, -errno, "%s: %s", name,
				     errno == ELOOP ? "a symbolic link (refused)" : strerror(errno));
	return fd;
}

static int write_config(struct cbt_repo *r)
{
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "{\n  \"format\": \"cbt-repository\",\n  \"version\": %d,\n"
		     "  \"chunk-size\": %" PRIu32 ",\n  \"digest\": \"sha256\",\n"
		     "  \"compression\": \"zstd\"\n}\n", CBT__REPO_VERSION, r->chunk_size);
	return cbt__repo_write_file(r, r->dfd, "config", buf, (size_t)n);
}

static int read_config(struct cbt_repo *r)
{
	struct json_object *o, *v;
	size_t len;
	char *buf;
	int64_t cs;
	int ret;

	ret = cbt__repo_read_file(r, r->dfd, "config", 65536, &buf, &len);
	if (ret == -ENOENT)
		return cbt__repo_err(r, -ENOENT, "not a cbt repository (no config file)");
	if (ret)
		return ret;
	o = json_tokener_parse(buf);
	free(buf);
	ret = cbt__repo_err(r, -EBADMSG, "config: not a cbt repository's config");
	if (!o || !json_object_is_type(o, json_type_object))
		goto out;
	if (!json_object_object_get_ex(o, "format", &v) || !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "cbt-repository"))
		goto out;
	if (!json_object_object_get_ex(o, "version", &v) || !json_object_is_type(v, json_type_int))
		goto out;
	if (json_object_get_int64(v) != CBT__REPO_VERSION) {
		ret = cbt__repo_err(r, -EPROTONOSUPPORT,
				    json_object_get_int64(v) == 1 ?
				    "config: a version 1 repository (a file per chunk, made by an earlier cbt-snap): this one reads version 2 only; back up into a new repository" :
				    "config: unsupported repository version");
		goto out;
	}
	if (!json_object_object_get_ex(o, "chunk-size", &v) || !json_object_is_type(v, json_type_int))
		goto out;
	cs = json_object_get_int64(v);
	if (cs < LIBCBT_REPO_CHUNK_MIN || cs > LIBCBT_REPO_CHUNK_MAX || (cs & (cs - 1))) {
		ret = cbt__repo_err(r, -EBADMSG, "config: bad chunk size %" PRId64, cs);
		goto out;
	}
	r->chunk_size = (uint32_t)cs;
	ret = 0;
out:
	json_object_put(o);
	return ret;
}

static struct cbt_repo *repo_alloc(void)
{
	struct cbt_repo *r = calloc(1, sizeof(*r));
	int i;

	if (!r)
		return NULL;
	r->dfd = r->packs_fd = r->points_fd = r->tmp_fd = -1;
	r->lock_fd = r->chunk_lock_fd = r->ws_fd = r->ws_lock_fd = -1;
	r->cur_fd = -1;
	r->cur_pack = UINT32_MAX;
	for (i = 0; i < CBT__PACK_RD; i++)
		r->rd_fd[i] = -1;
	return r;
}

int cbt_repo_open(const char *path, unsigned int flags, uint32_t chunk_size,
		  struct cbt_repo **repo)
{
	int create = !!(flags & LIBCBT_REPO_CREATE), made = 0, ret;
	struct cbt_repo *r;
	struct stat st;

	if (!path || !*path || !repo || (flags & ~(LIBCBT_REPO_CREATE | LIBCBT_REPO_ALLOW_SHARED)))
		return -EINVAL;
	if (chunk_size && (chunk_size < LIBCBT_REPO_CHUNK_MIN || chunk_size > LIBCBT_REPO_CHUNK_MAX ||
			   (chunk_size & (chunk_size - 1))))
		return -EINVAL;
	*repo = NULL;
	open_err[0] = '\0';
	r = repo_alloc();
	if (!r)
		return -ENOMEM;
	if (create && !mkdir(path, 0700))
		made = 1;
	else if (create && errno != EEXIST) {
		ret = cbt__repo_err(r, -errno, "%s: %s", path, strerror(errno));
		goto fail;
	}
	r->dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (r->dfd < 0) {
		ret = -errno;
		if ((ret == -ELOOP || ret == -ENOTDIR) && !lstat(path, &st) && S_ISLNK(st.st_mode))
			cbt__repo_err(r, -ELOOP, "%s: a symbolic link (give the folder itself)", path);
		else
			cbt__repo_err(r, ret, "%s: %s", path, strerror(-ret));
		goto fail;
	}
	if (fstat(r->dfd, &st)) {
		ret = -errno;
		goto fail;
	}
	if (st.st_uid != geteuid()) {
		ret = cbt__repo_err(r, -EACCES, "%s: owned by another user (uid %u)", path,
				    (unsigned int)st.st_uid);
		goto fail;
	}
	if (st.st_mode & 077) {
		r->shared = 1;
		if (!(flags & LIBCBT_REPO_ALLOW_SHARED)) {
			ret = cbt__repo_err(r, -EACCES,
					    "%s: others may read it (mode %04o; chmod 700 it)", path,
					    (unsigned int)(st.st_mode & 07777));
			goto fail;
		}
	}
	if (!made && create && faccessat(r->dfd, "config", F_OK, AT_SYMLINK_NOFOLLOW)) {
		/* an existing folder becomes a repository only when empty */
		int fd = dup(r->dfd);
		DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
		struct dirent *de;
		int n = 0;

		while (d && (de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				n++;
		if (d)
			closedir(d);
		if (n) {
			ret = cbt__repo_err(r, -ENOTEMPTY,
					    "%s: not a cbt repository, and not empty", path);
			goto fail;
		}
		made = 1;
	}
	if (made) {
		r->chunk_size = chunk_size ? chunk_size : LIBCBT_REPO_CHUNK_DEFAULT;
		ret = open_sub(r, "tmp", 1);
		if (ret < 0)
			goto fail;
		r->tmp_fd = ret;
		ret = write_config(r);
		if (ret)
			goto fail;
	} else {
		ret = read_config(r);
		if (ret)
			goto fail;
	}
	if (r->tmp_fd < 0) {
		ret = open_sub(r, "tmp", 1);
		if (ret < 0)
			goto fail;
		r->tmp_fd = ret;
	}
	ret = open_sub(r, "packs", 1);
	if (ret < 0)
		goto fail;
	r->packs_fd = ret;
	ret = open_sub(r, "points", 1);
	if (ret < 0)
		goto fail;
	r->points_fd = ret;
	ret = open_lockfile(r, "lock", 1);
	if (ret < 0)
		goto fail;
	r->lock_fd = ret;
	ret = open_lockfile(r, "chunks.lock", 1);
	if (ret < 0)
		goto fail;
	r->chunk_lock_fd = ret;
	if (made && fsync(r->dfd)) {
		ret = -errno;
		goto fail;
	}
	workspaces_scan(r, NULL);
	r->err[0] = '\0';
	*repo = r;
	return 0;
fail:
	snprintf(open_err, sizeof(open_err), "%s", r->err);
	cbt_repo_close(r);
	return ret;
}

void cbt_repo_close(struct cbt_repo *r)
{
	if (!r)
		return;
	if (r->tmp_fd >= 0)
		workspace_drop(r);
	cbt__chunk_ctx_free(r);
	cbt__chunks_close(r);
	if (r->chunk_lock_fd >= 0)
		close(r->chunk_lock_fd);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	if (r->points_fd >= 0)
		close(r->points_fd);
	if (r->packs_fd >= 0)
		close(r->packs_fd);
	if (r->tmp_fd >= 0)
		close(r->tmp_fd);
	if (r->dfd >= 0)
		close(r->dfd);
	free(r);
}

/* ---- points ------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* A point folder's name: decimal digits, no leading zero, 1..2^63. */
int cbt__point_name_id(const char *name, uint64_t *id);
int cbt__point_name_id(const char *name, uint64_t *id)
{
	uint64_t v = 0;
	const char *p;

	if (!*name || *name == '0' || strlen(name) > 18)
		return -EINVAL;
	for (p = name; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*id = v;
	return 0;
}

int cbt_repo_get_points(struct cbt_repo *repo, uint64_t **ids, size_t *count)
{
	uint64_t *v = NULL, *nv, id;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd;

	if (!repo || !ids || !count)
		return -EINVAL;
	fd = cbt__open_dir(repo->dfd, "points");
	if (fd < 0)
		return cbt__repo_err(repo, fd, "points: %s", strerror(-fd));
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (cbt__point_name_id(de->d_name, &id))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				closedir(d);
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[n++] = id;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_u64);
	*ids = v;
	*count = n;
	return 0;
}

int cbt_repo_remove_point(struct cbt_repo *repo, uint64_t id)
{
	char name[24], trash[48];
	int ret;

	if (!repo || !id)
		return -EINVAL;
	ret = cbt__repo_workspace(repo);
	if (ret)
		return ret;
	snprintf(name, sizeof(name), "%" PRIu64, id);
	snprintf(trash, sizeof(trash), "removed-%" PRIu64, id);
	ret = cbt__flock(repo->lock_fd, LOCK_EX);
	if (ret)
		return ret;
	if (renameat(repo->points_fd, name, repo->ws_fd, trash)) {
		ret = -errno;
		cbt__flock(repo->lock_fd, LOCK_UN);
		return cbt__repo_err(repo, ret, "point %" PRIu64 ": %s", id,
				     ret == -ENOENT ? "no such point" : strerror(-ret));
	}
	ret = fsync(repo->points_fd) ? -errno : 0;
	cbt__flock(repo->lock_fd, LOCK_UN);
	cbt__rmtree(repo->ws_fd, trash);
	return ret;
}

static int cmp_digest(const void *a, const void *b)
{
	return memcmp(a, b, CBT__DIGEST_LEN);
}

/*
 * Mark and sweep. The cutoff is taken before the mark: the earliest start
 * of a writer alive then (ours included), less a margin for the
 * filesystem's coarse clock. A writer that ended before that scan has its
 * point in the mark; one alive or started later created or touched every
 * chunk it references after its start, so after the cutoff: kept.
 */
int cbt_repo_gc(struct cbt_repo *repo, uint64_t *removed, uint64_t *removed_bytes,
		uint64_t *kept)
{
	uint8_t *d = NULL;
	size_t n = 0, cap = 0, i, j;
	struct timespec cutoff;
	uint64_t *ids = NULL, r0 = 0, rb = 0, k = 0;
	size_t nids = 0;
	int ret;

	if (!repo)
		return -EINVAL;
	ret = cbt__repo_workspace(repo);
	if (ret)
		return ret;
	cutoff = repo->ws_start;
	ret = workspaces_scan(repo, &cutoff);
	if (ret)
		return cbt__repo_err(repo, ret, "tmp: %s", strerror(-ret));
	cutoff.tv_sec -= 2;

	ret = cbt__flock(repo->lock_fd, LOCK_SH);
	if (ret)
		return ret;
	ret = cbt_repo_get_points(repo, &ids, &nids);
	for (i = 0; !ret && i < nids; i++)
		ret = cbt__point_digests(repo, ids[i], &d, &n, &cap);
	cbt__flock(repo->lock_fd, LOCK_UN);
	free(ids);
	if (ret) {
		free(d);
		return ret;	/* never sweep on a partial mark */
	}
	if (n)
		qsort(d, n, CBT__DIGEST_LEN, cmp_digest);
	for (i = j = 0; i < n; i++)
		if (!j || memcmp(d + (j - 1) * CBT__DIGEST_LEN, d + i * CBT__DIGEST_LEN,
				 CBT__DIGEST_LEN))
			memmove(d + j++ * CBT__DIGEST_LEN, d + i * CBT__DIGEST_LEN, CBT__DIGEST_LEN);
	ret = cbt__chunk_sweep(repo, d, j, &cutoff, &r0, &rb, &k);
	free(d);
	if (removed)
		*removed = r0;
	if (removed_bytes)
		*removed_bytes = rb;
	if (kept)
		*kept = k;
	return ret;
}
