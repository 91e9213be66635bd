#!/usr/bin/python3
"""heap_owners.py: who holds a process's malloc'd bytes, from a jemalloc
heap profile (prof.dump of a process run with MALLOC_CONF=prof:true).

    heap_owners.py PROFILE.heap [TOP]

Each sampled allocation still live is charged to the first frame of its
stack outside the allocator (libjemalloc, libc, libstdc++, libgcc): the
program itself ("ours", then by function and by the function's source
file), libzmq (with libsodium under it: CURVE), or another library (LMDB,
libmicrohttpd, jansson, ld.so's thread TLS), with the program's function
that called into it. Sizes are jemalloc's sample counts scaled as jeprof
does (heap_v2: each sample stands for 1 / (1 - exp(-size / period))
allocations), so they estimate the bytes the program asked for, like
stats.allocated less the threads' caches; the error is a few percent at
lg_prof_sample 16 for owners of a MiB or more.
"""
import math
import os
import re
import subprocess
import sys
from collections import defaultdict

DEPTH = 4	# our frames shown per stack
SKIP = ("libjemalloc", "libc.so", "libc-", "libstdc++", "libgcc_s",
        "libpthread")


def parse(path):
    samples, maps, period = [], [], 1
    with open(path) as f:
        lines = f.read().split("\n")
    m = re.match(r"heap_v2/(\d+)", lines[0])
    if not m:
        sys.exit("%s: not a jemalloc heap_v2 profile" % path)
    period = int(m.group(1))
    i, stack = 1, None
    while i < len(lines):
        ln = lines[i]
        if ln.startswith("@ "):
            stack = [int(x, 16) for x in ln[2:].split()]
        elif stack is not None and ln.startswith("  t*: "):
            m = re.match(r"\s+t\*: (\d+): (\d+) ", ln)
            objs, nbytes = int(m.group(1)), int(m.group(2))
            if objs > 0:
                ratio = nbytes / objs / period
                scale = 1 / (1 - math.exp(-ratio)) if ratio > 0 else 1
                samples.append((stack, objs * scale, nbytes * scale))
            stack = None
        elif ln.startswith("MAPPED_LIBRARIES:"):
            for mp in lines[i + 1:]:
                p = mp.split()
                if len(p) >= 6 and "x" in p[1]:
                    a, b = (int(x, 16) for x in p[0].split("-"))
                    maps.append((a, b, int(p[2], 16), p[5]))
            break
        i += 1
    return samples, maps


def obj_of(maps, addr):
    for a, b, off, path in maps:
        if a <= addr < b:
            return path, addr - a + off
    return "?", addr


def short(path):
    base = os.path.basename(path)
    for lib in ("libzmq", "libsodium", "liblmdb", "libmicrohttpd",
                "libjansson", "ld-linux", "libmsgpack", "libvirt"):
        if base.startswith(lib):
            return lib
    return base


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 25
    samples, maps = parse(sys.argv[1])
    exe = None
    for _, _, _, path in maps:	# the program: the first mapping's file
        exe = path
        break
    # Resolve our frames with addr2line (file offsets: text vaddr == offset)
    ours_addrs = set()
    owners = []
    for stack, objs, nbytes in samples:
        frames = [obj_of(maps, a) for a in stack]
        owner, chain = None, []
        for k, (path, off) in enumerate(frames):
            if owner is None:
                if any(s in os.path.basename(path) for s in SKIP):
                    continue
                owner = path
            if path == exe and len(chain) < DEPTH:
                # return addresses point past the call: look up the call
                chain.append(off - (1 if k > 0 else 0))
        ours_addrs.update(chain)
        owners.append((owner or "?", chain, objs, nbytes))
    sym = {}
    if ours_addrs and exe:
        addrs = sorted(ours_addrs)
        out = subprocess.run(["addr2line", "-f", "-e", exe] +
                             ["%x" % a for a in addrs], capture_output=True,
                             text=True).stdout.split("\n")
        for k, a in enumerate(addrs):
            fn = out[2 * k] if 2 * k < len(out) else "?"
            loc = out[2 * k + 1] if 2 * k + 1 < len(out) else "?"
            sym[a] = (fn, os.path.basename(loc.split(":")[0]))
    by_owner = defaultdict(float)
    by_fn = defaultdict(float)
    by_file = defaultdict(float)
    by_chain = defaultdict(float)
    by_lib_caller = defaultdict(float)
    zmq_sizes = defaultdict(float)
    total = 0.0
    for owner, chain, objs, nbytes in owners:
        total += nbytes
        o = "ours" if owner == exe else short(owner)
        if o == "libsodium" and not chain:
            o = "libzmq"	# CURVE's, under libzmq's own threads
        by_owner[o] += nbytes
        if o == "libzmq":
            size = nbytes / objs if objs else 0
            zmq_sizes["%d KiB" % (size // 1024) if size >= 1024 else
                      "under 1 KiB"] += nbytes
        if not chain:
            continue
        fns = [sym.get(a, ("?", "?"))[0] for a in chain]
        if o == "ours":
            by_fn[fns[0]] += nbytes
            by_file[sym.get(chain[0], ("?", "?"))[1]] += nbytes
            by_chain[" <- ".join(fns)] += nbytes
        else:
            by_lib_caller["%s, from %s" % (o, " <- ".join(fns))] += nbytes
    mib = 1048576.0
    print("live bytes (estimated from the samples): %.1f MiB, %d stacks" %
          (total / mib, len(samples)))
    print("by owner:")
    for k, v in sorted(by_owner.items(), key=lambda x: -x[1]):
        print("  %-20s %8.2f MiB" % (k, v / mib))
    for title, d in (("ours by source file", by_file),
                     ("ours by function", by_fn),
                     ("ours by function <- callers", by_chain),
                     ("other libraries, by our caller", by_lib_caller),
                     ("libzmq by allocation size", zmq_sizes)):
        print(title + ":")
        for k, v in sorted(d.items(), key=lambda x: -x[1])[:top]:
            print("  %8.2f MiB  %s" % (v / mib, k))


if __name__ == "__main__":
    main()
