# lmdb_state_order.py OLD_DB NEW_DB: whether instances_by_state of NEW_DB
# (schema 18: ascending, each stream walked backwards) lists every
# (scope, vm_state, task) stream in the order OLD_DB's (schema 17:
# descending, walked forwards) did: per stream, the values (uuids) of the
# old keys in key order against the new keys' in reverse key order.
# Prints the streams and entries compared; exits 1 on a difference.
import subprocess, sys
from collections import defaultdict

def streams(db):
    out = subprocess.run(["mdb_dump", "-s", "instances_by_state", db],
                         capture_output=True, text=True, check=True).stdout
    lines = out.split("\n")
    i = lines.index("HEADER=END") + 1
    s = defaultdict(list)
    while lines[i] != "DATA=END":
        k = bytes.fromhex(lines[i].strip())
        v = bytes.fromhex(lines[i + 1].strip())
        parts = k.split(b"\0", 3)
        s[tuple(parts[:3])].append(v)
        i += 2
    return s

old, new = streams(sys.argv[1]), streams(sys.argv[2])
bad = sorted(set(old) ^ set(new))
for p in set(old) & set(new):
    if old[p] != new[p][::-1]:
        bad.append(p)
print("%d streams, %d entries: %s" % (len(old), sum(map(len, old.values())),
      "same order" if not bad else "DIFFER: %r" % bad[:5]))
sys.exit(1 if bad else 0)
