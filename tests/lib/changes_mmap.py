#!/usr/bin/python3
"""Ask for the changes of VOLUME since STAMP into a buffer that is a
MAP_SHARED mapping of FILE (not yet touched, so the kernel's first write to
it faults the page in), and print "extents N".

usage: changes_mmap.py VOLUME STAMP FILE
"""
import ctypes
import fcntl
import mmap
import os
import sys

import cbt_ioctl as c


def main():
    vol, stamp, path = sys.argv[1:4]
    ffd = os.open(path, os.O_RDWR)
    size = os.fstat(ffd).st_size
    buf = mmap.mmap(ffd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    maj, mnr = c.devno(vol)
    u, g = c.parse_stamp(stamp)
    req = bytearray(c.CHANGES.pack(maj, mnr, 0, 0, u, g, 0, 0, addr, size, 0, 0, 0, 0, 0, 0))
    fd = c.ctl()
    fcntl.ioctl(fd, c.IOC_CHANGES, req, True)
    print("extents", c.CHANGES.unpack(req)[11])
    return 0


sys.exit(main())
