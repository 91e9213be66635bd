#!/usr/bin/python3
# A websocket client (RFC 6455, stdlib only) for the VNC console tests:
#   vnc_ws.py URL [ORIGIN]
# URL is a console URL as the API hands it out (noVNC's page with
# ?path=<dir>/websockify?token=...); the websocket is ws://<host>/<path>,
# as vnc_lite.html opens it. ORIGIN: the Origin header ("-": none; default
# the page's own http://host). Prints "HTTP <status>" of the handshake;
# after a 101 also the RFB banner the guest's VNC server sent and
# "SECTYPES n" once it answered the client's version (masked frames up),
# and "PONG" when a ping came back. Exit 0 when it got this far.
import base64
import hashlib
import os
import socket
import struct
import sys
import urllib.parse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def frame(op, payload):
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        hdr = struct.pack("!BB", 0x80 | op, 0x80 | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", 0x80 | op, 0x80 | 126, n)
    else:
        hdr = struct.pack("!BBQ", 0x80 | op, 0x80 | 127, n)
    return hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class Conn:
    def __init__(self, sock, buf):
        self.s = sock
        self.buf = buf

    def need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("closed")
            self.buf += d
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self):
        b0, b1 = self.need(2)
        if b1 & 0x80:
            raise ValueError("server frame masked")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.need(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.need(8))[0]
        return b0 & 0x0F, self.need(n)

    def read_data(self, n):
        """n bytes of binary payload, skipping control frames."""
        data = b""
        while len(data) < n:
            op, p = self.read_frame()
            if op == 8:
                raise EOFError("close frame")
            if op in (0, 2):
                data += p
        return data


def main():
    url = sys.argv[1]
    u = urllib.parse.urlsplit(url)
    path = urllib.parse.parse_qs(u.query)["path"][0]
    origin = sys.argv[2] if len(sys.argv) > 2 else "%s://%s" % (u.scheme, u.netloc)
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n"
           % (path, u.netloc, key))
    if origin != "-":
        req += "Origin: %s\r\n" % origin
    req += "\r\n"
    s = socket.create_connection((u.hostname, u.port or 80), timeout=20)
    s.sendall(req.encode())
    head = b""
    while b"\r\n\r\n" not in head:
        d = s.recv(4096)
        if not d:
            break
        head += d
    head, _, rest = head.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split()[1] if lines and len(lines[0].split()) > 1 else "0"
    print("HTTP", status, flush=True)
    if status != "101":
        return 1
    hdrs = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip()
            for l in lines[1:] if ":" in l}
    want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    if hdrs.get("sec-websocket-accept") != want:
        print("BAD ACCEPT", hdrs.get("sec-websocket-accept"))
        return 1
    c = Conn(s, rest)
    banner = c.read_data(12)
    print("BANNER", banner.decode("latin-1").strip(), flush=True)
    c.s.sendall(frame(9, b"tsping"))
    # Answer with the same version, masked, in two frames (a fragment
    # boundary inside the message must not matter to the proxy).
    c.s.sendall(frame(2, banner[:5]) + frame(2, banner[5:]))
    pong = sect = False
    while not (pong and sect):
        op, p = c.read_frame()
        if op == 10 and p == b"tsping":
            pong = True
            print("PONG", flush=True)
        elif op in (0, 2) and p and not sect:
            sect = True
            print("SECTYPES", p[0], flush=True)
    c.s.sendall(frame(8, struct.pack("!H", 1000)))
    return 0 if pong else 1


if __name__ == "__main__":
    sys.exit(main())
