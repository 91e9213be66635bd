# agent/net/metadata: request -> instance -> document, with meta_data.json
# from agent/virt/configdrive (the config drive's producer).
ts_unit_test(metadata_test
  SOURCES ${CMAKE_SOURCE_DIR}/agent/net/metadata.c
  ${CMAKE_SOURCE_DIR}/agent/virt/configdrive.c ${C}/proc.c ${C}/imgfmt.c
  ${C}/codec.c ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c ${C}/ifname.c
  ${TS_GEN_SOURCES}
  LIBS PkgConfig::JANSSON PkgConfig::MSGPACK)
if(TARGET metadata_test)
  target_include_directories(metadata_test PRIVATE
    ${CMAKE_SOURCE_DIR}/agent/net ${CMAKE_SOURCE_DIR}/agent)
endif()
