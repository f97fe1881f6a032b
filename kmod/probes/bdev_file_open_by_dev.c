/* 6.9+: opening a block device returns a struct file. */
#include <linux/blkdev.h>
#include <linux/fs.h>
void cbt_probe(dev_t dev);
void cbt_probe(dev_t dev)
{
	struct file *f = bdev_file_open_by_dev(dev, BLK_OPEN_READ, NULL, NULL);

	if (!IS_ERR(f))
		fput(f);
}
