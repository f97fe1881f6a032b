#!/usr/bin/env python3
"""A reader of the repository's pack files, written from
docs/repository-format.md alone (not from lib/): the tests use it to find,
damage and remove one chunk, and it shows the format can be read in
another language.

  packs.py chunks REPO          DIGEST PACK OFFSET FRAME-LENGTH CHUNK-LENGTH per chunk
  packs.py where REPO DIGEST    packs/PACK OFFSET FRAME-LENGTH
  packs.py drop REPO DIGEST     rewrite its pack without it (a chunk deleted)
  packs.py check REPO           every pack's table matches its name
"""
import hashlib
import os
import struct
import sys

ENTRY = 40
TRAILER = 48


def table(path):
    """The pack's entries (digest hex, offset, frame length, chunk length)."""
    with open(path, "rb") as f:
        data = f.read()
    magic, count, zero, tsum = struct.unpack("<8sII32s", data[-TRAILER:])
    if magic != b"CBTPACK1" or zero != 0 or count == 0:
        raise ValueError(f"{path}: not a pack")
    tab = data[-TRAILER - ENTRY * count:-TRAILER]
    if hashlib.sha256(tab).digest() != tsum:
        raise ValueError(f"{path}: table does not match its SHA-256")
    if tsum.hex() != os.path.basename(path):
        raise ValueError(f"{path}: table does not match the pack's name")
    out, off = [], 0
    for i in range(count):
        d, clen, ulen = struct.unpack_from("<32sII", tab, i * ENTRY)
        out.append((d.hex(), off, clen, ulen))
        off += clen
    if off != len(data) - TRAILER - ENTRY * count:
        raise ValueError(f"{path}: frames do not end where the table starts")
    return data, out


def packs(repo):
    d = os.path.join(repo, "packs")
    return sorted(os.path.join(d, n) for n in os.listdir(d)
                  if len(n) == 64 and all(c in "0123456789abcdef" for c in n))


def where(repo, digest):
    for p in packs(repo):
        for d, off, clen, _ in table(p)[1]:
            if d == digest:
                return p, off, clen
    sys.exit(f"chunk {digest}: not in any pack")


def drop(repo, digest):
    p, _, _ = where(repo, digest)
    data, ents = table(p)
    frames, tab = b"", b""
    for d, off, clen, ulen in ents:
        if d != digest:
            frames += data[off:off + clen]
            tab += struct.pack("<32sII", bytes.fromhex(d), clen, ulen)
    os.unlink(p)
    if tab:
        tsum = hashlib.sha256(tab).digest()
        trailer = struct.pack("<8sII32s", b"CBTPACK1", len(tab) // ENTRY, 0, tsum)
        new = os.path.join(os.path.dirname(p), tsum.hex())
        with open(new, "wb") as f:
            f.write(frames + tab + trailer)
        os.chmod(new, 0o600)


def main():
    cmd, repo = sys.argv[1], sys.argv[2]
    if cmd == "chunks":
        for p in packs(repo):
            for d, off, clen, ulen in table(p)[1]:
                print(d, os.path.basename(p), off, clen, ulen)
    elif cmd == "where":
        p, off, clen = where(repo, sys.argv[3])
        print(os.path.relpath(p, repo), off, clen)
    elif cmd == "drop":
        drop(repo, sys.argv[3])
    elif cmd == "check":
        for p in packs(repo):
            table(p)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
