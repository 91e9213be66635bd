# tests/integ/volctl: the real-guest volume scenario program that
# tests/integ/test_guest_volume.sh runs (tests/integ registers only
# scripts, so its build rule lives here, as guestctl's). It links the
# agent's driver and its modules directly.
if(EXISTS ${CMAKE_SOURCE_DIR}/tests/integ/volctl.c)
  set(A ${CMAKE_SOURCE_DIR}/agent)
  add_executable(volctl ${CMAKE_SOURCE_DIR}/tests/integ/volctl.c
    ${A}/virt/driver.c ${A}/virt/gueststats.c ${A}/virt/domxml.c
    ${A}/image/imgcache.c
    ${A}/storage/disk.c ${A}/virt/configdrive.c ${A}/virt/console.c
    ${A}/virt/virt.c ${A}/virt/backend_test.c ${A}/virt/backend_qemu.c
    ${C}/err.c ${C}/log.c ${C}/proc.c ${C}/imgfmt.c ${C}/codec.c
    ${C}/config.c ${C}/opts.c ${TS_GEN_SOURCES}
    ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c ${C}/ifname.c)
  add_dependencies(volctl ts_generated)
  target_include_directories(volctl PRIVATE ${A} ${C} ${TS_GEN_DIR})
  target_link_libraries(volctl PRIVATE PkgConfig::LIBVIRT PkgConfig::MSGPACK
    PkgConfig::JANSSON PkgConfig::SODIUM PkgConfig::CURL Threads::Threads)
endif()
