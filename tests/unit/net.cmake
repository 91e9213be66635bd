# agent/net: links (recording backend), dnsmasq argv and files (proc
# recorder), and the converger over both (tests/unit/net_*_test.c).
set(TS_AN ${CMAKE_SOURCE_DIR}/agent/net)
ts_unit_test(net_link_test
  SOURCES ${TS_AN}/link.c ${TS_AN}/linkrec.c ${C}/codec.c ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c ${C}/ifname.c ${C}/proc.c
  ${TS_GEN_SOURCES}
  LIBS PkgConfig::NL PkgConfig::MSGPACK)
ts_unit_test(net_dhcp_test
  SOURCES ${TS_AN}/dhcp.c ${C}/health.c ${C}/proc.c ${C}/codec.c ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c ${C}/ifname.c ${TS_GEN_SOURCES}
  LIBS PkgConfig::MSGPACK)
ts_unit_test(net_conv_test
  SOURCES ${TS_AN}/netconv.c ${TS_AN}/router.c ${TS_AN}/garp.c ${TS_AN}/link.c ${TS_AN}/linkrec.c
  ${TS_AN}/dhcp.c ${C}/health.c ${TS_AN}/firewall.c ${C}/proc.c ${C}/codec.c ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c ${C}/ifname.c ${C}/config.c ${C}/opts.c
  ${TS_GEN_SOURCES}
  LIBS PkgConfig::NL PkgConfig::MSGPACK)
ts_unit_test(net_fw_test
  SOURCES ${TS_AN}/firewall.c ${C}/proc.c ${C}/codec.c ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c ${C}/ifname.c
  ${TS_GEN_SOURCES}
  LIBS PkgConfig::MSGPACK)
foreach(t net_link_test net_dhcp_test net_conv_test net_fw_test)
  if(TARGET ${t})
    target_include_directories(${t} PRIVATE ${TS_AN})
  endif()
endforeach()
# tests/integ/netctl: the program tests/integ/test_net_dataplane.sh runs
# (tests/integ registers only scripts, so its build rule lives here).
if(EXISTS ${CMAKE_SOURCE_DIR}/tests/integ/netctl.c)
  add_executable(netctl ${CMAKE_SOURCE_DIR}/tests/integ/netctl.c
    ${TS_AN}/netconv.c ${TS_AN}/router.c ${TS_AN}/garp.c ${TS_AN}/link.c ${TS_AN}/dhcp.c ${C}/health.c ${TS_AN}/firewall.c
    ${C}/err.c ${C}/log.c ${C}/hash.c ${C}/proc.c ${C}/codec.c ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c ${C}/ifname.c ${C}/config.c
    ${C}/opts.c ${TS_GEN_SOURCES})
  add_dependencies(netctl ts_generated)
  target_include_directories(netctl PRIVATE ${TS_AN} ${C} ${TS_GEN_DIR})
  target_link_libraries(netctl PRIVATE PkgConfig::NL PkgConfig::MSGPACK
    PkgConfig::JANSSON Threads::Threads)
endif()
# agent/net/router: router namespaces, floating IPs (proc recorder).
ts_unit_test(net_router_test
  SOURCES ${TS_AN}/router.c ${TS_AN}/garp.c ${TS_AN}/link.c ${C}/proc.c ${C}/buf.c ${C}/clock.c ${C}/uuid.c ${C}/ifname.c
  LIBS PkgConfig::NL)
if(TARGET net_router_test)
  target_include_directories(net_router_test PRIVATE ${TS_AN})
endif()
# agent/net/garp: gratuitous ARP frames and their queue (test hook).
ts_unit_test(net_garp_test
  SOURCES ${TS_AN}/garp.c)
if(TARGET net_garp_test)
  target_include_directories(net_garp_test PRIVATE ${TS_AN})
endif()
