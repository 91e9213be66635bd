# Image service (controller/image*.c): the digests, the data store, JSON
# (create validation, JSON-patch, rendering) and listing (filters, sorting,
# marker pagination over a real LMDB store).
set(CTL ${CMAKE_SOURCE_DIR}/controller)

ts_unit_test(image_md5_test SOURCES ${CTL}/image/image_hash.c
  LIBS PkgConfig::SODIUM PkgConfig::GNUTLS)
if(TARGET image_md5_test)
  target_include_directories(image_md5_test PRIVATE ${CTL})
endif()

ts_unit_test(image_store_test
  SOURCES ${CTL}/image/image_store.c ${CTL}/image/image_hash.c ${C}/imgfmt.c ${C}/codec.c
          ${TS_GEN_SOURCES}
  ${C}/buf.c ${C}/uuid.c
  LIBS PkgConfig::SODIUM PkgConfig::MSGPACK PkgConfig::GNUTLS)
if(TARGET image_store_test)
  target_include_directories(image_store_test PRIVATE ${CTL})
endif()

ts_unit_test(image_json_test
  SOURCES ${CTL}/image/image_json.c ${CTL}/http/jsonreq.c ${C}/codec.c ${TS_GEN_SOURCES}
  ${C}/buf.c ${C}/uuid.c
  LIBS PkgConfig::JANSSON PkgConfig::MSGPACK PkgConfig::MHD)
if(TARGET image_json_test)
  target_include_directories(image_json_test PRIVATE ${CTL})
endif()

ts_unit_test(image_list_test
  SOURCES ${CTL}/image/image_list.c ${CTL}/image/image_db.c ${CTL}/image/image_json.c
          ${CTL}/http/jsonreq.c
          ${CTL}/core/db.c ${C}/config.c ${C}/store.c ${C}/codec.c
          ${TS_GEN_SOURCES}
  ${C}/buf.c ${C}/clock.c ${C}/uuid.c
  LIBS PkgConfig::JANSSON PkgConfig::MSGPACK PkgConfig::LMDB PkgConfig::UUID
       PkgConfig::MHD m)
if(TARGET image_list_test)
  target_include_directories(image_list_test PRIVATE ${CTL})
endif()
