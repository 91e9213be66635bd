ts_fuzz_target(fuzz_qcow2_backing SOURCES
  ${CMAKE_SOURCE_DIR}/agent/storage/disk.c ${C}/proc.c ${C}/buf.c
  ${C}/clock.c ${C}/utf8.c ${C}/uuid.c LIBS PkgConfig::JANSSON)
if(TARGET fuzz_qcow2_backing)
  target_include_directories(fuzz_qcow2_backing PRIVATE
    ${CMAKE_SOURCE_DIR}/agent)
endif()
