# Compute records: the instance indexes (list order, marker pagination,
# maintenance on put/delete) and the schema-5 migration that builds
# instances_by_created for instances stored before it.
set(TS_CTL ${CMAKE_SOURCE_DIR}/controller)
ts_unit_test(compute_db_test
  SOURCES ${TS_CTL}/compute/compute_db.c ${TS_CTL}/core/db.c ${C}/store.c ${C}/codec.c
  ${C}/config.c ${TS_GEN_SOURCES}
  ${C}/buf.c ${C}/clock.c ${C}/uuid.c
  LIBS PkgConfig::LMDB PkgConfig::MSGPACK PkgConfig::UUID)
if(TARGET compute_db_test)
  target_include_directories(compute_db_test PRIVATE ${TS_CTL})
endif()
