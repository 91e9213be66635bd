# header_proxy.py PORT UPSTREAM_PORT OUT: an HTTP/1.1 forwarder on
# 127.0.0.1:PORT to 127.0.0.1:UPSTREAM_PORT that appends, for every
# request, one line "METHOD PATH X-Auth-Token X-Tinystack-Host" ("-" for
# a missing header) to OUT (mode 0600). It stands where an eavesdropper on
# the agent's link would: guest_e2e takes the agent's image capability
# from it to show what the capability does and does not allow. One
# request per connection (sent upstream with "Connection: close"); the
# response is relayed byte for byte.
import os, socket, sys, threading

port, upstream, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()


def head_of(c):
    buf = b""
    while b"\r\n\r\n" not in buf and len(buf) < 65536:
        d = c.recv(4096)
        if not d:
            return None, b""
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def relay(c):
    try:
        c.settimeout(30)
        head, rest = head_of(c)
        if head is None:
            return
        lines = head.decode("latin-1").split("\r\n")
        method, path = lines[0].split(" ")[:2]
        hdr = {}
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdr[k.strip().lower()] = v.strip()
        with lock:
            fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.write(fd, ("%s %s %s %s\n" % (method, path,
                hdr.get("x-auth-token", "-"),
                hdr.get("x-tinystack-host", "-"))).encode())
            os.close(fd)
        # One request per upstream connection, whatever the client asked:
        # the relay ends when the upstream closes.
        keep = [l for l in lines if not l.lower().startswith("connection:")]
        head = ("\r\n".join(keep) + "\r\nConnection: close").encode("latin-1")
        u = socket.create_connection(("127.0.0.1", upstream), timeout=30)
        u.sendall(head + b"\r\n\r\n" + rest)
        n = int(hdr.get("content-length", "0") or 0) - len(rest)
        while n > 0:
            d = c.recv(min(n, 65536))
            if not d:
                break
            u.sendall(d)
            n -= len(d)
        while True:
            d = u.recv(65536)
            if not d:
                break
            c.sendall(d)
        u.close()
    except (OSError, ValueError) as e:
        sys.stderr.write("header_proxy: %s\n" % e)
    finally:
        c.close()


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(16)
while True:
    c, _ = s.accept()
    threading.Thread(target=relay, args=(c,), daemon=True).start()
