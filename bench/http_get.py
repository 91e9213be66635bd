#!/usr/bin/python3
"""http_get.py URL TOKEN [READ_SIZE]: GET URL on a plain HTTP/1.1
connection with X-Auth-Token and discard the body, reading READ_SIZE
bytes per recv (default 1 MiB). curl 7.88 receives 100 KiB per call but
writes what it receives in 4-16 KiB stdio pieces, to /dev/null too (about
126,000 writes per GiB, strace), which costs it more system time than the
server spends sending; this shows what the server delivers to a client that
reads in large pieces and keeps nothing.
Exits 1 unless the answer is 200 with all of Content-Length's bytes."""
import socket
import sys
import urllib.parse


def main():
    url, token = sys.argv[1], sys.argv[2]
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 1 << 20
    u = urllib.parse.urlsplit(url)
    s = socket.create_connection((u.hostname, u.port))
    s.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nX-Auth-Token: %s\r\n"
               "Connection: close\r\n\r\n" % (u.path, u.netloc, token))
              .encode())
    buf = bytearray(size)
    view = memoryview(buf)
    head = b""
    while b"\r\n\r\n" not in head:
        if len(head) > 65536:
            sys.exit("http_get: headers too long")
        n = s.recv_into(view)
        if n == 0:
            sys.exit("http_get: connection closed in the headers")
        head += bytes(view[:n])
    head, body = head.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    if lines[0].split()[1] != "200":
        sys.exit("http_get: " + lines[0])
    length = None
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v)
    if length is None:
        sys.exit("http_get: no Content-Length")
    got = len(body)
    while got < length:
        n = s.recv_into(view)
        if n == 0:
            break
        got += n
    if got != length:
        sys.exit("http_get: %d of %d bytes" % (got, length))


main()
