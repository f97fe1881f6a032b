/* 6.5-6.6: blkdev_get_by_dev() takes blk_mode_t and holder ops. */
#include <linux/blkdev.h>
void cbt_probe(dev_t dev);
void cbt_probe(dev_t dev)
{
	struct block_device *b = blkdev_get_by_dev(dev, BLK_OPEN_READ, NULL, NULL);

	if (!IS_ERR(b))
		blkdev_put(b, NULL);
}
