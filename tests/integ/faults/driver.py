#!/usr/bin/env python3
"""Fault injection with a history check (docs/RELIABILITY.md).

Drives a mixed load of compute and network requests against a running
controller (REST only, stdlib only) while a nemesis kills and restarts
daemons, partitions an agent from the bus, fills the controller's store,
restarts the agents' libvirtd and kills dnsmasq instances; every request goes to a JSONL history (invocation time, completion
time, status, ids). After the faults are healed and the system converged
(bounded poll), the final state is checked against what the acknowledged
history predicts. Exit status 1 when any anomaly is found; the summary
lists each anomaly with the request ids it concerns.

The schedule of operations and faults is drawn from --seed (printed), so
a run's sequence of decisions is reproducible; the timing of the
daemons is not.
"""
import argparse
import glob
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

ENV = os.environ


def log(msg):
    sys.stdout.write("# %s %s\n" % (time.strftime("%H:%M:%S"), msg))
    sys.stdout.flush()


class Api:
    """Admin-scoped REST client; one token, re-issued on 401."""

    def __init__(self, idp, cp, np, password, vp=None):
        self.idp, self.cp, self.np, self.vp = idp, cp, np, vp
        self.password = password
        self.token = None
        # The x-openstack-request-id of this thread's last answer.
        self.tls = threading.local()

    def auth(self):
        body = {"auth": {"identity": {"methods": ["password"], "password": {
            "user": {"name": "admin", "domain": {"id": "default"},
                     "password": self.password}}},
            "scope": {"project": {"name": "admin",
                                  "domain": {"id": "default"}}}}}
        req = urllib.request.Request(self.idp + "/v3/auth/tokens",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=20) as r:
            self.token = r.headers["X-Subject-Token"]
            self.project = json.load(r)["token"]["project"]["id"]

    def call(self, method, url, body=None, timeout=30, headers=None):
        """Returns (status, parsed body or None). status is an int, or
        "refused" (nothing reached the server: certainly not applied), or
        "error" (the outcome is unknown: maybe applied)."""
        for attempt in range(2):
            hdr = {"X-Auth-Token": self.token or "",
                   "Content-Type": "application/json"}
            hdr.update(headers or {})
            data = json.dumps(body).encode() if body is not None else None
            req = urllib.request.Request(url, data=data, headers=hdr,
                                         method=method)
            try:
                with urllib.request.urlopen(req, timeout=timeout) as r:
                    raw = r.read()
                    self.tls.rid = r.headers.get("x-openstack-request-id")
                    return r.status, (json.loads(raw) if raw else None)
            except urllib.error.HTTPError as e:
                raw = e.read()
                self.tls.rid = e.headers.get("x-openstack-request-id")
                if e.code == 401 and attempt == 0:
                    try:
                        self.auth()
                    except Exception:
                        return "refused", None
                    continue
                try:
                    return e.code, json.loads(raw) if raw else None
                except ValueError:
                    return e.code, None
            except urllib.error.URLError as e:
                if isinstance(e.reason, ConnectionRefusedError):
                    return "refused", None
                return "error", None
            except ConnectionRefusedError:
                return "refused", None
            except Exception:
                return "error", None
        return "error", None

    def nova(self, method, path, body=None):
        return self.call(method, self.cp + "/v2.1" + path, body)

    def neutron(self, method, path, body=None):
        return self.call(method, self.np + "/v2.0" + path, body)

    def cinder(self, method, path, body=None, mv=None):
        return self.call(method, "%s/v3/%s%s" % (self.vp, self.project, path),
                         body, headers={"OpenStack-API-Version": "volume " + mv}
                         if mv else None)


class History:
    """Thread-safe JSONL log of every operation."""

    def __init__(self, path):
        self.f = open(path, "w")
        self.lock = threading.Lock()
        self.ops = []

    def record(self, op):
        with self.lock:
            op["n"] = len(self.ops)
            self.ops.append(op)
            self.f.write(json.dumps(op) + "\n")
            self.f.flush()


def ok(st):
    return isinstance(st, int) and 200 <= st < 300


class Daemons:
    """The daemons the nemesis kills and restarts (the shell test started
    them; their pid files say which process is which). Restarted pids are
    appended to $T/extra-pids for the test's cleanup."""

    def __init__(self, t, build):
        self.t, self.build = t, build
        self.binary = {"ctl": build + "/controller/tinystack-controller"}
        self.conf = {"ctl": t + "/controller.conf"}
        self.pidf = {"ctl": t + "/controller.pid"}
        self.restarts = 0

    def add_agent(self, h):
        n = "agent-" + h
        # An agent in a network namespace of its own starts through the
        # test's wrapper (ip netns exec).
        wrap = "%s/agent-%s.exec" % (self.t, h)
        self.binary[n] = wrap if os.path.exists(wrap) else \
            self.build + "/agent/tinystack-agent"
        self.conf[n] = "%s/agent-%s.conf" % (self.t, h)
        self.pidf[n] = "%s/agent-%s.pid" % (self.t, h)

    def pid(self, name):
        with open(self.pidf[name]) as f:
            return int(f.read().split()[0])

    def kill9(self, name):
        pid = self.pid(name)
        os.kill(pid, signal.SIGKILL)
        if not wait_gone(pid, 5):
            raise RuntimeError("%s (pid %d) survived SIGKILL" % (name, pid))

    # The private libvirtd the test started (its pid file is named in
    # $T/libvirtd.pidfile); restarted as `systemctl restart` would:
    # SIGTERM, then a new daemon on the same configuration.
    def libvirtd_stop(self):
        with open(self.t + "/libvirtd.pidfile") as f:
            self.lv_pidf = f.read().strip()
        with open(self.lv_pidf) as f:
            pid = int(f.read().split()[0])
        os.kill(pid, signal.SIGTERM)
        if not wait_gone(pid, 30):
            raise RuntimeError("libvirtd (pid %d) did not stop within 30 s" % pid)

    def libvirtd_start(self, probe_uri):
        logf = open(self.t + "/libvirtd.log", "a")
        conf = os.path.dirname(self.lv_pidf) + "/etc/libvirtd.conf"
        p = subprocess.Popen(["libvirtd", "-f", conf, "-p", self.lv_pidf],
                             stdout=logf, stderr=logf, stdin=subprocess.DEVNULL)
        with open(self.t + "/extra-pids", "a") as f:
            f.write("%d\n" % p.pid)
        self.restarts += 1
        for _ in range(120):
            if p.poll() is not None:
                raise RuntimeError("libvirtd exited at start (%s)" % p.returncode)
            if subprocess.run(["virsh", "-c", probe_uri, "version"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=20).returncode == 0:
                return
            time.sleep(0.5)
        raise RuntimeError("libvirtd does not answer within 60 s of its start")

    def start(self, name):
        logf = open("%s/%s.log" % (self.t, name), "a")
        p = subprocess.Popen([self.binary[name], "--foreground", "--config",
                              self.conf[name]], stdout=logf, stderr=logf,
                             stdin=subprocess.DEVNULL)
        with open(self.t + "/extra-pids", "a") as f:
            f.write("%d\n" % p.pid)
        self.restarts += 1
        # Wait for the pid file to name the new process (bounded).
        for _ in range(200):
            try:
                if self.pid(name) == p.pid:
                    return
            except (FileNotFoundError, ValueError, IndexError):
                pass
            if p.poll() is not None:
                raise RuntimeError("%s exited at start (%s)" % (name, p.returncode))
            time.sleep(0.05)
        raise RuntimeError("%s: pid file not written within 10 s" % name)


class Nemesis:
    """Injects one fault at a time from a seeded schedule and heals it."""

    def __init__(self, rng, api, daemons, hist, args):
        self.rng, self.api, self.d, self.hist = rng, api, daemons, hist
        self.args = args
        self.injected = []
        self.active = None

    def wait_http(self, secs=20):
        for _ in range(secs * 10):
            st, _ = self.api.call("GET", self.api.cp + "/", timeout=2)
            if st != "refused" and st != "error":
                return
            time.sleep(0.1)
        raise RuntimeError("controller does not answer HTTP after restart")

    def inject(self, kind, hold):
        t0 = time.time()
        detail = {}
        self.active = kind
        if kind == "kill-controller":
            self.d.kill9("ctl")
            time.sleep(hold)
            self.d.start("ctl")
            self.wait_http()
        elif kind == "kill-agent":
            h = self.rng.choice(self.args.hosts)
            detail["host"] = h
            self.d.kill9("agent-" + h)
            time.sleep(hold)
            self.d.start("agent-" + h)
        elif kind == "partition":
            # The partitioned agent's bus connection leaves from its own
            # loopback address (see the test's agent_conf): dropping that
            # address cuts it from the controller both ways.
            detail["host"] = self.args.partition_host
            nft(["add", "table", "inet", "tsfaults"])
            nft(["add", "chain", "inet", "tsfaults", "out",
                 "{ type filter hook output priority 0; }"])
            nft(["add", "rule", "inet", "tsfaults", "out", "ip", "saddr",
                 self.args.partition_addr, "drop"])
            nft(["add", "rule", "inet", "tsfaults", "out", "ip", "daddr",
                 self.args.partition_addr, "drop"])
            time.sleep(hold)
            nft(["delete", "table", "inet", "tsfaults"])
        elif kind == "libvirtd-restart":
            # Both agents' libvirt connections break; the test driver's
            # guests go with the daemon (a qemu guest would outlive it), so
            # recon must re-create every ACTIVE one once the agents have
            # reconnected.
            self.d.libvirtd_stop()
            time.sleep(hold)
            self.d.libvirtd_start(self.args.libvirt_probe)
        elif kind == "kill-dnsmasq":
            # A dnsmasq of a host (drawn from the seed; the other one if
            # the drawn one serves nothing yet), killed -9; healed when the
            # host's agent has started a new one (its converger ticks every
            # 5 s). Not restarted within 30 s is recorded; the final
            # dataplane check judges.
            order = list(self.args.hosts)
            self.rng.shuffle(order)
            victim = None
            for _ in range(100):
                for h in order:
                    live = dnsmasq_live(self.args.dhcp_dirs[h])
                    nets = sorted(n for n, p in live.items() if len(p) == 1)
                    if nets:
                        net = self.rng.choice(nets)
                        victim = (h, net, live[net][0])
                        break
                if victim:
                    try:
                        os.kill(victim[2], signal.SIGKILL)
                        break
                    except ProcessLookupError:
                        # The agent replaced it meanwhile (a changed
                        # command line): pick again.
                        victim = None
                time.sleep(0.2)
            if victim is None:
                raise RuntimeError("no dnsmasq ran within 20 s to be killed")
            h, net, pid = victim
            detail.update(host=h, network=net)
            wait_gone(pid, 5)
            detail["restarted"] = False
            for _ in range(300):
                if any(p != pid for p in
                       dnsmasq_live(self.args.dhcp_dirs[h]).get(net, [])):
                    detail["restarted"] = True
                    detail["after"] = round(time.time() - t0, 1)
                    break
                time.sleep(0.1)
        elif kind == "kill-tgtd":
            # The tgtd of a host (drawn from the seed), killed -9; healed
            # when the host's agent has started another on the same
            # control port (its supervisor backs off 100 ms to 5 s) and
            # that one answers; the agent then re-creates the exports.
            # Not restarted within 30 s is recorded; the final storage
            # check judges.
            h = self.rng.choice(self.args.hosts)
            ctl = self.args.tgt[h]
            pids = tgtd_pids(ctl)
            if len(pids) != 1:
                raise RuntimeError("%s: %d tgtd on control port %d" % (h, len(pids), ctl))
            detail.update(host=h)
            os.kill(pids[0], signal.SIGKILL)
            wait_gone(pids[0], 5)
            detail["restarted"] = False
            for _ in range(300):
                now = tgtd_pids(ctl)
                if now and now != pids and subprocess.run(
                        ["tgtadm", "-C", str(ctl), "--op", "show", "--mode", "sys"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                        timeout=10).returncode == 0:
                    detail["restarted"] = True
                    detail["after"] = round(time.time() - t0, 1)
                    break
                time.sleep(0.1)
        elif kind == "disk-full":
            path = self.args.db + "/filler"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                for size in (1 << 20, 4096):
                    chunk = b"\0" * size
                    for _ in range(1 << 16):
                        try:
                            os.write(fd, chunk)
                        except OSError:
                            break
            finally:
                os.close(fd)
            time.sleep(hold)
            os.unlink(path)
        self.active = None
        ev = {"fault": kind, "t0": t0, "t1": time.time(), **detail}
        self.injected.append(ev)
        self.hist.record(dict(ev, op="nemesis"))
        log("fault %s %s healed after %.1f s" % (kind, detail or "", ev["t1"] - t0))

    def run(self, stop, kinds, gap):
        order = list(kinds)
        self.rng.shuffle(order)
        i = 0
        while not stop.is_set() and i < len(order):
            time.sleep(self.rng.uniform(gap[0], gap[1]))
            if stop.is_set():
                break
            # A partition outlasts service_down_time (3 s in the test):
            # the controller sees the host down while the agent lives on.
            hold = self.rng.uniform(4.0, 8.0) if order[i] == "partition" \
                else self.rng.uniform(2.0, 5.0)
            self.inject(order[i], hold)
            i += 1
        self.done = True


def nft(args):
    subprocess.run(["nft"] + args, check=True)


def wait_gone(pid, secs):
    """True once pid is gone or a zombie (bounded)."""
    for _ in range(int(secs * 20)):
        try:
            with open("/proc/%d/status" % pid) as f:
                if "\nState:\tZ" in f.read():
                    return True
        except (FileNotFoundError, ProcessLookupError):
            # Reaped between the open and the read: the read fails with
            # ESRCH (integ.faults once failed on it after a tgtd kill).
            return True
        time.sleep(0.05)
    return False


def tgtd_pids(ctl):
    """The live tgtd processes on control port ctl (by command line:
    `tgtd -f -C <ctl> ...`, as the agent runs it)."""
    res = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
            with open("/proc/%s/status" % d) as f:
                if "\nState:\tZ" in f.read():
                    continue
        except OSError:
            continue
        if len(argv) > 3 and os.path.basename(argv[0]) == "tgtd" and \
                argv[1:4] == ["-f", "-C", str(ctl)]:
            res.append(int(d))
    return res


def tgt_targets(ctl):
    """[iqn] of the targets the tgtd on control port ctl shows (one
    entry per target: a name twice is a duplicate); None if it does not
    answer."""
    r = subprocess.run(["tgtadm", "-C", str(ctl), "--lld", "iscsi", "--op",
                        "show", "--mode", "target"], capture_output=True,
                       text=True, timeout=20)
    if r.returncode != 0:
        return None
    return [l.split(": ", 1)[1].strip() for l in r.stdout.splitlines()
            if l.startswith("Target ") and ": " in l]


def dnsmasq_live(state_dir):
    """{network id: [pids]} of the live dnsmasq processes started with a
    pid file under state_dir (<state_dir>/<net>/pid, agent/net/dhcp.h),
    whatever their pid files say: a second one for a network is a
    duplicate. Only processes whose command line names such a pid file
    count, so no other dnsmasq on the machine is looked at."""
    res = {}
    pre = "--pid-file=" + state_dir + "/"
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
            with open("/proc/%s/status" % d) as f:
                if "\nState:\tZ" in f.read():
                    continue
        except OSError:
            continue
        if not argv or os.path.basename(argv[0]) != "dnsmasq":
            continue
        for a in argv:
            if a.startswith(pre) and a.endswith("/pid"):
                net = a[len(pre):-len("/pid")]
                res.setdefault(net, []).append(int(d))
    return res


class Workload:
    """The clients: draw operations from the seed and record them."""

    def __init__(self, rng, api, hist, fx, nth):
        self.rng, self.api, self.hist, self.fx = rng, api, hist, fx
        self.nth = nth
        self.lock = threading.Lock()
        # Known objects (acknowledged or maybe created), for later
        # operations to act on.
        self.servers, self.ports, self.fips, self.rules = [], [], [], []
        # Volumes; (server, volume) pairs whose attach was acknowledged or
        # of unknown outcome, for detaches.
        self.vols, self.atts = [], []
        self.count = 0

    def pick(self, lst):
        with self.lock:
            return self.rng.choice(lst) if lst else None

    def forget(self, lst, rec):
        """An object acknowledged gone (or, for a volume, its delete
        accepted: 202) is acted on no more."""
        if rec["status"] in (202, 204, 404):
            with self.lock:
                if rec["id"] in lst:
                    lst.remove(rec["id"])

    def op(self, kind, method, fn, path, body=None, obj=None, server=None):
        t0 = time.time()
        self.api.tls.rid = None
        st, resp = fn(method, path, body)
        rec = {"op": kind, "method": method, "path": path, "t0": t0,
               "t1": time.time(), "status": st, "thread": self.nth}
        if self.api.tls.rid:
            rec["rid"] = self.api.tls.rid
        if obj is not None:
            rec["id"] = obj
        if server is not None:
            rec["server"] = server
        if isinstance(resp, dict):
            rid = None
            for k in ("server", "port", "floatingip", "security_group_rule",
                      "volume"):
                if isinstance(resp.get(k), dict) and "id" in resp[k]:
                    rid = resp[k]["id"]
            if rid:
                rec["id"] = rid
            if not ok(st):
                rec["error"] = json.dumps(resp)[:300]
        if body is not None:
            rec["body"] = body
        self.hist.record(rec)
        return rec

    def step(self, name):
        r = self.rng.random()
        nova, neutron, cinder = self.api.nova, self.api.neutron, self.api.cinder
        if r < 0.22:
            body = {"server": {"name": name, "flavorRef": self.fx["flavor"],
                               "imageRef": self.fx["image"]}}
            if self.rng.random() < 0.5:
                body["server"]["networks"] = [{"uuid": self.fx["net"]}]
            else:
                body["server"]["networks"] = "none"
            rec = self.op("server-create", "POST", nova, "/servers", body)
            if "id" in rec:
                with self.lock:
                    self.servers.append(rec["id"])
        elif r < 0.35:
            s = self.pick(self.servers)
            if s:
                self.forget(self.servers, self.op(
                    "server-delete", "DELETE", nova, "/servers/" + s, obj=s))
        elif r < 0.52:
            s = self.pick(self.servers)
            if s:
                act = self.rng.choice(["os-stop", "os-start", "reboot"])
                body = {act: None} if act != "reboot" else {"reboot": {"type": "HARD"}}
                self.op("server-" + act.replace("os-", ""), "POST", nova,
                        "/servers/%s/action" % s, body, obj=s)
        elif r < 0.60:
            rec = self.op("port-create", "POST", neutron, "/ports",
                          {"port": {"network_id": self.fx["net"], "name": name}})
            if "id" in rec:
                with self.lock:
                    self.ports.append(rec["id"])
        elif r < 0.65:
            p = self.pick(self.ports)
            if p:
                self.forget(self.ports, self.op(
                    "port-delete", "DELETE", neutron, "/ports/" + p, obj=p))
        elif r < 0.71:
            rec = self.op("fip-create", "POST", neutron, "/floatingips",
                          {"floatingip": {"floating_network_id": self.fx["ext"],
                                          "description": name}})
            if "id" in rec:
                with self.lock:
                    self.fips.append(rec["id"])
        elif r < 0.74:
            f = self.pick(self.fips)
            if f:
                self.forget(self.fips, self.op(
                    "fip-delete", "DELETE", neutron, "/floatingips/" + f, obj=f))
        elif r < 0.79:
            port = 1000 + self.rng.randrange(60000)
            rec = self.op("sgr-create", "POST", neutron, "/security-group-rules",
                          {"security_group_rule": {
                              "security_group_id": self.fx["sg"],
                              "direction": "ingress", "ethertype": "IPv4",
                              "protocol": "tcp", "port_range_min": port,
                              "port_range_max": port,
                              "description": name}})
            if "id" in rec:
                with self.lock:
                    self.rules.append(rec["id"])
        elif r < 0.82:
            g = self.pick(self.rules)
            if g:
                self.forget(self.rules, self.op("sgr-delete", "DELETE", neutron,
                        "/security-group-rules/" + g, obj=g))
        elif r < 0.88:
            rec = self.op("volume-create", "POST", cinder, "/volumes",
                          {"volume": {"size": 1, "name": name}})
            if "id" in rec:
                with self.lock:
                    self.vols.append(rec["id"])
        elif r < 0.91:
            v = self.pick(self.vols)
            if v:
                self.forget(self.vols, self.op(
                    "volume-delete", "DELETE", cinder, "/volumes/" + v, obj=v))
        elif r < 0.97:
            # Nova's attach (os-volume_attachments): any known server and
            # volume; a volume in use or a server busy is refused (4xx).
            s, v = self.pick(self.servers), self.pick(self.vols)
            if s and v:
                rec = self.op("volume-attach", "POST", nova,
                              "/servers/%s/os-volume_attachments" % s,
                              {"volumeAttachment": {"volumeId": v}},
                              obj=v, server=s)
                if ok(rec["status"]) or rec["status"] == "error":
                    with self.lock:
                        self.atts.append((s, v))
        else:
            a = self.pick(self.atts)
            if a:
                rec = self.op("volume-detach", "DELETE", nova,
                              "/servers/%s/os-volume_attachments/%s" % a,
                              obj=a[1], server=a[0])
                if rec["status"] in (202, 404):
                    with self.lock:
                        if a in self.atts:
                            self.atts.remove(a)

    def run(self, faults_done, nops, max_ops, prefix, counter):
        """Until the faults are over and at least nops were made (at most
        max_ops), with a short think time so that the load spans them."""
        while True:
            with counter["lock"]:
                n = counter["n"]
                if n >= max_ops or (n >= nops and faults_done.is_set()):
                    return
                counter["n"] += 1
                i = counter["n"]
            self.step("%s-%d" % (prefix, i))
            time.sleep(self.rng.uniform(0.0, 0.3))


# ---- convergence and checks -------------------------------------------------

def list_all(api):
    """Final state, through the APIs (admin, all projects)."""
    st, s = api.nova("GET", "/servers/detail?all_tenants=1")
    st2, p = api.neutron("GET", "/ports")
    st3, f = api.neutron("GET", "/floatingips")
    st4, g = api.neutron("GET", "/security-group-rules")
    st5, h = api.nova("GET", "/os-hypervisors/detail")
    st6, lim = api.nova("GET", "/limits")
    st7, svc = api.nova("GET", "/os-services")
    st8, nq = api.neutron("GET", "/quotas/%s/details" % api.project)
    st9, nets = api.neutron("GET", "/networks")
    st10, subs = api.neutron("GET", "/subnets")
    st11, sgs = api.neutron("GET", "/security-groups")
    st12, rts = api.neutron("GET", "/routers")
    st13, vols = api.cinder("GET", "/volumes/detail?all_tenants=1")
    st14, atts = api.cinder("GET", "/attachments?all_tenants=1", mv="3.27")
    if not all(x == 200 for x in (st, st2, st3, st4, st5, st6, st7, st8,
                                  st9, st10, st11, st12, st13, st14)):
        return None
    return {"servers": s["servers"], "ports": p["ports"],
            "fips": f["floatingips"], "rules": g["security_group_rules"],
            "hvs": h["hypervisors"], "limits": lim["limits"]["absolute"],
            "services": svc["services"], "nquota": nq["quota"],
            "nets": nets["networks"], "subnets": subs["subnets"],
            "sgs": sgs["security_groups"], "routers": rts["routers"],
            "vols": vols["volumes"], "atts": atts["attachments"]}


def settled(state, hosts):
    if state is None:
        return False
    for sv in state["services"]:
        if sv.get("binary") == "nova-compute" and sv["host"] in hosts and \
                sv["state"] != "up":
            return False
    for s in state["servers"]:
        if s["status"] == "BUILD" or s.get("OS-EXT-STS:task_state"):
            return False
    # Every volume request reaches a final state (bounded by --settle).
    for v in state["vols"]:
        if v["status"] in VOL_BUSY:
            return False
    return True


# Cinder's transitional volume states.
VOL_BUSY = ("creating", "deleting", "attaching", "detaching", "reserved",
            "extending", "downloading", "maintenance")


def fault_near(injected, t0, t1, host=None,
               skip=("disk-full", "kill-dnsmasq", "kill-tgtd")):
    """Whether a fault that can explain a failure was injected between t0
    and t1. A fault of one host (an agent kill, a partition, a dnsmasq or
    tgtd kill) excuses only what happened on that host (A8); host None
    (not placed) is excused by a fault on any host. A controller kill and
    a libvirtd restart concern every host. Kinds in skip excuse nothing:
    a full store refuses writes (5xx), it does not make hosts
    unreachable; a killed dnsmasq or tgtd plays no part in a build."""
    return any(f["t0"] <= t1 and f["t1"] >= t0 and f["fault"] not in skip and
               (host is None or f.get("host") in (None, host))
               for f in injected)


def guests_by_host(manage):
    """Guests each agent last reported (the agent's own libvirt view),
    from `tinystack-manage hypervisor list`."""
    out = subprocess.run(manage + ["hypervisor", "list"], check=True,
                         capture_output=True, text=True).stdout
    res = {}
    hdr = None
    for line in out.splitlines():
        if not line.startswith("|"):
            continue
        cols = [c.strip() for c in line.strip("|").split("|")]
        if hdr is None:
            hdr = [c.lower() for c in cols]
            continue
        row = dict(zip(hdr, cols))
        res[cols[0]] = row
    return res


def failed_actions(api, sid):
    """{request id: message} of the server's instance actions that
    failed (a message is set only on failure)."""
    st, body = api.nova("GET", "/servers/%s/os-instance-actions" % sid)
    if st != 200 or not isinstance(body, dict):
        return {}
    return {a["request_id"]: a["message"] for a in body.get("instanceActions", [])
            if a.get("message")}


def check(hist, state, nemesis, args, guests):
    """The model: replay the acknowledged history; compare with state."""
    anomalies = []
    args.excused_actions = []

    def bad(kind, msg, reqs):
        anomalies.append({"kind": kind, "msg": msg, "requests": reqs})

    ops = hist.ops
    # Per object: every operation on it, in invocation order.
    by_obj = {}
    creates = {}
    for o in ops:
        if o["op"] == "nemesis":
            continue
        if o["op"].endswith("-create"):
            if "id" in o and ok(o["status"]):
                creates[o["id"]] = o
        elif "id" in o:
            by_obj.setdefault(o["id"], []).append(o)

    servers = {s["id"]: s for s in state["servers"]}
    ports = {p["id"]: p for p in state["ports"]}
    fips = {f["id"]: f for f in state["fips"]}
    rules = {r["id"]: r for r in state["rules"]}
    vols = {v["id"]: v for v in state["vols"]}
    present = {"server": servers, "port": ports, "fip": fips, "sgr": rules,
               "volume": vols}

    # Names of creates whose outcome is unknown (no answer): their objects
    # may exist. An answer, 5xx included, is definite: a refused create
    # (the store full) must leave nothing behind.
    maybe = set()
    for o in ops:
        if o["op"].endswith("-create") and o["status"] == "error":
            b = o.get("body", {})
            v = list(b.values())[0] if b else {}
            nm = v.get("name") or v.get("description")
            if nm:
                maybe.add(nm)

    def near(t0, t1, host=None):
        return fault_near(nemesis.injected, t0, t1, host)

    for oid, c in creates.items():
        kind = c["op"].split("-")[0]
        later = by_obj.get(oid, [])
        dels = [o for o in later if o["op"].endswith("-delete")]
        acked_del = [o for o in dels if ok(o["status"])]
        maybe_del = [o for o in dels if o["status"] == "error"]
        here = present[kind].get(oid)
        if acked_del:
            if here is not None:
                bad("resurrected", "%s %s acknowledged deleted but present (%s)"
                    % (kind, oid, here.get("status", "")),
                    [c["n"]] + [o["n"] for o in acked_del])
            continue
        if here is None:
            if maybe_del:
                continue
            bad("lost", "%s %s acknowledged created, never deleted, absent"
                % (kind, oid), [c["n"]] + [o["n"] for o in later])
            continue
        if kind != "server":
            continue
        # The power state the acknowledged actions predict; an action
        # whose outcome is unknown allows either. A 202 accepts an action,
        # it does not promise it: an accepted action that the server's
        # instance actions record as failed, while a fault was injected,
        # changed nothing (Nova's semantics: the instance stays as it
        # was, the action event says Error).
        host = here.get("OS-EXT-SRV-ATTR:host") or None
        failed = failed_actions(args.api, oid) if any(
            ok(o["status"]) and o["op"] != "server-delete" and
            near(o["t0"], o["t1"] + args.action_timeout + 5, host)
            for o in later) else {}
        want = {"ACTIVE"}
        for o in later:
            if o["op"] == "server-delete":
                continue
            tgt = "SHUTOFF" if o["op"] == "server-stop" else "ACTIVE"
            if ok(o["status"]) and o.get("rid") in failed and \
                    near(o["t0"], o["t1"] + args.action_timeout + 5, host):
                args.excused_actions.append((o["n"], failed[o["rid"]][:60]))
                continue
            if ok(o["status"]):
                want = {tgt}
            elif o["status"] == "error":
                want = want | {tgt}
        st = here["status"]
        if st == "ERROR":
            # A 202 accepts a build; it does not promise one. A build may
            # fail, with a fault, when its host was unreachable (killed,
            # partitioned) during it.
            # So may an action that timed out on an unreachable host.
            flt = here.get("fault", {}).get("message", "")
            # The excuse is per host (A8): a fault of the host the server
            # is placed on, or of any host for one never placed.
            excused = near(c["t0"], c["t1"] + args.build_timeout + 5, host) or any(
                ok(o["status"]) and near(o["t0"], o["t1"] + args.action_timeout + 5, host)
                for o in later if o["op"] != "server-delete")
            if not flt or not excused:
                bad("error", "server %s ERROR (%r) with no fault injected "
                    "during its build" % (oid, flt), [c["n"]])
            continue
        if st not in want:
            bad("state", "server %s is %s, acknowledged history predicts %s"
                % (oid, st, "/".join(sorted(want))),
                [c["n"]] + [o["n"] for o in later])

    # Objects nobody acknowledged creating: only those of unknown creates.
    for kind, objs in present.items():
        for oid, o in objs.items():
            if oid in creates:
                continue
            nm = o.get("name") or o.get("description") or ""
            if not nm.startswith(args.prefix):
                continue
            if nm in maybe:
                continue
            bad("phantom", "%s %s (%s) exists but no create of it was "
                "answered 2xx or with an unknown outcome" % (kind, oid, nm), [])

    volumes_check(ops, state, creates, servers, vols, nemesis.injected, args, bad)

    # Duplicates: one server per create (name), one IP per port, no IP,
    # MAC or floating address held twice.
    names = {}
    for s in state["servers"]:
        names.setdefault(s["name"], []).append(s["id"])
    for nm, ids in names.items():
        if len(ids) > 1:
            bad("duplicate", "%d servers named %s: %s" % (len(ids), nm, ids), [])
    seen_ip, seen_mac = {}, {}
    for p in state["ports"]:
        if len(p.get("fixed_ips", [])) > 1:
            bad("duplicate", "port %s has %d IPs" % (p["id"], len(p["fixed_ips"])), [])
        for ip in p.get("fixed_ips", []):
            k = (p["network_id"], ip["ip_address"])
            if k in seen_ip:
                bad("duplicate", "IP %s held by ports %s and %s"
                    % (ip["ip_address"], seen_ip[k], p["id"]), [])
            seen_ip[k] = p["id"]
        if p["mac_address"] in seen_mac:
            bad("duplicate", "MAC %s on ports %s and %s"
                % (p["mac_address"], seen_mac[p["mac_address"]], p["id"]), [])
        seen_mac[p["mac_address"]] = p["id"]
    seen_fip = {}
    for f in state["fips"]:
        a = f["floating_ip_address"]
        if a in seen_fip:
            bad("duplicate", "floating IP %s twice (%s, %s)" % (a, seen_fip[a], f["id"]), [])
        seen_fip[a] = f["id"]

    # Leaks: a port bound to a server that is gone, a server on the
    # network with other than one port.
    for p in state["ports"]:
        if p.get("device_owner", "").startswith("compute:"):
            if p.get("device_id") not in servers:
                bad("leak", "port %s of absent server %s" % (p["id"], p.get("device_id")), [])
    per_server = {}
    for p in state["ports"]:
        if p.get("device_owner", "").startswith("compute:"):
            per_server[p["device_id"]] = per_server.get(p["device_id"], 0) + 1
    for oid, c in creates.items():
        if c["op"] != "server-create" or oid not in servers:
            continue
        want = 1 if isinstance(c["body"]["server"].get("networks"), list) else 0
        if servers[oid]["status"] != "ERROR" and per_server.get(oid, 0) != want:
            bad("leak", "server %s has %d ports, wants %d"
                % (oid, per_server.get(oid, 0), want), [c["n"]])

    # Claims and guests: each host's claims are the servers placed there;
    # each agent runs exactly one running guest per ACTIVE server placed
    # on it (plus the test driver's own "test" domain), so none runs on
    # two hosts and none is missing or leaked.
    placed = {}
    for s in state["servers"]:
        h = s.get("OS-EXT-SRV-ATTR:host")
        if h and s["status"] == "ACTIVE":
            placed.setdefault(h, []).append(s["id"])
    # An ERROR server may keep its guest, running or not (a stop or
    # reboot that timed out, a start that failed): it may add one.
    errored = {}
    for s in state["servers"]:
        h = s.get("OS-EXT-SRV-ATTR:host")
        if h and s["status"] == "ERROR":
            errored[h] = errored.get(h, 0) + 1
    claimed = {}
    for s in state["servers"]:
        h = s.get("OS-EXT-SRV-ATTR:host")
        if h:
            claimed[h] = claimed.get(h, 0) + 1
    for hv in state["hvs"]:
        h = hv["hypervisor_hostname"]
        if hv["vcpus_used"] != claimed.get(h, 0):
            bad("claims", "%s: vcpus_used %d for %d servers placed there"
                % (h, hv["vcpus_used"], claimed.get(h, 0)), [])
    lim = state["limits"]
    if lim["totalInstancesUsed"] != len(state["servers"]):
        bad("claims", "project usage %d instances for %d servers"
            % (lim["totalInstancesUsed"], len(state["servers"])), [])
    # Neutron's stored usage counters (what quota checks read) equal the
    # objects the project holds.
    pid = args.project
    held = {"network": state["nets"], "subnet": state["subnets"],
            "port": state["ports"], "security_group": state["sgs"],
            "security_group_rule": state["rules"],
            "router": state["routers"], "floatingip": state["fips"]}
    for res, objs in held.items():
        n = sum(1 for o in objs
                if (o.get("project_id") or o.get("tenant_id")) == pid)
        used = state["nquota"].get(res, {}).get("used")
        if used != n:
            bad("usage", "network quota usage of %s is %s for %d held"
                % (res, used, n), [])
    for h in args.hosts:
        g = guests.get(h)
        if g is None:
            bad("guests", "host %s missing from the hypervisor list" % h, [])
            continue
        n = int(g.get("running vms", "-1"))
        act = len(placed.get(h, []))
        if not act <= n - args.base_guests <= act + errored.get(h, 0):
            bad("guests", "host %s reports %d running guests for %d ACTIVE "
                "servers placed there (+%d of its own, +%d ERROR at most)"
                % (h, n, act, args.base_guests, errored.get(h, 0)), [])
    dataplane(state, args, bad)
    links_fw(state, args, bad)
    return anomalies


def volumes_check(ops, state, creates, servers, vols, injected, args, bad):
    """Volumes and their attachments against the acknowledged history.
    Each (server, volume) pair starts detached; an acknowledged attach
    (200) predicts attached, an acknowledged detach (202) detached, the
    last acknowledged one deciding; one of unknown outcome allows either,
    and so does one accepted while a fault was injected on the server's
    host within action_timeout + 5 s (a 200 or 202 accepts the change,
    as in Nova, where a failed attach is rolled back). A pair of a server
    that is gone is detached. A volume that was not deleted is available
    or in-use (ERROR only with a fault during its create), in-use exactly
    when it has attachments, each server at most once; the server lists
    exactly the volumes attached to it; Cinder's attachments are one per
    pair, none of a volume or server that is gone."""
    args.excused_attach = []
    vol_skip = ("disk-full", "kill-dnsmasq")
    pairs = {}
    for o in ops:
        if o["op"] in ("volume-attach", "volume-detach"):
            pairs.setdefault((o["server"], o["id"]), []).append(o)
    attached = {}
    for vid, v in vols.items():
        for a in v.get("attachments", []):
            attached.setdefault((a.get("server_id"), vid), 0)
            attached[(a.get("server_id"), vid)] += 1
    for (sid, vid), n in attached.items():
        if n > 1:
            bad("duplicate", "volume %s lists server %s %d times" % (vid, sid, n), [])
        if sid not in servers:
            bad("leak", "volume %s attached to absent server %s" % (vid, sid),
                [o["n"] for o in pairs.get((sid, vid), [])])
    for (sid, vid), later in pairs.items():
        if vid not in vols or sid not in servers:
            continue
        host = servers[sid].get("OS-EXT-SRV-ATTR:host") or None
        want = {"detached"}
        for o in later:
            tgt = "attached" if o["op"] == "volume-attach" else "detached"
            if ok(o["status"]):
                if fault_near(injected, o["t0"], o["t1"] + args.action_timeout + 5,
                              host, vol_skip):
                    want = {tgt, "attached" if tgt == "detached" else "detached"}
                    args.excused_attach.append(o["n"])
                else:
                    want = {tgt}
            elif o["status"] == "error":
                want = want | {tgt}
        got = "attached" if (sid, vid) in attached else "detached"
        if got not in want:
            bad("state", "volume %s is %s to server %s, acknowledged history "
                "predicts %s" % (vid, got, sid, "/".join(sorted(want))),
                [o["n"] for o in later])
    for vid, v in vols.items():
        c = creates.get(vid)
        st = v["status"]
        if st == "error" and c is not None and fault_near(
                injected, c["t0"], c["t1"] + args.build_timeout + 5, None, vol_skip):
            continue
        if st not in ("available", "in-use"):
            bad("error", "volume %s is %s" % (vid, st), [c["n"]] if c else [])
        elif (st == "in-use") != bool(v.get("attachments")):
            bad("state", "volume %s is %s with %d attachments"
                % (vid, st, len(v.get("attachments", []))), [])
    for sid, srv in servers.items():
        listed = {x["id"] for x in srv.get("os-extended-volumes:volumes_attached", [])}
        have = {vid for (s, vid) in attached if s == sid}
        if listed != have:
            bad("state", "server %s lists volumes %s, the volumes say %s"
                % (sid, sorted(listed), sorted(have)), [])
    seen = {}
    for a in state["atts"]:
        k = (a.get("instance"), a.get("volume_id"))
        seen[k] = seen.get(k, 0) + 1
        if a.get("volume_id") not in vols or a.get("instance") not in servers:
            bad("leak", "attachment %s of volume %s, server %s: one is gone"
                % (a.get("id"), a.get("volume_id"), a.get("instance")), [])
    for k, n in seen.items():
        if n > 1:
            bad("duplicate", "%d attachments of volume %s to server %s"
                % (n, k[1], k[0]), [])
    storage(state, args, bad)


def storage(state, args, bad):
    """Each host's volume files and tgtd targets against the volumes the
    API shows there: one file volume-<id> per volume placed on the host
    (ERROR ones may lack it), nothing else; one target per volume there
    that has attachments, nothing else, none twice."""
    args.sto_stats = {}
    for h in args.hosts:
        mine = {v["id"]: v for v in state["vols"]
                if (v.get("os-vol-host-attr:host") or "").split("@")[0] == h}
        try:
            files = {f[len("volume-"):] for f in os.listdir(args.vol_dirs[h])
                     if f.startswith("volume-")}
        except FileNotFoundError:
            files = set()
        for vid in sorted(files - set(mine)):
            bad("leak", "%s: volume file of %s, which the API does not show "
                "there" % (h, vid), [])
        for vid in sorted(set(mine) - files):
            if mine[vid]["status"] != "error":
                bad("lost", "%s: no file of volume %s (%s)"
                    % (h, vid, mine[vid]["status"]), [])
        tg = tgt_targets(args.tgt[h])
        if tg is None:
            bad("storage", "%s: its tgtd does not answer" % h, [])
            continue
        want = {TGT_IQN + vid for vid, v in mine.items() if v.get("attachments")}
        for iqn in sorted(set(tg)):
            if tg.count(iqn) > 1:
                bad("duplicate", "%s: target %s %d times" % (h, iqn, tg.count(iqn)), [])
        for iqn in sorted(set(tg) - want):
            bad("leak", "%s: target %s of no attached volume there" % (h, iqn), [])
        for iqn in sorted(want - set(tg)):
            bad("storage", "%s: no target %s for an attached volume" % (h, iqn), [])
        args.sto_stats[h] = [len(files), len(tg)]


TGT_IQN = "iqn.2010-10.org.openstack:volume-"


def dataplane(state, args, bad):
    """Each host's DHCP against the ports bound there (netsync.h): for
    every network with a DHCP subnet and ports bound to the host (owners
    network:* aside), exactly one live dnsmasq, whose hosts file lists
    exactly those ports' (MAC, IP) pairs, each once, and exactly one
    network:dhcp port of that host; for every other network, neither."""
    dhcp_nets = {s["network_id"] for s in state["subnets"] if s.get("enable_dhcp")}
    args.dp_stats = {}
    for h in args.hosts:
        sdir = args.dhcp_dirs[h]
        live = dnsmasq_live(sdir)
        want, dports = {}, {}
        for p in state["ports"]:
            if p.get("binding:host_id") != h or p["network_id"] not in dhcp_nets:
                continue
            if p.get("device_owner", "").startswith("network:"):
                if p.get("device_owner") == "network:dhcp":
                    dports.setdefault(p["network_id"], []).append(p["id"])
                continue
            for ip in p.get("fixed_ips", []):
                want.setdefault(p["network_id"], set()).add(
                    (p["mac_address"].lower(), ip["ip_address"]))
        dirs = {os.path.basename(os.path.dirname(f))
                for f in glob.glob(sdir + "/*/pid")}
        for net in sorted(set(want) | set(live) | set(dports) | dirs):
            w = want.get(net, set())
            pids = live.get(net, [])
            nd = len(dports.get(net, []))
            if not w:
                if pids:
                    bad("leak", "%s: dnsmasq %s of network %s, which has no "
                        "port bound there" % (h, pids, net), [])
                if nd:
                    bad("leak", "%s: %d DHCP ports on network %s, which has no "
                        "port bound there" % (h, nd, net), [])
                continue
            if len(pids) != 1:
                bad("dataplane" if not pids else "duplicate",
                    "%s: %d live dnsmasq for network %s (%s) with %d ports bound"
                    % (h, len(pids), net, pids, len(w)), [])
            if nd != 1:
                bad("dataplane" if not nd else "duplicate",
                    "%s: %d DHCP ports on network %s" % (h, nd, net), [])
            try:
                with open("%s/%s/hosts" % (sdir, net)) as f:
                    lines = [l.strip() for l in f if l.strip()]
            except OSError as e:
                bad("dataplane", "%s: network %s: hosts file: %s" % (h, net, e), [])
                continue
            got, macs = set(), {}
            for l in lines:
                mac, ip = l.split(",")[0].lower(), l.split(",")[1].strip("[]")
                got.add((mac, ip))
                macs.setdefault(mac, []).append(ip)
            for mac, ips in macs.items():
                if len(ips) > 1:
                    bad("duplicate", "%s: network %s: DHCP hosts list MAC %s with "
                        "%s" % (h, net, mac, ips), [])
            st = args.dp_stats.setdefault(h, [0, 0])
            st[0] += 1
            st[1] += len(got)
            if got != w:
                bad("dataplane", "%s: network %s: DHCP hosts file lacks %s, has "
                    "extra %s" % (h, net, sorted(w - got), sorted(got - w)), [])


def ifname(prefix, oid):
    """common/ifname.h: prefix + the first 11 hex digits of the id."""
    return prefix + oid.replace("-", "")[:11]


def gname(gid):
    """agent/net/firewall.c group_name(): the group id without dashes."""
    return gid.replace("-", "")


LINK_PREFIXES = ("tsb", "tsv", "tap")
FW_PORT_CHAINS = (("bridge", "as_"), ("inet", "eg_"), ("inet", "in_"))
FW_GROUP_CHAINS = ("gin_", "geg_")


def host_view(args, h):
    """What host h's agent made, read in its namespace: {"links": names of
    the tsb/tsv/tap shape (ifname.h), "chains": {(family, name): text}}
    of the two tinystack_fw tables (firewall.h); None if unreadable."""
    pre = ["ip", "netns", "exec", args.netns[h]] if args.netns.get(h) else []
    try:
        out = subprocess.run(pre + ["ip", "-j", "link", "show"], capture_output=True,
                             text=True, timeout=20)
        if out.returncode != 0:
            return None
        links = {l["ifname"] for l in json.loads(out.stdout)
                 if re.fullmatch(r"(tsb|tsv|tap)[0-9a-f]{11}", l["ifname"])}
        chains = {}
        for fam in ("inet", "bridge"):
            out = subprocess.run(pre + ["nft", "list", "table", fam, "tinystack_fw"],
                                 capture_output=True, text=True, timeout=20)
            if out.returncode != 0:
                continue    # no table yet: no ports filtered there
            for m in re.finditer(r"^\tchain (\S+) \{\n(.*?)^\t\}", out.stdout,
                                 re.M | re.S):
                chains[(fam, m.group(1))] = m.group(2)
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    return {"links": links, "chains": chains}


def links_fw(state, args, bad, view=None):
    """Each host's links and firewall against the ports bound there
    (netsync.h; owners network:* aside): one bridge tsb<net> per network
    with such ports, one VXLAN device tsv<net> for each of them that is a
    VXLAN network, no tap but of such a port; in the tinystack_fw tables
    the chains as_/eg_/in_<tap> of exactly the bound ports with port
    security, gin_/geg_<group> of exactly the groups those ports are in,
    and in each gin_ chain the single ports (th dport N) of exactly the
    group's ingress rules. Anything else of those shapes is a leak."""
    view = view or (lambda h: host_view(args, h))
    nets = {n["id"]: n for n in state["nets"]}
    args.lf_stats = {}
    for h in args.hosts:
        v = view(h)
        if v is None:
            bad("dataplane", "%s: its links or nft tables could not be read" % h, [])
            continue
        bound = [p for p in state["ports"] if p.get("binding:host_id") == h and
                 not p.get("device_owner", "").startswith("network:")]
        wnets = {p["network_id"] for p in bound}
        want = {ifname("tsb", n) for n in wnets}
        want |= {ifname("tsv", n) for n in wnets
                 if nets.get(n, {}).get("provider:network_type") == "vxlan"}
        taps = {ifname("tap", p["id"]) for p in bound}
        for l in sorted(v["links"] - want):
            if l.startswith("tap"):
                if l not in taps:
                    bad("leak", "%s: tap %s of no port bound there" % (h, l), [])
                continue
            bad("leak", "%s: %s %s of no network with ports bound there" % (
                h, "bridge" if l.startswith("tsb") else "VXLAN device", l), [])
        for l in sorted(want - v["links"]):
            bad("dataplane", "%s: no %s %s for a network with ports bound there"
                % (h, "bridge" if l.startswith("tsb") else "VXLAN device", l), [])
        filt = [p for p in bound if p.get("port_security_enabled", True)]
        wch = {(f, c + ifname("tap", p["id"])) for p in filt for f, c in FW_PORT_CHAINS}
        groups = {g for p in filt for g in p.get("security_groups", [])}
        wch |= {("inet", c + gname(g)) for g in groups for c in FW_GROUP_CHAINS}
        got = {k for k in v["chains"]
               if re.fullmatch(r"(as|eg|in)_tap[0-9a-f]{11}|g(in|eg)_[0-9a-f]{32}", k[1])}
        for f, c in sorted(got - wch):
            bad("leak", "%s: nft chain %s %s of no port or group there" % (h, f, c), [])
        for f, c in sorted(wch - got):
            bad("dataplane", "%s: no nft chain %s %s" % (h, f, c), [])
        nrules = 0
        for g in sorted(groups):
            text = v["chains"].get(("inet", "gin_" + gname(g)))
            if text is None:
                continue
            w = sorted(r["port_range_min"] for r in state["rules"]
                       if r["security_group_id"] == g and r["direction"] == "ingress"
                       and r.get("port_range_min") is not None
                       and r["port_range_min"] == r.get("port_range_max"))
            have = sorted(int(x) for x in re.findall(r"\bdport (\d+)\b(?!-)", text))
            nrules += len(have)
            if w != have:
                bad("dataplane", "%s: chain gin_%s: rules for ports %s, its group's "
                    "ingress rules ask for %s" % (h, gname(g), have, w), [])
        args.lf_stats[h] = [len([l for l in v["links"] if l.startswith("tsb")]),
                            len([l for l in v["links"] if l.startswith("tsv")]),
                            len(got), nrules]


def self_test():
    """The checker's excuse and volume rules on synthetic histories (ctest
    unit.faults_checker_selftest): no daemons."""
    fails = []

    def expect(what, cond):
        if not cond:
            fails.append(what)
    inj = [{"fault": "kill-agent", "host": "h2", "t0": 10.0, "t1": 14.0},
           {"fault": "kill-controller", "t0": 100.0, "t1": 103.0},
           {"fault": "kill-tgtd", "host": "h1", "t0": 200.0, "t1": 201.0}]
    # A8: a host's fault excuses only what happened on that host.
    expect("h2's kill excuses h2", fault_near(inj, 12, 13, "h2"))
    expect("h2's kill does not excuse h1", not fault_near(inj, 12, 13, "h1"))
    expect("h2's kill excuses an unplaced server", fault_near(inj, 12, 13, None))
    expect("a controller kill excuses every host", fault_near(inj, 99, 101, "h1"))
    expect("nothing outside the window", not fault_near(inj, 20, 90, None))
    expect("a tgtd kill excuses no build", not fault_near(inj, 199, 202, "h1"))
    expect("a tgtd kill excuses a volume change on its host",
           fault_near(inj, 199, 202, "h1", ("disk-full",)))

    class A:
        action_timeout, build_timeout, hosts = 20, 30, []
    args = A()
    srv = {"s1": {"id": "s1", "OS-EXT-SRV-ATTR:host": "h1",
                  "os-extended-volumes:volumes_attached": []}}

    def vol(vid, st, att=()):
        return {"id": vid, "status": st, "attachments": [
            {"server_id": s, "attachment_id": "a-" + vid} for s in att]}

    def run(ops, vols, atts=()):
        found = []
        state = {"vols": list(vols.values()), "atts": list(atts)}
        orig = globals()["storage"]
        globals()["storage"] = lambda *a: None
        try:
            volumes_check(ops, state, {}, srv, vols, inj, args,
                          lambda k, m, r: found.append(k))
        finally:
            globals()["storage"] = orig
        return found
    att = {"op": "volume-attach", "server": "s1", "id": "v1", "t0": 50.0,
           "t1": 50.5, "status": 200, "n": 1}
    det = dict(att, op="volume-detach", status=202, t0=60.0, t1=60.2, n=2)
    # An acknowledged attach predicts attached: a detached volume is a
    # state anomaly; attached and listed by the server is clean.
    expect("attach acked, volume detached: state",
           "state" in run([att], {"v1": vol("v1", "available")}))
    srv["s1"]["os-extended-volumes:volumes_attached"] = [{"id": "v1"}]
    expect("attach acked, attached: clean",
           run([att], {"v1": vol("v1", "in-use", ["s1"])},
               [{"id": "a-v1", "volume_id": "v1", "instance": "s1"}]) == [])
    expect("two attachments of one pair: duplicate", "duplicate" in run(
        [att], {"v1": vol("v1", "in-use", ["s1"])},
        [{"id": "a", "volume_id": "v1", "instance": "s1"},
         {"id": "b", "volume_id": "v1", "instance": "s1"}]))
    srv["s1"]["os-extended-volumes:volumes_attached"] = []
    expect("detach acked after attach, detached: clean",
           run([att, det], {"v1": vol("v1", "available")}) == [])
    # An attach accepted while h1's tgtd was killed may fail (either
    # outcome); one accepted during h2's agent kill may not.
    a2 = dict(att, t0=195.0, t1=195.5)
    expect("attach during h1's tgtd kill, detached: excused",
           run([a2], {"v1": vol("v1", "available")}) == [])
    a3 = dict(att, t0=5.0, t1=6.0)
    expect("attach during h2's agent kill, server on h1, detached: state",
           "state" in run([a3], {"v1": vol("v1", "available")}))
    expect("a volume in error with no fault: error",
           "error" in run([], {"v1": vol("v1", "error")}))
    # The links and firewall check: a clean host view passes; each object
    # hidden from the API's view (a port, a network, a group rule) or left
    # behind on the host is reported.
    net, sg = "11111111-2222-3333-4444-555555555555", "a" * 8 + "-bbbb-cccc-dddd-" + "e" * 12
    pa = "01234567-89ab-cdef-0123-456789abcdef"
    pb = "fedcba98-7654-3210-fedc-ba9876543210"
    lstate = {"nets": [{"id": net, "provider:network_type": "vxlan"}],
              "ports": [{"id": pid, "network_id": net, "binding:host_id": "h1",
                         "device_owner": "compute:nova", "port_security_enabled": True,
                         "security_groups": [sg]} for pid in (pa, pb)] +
              [{"id": "99999999-0000-0000-0000-000000000000", "network_id": net,
                "binding:host_id": "h1", "device_owner": "network:dhcp",
                "security_groups": []}],
              "rules": [{"id": "r1", "security_group_id": sg, "direction": "ingress",
                         "port_range_min": 22, "port_range_max": 22},
                        {"id": "r2", "security_group_id": sg, "direction": "egress",
                         "port_range_min": None, "port_range_max": None}]}
    chains = {("inet", "gin_" + gname(sg)): "\t\tip saddr @rg4_x accept\n"
              "\t\tmeta nfproto ipv4 tcp dport 22 accept\n",
              ("inet", "geg_" + gname(sg)): "\t\tmeta nfproto ipv4 accept\n",
              ("inet", "forward"): "", ("inet", "routed"): ""}
    for pid in (pa, pb):
        for f, c in FW_PORT_CHAINS:
            chains[(f, c + ifname("tap", pid))] = ""
    hview = {"links": {ifname("tsb", net), ifname("tsv", net)}, "chains": chains}

    class LA:
        hosts = ["h1"]

    def lrun(st, hv=hview):
        found = []
        links_fw(st, LA(), lambda k, m, r: found.append((k, m)), lambda h: hv)
        return found
    expect("links and firewall: clean", lrun(lstate) == [])
    st = dict(lstate, ports=[q for q in lstate["ports"] if q["id"] != pb])
    f = lrun(st)
    expect("a port gone: its three chains leak",
           len([m for k, m in f if k == "leak" and ifname("tap", pb) in m]) == 3)
    st = dict(lstate, ports=[])
    f = lrun(st)
    expect("a network gone: its bridge and VXLAN device leak",
           any(ifname("tsb", net) in m for k, m in f if k == "leak") and
           any(ifname("tsv", net) in m for k, m in f if k == "leak"))
    expect("a network gone: its group's chains leak",
           any("gin_" + gname(sg) in m for k, m in f if k == "leak"))
    hv = dict(hview, links={ifname("tsb", net)})
    expect("a VXLAN device missing: dataplane",
           [k for k, m in lrun(lstate, hv)] == ["dataplane"])
    hv = dict(hview, links=hview["links"] | {ifname("tap", "77777777-0000-0000-0000-000000000000")})
    expect("a tap of no port: leak", [k for k, m in lrun(lstate, hv)] == ["leak"])
    st = dict(lstate, rules=[lstate["rules"][1]])
    expect("a group rule gone, still in its chain: dataplane",
           [k for k, m in lrun(st)] == ["dataplane"])
    hv = dict(hview, chains={k: v for k, v in chains.items()
                             if k != ("inet", "in_" + ifname("tap", pa))})
    expect("a port's chain missing: dataplane",
           [k for k, m in lrun(lstate, hv)] == ["dataplane"])
    for f in fails:
        print("not ok - self-test: %s" % f)
    print("# self-test: %d checks failed" % len(fails))
    return 1 if fails else 0


def main():
    if "--self-test" in sys.argv[1:]:
        return self_test()
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--ops", type=int, default=150,
                    help="operations at least (more while faults last)")
    ap.add_argument("--max-ops", type=int, default=1500)
    ap.add_argument("--threads", type=int, default=3)
    ap.add_argument("--faults", default="kill-controller,kill-agent,partition,"
                    "disk-full,libvirtd-restart,kill-dnsmasq,kill-tgtd")
    ap.add_argument("--rounds", type=int, default=1,
                    help="times each fault kind is injected")
    ap.add_argument("--gap", default="1,4", help="seconds between faults (min,max)")
    ap.add_argument("--settle", type=int, default=90)
    ap.add_argument("--build-timeout", type=int, default=30)
    ap.add_argument("--action-timeout", type=int, default=20)
    ap.add_argument("--hosts", default="h1,h2")
    ap.add_argument("--partition-host", default="h2")
    ap.add_argument("--partition-addr", default="127.0.0.2")
    ap.add_argument("--base-guests", type=int, default=1)
    ap.add_argument("--prefix", default="tsf")
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--history", required=True)
    ap.add_argument("--long", action="store_true",
                    help="the long form: every fault 5 times, more load")
    args = ap.parse_args()
    if args.long:
        args.rounds, args.ops, args.max_ops, args.threads = 5, 1500, 9000, 4
        args.gap = "2,8"
    args.hosts = args.hosts.split(",")
    args.db = ENV["T"] + "/db"
    # Each agent's dnsmasq state directory (the test's [network]
    # dhcp_state_dir) and a URI that answers when the libvirtd does.
    args.dhcp_dirs = {h: "%s/%sdhcp" % (ENV["T"], h) for h in args.hosts}
    args.libvirt_probe = ENV.get("TSF_LIBVIRT_PROBE", "")
    # Each agent's volume files and tgtd control port (the test's
    # [storage] file_dir and tgt_control_port).
    args.vol_dirs = {h: "%s/vols-%s" % (ENV["T"], h) for h in args.hosts}
    args.tgt = {kv.split("=")[0]: int(kv.split("=")[1])
                for kv in ENV.get("TSF_TGT", "").split(",") if "=" in kv}
    # Each agent's network namespace (the test's TSF_NETNS, h=name; a
    # host not named there is in the driver's own).
    args.netns = {kv.split("=")[0]: kv.split("=")[1]
                  for kv in ENV.get("TSF_NETNS", "").split(",") if "=" in kv}
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    print("# seed %d (rerun with --seed %d)" % (seed, seed))
    sys.stdout.flush()
    master = random.Random(seed)

    fx = json.load(open(args.fixtures))
    api = Api(ENV["IDP"], ENV["CP_URL"], ENV["NP_URL"], ENV["ADMIN_PW"],
              ENV["VP_URL"])
    api.auth()
    args.project = api.project
    args.api = api
    args.excused_actions = []
    hist = History(args.history)
    d = Daemons(ENV["T"], ENV["TS_BUILD_DIR"])
    for h in args.hosts:
        d.add_agent(h)
    manage = [ENV["TS_BUILD_DIR"] + "/tools/tinystack-manage", "--config",
              ENV["T"] + "/controller.conf"]

    kinds = [k for k in args.faults.split(",") if k] * args.rounds
    nem = Nemesis(random.Random(master.randrange(1 << 31)), api, d, hist, args)
    gap = tuple(float(x) for x in args.gap.split(","))
    stop = threading.Event()
    faults_done = threading.Event()
    counter = {"n": 0, "lock": threading.Lock()}
    # One shared pool of known objects: every client acts on objects the
    # others created.
    wl = Workload(random.Random(master.randrange(1 << 31)), api, hist, fx, 0)
    workers = []
    for i in range(args.threads):
        w = Workload(random.Random(master.randrange(1 << 31)), api, hist, fx, i)
        w.servers, w.ports, w.fips, w.rules, w.lock = \
            wl.servers, wl.ports, wl.fips, wl.rules, wl.lock
        w.vols, w.atts = wl.vols, wl.atts
        workers.append(threading.Thread(target=w.run,
                                        args=(faults_done, args.ops, args.max_ops,
                                              args.prefix, counter)))
    t_start = time.time()
    for w in workers:
        w.start()
    nerr = []

    def nemesis_main():
        try:
            nem.run(stop, kinds, gap)
        except Exception as e:  # a harness failure, not an anomaly
            nerr.append(repr(e))
        faults_done.set()
    nt = threading.Thread(target=nemesis_main)
    nt.start()
    # The workload lasts as long as the faults: the clients keep going
    # until every fault was injected and healed and the ops are done.
    for w in workers:
        w.join()
    stop.set()
    nt.join()
    if nerr:
        print("not ok - nemesis failed: %s" % nerr[0])
        return 2
    t_load = time.time() - t_start
    log("load done: %d operations in %.0f s, %d faults" %
        (len(hist.ops) - len(nem.injected), t_load, len(nem.injected)))

    # Convergence, bounded.
    t0 = time.time()
    state = None
    while time.time() - t0 < args.settle:
        state = list_all(api)
        if settled(state, args.hosts):
            break
        time.sleep(0.5)
    else:
        print("not ok - no convergence within %d s" % args.settle)
        if state:
            for s in state["servers"]:
                if s["status"] == "BUILD" or s.get("OS-EXT-STS:task_state"):
                    print("#   stuck: %s %s %s" % (s["id"], s["status"],
                                                  s.get("OS-EXT-STS:task_state")))
            for v in state["vols"]:
                if v["status"] in VOL_BUSY:
                    print("#   stuck: volume %s %s on %s, attachments %s" % (
                        v["id"], v["status"], v.get("os-vol-host-attr:host"),
                        [a.get("server_id") for a in v.get("attachments", [])]))
            for sv in state["services"]:
                if sv.get("binary") == "nova-compute" and sv["state"] != "up":
                    print("#   down: %s" % sv["host"])
            with open(args.history + ".state.json", "w") as f:
                json.dump(state, f)
        else:
            print("#   the state could not be read (an API answered other than 200)")
        return 1
    t_conv = time.time() - t0
    # The agents' reports lag the controller's state by a heartbeat; the
    # guests check polls (bounded) until the counts agree or time is up.
    anomalies = None
    for _ in range(40):
        state = list_all(api)
        if state is None or not settled(state, args.hosts):
            time.sleep(0.5)
            continue
        anomalies = check(hist, state, nem, args, guests_by_host(manage))
        if not anomalies:
            break
        time.sleep(0.5)
    if anomalies is None:
        print("not ok - the state could not be read after convergence")
        return 1
    dp_final = {h: list(v) for h, v in args.dp_stats.items()}
    lf_final = {h: list(v) for h, v in args.lf_stats.items()}
    sto_final = {h: list(v) for h, v in args.sto_stats.items()}
    att_final = sum(len(v.get("attachments", [])) for v in state["vols"])

    # The checker's own witness: a server deleted behind the history's
    # back must be reported lost (a check that cannot fail proves
    # nothing).
    witness = "not run (anomalies found)"
    if not anomalies:
        victim = next((s["id"] for s in state["servers"] if s["id"] in
                       {o.get("id") for o in hist.ops
                        if o["op"] == "server-create" and ok(o["status"])}), None)
        if victim is None:
            print("not ok - no acknowledged server left for the checker's witness")
            return 1
        st, _ = api.nova("DELETE", "/servers/" + victim)
        gone = False
        for _ in range(100):
            st2, _ = api.nova("GET", "/servers/" + victim)
            if st2 == 404:
                gone = True
                break
            time.sleep(0.2)
        s2 = list_all(api)
        found = check(hist, s2, nem, args, guests_by_host(manage)) \
            if gone and s2 else []
        if not any(a["kind"] == "lost" and victim in a["msg"] for a in found):
            print("not ok - the checker missed server %s deleted behind the "
                  "history's back (delete %s, found %s)" % (victim, st, found))
            return 1
        witness = "a server deleted outside the history was reported lost"
        # The dataplane check's own witness: with one bound port taken out
        # of the API's view, the hosts file that lists it must be reported.
        s3 = list_all(api)
        bound = [p for p in (s3 or {}).get("ports", [])
                 if p.get("binding:host_id") in args.hosts and
                 p.get("device_owner", "").startswith("compute:")]
        if not bound:
            print("not ok - no bound port left for the dataplane check's witness")
            return 1
        s3["ports"] = [p for p in s3["ports"] if p["id"] != bound[0]["id"]]
        found = []
        dataplane(s3, args, lambda k, m, r: found.append(m))
        if not any(bound[0]["mac_address"].lower() in m for m in found):
            print("not ok - the dataplane check missed port %s's hosts entry "
                  "(found %s)" % (bound[0]["id"], found))
            return 1
        witness += "; a port hidden from the dataplane check was reported " \
            "in its host's DHCP hosts file"
        # The storage check's own witness: a volume hidden from the API's
        # view must be reported by its file (and its target if attached).
        vis = [v for v in s3["vols"] if
               (v.get("os-vol-host-attr:host") or "").split("@")[0] in args.hosts
               and v["status"] in ("available", "in-use")]
        if not vis:
            print("not ok - no volume left for the storage check's witness")
            return 1
        s3["vols"] = [v for v in s3["vols"] if v["id"] != vis[0]["id"]]
        found = []
        storage(s3, args, lambda k, m, r: found.append(m))
        if not any(vis[0]["id"] in m for m in found):
            print("not ok - the storage check missed volume %s's file "
                  "(found %s)" % (vis[0]["id"], found))
            return 1
        witness += "; a volume hidden from the storage check was reported " \
            "by its file"
        # The links and firewall check's own witness: the network of a
        # bound port hidden from its view (every port on it hidden) must
        # leave that host's bridge reported, and the port's chains.
        p = bound[0]
        s4 = dict(s3, ports=[q for q in s3["ports"]
                             if q["network_id"] != p["network_id"] or
                             q.get("binding:host_id") != p["binding:host_id"]])
        found = []
        links_fw(s4, args, lambda k, m, r: found.append(m))
        br, ch = ifname("tsb", p["network_id"]), "in_" + ifname("tap", p["id"])
        if not any(br in m for m in found) or not any(ch in m for m in found):
            print("not ok - the links and firewall check missed bridge %s or "
                  "chain %s of hidden port %s (found %s)" % (br, ch, p["id"], found))
            return 1
        # and a rule of a group hidden from it must be reported in its chain.
        grs = [r for r in s3["rules"] if r["direction"] == "ingress" and
               r.get("port_range_min") is not None and
               r["port_range_min"] == r.get("port_range_max") and
               r["security_group_id"] in p.get("security_groups", [])]
        if grs:
            s5 = dict(s3, rules=[r for r in s3["rules"] if r["id"] != grs[0]["id"]])
            found = []
            links_fw(s5, args, lambda k, m, r: found.append(m))
            if not any("gin_" + gname(grs[0]["security_group_id"]) in m
                       for m in found):
                print("not ok - the firewall check missed the rule of hidden "
                      "rule %s (found %s)" % (grs[0]["id"], found))
                return 1
        witness += "; a network hidden from the links and firewall check " \
            "was reported by its bridge and its port's chains" + \
            ("; a hidden rule by its group's chain" if grs else "")
    ops = [o for o in hist.ops if o["op"] != "nemesis"]
    acked = [o for o in ops if ok(o["status"])]
    unknown = [o for o in ops if o["status"] == "error"]
    by = {}
    for o in ops:
        k = "%s %s" % (o["op"], o["status"])
        by[k] = by.get(k, 0) + 1
    print("# summary: seed %d, %d operations (%d acknowledged, %d unknown "
          "outcome), %d faults injected (%s), load %.0f s, converged in "
          "%.1f s, %d servers, %d anomalies" %
          (seed, len(ops), len(acked), len(unknown), len(nem.injected),
           ", ".join(f["fault"] for f in nem.injected), t_load, t_conv,
           len(state["servers"]), len(anomalies)))
    for k in sorted(by):
        print("#   %-28s %d" % (k, by[k]))
    errs = {}
    for s in state["servers"]:
        if s["status"] == "ERROR":
            m = s.get("fault", {}).get("message", "")[:60]
            errs[m] = errs.get(m, 0) + 1
    for m in sorted(errs):
        print("#   ERROR servers (excused: a fault during their build): "
              "%d x %r" % (errs[m], m))
    for h in sorted(dp_final):
        print("#   dataplane %s: %d networks with a dnsmasq, %d DHCP hosts "
              "entries" % (h, dp_final[h][0], dp_final[h][1]))
    for h in sorted(lf_final):
        print("#   links and firewall %s: %d bridges, %d VXLAN devices, %d nft "
              "port and group chains, %d group rules with a port"
              % ((h,) + tuple(lf_final[h])))
    print("#   volumes: %d at the end, %d attachments" % (len(state["vols"]), att_final))
    for h in sorted(sto_final):
        print("#   storage %s: %d volume files, %d tgtd targets"
              % (h, sto_final[h][0], sto_final[h][1]))
    if args.excused_attach:
        print("#   attach/detach accepted during a fault (either outcome "
              "allowed): requests %s" % args.excused_attach)
    for n, m in args.excused_actions:
        print("#   accepted action that failed during a fault (excused): "
              "request %d, %r" % (n, m))
    print("# checker witness: %s" % witness)
    for a in anomalies:
        print("ANOMALY %s: %s (requests %s)" % (a["kind"], a["msg"], a["requests"]))
    with open(args.history + ".summary.json", "w") as f:
        json.dump({"seed": seed, "operations": len(ops), "acknowledged": len(acked),
                   "unknown": len(unknown), "faults": nem.injected,
                   "error_servers": errs,
                   "excused_actions": args.excused_actions,
                   "dataplane": dp_final, "storage": sto_final,
                   "links_fw": lf_final,
                   "volumes": len(state["vols"]), "attachments": att_final,
                   "anomalies": anomalies}, f)
    return 1 if anomalies else 0


if __name__ == "__main__":
    sys.exit(main())
