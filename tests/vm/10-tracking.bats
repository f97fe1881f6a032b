#!/usr/bin/env bats
# Tracking basics on a brd ramdisk: attach, checkpoint, changes, status.

load helpers

setup_file() {
	# Loaded before (a probe of major 1 loads it with its defaults)? Then
	# with our size.
	rmmod brd 2>/dev/null || true
	modprobe brd rd_nr=1 rd_size=131072 max_part=4
}

teardown_file() {
	rmmod brd 2>/dev/null || true
}

setup() {
	long_gate
	common_setup
	DEV=/dev/ram0
}

teardown() {
	cbt detach "$DEV" 2>/dev/null || true
	[ -z "${ODD:-}" ] || { cbt detach "$ODD" 2>/dev/null || true; del_loop "$ODD"; }
}

@test "version reports the module and its ABI" {
	run cbt version
	[ "$status" -eq 0 ]
	[[ "$output" == *"module: 0.1.0 (ABI 1)"* ]]
}

@test "attach, checkpoint and changes report exactly the blocks written" {
	cbt attach "$DEV"
	STAMP=$(cbt checkpoint "$DEV")
	[[ "$STAMP" =~ ^[0-9a-f-]{36}:[0-9]+$ ]]
	write_direct "$DEV" 0 4096 0
	write_direct "$DEV" $((65536 * 10 + 512)) 512 0
	write_direct "$DEV" $((65536 * 20 - 4096)) 8192 0
	write_direct "$DEV" $((128 * 1024 * 1024 - 4096)) 4096 0
	verify_changes "$DEV" 65536 --exact
	# Adjacent blocks 19 and 20 come as one extent.
	grep -qx "$((65536 * 19)) 131072" "$BATS_TEST_TMPDIR/changes"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/changes")" -eq 4 ]
}

@test "generations: each stamp sees exactly what came after it" {
	cbt attach "$DEV" --block-size 4K
	S1=$(cbt checkpoint "$DEV")
	write_direct "$DEV" 40960 4096 0
	S2=$(cbt checkpoint "$DEV")
	: >"$WRITTEN"
	write_direct "$DEV" 81920 4096 0
	STAMP=$S2 verify_changes "$DEV" 4096 --exact
	echo "40960 4096" >>"$WRITTEN"
	STAMP=$S1 verify_changes "$DEV" 4096 --exact
	# A rewrite of an older block moves it to the newest generation.
	S3=$(cbt checkpoint "$DEV")
	: >"$WRITTEN"
	write_direct "$DEV" 40960 4096 0
	STAMP=$S3 verify_changes "$DEV" 4096 --exact
}

@test "block sizes from 4K to 1M, extents clipped to the device" {
	for bs in 4096 16K 1M; do
		cbt attach "$DEV" --block-size "$bs"
		STAMP=$(cbt checkpoint "$DEV")
		: >"$WRITTEN"
		write_direct "$DEV" 3145728 4096 0
		b=$(cbt status "$DEV" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["volumes"][0]["block-size"])')
		verify_changes "$DEV" "$b" --exact
		cbt detach "$DEV"
	done
}

@test "status shows identity, generation, memory; JSON has every field" {
	cbt attach "$DEV" --block-size 64K
	cbt checkpoint "$DEV" >/dev/null
	write_direct "$DEV" 0 4096 0
	run cbt status "$DEV" --json
	[ "$status" -eq 0 ]
	echo "$output" | python3 -c '
import json, sys
s = json.load(sys.stdin)["volumes"][0]
assert s["device"] == "/dev/ram0", s
assert s["block-size"] == 65536 and s["blocks"] == 2048, s
assert s["generation"] == 2 and s["changed"] == 1, s
assert 0 < s["map-bytes"] < 65536, s
assert len(s["tracker-uuid"]) == 36 and s["lost"] is False, s
for k in ("maj:min", "size", "oldest", "fstype", "fsuuid"):
    assert k in s, k
'
	run cbt status
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "DEVICE "*"MAJ:MIN"*"MAP-BYTES"* ]]
	[[ "${lines[1]}" == "/dev/ram0 1:0 "* ]]
}

@test "status: one object with a volumes array, typed values, -o, --raw, --noheadings" {
	cbt attach "$DEV" --block-size 4K
	write_direct "$DEV" 8192 4096 0
	cbt status --json >"$BATS_TEST_TMPDIR/all"
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert list(d) == ["volumes"], d
v = [x for x in d["volumes"] if x["device"] == "/dev/ram0"][0]
want = {"device": str, "maj:min": str, "tracker-uuid": str, "generation": int,
        "oldest": int, "block-size": int, "size": int, "blocks": int, "changed": int,
        "map-bytes": int, "lost": bool, "fstype": type(None), "fsuuid": type(None)}
assert {k: type(x) for k, x in v.items()} == want, v
assert v["size"] == 128 << 20 and v["changed"] == 1, v
' "$BATS_TEST_TMPDIR/all"
	run cbt status "$DEV" -o size,BLOCK-SIZE,device -r -n
	[ "$status" -eq 0 ]
	[ "$output" = "134217728 4096 /dev/ram0" ]
	run cbt status "$DEV" -o DEVICE,LOST --json
	[ "$output" = "$(printf '{\n   "volumes": [\n      {\n         "device": "/dev/ram0",\n         "lost": false\n      }\n   ]\n}')" ]
	run cbt status "$DEV" -o +TRACKER-UUID -r
	[ "${#lines[@]}" -eq 2 ]
	[ "${lines[0]}" = "DEVICE MAJ:MIN BLOCK-SIZE SIZE GENERATION CHANGED MAP-BYTES LOST FSTYPE TRACKER-UUID" ]
}

@test "changes --json has stamp, block-size and changes" {
	cbt attach "$DEV"
	STAMP=$(cbt checkpoint "$DEV")
	write_direct "$DEV" 131072 4096 0
	run cbt changes "$DEV" --since "$STAMP" --json
	[ "$status" -eq 0 ]
	echo "$output" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert list(d) == ["stamp", "block-size", "changes"], d
assert d["stamp"] == sys.argv[1], d
assert d["block-size"] == 65536, d
assert d["changes"] == [{"offset": 131072, "length": 65536}], d
' "$STAMP"
}

@test "changes --json: one extent a line, the same extents as the text, empty is []" {
	cbt attach "$DEV" --block-size 4K
	STAMP=$(cbt checkpoint "$DEV")
	run cbt changes "$DEV" --since "$STAMP" --json
	[ "$status" -eq 0 ]
	[ "$output" = "{\"stamp\": \"$STAMP\", \"block-size\": 4096, \"changes\": []}" ]
	write_direct_many "$DEV" 512 0 $(seq 0 8192 $((400 * 4096)))
	cbt changes "$DEV" --since "$STAMP" >"$BATS_TEST_TMPDIR/text"
	cbt changes "$DEV" --since "$STAMP" --json >"$BATS_TEST_TMPDIR/json"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/text")" -eq 201 ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/json")" -eq 203 ]
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
text = [tuple(map(int, l.split())) for l in open(sys.argv[2])]
assert len(text) == 201
assert [(e["offset"], e["length"]) for e in d["changes"]] == text
assert all(type(e["offset"]) is int and type(e["length"]) is int for e in d["changes"])
' "$BATS_TEST_TMPDIR/json" "$BATS_TEST_TMPDIR/text"
}

@test "snapshot list --json: a snapsets array, members as children, typed values" {
	cbt attach "$DEV"
	cbt snapshot create "$DEV" --store "$BATS_TEST_TMPDIR/store:8M" --no-freeze --json >"$BATS_TEST_TMPDIR/created"
	cbt snapshot list --json >"$BATS_TEST_TMPDIR/list"
	id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["snapsets"][0]["id"])' "$BATS_TEST_TMPDIR/created")
	run cbt snapshot list -r -n -o ID,STATE,VOLUME
	cbt snapshot destroy "$id"
	[ "${lines[0]}" = "$id ok " ]
	[ "${lines[1]}" = "$id ok /dev/ram0" ]
	python3 -c '
import json, sys
c = json.load(open(sys.argv[1]))
l = json.load(open(sys.argv[2]))
assert list(c) == ["snapsets"] and list(l) == ["snapsets"], (c, l)
s = c["snapsets"][0]
assert s == [x for x in l["snapsets"] if x["id"] == s["id"]][0], (s, l)
assert s["state"] == ["ok"], s
for k in ("id", "store-size", "store-used", "stores", "chunks-copied", "hold-ns"):
    assert type(s[k]) is int, k
assert s["store-size"] == 8 << 20 and s["stores"] == 1, s
assert s["volume"] is None and s["image"] is None, s
assert len(s["children"]) == 1, s
m = s["children"][0]
assert m["id"] == s["id"] and m["state"] == ["ok"], m
assert m["volume"] == "/dev/ram0" and m["image"].startswith("/dev/cbt-snap"), m
assert m["frozen"] == 0 and m["quiesced"] is False and m["store-size"] is None, m
assert m["stamp"].count(":") == 1, m
' "$BATS_TEST_TMPDIR/created" "$BATS_TEST_TMPDIR/list"
}

@test "changes over a sub-range and paging through thousands of extents" {
	cbt attach "$DEV" --block-size 4K
	STAMP=$(cbt checkpoint "$DEV")
	# 6000 separate extents: every other 4K block of the first 48 MiB.
	python3 - "$DEV" "$WRITTEN" <<'PY'
import os, sys, mmap
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_DIRECT)
buf = mmap.mmap(-1, 4096)
buf.write(os.urandom(4096))
with open(sys.argv[2], "w") as w:
    for i in range(6000):
        os.pwritev(fd, [buf], i * 8192)
        w.write(f"{i * 8192} 4096\n")
os.close(fd)
PY
	verify_changes "$DEV" 4096 --exact
	[ "$(wc -l <"$BATS_TEST_TMPDIR/changes")" -eq 6000 ]
	run cbt changes "$DEV" --since "$STAMP" --offset 8192 --length 16384
	[ "$status" -eq 0 ]
	[ "$output" = $'8192 4096\n16384 4096' ]
}

@test "hundreds of checkpoints: every recent stamp answers exactly, old ones get ESTALE" {
	cbt attach "$DEV" --block-size 4K
	# One process for the 300 writes and checkpoints (two each would be
	# 600 process starts): checkpoint i, then a 4 KiB O_DIRECT write to
	# block i + 1. The truth: since stamp i exactly blocks i + 1..300 were
	# written. Every stamp is then asked through the ioctl.
	PYTHONPATH=$TLIB python3 - "$DEV" <<'PY'
import errno, mmap, os, sys
import cbt_ioctl as c
dev = sys.argv[1]
fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
ctl = c.ctl()
buf = mmap.mmap(-1, 4096)
stamps = []
for i in range(300):
    stamps.append(c.checkpoint(ctl, dev))
    buf[:] = os.urandom(4096)
    os.pwritev(fd, [buf], (i + 1) * 4096)
stamps.append(c.checkpoint(ctl, dev))
oldest = c.status_dev(ctl, *c.devno(dev))[6]
gens = [int(s.rsplit(":", 1)[1]) for s in stamps]
assert gens == sorted(gens) and len(set(gens)) == len(gens), gens
answered = 0
for i, s in enumerate(stamps):
    try:
        got = c.changes(ctl, dev, s)
    except OSError as e:
        assert e.errno == errno.ESTALE, f"stamp {i} ({s}): {e}"
        assert gens[i] < oldest, f"stamp {i} ({s}) is not older than {oldest}, yet ESTALE"
        assert answered == 0, f"stamp {i} ESTALE after an older stamp answered"
        continue
    assert gens[i] >= oldest, f"stamp {i} ({s}) older than {oldest} answered {got[:3]}"
    want = [((i + 1) * 4096, (300 - i) * 4096)] if i < 300 else []
    assert got == want, f"stamp {i} ({s}): {got[:4]}, want {want}"
    answered += 1
print(f"{answered} of {len(stamps)} stamps answerable (oldest generation {oldest})")
assert answered >= 128, answered
assert answered < len(stamps), "no stamp ever got too old: the ESTALE path went untested"
PY
}

@test "a device whose size is not a multiple of the block size: the last partial block" {
	# 64 MiB + 4 KiB: the last 64K block holds one 4 KiB page. Then
	# 32 MiB + 512: an odd number of sectors.
	for size in $(((64 << 20) + 4096)) $(((32 << 20) + 512)); do
		ODD=$(make_loop "$size")
		[ "$(blockdev --getsize64 "$ODD")" -eq "$size" ]
		cbt attach "$ODD" --block-size 64K
		STAMP=$(cbt checkpoint "$ODD")
		: >"$WRITTEN"
		last=$((size % 4096 ? 512 : 4096))
		write_direct "$ODD" $((size - last)) "$last" 0
		write_direct "$ODD" 0 4096 0
		verify_changes "$ODD" 65536 --exact
		# An extent reaching exactly the device's end, and not past it.
		[ "$(tail -n 1 "$BATS_TEST_TMPDIR/changes")" = "$(((size - 1) / 65536 * 65536)) $((size - (size - 1) / 65536 * 65536))" ]
		# Asked from the partial block on, the same extent.
		run cbt changes "$ODD" --since "$STAMP" --offset $(((size - 1) / 65536 * 65536))
		[ "$status" -eq 0 ]
		[ "$output" = "$(tail -n 1 "$BATS_TEST_TMPDIR/changes")" ]
		cbt detach "$ODD"
		del_loop "$ODD"
		ODD=
	done
}

@test "re-attaching gives a new tracker uuid: old stamps get ESTALE" {
	cbt attach "$DEV"
	OLD=$(cbt checkpoint "$DEV")
	cbt detach "$DEV"
	cbt attach "$DEV"
	run cbt changes "$DEV" --since "$OLD"
	[ "$status" -eq 1 ]
	[[ "$output" == *"take a full backup"* ]]
}

@test "attaching twice is refused, detaching twice too" {
	cbt attach "$DEV"
	run cbt attach "$DEV"
	[ "$status" -eq 1 ]
	[[ "$output" == *"already tracked"* ]]
	cbt detach "$DEV"
	run cbt detach "$DEV"
	[ "$status" -eq 1 ]
	[[ "$output" == *"not tracked"* ]]
}
