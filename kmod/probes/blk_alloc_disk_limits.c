/* 6.9+: a disk is allocated with its queue limits (and ERR_PTR on failure). */
#include <linux/blkdev.h>
struct gendisk *cbt_probe(void);
struct gendisk *cbt_probe(void)
{
	struct queue_limits lim = { .logical_block_size = 512 };

	return blk_alloc_disk(&lim, NUMA_NO_NODE);
}
