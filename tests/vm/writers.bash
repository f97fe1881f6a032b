# Shared by the writer suites (88-writers, 88-writers-races, 89-writer-cli):
# waiting on a writer's output, and writer-tool writers in the background.
# A suite sets WT (tests/writer-tool) and WPIDS=() before using writer.

# wait_for FILE REGEX [SECONDS]: until a line of FILE matches.
wait_for() {
	local i
	for ((i = 0; i < ${3:-20} * 10; i++)); do
		grep -qE "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "timed out waiting for '$2' in $1:" >&2
	cat "$1" >&2
	return 1
}

# writer NAME ARGS...: a writer in the background, output in $BATS_TEST_TMPDIR/NAME.
writer() {
	local name=$1
	shift
	"$WT" writer --name "$name" "$@" >"$BATS_TEST_TMPDIR/$name" 2>&1 &
	WPIDS+=($!)
	wait_for "$BATS_TEST_TMPDIR/$name" '^REGISTERED'
}

# events NAME: the phases writer NAME was sent, in order, one line.
events() {
	awk '$1 == "EVENT" {printf "%s ", $3}' "$BATS_TEST_TMPDIR/$1"
}
