#!/usr/bin/python3
"""file_server.py FILE PORT_FILE [MODE]: the least any HTTP server can do to
serve FILE: answer every GET on 127.0.0.1 with a 200, Content-Length and the
whole file, one connection at a time (no framework, no authentication).
MODE block (the default): sendfile() calls of up to 1 GiB on a blocking
socket. MODE chunks: what libmicrohttpd 0.9.75 does for a file response
(strace of the controller): a non-blocking socket, sendfile() of 128 KiB at
a time, epoll for EPOLLOUT when the socket is full. MODE chunks-cork: the
same with TCP_CORK set for the body, as libmicrohttpd sets it (TCP_NODELAY,
then TCP_CORK, before its first sendfile of a body with more to come).
Writes the port it listens on into PORT_FILE, then serves until killed.

bench/image_bench.sh times curl against it beside the image API's download
of the same bytes: what the client and the kernel cost on their own, so the
controller's share of a download can be told from them."""
import os
import select
import socket
import sys

CHUNK = 128 << 10


def chunks(conn, f, size, cork):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if cork:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    conn.setblocking(False)
    ep = select.epoll()
    ep.register(conn.fileno(), select.EPOLLOUT | select.EPOLLET)
    off = 0
    try:
        while off < size:
            try:
                n = os.sendfile(conn.fileno(), f.fileno(), off,
                                min(CHUNK, size - off))
            except BlockingIOError:
                ep.poll(10)
                continue
            if n == 0:
                return
            off += n
    finally:
        ep.close()
    if cork:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)


def serve(conn, path, mode):
    head = b""
    while b"\r\n\r\n" not in head:
        if len(head) > 65536:
            return
        b = conn.recv(65536)
        if not b:
            return
        head += b
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/"
                     b"octet-stream\r\nContent-Length: %d\r\n"
                     b"Connection: close\r\n\r\n" % size)
        if mode != "block":
            chunks(conn, f, size, mode == "chunks-cork")
            return
        off = 0
        while off < size:
            n = os.sendfile(conn.fileno(), f.fileno(), off,
                            min(size - off, 1 << 30))
            if n == 0:
                return
            off += n


def main():
    path, port_file = sys.argv[1], sys.argv[2]
    mode = sys.argv[3] if len(sys.argv) > 3 else "block"
    if mode not in ("block", "chunks", "chunks-cork"):
        sys.exit("file_server.py: MODE is block, chunks or chunks-cork")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(port_file + ".tmp", port_file)
    while True:
        conn, _ = s.accept()
        try:
            serve(conn, path, mode)
        except OSError:
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    main()
