# The Image API's request decoders: create bodies, JSON-patch (both media
# types) and list queries (controller/image/image_json.c, image_list.c).
ts_fuzz_target(fuzz_image_json
  SOURCES ${CMAKE_SOURCE_DIR}/controller/image/image_json.c
          ${CMAKE_SOURCE_DIR}/controller/http/jsonreq.c
          ${CMAKE_SOURCE_DIR}/controller/image/image_list.c
          ${CMAKE_SOURCE_DIR}/controller/image/image_db.c
          ${CMAKE_SOURCE_DIR}/controller/core/db.c ${C}/config.c ${C}/store.c
          ${C}/codec.c ${TS_GEN_SOURCES}
  ${C}/buf.c ${C}/clock.c ${C}/uuid.c
  LIBS PkgConfig::JANSSON PkgConfig::MSGPACK PkgConfig::LMDB PkgConfig::UUID m)
if(TARGET fuzz_image_json)
  target_include_directories(fuzz_image_json PRIVATE ${CMAKE_SOURCE_DIR}/controller)
endif()
