#!/usr/bin/python3
"""Write through a shared mapping of a block device and msync it.

usage: mmap_write.py DEVICE OFFSET LENGTH   (OFFSET page-aligned)
"""
import mmap
import os
import sys

dev, off, ln = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(dev, os.O_RDWR)
m = mmap.mmap(fd, ln, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE,
              offset=off)
m[:] = os.urandom(ln)
m.flush()
m.close()
os.close(fd)
