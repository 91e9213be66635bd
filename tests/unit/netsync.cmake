# The controller's network dataplane sync (controller/network/netsync.c):
# derivation from records written through ipam into a real store, and a
# round trip over an in-process bus pair with the agent's network worker
# (agent/net/netsvc.c) on the recording link backend and proc recorder.
set(TS_CTL ${CMAKE_SOURCE_DIR}/controller)
set(TS_AN ${CMAKE_SOURCE_DIR}/agent/net)
ts_unit_test(netsync_test
  SOURCES ${TS_CTL}/network/netsync.c ${TS_CTL}/network/ipam.c
  ${TS_CTL}/network/network_db.c ${TS_CTL}/core/db.c
  ${TS_AN}/netsvc.c ${TS_AN}/netconv.c ${TS_AN}/router.c ${TS_AN}/garp.c ${TS_AN}/link.c ${TS_AN}/linkrec.c
  ${TS_AN}/dhcp.c ${C}/health.c ${TS_AN}/firewall.c ${TS_AN}/metadata.c
  ${C}/store.c ${C}/codec.c ${C}/bus.c ${C}/zmtp.c ${C}/config.c ${C}/opts.c ${C}/proc.c
  ${C}/buf.c ${C}/clock.c ${C}/uuid.c ${C}/ifname.c ${C}/utf8.c ${C}/metrics.c
  ${C}/nametab.c ${TS_GEN_SOURCES}
  LIBS PkgConfig::LMDB PkgConfig::MSGPACK PkgConfig::ZMQ PkgConfig::SODIUM PkgConfig::UUID
  PkgConfig::NL PkgConfig::JANSSON)
if(TARGET netsync_test)
  target_include_directories(netsync_test PRIVATE ${TS_CTL} ${TS_AN})
  set_tests_properties(unit.netsync_test PROPERTIES TIMEOUT 60)
endif()
# tests/integ/netseed: writes network records for tests/integ/
# test_net_agent.sh (tests/integ registers only scripts).
if(EXISTS ${CMAKE_SOURCE_DIR}/tests/integ/netseed.c)
  add_executable(netseed ${CMAKE_SOURCE_DIR}/tests/integ/netseed.c)
  target_link_libraries(netseed PRIVATE tinystack-ctl)
endif()
