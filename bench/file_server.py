#!/usr/bin/python3
"""file_server.py FILE PORT_FILE: the least any HTTP server can do to serve
FILE: answer every GET on 127.0.0.1 with a 200, Content-Length and the whole
file in sendfile() calls of up to 1 GiB on a blocking socket, one connection
at a time (no framework, no authentication, no event loop). Writes the port
it listens on into PORT_FILE, then serves until killed.

bench/image_bench.sh times curl against it beside the image API's download
of the same bytes: what the client and the kernel cost on their own, so the
controller's share of a download can be told from them."""
import os
import socket
import sys


def serve(conn, path):
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
        off = 0
        while off < size:
            n = os.sendfile(conn.fileno(), f.fileno(), off,
                            min(size - off, 1 << 30))
            if n == 0:
                return
            off += n


def main():
    path, port_file = sys.argv[1], sys.argv[2]
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
            serve(conn, path)
        except OSError:
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    main()
