// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * index.c - a point's index of one volume (points/<ID>/volume-<N>.idx):
 * for each chunk of the volume the digest of its bytes, and the pieces an
 * incremental replaced without reading the whole chunk again ("patches":
 * piece k of chunk c is the chunk named by the patch's digest). The
 * layout, all numbers little-endian (docs/repository-format.md):
 *
 *   0   8  magic "CBTINDX2"
 *   8   4  version (2)
 *   12  4  chunk size, bytes
 *   16  8  volume size, bytes
 *   24  8  chunk count = ceil(size / chunk size)
 *   32  4  piece size, bytes (a power of two, at most the chunk size)
 *   36  4  zero
 *   40  8  patch count
 *   48  16 zero
 *   64  32 * count  SHA-256 of each chunk's bytes when it was last read
 *                   whole, in volume order
 *   ..  44 * patches  chunk number (8), piece number (4), SHA-256 of the
 *                   piece's bytes; sorted by chunk, then piece, no repeats
 *   end 32 SHA-256 of everything above; the manifest names it too
 *
 * A chunk's bytes are its digest's chunk with its patches laid over it.
 * The last chunk holds size - (count - 1) * chunk size bytes, its last
 * piece what is left of it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "repo.h"

#define INDEX_MAGIC	"CBTINDX2"
#define INDEX_HDR	64
#define PATCH_LEN	44

size_t cbt__index_chunk_len(const struct cbt__index *ix, uint64_t c)
{
	uint64_t off = c * ix->chunk_size;

	return (size_t)(ix->size - off < ix->chunk_size ? ix->size - off : ix->chunk_size);
}

uint32_t cbt__index_pieces(const struct cbt__index *ix, uint64_t c)
{
	return (uint32_t)((cbt__index_chunk_len(ix, c) + ix->piece_size - 1) / ix->piece_size);
}

size_t cbt__index_piece_len(const struct cbt__index *ix, uint64_t c, uint32_t k)
{
	size_t len = cbt__index_chunk_len(ix, c), off = (size_t)k * ix->piece_size;

	return len - off < ix->piece_size ? len - off : ix->piece_size;
}

int cbt__index_init(struct cbt__index *ix, uint32_t chunk_size, uint32_t piece_size, uint64_t size)
{
	memset(ix, 0, sizeof(*ix));
	ix->chunk_size = chunk_size;
	ix->piece_size = piece_size;
	ix->size = size;
	ix->count = (size + chunk_size - 1) / chunk_size;
	ix->d = calloc((size_t)ix->count, CBT__DIGEST_LEN);
	return ix->d ? 0 : -ENOMEM;
}

void cbt__index_free(struct cbt__index *ix)
{
	free(ix->d);
	free(ix->p);
	ix->d = NULL;
	ix->p = NULL;
	ix->np = ix->cap = 0;
}

int cbt__index_patch(struct cbt__index *ix, uint64_t c, uint32_t k, const uint8_t d[CBT__DIGEST_LEN])
{
	struct cbt__patch *p;

	if (ix->np == ix->cap) {
		size_t cap = ix->cap ? ix->cap * 2 : 256;

		p = realloc(ix->p, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		ix->p = p;
		ix->cap = cap;
	}
	p = &ix->p[ix->np++];
	p->chunk = c;
	p->piece = k;
	memcpy(p->d, d, CBT__DIGEST_LEN);
	return 0;
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)cbt__le32(p) | (uint64_t)cbt__le32(p + 4) << 32;
}

size_t cbt__index_max_len(uint32_t chunk_size, uint32_t piece_size, uint64_t size)
{
	uint64_t count = (size + chunk_size - 1) / chunk_size;

	return INDEX_HDR + (size_t)count * CBT__DIGEST_LEN + CBT__DIGEST_LEN +
	       (size_t)count * (chunk_size / piece_size) * PATCH_LEN;
}

/* The patches of @b (checked: in order, each inside its chunk). */
static int parse_patches(struct cbt__index *ix, const uint8_t *b, size_t np)
{
	size_t i;

	ix->p = malloc((np ? np : 1) * sizeof(*ix->p));
	if (!ix->p)
		return -ENOMEM;
	ix->cap = np;
	for (i = 0; i < np; i++, b += PATCH_LEN) {
		struct cbt__patch *p = &ix->p[i];

		p->chunk = get64(b);
		p->piece = cbt__le32(b + 8);
		memcpy(p->d, b + 12, CBT__DIGEST_LEN);
		if (p->chunk >= ix->count || p->piece >= cbt__index_pieces(ix, p->chunk))
			return -EBADMSG;
		if (i && (p->chunk < p[-1].chunk ||
			  (p->chunk == p[-1].chunk && p->piece <= p[-1].piece)))
			return -EBADMSG;
		ix->np++;
	}
	return 0;
}

int cbt__index_parse(const uint8_t *b, size_t len, uint32_t chunk_size, uint64_t size,
		     const uint8_t digest[CBT__DIGEST_LEN], struct cbt__index *ix)
{
	uint8_t dg[CBT__DIGEST_LEN];
	uint64_t count = (size + chunk_size - 1) / chunk_size, np;
	size_t fixed = INDEX_HDR + (size_t)count * CBT__DIGEST_LEN + CBT__DIGEST_LEN;
	uint32_t ps;
	int ret;

	memset(ix, 0, sizeof(*ix));
	if (len < fixed || memcmp(b, INDEX_MAGIC, 8) || cbt__le32(b + 8) != 2 ||
	    cbt__le32(b + 12) != chunk_size || get64(b + 16) != size || get64(b + 24) != count)
		return -EBADMSG;
	ps = cbt__le32(b + 32);
	np = get64(b + 40);
	if (ps < 4096 || ps > chunk_size || (ps & (ps - 1)) || np > (len - fixed) / PATCH_LEN ||
	    len != fixed + (size_t)np * PATCH_LEN)
		return -EBADMSG;
	cbt__sha256(b, len - CBT__DIGEST_LEN, dg);
	if (memcmp(dg, b + len - CBT__DIGEST_LEN, CBT__DIGEST_LEN) ||
	    (digest && memcmp(dg, digest, CBT__DIGEST_LEN)))
		return -EBADMSG;
	ix->chunk_size = chunk_size;
	ix->piece_size = ps;
	ix->size = size;
	ix->count = count;
	ix->d = malloc((size_t)count * CBT__DIGEST_LEN + 1);
	if (!ix->d)
		return -ENOMEM;
	memcpy(ix->d, b + INDEX_HDR, (size_t)count * CBT__DIGEST_LEN);
	ret = parse_patches(ix, b + INDEX_HDR + (size_t)count * CBT__DIGEST_LEN, (size_t)np);
	if (ret)
		cbt__index_free(ix);
	return ret;
}

int cbt__index_write(struct cbt_repo *r, int dirfd, const char *name, const struct cbt__index *ix,
		     uint8_t digest[CBT__DIGEST_LEN])
{
	size_t len = INDEX_HDR + (size_t)ix->count * CBT__DIGEST_LEN + ix->np * PATCH_LEN +
		     CBT__DIGEST_LEN;
	uint8_t *b = calloc(1, len), *q;
	size_t i;
	int ret;

	if (!b)
		return -ENOMEM;
	memcpy(b, INDEX_MAGIC, 8);
	le32(b + 8, 2);
	le32(b + 12, ix->chunk_size);
	le64(b + 16, ix->size);
	le64(b + 24, ix->count);
	le32(b + 32, ix->piece_size);
	le64(b + 40, ix->np);
	memcpy(b + INDEX_HDR, ix->d, (size_t)ix->count * CBT__DIGEST_LEN);
	q = b + INDEX_HDR + (size_t)ix->count * CBT__DIGEST_LEN;
	for (i = 0; i < ix->np; i++, q += PATCH_LEN) {
		le64(q, ix->p[i].chunk);
		le32(q + 8, ix->p[i].piece);
		memcpy(q + 12, ix->p[i].d, CBT__DIGEST_LEN);
	}
	cbt__sha256(b, len - CBT__DIGEST_LEN, digest);
	memcpy(b + len - CBT__DIGEST_LEN, digest, CBT__DIGEST_LEN);
	ret = cbt__repo_write_file(r, dirfd, name, b, len);
	free(b);
	return ret;
}
