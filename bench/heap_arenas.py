# heap_arenas.py: malloc's in-use bytes per arena of a running process and
# the threads using each, without preloading anything (glibc's debug
# symbols, libc6-dbg, give gdb main_arena and each thread's thread_arena):
#
#   gdb -p PID -batch -x bench/heap_arenas.py
#
# In use = the arena's system bytes - its free chunks (bins, fast bins,
# the top chunk), as mallinfo2() counts; chunks in a thread's tcache count
# as in use there too. The top chunk (free, at the arena's end) is shown
# apart: malloc_trim() gives back the free pages in the bins of every
# arena but shrinks only the main arena's top. A thread takes an arena at its first malloc and
# keeps it, and a chunk goes back to the arena it came from, so an arena
# used by libzmq's I/O thread alone holds libzmq's inbound messages, its
# engines' buffers and CURVE state. The process is stopped while this
# runs (a few seconds at most).
import gdb

gdb.execute("set pagination off")
chunk_p = gdb.lookup_type("struct malloc_chunk").pointer()
state_p = gdb.lookup_type("struct malloc_state").pointer()


def size(p):
    return int(p.dereference()["mchunk_size"]) & ~7


def arena_free(av):
    free = size(av["top"])
    for i in range(10):	# fast bins: fd is mangled (safe-linking)
        p = av["fastbinsY"][i]
        while int(p) != 0:
            free += size(p)
            fd = p.dereference()["fd"]
            p = gdb.Value((int(fd.address) >> 12) ^ int(fd)).cast(chunk_p)
    for i in range(1, 128):	# bin_at(i): a fake chunk around bins[2i-2]
        head = int(av["bins"][(i - 1) * 2].address) - 16
        q = gdb.Value(head).cast(chunk_p).dereference()["bk"]
        while int(q) != head:
            free += size(q)
            q = q.dereference()["bk"]
    return free


threads = {}
for t in gdb.selected_inferior().threads():
    t.switch()
    try:
        ar = int(gdb.parse_and_eval("thread_arena"))
    except gdb.error:
        ar = 0
    names, fr = [], gdb.newest_frame()
    while fr is not None and len(names) < 3:
        n = fr.name() or ""
        if n and not n.startswith(("_", "epoll", "poll", "pthread", "clone",
                                   "start_thread", "futex", "syscall",
                                   "read", "recv", "accept", "zmq::",
                                   "std::", "MHD_", "select", "nanosleep")):
            names.append(n)
        fr = fr.older()
    threads.setdefault(ar, []).append(
        t.name + (":" + "<" .join(names) if names else ""))

first = int(gdb.parse_and_eval("&main_arena"))
a, total = first, 0
print("arena  in use MiB  system MiB  top MiB  threads")
while True:
    av = gdb.Value(a).cast(state_p).dereference()
    sysmem = int(av["system_mem"])
    used = sysmem - arena_free(av)
    total += used
    print("%#14x %8.1f %8.1f %8.1f  %s" % (a, used / 1048576,
          sysmem / 1048576, size(av["top"]) / 1048576,
          ", ".join(threads.get(a, ["-"]))))
    a = int(av["next"])
    if a == first:
        break
mp = gdb.parse_and_eval("mp_")
print("thresholds: mmap %d, trim %d, top pad %d, dynamic %s" % (
    int(mp["mmap_threshold"]), int(mp["trim_threshold"]), int(mp["top_pad"]),
    "no" if int(mp["no_dyn_threshold"]) else "yes"))
print("all arenas: %.1f MiB in use (chunks mapped on their own, mallinfo2's "
      "hblkhd, not included)" % (total / 1048576))
