# agent/configdrive: meta_data.json and genisoimage argv golden files
# (tests/golden/configdrive/), a real ISO read back with isoinfo.
ts_unit_test(configdrive_test
  SOURCES ${CMAKE_SOURCE_DIR}/agent/virt/configdrive.c ${C}/proc.c ${C}/imgfmt.c
  ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c
  LIBS PkgConfig::JANSSON)
if(TARGET configdrive_test)
  target_include_directories(configdrive_test PRIVATE ${CMAKE_SOURCE_DIR}/agent)
  target_compile_definitions(configdrive_test PRIVATE
    TS_TEST_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
endif()
