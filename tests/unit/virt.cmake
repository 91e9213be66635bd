# agent/virt/virt: the one libvirt state -> Nova power state map (every
# state x reason x managed-save image), and the same answer from the
# heartbeat's guest list and the guest life cycle's look-up on libvirt's
# in-process test driver.
ts_unit_test(virt_test
  SOURCES ${CMAKE_SOURCE_DIR}/agent/virt/virt.c
    ${CMAKE_SOURCE_DIR}/agent/virt/domxml.c ${C}/buf.c ${C}/clock.c
    ${C}/utf8.c ${C}/uuid.c
  LIBS PkgConfig::LIBVIRT)
if(TARGET virt_test)
  target_include_directories(virt_test PRIVATE ${CMAKE_SOURCE_DIR}/agent)
endif()
