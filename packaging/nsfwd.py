#!/usr/bin/env python3
"""Forward TCP ports from a network namespace to this one's loopback.

    nsfwd.py NETNS PORT [PORT...]

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


def serve(lsock, port):
    while True:
        c, _ = lsock.accept()
        try:
            # Sockets keep the namespace they were made in: this one is the
            # host's, made after the switch back.
            u = socket.create_connection(("127.0.0.1", port), timeout=10)
            u.settimeout(None)
        except OSError:
            c.close()
            continue
        threading.Thread(target=pump, args=(c, u), daemon=True).start()
        threading.Thread(target=pump, args=(u, c), daemon=True).start()


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: nsfwd.py NETNS PORT [PORT...]")
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + sys.argv[1], os.O_RDONLY)
    ports = [int(p) for p in sys.argv[2:]]
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
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
