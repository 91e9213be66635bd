# Request readers (controller/http/jsonreq.c): every reader in each
# service's wording, limits at their boundaries.
ts_unit_test(jsonreq_test
  SOURCES ${CMAKE_SOURCE_DIR}/controller/http/jsonreq.c
  LIBS PkgConfig::JANSSON)
if(TARGET jsonreq_test)
  target_include_directories(jsonreq_test PRIVATE ${CMAKE_SOURCE_DIR}/controller)
endif()
