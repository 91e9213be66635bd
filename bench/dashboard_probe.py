#!/usr/bin/python3
"""dashboard_probe.py: the fleet dashboard in a real headless Chromium,
driven over the Chrome DevTools protocol (a minimal RFC 6455 client from
the standard library: python3-websocket is not a dependency).

Run by bench/dashboard_bench.sh (through fleetsim.sh's DASH_HOOK) against
a controller holding HOSTS simulated hosts and INSTANCES servers:
  1. one tab logs in as admin; times from the login submit to the first
     fleet row painted, to the full fleet table (the summary counts every
     host), to the first instance rows and to every instance loaded (the
     instance view's pager counts them all);
  2. the controller's CPU (utime + stime of CTL_PID) over WINDOW seconds
     with 0, 1 and 5 logged-in dashboards left idle (each polls).

Usage: dashboard_probe.py URL CTL_PID HOSTS INSTANCES   (env WINDOW, 60)
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

URL, CTL_PID, HOSTS, INSTANCES = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
WINDOW = int(os.environ.get("WINDOW", "60"))
USER = os.environ.get("DASH_USER", "admin")
PASSWORD = os.environ.get("DASH_PASSWORD", "bench")
PROJECT = os.environ.get("DASH_PROJECT", "admin")
TICK = os.sysconf("SC_CLK_TCK")


class WS:
    """Just enough websocket for CDP: text frames, client masking."""

    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.s = socket.create_connection((u.hostname, u.port), timeout=600)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET {u.path} HTTP/1.1\r\nHost: {u.hostname}:{u.port}\r\n"
                        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            c = self.s.recv(4096)
            if not c:
                raise EOFError("handshake")
            buf += c
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(head.decode(errors="replace"))
        self.n = 0

    def _send(self, op, data):
        hdr, n, mask = bytearray([0x80 | op]), len(data), os.urandom(4)
        if n < 126:
            hdr.append(0x80 | n)
        elif n < 65536:
            hdr.append(0x80 | 126)
            hdr += struct.pack(">H", n)
        else:
            hdr.append(0x80 | 127)
            hdr += struct.pack(">Q", n)
        self.s.sendall(bytes(hdr) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _read(self, n):
        while len(self.buf) < n:
            c = self.s.recv(1 << 16)
            if not c:
                raise EOFError("closed")
            self.buf += c
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        msg = b""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            op = b0 & 0x0F
            if op == 9:
                self._send(10, data)
                continue
            if op == 8:
                raise EOFError("close frame")
            msg += data
            if b0 & 0x80:
                return json.loads(msg)

    def call(self, method, **params):
        self.n += 1
        self._send(1, json.dumps({"id": self.n, "method": method, "params": params}).encode())
        while True:
            m = self.recv()
            if m.get("id") == self.n:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"{expr[:60]}: {r['exceptionDetails']}")
        return r["result"].get("value")


def cpu():
    with open(f"/proc/{CTL_PID}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / TICK   # utime, stime (fields 14, 15)


def wait_js(ws, expr, limit, what):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        v = ws.js(expr)
        if v:
            return v
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {limit} s: {what}")


# In the page: marks (performance.now() at the login submit, then when each
# condition first holds), checked every 10 ms so the probe's own round trips
# do not add to them.
MARKS = """(() => {
  const hosts = %d, instances = %d;
  window.__marks = {};
  const m = window.__marks, $ = (id) => document.getElementById(id);
  const rows = (id) => $(id).tBodies[0].rows.length;
  const count = (re) => { const x = re.exec($('summary').textContent); return x ? +x[1] : -1; };
  document.getElementById('login').addEventListener('submit', () => { m.submit = performance.now(); }, true);
  const iv = setInterval(() => {
    const t = performance.now();
    if (m.fleet_first === undefined && rows('fleet') > 0) m.fleet_first = t;
    if (m.fleet_full === undefined && count(/^(\\d+) hosts/) >= hosts) m.fleet_full = t;
    if (m.inst_first === undefined && rows('instances') > 0) m.inst_first = t;
    const p = $('pager-instances'), q = p && / of (\\d+) /.exec(p.textContent);
    if (m.inst_full === undefined && (count(/^(\\d+) instances/) >= instances || (q && +q[1] >= instances))) {
      m.inst_full = t; clearInterval(iv);
    }
  }, 10);
})()"""

LOGIN = """(() => {
  const f = document.getElementById('login');
  f.domain.value = 'Default'; f.user.value = %s; f.password.value = %s; f.project.value = %s;
  f.requestSubmit();
  return true;
})()""" % (json.dumps(USER), json.dumps(PASSWORD), json.dumps(PROJECT))


def open_tab(port):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
    t = json.load(urllib.request.urlopen(req))
    ws = WS(t["webSocketDebuggerUrl"])
    ws.call("Page.enable")
    ws.call("Runtime.enable")
    return ws


def load(ws):
    ws.call("Page.navigate", url=URL)
    wait_js(ws, "document.readyState === 'complete' && !!document.getElementById('login')", 60, "page load")


def main():
    prof = tempfile.mkdtemp(prefix="dash-probe.")
    port_s = socket.socket()
    port_s.bind(("127.0.0.1", 0))
    port = port_s.getsockname()[1]
    port_s.close()
    br = subprocess.Popen(["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu",
                           "--no-first-run", "--disable-extensions", f"--user-data-dir={prof}",
                           f"--remote-debugging-port={port}", "--remote-debugging-address=127.0.0.1",
                           "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
                           "--disable-backgrounding-occluded-windows", "--window-size=1366,900",
                           "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        t0 = time.monotonic()
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=2)
                break
            except OSError:
                if time.monotonic() - t0 > 60 or br.poll() is not None:
                    raise RuntimeError("chromium did not start")
                time.sleep(0.2)

        # 1. first paint and full tables, one fresh tab
        ws = open_tab(port)
        load(ws)
        ws.js(MARKS % (HOSTS, INSTANCES))
        c0 = cpu()
        ws.js(LOGIN)
        wait_js(ws, "window.__marks.fleet_full !== undefined", 300, "full fleet table")
        ws.js("document.getElementById('tab-instances').click(), true")
        m = wait_js(ws, "window.__marks.inst_full !== undefined && window.__marks", 600, "all instances")
        c1 = cpu()
        d = {k: (v - m["submit"]) / 1000 for k, v in m.items() if k != "submit"}
        print(f"dashboard, {HOSTS} hosts, {INSTANCES} instances, from the login submit:"
              f" first fleet row {d['fleet_first']:.2f} s, full fleet table {d['fleet_full']:.2f} s,"
              f" first instance rows {d['inst_first']:.2f} s, all instances loaded {d['inst_full']:.2f} s;"
              f" controller CPU meanwhile {c1 - c0:.2f} s")
        ws.js("document.getElementById('tab-fleet').click(), true")
        heap = ws.js("performance.memory ? Math.round(performance.memory.usedJSHeapSize / 1048576) : -1")
        rows = ws.js("document.querySelectorAll('tbody tr').length")
        print(f"  page: {rows} table rows in the DOM, JS heap {heap} MiB")

        # 2. idle CPU per dashboard: 0 (this tab logged out), 1, 5
        ws.js("document.getElementById('logout').click(), true")
        tabs = [ws]
        results = {}
        for n in (0, 1, 5):
            while len(tabs) < n:
                tabs.append(open_tab(port))
            for t in tabs[:n]:
                if not t.js("(e => !!e && !e.hidden)(document.getElementById('app-view'))"):
                    load(t)
                    t.js(LOGIN)
                    wait_js(t, "!document.getElementById('app-view').hidden && "
                            "/instances|hosts/.test(document.getElementById('summary').textContent)",
                            300, "login")
            time.sleep(min(10, WINDOW))   # first loads done, polling steady
            c0, w0 = cpu(), time.monotonic()
            time.sleep(WINDOW)
            c1, w1 = cpu(), time.monotonic()
            results[n] = (c1 - c0) / (w1 - w0)
            la = open("/proc/loadavg").read().split()[:3]
            print(f"idle: {n} dashboard(s) polling: controller {100 * results[n]:.1f}% of one core"
                  f" over {w1 - w0:.0f} s (load average {' '.join(la)})")
        for n in (1, 5):
            print(f"  per dashboard ({n}): {100 * (results[n] - results[0]) / n:.1f}% of one core above the idle fleet")
    finally:
        br.terminate()
        try:
            br.wait(10)
        except subprocess.TimeoutExpired:
            br.kill()
        shutil.rmtree(prof, ignore_errors=True)


if __name__ == "__main__":
    main()
