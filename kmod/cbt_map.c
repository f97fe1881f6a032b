// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_map.c - the change map (see cbt_map.h).
 *
 * Node slots change only with cmpxchg(): a code node becomes another code
 * node (a write covering all of it) or a page filled with its code (a
 * write covering part of it); a page stays until the whole map is freed,
 * after the tracker has made sure no writer can still see the map. So
 * writers need no lock, pages are allocated without sleeping on the first
 * partial write to a code node, and the query side only needs the map to
 * stay alive.
 */
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sched.h>
#include <linux/blk_types.h>
#include "cbt_map.h"

#define CBT_MAP_GFP	(GFP_NOWAIT | __GFP_NOWARN)

/* Levels of the tree: a leaf's children are blocks, a directory's leaves. */
enum { LEAF, DIR };

static inline u64 level_span(int level)
{
	return level == DIR ? CBT_DIR_BLOCKS : CBT_LEAF_BLOCKS;
}

/* The last block of the node at @base on @level (the map's end cuts it). */
static inline u64 node_last(const struct cbt_map *map, int level, u64 base)
{
	return min(base + level_span(level), map->nr_blocks) - 1;
}

struct cbt_map *cbt_map_alloc(u64 nr_sects, unsigned int block_shift)
{
	u64 nr_blocks = DIV_ROUND_UP_ULL(nr_sects, 1ull << (block_shift - SECTOR_SHIFT));
	u64 nr_dirs = DIV_ROUND_UP_ULL(nr_blocks, CBT_DIR_BLOCKS);
	struct cbt_map *map;

	if (nr_dirs > INT_MAX / sizeof(unsigned long))
		return NULL;
	map = kvzalloc(struct_size(map, dirs, nr_dirs), GFP_KERNEL);
	if (!map)
		return NULL;
	map->nr_sects = nr_sects;
	map->nr_blocks = nr_blocks;
	map->nr_dirs = nr_dirs;
	atomic_long_set(&map->nr_pages, 0);
	return map;
}

void cbt_map_free(struct cbt_map *map)
{
	unsigned long d, l;

	if (!map)
		return;
	for (d = 0; d < map->nr_dirs; d++) {
		unsigned long *dir = (unsigned long *)map->dirs[d];

		if (!cbt_node_is_page(map->dirs[d]))
			continue;
		for (l = 0; l < CBT_DIR_LEAVES; l++)
			if (cbt_node_is_page(dir[l]))
				free_page(dir[l]);
		free_page((unsigned long)dir);
	}
	kvfree(map);
}

size_t cbt_map_bytes(const struct cbt_map *map)
{
	return struct_size(map, dirs, map->nr_dirs) +
	       atomic_long_read(&map->nr_pages) * PAGE_SIZE;
}

/* ---- marking ------------------------------------------------------------ */

/*
 * Replace the code node *@node in @slot with a page holding its code in
 * every block. On return *@node is what the slot holds now: our page, or
 * whatever a racer put there. -ENOMEM when no page could be had.
 */
static int split_node(struct cbt_map *map, unsigned long *slot, int level,
		      unsigned long *node)
{
	unsigned long page, old;
	unsigned int i;

	page = __get_free_page(CBT_MAP_GFP);
	if (!page)
		return -ENOMEM;
	if (level == LEAF)
		memset((void *)page, cbt_node_code(*node), PAGE_SIZE);
	else
		for (i = 0; i < CBT_DIR_LEAVES; i++)
			((unsigned long *)page)[i] = *node;
	/* cmpxchg orders the page's content before its address. */
	old = cmpxchg(slot, *node, page);
	if (old != *node) {
		free_page(page);
		*node = old;
		return 0;
	}
	atomic_long_inc(&map->nr_pages);
	*node = page;
	return 0;
}

/* Blocks [first, last] under the node in @slot, which starts at @base. */
static int mark_node(struct cbt_map *map, unsigned long *slot, int level,
		     u64 base, u64 first, u64 last, u8 code, u8 newer)
{
	bool whole = first == base && last == node_last(map, level, base);
	unsigned long node = READ_ONCE(*slot), old, *leaves;
	u64 b, leaf_base, end;
	int ret;

	while (!cbt_node_is_page(node)) {
		if (!whole) {
			ret = split_node(map, slot, level, &node);
			if (ret)
				return ret;
			continue;
		}
		if (!cbt_code_older(cbt_node_code(node), code, newer))
			return 0;
		old = cmpxchg(slot, node, cbt_code_node(code));
		if (old == node)
			return 0;
		node = old;
	}
	if (level == LEAF) {
		cbt_map_mark_bytes((u8 *)node + (first - base), last - first + 1,
				   code, newer);
		return 0;
	}
	leaves = (unsigned long *)node;
	for (b = first; b <= last; b = end + 1) {
		leaf_base = b - (b - base) % CBT_LEAF_BLOCKS;
		end = min(last, leaf_base + CBT_LEAF_BLOCKS - 1);
		ret = mark_node(map, &leaves[(leaf_base - base) / CBT_LEAF_BLOCKS],
				LEAF, leaf_base, b, end, code, newer);
		if (ret)
			return ret;
	}
	return 0;
}

int cbt_map_mark(struct cbt_map *map, u64 first, u64 last, u8 code, u8 newer)
{
	u64 b, base, end;
	int ret;

	for (b = first; b <= last; b = end + 1) {
		base = b - b % CBT_DIR_BLOCKS;
		end = min(last, node_last(map, DIR, base));
		ret = mark_node(map, &map->dirs[base / CBT_DIR_BLOCKS], DIR,
				base, b, end, code, newer);
		if (ret)
			return ret;
	}
	return 0;
}

/* ---- queries ------------------------------------------------------------ */

/* Accumulates runs of wanted blocks across nodes for cbt_map_scan(). */
struct scan_run {
	u64 start;
	u64 count;
	u64 stop;		/* where the emitter stopped taking */
	cbt_map_emit_fn emit;
	void *ctx;
	const bool *wanted;
};

/* Hands the run to the emitter; false when it did not take all of it. */
static bool run_flush(struct scan_run *run)
{
	u64 taken = run->emit(run->ctx, run->start, run->count);

	if (taken >= run->count)
		return true;
	run->stop = run->start + taken;
	return false;
}

/* Adds blocks [b, b + n) to the run; false when the emitter stopped. */
static bool run_add(struct scan_run *run, u64 b, u64 n)
{
	if (run->count && run->start + run->count == b) {
		run->count += n;
		return true;
	}
	if (run->count && !run_flush(run))
		return false;
	run->start = b;
	run->count = n;
	return true;
}

static bool scan_bytes(struct scan_run *run, const u8 *leaf, u64 base,
		       u64 first, u64 last)
{
	const u8 *p = leaf + (first - base), *stop = leaf + (last - base) + 1;

	while (p < stop) {
		p = memchr_inv(p, 0, stop - p);
		if (!p)
			break;
		if (run->wanted[READ_ONCE(*p)] && !run_add(run, base + (p - leaf), 1))
			return false;
		p++;
	}
	return true;
}

/* Blocks [first, last] under @node at @base; false when the emitter stops. */
static bool scan_node(struct scan_run *run, const struct cbt_map *map,
		      unsigned long node, int level, u64 base, u64 first,
		      u64 last)
{
	const unsigned long *leaves;
	u64 b, leaf_base, end;

	if (!cbt_node_is_page(node)) {
		u8 code = cbt_node_code(node);

		return !code || !run->wanted[code] ||
		       run_add(run, first, last - first + 1);
	}
	if (level == LEAF)
		return scan_bytes(run, (const u8 *)node, base, first, last);
	leaves = (const unsigned long *)node;
	for (b = first; b <= last; b = end + 1) {
		leaf_base = b - (b - base) % CBT_LEAF_BLOCKS;
		end = min(last, leaf_base + CBT_LEAF_BLOCKS - 1);
		if (!scan_node(run, map,
			       READ_ONCE(leaves[(leaf_base - base) / CBT_LEAF_BLOCKS]),
			       LEAF, leaf_base, b, end))
			return false;
		cond_resched();
	}
	return true;
}

u64 cbt_map_scan(struct cbt_map *map, u64 first, u64 last,
		 const bool wanted[256], cbt_map_emit_fn emit, void *ctx)
{
	struct scan_run run = { .emit = emit, .ctx = ctx, .wanted = wanted };
	u64 b, base, end;

	if (!map->nr_blocks || first >= map->nr_blocks)
		return first;
	if (last >= map->nr_blocks)
		last = map->nr_blocks - 1;
	for (b = first; b <= last; b = end + 1) {
		base = b - b % CBT_DIR_BLOCKS;
		end = min(last, node_last(map, DIR, base));
		if (!scan_node(&run, map, READ_ONCE(map->dirs[base / CBT_DIR_BLOCKS]),
			       DIR, base, b, end))
			return run.stop;
		cond_resched();
	}
	if (run.count && !run_flush(&run))
		return run.stop;
	return last + 1;
}

/* ---- the sweep ---------------------------------------------------------- */

static void sweep_node(unsigned long *slot, int level, const bool stale[256])
{
	unsigned long node = READ_ONCE(*slot), old;
	unsigned int i;

	/*
	 * A writer storing a fresh code meanwhile wins; one that split the
	 * stale code into a page meanwhile leaves the page to be swept.
	 */
	while (!cbt_node_is_page(node)) {
		if (!node || !stale[cbt_node_code(node)])
			return;
		old = cmpxchg(slot, node, 0);
		if (old == node)
			return;
		node = old;
	}
	if (level == DIR) {
		for (i = 0; i < CBT_DIR_LEAVES; i++) {
			sweep_node(&((unsigned long *)node)[i], LEAF, stale);
			cond_resched();
		}
		return;
	}
	for (i = 0; i < CBT_LEAF_BLOCKS; i++) {
		u8 *p = (u8 *)node + i, v = READ_ONCE(*p);

		if (stale[v])
			cmpxchg(p, v, 0);
	}
}

void cbt_map_sweep(struct cbt_map *map, const bool stale[256])
{
	unsigned long d;

	for (d = 0; d < map->nr_dirs; d++)
		sweep_node(&map->dirs[d], DIR, stale);
}

static u64 count_run(void *ctx, u64 first, u64 count)
{
	*(u64 *)ctx += count;
	return count;
}

u64 cbt_map_count_written(struct cbt_map *map)
{
	bool nonzero[256];
	u64 n = 0;

	memset(nonzero, 1, sizeof(nonzero));
	nonzero[0] = false;
	if (map->nr_blocks)
		cbt_map_scan(map, 0, map->nr_blocks - 1, nonzero, count_run, &n);
	return n;
}
