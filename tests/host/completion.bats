#!/usr/bin/env bats
# The bash completion (completion/cbt-snap): commands, options, columns and
# tracked volumes. A stub cbt-snap on PATH stands for the module's answers.

TOP="$BATS_TEST_DIRNAME/../.."

setup() {
	[ -r /usr/share/bash-completion/bash_completion ] || skip "bash-completion is not installed"
	STUB="$BATS_TEST_TMPDIR/bin"
	mkdir -p "$STUB"
	cat >"$STUB/cbt-snap" <<'STUBEOF'
#!/bin/sh
case "$*" in
"status -r -n -o DEVICE") printf '/dev/fakevol0\n/dev/fakevol1\n' ;;
"snapshot list -r -n -o ID") printf '7\n7\n12\n12\n' ;;
*) exit 1 ;;
esac
STUBEOF
	chmod +x "$STUB/cbt-snap"
}

# complete WORDS...: the COMPREPLY for the command line WORDS (the last
# word is the one being completed), one candidate a line.
complete_line() {
	PATH="$STUB:$PATH" bash -c '
		source /usr/share/bash-completion/bash_completion
		source "$0"
		COMP_WORDS=("$@")
		COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
		COMP_LINE="${COMP_WORDS[*]}"
		COMP_POINT=${#COMP_LINE}
		_cbt_snap cbt-snap "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"
	' "$TOP/completion/cbt-snap" "$@"
}

@test "the file is registered for cbt-snap" {
	run bash -c 'source /usr/share/bash-completion/bash_completion; source "$0"; complete -p cbt-snap' "$TOP/completion/cbt-snap"
	[ "$status" -eq 0 ]
	[[ "$output" == *"-F _cbt_snap cbt-snap"* ]]
}

@test "cbt-snap sn<TAB> is snapshot" {
	run complete_line cbt-snap sn
	[ "$status" -eq 0 ]
	[ "$output" = "snapshot" ]
}

@test "cbt-snap <TAB> lists every command" {
	run complete_line cbt-snap ""
	for c in attach detach status checkpoint changes version snapshot writers writer; do
		grep -qx "$c" <<<"$output"
	done
}

@test "repository commands: backup's options and types, list's columns" {
	run complete_line cbt-snap ""
	for c in backup restore verify list prune gc repo; do
		grep -qx "$c" <<<"$output"
	done
	run complete_line cbt-snap backup x --t
	grep -qx -- --to <<<"$output"
	grep -qx -- --type <<<"$output"
	run complete_line cbt-snap backup x --type d
	[ "$output" = "differential" ]
	run complete_line cbt-snap list r -o VER
	[ "$output" = "VERIFY" ]
	run complete_line cbt-snap prune r --keep-l
	[ "$output" = "--keep-last" ]
}

@test "cbt-snap snapshot create --<TAB> contains --store" {
	run complete_line cbt-snap snapshot create --
	grep -qx -- --store <<<"$output"
	grep -qx -- --hold <<<"$output"
	run complete_line cbt-snap snapshot create /dev/x --st
	[ "$output" = "--store" ]
}

@test "snapshot subcommands, and set ids for destroy" {
	run complete_line cbt-snap snapshot d
	[ "$output" = "destroy" ]
	run complete_line cbt-snap snapshot destroy ""
	[ "$output" = "$(printf '7\n12')" ]
}

@test "tracked volumes for detach and checkpoint" {
	run complete_line cbt-snap detach /dev/fake
	[ "$output" = "$(printf '/dev/fakevol0\n/dev/fakevol1')" ]
	run complete_line cbt-snap checkpoint --timeout 1s /dev/fakevol1
	[ "$output" = "/dev/fakevol1" ]
}

@test "status -o completes column names after a comma" {
	run complete_line cbt-snap status -o DEVICE,GEN
	[ "$output" = "DEVICE,GENERATION" ]
	run complete_line cbt-snap snapshot list --output CHU
	[ "$output" = "CHUNKS-COPIED" ]
}

@test "every option the CLI documents is offered" {
	for c in attach detach status checkpoint changes "snapshot create" "snapshot list" "snapshot watch" \
		backup writers "writer run"; do
		# shellcheck disable=SC2086
		opts=$("$TOP/tools/cbt-snap" $c --help | grep -o -- '--[a-z-]*' | sort -u)
		# shellcheck disable=SC2086
		run complete_line cbt-snap $c --
		for o in $opts; do
			grep -qx -- "$o" <<<"$output"
		done
	done
}
