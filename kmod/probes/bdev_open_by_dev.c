/* 6.7-6.8: opening a block device returns a struct bdev_handle. */
#include <linux/blkdev.h>
void cbt_probe(dev_t dev);
void cbt_probe(dev_t dev)
{
	struct bdev_handle *h = bdev_open_by_dev(dev, BLK_OPEN_READ, NULL, NULL);

	if (!IS_ERR(h))
		bdev_release(h);
}
