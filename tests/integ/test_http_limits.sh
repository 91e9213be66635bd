#!/bin/bash
# The API ports under abuse from other loopback addresses, with the
# shipped defaults ([api] per_ip_connection_limit = 256,
# max_auth_body_size = 112 KiB, max_body_size = 1 MiB):
#  - 300 idle connections from 127.0.0.2 to the identity port: the server
#    closes those over the per-address limit (the witness that the limit
#    applies), holds the rest, and a client on 127.0.0.1 is still served
#    at once (discovery, token issue, an authenticated request);
#  - a token request that announces 50 MB (from 127.0.0.3) gets a 413 from
#    Keystone's limit before its body is read, and the connection is
#    closed: the sender cannot push more than socket buffers hold; the
#    a chunked sender that never says its length is cut off long before;
#  - an authenticated compute request with a 50 MB body gets a 413 too;
#  - afterwards nothing changed: the controller runs, the idle
#    connections are released, and token issue still works.
# Every wait is bounded; nothing leaves loopback.
. "$(dirname "$0")/lib.sh"

BUS=$(free_port)
IDP=$(free_port)
api_lines "$IDP"
CP=$(echo "${API_LINES[@]}" | sed -n 's/.*compute_port = \([0-9]*\).*/\1/p')
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}"
identity_bootstrap admin-pw
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "http://127.0.0.1:$IDP/v3"
CPID=${PIDS[-1]}

python3 -S - "$IDP" "$CP" <<'PY' || fail "limits (above)"
import json, socket, sys, time

idp, cp = int(sys.argv[1]), int(sys.argv[2])
BIG = 50 * 1000 * 1000


def conn(src, port):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def request(port, method, path, body=b"", headers=(), src="127.0.0.1"):
    s = conn(src, port)
    h = "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" % (method, path)
    for k in headers:
        h += k + "\r\n"
    if body:
        h += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    s.sendall(h.encode() + b"\r\n" + body)
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip()
            for l in lines[1:] if ":" in l}
    return int(lines[0].split()[1]), hdrs, rest


def token():
    body = json.dumps({"auth": {"identity": {"methods": ["password"],
        "password": {"user": {"name": "admin", "domain": {"id": "default"},
                              "password": "admin-pw"}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}).encode()
    st, h, _ = request(idp, "POST", "/v3/auth/tokens", body)
    assert st == 201, "token issue: %d" % st
    return h["x-subject-token"]


def fail(msg):
    print("not ok - " + msg)
    sys.exit(1)


def closed(s):
    """True once the server has closed s (EOF or reset)."""
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


tok = token()

# 300 idle connections from 127.0.0.2.
idle = [conn("127.0.0.2", idp) for _ in range(300)]
for s in idle:
    s.setblocking(False)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    n_closed = sum(closed(s) for s in idle)
    if n_closed >= 300 - 256:
        break
    time.sleep(0.1)
else:
    fail("per-address limit: only %d of 300 idle connections closed" % n_closed)
held = 300 - n_closed
if held != 256:
    fail("per-address limit: %d connections held, not 256" % held)
print("#   300 idle connections from 127.0.0.2: %d closed at once, 256 held" % n_closed)

# A client on 127.0.0.1 is served while they are held.
t0 = time.monotonic()
st, _, _ = request(idp, "GET", "/v3")
if st != 200:
    fail("discovery while flooded: %d" % st)
tok2 = token()
st, _, _ = request(idp, "GET", "/v3/auth/tokens",
                   headers=("X-Auth-Token: " + tok, "X-Subject-Token: " + tok2))
if st != 200:
    fail("token validation while flooded: %d" % st)
dt = time.monotonic() - t0
print("#   127.0.0.1 served while 256 connections idle: discovery, token issue and validation in %.3f s" % dt)


def big_announced(port, path, hdrs):
    """Announce BIG bytes and send only the headers: the answer must come
    before any of the body, and the connection must be closed after it."""
    s = conn("127.0.0.3", port)
    h = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" \
        "Content-Length: %d\r\n" % (path, BIG)
    for k in hdrs:
        h += k + "\r\n"
    s.sendall(h.encode() + b"\r\n")
    data = b""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except socket.timeout:
        fail("%s: the connection stayed open after the answer" % path)
    s.close()
    if not data:
        fail("%s: no answer to a 50 MB announcement" % path)
    return int(data.split(b" ", 2)[1])


st = big_announced(idp, "/v3/auth/tokens", ())
if st != 413:
    fail("50 MB token request: status %d" % st)
print("#   50 MB token request: 413 before the body, connection closed")

# Chunked, no length: refused once past 112 KiB; the server stops reading.
s = conn("127.0.0.3", idp)
s.sendall(b"POST /v3/auth/tokens HTTP/1.1\r\nHost: x\r\n"
          b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
piece = b"10000\r\n" + b" " * 65536 + b"\r\n"
sent = 0
try:
    while sent < BIG:
        s.sendall(piece)
        sent += 65536
except OSError:
    pass
s.close()
if sent >= BIG:
    fail("chunked token request: the server read all 50 MB")
print("#   chunked token request: the server stopped reading after %d bytes" % sent)

st = big_announced(cp, "/v2.1/servers", ("X-Auth-Token: " + tok,))
if st != 413:
    fail("50 MB compute request: status %d" % st)
print("#   50 MB authenticated compute request: 413 before the body, connection closed")

for s in idle:
    s.close()
token()
print("#   idle connections closed; token issue still works")
PY
kill -0 "$CPID" || fail "the controller died"
ok "per-address limit, a client served meanwhile, 413s for 50 MB bodies before reading them, controller alive"
echo "1..$NPASS"
