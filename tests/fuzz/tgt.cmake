ts_fuzz_target(fuzz_tgt_show SOURCES ${CMAKE_SOURCE_DIR}/agent/storage/tgt.c
  ${C}/health.c ${C}/proc.c ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c
  ${C}/codec.c ${TS_GEN_SOURCES}
  LIBS PkgConfig::UUID)
if(TARGET fuzz_tgt_show)
  target_include_directories(fuzz_tgt_show PRIVATE ${CMAKE_SOURCE_DIR}/agent)
endif()
