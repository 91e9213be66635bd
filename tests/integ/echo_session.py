# echo_session.py IP PORT OUT: one TCP connection to an echo server, a
# line every 0.1 s; OUT holds the number of echoes so far (written
# atomically), then "cut" once a line is not echoed within 1 s. Shared by
# the dataplane tests that cut established sessions (net_firewall,
# net_router); run with python3 -S inside the client's namespace.
import socket, sys, time, os
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=0.6)
c.settimeout(1.0); n = 0
def put(s):
    open(sys.argv[3] + ".tmp", "w").write(s); os.rename(sys.argv[3] + ".tmp", sys.argv[3])
while True:
    try:
        c.sendall(b"x\n")
        if c.recv(10) != b"x\n": raise OSError
    except OSError:
        put("cut"); sys.exit(0)
    n += 1; put(str(n)); time.sleep(0.1)
