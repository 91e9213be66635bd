# Network IPAM: subnet validation and defaults with Neutron's messages,
# IP/MAC/segment allocation over a real store, and 200 threads racing for
# the addresses of one /24.
set(TS_CTL ${CMAKE_SOURCE_DIR}/controller)
ts_unit_test(ipam_test
  SOURCES ${TS_CTL}/network/ipam.c ${TS_CTL}/network/network_db.c
  ${TS_CTL}/core/db.c ${C}/store.c ${C}/codec.c ${C}/config.c ${C}/opts.c
  ${C}/buf.c ${C}/clock.c ${C}/uuid.c
  ${TS_GEN_SOURCES}
  LIBS PkgConfig::LMDB PkgConfig::MSGPACK PkgConfig::UUID)
if(TARGET ipam_test)
  target_include_directories(ipam_test PRIVATE ${TS_CTL})
endif()
