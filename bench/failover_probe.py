#!/usr/bin/python3
"""failover_probe.py: the client side of bench/failover_bench.sh.

  load URL TOKEN IMAGE PREFIX OUT STOPFILE MAX
      POST /servers one at a time (a unique name PREFIX-N each) until
      STOPFILE exists or MAX requests were sent; one JSON line per request
      in OUT: the name, the outcome and the times. The outcome is "acked"
      (202: the server is durable), "refused" (the connection was refused:
      nothing was sent, so nothing can exist), "unknown" (the connection
      broke or timed out after the request went out: the server may or
      may not exist) or "http-<status>".
  reported URL TOKEN SINCE N
      exit 0 when at least N agents' services (hosts sim-*) have an
      updated_at at or after SINCE (Unix seconds): they reported to the
      controller started at SINCE.
  check URL TOKEN OUT...
      after the fact: every acked server exists and is ACTIVE, no refused
      name exists; unknown names are resolved by listing (what a client
      does before sending a create again: Nova's POST /servers is not
      idempotent). Prints a summary; exit 1 on a lost or phantom server.

FAILOVER_PROBE_TIMEOUT (seconds, default 10): load's timeout of one
request. A request whose server committed it before dying is never
answered, and nothing on the connection tells the client: it waits this
long (bench/hapair_bench.sh's node loss).
"""
import datetime
import json
import os
import sys
import time
import urllib.error
import urllib.request


def call(method, url, tok, body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "X-Auth-Token": tok, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, json.load(r)


def load(url, tok, image, prefix, out, stopfile, limit):
    with open(out, "a") as f:
        for n in range(int(limit)):
            if os.path.exists(stopfile):
                break
            name = "%s-%d" % (prefix, n)
            t0 = time.time()
            rec = {"name": name, "t0": t0}
            try:
                st, b = call("POST", url + "/servers", tok, {"server": {
                    "name": name, "flavorRef": "b1", "imageRef": image,
                    "networks": "none"}}, timeout=float(os.environ.get(
                        "FAILOVER_PROBE_TIMEOUT", "10")))
                rec.update(outcome="acked", id=b["server"]["id"])
            except urllib.error.HTTPError as e:
                rec.update(outcome="http-%d" % e.code)
            except (ConnectionRefusedError, urllib.error.URLError) as e:
                reason = getattr(e, "reason", e)
                rec["outcome"] = ("refused" if isinstance(
                    reason, ConnectionRefusedError) else "unknown")
                rec["error"] = str(reason)
            except Exception as e:  # reset, timeout, truncated answer
                rec.update(outcome="unknown", error=repr(e))
            rec["t1"] = time.time()
            f.write(json.dumps(rec) + "\n")
            f.flush()
            if rec["outcome"] != "acked":
                time.sleep(0.1)  # a controller that is down: do not spin


def reported(url, tok, since, n):
    try:
        _, b = call("GET", url + "/os-services", tok)
    except Exception:
        return 1
    got = 0
    for s in b["services"]:
        u = s.get("updated_at")
        if not s["host"].startswith("sim-") or not u:
            continue
        t = datetime.datetime.fromisoformat(u).replace(
            tzinfo=datetime.timezone.utc).timestamp()
        got += t >= float(since)
    return 0 if got >= int(n) else 1


def servers(url, tok):
    out, marker = {}, None
    for _ in range(1000):
        q = url + "/servers/detail?limit=1000" + (
            "&marker=" + marker if marker else "")
        _, b = call("GET", q, tok, timeout=60)
        for s in b["servers"]:
            out[s["name"]] = s
        if not b["servers"]:
            break
        marker = b["servers"][-1]["id"]
    return out


def check(url, tok, files):
    recs = []
    for p in files:
        with open(p) as f:
            recs += [json.loads(line) for line in f]
    have = servers(url, tok)
    counts, lost, phantom, notactive = {}, [], [], []
    unknown_exist = 0
    for r in recs:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
        s = have.get(r["name"])
        if r["outcome"] == "acked":
            if s is None or s["id"] != r["id"]:
                lost.append(r["name"])
            elif s["status"] != "ACTIVE":
                notactive.append((r["name"], s["status"]))
        elif r["outcome"] in ("refused",) or r["outcome"].startswith(
                "http-"):
            if s is not None:
                phantom.append(r["name"])
        elif r["outcome"] == "unknown" and s is not None:
            unknown_exist += 1
    print("requests: %s; servers listed: %d" % (
        ", ".join("%s %d" % kv for kv in sorted(counts.items())), len(have)))
    print("acked and lost: %d; acked, not ACTIVE: %d; refused or failed "
          "but present: %d; unknown outcome resolved by name: %d exist, "
          "%d do not" % (len(lost), len(notactive), len(phantom),
                         unknown_exist,
                         counts.get("unknown", 0) - unknown_exist))
    for x in lost + phantom + notactive:
        print("  ", x)
    return 1 if lost or phantom or notactive else 0


if __name__ == "__main__":
    a = sys.argv
    if len(a) == 9 and a[1] == "load":
        load(*a[2:])
    elif len(a) == 6 and a[1] == "reported":
        sys.exit(reported(*a[2:]))
    elif len(a) >= 5 and a[1] == "check":
        sys.exit(check(a[2], a[3], a[4:]))
    else:
        sys.exit(__doc__)
