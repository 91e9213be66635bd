#!/usr/bin/env python3
"""Forward TCP ports between a network namespace and this one's loopback.

    nsfwd.py NETNS [PORT...] [--back ADDR LO-HI]

For each PORT, listens on 127.0.0.1:PORT inside the named namespace
(/run/netns/NETNS) and relays every connection to 127.0.0.1:PORT in the
namespace this process was started in. packaging/fakehost.sh (for the
tests and `TS_NETNS=1 ./stack.sh`) uses it so that an agent whose
dataplane lives in a namespace of its own reaches the controller's bus
and image API, which listen on the host's 127.0.0.1 only: no address
outside loopback is ever involved. Prints
"ready" once every listener is bound; runs until killed.
"""
import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)


def setns(fd):
    if libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


def pump(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def connect_in(ns, port):
    """A connection to 127.0.0.1:port made inside the namespace fd ns (a
    socket keeps the namespace it was made in); None if refused. Only
    this thread switches: setns is per thread."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        setns(ns)
        try:
            u = socket.socket()
        finally:
            setns(home)
    finally:
        os.close(home)
    u.settimeout(10)
    try:
        u.connect(("127.0.0.1", port))
    except OSError:
        u.close()
        return None
    u.settimeout(None)
    return u


def serve(lsock, port, ns=None):
    while True:
        c, _ = lsock.accept()
        if ns is not None:
            u = connect_in(ns, port)
        else:
            try:
                # Sockets keep the namespace they were made in: this one is
                # the host's, made after the switch back.
                u = socket.create_connection(("127.0.0.1", port), timeout=10)
                u.settimeout(None)
            except OSError:
                u = None
        if u is None:
            c.close()
            continue
        threading.Thread(target=pump, args=(c, u), daemon=True).start()
        threading.Thread(target=pump, args=(u, c), daemon=True).start()


def main():
    usage = "usage: nsfwd.py NETNS [PORT...] [--back ADDR LO-HI]"
    args = sys.argv[1:]
    back = None
    if "--back" in args:
        i = args.index("--back")
        if len(args) != i + 3:
            sys.exit(usage)
        lo, _, hi = args[i + 2].partition("-")
        back = (args[i + 1], int(lo), int(hi))
        if not 0 < back[1] <= back[2] < 65536 or back[2] - back[1] > 255:
            sys.exit("nsfwd.py: --back: LO-HI, at most 256 ports")
        args = args[:i]
    if not args or (len(args) < 2 and back is None):
        sys.exit(usage)
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + args[0], os.O_RDONLY)
    ports = [int(p) for p in args[1:]]
    listeners = []
    setns(target)
    try:
        for p in ports:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", p))
            s.listen(64)
            listeners.append((s, p))
    finally:
        setns(home)
    for s, p in listeners:
        threading.Thread(target=serve, args=(s, p), daemon=True).start()
    if back is not None:
        for p in range(back[1], back[2] + 1):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((back[0], p))
            s.listen(16)
            threading.Thread(target=serve, args=(s, p, target),
                             daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
