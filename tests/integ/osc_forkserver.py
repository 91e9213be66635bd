#!/usr/bin/env python3
"""A fork server for the `openstack` CLI in the CLI tests.

Debian's openstackclient spends 1-3 s of every call importing its modules
and plugins before it sends a request; the CLI tests make hundreds of
calls. This server imports openstackclient and every command plugin once,
then forks a child per call, which runs the unchanged client code
(`openstackclient.shell.main`) with the caller's argv, environment,
working directory and standard streams, and reports its exit status.
The client side is `osc_client.c`, installed as `openstack` in a
directory put first on PATH by lib.sh's osc_start; when this server is
not up, that client runs /usr/bin/openstack itself.

Protocol on the unix socket (one call per connection): the client sends
one message carrying its fds 0, 1 and 2 (SCM_RIGHTS) and a payload:
u32 length (big endian) then NUL-terminated strings: cwd, argc, argv...,
then the environment's KEY=VALUE entries. The server answers with one
byte, the exit status, when the call ends. A child whose client goes
away (killed by timeout(1), say) exits at once.
"""
import array
import os
import signal
import socket
import struct
import sys
import threading

MAX_PAYLOAD = 1 << 20


def warm():
    sys.argv = ["openstack"]
    from importlib.metadata import entry_points
    import openstackclient.shell  # noqa: F401
    eps = entry_points()
    for group in sorted(eps.groups):
        if not group.startswith("openstack."):
            continue
        for ep in eps.select(group=group):
            try:
                ep.load()
            except Exception:  # a plugin that fails to load does so per call too
                pass
    import keystoneauth1.loading
    keystoneauth1.loading.get_available_plugin_loaders()


def recv_call(conn):
    fds = array.array("i")
    data = b""
    need = None
    while need is None or len(data) < need + 4:
        msg, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(3 * 4))
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(cdata[:len(cdata) - len(cdata) % 4])
        if not msg:
            raise ValueError("short call")
        data += msg
        if need is None and len(data) >= 4:
            need = struct.unpack(">I", data[:4])[0]
            if need > MAX_PAYLOAD:
                raise ValueError("call too large")
    if len(fds) != 3:
        raise ValueError("want 3 fds, got %d" % len(fds))
    parts = data[4:4 + need].split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    cwd = parts[0].decode()
    argc = int(parts[1])
    argv = [p.decode("utf-8", "surrogateescape") for p in parts[2:2 + argc]]
    env = {}
    for e in parts[2 + argc:]:
        k, _, v = e.partition(b"=")
        env[k.decode("utf-8", "surrogateescape")] = \
            v.decode("utf-8", "surrogateescape")
    return list(fds), cwd, argv, env


def watch(conn):
    # The client's end closes only when the client dies: then so do we.
    try:
        conn.recv(1)
    except OSError:
        pass
    os._exit(124)


def child(conn, fds, cwd, argv, env):
    for i, fd in enumerate(fds):
        os.dup2(fd, i)
        os.close(fd)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threading.Thread(target=watch, args=(conn,), daemon=True).start()
    sys.argv = ["openstack"] + argv
    status = 1
    try:
        from openstackclient.shell import main
        status = main(argv)
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None
                                                        else 1)
    except BaseException:
        import traceback
        traceback.print_exc()
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    try:
        conn.sendall(bytes([status & 0xff]))
    except OSError:
        pass
    os._exit(status & 0xff)


def main():
    path = sys.argv[1]
    warm()
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.unlink(path + ".tmp")
    except FileNotFoundError:
        pass
    srv.bind(path + ".tmp")
    srv.listen(64)
    # Children are not waited for: their status goes to the client.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    # Bound only now: a client that finds the socket finds a warm server.
    os.rename(path + ".tmp", path)
    print("osc fork server ready on %s" % path, flush=True)
    while True:
        conn, _ = srv.accept()
        try:
            conn.settimeout(10)
            fds, cwd, argv, env = recv_call(conn)
            conn.settimeout(None)
        except (OSError, ValueError) as e:
            print("bad call: %s" % e, flush=True)
            conn.close()
            continue
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            srv.close()
            child(conn, fds, cwd, argv, env)
        for fd in fds:
            os.close(fd)
        conn.close()


if __name__ == "__main__":
    main()
