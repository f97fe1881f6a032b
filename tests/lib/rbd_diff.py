#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Print the records of an rbd diff v1 stream (Ceph's doc/dev/rbd-diff.rst),
one a line, read independently of cbt's writer:

    f NAME | t NAME | s SIZE | w OFFSET LENGTH ZEROES | z OFFSET LENGTH | e

ZEROES is 1 when a 'w' record's data is all zero bytes. Exits 1 on a stream
that breaks the format (bad header, unknown tag, short record, bytes after
'e', a metadata record after data, data records out of order or past the
size).
"""
import struct
import sys


def main(path):
    data = open(path, "rb").read() if path != "-" else sys.stdin.buffer.read()
    head = b"rbd diff v1\n"
    if not data.startswith(head):
        sys.exit("bad header")
    pos, size, end, in_data = len(head), None, 0, False

    def take(n):
        nonlocal pos
        if pos + n > len(data):
            sys.exit("short record at byte %d" % pos)
        b = data[pos:pos + n]
        pos += n
        return b

    while True:
        tag = take(1)
        if tag in (b"f", b"t"):
            if in_data:
                sys.exit("metadata after data")
            (n,) = struct.unpack("<I", take(4))
            print(tag.decode(), take(n).decode())
        elif tag == b"s":
            if in_data:
                sys.exit("metadata after data")
            (size,) = struct.unpack("<Q", take(8))
            print("s", size)
        elif tag in (b"w", b"z"):
            in_data = True
            off, n = struct.unpack("<QQ", take(16))
            if off < end or size is None or off + n > size:
                sys.exit("record %s %d %d out of order or range" % (tag, off, n))
            end = off + n
            if tag == b"w":
                print("w", off, n, int(take(n).count(0) == n))
            else:
                print("z", off, n)
        elif tag == b"e":
            print("e")
            if pos != len(data):
                sys.exit("%d bytes after 'e'" % (len(data) - pos))
            return
        else:
            sys.exit("unknown tag %r at byte %d" % (tag, pos - 1))


if __name__ == "__main__":
    main(sys.argv[1])
