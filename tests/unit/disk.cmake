# agent/disk: recorded qemu-img argv (tests/golden/disk/) and real qemu-img
# runs in a temporary directory.
ts_unit_test(disk_test
  SOURCES ${CMAKE_SOURCE_DIR}/agent/storage/disk.c ${C}/proc.c
  ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c
  LIBS PkgConfig::JANSSON)
if(TARGET disk_test)
  target_include_directories(disk_test PRIVATE ${CMAKE_SOURCE_DIR}/agent)
  target_compile_definitions(disk_test PRIVATE
    TS_TEST_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
  set_tests_properties(unit.disk_test PROPERTIES TIMEOUT 300)
endif()
