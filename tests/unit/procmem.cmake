# common/procmem: heap (mallinfo2, malloc_info) and resident (smaps_rollup)
# figures and their /metrics collector.
ts_unit_test(procmem_test SOURCES ${C}/procmem.c ${C}/metrics.c ${C}/buf.c
  LIBS m)
# The same tests with jemalloc linked, as the controller is: procmem then
# reads jemalloc's mallctl() stats.
if(TS_JEMALLOC)
  ts_unit_test(procmem_jemalloc_test SOURCES ${C}/procmem.c ${C}/metrics.c
    ${C}/buf.c LIBS m PkgConfig::JEMALLOC)
endif()
