# agent/domxml: golden domain XML (tests/golden/domxml/, TS_UPDATE_GOLDEN=1
# rewrites), each document defined in libvirt's in-process test driver,
# validation, escaping, owner metadata read back.
ts_unit_test(domxml_test
  SOURCES ${CMAKE_SOURCE_DIR}/agent/virt/domxml.c ${C}/proc.c
  ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c
  LIBS PkgConfig::LIBVIRT)
if(TARGET domxml_test)
  target_include_directories(domxml_test PRIVATE ${CMAKE_SOURCE_DIR}/agent)
  target_compile_definitions(domxml_test PRIVATE
    TS_TEST_SOURCE_DIR="${CMAKE_SOURCE_DIR}")
endif()
