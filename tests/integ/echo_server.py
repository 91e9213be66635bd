# echo_server.py PORT [ADDR]: a TCP echo server on ADDR (all addresses
# by default), one thread per connection; for the dataplane tests
# (net_firewall, net_router), run with python3 -S in a namespace.
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[2] if len(sys.argv) > 2 else "0.0.0.0", int(sys.argv[1]))); s.listen(16)
def echo(c):
    while True:
        d = c.recv(100)
        if not d: break
        c.sendall(d)
while True:
    c, _ = s.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()
