#!/usr/bin/python3
"""Create a snapshot set of VOLUME with STORE opened as MODE, straight
through the ioctl, and print "ok" (the set is destroyed again) or the errno
name.

usage: snap_create_raw.py VOLUME STORE plain|append|direct
"""
import ctypes
import errno
import fcntl
import os
import sys

import cbt_ioctl as c


def main():
    vol, store, mode = sys.argv[1:4]
    flags = os.O_RDWR | {"plain": 0, "append": os.O_APPEND, "direct": os.O_DIRECT}[mode]
    sfd = os.open(store, flags)
    maj, mnr = c.devno(vol)
    members = ctypes.create_string_buffer(c.MEMBER.pack(maj, mnr, 0, 0, b"\0" * 16, 0, 0, 0, 0, 0))
    req = bytearray(c.SNAP_CREATE.pack(ctypes.addressof(members), 1, 1, sfd, 0, 0, 0, 0,
                                       0, 0, 0, 0))
    fd = c.ctl()
    try:
        fcntl.ioctl(fd, c.IOC_SNAP_CREATE, req, True)
    except OSError as e:
        print(errno.errorcode[e.errno])
        return 0
    set_id = c.SNAP_CREATE.unpack(req)[6]
    fcntl.ioctl(fd, c.IOC_SNAP_DESTROY, bytearray(c.SNAP_DESTROY.pack(set_id, 0, 0, 0)), True)
    print("ok")
    return 0


sys.exit(main())
