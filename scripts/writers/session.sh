# Sourced by the cbt writer hook scripts next to it: one client session (a
# database's command line client) that outlives the hook that starts it, so
# a lock taken at freeze is still held when thaw runs in another process.
# The client reads a fifo; a holder process keeps the fifo open (read-write),
# so the client sees end of input only when the session ends. Pids, output
# and errors live in the state directory $state.
#   session_start CLIENT...  start it (ending a stale one first)
#   session_send STMT        send STMT, wait for its marker; its result lines
#                            are then in $state/result
#   session_end              end it, remove the state directory
# The caller sets state (a directory), timeout (seconds per statement),
# writer (a name for messages) and marker(): prints the client's statement
# that outputs its argument on a line of its own.

session_end() {
	local p
	for p in holder client; do
		[ -s "$state/$p.pid" ] && kill "$(cat "$state/$p.pid")" 2>/dev/null
	done
	rm -rf "$state"
}

session_start() {
	[ ! -d "$state" ] || session_end
	mkdir -p -m 0700 "$state" || { echo "$writer writer: cannot make $state" >&2; return 1; }
	mkfifo -m 0600 "$state/in" || return 1
	: >"$state/out"
	: >"$state/err"
	echo 0 >"$state/seq"
	# Opened here, read-write (which never blocks), before anything is
	# sent: a statement written before the holder or the client has opened
	# the fifo would otherwise be lost with the pipe when we close it.
	exec 4<>"$state/in"
	setsid sleep infinity </dev/null >/dev/null 2>&1 3>&- &
	echo $! >"$state/holder.pid"
	setsid "$@" <"$state/in" >>"$state/out" 2>>"$state/err" 3>&- 4<&- &
	echo $! >"$state/client.pid"
	exec 4<&-
}

# Fails (1) with a message when the client ends, reports an error or does
# not answer in time.
session_send() {
	local n end
	[ -d "$state" ] || { echo "$writer writer: no session (freeze did not run or failed)" >&2; return 1; }
	n=$(($(cat "$state/seq") + 1))
	echo "$n" >"$state/seq"
	# Opened read-write, a fifo never blocks, even with the client gone.
	exec 3<>"$state/in"
	printf '%s\n%s\n' "$1" "$(marker "cbt-done-$n")" >&3
	exec 3>&-
	end=$((SECONDS + timeout))
	while ! grep -qx "cbt-done-$n" "$state/out"; do
		if ! kill -0 "$(cat "$state/client.pid")" 2>/dev/null; then
			echo "$writer writer: the session ended: $(tail -n 3 "$state/err" | tr '\n' ' ')" >&2
			return 1
		fi
		if [ $SECONDS -ge $end ]; then
			echo "$writer writer: no answer to '$1' within ${timeout}s" >&2
			return 1
		fi
		sleep 0.05
	done
	awk -v a="cbt-done-$((n - 1))" -v b="cbt-done-$n" \
		'BEGIN { on = a == "cbt-done-0" } $0 == b { exit } on { print } $0 == a { on = 1 }' \
		"$state/out" >"$state/result"
	if [ -s "$state/err" ]; then
		echo "$writer writer: '$1': $(tr '\n' ' ' <"$state/err")" >&2
		return 1
	fi
}

# runas USER: sets the array RUNAS to the prefix that runs a command as that
# system user (empty for no user: as the caller).
runas() {
	RUNAS=()
	[ -z "$1" ] || RUNAS=(setpriv --reuid="$1" --regid="$(id -g "$1")" --init-groups)
}
