# lmdb_recsize.py DBDIR TABLE: a table's records, average key and value
# bytes, and how many of the value bytes are msgpack map keys (field
# names), from mdb_dump -s TABLE (lmdb-utils; python3-msgpack). What
# storing fields by number would save (docs/PERFORMANCE.md, Memory, split).
#   /usr/bin/python3 bench/lmdb_recsize.py $W/db instances
import subprocess, sys, msgpack
out = subprocess.run(["mdb_dump", "-s", sys.argv[2], sys.argv[1]],
                     capture_output=True, text=True, check=True).stdout
lines = out.split("\n")
i = lines.index("HEADER=END") + 1
n = vb = kb = keyb = 0
def keys(o):
    if isinstance(o, dict):
        s = 0
        for k, v in o.items():
            s += (len(k) + 1 if isinstance(k, (str, bytes)) else 0) + keys(v)
        return s
    if isinstance(o, (list, tuple)):
        return sum(keys(x) for x in o)
    return 0
while i + 1 < len(lines) and lines[i].startswith(" "):
    k = bytes.fromhex(lines[i].strip()); v = bytes.fromhex(lines[i + 1].strip())
    i += 2
    n += 1; kb += len(k); vb += len(v)
    try:
        keyb += keys(msgpack.unpackb(v, raw=True, strict_map_key=False))
    except Exception as e:
        pass
print(f"{sys.argv[2]}: {n} records, keys {kb/max(n,1):.0f} B, values {vb/max(n,1):.0f} B each, of which field names {keyb/max(n,1):.0f} B")
