#!/usr/bin/python3
"""drain_host.py HOST [TIMEOUT]: live-migrate every server off HOST with
the installed novaclient, as an operator drains a hypervisor:
hypervisors.search(HOST, servers=True), then servers.live_migrate() for
each (no host named: the scheduler picks the target), then wait, bounded
by TIMEOUT seconds (300), until each is ACTIVE on another host without a
task. Credentials from the OS_* environment (an openrc). Prints
"<server id> <from> <to> <seconds>" per server; exits 1 when one is not
moved in time or ends in ERROR, 2 when HOST has no server.
"""
import os
import sys
import time

from keystoneauth1 import session
from keystoneauth1.identity import v3
from novaclient import api_versions
from novaclient import client


def main():
    host = sys.argv[1]
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 300.0
    auth = v3.Password(
        auth_url=os.environ["OS_AUTH_URL"],
        username=os.environ["OS_USERNAME"],
        password=os.environ["OS_PASSWORD"],
        project_name=os.environ["OS_PROJECT_NAME"],
        user_domain_name=os.environ.get("OS_USER_DOMAIN_NAME", "Default"),
        project_domain_name=os.environ.get("OS_PROJECT_DOMAIN_NAME",
                                           "Default"))
    sess = session.Session(auth=auth)
    nova = client.Client("2.1", session=sess)
    # The highest microversion both sides speak (2.11 today; from 2.25
    # the body is {host, block_migration: "auto"}).
    ver = api_versions.discover_version(nova, api_versions.APIVersion("2.latest"))
    nova = client.Client(ver.get_string(), session=sess)
    ids = []
    for hv in nova.hypervisors.search(host, servers=True):
        if hv.hypervisor_hostname != host:
            continue
        ids += [s["uuid"] for s in getattr(hv, "servers", None) or []]
    if not ids:
        print("no server on %s" % host, file=sys.stderr)
        return 2
    t0 = {}
    for sid in ids:
        t0[sid] = time.monotonic()
        if ver >= api_versions.APIVersion("2.25"):
            nova.servers.live_migrate(sid, None, "auto")
        else:
            nova.servers.live_migrate(sid, None, False, False)
    left = set(ids)
    end = time.monotonic() + timeout
    while left and time.monotonic() < end:
        for sid in sorted(left):
            s = nova.servers.get(sid)
            at = getattr(s, "OS-EXT-SRV-ATTR:host", None)
            task = getattr(s, "OS-EXT-STS:task_state", None)
            if s.status == "ERROR":
                print("%s ERROR on %s" % (sid, at), file=sys.stderr)
                return 1
            if s.status == "ACTIVE" and task is None and at != host:
                print("%s %s %s %.1f" % (sid, host, at,
                                         time.monotonic() - t0[sid]))
                left.discard(sid)
        if left:
            time.sleep(1)
    if left:
        print("still on %s after %.0f s: %s" % (host, timeout,
                                                " ".join(sorted(left))),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
