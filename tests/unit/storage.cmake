# agent/storage block storage: the volume store's file backend for real in a
# temporary directory, the LVM backend's and tgtadm's recorded argv
# (tests/golden/storage/), tgtadm show parsing, and the storage worker
# (storsvc) converging host_storage messages in-process.
set(TS_AS ${CMAKE_SOURCE_DIR}/agent/storage)
ts_unit_test(storage_test
  SOURCES ${TS_AS}/volstore.c ${TS_AS}/volfile.c ${TS_AS}/vollvm.c
  ${TS_AS}/disk.c ${TS_AS}/tgt.c ${C}/health.c ${TS_AS}/storsvc.c ${TS_AS}/volbackup.c
  ${CMAKE_SOURCE_DIR}/agent/image/imgcache.c
  ${C}/proc.c ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c ${C}/codec.c
  ${C}/daemon.c ${C}/imgfmt.c ${C}/metrics.c
  ${TS_GEN_SOURCES}
  LIBS PkgConfig::JANSSON PkgConfig::MSGPACK PkgConfig::CURL PkgConfig::SODIUM
  PkgConfig::UUID)
if(TARGET storage_test)
  target_include_directories(storage_test PRIVATE ${CMAKE_SOURCE_DIR}/agent)
  set_tests_properties(unit.storage_test PROPERTIES TIMEOUT 120)
endif()
# tests/integ/storctl: the storage worker on real backends and a real tgtd
# for tests/integ/test_storage_*.sh (tests/integ registers only scripts).
if(EXISTS ${CMAKE_SOURCE_DIR}/tests/integ/storctl.c)
  add_executable(storctl ${CMAKE_SOURCE_DIR}/tests/integ/storctl.c)
  target_link_libraries(storctl PRIVATE tinystack-agentlib)
endif()
