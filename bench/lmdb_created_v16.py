# lmdb_created_v16.py N DB_DIR: adds N synthetic servers' entries to
# instances_by_created of an LMDB store in its schema-16 form (scope NUL,
# 16 hex of INT64_MAX - created_at, the complemented uuid; value the uuid),
# two per server (one of 10 projects, and ""), loaded by mdb_load (plain
# puts) in creation order as the controller of schema 16 wrote them: a
# store to time the 16 -> 17 step of `tinystack-manage db sync` on
# (docs/PERFORMANCE.md, "instances_by_created ascending"). The step reads
# only this index, so no instance record is needed.
import random, subprocess, sys, uuid

n = int(sys.argv[1])
d = sys.argv[2]
rnd = random.Random(17)
projects = ["%032x" % rnd.getrandbits(128) for _ in range(10)]
t0 = 1_796_000_000_000
INT64_MAX = (1 << 63) - 1
comp = str.maketrans("0123456789abcdef", "fedcba9876543210")

def uuid7(ms):
    r = rnd.getrandbits(74)
    v = (ms << 80) | (7 << 76) | ((r >> 62) << 64) | (2 << 62) | (r & ((1 << 62) - 1))
    return str(uuid.UUID(int=v))

txt = ["VERSION=3", "format=bytevalue", "type=btree", "mapsize=%d" % (8 << 30),
       "HEADER=END"]
for i in range(n):
    ms = t0 + i * 7
    u = uuid7(ms)
    for scope in (projects[i % 10], ""):
        k = scope + "\0" + "%016x" % (INT64_MAX - ms) + u.translate(comp)
        txt.append(" " + k.encode().hex())
        txt.append(" " + u.encode().hex())
txt.append("DATA=END")
subprocess.run(["mdb_load", "-s", "instances_by_created", "-f", "/dev/stdin", d],
               input="\n".join(txt) + "\n", text=True, check=True)
