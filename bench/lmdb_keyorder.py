# lmdb_keyorder.py N DIR: page counts of the instance indexes' key layouts
# at N instances, loaded by mdb_load (lmdb-utils; plain puts, no append
# flag) in creation order, as the controller writes them:
#   by_created desc  instances_by_created as stored: scope NUL, 16 hex of
#                    INT64_MAX - created_at, the complemented uuid (newest
#                    first in key order: every new key lands at the left)
#   by_created asc   the same with created_at itself and the uuid (new keys
#                    land at the right: the list would walk it backwards)
#   instances uuid4  36-byte random keys, 415-byte values (instances)
#   instances time   the same with time-ordered ids (uuid version 7)
#   ..., grown       each record first 380 bytes, rewritten at 415 when
#                    50 more instances were created (BUILD -> ACTIVE)
# Two entries per instance in the indexes (the project's scope and ""),
# 10 projects. docs/PERFORMANCE.md, "Compact stored records, part 2".
import os, random, re, subprocess, sys, uuid

n = int(sys.argv[1])
d = sys.argv[2]
rnd = random.Random(18)
projects = ["%032x" % rnd.getrandbits(128) for _ in range(10)]
t0 = 1_796_000_000_000
INT64_MAX = (1 << 63) - 1
comp = str.maketrans("0123456789abcdef", "fedcba9876543210")

def uuid4():
    return str(uuid.UUID(int=rnd.getrandbits(128), version=4))

def uuid7(ms):
    r = rnd.getrandbits(74)
    v = (ms << 80) | (7 << 76) | ((r >> 62) << 64) | (2 << 62) | (r & ((1 << 62) - 1))
    return str(uuid.UUID(int=v))

def load(name, pairs):
    path = os.path.join(d, name)
    os.makedirs(path, exist_ok=True)
    txt = ["VERSION=3", "format=bytevalue", "type=btree", "mapsize=%d" % (4 << 30),
           "HEADER=END"]
    for k, v in pairs:
        txt.append(" " + k.hex())
        txt.append(" " + v.hex())
    txt.append("DATA=END")
    subprocess.run(["mdb_load", "-f", "/dev/stdin", "-n", path + ".mdb"],
                   input="\n".join(txt) + "\n", text=True, check=True)
    st = subprocess.run(["mdb_stat", "-n", path + ".mdb"],
                        capture_output=True, text=True, check=True).stdout
    p = sum(int(x) for x in re.findall(r"(?:Branch|Leaf|Overflow) pages: (\d+)", st))
    os.unlink(path + ".mdb")
    os.rmdir(path)
    return p

inst = []
for i in range(n):
    ms = t0 + i * 7
    inst.append((ms, projects[i % 10], uuid4(), uuid7(ms)))
val415 = bytes(415)
res = {}
for order in ("desc", "asc"):
    pairs = []
    for ms, proj, u, _ in inst:
        for scope in (proj, ""):
            if order == "desc":
                k = scope + "\0" + "%016x" % (INT64_MAX - ms) + u.translate(comp)
            else:
                k = scope + "\0" + "%016x" % ms + u
            pairs.append((k.encode(), u.encode()))
    res["by_created " + order] = load("c" + order, pairs)
res["instances uuid4"] = load("iu4", [(u.encode(), val415) for _, _, u, _ in inst])
res["instances time"] = load("iu7", [(u7.encode(), val415) for _, _, _, u7 in inst])

def grown(keys):
    """Each record written at 380 bytes, then rewritten at 415 when 50
    more were created (BUILD -> ACTIVE: host, addresses, power state)."""
    out = []
    for j, k in enumerate(keys):
        out.append((k, bytes(380)))
        if j >= 50:
            out.append((keys[j - 50], val415))
    out += [(k, val415) for k in keys[-50:]]
    return out

res["instances uuid4, grown"] = load("iu4g", grown([u.encode() for _, _, u, _ in inst]))
res["instances time, grown"] = load("iu7g", grown([u7.encode() for _, _, _, u7 in inst]))
for k, p in res.items():
    print(f"{n} instances, {k}: {p} pages ({p * 4096 / 1048576:.1f} MiB)")
