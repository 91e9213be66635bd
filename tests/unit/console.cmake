# agent/console: tail of a console log by lines, bounded by bytes.
ts_unit_test(console_test SOURCES ${CMAKE_SOURCE_DIR}/agent/virt/console.c
  ${C}/buf.c ${C}/clock.c ${C}/utf8.c ${C}/uuid.c)
if(TARGET console_test)
  target_include_directories(console_test PRIVATE ${CMAKE_SOURCE_DIR}/agent)
endif()
