# lmdb_state_v17.py N DB_DIR: adds N synthetic servers' entries to
# instances_by_state of an LMDB store in its schema-17 form (scope NUL
# vm_state NUL task NUL, 16 hex of INT64_MAX - created_at, the complemented
# uuid; value the uuid), two per server (one of 10 projects, and ""), in
# the states of a busy cloud (active 80%, stopped 15%, error 4%, active +
# rebooting 1%), loaded by mdb_load (plain puts) in creation order as the
# controller of schema 17 wrote them: a store to time the 17 -> 18 step of
# `tinystack-manage db sync` on (docs/PERFORMANCE.md, "instances_by_state
# ascending"). The step reads only this index, so no instance record is
# needed. bench/lmdb_created_v16.py is the same for the 16 -> 17 step.
# ASC=1: the schema-18 form instead (16 hex of created_at, the uuid), loaded
# the same way: the pages of both layouts as the controller writes them.
import os, random, subprocess, sys, uuid

n = int(sys.argv[1])
d = sys.argv[2]
rnd = random.Random(18)
projects = ["%032x" % rnd.getrandbits(128) for _ in range(10)]
t0 = 1_796_000_000_000
INT64_MAX = (1 << 63) - 1
comp = str.maketrans("0123456789abcdef", "fedcba9876543210")

def uuid7(ms):
    r = rnd.getrandbits(74)
    v = (ms << 80) | (7 << 76) | ((r >> 62) << 64) | (2 << 62) | (r & ((1 << 62) - 1))
    return str(uuid.UUID(int=v))

def state():
    x = rnd.random()
    return (("active", "") if x < 0.80 else ("stopped", "") if x < 0.95 else
            ("error", "") if x < 0.99 else ("active", "rebooting"))

txt = ["VERSION=3", "format=bytevalue", "type=btree", "mapsize=%d" % (8 << 30),
       "HEADER=END"]
for i in range(n):
    ms = t0 + i * 7
    u = uuid7(ms)
    vm, task = state()
    for scope in (projects[i % 10], ""):
        k = scope + "\0" + vm + "\0" + task + "\0" + (
            "%016x" % ms + u if os.environ.get("ASC") == "1" else
            "%016x" % (INT64_MAX - ms) + u.translate(comp))
        txt.append(" " + k.encode().hex())
        txt.append(" " + u.encode().hex())
txt.append("DATA=END")
subprocess.run(["mdb_load", "-s", "instances_by_state", "-f", "/dev/stdin", d],
               input="\n".join(txt) + "\n", text=True, check=True)
