#!/usr/bin/python3
"""Copy the extents listed in CHANGES (cbt-snap changes text output) from
SOURCE into TARGET: an incremental restore.

usage: apply_extents.py CHANGES SOURCE TARGET
"""
import sys

with open(sys.argv[1]) as c, open(sys.argv[2], 'rb') as src, \
        open(sys.argv[3], 'r+b') as dst:
    for line in c:
        off, ln = map(int, line.split())
        src.seek(off)
        dst.seek(off)
        dst.write(src.read(ln))
