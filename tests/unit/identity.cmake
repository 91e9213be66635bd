# Identity logic without HTTP: controller/idstore (records, name indexes,
# assignments, groups, implied roles, effective roles, revocation events)
# and identity_catalog (catalog rendering), against a real LMDB
# environment with the controller's tables.
ts_unit_test(identity_test
  SOURCES ${CMAKE_SOURCE_DIR}/controller/identity/idstore.c
          ${CMAKE_SOURCE_DIR}/controller/identity/identity_catalog.c
          ${CMAKE_SOURCE_DIR}/controller/core/db.c
          ${CMAKE_SOURCE_DIR}/controller/auth/token.c
          ${CMAKE_SOURCE_DIR}/controller/auth/keyrepo.c
          ${C}/store.c ${C}/codec.c ${C}/config.c ${TS_GEN_SOURCES}
  ${C}/buf.c ${C}/clock.c ${C}/uuid.c
  LIBS PkgConfig::LMDB PkgConfig::MSGPACK PkgConfig::SODIUM
       PkgConfig::JANSSON PkgConfig::UUID)
if(TARGET identity_test)
  target_include_directories(identity_test PRIVATE
    ${CMAKE_SOURCE_DIR}/controller)
endif()
