#!/usr/bin/env python3
"""net_effect_probe: the driver of bench/net_effect_bench.sh.

Runs inside the host namespace (the Networking API is on its 127.0.0.1);
its probe socket is opened in the external namespace (setns), so every
probe crosses the external network, the router's floating IP and the
guest port's security group, as a client outside the cloud would.

  net_effect_probe.py token AUTH_URL USER PASSWORD PROJECT
      prints "TOKEN PROJECT_ID"
  net_effect_probe.py load URL TOKEN HOST PORTS GROUPS RULES NETS
      a loaded host through the API (networks, groups, rules, ports bound
      to HOST), quiet about what it makes; prints counts
  net_effect_probe.py run --ext-ns NS --target IP --url URL --token TOK
      --mode rule|fip --sg ID --fip ID --port ID --label L --rounds N
      --interval-ms MS --timeout S --quiet S --out FILE
      --ctl-log FILE --agent-log FILE --host HOST
      N rounds of change -> effect, one line per event in FILE:
      "label event round t0_wall api_ms newflow_ms sameflow_ms"
      (ms of "-" = not seen within the timeout; "x" = not waited for: after
      3 failures of that event, or a cut of a flow that never opened)
  net_effect_probe.py report FILE CONTROLLER_LOG AGENT_LOG HOST
      p50/p99/max per label and event, with where the time went (the
      daemons' log lines, wall clock, ms resolution)

Probes: ICMP echo to the floating IP every interval, two streams
interleaved. "newflow": every probe a new ICMP id, so a new conntrack
entry each time: the ruleset's effect on new traffic. "sameflow": one id
per round, as a ping running through the change: an allowed flow must be
cut too (conntrack). In the rule rounds one flow crosses both changes; in
the floating IP rounds the association's flow begins before it (a client
already pinging the address) and the disassociation's once it works.
Effect of an opening change (rule added, floating IP
associated) = receive time of the first answer after t0 (t0 = just before
the API request); of a closing change = send time of the first probe
after the last answered one, once QUIET seconds passed without an answer.
Only the guest's answers count (TTL 63: routed once), not the router
namespace's own while it holds the floating IP without its NAT.
"""
import ctypes
import datetime
import http.client
import json
import os
import random
import re
import select
import socket
import struct
import sys
import threading
import time
import urllib.parse

CLONE_NEWNET = 0x40000000


def die(msg):
    sys.stderr.write("net_effect_probe: %s\n" % msg)
    sys.exit(1)


class Api:
    """One keep-alive connection to the Networking API."""

    def __init__(self, url, token):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port
        self.token = token
        self.conn = None

    def call(self, method, path, body=None, ok=(200, 201, 202, 204)):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port,
                                                       timeout=60)
            try:
                hdr = {"X-Auth-Token": self.token,
                       "Content-Type": "application/json"}
                self.conn.request(method, path,
                                  json.dumps(body) if body is not None else None,
                                  hdr)
                r = self.conn.getresponse()
                data = r.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        if r.status not in ok:
            die("%s %s: %d %s" % (method, path, r.status, data[:300]))
        return json.loads(data) if data else None


def token(auth_url, user, password, project):
    u = urllib.parse.urlsplit(auth_url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    body = {"auth": {"identity": {"methods": ["password"], "password": {
        "user": {"name": user, "domain": {"id": "default"},
                 "password": password}}},
        "scope": {"project": {"name": project,
                              "domain": {"id": "default"}}}}}
    c.request("POST", u.path.rstrip("/") + "/auth/tokens", json.dumps(body),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    data = json.loads(r.read())
    if r.status != 201:
        die("token: %d %s" % (r.status, data))
    print(r.getheader("X-Subject-Token"), data["token"]["project"]["id"])


# ---- the loaded host -------------------------------------------------------

def load(url, tok, host, nports, ngroups, nrules, nnets):
    """As bench/fwbench.c's synthetic host, through the API: every 4th
    rule names a remote group, every 5th is IPv6, each port in 1 to 3
    groups (all bound to host)."""
    api = Api(url, tok)
    nets = []
    per = (nports + nnets - 1) // nnets
    for i in range(nnets):
        n = api.call("POST", "/v2.0/networks",
                     {"network": {"name": "load-%d" % i}})["network"]["id"]
        # a /22 per network: up to about 1,000 ports each
        api.call("POST", "/v2.0/subnets", {"subnet": {
            "network_id": n, "ip_version": 4,
            "cidr": "10.%d.%d.0/22" % (160 + i // 64, (i % 64) * 4)}})
        nets.append(n)
    groups = []
    for i in range(ngroups):
        groups.append(api.call("POST", "/v2.0/security-groups", {
            "security_group": {"name": "load-%d" % i}})
            ["security_group"]["id"])
    made = 0
    for i in range(ngroups):
        cnt = nrules // ngroups + (1 if i < nrules % ngroups else 0)
        for j in range(cnt):
            seq = i * 1000 + j
            v6 = seq % 5 == 4
            r = {"security_group_id": groups[i], "direction": "ingress",
                 "ethertype": "IPv6" if v6 else "IPv4",
                 "protocol": "udp" if j % 3 == 2 else "tcp",
                 "port_range_min": 1000 + j * 4,
                 "port_range_max": 1000 + j * 4 + j % 4}
            if j % 4 == 1:
                r["remote_group_id"] = groups[(i + j) % ngroups]
            elif v6:
                r["remote_ip_prefix"] = "2001:db8:%x::/48" % (seq % 65536)
            else:
                r["remote_ip_prefix"] = "172.%d.%d.0/24" % (
                    16 + seq % 16, (seq // 16) % 256)
            api.call("POST", "/v2.0/security-group-rules",
                     {"security_group_rule": r})
            made += 1
    batch = []
    for p in range(nports):
        gs = [groups[p % ngroups]]
        for k in range(1, p % 3 + 1):
            g = groups[(p + k * 7) % ngroups]
            if g not in gs:
                gs.append(g)
        batch.append({"network_id": nets[p // per], "binding:host_id": host,
                      "device_owner": "compute:nova",
                      "device_id": "load-%d" % p, "security_groups": gs})
        if len(batch) == 100 or p == nports - 1:
            api.call("POST", "/v2.0/ports", {"ports": batch})
            batch = []
    print("loaded: %d ports on %d networks, %d groups, %d rules (+%d default "
          "egress)" % (nports, nnets, ngroups, made, 2 * ngroups))


# ---- probing ---------------------------------------------------------------

def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def echo(ident, seq):
    payload = b"tinystack-net-effect"
    h = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    return struct.pack("!BBHHH", 8, 0, checksum(h + payload), ident,
                       seq) + payload


def socket_in(ns):
    libc = ctypes.CDLL(None, use_errno=True)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    other = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        if libc.setns(other, CLONE_NEWNET) != 0:
            die("setns %s: %s" % (ns, os.strerror(ctypes.get_errno())))
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW,
                          socket.IPPROTO_ICMP)
        if libc.setns(own, CLONE_NEWNET) != 0:
            die("setns back: %s" % os.strerror(ctypes.get_errno()))
    finally:
        os.close(own)
        os.close(other)
    return s


class Prober:
    """Sends both streams every interval; records send and answer times
    (time.monotonic) per stream."""

    def __init__(self, sock, target, interval):
        self.sock, self.target, self.interval = sock, target, interval
        self.lock = threading.Lock()
        self.stop = False
        self.start = time.monotonic()
        self.same_id = random.randrange(0x7fff)
        self.new_id = 0
        self.seq = 0
        self.sent = {"new": {}, "same": {}}	# key -> send time
        self.order = {"new": [], "same": []}	# (send time, key), in order
        self.answers = {"new": [], "same": []}	# (recv time, send time)
        threading.Thread(target=self.send_loop, daemon=True).start()
        threading.Thread(target=self.recv_loop, daemon=True).start()

    def new_flow(self):
        """A new id for the same-flow stream: never one used before in
        this run, nor (random start) in an earlier run whose conntrack
        entries may live on."""
        with self.lock:
            self.same_id = 1 + (self.same_id + 1) % 0x7fff

    def send_loop(self):
        nxt = time.monotonic()
        while not self.stop:
            with self.lock:
                self.seq = (self.seq + 1) & 0xffff
                self.new_id = (self.new_id + 1) & 0x7fff
                nid = 0x8000 | self.new_id
                sid, seq = self.same_id, self.seq
            for stream, ident in (("new", nid), ("same", sid)):
                pkt = echo(ident, seq)
                # Recorded before it leaves: the answer may be read by
                # the other thread before this one runs again.
                t = time.monotonic()
                with self.lock:
                    self.sent[stream][(ident, seq)] = t
                    self.order[stream].append((t, (ident, seq)))
                try:
                    self.sock.sendto(pkt, (self.target, 0))
                except OSError:
                    pass	# no neighbour yet: a probe lost, as any
            nxt += self.interval
            d = nxt - time.monotonic()
            if d > 0:
                time.sleep(d)
            else:
                nxt = time.monotonic()

    def recv_loop(self):
        while not self.stop:
            r, _, _ = select.select([self.sock], [], [], 0.2)
            if not r:
                continue
            data, addr = self.sock.recvfrom(2048)
            t = time.monotonic()
            if addr[0] != self.target or len(data) < 28:
                continue
            ihl = (data[0] & 15) * 4
            # The guest's answer crossed the router (TTL 63); one from the
            # router namespace itself (the floating IP still, or already,
            # on its qg device without the NAT to the guest) has 64.
            if data[8] >= 64:
                continue
            typ, _, _, ident, seq = struct.unpack("!BBHHH",
                                                  data[ihl:ihl + 8])
            if typ != 0:
                continue
            stream = "new" if ident & 0x8000 else "same"
            with self.lock:
                st = self.sent[stream].pop((ident, seq), None)
                if st is not None:
                    self.answers[stream].append((t, st))

    def trim(self, before):
        """Forgets probes sent before `before` (memory stays bounded)."""
        with self.lock:
            for s in ("new", "same"):
                self.order[s] = [o for o in self.order[s] if o[0] >= before]
                self.answers[s] = [a for a in self.answers[s]
                                   if a[1] >= before]
                self.sent[s] = {k: v for k, v in self.sent[s].items()
                                if v >= before}

    def first_answer(self, stream, t0):
        with self.lock:
            ts = [a[0] for a in self.answers[stream] if a[0] >= t0]
        return min(ts) if ts else None

    def last_recv(self, stream):
        with self.lock:
            return max((a[0] for a in self.answers[stream]), default=None)

    def cut(self, stream, t0, now, quiet):
        """Send time of the first probe after the last answered one, once
        quiet seconds passed without an answer; None while undecided."""
        with self.lock:
            last = max((a[1] for a in self.answers[stream]), default=None)
            if last is None or now - max(last, t0) < quiet:
                return None
            after = [o[0] for o in self.order[stream] if o[0] > last]
        return min(after) if after else None


def wait_until(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


class Idle:
    """Whether the agent applied the controller's latest generation for
    the host (their log lines, read as they grow)."""

    def __init__(self, ctl_log, agent_log, host):
        self.files = [[ctl_log, 0], [agent_log, 0]]
        self.rx = [re.compile(r" host %s: network state generation (\d+) "
                              % re.escape(host)),
                   re.compile(r" host_network generation (\d+): ")]
        self.want, self.done = 0, 0

    def __call__(self):
        for i, f in enumerate(self.files):
            with open(f[0], errors="replace") as fp:
                fp.seek(f[1])
                data = fp.read()
            end = data.rfind("\n") + 1
            f[1] += len(data[:end].encode())
            for m in self.rx[i].finditer(data[:end]):
                if i == 0:
                    self.want = int(m.group(1))
                else:
                    self.done = max(self.done, int(m.group(1)))
        return self.done >= self.want


def run(a):
    pr = Prober(socket_in(a["ext-ns"]), a["target"],
                float(a["interval-ms"]) / 1000)
    api = Api(a["url"], a["token"])
    rounds, timeout, quiet = int(a["rounds"]), float(a["timeout"]), \
        float(a["quiet"])
    out = open(a["out"], "a")
    giveup = {}	# (event, stream) -> failures; at 3, not waited for again
    rule = [None]
    idle = Idle(a["ctl-log"], a["agent-log"], a["host"])
    same_open = False

    def opening():
        if a["mode"] == "rule":
            rule[0] = api.call("POST", "/v2.0/security-group-rules", {
                "security_group_rule": {
                    "security_group_id": a["sg"], "direction": "ingress",
                    "ethertype": "IPv4", "protocol": "icmp"}}
            )["security_group_rule"]["id"]
        else:
            api.call("PUT", "/v2.0/floatingips/" + a["fip"],
                     {"floatingip": {"port_id": a["port"]}})

    def closing():
        if a["mode"] == "rule":
            api.call("DELETE", "/v2.0/security-group-rules/" + rule[0])
        else:
            api.call("PUT", "/v2.0/floatingips/" + a["fip"],
                     {"floatingip": {"port_id": None}})

    names = {"rule": ("rule-add", "rule-del"),
             "fip": ("fip-assoc", "fip-disassoc")}[a["mode"]]
    # Round 0 warms up and is the positive witness (the path answers once
    # opened); it is not counted.
    for rnd in range(rounds + 1):
        for closing_phase in (False, True):
            ev = names[1 if closing_phase else 0]
            if not closing_phase:
                pr.new_flow()
                # closed: no answer for quiet seconds (the previous cut)
                # (waited for from the first probe on: no answer yet is
                # not silence)
                if not wait_until(idle, 60):
                    die("the agent did not apply generation %d within 60 s"
                        % idle.want)
                gate = wait_until(lambda: max(pr.last_recv("new") or 0,
                                              pr.start) <
                                  time.monotonic() - quiet, timeout + quiet)
            else:
                if a["mode"] == "fip":
                    # A flow begun before the association may never pass
                    # (the router namespace's conntrack entry, made
                    # without NAT, outlives it): the flow whose cut is
                    # timed begins once the floating IP works.
                    pr.new_flow()
                    same_open = True
                # open: answered within the last 3 intervals (the same
                # flow only if it can be: see above)
                need = ["new"] + (["same"] if same_open else [])
                gate = wait_until(lambda: all(
                    (pr.last_recv(s) or 0) > time.monotonic() -
                    3 * pr.interval - 0.05 for s in need),
                    timeout)
            if not gate:
                # The previous change never took effect: this one cannot
                # be timed from a known state; counted as a failure.
                if rnd == 0:
                    die("no %s state before %s in the warm-up round (%s)" % (
                        "closed" if not closing_phase else "open", ev,
                        a["label"]))
                print("%s %s round %d: not started, the path was not %s"
                      % (a["label"], ev, rnd, "closed" if not closing_phase
                         else "open"), flush=True)
                if rnd > 0:
                    for e in (names if not closing_phase else (ev,)):
                        out.write("%s %s %d %.3f - - -\n" % (
                            a["label"], e, rnd, time.time()))
                    out.flush()
                if closing_phase:
                    closing()
                break
            # One change at a time: the agent done with the previous one
            # (else this one would queue behind it). Polled as the round
            # gates are; a failure here is not the change's.
            if not wait_until(idle, 60):
                die("the agent did not apply generation %d within 60 s"
                    % idle.want)
            pr.trim(time.monotonic() - 1)
            t0 = time.monotonic()
            w0 = time.time()
            (closing if closing_phase else opening)()
            api_ms = (time.monotonic() - t0) * 1000
            res = {}
            waiting = [s for s in ("new", "same")
                       if giveup.get((ev, s), 0) < 3 and
                       (s == "new" or not closing_phase or same_open)]
            for s in ("new", "same"):
                if s not in waiting:
                    res[s] = "x"
            while waiting and time.monotonic() - t0 < timeout + (
                    quiet if closing_phase else 0):
                now = time.monotonic()
                for s in list(waiting):
                    t1 = pr.cut(s, t0, now, quiet) if closing_phase else \
                        pr.first_answer(s, t0)
                    if t1 is not None:
                        res[s] = "%.1f" % ((t1 - t0) * 1000)
                        waiting.remove(s)
                time.sleep(0.005)
            for s in waiting:
                res[s] = "-"
                giveup[(ev, s)] = giveup.get((ev, s), 0) + 1
            if not closing_phase:
                same_open = res["same"] not in ("-", "x")
            if rnd == 0 and res["new"] == "-":
                die("%s never took effect in the warm-up round (%s)"
                    % (ev, a["label"]))
            if rnd > 0:
                out.write("%s %s %d %.3f %.1f %s %s\n" % (
                    a["label"], ev, rnd, w0, api_ms, res["new"],
                    res["same"]))
                out.flush()
            print("%s %s round %d: api %.0f ms, new flow %s ms, same flow "
                  "%s ms" % (a["label"], ev, rnd, api_ms, res["new"],
                             res["same"]), flush=True)
    pr.stop = True


# ---- the report ------------------------------------------------------------

LOGTS = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) ")


def log_events(path, pattern):
    """(wall time, generation) of each line matching pattern."""
    ev = []
    rx = re.compile(pattern)
    for line in open(path, errors="replace"):
        m = LOGTS.match(line)
        g = rx.search(line)
        if m and g:
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
            ev.append((t.replace(tzinfo=datetime.timezone.utc).timestamp(),
                       int(g.group(1))))
    return ev


def pct(v, p):
    v = sorted(v)
    if not v:
        return None
    i = max(1, int((p * len(v) + 99) // 100))
    return v[i - 1]


def fmt(x):
    return "-" if x is None else "%.0f" % x


def report(path, ctl_log, agent_log, host):
    rows = [l.split() for l in open(path) if l.strip()]
    derived = log_events(ctl_log, r"host %s: network state generation (\d+)"
                         % re.escape(host))
    applied = log_events(agent_log, r"host_network generation (\d+):")
    print("%-7s %-13s %5s | %-22s | %-22s | %-9s %-9s %-9s" % (
        "host", "event", "n", "new flow p50/p99/max", "same flow p50/p99/max",
        "api p50", "derived", "applied"))
    for label in sorted({r[0] for r in rows}, key=lambda s: (s != "small",
                                                              s)):
        for ev in ("rule-add", "rule-del", "fip-assoc", "fip-disassoc"):
            rs = [r for r in rows if r[0] == label and r[1] == ev]
            if not rs:
                continue
            cols = []
            for k in (5, 6):
                ok = [float(r[k]) for r in rs if r[k] not in ("-", "x")]
                failed = sum(1 for r in rs if r[k] == "-")
                skipped = sum(1 for r in rs if r[k] == "x")
                s = "%s/%s/%s" % (fmt(pct(ok, 50)), fmt(pct(ok, 99)),
                                  fmt(max(ok) if ok else None))
                if failed:
                    s += " %dfail" % failed
                if skipped:
                    s += " %dskip" % skipped
                cols.append(s)
            d_ms, a_ms = [], []
            for r in rs:
                w0 = float(r[3])
                d = [e for e in derived if e[0] >= w0 - 0.0005]
                if not d:
                    continue
                d_ms.append((d[0][0] - w0) * 1000)
                ap = [e for e in applied if e[1] >= d[0][1] and
                      e[0] >= d[0][0] - 0.0005]
                if ap:
                    a_ms.append((ap[0][0] - w0) * 1000)
            print("%-7s %-13s %5d | %-22s | %-22s | %-9s %-9s %-9s" % (
                label, ev, len(rs), cols[0], cols[1],
                fmt(pct([float(r[4]) for r in rs if r[4] != "-"], 50)),
                fmt(pct(d_ms, 50)) + "/" + fmt(pct(d_ms, 99)),
                fmt(pct(a_ms, 50)) + "/" + fmt(pct(a_ms, 99))))
    print("(ms from t0, just before the API request. new/same flow: traffic "
          "effect; api: the API's answer; derived: the controller's log line "
          "of the host's new generation; applied: the agent's log line after "
          "applying it; p50/p99. fail: not seen within the timeout; skip: "
          "not waited for after 3 failures)")
    steps(rows, agent_log)


def steps(rows, agent_log):
    """Where the agent's time went: its first command after t0, the end
    of the firewall's and of the router's nft (the runner's debug lines),
    the number of commands in that apply; medians, ms from t0."""
    log = []
    rx = re.compile(r"^(\S+ \S+) \d+ \w+ tinystack-agent \[(\S+)\] (.*)")
    for line in open(agent_log, errors="replace"):
        m = rx.match(line)
        if m:
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
            log.append((t.replace(tzinfo=datetime.timezone.utc).timestamp(),
                        m.group(2), m.group(3)))
    print("\nthe agent's steps (p50, ms from t0; its debug log)")
    print("%-7s %-13s %12s %10s %10s %9s" % ("host", "event", "first cmd",
                                             "fw nft", "router nft",
                                             "commands"))
    seen = []
    for r in rows:
        if (r[0], r[1]) not in seen:
            seen.append((r[0], r[1]))
    for label, ev in seen:
        first, fw, rt, runs = [], [], [], []
        for r in rows:
            if r[0] != label or r[1] != ev:
                continue
            w0 = float(r[3])
            cmds = [e for e in log if e[0] >= w0 - 0.001 and
                    e[2].startswith("run:")]
            if not cmds:
                continue
            req = cmds[0][1]
            first.append((cmds[0][0] - w0) * 1000)
            lines = [e for e in log if e[1] == req and e[0] >= w0 - 0.001]
            runs.append(sum(1 for e in lines if e[2].startswith("run:")))
            for i, e in enumerate(lines[:-1]):
                if e[2] == "run: nft -f -":
                    fw.append((lines[i + 1][0] - w0) * 1000)
                    break
            for i, e in enumerate(lines[:-1]):
                if re.match(r"run: ip netns exec \S+ nft -f -", e[2]):
                    rt.append((lines[i + 1][0] - w0) * 1000)
                    break
        print("%-7s %-13s %12s %10s %10s %9s" % (
            label, ev, fmt(pct(first, 50)), fmt(pct(fw, 50)),
            fmt(pct(rt, 50)), fmt(pct(runs, 50))))


def main():
    if len(sys.argv) < 2:
        die("usage: see the header of this file")
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "token" and len(args) == 4:
        token(*args)
    elif cmd == "load" and len(args) == 7:
        load(args[0], args[1], args[2], *[int(x) for x in args[3:]])
    elif cmd == "run":
        a = {}
        for i in range(0, len(args) - 1, 2):
            a[args[i].lstrip("-")] = args[i + 1]
        for k in ("ext-ns", "target", "url", "token", "mode", "label",
                  "rounds", "interval-ms", "timeout", "quiet", "out",
                  "ctl-log", "agent-log", "host"):
            if k not in a:
                die("run: --%s missing" % k)
        run(a)
    elif cmd == "report" and len(args) == 4:
        report(*args)
    else:
        die("bad arguments: see the header of this file")


if __name__ == "__main__":
    main()
