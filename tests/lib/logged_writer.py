#!/usr/bin/python3
"""Random 4 KiB O_DIRECT writes with a log of when each began.

usage: logged_writer.py DEVICE LOG STOPFILE

Until STOPFILE exists, writes random bytes to random 4 KiB blocks of
DEVICE; before each write it appends "START_NS OFFSET LENGTH" to LOG
(flushed), START_NS being the wall clock (CLOCK_REALTIME) just before the
write was issued. A write logged with START_NS after a checkpoint returned
was issued after it, so it must be reported since that stamp.
"""
import mmap
import os
import random
import sys
import time


def main():
    dev, log, stop = sys.argv[1:4]
    fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
    nblocks = os.lseek(fd, 0, os.SEEK_END) // 4096
    buf = mmap.mmap(-1, 4096)
    with open(log, "w") as out:
        while not os.path.exists(stop):
            buf[:] = os.urandom(4096)
            blk = random.randrange(nblocks)
            out.write(f"{time.time_ns()} {blk * 4096} 4096\n")
            out.flush()
            os.pwritev(fd, [buf], blk * 4096)
    os.close(fd)


if __name__ == "__main__":
    main()
