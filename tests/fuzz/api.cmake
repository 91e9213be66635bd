# The APIs' handlers through the real HTTP stack of an in-process controller
# (tests/unit/ctltest.c, apifuzz.c): one target per service, and
# fuzz_http_req with raw request bytes on every listener.
foreach(api compute identity image network volume http_req)
  if(api STREQUAL "http_req")
    set(name fuzz_http_req)
  else()
    set(name fuzz_${api}_api)
  endif()
  ts_fuzz_target(${name}
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/apifuzz.c
            ${CMAKE_SOURCE_DIR}/tests/unit/ctltest.c
    LIBS tinystack-ctl PkgConfig::CMOCKA)
  if(TARGET ${name})
    target_include_directories(${name} PRIVATE ${CMAKE_SOURCE_DIR}/controller
      ${CMAKE_SOURCE_DIR}/tests/unit ${CMAKE_CURRENT_SOURCE_DIR})
  endif()
endforeach()
