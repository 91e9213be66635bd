# tests/integ/imgfetch: one image download through the agent's image cache
# and its HTTP(S) source, for tests/integ/test_image_tls.sh (tests/integ
# registers only scripts, so its build rule lives here, as guestctl's).
if(EXISTS ${CMAKE_SOURCE_DIR}/tests/integ/imgfetch.c)
  add_executable(imgfetch ${CMAKE_SOURCE_DIR}/tests/integ/imgfetch.c
    ${CMAKE_SOURCE_DIR}/agent/image/imgcache.c ${C}/err.c ${C}/log.c
    ${C}/imgfmt.c ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c)
  add_dependencies(imgfetch ts_generated)
  target_include_directories(imgfetch PRIVATE ${CMAKE_SOURCE_DIR}/agent ${C}
    ${TS_GEN_DIR})
  target_link_libraries(imgfetch PRIVATE PkgConfig::SODIUM PkgConfig::CURL
    Threads::Threads)
endif()
