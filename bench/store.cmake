# store_bench: durable writes/s through store_write (group commit) with 1, 8
# and 32 writer threads. Run: build/bench/store_bench [seconds] [dir]
add_executable(store_bench store_bench.c ${CMAKE_SOURCE_DIR}/common/store.c
  ${CMAKE_SOURCE_DIR}/common/err.c ${CMAKE_SOURCE_DIR}/common/log.c
  ${CMAKE_SOURCE_DIR}/common/hash.c)
add_dependencies(store_bench ts_generated)
target_include_directories(store_bench PRIVATE ${CMAKE_SOURCE_DIR}/common ${TS_GEN_DIR})
target_link_libraries(store_bench PRIVATE PkgConfig::LMDB Threads::Threads)
