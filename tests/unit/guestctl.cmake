# tests/integ/guestctl: the real-guest scenario program that
# tests/integ/test_guest_libvirt.sh runs (tests/integ registers only
# scripts, so its build rule lives here). It links the agent's guest
# modules directly, not the agent library, so it does not depend on the
# rest of agent/ building.
if(EXISTS ${CMAKE_SOURCE_DIR}/tests/integ/guestctl.c)
  set(A ${CMAKE_SOURCE_DIR}/agent)
  add_executable(guestctl ${CMAKE_SOURCE_DIR}/tests/integ/guestctl.c
    ${A}/virt/domxml.c ${A}/image/imgcache.c ${A}/storage/disk.c
    ${A}/virt/configdrive.c ${A}/virt/console.c ${C}/err.c ${C}/log.c ${C}/proc.c ${C}/imgfmt.c
  ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c)
  add_dependencies(guestctl ts_generated)
  target_include_directories(guestctl PRIVATE ${A} ${C} ${TS_GEN_DIR})
  target_link_libraries(guestctl PRIVATE PkgConfig::LIBVIRT
    PkgConfig::JANSSON PkgConfig::SODIUM PkgConfig::CURL Threads::Threads)
endif()
