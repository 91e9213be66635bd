#!/bin/bash
# image_bench.sh - image data through tinystack-controller's Image API on
# 127.0.0.1, against copying the same file with cp on the same disk.
#
# One SIZE_MB file of random bytes (incompressible, no zero blocks, so the
# store writes every byte) is
#   cp          copied with cp, then with cp + sync (an upload is durable:
#               the store fsyncs before the image becomes active)
#   sha512sum   hashed with sha512sum and md5sum (coreutils): the two
#               digests the Image API needs, on one core each, the ceiling
#               an upload can reach; the upload's time over sha512sum's in
#               the same round is printed per round (issue 18: <= 1.5)
#   upload      PUT /v2/images/{id}/file with curl, Content-Length and
#               chunked (the server hashes MD5 and SHA-512, inspects the
#               format, writes and fsyncs)
#   download    GET /v2/images/{id}/file with curl into /dev/null (sendfile)
#               and into a file on the same disk, and with bench/http_get.py
#               (1 MiB per recv, output discarded; curl 7.88 receives
#               100 KiB per call but writes its output, /dev/null too, in
#               4-16 KiB stdio pieces: about 126,000 writes per GiB), once the
#               store's read-back of the image is done; and once right
#               after a new upload, the read-back under way
#   bare        the same three downloads of the image's data file from
#               bench/file_server.py (a 200 and one sendfile() loop on a
#               blocking socket: the least any HTTP server does), in the
#               same rounds, and cp once more beside them: what the client
#               and the kernel cost on their own; the image API's time
#               over the bare server's in the same round is printed per
#               round (1.00 = the server adds nothing the client waits on);
#               and curl to /dev/null from file_server.py's two other
#               modes, libmicrohttpd's way of sending a file (128 KiB
#               sendfile() calls on a non-blocking socket) with and
#               without the TCP_CORK it sets around them
#   clients     glance image-create --file (chunked) and
#               openstack image save, once each: the Python clients' cost
# Each curl and cp measurement is repeated RUNS times, interleaved (cp,
# cp + sync, upload, chunked upload in every round, so load from other
# processes hits them alike); the table shows the median, the ratio of
# each upload and download to cp, and for uploads the controller's CPU
# seconds (utime + stime of all its threads), which depends much less on
# other load than wall time does. The load average before and after and
# the controller's peak RSS (VmHWM) are printed at the end.
#
# Usage: bench/image_bench.sh [BUILD_DIR]      (default: ./build)
# Knobs: SIZE_MB (1024), RUNS (3), CLIENTS (1; 0 skips the Python
#   clients), DIR (work directory, on the disk to
#   measure; default a new directory under /var/tmp), ORDER (cl, the
#   default: the Content-Length upload before the chunked one in each
#   round; chunked: the other way round, to tell the path's cost from
#   its place in the round).
set -euo pipefail
export LC_ALL=C
B=$(cd "${1:-build}" && pwd)
CTL=$B/controller/tinystack-controller
MANAGE=$B/tools/tinystack-manage
SIZE_MB=${SIZE_MB:-1024}
RUNS=${RUNS:-3}
ORDER=${ORDER:-cl}
CLIENTS=${CLIENTS:-1}
PASS=bench-admin-pass
W=${DIR:-$(mktemp -d /var/tmp/image-bench.XXXXXX)}
PID=
FS=
FS2=
FS3=

# Every step runs whatever the one before returned (a server killed by
# SIGTERM waits with 143, which set -e would take for an error).
cleanup() {
	local p
	for p in $PID $FS $FS2 $FS3; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$W"
}
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
IDP=$(port)
IMP=$(port)
URL=http://127.0.0.1:$IMP
cat > "$W/controller.conf" <<C
[DEFAULT]
host = bench
pid_file = $W/controller.pid
state_path = $W
[database]
path = $W/db
[bus]
listen = tcp://127.0.0.1:$(port)
curve = false
keys_dir = $W/keys
[api]
bind_host = 127.0.0.1
public_host = 127.0.0.1
identity_port = $IDP
compute_port = $(port)
image_port = $IMP
volume_port = $(port)
network_port = $(port)
[identity]
key_repository = $W/token-keys
password_hash_opslimit = 1
password_hash_memlimit_kb = 64
[image]
store_path = $W/images
C
M() { "$MANAGE" --config "$W/controller.conf" "$@"; }
M db sync >/dev/null
M token setup >/dev/null
OS_BOOTSTRAP_PASSWORD="$PASS" M bootstrap --openrc "$W/openrc" >/dev/null
"$CTL" --foreground --config "$W/controller.conf" > "$W/controller.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do curl -s -o /dev/null "$URL/" && break; sleep 0.1; done

auth_body='{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"'$PASS'"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}'
TOK=$(curl -sf -o /dev/null -D - -H 'Content-Type: application/json' -d "$auth_body" \
	"http://127.0.0.1:$IDP/v3/auth/tokens" |
	awk -F': ' 'tolower($1)=="x-subject-token"{print $2}' | tr -d '\r')
[ -n "$TOK" ] || { echo "no token" >&2; cat "$W/controller.log" >&2; exit 1; }
A=(-H "X-Auth-Token: $TOK")

new_image() {
	curl -sf -X POST "${A[@]}" -H "Content-Type: application/json" \
		-d '{"name":"bench","disk_format":"raw","container_format":"bare"}' \
		"$URL/v2/images" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
now() { date +%s.%N; }
# Controller CPU seconds so far (all threads, live and exited); ctl_sys:
# the kernel's part (stime).
ctl_cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$PID/stat"; }
ctl_sys() { awk '{ printf "%.2f", $15 / 100 }' "/proc/$PID/stat"; }
# secs COMMAND...: wall seconds of COMMAND; a failure ends the bench (the
# assignment of its output fails under set -e).
secs() {
	local s e
	s=$(now)
	"$@" || { echo "failed: $*" >&2; exit 1; }
	e=$(now)
	echo "$e - $s" | bc
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
mbs() { awk -v s="$1" -v mb="$SIZE_MB" 'BEGIN { printf "%.0f", mb * 1.048576 / s }'; }
# row NAME SECS [CPU]: a table row; the ratio is to cp's median time.
row() {
	printf '| %-44s | %7.2f s | %6s MB/s | %4.0f%% | %s |\n' "$1" "$2" \
	    "$(mbs "$2")" "$(echo "100 * $CP / $2" | bc -l)" "${3:--}"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== tinystack image bench $(date -Is) host=$(hostname) nproc=$(nproc)"
echo "controller $B; work dir $W ($(df -T "$W" | awk 'NR==2 { print $2 " on " $1 }'))"
head -c "$((SIZE_MB * 1024 * 1024))" /dev/urandom > "$W/src"
sync

cp_once() { cp "$W/src" "$W/copy"; }
cpsync_once() { cp "$W/src" "$W/copy"; sync "$W/copy"; }
sha_once() { sha512sum "$W/src" > /dev/null; }
md5_once() { md5sum "$W/src" > /dev/null; }
put_once() {	# put_once [curl args]: upload src to a new image, delete it
	local id code
	id=$(new_image)
	code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "${A[@]}" \
		-H "Content-Type: application/octet-stream" "$@" -T "$W/src" \
		"$URL/v2/images/$id/file")
	[ "$code" = 204 ] || { echo "upload: $code" >&2; exit 1; }
	echo "$id" > "$W/last_id"
}
del_last() { curl -sf -o /dev/null -X DELETE "${A[@]}" "$URL/v2/images/$(cat "$W/last_id")"; }

declare -A T C S
put_cl() { cpu_of put eval 'T[put]+="$(secs put_once) "'; }
put_chunked() { cpu_of putc eval 'T[putc]+="$(secs put_once -H "Transfer-Encoding: chunked") "'; }
# The store reads each committed upload back into the page cache on its
# image-warm thread (nice 10), after the 204. Each round waits until that
# thread is done before the next round, so that work is
# not counted in the next round's figures, and reports its CPU (C[warm]:
# the thread's utime + stime over the round's uploads and the wait).
# Builds without the thread: no wait, no figure.
has_warm() { grep -qx image-warm /proc/"$PID"/task/*/comm 2>/dev/null; }
warm_ticks() {	# FIELDS: the awk expression of the thread's stat fields
	local t
	for t in /proc/"$PID"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = image-warm ] &&
			awk "{ printf \"%.2f\", ($1) / 100; exit }" "$t/stat" && return
	done
	echo 0
}
warm_cpu() { warm_ticks '$14 + $15'; }
warm_sys() { warm_ticks '$15'; }
# wait_warm: until the image-warm thread sleeps with nothing to do: in
# state S (its condition variable; D while it waits for the disk, R while
# it runs or waits for a CPU) with its CPU time unchanged over 0.2 s, at
# most 60 s. (Not "the file is all in the page cache": this VM reclaims
# cold pages proactively (DAMON), so a read-back image starts losing
# pages within seconds.)
wait_warm() {
	local i st prev=
	has_warm || return 0
	for i in $(seq 1 300); do
		st=$(for t in /proc/"$PID"/task/*; do
			[ "$(cat "$t/comm" 2>/dev/null)" = image-warm ] &&
				awk '{ print $3, $14 + $15; exit }' "$t/stat"
		done)
		case $st in S\ *) [ "$st" = "$prev" ] && return 0 ;; esac
		prev=$st
		sleep 0.2
	done
	echo "the read-back was not done within 60 s" >&2
}
# cpu_of KEY COMMAND...: run COMMAND, add the controller's CPU time to C[KEY]
# and its system part to S[KEY], less what the image-warm thread
# spent meanwhile: an upload's read-back begins at its commit, before the
# 204 reaches curl.
cpu_of() {
	local k=$1 c0 s0 w0 ws0
	shift
	c0=$(ctl_cpu)
	s0=$(ctl_sys)
	w0=$(warm_cpu)
	ws0=$(warm_sys)
	"$@"
	C[$k]+="$(echo "$(ctl_cpu) - $c0 - ($(warm_cpu) - $w0)" | bc) "
	S[$k]+="$(echo "$(ctl_sys) - $s0 - ($(warm_sys) - $ws0)" | bc) "
}
for _ in $(seq 1 "$RUNS"); do
	T[cp]+="$(secs cp_once) "; rm -f "$W/copy"; sync
	T[cpsync]+="$(secs cpsync_once) "; rm -f "$W/copy"; sync
	T[sha]+="$(secs sha_once) "
	T[md5]+="$(secs md5_once) "
	w0=$(warm_cpu)
	if [ "$ORDER" = chunked ]; then
		put_chunked; del_last; sync
		put_cl
	else
		put_cl; del_last; sync
		put_chunked
	fi
	wait_warm
	C[warm]+="$(echo "$(warm_cpu) - $w0" | bc) "
done
# Downloads of the last image (kept).
ID=$(cat "$W/last_id")
get_null() { curl -sf -o /dev/null "${A[@]}" "$URL/v2/images/$ID/file"; }
get_file() { curl -sf -o "$W/down" "${A[@]}" "$URL/v2/images/$ID/file"; }
get_big() { python3 "$(dirname "$0")/http_get.py" "$URL/v2/images/$ID/file" "$TOK"; }
# The bare server, on the same data file.
python3 "$(dirname "$0")/file_server.py" "$W/images/$ID" "$W/fport" &
FS=$!
python3 "$(dirname "$0")/file_server.py" "$W/images/$ID" "$W/fport2" chunks &
FS2=$!
python3 "$(dirname "$0")/file_server.py" "$W/images/$ID" "$W/fport3" chunks-cork &
FS3=$!
for f in fport fport2 fport3; do
	for _ in $(seq 1 100); do [ -s "$W/$f" ] && break; sleep 0.1; done
	[ -s "$W/$f" ] || { echo "file_server.py did not start" >&2; exit 1; }
done
FURL=http://127.0.0.1:$(cat "$W/fport")/data
FURL2=http://127.0.0.1:$(cat "$W/fport2")/data
FURL3=http://127.0.0.1:$(cat "$W/fport3")/data
chunk_null() { curl -sf -o /dev/null "$FURL2"; }
cork_null() { curl -sf -o /dev/null "$FURL3"; }
bare_null() { curl -sf -o /dev/null "$FURL"; }
bare_file() { curl -sf -o "$W/down" "$FURL"; }
bare_big() { python3 "$(dirname "$0")/http_get.py" "$FURL" none; }
for _ in $(seq 1 "$RUNS"); do
	T[cpdl]+="$(secs cp_once) "; rm -f "$W/copy"
	T[getnull]+="$(secs get_null) "
	T[barenull]+="$(secs bare_null) "
	T[chunknull]+="$(secs chunk_null) "
	T[corknull]+="$(secs cork_null) "
	T[getfile]+="$(secs get_file) "; rm -f "$W/down"
	T[barefile]+="$(secs bare_file) "; rm -f "$W/down"
	T[getbig]+="$(secs get_big) "
	T[barebig]+="$(secs bare_big) "
done
for u in "$FURL" "$FURL2" "$FURL3"; do
	cmp -s <(curl -sf "$u" | md5sum) <(md5sum < "$W/src") ||
		{ echo "bare server's download differs ($u)" >&2; exit 1; }
done
cmp -s <(curl -sf "${A[@]}" "$URL/v2/images/$ID/file" | md5sum) <(md5sum < "$W/src") ||
	{ echo "download differs" >&2; exit 1; }
# A download right after its upload, the read-back still under way (what
# a boot right after `image create` does), once.
put_once -H "Transfer-Encoding: chunked"
FID=$(cat "$W/last_id")
get_fresh() { curl -sf -o /dev/null "${A[@]}" "$URL/v2/images/$FID/file"; }
T[getfresh]=$(secs get_fresh)

# The Python clients, once each.
T[glance]=0; T[save]=0
if [ "$CLIENTS" = 1 ]; then
	# shellcheck disable=SC1091
	. "$W/openrc"
	export HOME=$W/home
	mkdir -p "$HOME"
	gl_once() { glance image-create --name cli --disk-format raw --container-format bare --file "$W/src" > "$W/gl.out"; }
	T[glance]=$(secs gl_once)
	GID=$(awk '$2 == "id" { print $4 }' "$W/gl.out")
	save_once() { openstack image save --file "$W/saved" "$GID"; }
	T[save]=$(secs save_once)
	cmp -s "$W/src" "$W/saved" || { echo "openstack image save differs" >&2; exit 1; }
fi

med() { echo "${T[$1]}" | tr ' ' '\n' | grep . | median; }
cpu() { echo "$(echo "${C[$1]}" | tr ' ' '\n' | grep . | median) s"; }
CP=$(med cp)
echo
echo "size ${SIZE_MB} MiB, median of $RUNS runs (clients: one run)"
echo "all times (s): cp ${T[cp]}; sha512sum ${T[sha]}; md5sum ${T[md5]}"
echo "  upload ${T[put]}; chunked ${T[putc]}; controller CPU per upload ${C[put]}, chunked ${C[putc]}"
echo "  of which system (stime): upload ${S[put]}, chunked ${S[putc]}; order in each round: $ORDER first"
echo "  download to /dev/null ${T[getnull]}; to a file ${T[getfile]}"
echo "  download with 1 MiB reads (http_get.py) ${T[getbig]}"
echo "  bare server: to /dev/null ${T[barenull]}; to a file ${T[barefile]}; 1 MiB reads ${T[barebig]}"
echo "  bare server in 128 KiB sendfile() calls, to /dev/null: ${T[chunknull]}; the same with TCP_CORK: ${T[corknull]}"
echo "  cp beside the downloads ${T[cpdl]}"
echo "  a download right after its upload: ${T[getfresh]} s; read-back CPU per round (image-warm thread): ${C[warm]:-none}"
# ratios A [B]: A's time over B's (sha512sum's) in the same round.
ratios() {
	paste -d' ' <(echo "${T[$1]}" | tr ' ' '\n' | grep .) \
	    <(echo "${T[${2:-sha}]}" | tr ' ' '\n' | grep .) |
	    awk '{ printf "%.2f ", $1 / $2 }'
}
echo "upload / sha512sum, per round: $(ratios put); chunked: $(ratios putc)"
echo "image API / bare server, per round: to /dev/null $(ratios getnull barenull); to a file $(ratios getfile barefile); 1 MiB reads $(ratios getbig barebig)"
echo
echo "| operation | time | throughput | of cp | controller CPU |"
echo "| --- | --- | --- | --- | --- |"
row "cp (page cache, not durable)" "$(med cp)"
row "cp + sync (durable)" "$(med cpsync)"
row "sha512sum (coreutils)" "$(med sha)"
row "md5sum (coreutils)" "$(med md5)"
row "upload, curl, Content-Length" "$(med put)" "$(cpu put)"
row "upload, curl, chunked" "$(med putc)" "$(cpu putc)"
row "download, curl to /dev/null (sendfile)" "$(med getnull)"
row "download, curl to a file on the same disk" "$(med getfile)"
row "download, 1 MiB reads (http_get.py)" "$(med getbig)"
row "download, curl to /dev/null, right after its upload" "${T[getfresh]}"
row "bare server, curl to /dev/null" "$(med barenull)"
row "bare server, curl to a file on the same disk" "$(med barefile)"
row "bare server, 1 MiB reads (http_get.py)" "$(med barebig)"
row "bare, 128 KiB sendfile()s, curl to /dev/null" "$(med chunknull)"
row "the same with TCP_CORK (libmicrohttpd's way)" "$(med corknull)"
row "cp, in the download rounds" "$(med cpdl)"
if [ "$CLIENTS" = 1 ]; then
	row "glance image-create --file (chunked)" "${T[glance]}"
	row "openstack image save --file" "${T[save]}"
fi
echo
echo "controller peak RSS (VmHWM): $(awk '/^VmHWM/ { print $2 }' "/proc/$PID/status") KiB"
echo "load average: before $LOAD0, after $(cut -d' ' -f1-3 /proc/loadavg)"
