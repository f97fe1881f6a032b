#!/usr/bin/python3
"""Write "OFFSET LENGTH" for every BLOCK_SIZE block that differs between two
images (the ground truth of what a workload changed on a device).

usage: image_diff.py BLOCK_SIZE IMAGE_A IMAGE_B
"""
import sys

bs = int(sys.argv[1])
with open(sys.argv[2], 'rb') as a, open(sys.argv[3], 'rb') as b:
    off = 0
    while True:
        x = a.read(bs)
        y = b.read(bs)
        if not x and not y:
            break
        if x != y:
            print(off, max(len(x), len(y)))
        off += bs
