// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * point.c - points: their manifests (JSON, json-c) and indexes (binary),
 * writing a new point from volumes, restore and verify.
 *
 * API (include/libcbt.h, CBT_0.2): cbt_point_* (open, getters, verify,
 * restore), cbt_newpoint_* (begin, add_volume, commit, free).
 *
 * An index (points/<ID>/volume-<N>.idx, N from 0 in manifest order) is
 * index.c's: each chunk's digest, and the pieces incrementals replaced.
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
#include <time.h>
#include <unistd.h>
#include <blkid/blkid.h>
#include <json-c/json.h>
#include <openssl/evp.h>

#include "repo.h"

#define MANIFEST_MAX	(16u << 20)
#define NAME_MAX_LEN	4096
#define VOLUMES_MAX	1024
#define SIZE_MAX_VOL	(1ull << 60)

int cbt__point_name_id(const char *name, uint64_t *id);

struct pvol {
	char *name, *fstype, *fsuuid, *stamp;
	uint64_t size, base, bytes_read, bytes_stored;
	uint32_t block_size;
	uint8_t index_digest[CBT__DIGEST_LEN];
};

/* A writer's part in the point (its manifest's "writers"). */
struct pwriter {
	char *name, *outcome, *failed_phase, *error, *message;
	unsigned char *stamp;
	size_t stamp_len;
};

#define WRITERS_MAX	64
#define WRITER_STAMP_MAX 4096

struct cbt_point {
	struct pwriter *wr;
	unsigned int nwr;
	struct cbt_repo *repo;
	uint64_t id, base, bytes_read, bytes_stored;
	enum cbt_point_type type;
	char *chain, *app;
	int64_t time, verify_time;
	enum cbt_verify_state verify;
	unsigned int nvol;
	struct pvol *vol;
};


static const char *const type_names[] = {
	[CBT_POINT_FULL] = "full",
	[CBT_POINT_INCREMENTAL] = "incremental",
	[CBT_POINT_DIFFERENTIAL] = "differential",
	[CBT_POINT_COPY] = "copy",
};
static const char *const verify_names[] = {
	[CBT_VERIFY_NONE] = "none",
	[CBT_VERIFY_OK] = "ok",
	[CBT_VERIFY_FAILED] = "failed",
};

const char *cbt_point_type_name(enum cbt_point_type type)
{
	if (type < CBT_POINT_FULL || type > CBT_POINT_COPY)
		return NULL;
	return type_names[type];
}

int cbt_point_type_parse(const char *name, enum cbt_point_type *type)
{
	int i;

	if (!name || !type)
		return -EINVAL;
	for (i = CBT_POINT_FULL; i <= CBT_POINT_COPY; i++)
		if (!strcmp(name, type_names[i])) {
			*type = (enum cbt_point_type)i;
			return 0;
		}
	return -EINVAL;
}

/* ---- manifest ------------------------------------------------------------------ */

static void pvol_clear(struct pvol *v)
{
	free(v->name);
	free(v->fstype);
	free(v->fsuuid);
	free(v->stamp);
}

static void writers_clear(struct cbt_point *p)
{
	unsigned int i;

	for (i = 0; i < p->nwr; i++) {
		free(p->wr[i].name);
		free(p->wr[i].outcome);
		free(p->wr[i].failed_phase);
		free(p->wr[i].error);
		free(p->wr[i].message);
		free(p->wr[i].stamp);
	}
	free(p->wr);
	p->wr = NULL;
	p->nwr = 0;
}

void cbt_point_free(struct cbt_point *p)
{
	unsigned int i;

	if (!p)
		return;
	writers_clear(p);
	for (i = 0; i < p->nvol; i++)
		pvol_clear(&p->vol[i]);
	free(p->vol);
	free(p->chain);
	free(p->app);
	free(p);
}

static int hexdigest(const char *s, uint8_t d[CBT__DIGEST_LEN])
{
	int i;

	if (strlen(s) != 64)
		return -1;
	for (i = 0; i < 64; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (v < 0)
			return -1;
		if (i & 1)
			d[i / 2] |= (uint8_t)v;
		else
			d[i / 2] = (uint8_t)(v << 4);
	}
	return 0;
}

static struct json_object *jstr_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

static int jstr(struct json_object *o, const char *key, size_t max, int nullable, char **out);

/*
 * Text a stamp can be shown as: valid UTF-8 without control characters
 * other than tab, newline and carriage return.
 */
static int printable_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n, k;
		uint32_t cp;

		if (c < 0x80) {
			if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			n = 1;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + n >= len)
			return 0;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
			return 0;
		i += n + 1;
	}
	return 1;
}

static struct json_object *writers_json(const struct cbt_point *p)
{
	struct json_object *arr = json_object_new_array(), *w;
	unsigned int i;

	for (i = 0; i < p->nwr; i++) {
		const struct pwriter *pw = &p->wr[i];

		w = json_object_new_object();
		json_object_object_add(w, "name", json_object_new_string(pw->name));
		json_object_object_add(w, "outcome", json_object_new_string(pw->outcome));
		json_object_object_add(w, "failed-phase", jstr_or_null(pw->failed_phase));
		json_object_object_add(w, "error", jstr_or_null(pw->error));
		json_object_object_add(w, "message", jstr_or_null(pw->message));
		if (pw->stamp_len && printable_utf8(pw->stamp, pw->stamp_len))
			json_object_object_add(w, "stamp-text",
					       json_object_new_string_len((const char *)pw->stamp,
									  (int)pw->stamp_len));
		else
			json_object_object_add(w, "stamp-text", NULL);
		if (pw->stamp_len) {
			char *b64 = malloc(4 * ((pw->stamp_len + 2) / 3) + 1);

			if (b64) {
				EVP_EncodeBlock((unsigned char *)b64, pw->stamp, (int)pw->stamp_len);
				json_object_object_add(w, "stamp-base64", json_object_new_string(b64));
				free(b64);
			}
		} else {
			json_object_object_add(w, "stamp-base64", NULL);
		}
		json_object_array_add(arr, w);
	}
	return arr;
}

/* A base64 text into bytes (-1: not base64, or too long). */
static int base64_decode(const char *b64, unsigned char **out, size_t *len)
{
	size_t l = strlen(b64), pad = 0;
	unsigned char *buf;
	int n;

	if (!l || l % 4 || l / 4 * 3 > WRITER_STAMP_MAX + 2)
		return -1;
	if (b64[l - 1] == '=')
		pad++;
	if (b64[l - 2] == '=')
		pad++;
	buf = malloc(l / 4 * 3 + 1);
	if (!buf)
		return -1;
	n = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)l);
	if (n < 0 || (size_t)n < pad || (size_t)n - pad > WRITER_STAMP_MAX) {
		free(buf);
		return -1;
	}
	*out = buf;
	*len = (size_t)n - pad;
	return 0;
}

static int parse_writers(struct cbt_point *p, struct json_object *o)
{
	struct json_object *arr, *e;
	size_t i, n;
	char *b64;

	if (!json_object_object_get_ex(o, "writers", &arr) ||
	    json_object_is_type(arr, json_type_null))
		return 0;	/* a point from before writers */
	if (!json_object_is_type(arr, json_type_array))
		return -1;
	n = json_object_array_length(arr);
	if (n > WRITERS_MAX)
		return -1;
	p->wr = calloc(n ? n : 1, sizeof(*p->wr));
	if (!p->wr)
		return -1;
	for (i = 0; i < n; i++) {
		struct pwriter *pw = &p->wr[i];

		p->nwr = (unsigned int)i + 1;
		e = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(e, json_type_object) ||
		    jstr(e, "name", 64, 0, &pw->name) || jstr(e, "outcome", 16, 0, &pw->outcome) ||
		    jstr(e, "failed-phase", 32, 1, &pw->failed_phase) ||
		    jstr(e, "error", 512, 1, &pw->error) || jstr(e, "message", 512, 1, &pw->message) ||
		    jstr(e, "stamp-base64", 2 * WRITER_STAMP_MAX, 1, &b64))
			return -1;
		if (strcmp(pw->outcome, "ok") && strcmp(pw->outcome, "failed") &&
		    strcmp(pw->outcome, "skipped"))
			return -1;
		if (b64) {
			int bad = base64_decode(b64, &pw->stamp, &pw->stamp_len);

			free(b64);
			if (bad)
				return -1;
		}
	}
	return 0;
}

static char *manifest_text(const struct cbt_point *p)
{
	struct json_object *o = json_object_new_object(), *vols = json_object_new_array(), *v;
	char hex[65], *text;
	unsigned int i;

	json_object_object_add(o, "format", json_object_new_string("cbt-point"));
	json_object_object_add(o, "version", json_object_new_int(1));
	json_object_object_add(o, "id", json_object_new_int64((int64_t)p->id));
	json_object_object_add(o, "type", json_object_new_string(type_names[p->type]));
	json_object_object_add(o, "base", json_object_new_int64((int64_t)p->base));
	json_object_object_add(o, "chain", json_object_new_string(p->chain));
	json_object_object_add(o, "time", json_object_new_int64(p->time));
	json_object_object_add(o, "bytes-read", json_object_new_int64((int64_t)p->bytes_read));
	json_object_object_add(o, "bytes-stored", json_object_new_int64((int64_t)p->bytes_stored));
	json_object_object_add(o, "app-metadata", jstr_or_null(p->app));
	v = json_object_new_object();
	json_object_object_add(v, "state", json_object_new_string(verify_names[p->verify]));
	json_object_object_add(v, "time", json_object_new_int64(p->verify_time));
	json_object_object_add(o, "verify", v);
	for (i = 0; i < p->nvol; i++) {
		const struct pvol *pv = &p->vol[i];

		v = json_object_new_object();
		json_object_object_add(v, "name", json_object_new_string(pv->name));
		json_object_object_add(v, "size", json_object_new_int64((int64_t)pv->size));
		json_object_object_add(v, "block-size", json_object_new_int64(pv->block_size));
		json_object_object_add(v, "fstype", jstr_or_null(pv->fstype));
		json_object_object_add(v, "fsuuid", jstr_or_null(pv->fsuuid));
		json_object_object_add(v, "stamp", jstr_or_null(pv->stamp));
		json_object_object_add(v, "base", json_object_new_int64((int64_t)pv->base));
		json_object_object_add(v, "bytes-read", json_object_new_int64((int64_t)pv->bytes_read));
		json_object_object_add(v, "bytes-stored",
				       json_object_new_int64((int64_t)pv->bytes_stored));
		cbt__hex(pv->index_digest, hex);
		json_object_object_add(v, "index-sha256", json_object_new_string(hex));
		json_object_array_add(vols, v);
	}
	json_object_object_add(o, "volumes", vols);
	json_object_object_add(o, "writers", writers_json(p));
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

/* Field getters that refuse the wrong type: 0 or -1. */
static int jint(struct json_object *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	errno = 0;
	*out = json_object_get_int64(v);
	if (errno || *out < min || *out > max)
		return -1;
	return 0;
}

/* A string (no control characters, 1..max bytes) or, if @nullable, null/absent. */
static int jstr(struct json_object *o, const char *key, size_t max, int nullable, char **out)
{
	struct json_object *v;
	const char *s;
	size_t i, len;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return nullable ? 0 : -1;
	if (!json_object_is_type(v, json_type_string))
		return -1;
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (!len || len > max || strlen(s) != len)
		return -1;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 && max <= NAME_MAX_LEN)
			return -1;
	*out = strdup(s);
	return *out ? 0 : -1;
}

static int parse_manifest(struct cbt_point *p, const char *text, uint64_t id)
{
	struct json_object *o, *v, *vols, *e;
	struct json_tokener *tok;
	char *s = NULL;
	int64_t n;
	size_t i, nv;
	int ret = -1;

	tok = json_tokener_new_ex(16);
	if (!tok)
		return -1;
	o = json_tokener_parse_ex(tok, text, (int)strlen(text));
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    text[strspn(text + json_tokener_get_parse_end(tok), " \t\r\n") +
		 json_tokener_get_parse_end(tok)]) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	if (!o || !json_object_is_type(o, json_type_object))
		goto out;
	if (jstr(o, "format", 64, 0, &s) || strcmp(s, "cbt-point"))
		goto out;
	free(s);
	s = NULL;
	if (jint(o, "version", 1, 1, &n) || jint(o, "id", 1, INT64_MAX, &n) || (uint64_t)n != id)
		goto out;
	p->id = id;
	if (jstr(o, "type", 64, 0, &s) || cbt_point_type_parse(s, &p->type))
		goto out;
	free(s);
	s = NULL;
	if (jint(o, "base", 0, (int64_t)id - 1, &n))
		goto out;
	p->base = (uint64_t)n;
	if (jstr(o, "chain", 255, 0, &p->chain) || jint(o, "time", 0, INT64_MAX, &p->time))
		goto out;
	if (jint(o, "bytes-read", 0, INT64_MAX, &n))
		goto out;
	p->bytes_read = (uint64_t)n;
	if (jint(o, "bytes-stored", 0, INT64_MAX, &n))
		goto out;
	p->bytes_stored = (uint64_t)n;
	if (jstr(o, "app-metadata", MANIFEST_MAX, 1, &p->app))
		goto out;
	if (!json_object_object_get_ex(o, "verify", &v) || !json_object_is_type(v, json_type_object) ||
	    jstr(v, "state", 16, 0, &s) || jint(v, "time", 0, INT64_MAX, &p->verify_time))
		goto out;
	for (i = 0; i <= CBT_VERIFY_FAILED; i++)
		if (!strcmp(s, verify_names[i]))
			break;
	if (i > CBT_VERIFY_FAILED)
		goto out;
	p->verify = (enum cbt_verify_state)i;
	free(s);
	s = NULL;
	if (!json_object_object_get_ex(o, "volumes", &vols) ||
	    !json_object_is_type(vols, json_type_array))
		goto out;
	nv = json_object_array_length(vols);
	if (!nv || nv > VOLUMES_MAX)
		goto out;
	p->vol = calloc(nv, sizeof(*p->vol));
	if (!p->vol)
		goto out;
	for (i = 0; i < nv; i++) {
		struct pvol *pv = &p->vol[i];

		p->nvol = (unsigned int)i + 1;
		e = json_object_array_get_idx(vols, i);
		if (!json_object_is_type(e, json_type_object))
			goto out;
		if (jstr(e, "name", NAME_MAX_LEN, 0, &pv->name) ||
		    jstr(e, "fstype", 64, 1, &pv->fstype) || jstr(e, "fsuuid", 128, 1, &pv->fsuuid) ||
		    jstr(e, "stamp", 128, 1, &pv->stamp))
			goto out;
		if (jint(e, "size", 1, (int64_t)SIZE_MAX_VOL, &n))
			goto out;
		pv->size = (uint64_t)n;
		if (jint(e, "block-size", 0, 1 << 30, &n))
			goto out;
		pv->block_size = (uint32_t)n;
		if (jint(e, "base", 0, (int64_t)id - 1, &n))
			goto out;
		pv->base = (uint64_t)n;
		if (jint(e, "bytes-read", 0, INT64_MAX, &n))
			goto out;
		pv->bytes_read = (uint64_t)n;
		if (jint(e, "bytes-stored", 0, INT64_MAX, &n))
			goto out;
		pv->bytes_stored = (uint64_t)n;
		if (jstr(e, "index-sha256", 64, 0, &s) || hexdigest(s, pv->index_digest))
			goto out;
		free(s);
		s = NULL;
	}
	if (parse_writers(p, o))
		goto out;
	ret = 0;
out:
	free(s);
	json_object_put(o);
	return ret;
}

static int point_dir(struct cbt_repo *r, uint64_t id)
{
	char name[24];
	int fd;

	snprintf(name, sizeof(name), "%" PRIu64, id);
	fd = cbt__open_dir(r->points_fd, name);
	if (fd == -ENOENT)
		return cbt__repo_err(r, -ENOENT, "point %" PRIu64 ": no such point", id);
	if (fd == -ELOOP || fd == -ENOTDIR)
		return cbt__repo_err(r, -ELOOP, "points/%s: not a folder (a symbolic link?): refused",
				     name);
	if (fd < 0)
		return cbt__repo_err(r, fd, "points/%s: %s", name, strerror(-fd));
	return fd;
}

int cbt_point_open(struct cbt_repo *repo, uint64_t id, struct cbt_point **point)
{
	struct cbt_point *p;
	char *text;
	size_t len;
	int dfd, ret;

	if (!repo || !id || !point)
		return -EINVAL;
	repo->err[0] = '\0';
	*point = NULL;
	dfd = point_dir(repo, id);
	if (dfd < 0)
		return dfd;
	ret = cbt__repo_read_file(repo, dfd, "manifest.json", MANIFEST_MAX, &text, &len);
	close(dfd);
	if (ret) {
		if (ret == -ENOENT)
			cbt__repo_err(repo, -EBADMSG, "point %" PRIu64 ": no manifest", id);
		else
			cbt__repo_err(repo, ret, "point %" PRIu64 ": %s", id, repo->err);
		return ret == -ENOENT ? -EBADMSG : ret;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		free(text);
		return -ENOMEM;
	}
	p->repo = repo;
	if (strlen(text) != len || parse_manifest(p, text, id)) {
		free(text);
		cbt_point_free(p);
		return cbt__repo_err(repo, -EBADMSG, "point %" PRIu64 ": damaged manifest", id);
	}
	free(text);
	*point = p;
	return 0;
}

#define GET(type, field, dflt) \
	{ return p ? (type)p->field : dflt; }
uint64_t cbt_point_get_id(struct cbt_point *p) GET(uint64_t, id, 0)
enum cbt_point_type cbt_point_get_type(struct cbt_point *p) GET(enum cbt_point_type, type, 0)
uint64_t cbt_point_get_base(struct cbt_point *p) GET(uint64_t, base, 0)
const char *cbt_point_get_chain(struct cbt_point *p) GET(const char *, chain, NULL)
int64_t cbt_point_get_time(struct cbt_point *p) GET(int64_t, time, 0)
uint64_t cbt_point_get_bytes_read(struct cbt_point *p) GET(uint64_t, bytes_read, 0)
uint64_t cbt_point_get_bytes_stored(struct cbt_point *p) GET(uint64_t, bytes_stored, 0)
const char *cbt_point_get_app_metadata(struct cbt_point *p) GET(const char *, app, NULL)
enum cbt_verify_state cbt_point_get_verify_state(struct cbt_point *p)
	GET(enum cbt_verify_state, verify, 0)
int64_t cbt_point_get_verify_time(struct cbt_point *p) GET(int64_t, verify_time, 0)
unsigned int cbt_point_get_volume_count(struct cbt_point *p) GET(unsigned int, nvol, 0)

#define VGET(type, field, dflt) \
	{ return p && i < p->nvol ? (type)p->vol[i].field : dflt; }
const char *cbt_point_get_volume_name(struct cbt_point *p, unsigned int i)
	VGET(const char *, name, NULL)
uint64_t cbt_point_get_volume_size(struct cbt_point *p, unsigned int i) VGET(uint64_t, size, 0)
uint32_t cbt_point_get_volume_block_size(struct cbt_point *p, unsigned int i)
	VGET(uint32_t, block_size, 0)
const char *cbt_point_get_volume_fstype(struct cbt_point *p, unsigned int i)
	VGET(const char *, fstype, NULL)
const char *cbt_point_get_volume_fsuuid(struct cbt_point *p, unsigned int i)
	VGET(const char *, fsuuid, NULL)
const char *cbt_point_get_volume_stamp(struct cbt_point *p, unsigned int i)
	VGET(const char *, stamp, NULL)
uint64_t cbt_point_get_volume_base(struct cbt_point *p, unsigned int i) VGET(uint64_t, base, 0)
uint64_t cbt_point_get_volume_bytes_read(struct cbt_point *p, unsigned int i)
	VGET(uint64_t, bytes_read, 0)
uint64_t cbt_point_get_volume_bytes_stored(struct cbt_point *p, unsigned int i)
	VGET(uint64_t, bytes_stored, 0)

int cbt_point_find_volume(struct cbt_point *p, const char *name)
{
	unsigned int i;

	if (!p || !name)
		return -EINVAL;
	for (i = 0; i < p->nvol; i++)
		if (!strcmp(p->vol[i].name, name))
			return (int)i;
	return -ENOENT;
}

/* ---- indexes ------------------------------------------------------------------- */

static int index_read(struct cbt_point *p, unsigned int i, struct cbt__index *ix)
{
	struct cbt_repo *r = p->repo;
	const struct pvol *pv = &p->vol[i];
	char name[32], *buf;
	size_t len;
	int dfd, ret;

	dfd = point_dir(r, p->id);
	if (dfd < 0)
		return dfd;
	snprintf(name, sizeof(name), "volume-%u.idx", i);
	ret = cbt__repo_read_file(r, dfd, name,
				  cbt__index_max_len(r->chunk_size, 4096, pv->size),
				  &buf, &len);
	close(dfd);
	if (ret)
		return cbt__repo_err(r, ret == -ENOENT || ret == -EFBIG ? -EBADMSG : ret,
				     "point %" PRIu64 ": %s: %s", p->id, name,
				     ret == -ENOENT ? "missing" : ret == -EFBIG ? "damaged index" : r->err);
	ret = cbt__index_parse((const uint8_t *)buf, len, r->chunk_size, pv->size,
			       pv->index_digest, ix);
	free(buf);
	if (ret == -EBADMSG)
		return cbt__repo_err(r, ret, "point %" PRIu64 ": %s: damaged index", p->id, name);
	return ret;
}

static int index_write(struct cbt_repo *r, int dirfd, unsigned int i, const struct cbt__index *ix,
		       uint8_t digest[CBT__DIGEST_LEN])
{
	char name[32];

	snprintf(name, sizeof(name), "volume-%u.idx", i);
	return cbt__index_write(r, dirfd, name, ix, digest);
}

/* Append @n digests at @src to *d (*n of *cap). */
static int digests_add(uint8_t **d, size_t *n, size_t *cap, const uint8_t *src, size_t cnt)
{
	uint8_t *nd;

	if (*n + cnt > *cap) {
		*cap = (*n + cnt) * 2;
		nd = realloc(*d, *cap * CBT__DIGEST_LEN);
		if (!nd)
			return -ENOMEM;
		*d = nd;
	}
	memcpy(*d + *n * CBT__DIGEST_LEN, src, cnt * CBT__DIGEST_LEN);
	*n += cnt;
	return 0;
}

int cbt__point_digests(struct cbt_repo *r, uint64_t id, uint8_t **d, size_t *n, size_t *cap)
{
	struct cbt__index ix = { 0 };
	struct cbt_point *p;
	unsigned int i;
	size_t k;
	int ret;

	ret = cbt_point_open(r, id, &p);
	if (ret == -ENOENT)
		return 0;	/* removed meanwhile */
	if (ret)
		return ret;
	for (i = 0; i < p->nvol; i++) {
		ret = index_read(p, i, &ix);
		if (ret)
			break;
		ret = digests_add(d, n, cap, ix.d, (size_t)ix.count);
		for (k = 0; !ret && k < ix.np; k++)
			ret = digests_add(d, n, cap, ix.p[k].d, 1);
		cbt__index_free(&ix);
		if (ret)
			break;
	}
	cbt_point_free(p);
	return ret;
}

/*
 * Chunk @c's bytes into @buf: its chunk with its patches from *pi on laid
 * over it (*pi moves past them). Errors name the chunk.
 */
static int chunk_load(struct cbt_repo *r, const struct cbt__index *ix, uint64_t c, size_t *pi,
		      uint8_t *buf)
{
	int ret;

	ret = cbt__chunk_get(r, ix->d + c * CBT__DIGEST_LEN, buf, cbt__index_chunk_len(ix, c));
	for (; !ret && *pi < ix->np && ix->p[*pi].chunk == c; (*pi)++) {
		const struct cbt__patch *pt = &ix->p[*pi];

		ret = cbt__chunk_get(r, pt->d, buf + (size_t)pt->piece * ix->piece_size,
				     cbt__index_piece_len(ix, c, pt->piece));
	}
	while (*pi < ix->np && ix->p[*pi].chunk == c)
		(*pi)++;
	return ret;
}

/* Patches of chunk @c in @ix, from *pi on: how many. */
static size_t chunk_patches(const struct cbt__index *ix, uint64_t c, size_t pi)
{
	size_t n = 0;

	while (pi + n < ix->np && ix->p[pi + n].chunk == c)
		n++;
	return n;
}

/* ---- restore ------------------------------------------------------------------- */

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/*
 * Restore streams through the page cache in windows: each window written is
 * handed to writeback at once, and the window before it is waited for and
 * dropped from the cache. The disk then works while the next chunks are
 * read and decompressed (rather than all at the caller's fsync), dirty
 * memory stays within two windows, and a restore of a whole disk does not
 * evict the repository's pages. An fd that cannot do this (a pipe) is
 * simply written.
 */
#define RESTORE_WINDOW (32ull << 20)

struct stream {
	int fd, on;
	uint64_t start, prev;	/* this window's start; the previous one's */
};

static int stream_flush(struct stream *s, uint64_t end)
{
	unsigned int wait = SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
			    SYNC_FILE_RANGE_WAIT_AFTER;

	if (!s->on || end - s->start < RESTORE_WINDOW)
		return 0;
	if (sync_file_range(s->fd, (off_t)s->start, (off_t)(end - s->start),
			    SYNC_FILE_RANGE_WRITE)) {
		if (errno == EINVAL || errno == ESPIPE || errno == ENOSYS) {
			s->on = 0;	/* not a file or a disk: plain writes */
			return 0;
		}
		return -errno;
	}
	if (s->start > s->prev) {
		if (sync_file_range(s->fd, (off_t)s->prev, (off_t)(s->start - s->prev), wait))
			return -errno;
		posix_fadvise(s->fd, (off_t)s->prev, (off_t)(s->start - s->prev),
			      POSIX_FADV_DONTNEED);
	}
	s->prev = s->start;
	s->start = end;
	return 0;
}

int cbt_point_restore(struct cbt_point *p, unsigned int i, int fd, unsigned int flags)
{
	struct stream st = { .fd = fd, .on = 1 };
	uint8_t zero_full[CBT__DIGEST_LEN], zero_tail[CBT__DIGEST_LEN];
	struct cbt__index ix = { 0 };
	struct cbt_repo *r;
	size_t pi = 0;
	uint64_t c;
	uint8_t *buf;
	int ret;

	if (!p || i >= p->nvol || fd < 0 || (flags & ~LIBCBT_RESTORE_SPARSE))
		return -EINVAL;
	r = p->repo;
	r->err[0] = '\0';
	ret = index_read(p, i, &ix);
	if (ret)
		return ret;
	buf = calloc(1, ix.chunk_size);
	if (!buf) {
		cbt__index_free(&ix);
		return -ENOMEM;
	}
	cbt__sha256(buf, ix.chunk_size, zero_full);
	cbt__sha256(buf, cbt__index_chunk_len(&ix, ix.count - 1), zero_tail);
	for (c = 0; c < ix.count; c++) {
		const uint8_t *d = ix.d + c * CBT__DIGEST_LEN;
		size_t len = cbt__index_chunk_len(&ix, c);

		if ((flags & LIBCBT_RESTORE_SPARSE) && !chunk_patches(&ix, c, pi) &&
		    !memcmp(d, len == ix.chunk_size ? zero_full : zero_tail, CBT__DIGEST_LEN))
			goto next;
		ret = chunk_load(r, &ix, c, &pi, buf);
		if (ret) {
			cbt__repo_err(r, ret, "point %" PRIu64 ", offset %" PRIu64 ": %s", p->id,
				      c * ix.chunk_size, r->err);
			break;
		}
		ret = pwrite_all(fd, buf, len, c * ix.chunk_size);
		if (!ret)
			ret = stream_flush(&st, c * ix.chunk_size + len);
		if (ret) {
			cbt__repo_err(r, ret, "writing at offset %" PRIu64 ": %s",
				      c * ix.chunk_size, strerror(-ret));
			break;
		}
next:
		ret = cbt__progress(r, c * ix.chunk_size + len, ix.size);
		if (ret)
			break;
	}
	free(buf);
	cbt__index_free(&ix);
	return ret;
}

/* ---- verify -------------------------------------------------------------------- */

struct vchunk {
	uint8_t d[CBT__DIGEST_LEN];
	uint32_t len;
};

static int cmp_vchunk(const void *a, const void *b)
{
	const struct vchunk *x = a, *y = b;
	int c = memcmp(x->d, y->d, CBT__DIGEST_LEN);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Rewrite point @p's manifest as it is in memory (under the repo lock). */
static int manifest_rewrite(struct cbt_point *p)
{
	struct cbt_repo *r = p->repo;
	char *text = manifest_text(p);
	int dfd, ret;

	if (!text)
		return -ENOMEM;
	ret = cbt__flock(r->lock_fd, LOCK_EX);
	if (ret) {
		free(text);
		return ret;
	}
	dfd = point_dir(r, p->id);
	if (dfd >= 0) {
		ret = cbt__repo_write_file(r, dfd, "manifest.json", text, strlen(text));
		close(dfd);
	} else {
		ret = dfd;
	}
	cbt__flock(r->lock_fd, LOCK_UN);
	free(text);
	return ret;
}

int cbt_point_verify(struct cbt_point *p, uint64_t *bad)
{
	struct vchunk *v = NULL, *nv;
	struct cbt__index ix = { 0 };
	struct cbt_repo *r;
	size_t n = 0, cap = 0, k;
	uint64_t nbad = 0, total = 0, done = 0, c;
	char first[600] = "";
	unsigned int i;
	char *buf = NULL;
	int ret = 0, r2;

	if (!p)
		return -EINVAL;
	r = p->repo;
	r->err[0] = '\0';
	for (i = 0; i < p->nvol; i++) {
		ret = index_read(p, i, &ix);
		if (ret == -EBADMSG) {
			nbad++;
			snprintf(first, sizeof(first), "%s", r->err);
			ret = 0;
			continue;
		}
		if (ret)
			goto out;
		if (n + ix.count + ix.np > cap) {
			cap = (n + ix.count + ix.np) * 2;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				cbt__index_free(&ix);
				ret = -ENOMEM;
				goto out;
			}
			v = nv;
		}
		for (c = 0; c < ix.count; c++) {
			memcpy(v[n].d, ix.d + c * CBT__DIGEST_LEN, CBT__DIGEST_LEN);
			v[n++].len = (uint32_t)cbt__index_chunk_len(&ix, c);
		}
		for (k = 0; k < ix.np; k++) {
			memcpy(v[n].d, ix.p[k].d, CBT__DIGEST_LEN);
			v[n++].len = (uint32_t)cbt__index_piece_len(&ix, ix.p[k].chunk,
								    ix.p[k].piece);
		}
		cbt__index_free(&ix);
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_vchunk);
	for (k = 0; k < n; k++)
		if (!k || cmp_vchunk(&v[k - 1], &v[k]))
			total += v[k].len;
	buf = malloc(r->chunk_size);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	for (k = 0; k < n; k++) {
		if (k && !cmp_vchunk(&v[k - 1], &v[k]))
			continue;
		r2 = cbt__chunk_get(r, v[k].d, buf, v[k].len);
		if (r2 == -EBADMSG || r2 == -ENOENT) {
			if (!nbad++)
				snprintf(first, sizeof(first), "%s", r->err);
			if (r2 == -EBADMSG)
				cbt__chunk_quarantine(r, v[k].d);
		} else if (r2) {
			ret = r2;
			goto out;
		} else {
			/* read from a good copy: the damaged one is set aside */
			cbt__chunk_quarantine_copy(r, v[k].d);
		}
		done += v[k].len;
		ret = cbt__progress(r, done, total);
		if (ret)
			goto out;
	}
	p->verify = nbad ? CBT_VERIFY_FAILED : CBT_VERIFY_OK;
	p->verify_time = (int64_t)time(NULL);
	ret = manifest_rewrite(p);
	if (!ret && nbad) {
		cbt__repo_err(r, -EBADMSG, "point %" PRIu64 ": %" PRIu64 " bad chunk%s (first: %s)",
			      p->id, nbad, nbad == 1 ? "" : "s", first);
		ret = -EBADMSG;
	}
out:
	if (bad)
		*bad = nbad;
	free(buf);
	free(v);
	return ret;
}

/* ---- new points ---------------------------------------------------------------- */

struct cbt_newpoint {
	struct cbt_repo *repo;
	struct cbt_point pt;	/* what the manifest will say */
	struct cbt_point **chain; /* the chain's points, newest first */
	size_t nchain;
	int dir_fd;		/* workspace/point */
	int auto_type;		/* the type was CBT_POINT_AUTO */
	int committed;
	char ws_name[64];	/* "tmp/<token>" (cbt_newpoint_get_workspace) */
};

int cbt_newpoint_begin(struct cbt_repo *repo, const char *chain, enum cbt_point_type type,
		       struct cbt_newpoint **out)
{
	struct cbt_newpoint *np;
	struct cbt_point *p;
	uint64_t *ids = NULL;
	size_t nids = 0, i;
	int ret;

	if (!repo || !out || type < CBT_POINT_AUTO || type > CBT_POINT_COPY)
		return -EINVAL;
	if (!chain)
		chain = "default";
	if (!*chain || strlen(chain) > 255 || strchr(chain, '\n'))
		return cbt__repo_err(repo, -EINVAL, "bad chain name");
	*out = NULL;
	ret = cbt__repo_workspace(repo);
	if (ret)
		return ret;
	np = calloc(1, sizeof(*np));
	if (!np)
		return -ENOMEM;
	np->repo = repo;
	np->dir_fd = -1;
	np->pt.repo = repo;
	np->pt.type = type;
	np->auto_type = type == CBT_POINT_AUTO;
	np->pt.chain = strdup(chain);
	if (!np->pt.chain) {
		ret = -ENOMEM;
		goto fail;
	}
	np->pt.time = (int64_t)time(NULL);
	if (mkdirat(repo->ws_fd, "point", 0700)) {
		ret = cbt__repo_err(repo, -errno, "tmp/%s/point: %s", repo->token, strerror(errno));
		goto fail;
	}
	np->dir_fd = cbt__open_dir(repo->ws_fd, "point");
	if (np->dir_fd < 0) {
		ret = np->dir_fd;
		goto fail;
	}
	if (type == CBT_POINT_FULL || type == CBT_POINT_COPY)
		goto done;
	/* the chain's points (damaged ones are never a base) */
	ret = cbt_repo_get_points(repo, &ids, &nids);
	if (ret)
		goto fail;
	np->chain = calloc(nids ? nids : 1, sizeof(*np->chain));
	if (!np->chain) {
		free(ids);
		ret = -ENOMEM;
		goto fail;
	}
	for (i = nids; i-- > 0;) {
		if (cbt_point_open(repo, ids[i], &p))
			continue;
		if (strcmp(p->chain, chain)) {
			cbt_point_free(p);
			continue;
		}
		np->chain[np->nchain++] = p;
	}
	free(ids);
done:
	*out = np;
	return 0;
fail:
	cbt_newpoint_free(np);
	return ret;
}

/*
 * Volume @name's base in the chain: its newest point holding the volume
 * (not a COPY; for DIFFERENTIAL, a FULL). -ENODATA when there is none or
 * it failed its last verify; *vi is the volume's index in it.
 */
static int find_base(struct cbt_newpoint *np, enum cbt_point_type type, const char *name,
		     struct cbt_point **base, int *vi)
{
	struct cbt_repo *r = np->repo;
	size_t i;
	int k;

	for (i = 0; i < np->nchain; i++) {
		struct cbt_point *p = np->chain[i];

		if (p->type == CBT_POINT_COPY ||
		    (type == CBT_POINT_DIFFERENTIAL && p->type != CBT_POINT_FULL))
			continue;
		k = cbt_point_find_volume(p, name);
		if (k < 0)
			continue;
		if (p->verify == CBT_VERIFY_FAILED)
			return cbt__repo_err(r, -ENODATA,
					     "%s: point %" PRIu64 " (the base) failed its last verify: take a full backup",
					     name, p->id);
		*base = p;
		*vi = k;
		return 0;
	}
	return cbt__repo_err(r, -ENODATA, "%s: chain '%s' has no %s of it to build on: take a full backup",
			     name, np->pt.chain,
			     type == CBT_POINT_DIFFERENTIAL ? "full backup" : "backup");
}

int cbt_newpoint_get_volume_base(struct cbt_newpoint *np, const char *name, uint64_t *id,
				 const char **stamp)
{
	struct cbt_point *base;
	enum cbt_point_type type;
	int vi, ret;

	if (!np || !name || !id || !stamp)
		return -EINVAL;
	*id = 0;
	*stamp = NULL;
	type = np->pt.type == CBT_POINT_AUTO ? CBT_POINT_INCREMENTAL : np->pt.type;
	if (type == CBT_POINT_FULL || type == CBT_POINT_COPY)
		return 0;
	ret = find_base(np, type, name, &base, &vi);
	if (ret == -ENODATA) {
		np->repo->err[0] = '\0';
		return 0;
	}
	if (ret)
		return ret;
	*id = base->id;
	*stamp = base->vol[vi].stamp;
	return 0;
}

int cbt_newpoint_set_type(struct cbt_newpoint *np, enum cbt_point_type type)
{
	if (!np || np->pt.nvol || np->committed || type < CBT_POINT_FULL ||
	    type > CBT_POINT_COPY)
		return -EINVAL;
	np->pt.type = type;
	np->auto_type = 0;
	return 0;
}

const char *cbt_newpoint_get_workspace(struct cbt_newpoint *np)
{
	if (!np)
		return NULL;
	snprintf(np->ws_name, sizeof(np->ws_name), "tmp/%s", np->repo->token);
	return np->ws_name;
}

enum cbt_point_type cbt_newpoint_get_type(struct cbt_newpoint *np)
{
	return np ? np->pt.type : CBT_POINT_AUTO;
}

uint64_t cbt_newpoint_get_base(struct cbt_newpoint *np)
{
	return np ? np->pt.base : 0;
}

uint64_t cbt_newpoint_get_bytes_read(struct cbt_newpoint *np)
{
	return np ? np->pt.bytes_read : 0;
}

uint64_t cbt_newpoint_get_bytes_stored(struct cbt_newpoint *np)
{
	return np ? np->pt.bytes_stored : 0;
}

int cbt_newpoint_set_app_metadata(struct cbt_newpoint *np, const char *text)
{
	char *s;

	if (!np || (text && strlen(text) > MANIFEST_MAX / 2))
		return -EINVAL;
	s = text ? strdup(text) : NULL;
	if (text && !s)
		return -ENOMEM;
	free(np->pt.app);
	np->pt.app = s;
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

/* Size, sector size, filesystem type and UUID of what @fd holds. */
static void probe_identity(int fd, uint64_t size, struct pvol *pv)
{
	blkid_probe pr = blkid_new_probe();
	const char *val;

	pv->block_size = 512;
	if (!pr)
		return;
	if (blkid_probe_set_device(pr, fd, 0, (blkid_loff_t)size))
		goto out;
	pv->block_size = blkid_probe_get_sectorsize(pr);
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_UUID);
	if (blkid_do_safeprobe(pr) == 0) {
		if (!blkid_probe_lookup_value(pr, "TYPE", &val, NULL))
			pv->fstype = dup_or_null(val);
		if (!blkid_probe_lookup_value(pr, "UUID", &val, NULL))
			pv->fsuuid = dup_or_null(val);
	}
out:
	blkid_free_probe(pr);
}

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/*
 * What a new point reads of each chunk: nothing (its base's digest and
 * patches stand), the pieces the change data names (each stored as a
 * patch), or all of it (a new digest, no patches).
 */
enum { TODO_KEEP, TODO_PIECES, TODO_WHOLE };

#define DIRTY(b, g)	((b)[(g) >> 3] & (1u << ((g) & 7)))

/* Patches a chunk of @ppc pieces may have before it is read whole again. */
static size_t max_patches(uint32_t ppc)
{
	return ppc < 2 ? 0 : ppc < 8 ? 1 : ppc / 4;
}

/*
 * Keep (touch) every chunk @bix names; a missing chunk is read whole
 * again, a missing patch's piece again.
 */
static int keep_base(struct cbt_repo *r, const struct cbt__index *bix, uint8_t *todo,
		     uint8_t *dirty, uint32_t ppc)
{
	uint8_t *missing = malloc((size_t)bix->count + bix->np + 1);
	uint64_t c, g;
	size_t k;
	int ret;

	if (!missing)
		return -ENOMEM;
	ret = cbt__chunks_touch(r, bix->d, bix->count, CBT__DIGEST_LEN, missing);
	if (!ret || ret == -ENOENT)
		ret = cbt__chunks_touch(r, bix->np ? bix->p[0].d : NULL, bix->np,
					sizeof(*bix->p), missing + bix->count);
	if (ret && ret != -ENOENT)
		goto out;
	for (c = 0; c < bix->count; c++)
		todo[c] = missing[c] ? TODO_WHOLE : TODO_KEEP;
	for (k = 0; k < bix->np; k++) {
		if (!missing[bix->count + k])
			continue;
		g = bix->p[k].chunk * ppc + bix->p[k].piece;
		dirty[g >> 3] |= (uint8_t)(1u << (g & 7));
	}
	ret = 0;
out:
	free(missing);
	return ret;
}

/*
 * An incremental on @bix: @ix starts as its copy, the pieces @extents
 * touch are *dirty, and todo[] says what to read of each chunk.
 */
static int plan_update(struct cbt_repo *r, struct cbt__index *ix, const struct cbt__index *bix,
		       const uint64_t *extents, size_t count, uint8_t *todo, uint8_t **dirty)
{
	uint64_t ps = ix->piece_size, c, g, k;
	uint32_t ppc = ix->chunk_size / ix->piece_size, j;
	size_t pi = 0, n, old, nd;
	int ret;

	if (bix->piece_size != ix->piece_size)
		return 0;	/* another layout: read it all */
	*dirty = calloc((size_t)((ix->size + ps - 1) / ps + 7) / 8, 1);
	if (!*dirty)
		return -ENOMEM;
	memcpy(ix->d, bix->d, (size_t)ix->count * CBT__DIGEST_LEN);
	for (k = 0; k < count; k++) {
		uint64_t a = extents[2 * k], len = extents[2 * k + 1];

		for (g = a / ps; len && g <= (a + len - 1) / ps; g++)
			(*dirty)[g >> 3] |= (uint8_t)(1u << (g & 7));
	}
	ret = keep_base(r, bix, todo, *dirty, ppc);
	if (ret)
		return ret;
	for (c = 0; c < ix->count; c++, pi += n) {
		n = chunk_patches(bix, c, pi);
		if (todo[c] == TODO_WHOLE)
			continue;
		nd = old = 0;
		for (j = 0; j < cbt__index_pieces(ix, c); j++)
			nd += !!DIRTY(*dirty, c * ppc + j);
		for (k = 0; k < n; k++)
			old += !DIRTY(*dirty, c * ppc + bix->p[pi + k].piece);
		if (nd)
			todo[c] = nd + old > max_patches(cbt__index_pieces(ix, c)) ?
				  TODO_WHOLE : TODO_PIECES;
	}
	return 0;
}

/* Read @len bytes at @off of the source, store them as a chunk: its digest in @d. */
static int read_put(struct cbt_repo *r, int fd, const char *name, uint64_t off, size_t len,
		    uint8_t *buf, uint8_t d[CBT__DIGEST_LEN], struct pvol *pv)
{
	uint64_t stored;
	int ret;

	ret = cbt__pread_all(fd, buf, len, off);
	if (ret)
		return cbt__repo_err(r, ret, "%s: reading at offset %" PRIu64 ": %s", name, off,
				     ret == -ENODATA ? "shorter than its size" : strerror(-ret));
	cbt__sha256(buf, len, d);
	ret = cbt__chunk_put(r, d, buf, len, &stored);
	if (ret)
		return ret;
	pv->bytes_read += len;
	pv->bytes_stored += stored;
	return 0;
}

/* Chunk @c's pieces: the dirty ones read and patched, the base's other patches kept. */
static int read_pieces(struct cbt_repo *r, int fd, const char *name, struct cbt__index *ix,
		       const struct cbt__index *bix, size_t pi, uint64_t c, const uint8_t *dirty,
		       uint8_t *buf, struct pvol *pv)
{
	uint32_t ppc = ix->chunk_size / ix->piece_size, j;
	uint8_t d[CBT__DIGEST_LEN];
	size_t n = chunk_patches(bix, c, pi), k = 0;
	int ret = 0;

	for (j = 0; !ret && j < cbt__index_pieces(ix, c); j++) {
		while (k < n && bix->p[pi + k].piece < j)
			k++;
		if (DIRTY(dirty, c * ppc + j)) {
			ret = read_put(r, fd, name, c * ix->chunk_size + (uint64_t)j * ix->piece_size,
				       cbt__index_piece_len(ix, c, j), buf, d, pv);
			if (!ret)
				ret = cbt__index_patch(ix, c, j, d);
		} else if (k < n && bix->p[pi + k].piece == j) {
			ret = cbt__index_patch(ix, c, j, bix->p[pi + k].d);
		}
	}
	return ret;
}

/* Read what todo[] says into @ix (the rest is @bix's). */
static int read_chunks(struct cbt_repo *r, int fd, const char *name, struct cbt__index *ix,
		       const struct cbt__index *bix, const uint8_t *todo, const uint8_t *dirty,
		       struct pvol *pv)
{
	uint32_t ppc = ix->chunk_size / ix->piece_size, j;
	uint64_t c, total = 0, before = pv->bytes_read;
	size_t pi = 0, n, k;
	uint8_t *buf;
	int ret = 0;

	for (c = 0; c < ix->count; c++) {
		if (todo[c] == TODO_WHOLE)
			total += cbt__index_chunk_len(ix, c);
		for (j = 0; todo[c] == TODO_PIECES && j < cbt__index_pieces(ix, c); j++)
			if (DIRTY(dirty, c * ppc + j))
				total += cbt__index_piece_len(ix, c, j);
	}
	buf = malloc(ix->chunk_size);
	if (!buf)
		return -ENOMEM;
	for (c = 0; !ret && c < ix->count; c++, pi += n) {
		n = chunk_patches(bix, c, pi);
		if (todo[c] == TODO_WHOLE)
			ret = read_put(r, fd, name, c * ix->chunk_size, cbt__index_chunk_len(ix, c),
				       buf, ix->d + c * CBT__DIGEST_LEN, pv);
		else if (todo[c] == TODO_PIECES)
			ret = read_pieces(r, fd, name, ix, bix, pi, c, dirty, buf, pv);
		for (k = 0; !ret && todo[c] == TODO_KEEP && k < n; k++)
			ret = cbt__index_patch(ix, c, bix->p[pi + k].piece, bix->p[pi + k].d);
		if (!ret && todo[c] != TODO_KEEP)
			ret = cbt__progress(r, pv->bytes_read - before, total);
	}
	free(buf);
	return ret;
}

int cbt_newpoint_add_volume(struct cbt_newpoint *np, const char *name, int fd, uint64_t size,
			    const char *stamp, const uint64_t *extents, size_t count)
{
	struct cbt__index ix = { 0 }, bix = { 0 };
	struct cbt_point *base = NULL;
	struct cbt_repo *r;
	struct pvol *pv, *nv;
	uint8_t *todo = NULL, *dirty = NULL;
	unsigned int vi;
	int bi = -1, ret;
	size_t k;

	if (!np || !name || !*name || strlen(name) > NAME_MAX_LEN || fd < 0 || !size ||
	    size > SIZE_MAX_VOL || (count && !extents) || np->committed)
		return -EINVAL;
	if (stamp && (!*stamp || strlen(stamp) > 128))
		return -EINVAL;
	r = np->repo;
	r->err[0] = '\0';
	for (k = 0; name[k]; k++)
		if ((unsigned char)name[k] < 0x20)
			return cbt__repo_err(r, -EINVAL, "a volume name with a control character");
	if (cbt_point_find_volume(&np->pt, name) >= 0)
		return cbt__repo_err(r, -EEXIST, "%s: already in this point", name);
	if (np->pt.nvol >= VOLUMES_MAX)
		return -E2BIG;
	for (k = 0; k < count; k++)
		if (extents[2 * k] > size || extents[2 * k + 1] > size - extents[2 * k])
			return cbt__repo_err(r, -EINVAL,
					     "%s: extent %" PRIu64 "+%" PRIu64 " lies beyond its %" PRIu64 " bytes",
					     name, extents[2 * k], extents[2 * k + 1], size);
	nv = realloc(np->pt.vol, (np->pt.nvol + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	np->pt.vol = nv;
	vi = np->pt.nvol;
	pv = &nv[vi];
	memset(pv, 0, sizeof(*pv));
	pv->name = strdup(name);
	pv->stamp = stamp ? strdup(stamp) : NULL;
	if (!pv->name || (stamp && !pv->stamp)) {
		pvol_clear(pv);
		return -ENOMEM;
	}
	pv->size = size;
	probe_identity(fd, size, pv);

	ret = cbt__index_init(&ix, r->chunk_size, CBT__PIECE_SIZE, size);
	todo = malloc((size_t)ix.count);
	if (ret || !todo) {
		ret = -ENOMEM;
		goto fail;
	}
	memset(todo, TODO_WHOLE, (size_t)ix.count);

	if (np->pt.type != CBT_POINT_FULL && np->pt.type != CBT_POINT_COPY) {
		ret = find_base(np, np->pt.type == CBT_POINT_AUTO ? CBT_POINT_INCREMENTAL :
				np->pt.type, name, &base, &bi);
		if (!ret && (base->vol[bi].size != size ||
			     !same_str(base->vol[bi].fsuuid, pv->fsuuid))) {
			struct pvol *bv = &base->vol[bi];

			ret = cbt__repo_err(r, -EXDEV,
					    "%s: point %" PRIu64 " holds another volume of this name (%s differs): take a full backup",
					    name, base->id, bv->size != size ? "size" : "filesystem UUID");
		}
		if (ret && !np->auto_type)
			goto fail;
		if (ret) {
			base = NULL;	/* AUTO: read it whole */
			bi = -1;
		}
		if (np->pt.type == CBT_POINT_AUTO)
			np->pt.type = base ? CBT_POINT_INCREMENTAL : CBT_POINT_FULL;
		if (np->pt.type == CBT_POINT_FULL) {
			base = NULL;
			bi = -1;
		}
	}
	if (base) {
		pv->base = base->id;
		if (!vi)
			np->pt.base = base->id;
	}
	if (base && extents) {
		/* the base's index; the pieces the extents touch read again */
		ret = index_read(base, (unsigned int)bi, &bix);
		if (!ret)
			ret = plan_update(r, &ix, &bix, extents, count, todo, &dirty);
		if (ret)
			goto fail;
	}
	ret = read_chunks(r, fd, name, &ix, &bix, todo, dirty, pv);
	if (ret)
		goto fail;
	ret = index_write(r, np->dir_fd, vi, &ix, pv->index_digest);
	if (ret)
		goto fail;
	np->pt.nvol++;
	np->pt.bytes_read += pv->bytes_read;
	np->pt.bytes_stored += pv->bytes_stored;
	ret = 0;
	goto out;
fail:
	pvol_clear(pv);
out:
	free(dirty);
	free(todo);
	cbt__index_free(&bix);
	cbt__index_free(&ix);
	return ret;
}

/* The next id: above every point there and above the last one committed. */
static uint64_t next_id(struct cbt_repo *r)
{
	uint64_t *ids = NULL, last = 0, v;
	size_t n = 0, len;
	char *text;

	if (!cbt__repo_read_file(r, r->dfd, "last-id", 64, &text, &len)) {
		text[strcspn(text, "\n")] = '\0';
		if (!cbt__point_name_id(text, &v))
			last = v;
		free(text);
	}
	if (!cbt_repo_get_points(r, &ids, &n) && n && ids[n - 1] > last)
		last = ids[n - 1];
	free(ids);
	return last + 1;
}

int cbt_newpoint_commit(struct cbt_newpoint *np, uint64_t *id)
{
	struct cbt_repo *r;
	char name[24], *text;
	int ret;

	if (!np || np->committed)
		return -EINVAL;
	r = np->repo;
	if (!np->pt.nvol)
		return cbt__repo_err(r, -EINVAL, "a point without volumes");
	/* chunks on disk before anything names them (indexes are synced) */
	ret = cbt__chunks_sync(r);
	if (ret)
		return ret;
	ret = cbt__flock(r->lock_fd, LOCK_EX);
	if (ret)
		return ret;
	np->pt.id = next_id(r);
	text = manifest_text(&np->pt);
	if (!text) {
		ret = -ENOMEM;
		goto out;
	}
	ret = cbt__repo_write_file(r, np->dir_fd, "manifest.json", text, strlen(text));
	free(text);
	if (ret)
		goto out;
	snprintf(name, sizeof(name), "%" PRIu64, np->pt.id);
	if (renameat(r->ws_fd, "point", r->points_fd, name)) {
		ret = cbt__repo_err(r, -errno, "points/%s: %s", name, strerror(errno));
		goto out;
	}
	if (fsync(r->points_fd))
		ret = cbt__repo_err(r, -errno, "points: sync: %s", strerror(errno));
	if (!ret)
		ret = cbt__repo_write_file(r, r->dfd, "last-id", name, strlen(name));
	/* Not durable, or its id could be reused: take it back out of sight. */
	if (ret && !renameat(r->points_fd, name, r->ws_fd, "point"))
		goto out;
	np->committed = 1;
	if (id)
		*id = np->pt.id;
out:
	cbt__flock(r->lock_fd, LOCK_UN);
	return ret;
}

void cbt_newpoint_free(struct cbt_newpoint *np)
{
	unsigned int i;

	if (!np)
		return;
	if (np->dir_fd >= 0)
		close(np->dir_fd);
	if (!np->committed && np->repo->ws_fd >= 0)
		cbt__rmtree(np->repo->ws_fd, "point");
	for (i = 0; i < np->nchain; i++)
		cbt_point_free(np->chain[i]);
	free(np->chain);
	for (i = 0; i < np->pt.nvol; i++)
		pvol_clear(&np->pt.vol[i]);
	free(np->pt.vol);
	free(np->pt.chain);
	free(np->pt.app);
	writers_clear(&np->pt);
	free(np);
}

/* ---- diff of two points (export) ---------------------------------------------- */

/* Do chunk @c's patches in @x (from @xi) and @y (from @yi) differ? */
static int patches_differ(const struct cbt__index *x, size_t xi, size_t xn,
			  const struct cbt__index *y, size_t yi, size_t yn)
{
	size_t k;

	if (xn != yn)
		return 1;
	for (k = 0; k < xn; k++)
		if (x->p[xi + k].piece != y->p[yi + k].piece ||
		    memcmp(x->p[xi + k].d, y->p[yi + k].d, CBT__DIGEST_LEN))
			return 1;
	return 0;
}

/* The digest piece @j of a chunk takes from its patches (NULL: from the chunk). */
static const uint8_t *piece_src(const struct cbt__index *x, size_t xi, size_t xn, uint32_t j)
{
	size_t k;

	for (k = 0; k < xn; k++)
		if (x->p[xi + k].piece == j)
			return x->p[xi + k].d;
	return NULL;
}

/*
 * Hand @fn what chunk @c (its bytes in @buf) differs in from the same
 * chunk of @fx, which has the same digest: the pieces whose patches
 * differ, adjacent ones together.
 */
static int diff_pieces(const struct cbt__index *ix, size_t pi, size_t pn,
		       const struct cbt__index *fx, size_t fi, size_t fn_, uint64_t c,
		       const uint8_t *buf, cbt_chunk_fn fn, void *data)
{
	uint32_t j, start = 0, np = cbt__index_pieces(ix, c);
	int run = 0, ret = 0;

	for (j = 0; !ret && j <= np; j++) {
		const uint8_t *a = j < np ? piece_src(ix, pi, pn, j) : NULL;
		const uint8_t *b = j < np ? piece_src(fx, fi, fn_, j) : NULL;
		int differ = j < np && ((!a) != (!b) || (a && memcmp(a, b, CBT__DIGEST_LEN)));

		if (differ && !run) {
			start = j;
			run = 1;
		} else if (!differ && run) {
			size_t off = (size_t)start * ix->piece_size;
			size_t end = (size_t)(j - 1) * ix->piece_size +
				     cbt__index_piece_len(ix, c, j - 1);

			ret = fn(data, c * ix->chunk_size + off, buf + off, end - off);
			run = 0;
		}
	}
	return ret;
}

int cbt_point_diff(struct cbt_point *p, unsigned int i, struct cbt_point *from,
		   unsigned int from_i, cbt_chunk_fn fn, void *data)
{
	uint8_t zero_full[CBT__DIGEST_LEN], zero_tail[CBT__DIGEST_LEN];
	struct cbt__index ix = { 0 }, fx = { 0 };
	size_t pi = 0, fi = 0, pn, fn_;
	struct cbt_repo *r;
	uint64_t c;
	uint8_t *buf;
	int ret;

	if (!p || i >= p->nvol || !fn || (from && (from_i >= from->nvol || from->repo != p->repo)))
		return -EINVAL;
	r = p->repo;
	if (from && strcmp(p->vol[i].name, from->vol[from_i].name))
		return cbt__repo_err(r, -EXDEV, "point %" PRIu64 "'s %s and point %" PRIu64
				     "'s %s are not the same volume", p->id, p->vol[i].name,
				     from->id, from->vol[from_i].name);
	ret = index_read(p, i, &ix);
	if (!ret && from)
		ret = index_read(from, from_i, &fx);
	if (ret)
		goto out_index;
	buf = calloc(1, ix.chunk_size);
	if (!buf) {
		ret = -ENOMEM;
		goto out_index;
	}
	cbt__sha256(buf, ix.chunk_size, zero_full);
	cbt__sha256(buf, cbt__index_chunk_len(&ix, ix.count - 1), zero_tail);
	for (c = 0; c < ix.count; c++, fi += fn_) {
		const uint8_t *d = ix.d + c * CBT__DIGEST_LEN;
		size_t len = cbt__index_chunk_len(&ix, c), p0 = pi;
		int same_base;

		pn = chunk_patches(&ix, c, pi);
		fn_ = c < fx.count ? chunk_patches(&fx, c, fi) : 0;
		/*
		 * The same digest over the same length is the same bytes; a
		 * chunk past the old end compares with zeroes (what a grown
		 * image reads there), as does every chunk from empty.
		 */
		same_base = c < fx.count && cbt__index_chunk_len(&fx, c) == len &&
			    !memcmp(d, fx.d + c * CBT__DIGEST_LEN, CBT__DIGEST_LEN) &&
			    fx.piece_size == ix.piece_size;
		if (same_base && !patches_differ(&ix, pi, pn, &fx, fi, fn_)) {
			pi += pn;
			goto next;
		}
		if (c >= fx.count && !pn &&
		    !memcmp(d, len == ix.chunk_size ? zero_full : zero_tail, CBT__DIGEST_LEN))
			goto next;
		ret = chunk_load(r, &ix, c, &pi, buf);
		if (ret) {
			cbt__repo_err(r, ret, "point %" PRIu64 ", %s, offset %" PRIu64 ": %s", p->id,
				      p->vol[i].name, c * ix.chunk_size, r->err);
			break;
		}
		if (same_base)
			ret = diff_pieces(&ix, p0, pn, &fx, fi, fn_, c, buf, fn, data);
		else
			ret = fn(data, c * ix.chunk_size, buf, len);
		if (ret) {
			cbt__repo_err(r, ret, "offset %" PRIu64 ": %s", c * ix.chunk_size,
				      strerror(-ret));
			break;
		}
next:
		ret = cbt__progress(r, c * ix.chunk_size + len, ix.size);
		if (ret)
			break;
	}
	free(buf);
out_index:
	cbt__index_free(&fx);
	cbt__index_free(&ix);
	return ret;
}

/* ---- writers ------------------------------------------------------------------- */

static int writer_text_dup(const char *s, char **out)
{
	*out = NULL;
	if (!s || !*s)
		return 0;
	*out = strndup(s, 511);
	return *out ? 0 : -ENOMEM;
}

int cbt_newpoint_add_writer(struct cbt_newpoint *np, const char *name, const char *outcome,
			    const char *failed_phase, const char *error,
			    const char *message, const void *stamp, size_t len)
{
	struct pwriter *p, *w;
	int ret = 0;

	if (!np || !name || !*name || strlen(name) > 63 || !outcome ||
	    (strcmp(outcome, "ok") && strcmp(outcome, "failed") && strcmp(outcome, "skipped")) ||
	    (len && !stamp))
		return -EINVAL;
	if (len > WRITER_STAMP_MAX || np->pt.nwr == WRITERS_MAX)
		return -E2BIG;
	p = realloc(np->pt.wr, (np->pt.nwr + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	np->pt.wr = p;
	w = &p[np->pt.nwr];
	memset(w, 0, sizeof(*w));
	w->name = strdup(name);
	w->outcome = strdup(outcome);
	if (!w->name || !w->outcome)
		ret = -ENOMEM;
	if (!ret)
		ret = writer_text_dup(failed_phase, &w->failed_phase);
	if (!ret)
		ret = writer_text_dup(error, &w->error);
	if (!ret)
		ret = writer_text_dup(message, &w->message);
	if (!ret && len) {
		w->stamp = malloc(len);
		if (!w->stamp)
			ret = -ENOMEM;
		else
			memcpy(w->stamp, stamp, len);
		w->stamp_len = len;
	}
	np->pt.nwr++;	/* freed with the point even when half filled */
	if (ret) {
		writers_clear(&np->pt);
	}
	return ret;
}

static const struct pwriter *pwriter(struct cbt_point *p, unsigned int i)
{
	return p && i < p->nwr ? &p->wr[i] : NULL;
}

unsigned int cbt_point_get_writer_count(struct cbt_point *point)
{
	return point ? point->nwr : 0;
}

const char *cbt_point_get_writer_name(struct cbt_point *point, unsigned int i)
{
	const struct pwriter *w = pwriter(point, i);

	return w ? w->name : NULL;
}

const char *cbt_point_get_writer_outcome(struct cbt_point *point, unsigned int i)
{
	const struct pwriter *w = pwriter(point, i);

	return w ? w->outcome : NULL;
}

const char *cbt_point_get_writer_failed_phase(struct cbt_point *point, unsigned int i)
{
	const struct pwriter *w = pwriter(point, i);

	return w ? w->failed_phase : NULL;
}

const char *cbt_point_get_writer_error(struct cbt_point *point, unsigned int i)
{
	const struct pwriter *w = pwriter(point, i);

	return w ? w->error : NULL;
}

const char *cbt_point_get_writer_message(struct cbt_point *point, unsigned int i)
{
	const struct pwriter *w = pwriter(point, i);

	return w ? w->message : NULL;
}

const void *cbt_point_get_writer_stamp(struct cbt_point *point, unsigned int i, size_t *len)
{
	const struct pwriter *w = pwriter(point, i);
	size_t l = w ? w->stamp_len : 0;

	if (len)
		*len = l;
	return l ? w->stamp : NULL;
}
