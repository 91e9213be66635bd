# agent/imgcache: downloads from a local HTTP server thread (127.0.0.1),
# checksum/format/size verification, shared downloads, references, pruning.
ts_unit_test(imgcache_test
  SOURCES ${CMAKE_SOURCE_DIR}/agent/image/imgcache.c ${C}/imgfmt.c ${C}/proc.c
  ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c
  LIBS PkgConfig::SODIUM PkgConfig::CURL)
if(TARGET imgcache_test)
  target_include_directories(imgcache_test PRIVATE ${CMAKE_SOURCE_DIR}/agent)
  set_tests_properties(unit.imgcache_test PROPERTIES TIMEOUT 300)
endif()
