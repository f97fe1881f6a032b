#!/usr/bin/python3
"""Print the tracking benchmark's JSON results as a table."""
import json
import sys

for path in sys.argv[1:]:
    r = json.load(open(path))
    print(f"\nkernel {r['kernel']}  ({r['fio']}, {r['device']}, "
          f"{r['seconds_per_run']} s runs, ratio to bare: median [min..max])")
    print(f"{'setup':<28}{'QD1':>24}{'QD32':>24}")
    for s, label in (("tracked", "cbt tracking"),
                     ("other_tracked", "cbt, device not tracked"),
                     ("dm_era", "dm-era (same block size)")):
        cells = []
        for qd in (1, 32):
            x = r["ratios"][f"{s}_qd{qd}"]
            cells.append(f"{x['median']:.3f} [{x['min']:.2f}..{x['max']:.2f}]")
        print(f"{label:<28}{cells[0]:>24}{cells[1]:>24}")
    print(f"{'bare IOPS (median)':<28}{r['ratios']['tracked_qd1']['bare_iops_median']:>24}"
          f"{r['ratios']['tracked_qd32']['bare_iops_median']:>24}")
    m, c = r["map"], r["changes_16tib"]
    print(f"map memory: {m['bytes_per_tib_written_64k_blocks'] / 2**20:.1f} MiB per TiB written (64K blocks); "
          f"idle 16 TiB volume: {m['idle_bytes_16tib']} bytes")
    print(f"changes on 16 TiB, {c['percent_written']}% written: {c['extents']} extents in "
          f"{c['seconds']:.2f} s (map {c['map_bytes'] / 2**20:.1f} MiB)")
