#!/usr/bin/env python3
"""Write an increasing sequence number to block 0 of each device in turn
(O_DIRECT, one 4 KiB block each), A then B, until killed. The number
written to a device only grows, and B gets n only after A has it."""
import mmap
import os
import sys

fds = [os.open(p, os.O_WRONLY | os.O_DIRECT) for p in sys.argv[1:]]
buf = mmap.mmap(-1, 4096)
n = 0
while True:
    n += 1
    buf.seek(0)
    buf.write((b"%020d\n" % n) * (4096 // 21) + b"\n" * (4096 % 21))
    for fd in fds:
        os.pwrite(fd, buf, 0)
