# lmdb_fill.py DBDIR [TABLE...]: how full each table's leaf pages are: the
# bytes its entries take on a page (key + value + LMDB's 8-byte node
# header + 2-byte slot) against its leaf pages' room (4,096 - 16-byte page
# header each), from mdb_stat -a and mdb_dump (lmdb-utils). Values larger
# than half a page sit on overflow pages and count apart. Keys that
# always land at the left end of a table (a descending order) fill its
# pages to about half (LMDB splits a page in the middle unless the new key
# goes last); random keys to about 70%; keys that append on the right to
# nearly all. docs/PERFORMANCE.md, "Compact stored records, part 2".
#   /usr/bin/python3 bench/lmdb_fill.py /tmp/db instances instances_by_created
import re, subprocess, sys

PAGE, HDR, NODE, SLOT = 4096, 16, 8, 2
NODEMAX = (PAGE - HDR) // 2 - SLOT   # LMDB me_nodemax: larger goes to overflow
db = sys.argv[1]
st = subprocess.run(["mdb_stat", "-a", db], capture_output=True, text=True,
                    check=True).stdout
stats, cur = {}, None
for line in st.split("\n"):
    m = re.match(r"Status of (\S+)", line)
    if m:
        cur = stats.setdefault(m.group(1), {})
        continue
    m = re.match(r"\s+(Branch|Leaf|Overflow) pages: (\d+)", line)
    if m and cur is not None:
        cur[m.group(1)] = int(m.group(2))
    m = re.match(r"\s+Entries: (\d+)", line)
    if m and cur is not None:
        cur["Entries"] = int(m.group(1))
tables = sys.argv[2:] or sorted(t for t in stats if t != "Main")
tot_pages = tot_used = 0
for t in tables:
    s = stats.get(t)
    if not s:
        continue
    out = subprocess.run(["mdb_dump", "-s", t, db], capture_output=True,
                         text=True, check=True).stdout.split("\n")
    i = out.index("HEADER=END") + 1
    used = kb = vb = n = 0
    while i + 1 < len(out) and out[i].startswith(" "):
        kl = len(out[i].strip()) // 2
        vl = len(out[i + 1].strip()) // 2
        i += 2
        n += 1
        kb += kl
        vb += vl
        # a value over ~1/4 page goes to overflow pages: only its
        # 8-byte page number stays in the leaf
        used += NODE + SLOT + kl + (vl if NODE + kl + vl <= NODEMAX else 8)
    leaf, br, ov = s.get("Leaf", 0), s.get("Branch", 0), s.get("Overflow", 0)
    room = leaf * (PAGE - HDR)
    pages = leaf + br + ov
    tot_pages += pages
    tot_used += used
    print(f"{t}: {n} entries, key {kb / max(n, 1):.0f} B, value "
          f"{vb / max(n, 1):.0f} B; pages leaf {leaf} branch {br} overflow "
          f"{ov} = {pages * PAGE / 1048576:.2f} MiB; leaf fill "
          f"{100 * used / max(room, 1):.0f}% ({used / 1048576:.2f} MiB of "
          f"entries)")
print(f"all listed: {tot_pages} pages = {tot_pages * PAGE / 1048576:.1f} MiB, "
      f"entries {tot_used / 1048576:.1f} MiB")
