#!/usr/bin/python3
"""Print the benchmarks' JSON results as tables."""
import json
import os
import sys


def snapshot_table(r):
    print(f"\nkernel {r['kernel']}, {r.get('clock', 'wall')} clock  snapshot ({r['fio']}, {r['device']}; fresh: "
          f"{r['fresh_ios_per_run']} I/Os a run, steady: {r['steady_seconds_per_run']} s; "
          f"ratio to bare: median [min..max])")
    print(f"{'setup':<28}{'fresh QD1':>20}{'fresh QD32':>20}{'steady QD1':>20}{'steady QD32':>20}")
    for s, label in (("cbt", "cbt snapshot"), ("dm_snapshot", "dm-snapshot")):
        cells = []
        for phase in ("fresh", "steady"):
            for qd in (1, 32):
                x = r["ratios"][f"{s}_{phase}_qd{qd}"]
                cells.append(f"{x['median']:.3f} [{x['min']:.2f}..{x['max']:.2f}]")
        print(f"{label:<28}" + "".join(f"{c:>20}" for c in cells))
    bare = [r["ratios"][f"cbt_{p}_qd{q}"]["bare_iops_median"] for p in ("fresh", "steady") for q in (1, 32)]
    print(f"{'bare IOPS (median)':<28}" + "".join(f"{b:>20}" for b in bare))
    ff = [r["ratios"][f"cbt_fresh_qd{q}"].get("fresh_fraction") for q in (1, 32)]
    print(f"fresh runs: {ff[0]:.0%} (QD1), {ff[1]:.0%} (QD32) of writes were first writes to their chunk")
    h, i = r["hold_us"], r["image_read"]
    print(f"freeze-to-thaw hold, ext4: idle {h['idle']['median'] / 1000:.1f} ms (max {h['idle']['max'] / 1000:.1f}), "
          f"busy {h['busy']['median'] / 1000:.1f} ms (max {h['busy']['max'] / 1000:.1f})")
    print(f"image sequential read, half the chunks copied: {i['image_mb_s']:.0f} MB/s, "
          f"origin {i['origin_mb_s']:.0f} MB/s (ratio {i['ratio']:.2f})")


def backup_table(r):
    print(f"\nkernel {r['kernel']}, {r.get('clock', 'wall')} clock  backup of a {r['volume_mib']} MiB tracked volume "
          f"({r['content']}); incremental after {r['changed_blocks']} of its 64 KiB blocks "
          f"({r['changed_percent']}%) rewritten at random")
    print(f"{'chunks':<8}{'backup':<13}{'guest s':>10}{'CPU s':>10}{'host wall s':>13}{'read MiB':>10}{'stored MiB':>12}")
    for cs, c in r["chunks"].items():
        for kind in ("full", "incremental"):
            x = c[kind]
            print(f"{cs:<8}{kind:<13}{x['guest_seconds']:>10.2f}{x['cpu_seconds']:>10.2f}"
                  f"{x.get('host_wall_seconds', float('nan')):>13.1f}{x['bytes_read'] / 2**20:>10.1f}"
                  f"{x['bytes_stored'] / 2**20:>12.1f}")
        ok = "meets" if c["ratio_guest"] <= 0.05 else "misses"
        print(f"{cs:<8}{'ratio':<13}{c['ratio_guest']:>10.3f}{c['ratio_cpu']:>10.3f}"
              f"{c.get('ratio_host_wall', float('nan')):>13.3f}   incremental/full: {ok} the 5% target "
              f"(repository {c['repo_bytes'] / 2**20:.0f} MiB)")


def writers_hold_table(r):
    print(f"\nkernel {r['kernel']}, {r.get('clock', 'wall')} clock  writers-hold ({r['device']}; hooks "
          f"{r['hooks']}; snapshot create --writers require, median [min..max])")
    print(f"{'writers':<10}{'create ms':>26}{'added ms':>12}{'module hold ms':>18}")
    for n, c in sorted(r["cases"].items(), key=lambda x: int(x[0])):
        x = c["create_ms"]
        cell = f"{x['median']:.1f} [{x['min']:.1f}..{x['max']:.1f}]"
        print(f"{n:<10}{cell:>26}{c['added_ms']:>12.1f}{c['hold_ms']['median']:>18.2f}")


for path in sys.argv[1:]:
    r = json.load(open(path))
    if not isinstance(r, dict) or "kernel" not in r:
        continue  # not a VM bench's (bench/backup-host, bench/chunk-size print their own)
    if os.path.basename(path).startswith("backup-vm-"):
        backup_table(r)
        continue
    if os.path.basename(path).startswith("snapshot-"):
        snapshot_table(r)
        continue
    if os.path.basename(path).startswith("writers-hold-"):
        writers_hold_table(r)
        continue
    print(f"\nkernel {r['kernel']}, {r.get('clock', 'wall')} clock  ({r['fio']}, {r['device']}, "
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
