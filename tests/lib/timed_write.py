#!/usr/bin/python3
"""Write random bytes with O_DIRECT and say when the write had completed.

usage: timed_write.py DEVICE OFFSET LENGTH OUT

Writes LENGTH random bytes at byte OFFSET of DEVICE (O_DIRECT, so the
write has completed on the device when pwrite returns), then writes to OUT
the wall-clock time (CLOCK_REALTIME, nanoseconds) taken right after pwrite
returned: the write completed no later than that.
"""
import mmap
import os
import sys
import time


def main():
    dev, off, length, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    buf = mmap.mmap(-1, length)         # page-aligned, as O_DIRECT needs
    buf.write(os.urandom(length))
    fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
    try:
        if os.pwritev(fd, [buf], off) != length:
            sys.exit("short write")
    finally:
        os.close(fd)
    done = time.time_ns()
    with open(out, "w") as f:
        f.write(f"{done}\n")


if __name__ == "__main__":
    main()
