# JSON writer (controller/http/jsonout.c): the bytes jansson writes.
ts_unit_test(jsonout_test
  SOURCES ${CMAKE_SOURCE_DIR}/controller/http/jsonout.c ${C}/buf.c ${C}/utf8.c
  LIBS PkgConfig::JANSSON)
if(TARGET jsonout_test)
  target_include_directories(jsonout_test PRIVATE ${CMAKE_SOURCE_DIR}/controller)
endif()
