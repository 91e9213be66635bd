# Network records: indexes and usage kept in the same transaction as the
# networks, subnets and ports, and the schema-6 migration.
set(TS_CTL ${CMAKE_SOURCE_DIR}/controller)
ts_unit_test(network_db_test
  SOURCES ${TS_CTL}/network/network_db.c ${TS_CTL}/core/db.c ${C}/store.c
  ${C}/codec.c ${C}/config.c ${C}/buf.c ${C}/clock.c ${C}/uuid.c ${TS_GEN_SOURCES}
  LIBS PkgConfig::LMDB PkgConfig::MSGPACK PkgConfig::UUID)
if(TARGET network_db_test)
  target_include_directories(network_db_test PRIVATE ${TS_CTL})
endif()
