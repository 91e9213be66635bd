# common/procmem: heap (mallinfo2, malloc_info) and resident (smaps_rollup)
# figures and their /metrics collector.
ts_unit_test(procmem_test SOURCES ${C}/procmem.c ${C}/metrics.c ${C}/buf.c
  LIBS m)
