# Shared helpers for integration tests (sourced). Every wait is bounded;
# every process a test starts is killed on exit.
set -euo pipefail
: "${TS_BUILD_DIR:?run through ctest or set TS_BUILD_DIR}"
: "${TS_SOURCE_DIR:?run through ctest or set TS_SOURCE_DIR}"
CTL=$TS_BUILD_DIR/controller/tinystack-controller
AGENT=$TS_BUILD_DIR/agent/tinystack-agent
MANAGE_BIN=$TS_BUILD_DIR/tools/tinystack-manage
T=$(mktemp -d /tmp/ts-integ.XXXXXX)
PIDS=()
NPASS=0

# stop_daemons: SIGTERM every started process and wait up to 5 s; one
# that does not stop gets its stacks dumped and SIGKILL, and STUCK=1 (the
# test fails in cleanup). Idempotent: a cleanup that must act after the
# daemons are gone (an agent would undo it) calls it first.
STUCK=0
stop_daemons() {
	local p i tracer
	# SIGTERM first: a clean shutdown is part of what is tested, and
	# sanitizer builds report leaks only at a normal exit.
	# SIGCONT too, for a daemon a test left stopped (SIGSTOP), and BEFORE
	# the SIGTERM: a SIGCONT discards a pending stop signal, and a daemon
	# that began its exit at the SIGTERM may already be in LeakSanitizer's
	# exit scan, whose tracer then waits for ever for the SIGSTOP of its
	# PTRACE_ATTACH while the daemon spins waiting for the tracer (state R,
	# TracerPid set: integ.net_dataplane's netctl in two CI runs; 8 of 200
	# with TERM then CONT a few ms apart, 0 of 200 with CONT then TERM).
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do
		kill -CONT "$p" 2>/dev/null || true
		kill -TERM "$p" 2>/dev/null || true
	done
	for i in $(seq 1 50); do
		local alive=0
		for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do
		if kill -0 "$p" 2>/dev/null; then
			echo "not ok - pid $p did not stop within 5 s of SIGTERM" >&2
			# Each thread's state, wait channel and kernel stack first:
			# a thread blocked in the kernel (state D) is not where
			# gdb can look, nor can gdb attach while LeakSanitizer's
			# exit scan traces the process (TracerPid).
			{
				grep -E '^(State|TracerPid)' "/proc/$p/status"
				for tk in /proc/$p/task/*; do
					echo "task ${tk##*/} $(cat "$tk/comm") state $(cut -d' ' -f3 "$tk/stat") wchan $(cat "$tk/wchan") syscall $(cat "$tk/syscall")"
					cat "$tk/stack"
				done
				# Its tracer (LeakSanitizer's, in a sanitizer build)
				# is where a stalled exit scan waits.
				tracer=$(awk '/^TracerPid:/ { print $2 }' "/proc/$p/status")
				if [ -n "$tracer" ] && [ "$tracer" != 0 ]; then
					for tk in /proc/$tracer/task/*; do
						echo "tracer task ${tk##*/} $(cat "$tk/comm") state $(cut -d' ' -f3 "$tk/stat") wchan $(cat "$tk/wchan") syscall $(cat "$tk/syscall")"
						cat "$tk/stack"
					done
				fi
			} >"$T/stuck-$p-tasks.log" 2>&1 || true
			# Where it is stuck is what a fix needs: every thread's stack.
			if command -v gdb >/dev/null; then
				timeout 60 gdb -batch -p "$p" -ex "thread apply all bt" \
				    >"$T/stuck-$p.log" 2>&1 || true
			fi
			kill -9 "$p" 2>/dev/null || true
			STUCK=1
		fi
	done
}

cleanup() {
	local rc=$?
	stop_daemons
	[ $STUCK = 1 ] && [ $rc -eq 0 ] && rc=1
	# A sanitizer report in any daemon log fails the test.
	if grep -l -E "ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|runtime error:" "$T"/*.log >/dev/null 2>&1; then
		echo "not ok - sanitizer report in daemon logs" >&2
		[ $rc -eq 0 ] && rc=1
	fi
	if [ $rc -ne 0 ]; then
		echo "---- logs of the failed test ($T)"
		# (and the fake hosts' libvirtd logs: packaging/fakehost.sh)
		for f in "$T"/*.log "$T"/h[0-9]*/libvirtd.log; do
			[ -f "$f" ] || continue
			echo "== $f"
			case $f in
			*/stuck-*) head -300 "$f" ;;
			*) tail -40 "$f" ;;
			esac
		done
		# Whole logs (daemons, fake hosts' libvirtd and qemu) outlive
		# the test directory: the tails above rarely hold the cause of
		# a flake seen once.
		local keep
		keep=/tmp/ts-failed/$(basename "$0" .sh).$(basename "$T")
		if mkdir -p "$keep" 2>/dev/null; then
			(cd "$T" && find . -maxdepth 4 -name '*.log' -size -64M \
			    -exec cp --parents {} "$keep" \;) 2>/dev/null
			echo "---- whole logs kept in $keep"
		fi
	fi
	release_ports
	[ -n "${TS_KEEP:-}" ] || rm -rf "$T"
	exit $rc
}
trap cleanup EXIT

# stop_daemons_and_dnsmasq: for the network tests' cleanups. The daemons
# first (an agent would restart the dnsmasq killed next), then every
# dnsmasq whose pid file lies under $T/*dhcp/ and names it (only ones this
# test started: the process's --pid-file= must be that file).
stop_daemons_and_dnsmasq() {
	local pid f
	# Bounded wait for the daemons to exit (start() disowns them, so
	# `wait` cannot): an agent still shutting down while the dnsmasqs are
	# killed and the caller deletes its namespaces races with them.
	stop_daemons
	for f in "$T"/*dhcp/*/pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null || true)
		if [ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null |
		    grep -- "--pid-file=$f" >/dev/null; then
			kill "$pid" 2>/dev/null || true
		fi
	done
}

ok() { NPASS=$((NPASS + 1)); echo "ok $NPASS - $*"; }
fail() { echo "not ok - $*" >&2; exit 1; }

# wait_for SECONDS DESCRIPTION COMMAND...: polls every 0.1 s.
wait_for() {
	local secs=$1 what=$2 i=0
	shift 2
	while [ $i -lt $((secs * 10)) ]; do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1; i=$((i + 1))
	done
	fail "timed out after ${secs}s waiting for: $what"
}

# The port is below the kernel's ephemeral range: a port taken from that
# range (bind to 0) could become some client connection's local port
# before the daemon binds it ("Address already in use"). Tests run in
# parallel (ctest -j, tests/integ/CMakeLists.txt): between this check and
# the daemon's bind another test could pick the same port, so each port
# handed out is also claimed, a file $TS_PORT_CLAIMS/PORT created
# exclusively and holding $T; cleanup removes this test's claims. A test
# killed before its cleanup leaves its claims behind; they are dropped
# when a later draw meets one whose test directory no longer exists.
TS_PORT_CLAIMS=/tmp/ts-integ-ports
free_port() {
	# Debian's python3: a pyenv shim first on PATH costs seconds a call
	# under load, and every test asks for several ports.
	/usr/bin/python3 - "$TS_PORT_CLAIMS" "$T" <<'PY'
import os, random, socket, sys
claims, owner = sys.argv[1], sys.argv[2]
os.makedirs(claims, exist_ok=True)
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    p = random.randint(10000, lo - 1)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    path = "%s/%d" % (claims, p)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        # A claim whose test directory is gone was left by a test killed
        # before its cleanup: drop it (the port is free, the bind said
        # so) and let the next draw claim afresh.
        try:
            owner_dir = open(path).read().strip()
            if owner_dir and not os.path.isdir(owner_dir):
                os.unlink(path)
        except OSError:
            pass
        continue
    os.write(fd, (owner + "\n").encode())
    os.close(fd)
    print(p)
    break
else:
    raise SystemExit("no free port below %d" % lo)
PY
}

# release_ports: removes the claims free_port made for this test.
release_ports() {
	local f
	for f in "$TS_PORT_CLAIMS"/*; do
		[ -f "$f" ] && [ "$(cat "$f" 2>/dev/null)" = "$T" ] && rm -f "$f"
	done
	return 0
}

# controller_conf FILE PORT [extra lines]: a controller config under $T.
# Without an [api] section among the extra lines, every API gets a free
# port on 127.0.0.1 (api_lines): a test never binds 0.0.0.0 or a
# well-known port.
controller_conf() {
	local f=$1 port=$2 l has_api=0
	shift 2
	for l in "$@"; do [ "$l" = "[api]" ] && has_api=1; done
	if [ $has_api = 0 ]; then
		api_lines "$(free_port)"
		set -- "$@" "${API_LINES[@]}"
	fi
	cat > "$f" <<C
[DEFAULT]
host = ctl
verbose = true
pid_file = $T/controller.pid
report_interval = 1
service_down_time = 3
state_path = $T

[database]
path = $T/db

[bus]
listen = tcp://127.0.0.1:$port
keys_dir = $T/keys
C
	for l in "$@"; do echo "$l" >> "$f"; done
}

# agent_conf NAME PORT URI: keys in $T/keys-NAME (agent.key + controller.pub).
agent_conf() {
	local n=$1 port=$2 uri=$3
	mkdir -p "$T/inst-$n"
	cat > "$T/agent-$n.conf" <<C
[DEFAULT]
host = $n
verbose = true
pid_file = $T/agent-$n.pid
instances_path = $T/inst-$n
state_path = $T/state-$n
report_interval = 1

[libvirt]
connection_uri = $uri

[bus]
controller = tcp://127.0.0.1:$port
keys_dir = $T/keys-$n
reconnect_ivl_ms = 100
reconnect_max_ms = 1000
C
}

manage() { "$MANAGE_BIN" --config "$T/controller.conf" "$@"; }

# start NAME BINARY CONFIG: foreground daemon, log in $T/NAME.log.
start() {
	local name=$1 bin=$2 conf=$3
	"$bin" --foreground --config "$conf" >>"$T/$name.log" 2>&1 &
	PIDS+=($!)
	disown $!	# no "Killed" job notices when a test kills it
	eval "PID_${name//-/_}=$!"
}

pid_of() { eval "echo \${PID_${1//-/_}}"; }

# dead PID: the process has exited (a zombie not yet reaped counts). For
# wait_for after a kill, instead of a fixed sleep.
dead() {
	! kill -0 "$1" 2>/dev/null ||
		grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# service_state HOST: prints up/down/absent from `manage service list`.
service_state() {
	manage service list | awk -F'|' -v h="$1" '
		{ gsub(/ /, "", $3); gsub(/ /, "", $6) }
		$3 == h { print $6; found = 1 }
		END { if (!found) print "absent" }'
}
is_state() { [ "$(service_state "$1")" = "$2" ]; }

enrol_agent() {
	local n=$1
	manage agent keygen --host "$n" --keys-dir "$T/keys-$n" >/dev/null
	cp "$T/keys/controller.pub" "$T/keys-$n/"
	manage agent enroll "$n" --key-file "$T/keys-$n/agent.pub" >/dev/null
}

# ---- storage: an agent's own tgtd ----------------------------------------
# tgt_control_port: a tgtd control port (tgtd's -C; its control channel is
# a unix socket /var/run/tgtd/socket.N on the shared file system, so each
# agent needs one of its own) that no tgtd answers on and no lock names,
# below 32768 as tgtd wants.
tgt_control_port() {
	local i c
	for i in $(seq 1 50); do
		c=$((10000 + RANDOM % 22000))
		if ! tgtadm -C $c --op show --mode sys >/dev/null 2>&1 &&
		    [ ! -e /var/run/tgtd/socket.$c.lock ]; then echo "$c"; return 0; fi
	done
	fail "no free tgtd control port"
}

# storage_conf NAME PORTAL CONTROL [FILE_DIR]: agent NAME's [storage]
# section: file backend (volume files under FILE_DIR, default the agent's
# state directory), its own tgtd on PORTAL with control port CONTROL
# (the agent starts and supervises it).
storage_conf() {
	cat >> "$T/agent-$1.conf" <<C

[storage]
enabled = true
backend = file
iscsi_portal = $2
tgt_control_port = $3
C
	[ -z "${4:-}" ] || echo "file_dir = $4" >> "$T/agent-$1.conf"
}

# tgtd_pids CONTROL: the pids of the tgtd on that control port (found by
# its command line, never by name alone). An adopted tgtd outlives its
# agent's clean stop, and one started by an agent killed -9 lives on:
# tests kill these by pid.
tgtd_pids() {
	local p
	for p in $(pgrep -x tgtd || true); do
		tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null |
		    grep -q -- "^tgtd -f -C $1 " && echo "$p"
	done
	return 0
}

# ---- identity / HTTP API helpers ----------------------------------------
# api_lines IDPORT: sets API_LINES, the [api]/[oslo_policy]/[identity]
# lines to pass to controller_conf: every API on 127.0.0.1 only, identity
# on IDPORT, token keys and the policy file (absent: built-in rules) under
# $T, never the host's /etc/tinystack/policy.yaml, and the cheapest
# argon2id costs (tests hash many passwords; the costs are stored in each
# hash, so this changes nothing else). Ports of services a test does not use get free ports too, so a
# test never binds a well-known port.
api_lines() {
	API_LINES=("[api]" "bind_host = 127.0.0.1" "public_host = 127.0.0.1"
		"identity_port = $1" "compute_port = $(free_port)"
		"image_port = $(free_port)" "volume_port = $(free_port)"
		"network_port = $(free_port)" "threads = 4"
		"[oslo_policy]" "policy_file = $T/policy.yaml"
		"[identity]" "key_repository = $T/token-keys"
		"password_hash_opslimit = 1" "password_hash_memlimit_kb = 64")
}

# identity_bootstrap PASSWORD: db sync, bus and token keys, bootstrap of
# the admin; the admin's openrc is $T/openrc.
identity_bootstrap() {
	manage db sync >/dev/null
	[ -f "$T/keys/controller.key" ] || manage key setup >/dev/null
	manage token setup >/dev/null
	OS_BOOTSTRAP_PASSWORD="$1" manage bootstrap --openrc "$T/openrc" >/dev/null
}

# http_code METHOD URL [curl args...]: prints the status code only.
http_code() {
	local m=$1 u=$2
	shift 2
	curl -s -o /dev/null -w '%{http_code}' -X "$m" "$@" "$u"
}

# wait_http SECONDS URL: until something answers HTTP on URL.
wait_http() {
	wait_for "$1" "HTTP on $2" curl -s -o /dev/null "$2"
}

# os_token: a token for the credentials in the OS_* environment.
os_token() { openstack token issue -f value -c id; }

# osc_start: the CLI tests' `openstack` becomes the same openstackclient
# code run by a warm fork server (osc_forkserver.py: imports once, forks
# per call) instead of a fresh interpreter that spends 1-3 s importing
# before each request. Set TS_OSC_FORKSERVER=0 to run /usr/bin/openstack
# directly. Calls made before the server is warm run /usr/bin/openstack
# (osc_client.c falls back), so nothing waits for it.
osc_start() {
	[ "${TS_OSC_FORKSERVER:-1}" = 1 ] || return 0
	[ -x "$TS_BUILD_DIR/tests/integ/oscbin/openstack" ] ||
		fail "osc_client is not built ($TS_BUILD_DIR/tests/integ/oscbin)"
	export TS_OSC_REAL
	TS_OSC_REAL=$(command -v openstack) || fail "openstack is not installed"
	export TS_OSC_SOCK=$T/osc.sock
	# The interpreter the real client runs with (its #! line): another
	# python3 on PATH may not see Debian's dist-packages.
	local py
	py=$(sed -n '1s/^#! *//p' "$TS_OSC_REAL")
	[ -x "${py%% *}" ] || fail "cannot read the interpreter of $TS_OSC_REAL"
	${py} "$TS_SOURCE_DIR/tests/integ/osc_forkserver.py" "$TS_OSC_SOCK" \
		>>"$T/osc.log" 2>&1 &
	PIDS+=($!)
	disown $!
	PATH=$TS_BUILD_DIR/tests/integ/oscbin:$PATH
}
