# lmdb_recsize.py DBDIR TABLE: a table's records, average key and value
# bytes, and how many of the value bytes are msgpack map keys: field
# names (stores before DB schema 15) and field numbers (from schema 15,
# common/codec.h), from mdb_dump -s TABLE (lmdb-utils; python3-msgpack).
# docs/PERFORMANCE.md, Memory, split and Compact stored records.
#   /usr/bin/python3 bench/lmdb_recsize.py $W/db instances
import subprocess, sys, msgpack
out = subprocess.run(["mdb_dump", "-s", sys.argv[2], sys.argv[1]],
                     capture_output=True, text=True, check=True).stdout
lines = out.split("\n")
i = lines.index("HEADER=END") + 1
n = vb = kb = keyb = numb = 0
def keys(o):
    """(bytes of name keys, bytes of number keys) in o (headers included,
    for names of up to 31 bytes, numbers up to 65535)."""
    if isinstance(o, dict):
        s = [0, 0]
        for k, v in o.items():
            if isinstance(k, (str, bytes)):
                s[0] += len(k) + 1
            elif isinstance(k, int):
                s[1] += 1 if k < 128 else 2 if k < 256 else 3
            s = [a + b for a, b in zip(s, keys(v))]
        return s
    if isinstance(o, (list, tuple)):
        s = [0, 0]
        for x in o:
            s = [a + b for a, b in zip(s, keys(x))]
        return s
    return [0, 0]
while i + 1 < len(lines) and lines[i].startswith(" "):
    k = bytes.fromhex(lines[i].strip()); v = bytes.fromhex(lines[i + 1].strip())
    i += 2
    n += 1; kb += len(k); vb += len(v)
    try:
        a, b = keys(msgpack.unpackb(v, raw=True, strict_map_key=False))
        keyb += a; numb += b
    except Exception as e:
        pass
print(f"{sys.argv[2]}: {n} records, keys {kb/max(n,1):.0f} B, values {vb/max(n,1):.0f} B each, of which field names {keyb/max(n,1):.0f} B, field numbers {numb/max(n,1):.0f} B")
