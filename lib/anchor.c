// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * anchor.c - a backup chain's anchors on disk: the state directory, the
 * chain's lock, and its anchor file (read strictly, written atomically).
 *
 * STATE_DIR/CHAIN.anchors is text, one record a line, every line ending
 * in '\n', nothing else allowed:
 *
 *	cbt-anchors 1
 *	volume MAJ:MIN INCR DIFF	(a stamp each, or "-" for none)
 *	meta NAME HEX			(HEX: the bytes, two lower-case digits each)
 *	end
 *
 * Volumes are unique and at most CBT__ANCHOR_VOLUMES_MAX; metadata names
 * unique, valid and at most LIBCBT_BACKUP_META_MAX, each at most
 * LIBCBT_BACKUP_META_SIZE_MAX bytes. Anything else (a missing "end", a
 * NUL, an unknown word, a bad stamp, a symlink, a FIFO) is -EBADMSG:
 * hostile or damaged state gets a clear error, never a crash and never a
 * wrong base.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "internal.h"

#define ANCHOR_MAGIC	"cbt-anchors 1"

static int name_check(const char *name, size_t max, const char *extra)
{
	size_t i, n;

	if (!name)
		return -EINVAL;
	n = strlen(name);
	if (!n || n > max || name[0] == '.')
		return -EINVAL;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
		      (extra && strchr(extra, c))))
			return -EINVAL;
	}
	return 0;
}

int cbt__chain_check(const char *name)
{
	return name_check(name, LIBCBT_BACKUP_CHAIN_MAX, NULL);
}

int cbt__meta_name_check(const char *name)
{
	return name_check(name, LIBCBT_BACKUP_META_NAME_MAX, ":");
}

/* ---- the state directory and the lock --------------------------------------- */

int cbt__state_open(const char *path, int *dirfd)
{
	struct stat st;
	int fd;

	if (!path || !*path || !dirfd)
		return -EINVAL;
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int ret = -errno;

		/* A symlink in its place is not followed: say so. */
		if (ret == -ENOTDIR && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			ret = -ELOOP;
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	/* Others could plant or swap anchor files in it. */
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		close(fd);
		return -EACCES;
	}
	*dirfd = fd;
	return 0;
}

int cbt__chain_lock(int dirfd, const char *chain, int *lockfd)
{
	char name[LIBCBT_BACKUP_CHAIN_MAX + 8];
	struct stat st;
	int fd, ret = cbt__chain_check(chain);

	if (ret)
		return ret;
	snprintf(name, sizeof(name), "%s.lock", chain);
	fd = openat(dirfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK |
		    O_NOCTTY | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == ELOOP ? -EBADMSG : -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EBADMSG;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		close(fd);
		return ret;
	}
	*lockfd = fd;
	return 0;
}

/* ---- in memory ---------------------------------------------------------------- */

void cbt__meta_clear(struct cbt__meta **m, size_t *nm)
{
	size_t i;

	for (i = 0; i < *nm; i++) {
		free((*m)[i].name);
		free((*m)[i].data);
	}
	free(*m);
	*m = NULL;
	*nm = 0;
}

void cbt__anchors_clear(struct cbt__anchors *a)
{
	free(a->v);
	a->v = NULL;
	a->nv = 0;
	cbt__meta_clear(&a->m, &a->nm);
}

struct cbt__anchor *cbt__anchors_find(struct cbt__anchors *a, dev_t dev, int create)
{
	struct cbt__anchor *p;
	size_t i;

	for (i = 0; i < a->nv; i++)
		if (a->v[i].dev == dev)
			return &a->v[i];
	if (!create || a->nv >= CBT__ANCHOR_VOLUMES_MAX)
		return NULL;
	p = realloc(a->v, (a->nv + 1) * sizeof(*p));
	if (!p)
		return NULL;
	a->v = p;
	p = &a->v[a->nv++];
	memset(p, 0, sizeof(*p));
	p->dev = dev;
	return p;
}

int cbt__meta_set(struct cbt__meta **m, size_t *nm, const char *name,
		  const void *data, size_t len)
{
	struct cbt__meta *p;
	unsigned char *copy = NULL;
	size_t i;

	if (cbt__meta_name_check(name) || (len && !data))
		return -EINVAL;
	if (len > LIBCBT_BACKUP_META_SIZE_MAX)
		return -E2BIG;
	for (i = 0; i < *nm; i++)
		if (!strcmp((*m)[i].name, name))
			break;
	if (!len) {
		if (i < *nm) {
			free((*m)[i].name);
			free((*m)[i].data);
			memmove(&(*m)[i], &(*m)[i + 1], (*nm - i - 1) * sizeof(**m));
			(*nm)--;
		}
		return 0;
	}
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, len);
	if (i < *nm) {
		free((*m)[i].data);
		(*m)[i].data = copy;
		(*m)[i].len = len;
		return 0;
	}
	if (*nm >= LIBCBT_BACKUP_META_MAX) {
		free(copy);
		return -E2BIG;
	}
	p = realloc(*m, (*nm + 1) * sizeof(*p));
	if (!p) {
		free(copy);
		return -ENOMEM;
	}
	*m = p;
	p[*nm].name = strdup(name);
	if (!p[*nm].name) {
		free(copy);
		return -ENOMEM;
	}
	p[*nm].data = copy;
	p[*nm].len = len;
	(*nm)++;
	return 0;
}

/* ---- the file's text ------------------------------------------------------------ */

/* A stamp or "-" (none) into @out; -EBADMSG otherwise. */
static int parse_stamp(const char *word, char out[CBT__STAMP_LEN])
{
	struct cbt_stamp s;
	char *text;

	if (!strcmp(word, "-")) {
		out[0] = '\0';
		return 0;
	}
	if (strlen(word) >= CBT__STAMP_LEN || cbt__stamp_parse(word, &s))
		return -EBADMSG;
	/* The canonical form only: one stamp, one spelling. */
	text = cbt__stamp_format(&s);
	if (!text)
		return -ENOMEM;
	if (strcmp(text, word)) {
		free(text);
		return -EBADMSG;
	}
	strcpy(out, text);
	free(text);
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "MAJ:MIN" in decimal, no sign, no leading junk. */
static int parse_devno(const char *word, dev_t *dev)
{
	unsigned long ma, mi;
	char *end;

	if (*word < '0' || *word > '9')
		return -EBADMSG;
	errno = 0;
	ma = strtoul(word, &end, 10);
	if (errno || *end != ':' || end[1] < '0' || end[1] > '9' || ma > 0xfffff)
		return -EBADMSG;
	mi = strtoul(end + 1, &end, 10);
	if (errno || *end || mi > 0xfffff)
		return -EBADMSG;
	*dev = makedev(ma, mi);
	return 0;
}

static int parse_line(char *line, struct cbt__anchors *a)
{
	char *w[5], *save = NULL, *tok;
	size_t n = 0, i, hlen;
	int ret;

	for (tok = strtok_r(line, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (n == 5)
			return -EBADMSG;
		w[n++] = tok;
	}
	if (n == 4 && !strcmp(w[0], "volume")) {
		struct cbt__anchor e;

		memset(&e, 0, sizeof(e));
		ret = parse_devno(w[1], &e.dev);
		if (!ret)
			ret = parse_stamp(w[2], e.incr);
		if (!ret)
			ret = parse_stamp(w[3], e.diff);
		if (ret)
			return ret;
		if (cbt__anchors_find(a, e.dev, 0))
			return -EBADMSG;	/* twice */
		if (a->nv >= CBT__ANCHOR_VOLUMES_MAX)
			return -EBADMSG;
		if (!cbt__anchors_find(a, e.dev, 1))
			return -ENOMEM;
		a->v[a->nv - 1] = e;
		return 0;
	}
	if (n == 3 && !strcmp(w[0], "meta")) {
		unsigned char *data;

		if (cbt__meta_name_check(w[1]))
			return -EBADMSG;
		for (i = 0; i < a->nm; i++)
			if (!strcmp(a->m[i].name, w[1]))
				return -EBADMSG;	/* twice */
		hlen = strlen(w[2]);
		if (hlen % 2 || hlen / 2 > LIBCBT_BACKUP_META_SIZE_MAX ||
		    a->nm >= LIBCBT_BACKUP_META_MAX)
			return -EBADMSG;
		data = malloc(hlen / 2 + 1);
		if (!data)
			return -ENOMEM;
		for (i = 0; i < hlen / 2; i++) {
			int hi = hexval(w[2][2 * i]), lo = hexval(w[2][2 * i + 1]);

			if (hi < 0 || lo < 0) {
				free(data);
				return -EBADMSG;
			}
			data[i] = (unsigned char)(hi << 4 | lo);
		}
		ret = hlen ? cbt__meta_set(&a->m, &a->nm, w[1], data, hlen / 2) : -EBADMSG;
		free(data);
		return ret == -EINVAL || ret == -E2BIG ? -EBADMSG : ret;
	}
	return -EBADMSG;
}

int cbt__anchors_parse(const char *text, size_t len, struct cbt__anchors *a)
{
	char *buf, *line, *nl;
	int ret = 0, ended = 0, first = 1;

	memset(a, 0, sizeof(*a));
	if (!text || len > CBT__ANCHOR_FILE_MAX || memchr(text, '\0', len))
		return -EBADMSG;
	if (!len || text[len - 1] != '\n')
		return -EBADMSG;	/* empty or torn */
	buf = malloc(len + 1);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, text, len);
	buf[len] = '\0';
	for (line = buf; !ret && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		if (ended)
			ret = -EBADMSG;		/* something after "end" */
		else if (first)
			ret = strcmp(line, ANCHOR_MAGIC) ? -EBADMSG : 0;
		else if (!strcmp(line, "end"))
			ended = 1;
		else if (!*line || line[0] == ' ' || nl[-1] == ' ')
			ret = -EBADMSG;
		else
			ret = parse_line(line, a);
		first = 0;
	}
	free(buf);
	if (!ret && !ended)
		ret = -EBADMSG;
	if (ret)
		cbt__anchors_clear(a);
	return ret;
}

char *cbt__anchors_format(const struct cbt__anchors *a, size_t *len)
{
	char *buf = NULL;
	size_t size = 0, i, j;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	fprintf(f, "%s\n", ANCHOR_MAGIC);
	for (i = 0; i < a->nv; i++)
		fprintf(f, "volume %u:%u %s %s\n", major(a->v[i].dev), minor(a->v[i].dev),
			a->v[i].incr[0] ? a->v[i].incr : "-",
			a->v[i].diff[0] ? a->v[i].diff : "-");
	for (i = 0; i < a->nm; i++) {
		fprintf(f, "meta %s ", a->m[i].name);
		for (j = 0; j < a->m[i].len; j++)
			fprintf(f, "%02x", a->m[i].data[j]);
		fputc('\n', f);
	}
	fprintf(f, "end\n");
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	*len = size;
	return buf;
}

/* ---- the file ---------------------------------------------------------------------- */

int cbt__anchors_load(int dirfd, const char *chain, struct cbt__anchors *a)
{
	char name[LIBCBT_BACKUP_CHAIN_MAX + 16], *buf;
	struct stat st;
	size_t done = 0;
	ssize_t n;
	int fd, ret = cbt__chain_check(chain);

	memset(a, 0, sizeof(*a));
	if (ret)
		return ret;
	snprintf(name, sizeof(name), "%s.anchors", chain);
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;	/* a chain with no backup yet */
		return errno == ELOOP ? -EBADMSG : -errno;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CBT__ANCHOR_FILE_MAX) {
		ret = -EBADMSG;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	/* One more byte than its size: a file that grows meanwhile is refused. */
	while (done <= (size_t)st.st_size) {
		n = read(fd, buf + done, (size_t)st.st_size + 1 - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (!n)
			break;
		done += (size_t)n;
	}
	if (!ret && done != (size_t)st.st_size)
		ret = -EBADMSG;
	if (!ret)
		ret = cbt__anchors_parse(buf, done, a);
	free(buf);
out:
	close(fd);
	return ret;
}

static int write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int cbt__anchors_save(int dirfd, const char *chain, const struct cbt__anchors *a)
{
	char name[LIBCBT_BACKUP_CHAIN_MAX + 16], tmp[LIBCBT_BACKUP_CHAIN_MAX + 24];
	size_t len = 0;
	char *text;
	int fd, ret = cbt__chain_check(chain);

	if (ret)
		return ret;
	snprintf(name, sizeof(name), "%s.anchors", chain);
	/* A dot name: never a chain's. Only the lock holder writes it. */
	snprintf(tmp, sizeof(tmp), ".%s.anchors.tmp", chain);
	text = cbt__anchors_format(a, &len);
	if (!text)
		return -ENOMEM;
	/* Left over by a writer that was killed: ours now (we hold the lock). */
	if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT) {
		ret = -errno;
		goto out;
	}
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	ret = write_all(fd, text, len);
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && renameat(dirfd, tmp, dirfd, name) < 0)
		ret = -errno;
	if (ret)
		unlinkat(dirfd, tmp, 0);
	else
		/*
		 * The anchors moved. Should the rename be lost all the same,
		 * the old anchors name older bases, whose changes are a
		 * superset: reporting a failure now would only mislead.
		 */
		fsync(dirfd);
out:
	free(text);
	return ret;
}
