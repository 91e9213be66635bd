ts_fuzz_target(fuzz_domxml SOURCES ${CMAKE_SOURCE_DIR}/agent/virt/domxml.c
  ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c)
if(TARGET fuzz_domxml)
  target_include_directories(fuzz_domxml PRIVATE ${CMAKE_SOURCE_DIR}/agent)
endif()
