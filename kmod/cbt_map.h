/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_map.h - the change map: one byte a block, the generation in which the
 * block was last written, allocated a page at a time on first write.
 *
 * A byte holds 0 ("not written since the map's low-water generation") or
 * cbt_gen_code(gen), a generation folded into 1..255. The tracker keeps
 * every non-zero byte within the last CBT_GEN_WINDOW generations (it sweeps
 * older ones to 0 before they could be mistaken for new ones), so a byte and
 * the open generation together name one generation exactly.
 */
#ifndef CBT_MAP_H
#define CBT_MAP_H

#include <linux/types.h>
#include <linux/atomic.h>
#include <linux/compiler.h>

#define CBT_GEN_WINDOW		255u

/* Blocks per leaf page, and leaf pointers per directory page. */
#define CBT_LEAF_BLOCKS		PAGE_SIZE
#define CBT_DIR_LEAVES		(PAGE_SIZE / sizeof(void *))

struct cbt_map {
	u64 nr_sects;			/* volume size the map was made for */
	u64 nr_blocks;
	unsigned long nr_dirs;
	atomic_long_t nr_pages;		/* directory and leaf pages in use */
	u8 **dirs[];			/* nr_dirs directory pages, lazily */
};

static inline u8 cbt_gen_code(u64 gen)
{
	return (u8)(gen % CBT_GEN_WINDOW) + 1;
}

/* How many generations before @cur the byte @code was written (0..254). */
static inline unsigned int cbt_gen_age(u8 code, u64 cur)
{
	return (cbt_gen_code(cur) + CBT_GEN_WINDOW - code) % CBT_GEN_WINDOW;
}

struct cbt_map *cbt_map_alloc(u64 nr_sects, unsigned int block_shift);
void cbt_map_free(struct cbt_map *map);
size_t cbt_map_bytes(const struct cbt_map *map);

/* Write path: never sleeps; -ENOMEM when a page could not be had. */
int cbt_map_mark(struct cbt_map *map, u64 first, u64 last, u8 code);

/*
 * The write path's common case, inline: blocks [first, last] lie in one
 * leaf that exists already. False (nothing done) otherwise: then
 * cbt_map_mark() does it.
 */
static __always_inline bool cbt_map_mark_fast(struct cbt_map *map, u64 first,
					      u64 last, u8 code)
{
	u64 leaf_nr = first / CBT_LEAF_BLOCKS;
	unsigned int i, end;
	u8 **dir;
	u8 *leaf;

	if (leaf_nr != last / CBT_LEAF_BLOCKS)
		return false;
	dir = READ_ONCE(map->dirs[leaf_nr / CBT_DIR_LEAVES]);
	if (!dir)
		return false;
	leaf = READ_ONCE(dir[leaf_nr % CBT_DIR_LEAVES]);
	if (!leaf)
		return false;
	end = last % CBT_LEAF_BLOCKS;
	/* Skip the store when nothing changes: keeps lines clean. */
	for (i = first % CBT_LEAF_BLOCKS; i <= end; i++)
		if (READ_ONCE(leaf[i]) != code)
			WRITE_ONCE(leaf[i], code);
	return true;
}

/*
 * Query side (process context). A byte table says for each of the 256 byte
 * values whether it is wanted; the scan hands runs of wanted blocks to @emit,
 * which returns false to stop. Returns the block where the scan stopped.
 */
typedef bool (*cbt_map_emit_fn)(void *ctx, u64 first, u64 count);
u64 cbt_map_scan(struct cbt_map *map, u64 first, u64 last,
		 const bool wanted[256], cbt_map_emit_fn emit, void *ctx);

/* Sets every byte whose value @stale marks to 0; concurrent marks win. */
void cbt_map_sweep(struct cbt_map *map, const bool stale[256]);

/* Blocks holding a non-zero byte. */
u64 cbt_map_count_written(struct cbt_map *map);

#endif /* CBT_MAP_H */
