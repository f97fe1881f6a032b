/* 6.8+: filesystems on a block device are frozen with bdev_freeze(). */
#include <linux/blkdev.h>
int cbt_probe(struct block_device *bdev);
int cbt_probe(struct block_device *bdev)
{
	int ret = bdev_freeze(bdev);

	return ret ? ret : bdev_thaw(bdev);
}
