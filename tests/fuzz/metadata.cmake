ts_fuzz_target(fuzz_metadata
  SOURCES ${CMAKE_SOURCE_DIR}/agent/net/metadata.c
  ${C}/codec.c ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c ${C}/ifname.c
  ${TS_GEN_SOURCES}
  LIBS PkgConfig::JANSSON PkgConfig::MSGPACK)
if(TARGET fuzz_metadata)
  target_include_directories(fuzz_metadata PRIVATE ${CMAKE_SOURCE_DIR}/agent/net)
endif()
