ts_fuzz_target(fuzz_imgcache_http
  SOURCES ${CMAKE_SOURCE_DIR}/agent/image/imgcache.c ${C}/imgfmt.c
  ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c
  LIBS PkgConfig::SODIUM)
if(TARGET fuzz_imgcache_http)
  target_include_directories(fuzz_imgcache_http PRIVATE ${CMAKE_SOURCE_DIR}/agent)
endif()
