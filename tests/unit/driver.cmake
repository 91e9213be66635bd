# agent/driver: the qemu/kvm guest life cycle on libvirt's in-process test
# driver, with real qemu-img and genisoimage runs in a temporary directory
# and an in-memory image source (tests/unit/driver_test.c).
set(TS_DA ${CMAKE_SOURCE_DIR}/agent)
ts_unit_test(driver_test
  SOURCES ${TS_DA}/virt/driver.c ${TS_DA}/virt/gueststats.c ${TS_DA}/virt/domxml.c
  ${TS_DA}/image/imgcache.c ${TS_DA}/storage/disk.c
  ${TS_DA}/virt/configdrive.c ${TS_DA}/virt/console.c ${TS_DA}/virt/virt.c
  ${TS_DA}/virt/backend_test.c ${TS_DA}/virt/backend_qemu.c
  ${C}/proc.c ${C}/imgfmt.c ${C}/codec.c ${C}/config.c ${C}/opts.c
  ${TS_GEN_SOURCES}
  ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c ${C}/ifname.c
  LIBS PkgConfig::LIBVIRT PkgConfig::MSGPACK PkgConfig::JANSSON
  PkgConfig::SODIUM PkgConfig::CURL)
if(TARGET driver_test)
  target_include_directories(driver_test PRIVATE ${TS_DA})
  set_tests_properties(unit.driver_test PROPERTIES TIMEOUT 120)
endif()
