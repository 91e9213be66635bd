# agent/virt/census: the heartbeat's libvirt reads off the bus loop, on
# libvirt's in-process test driver.
ts_unit_test(census_test
  SOURCES ${CMAKE_SOURCE_DIR}/agent/virt/census.c
    ${CMAKE_SOURCE_DIR}/agent/virt/virt.c
    ${CMAKE_SOURCE_DIR}/agent/virt/domxml.c ${C}/buf.c ${C}/clock.c
    ${C}/utf8.c ${C}/uuid.c
  LIBS PkgConfig::LIBVIRT)
if(TARGET census_test)
  target_include_directories(census_test PRIVATE ${CMAKE_SOURCE_DIR}/agent
    ${CMAKE_SOURCE_DIR}/agent/virt)
endif()

# agent/replygate: replies held while the hello's census is read (A7),
# with the census on libvirt's test driver and a stream of replies.
ts_unit_test(replygate_test
  SOURCES ${CMAKE_SOURCE_DIR}/agent/replygate.c
    ${CMAKE_SOURCE_DIR}/agent/virt/census.c
    ${CMAKE_SOURCE_DIR}/agent/virt/virt.c
    ${CMAKE_SOURCE_DIR}/agent/virt/domxml.c ${C}/buf.c ${C}/clock.c
    ${C}/utf8.c ${C}/uuid.c
  LIBS PkgConfig::LIBVIRT)
if(TARGET replygate_test)
  target_include_directories(replygate_test PRIVATE ${CMAKE_SOURCE_DIR}/agent
    ${CMAKE_SOURCE_DIR}/agent/virt)
endif()
