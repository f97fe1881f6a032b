#!/usr/bin/env bats
# Every assertion in the test suites can fail. bats runs a test under
# set -e, and bash ignores a failure anywhere in `A && B` but in its last
# command: `[ "$status" -eq 2 ] && [[ "$output" == *x* ]]` never checks
# the status. tests/lib/check_assertions.py (its docstring has the rules)
# finds such lines: an assertion ([, [[, test, ((, grep, cmp, diff) left of
# `&&` unless the list ends in break/continue/return/exit (a guard in a
# wait loop), an assertion followed by `|| true`, and `! cmd` in a test.

TOP="$BATS_TEST_DIRNAME/../.."
CHECK="$TOP/tests/lib/check_assertions.py"

@test "no bats or helper file has an assertion that cannot fail" {
	run python3 "$CHECK" "$TOP"/tests/host/*.bats "$TOP"/tests/vm/*.bats "$TOP"/tests/vm/*.bash
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "the checker reports each offender by file:line and nothing legitimate" {
	f=$BATS_TEST_TMPDIR/fixture.bats
	# TEST stands for @test (bats would take it for one of its own here).
	sed 's/^TEST /@test /' >"$f" <<'FIXTURE'
#!/usr/bin/env bats
wait_for() {
	local i
	for i in $(seq 1 10); do
		[ -e "$1" ] && return 0
		[ -e "$1.x" ] && { echo found; return 0; }
		sleep 0.1
	done
	return 1
}

TEST "bad ones" {
	run true
	[ "$status" -eq 0 ] && [[ "$output" == "" ]]
	grep -q x /etc/passwd && [ -s /etc/passwd ]
	[ -n "$output" ] &&
		echo "split over two lines"
	for i in 1 2; do [ "$i" -gt 0 ] && echo "$i"; done
	[ "$status" -eq 0 ] || true
	! grep -q nothing /etc/passwd
}

TEST "good ones" {
	if [ -e /etc/passwd ] && [ -e /etc/group ]; then echo both; fi
	while [ -e /nonexistent ] && [ -e /etc ]; do sleep 1; done
	[[ -e /etc/passwd && -e /etc/group ]]
	echo "a && b" '[ x ] && [ y ]'
	x=$(test -e /etc && echo yes)
	(cd /etc && grep -q root passwd)
	[ -z "${X:-}" ] || { kill "$X"; wait "$X" || true; }
	[ -e /etc ] || [ -e /usr ]
	echo "$output" | grep -E 'warning' || true
	LIST=(a b)
	cat <<<$'x\ny'
	python3 - <<'PY'
assert 1 and 2, "[ a ] && [ b ]"
PY
	# [ a ] && [ b ] in a comment
	[ -n "$x" ] && [ -n "$y" ] && return 0
	case "$1" in
	a) [ -e /etc ] ;;
	esac
}
FIXTURE
	run python3 "$CHECK" "$f"
	echo "$output"
	[ "$status" -eq 1 ]
	# Exactly these lines, each named file:line.
	[ "$(echo "$output" | cut -d: -f1-2 | sort -u | tr '\n' ' ')" = \
		"$f:14 $f:15 $f:16 $f:18 $f:19 $f:20 " ]
	[[ "$output" == *"$f:19: assertion followed by '|| true'"* ]]
	[[ "$output" == *"$f:20: '! cmd' never fails"* ]]
}

@test "the checker finds the pairs an earlier commit split (016dc40)" {
	git -C "$TOP" cat-file -e 016dc40 2>/dev/null || skip "no git history here"
	git -C "$TOP" show 016dc40^:tests/host/cli.bats >"$BATS_TEST_TMPDIR/cli.bats"
	git -C "$TOP" show 016dc40^:tests/vm/60-snapshot.bats >"$BATS_TEST_TMPDIR/60.bats"
	run python3 "$CHECK" "$BATS_TEST_TMPDIR/cli.bats" "$BATS_TEST_TMPDIR/60.bats"
	[ "$status" -eq 1 ]
	# 17 pairs on 17 lines.
	[ "$(echo "$output" | grep -c "left of '&&'")" -eq 17 ]
}

@test "the checker reads arithmetic for loops and i++)) without hanging, and checks inside them" {
	f=$BATS_TEST_TMPDIR/arith.bats
	sed 's/^TEST /@test /' >"$f" <<'FIXTURE'
TEST "arithmetic" {
	for ((i = 0; i < 3; i++)); do
		[ "$i" -ge 0 ] && echo "$i"
	done
	((n++))
}
FIXTURE
	run timeout 20 python3 "$CHECK" "$f"
	echo "$output"
	[ "$status" -eq 1 ]
	[ "$output" = "$f:3: assertion left of '&&' is never checked: one assertion a line" ]
}
