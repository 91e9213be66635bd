#!/usr/bin/python3
# anon_split.py: a process's anonymous resident memory by kind of mapping,
# from /proc/PID/smaps (no debugger, the process keeps running):
#
#   bench/anon_split.py PID [TOP]
#
# Kinds: malloc's main arena ([heap]); the other arenas (glibc maps each
# in heaps of 64 MiB aligned to 64 MiB: a read-write part at the aligned
# address, the rest reserved without access); in a process linked with
# jemalloc, its extents instead (every unnamed read-write mapping that is
# not a thread stack: jemalloc maps and retains its address space in
# unnamed runs the kernel merges with their neighbours); thread stacks (a read-write mapping right
# above a 4 KiB guard without access); the main stack; libraries' data
# (the written pages of a file's private mappings: .data, relocations,
# and the unnamed .bss right after a file's mapping); everything else
# (chunks glibc's malloc mapped on their own, libraries' own maps). TOP
# (default 8) lists the largest mappings of the "other" kind.
import sys

HEAP_MAX = 64 << 20


def maps(pid):
    cur = None
    with open("/proc/%s/smaps" % pid) as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and ":" not in parts[0]:
                if cur:
                    yield cur
                lo, hi = (int(x, 16) for x in parts[0].split("-"))
                cur = {"lo": lo, "hi": hi, "perm": parts[1],
                       "name": parts[5] if len(parts) > 5 else "",
                       "anon": 0, "rss": 0}
            elif parts[0] == "Anonymous:":
                cur["anon"] = int(parts[1])
            elif parts[0] == "Rss:":
                cur["rss"] = int(parts[1])
    if cur:
        yield cur


def main():
    pid = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    ms = list(maps(pid))
    je = any("libjemalloc" in m["name"] for m in ms)
    kinds = {"main arena ([heap])": [0, 0],
             ("jemalloc extents" if je else "other arenas"): [0, 0],
             "thread stacks": [0, 0], "main stack": [0, 0],
             "libraries' data": [0, 0], "other": [0, 0]}
    other, libs = [], {}
    for i, m in enumerate(ms):
        if m["anon"] == 0 and m["perm"] != "rw-p":
            continue
        prev = ms[i - 1] if i > 0 else None
        if m["name"] == "[heap]":
            k = "main arena ([heap])"
        elif m["name"] == "[stack]":
            k = "main stack"
        elif m["name"].startswith("/"):
            k = "libraries' data"
            lib = m["name"].rsplit("/", 1)[-1]
            libs[lib] = libs.get(lib, 0) + m["anon"]
        elif m["name"] == "" and prev is not None and \
                prev["hi"] == m["lo"] and prev["perm"] == "---p" and \
                prev["hi"] - prev["lo"] == 4096 and prev["name"] == "":
            k = "thread stacks"
        elif je and m["name"] == "" and m["perm"] == "rw-p":
            # jemalloc maps its extents unnamed and unaligned (the
            # kernel merges neighbours); nothing else of the controller
            # maps anonymous memory of any size (libzmq and LMDB use
            # malloc, LMDB's map is the file's)
            k = "jemalloc extents"
        elif not je and m["name"] == "" and m["lo"] % HEAP_MAX == 0 and \
                m["hi"] - m["lo"] <= HEAP_MAX:
            k = "other arenas"
        elif m["name"] == "" and prev is not None and \
                prev["hi"] == m["lo"] and prev["name"].startswith("/"):
            k = "libraries' data"	# .bss, right after the file's pages
            lib = prev["name"].rsplit("/", 1)[-1]
            libs[lib] = libs.get(lib, 0) + m["anon"]
        else:
            k = "other"
            other.append(m)
        kinds[k][0] += m["anon"]
        kinds[k][1] += 1
    total = sum(v[0] for v in kinds.values())
    print("anonymous %.1f MiB:" % (total / 1024))
    for k, (kb, n) in kinds.items():
        print("  %-22s %7.1f MiB in %d mappings" % (k, kb / 1024, n))
    big = sorted(libs.items(), key=lambda x: -x[1])[:top]
    if big:
        print("    libraries' data: " + ", ".join(
            "%s %d KiB" % (k, v) for k, v in big if v > 0))
    other.sort(key=lambda m: -m["anon"])
    for m in other[:top]:
        print("    other %x-%x %s %6d KiB anon of %d KiB %s" % (
            m["lo"], m["hi"], m["perm"], m["anon"],
            (m["hi"] - m["lo"]) >> 10, m["name"]))


main()
