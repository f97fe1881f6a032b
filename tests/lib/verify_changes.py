#!/usr/bin/python3
"""Compare `cbt-snap changes` output with ground truth.

usage: verify_changes.py BLOCK_SIZE WRITTEN CHANGES [--exact] [--device-size N]

WRITTEN holds one "OFFSET LENGTH" line (bytes) per range actually written.
CHANGES holds `cbt-snap changes` text output.
Fails when a written byte lies outside every reported extent (a missed
write), and with --exact also when a reported block holds no written byte
(over-reporting beyond block granularity). Reported extents must have a
positive length, be sorted and disjoint, and with --device-size N lie
inside the device's N bytes.
"""
import sys


def blocks(ranges, bs):
    out = set()
    for off, ln in ranges:
        if ln <= 0:
            continue
        out.update(range(off // bs, (off + ln - 1) // bs + 1))
    return out


def read_ranges(path):
    ranges = []
    with open(path) as f:
        for line in f:
            line = line.split('#')[0].strip()
            if line:
                off, ln = line.split()
                ranges.append((int(off), int(ln)))
    return ranges


def main():
    argv = sys.argv[1:]
    device_size = None
    if '--device-size' in argv:
        i = argv.index('--device-size')
        device_size = int(argv[i + 1])
        del argv[i:i + 2]
    args = [a for a in argv if not a.startswith('--')]
    exact = '--exact' in argv
    bs = int(args[0])
    written = blocks(read_ranges(args[1]), bs)
    reported_ranges = read_ranges(args[2])
    end = 0
    for off, ln in reported_ranges:
        if ln <= 0:
            print(f"bad extent {off} {ln}")
            return 1
        if off < end:
            print(f"extent {off} {ln} overlaps or precedes the one before (ends at {end})")
            return 1
        end = off + ln
        if device_size is not None and end > device_size:
            print(f"extent {off} {ln} ends past the device ({device_size} bytes)")
            return 1
    reported = blocks(reported_ranges, bs)
    missed = sorted(written - reported)
    extra = sorted(reported - written)
    print(f"written blocks {len(written)}, reported {len(reported)}, "
          f"missed {len(missed)}, extra {len(extra)}")
    if missed:
        print("MISSED blocks (first 20):", missed[:20])
        return 1
    if exact and extra:
        print("EXTRA blocks (first 20):", extra[:20])
        return 1
    return 0


sys.exit(main())
