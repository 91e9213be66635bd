# heap_chunks.py: the in-use chunks of every malloc arena but the main one
# (threads' arenas) holding over 20 MiB, by chunk size, largest share
# first: what a big arena is made of (libzmq's I/O thread's: 18,176-byte
# decode buffers, 16,416-byte pipe chunks...). glibc's debug symbols
# (libc6-dbg) needed; the process is stopped while it runs:
#
#   gdb -p PID -batch -x bench/heap_chunks.py
#
# Walks each heap of the arena (64 MiB each, newest first through prev)
# from its first chunk, and stops a heap at the first chunk it cannot
# parse: compare its total with bench/heap_arenas.py's in-use figure. A
# chunk counts as in use when the next one's PREV_INUSE bit says so, so
# chunks in fast bins and tcaches count too.
import struct

import gdb

gdb.execute("set pagination off")
inf = gdb.selected_inferior()
state_t = gdb.lookup_type("struct malloc_state")
heap_t = gdb.lookup_type("heap_info")
HEAP_MAX = 64 * 1024 * 1024	# HEAP_MAX_SIZE on 64-bit


def u64(a):
    return struct.unpack("<Q", bytes(inf.read_memory(a, 8)))[0]


first = int(gdb.parse_and_eval("&main_arena"))
a = int(gdb.Value(first).cast(state_t.pointer()).dereference()["next"])
while a != first:
    av = gdb.Value(a).cast(state_t.pointer()).dereference()
    top = int(av["top"])
    h, hist = top & ~(HEAP_MAX - 1), {}
    while h:
        start = h + heap_t.sizeof
        if start == a:	# the arena's first heap holds its malloc_state
            start = a + state_t.sizeof
        p, end = (start + 15) & ~15, h + u64(h + 16)
        while p < end - 16 and p != top:
            sz = u64(p + 8) & ~7
            if sz == 0 or p + sz > end:
                break
            if u64(p + sz + 8) & 1:
                hist[sz] = hist.get(sz, 0) + 1
            p += sz
        h = u64(h + 8)
    tot = sum(k * v for k, v in hist.items())
    if tot > 20 * 1048576:
        print("arena %#x: in-use chunks %.1f MiB" % (a, tot / 1048576))
        for k, v in sorted(hist.items(), key=lambda kv: -kv[0] * kv[1])[:12]:
            print("  %7d bytes x %7d = %7.1f MiB" % (k, v, k * v / 1048576))
    a = int(av["next"])
