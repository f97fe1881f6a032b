/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cbt_map.h - the change map: for each block, the generation in which it
 * was last written, folded into one byte.
 *
 * A block holds 0 ("not written since the map's low-water generation") or
 * cbt_gen_code(gen), a generation folded into 1..255. The tracker keeps
 * every non-zero code within the last CBT_GEN_WINDOW generations (see
 * cbt_generation.c), so a code and the open generation together name one
 * generation exactly.
 *
 * The map is a two-level tree: directory nodes of CBT_DIR_LEAVES leaves,
 * leaves of CBT_LEAF_BLOCKS blocks (one byte each). A node's slot holds a
 * page, or a *code node*: every block below it holds the same code (0 for
 * "never written", which is where every slot starts). A write that covers
 * a whole leaf or directory only changes that slot, so even a discard of a
 * whole volume allocates at most the pages of its two partial ends; pages
 * are made only where a write covers part of a code node.
 *
 * Marking never lowers a block. A writer marks with the generation it read
 * (g); meanwhile a checkpoint may have opened g + 1 and a second write to
 * the same block marked it with code(g + 1). No writer can hold anything
 * newer than g + 1 while one still marks with g (the checkpoint waits for
 * a grace period before it can open g + 2), so a block holding
 * code(g + 1) is left alone: the caller passes it as @newer.
 */
#ifndef CBT_MAP_H
#define CBT_MAP_H

#include <linux/types.h>
#include <linux/atomic.h>
#include <linux/compiler.h>

#define CBT_GEN_WINDOW		255u

/* Blocks per leaf page, leaves per directory page, blocks per directory. */
#define CBT_LEAF_BLOCKS		PAGE_SIZE
#define CBT_DIR_LEAVES		(PAGE_SIZE / sizeof(unsigned long))
#define CBT_DIR_BLOCKS		((u64)CBT_DIR_LEAVES * CBT_LEAF_BLOCKS)

struct cbt_map {
	u64 nr_sects;			/* volume size the map was made for */
	u64 nr_blocks;
	unsigned long nr_dirs;
	atomic_long_t nr_pages;		/* directory and leaf pages in use */
	unsigned long dirs[];		/* nodes: a page, or a code node */
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

/*
 * A node slot: 0 or an odd value is a code node (the code in the bits
 * above the lowest), anything else the address of a page.
 */
static __always_inline bool cbt_node_is_page(unsigned long node)
{
	return node && !(node & 1);
}

static __always_inline u8 cbt_node_code(unsigned long node)
{
	return node >> 1;
}

static __always_inline unsigned long cbt_code_node(u8 code)
{
	return code ? ((unsigned long)code << 1) | 1 : 0;
}

/* Does a block holding @cur take @code, or is it as new or newer already? */
static __always_inline bool cbt_code_older(u8 cur, u8 code, u8 newer)
{
	return cur != code && cur != newer;
}

/* Mark @count bytes with @code; bytes already at @code or @newer stay. */
static __always_inline void cbt_map_mark_bytes(u8 *p, unsigned int count,
					       u8 code, u8 newer)
{
	unsigned int i;
	u8 v;

	for (i = 0; i < count; i++) {
		v = READ_ONCE(p[i]);
		while (cbt_code_older(v, code, newer)) {
			u8 old = cmpxchg(&p[i], v, code);

			if (old == v)
				break;
			v = old;
		}
	}
}

struct cbt_map *cbt_map_alloc(u64 nr_sects, unsigned int block_shift);
void cbt_map_free(struct cbt_map *map);
size_t cbt_map_bytes(const struct cbt_map *map);

/* Write path: never sleeps; -ENOMEM when a page could not be had. */
int cbt_map_mark(struct cbt_map *map, u64 first, u64 last, u8 code, u8 newer);

/*
 * The write path's common case, inline: blocks [first, last] lie in one
 * leaf page that exists already. False (nothing done) otherwise: then
 * cbt_map_mark() does it.
 */
static __always_inline bool cbt_map_mark_fast(struct cbt_map *map, u64 first,
					      u64 last, u8 code, u8 newer)
{
	u64 leaf_nr = first / CBT_LEAF_BLOCKS;
	unsigned long dir, leaf;

	if (leaf_nr != last / CBT_LEAF_BLOCKS)
		return false;
	dir = READ_ONCE(map->dirs[leaf_nr / CBT_DIR_LEAVES]);
	if (!cbt_node_is_page(dir))
		return false;
	leaf = READ_ONCE(((unsigned long *)dir)[leaf_nr % CBT_DIR_LEAVES]);
	if (!cbt_node_is_page(leaf))
		return false;
	cbt_map_mark_bytes((u8 *)leaf + first % CBT_LEAF_BLOCKS,
			   last - first + 1, code, newer);
	return true;
}

/*
 * Query side (process context). A byte table says for each of the 256 byte
 * values whether it is wanted; the scan hands runs of wanted blocks to
 * @emit, which returns how many of the run's blocks it took: fewer than
 * all stops the scan. Returns the block where the scan stopped (the first
 * block not taken), or @last + 1.
 */
typedef u64 (*cbt_map_emit_fn)(void *ctx, u64 first, u64 count);
u64 cbt_map_scan(struct cbt_map *map, u64 first, u64 last,
		 const bool wanted[256], cbt_map_emit_fn emit, void *ctx);

/* Sets every block whose code @stale marks to 0; concurrent marks win. */
void cbt_map_sweep(struct cbt_map *map, const bool stale[256]);

/* Blocks holding a non-zero code. */
u64 cbt_map_count_written(struct cbt_map *map);

#endif /* CBT_MAP_H */
