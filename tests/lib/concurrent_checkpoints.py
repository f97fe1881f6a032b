#!/usr/bin/python3
"""Checkpoints taken while writers run: every write that started after a
checkpoint returned must be reported since that stamp, and no write that
completed before the checkpoint was asked for may be (each block is
written once, so there is no ambiguity).

usage: concurrent_checkpoints.py CBT_SNAP DEVICE NBLOCKS
(4 KiB blocks; the device must be attached with --block-size 4K)
"""
import mmap
import os
import subprocess
import sys
import threading
import time

cbt, dev, nblocks = sys.argv[1], sys.argv[2], int(sys.argv[3])
events = []          # (block, t_start, t_end) per write
lock = threading.Lock()
stamps = []          # (stamp, t_start, t_end) per checkpoint
taken = threading.Condition()
PACE = 500           # a writer waits for a new checkpoint every PACE writes


def writer(first, step):
    fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, 4096)
    buf.write(os.urandom(4096))
    seen = 0
    for n, b in enumerate(range(first, nblocks, step)):
        # However slow checkpoints are (process starts under TCG), some
        # fall between the writes, not only before or after them.
        if n and n % PACE == 0:
            with taken:
                taken.wait_for(lambda: len(stamps) > seen, timeout=60)
                seen = len(stamps)
        t0 = time.monotonic()
        os.pwritev(fd, [buf], b * 4096)
        t1 = time.monotonic()
        with lock:
            events.append((b, t0, t1))
    os.close(fd)


threads = [threading.Thread(target=writer, args=(i, 2)) for i in range(2)]
for t in threads:
    t.start()
while any(t.is_alive() for t in threads):
    t0 = time.monotonic()
    s = subprocess.run([cbt, "checkpoint", dev], check=True,
                       capture_output=True, text=True).stdout.strip()
    t1 = time.monotonic()
    with taken:
        stamps.append((s, t0, t1))
        taken.notify_all()
    time.sleep(0.05)
for t in threads:
    t.join()

bad = 0
for s, c0, c1 in stamps:
    out = subprocess.run([cbt, "changes", dev, "--since", s], check=True,
                         capture_output=True, text=True).stdout
    reported = set()
    for line in out.split("\n"):
        if line:
            off, ln = map(int, line.split())
            reported.update(range(off // 4096, (off + ln) // 4096))
    after = {b for b, w0, w1 in events if w0 > c1}
    before = {b for b, w0, w1 in events if w1 < c0}
    missed = after - reported
    extra = before & reported
    if missed or extra:
        bad += 1
        print(f"{s}: missed {sorted(missed)[:10]} extra {sorted(extra)[:10]}")
print(f"{len(stamps)} checkpoints under {len(events)} writes, {bad} wrong")
sys.exit(1 if bad or len(stamps) < 3 else 0)
