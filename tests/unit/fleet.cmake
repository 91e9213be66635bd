# Fleet: the controller's agent registry over a real LMDB store and an
# in-process bus pair (operator edits and deletions win over heartbeats).
set(TS_CTL ${CMAKE_SOURCE_DIR}/controller)
ts_unit_test(fleet_test
  SOURCES ${TS_CTL}/core/fleet.c ${TS_CTL}/core/hoststatus.c ${C}/health.c
  ${TS_CTL}/core/telemetry.c ${C}/procmem.c
  ${TS_CTL}/core/db.c ${C}/store.c ${C}/codec.c
  ${C}/bus.c ${C}/zmtp.c ${C}/config.c ${TS_GEN_SOURCES}
  ${C}/buf.c ${C}/clock.c ${C}/uuid.c ${C}/metrics.c
  ${CMAKE_CURRENT_SOURCE_DIR}/logcap.c
  LIBS PkgConfig::LMDB PkgConfig::MSGPACK PkgConfig::ZMQ PkgConfig::SODIUM PkgConfig::UUID m)
if(TARGET fleet_test)
  target_include_directories(fleet_test PRIVATE ${TS_CTL})
endif()
