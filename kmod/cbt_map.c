// SPDX-License-Identifier: GPL-2.0
/*
 * cbt_map.c - the change map (see cbt_map.h).
 *
 * Two levels of pages: a directory page holds CBT_DIR_LEAVES leaf pointers,
 * a leaf page holds one byte for each of CBT_LEAF_BLOCKS blocks. Pages are
 * allocated on the first write that touches them, without sleeping, and
 * published with cmpxchg(); they are only freed with the whole map, after
 * the tracker has made sure no writer can still see it. So writers need no
 * lock, and the query side only needs the map to stay alive.
 */
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sched.h>
#include <linux/blk_types.h>
#include "cbt_map.h"

#define CBT_MAP_GFP	(GFP_NOWAIT | __GFP_NOWARN | __GFP_ZERO)

static inline u64 leaf_index(u64 block)
{
	return block / CBT_LEAF_BLOCKS;
}

struct cbt_map *cbt_map_alloc(u64 nr_sects, unsigned int block_shift)
{
	u64 nr_blocks = DIV_ROUND_UP_ULL(nr_sects, 1ull << (block_shift - SECTOR_SHIFT));
	u64 nr_leaves = DIV_ROUND_UP_ULL(nr_blocks, CBT_LEAF_BLOCKS);
	u64 nr_dirs = DIV_ROUND_UP_ULL(nr_leaves, CBT_DIR_LEAVES);
	struct cbt_map *map;

	if (nr_dirs > INT_MAX / sizeof(void *))
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
		u8 **dir = map->dirs[d];

		if (!dir)
			continue;
		for (l = 0; l < CBT_DIR_LEAVES; l++)
			if (dir[l])
				free_page((unsigned long)dir[l]);
		free_page((unsigned long)dir);
	}
	kvfree(map);
}

size_t cbt_map_bytes(const struct cbt_map *map)
{
	return struct_size(map, dirs, map->nr_dirs) +
	       atomic_long_read(&map->nr_pages) * PAGE_SIZE;
}

/* Publish a new zeroed page at *slot, or return the one a racer put there. */
static void *install_page(struct cbt_map *map, void **slot)
{
	void *page = READ_ONCE(*slot);
	void *old;

	if (page)
		return page;
	page = (void *)__get_free_page(CBT_MAP_GFP);
	if (!page)
		return NULL;
	old = cmpxchg(slot, NULL, page);
	if (old) {
		free_page((unsigned long)page);
		return old;
	}
	atomic_long_inc(&map->nr_pages);
	return page;
}

/* The leaf holding @block, or NULL; allocated when @create is set. */
static u8 *get_leaf(struct cbt_map *map, u64 block, bool create)
{
	u64 li = leaf_index(block);
	u8 **dir = READ_ONCE(map->dirs[li / CBT_DIR_LEAVES]);
	u8 *leaf;

	if (!dir) {
		if (!create)
			return NULL;
		dir = install_page(map, (void **)&map->dirs[li / CBT_DIR_LEAVES]);
		if (!dir)
			return NULL;
	}
	leaf = READ_ONCE(dir[li % CBT_DIR_LEAVES]);
	if (!leaf && create)
		leaf = install_page(map, (void **)&dir[li % CBT_DIR_LEAVES]);
	return leaf;
}

int cbt_map_mark(struct cbt_map *map, u64 first, u64 last, u8 code)
{
	u64 b = first;

	while (b <= last) {
		u64 end = min(last, (leaf_index(b) + 1) * CBT_LEAF_BLOCKS - 1);
		u8 *leaf = get_leaf(map, b, true);
		unsigned int i = b % CBT_LEAF_BLOCKS;
		unsigned int n = end - b + 1;

		if (!leaf)
			return -ENOMEM;
		if (n == CBT_LEAF_BLOCKS) {
			memset(leaf, code, CBT_LEAF_BLOCKS);
		} else {
			/* Skip the store when nothing changes: keeps lines clean. */
			for (; n; n--, i++)
				if (READ_ONCE(leaf[i]) != code)
					WRITE_ONCE(leaf[i], code);
		}
		b = end + 1;
	}
	return 0;
}

/* Accumulates runs of wanted blocks across leaves for cbt_map_scan(). */
struct scan_run {
	u64 start;
	u64 count;
	cbt_map_emit_fn emit;
	void *ctx;
};

/* Adds block @b to the run; false when a finished run was refused. */
static bool run_add(struct scan_run *run, u64 b)
{
	if (run->count && run->start + run->count == b) {
		run->count++;
		return true;
	}
	if (run->count && !run->emit(run->ctx, run->start, run->count))
		return false;
	run->start = b;
	run->count = 1;
	return true;
}

u64 cbt_map_scan(struct cbt_map *map, u64 first, u64 last,
		 const bool wanted[256], cbt_map_emit_fn emit, void *ctx)
{
	struct scan_run run = { .emit = emit, .ctx = ctx };
	u64 b = first;

	if (!map->nr_blocks || first >= map->nr_blocks)
		return first;
	if (last >= map->nr_blocks)
		last = map->nr_blocks - 1;
	while (b <= last) {
		u64 end = min(last, (leaf_index(b) + 1) * CBT_LEAF_BLOCKS - 1);
		u8 *leaf = get_leaf(map, b, false);

		if (leaf) {
			u8 *p = leaf + b % CBT_LEAF_BLOCKS;
			u8 *stop = leaf + end % CBT_LEAF_BLOCKS + 1;

			while (p < stop) {
				p = memchr_inv(p, 0, stop - p);
				if (!p)
					break;
				if (wanted[READ_ONCE(*p)]) {
					u64 blk = (b - b % CBT_LEAF_BLOCKS) + (p - leaf);

					if (!run_add(&run, blk))
						return run.start;
				}
				p++;
			}
		}
		b = end + 1;
		cond_resched();
	}
	if (run.count && !emit(ctx, run.start, run.count))
		return run.start;
	return last + 1;
}

void cbt_map_sweep(struct cbt_map *map, const bool stale[256])
{
	unsigned long d, l, i;

	for (d = 0; d < map->nr_dirs; d++) {
		u8 **dir = READ_ONCE(map->dirs[d]);

		if (!dir)
			continue;
		for (l = 0; l < CBT_DIR_LEAVES; l++) {
			u8 *leaf = READ_ONCE(dir[l]);

			if (!leaf)
				continue;
			for (i = 0; i < CBT_LEAF_BLOCKS; i++) {
				u8 v = READ_ONCE(leaf[i]);

				/* A writer storing a fresh code meanwhile wins. */
				if (stale[v])
					cmpxchg(&leaf[i], v, 0);
			}
			cond_resched();
		}
	}
}

static bool count_run(void *ctx, u64 first, u64 count)
{
	*(u64 *)ctx += count;
	return true;
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
