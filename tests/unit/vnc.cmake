# The VNC console's pieces without a controller: the token table and port
# map (controller/compute/vncconsole) and the websocket codec and bridge
# (controller/http/websocket) over a socket pair.
ts_unit_test(vncconsole_test
  SOURCES ${CMAKE_SOURCE_DIR}/controller/compute/vncconsole.c
    ${CMAKE_SOURCE_DIR}/common/nametab.c ${CMAKE_SOURCE_DIR}/common/clock.c
  LIBS PkgConfig::SODIUM)
ts_unit_test(websocket_test
  SOURCES ${CMAKE_SOURCE_DIR}/controller/http/websocket.c
  LIBS PkgConfig::SODIUM)
foreach(t vncconsole_test websocket_test)
  if(TARGET ${t})
    target_include_directories(${t} PRIVATE ${CMAKE_SOURCE_DIR}/controller
      ${CMAKE_SOURCE_DIR}/controller/compute ${CMAKE_SOURCE_DIR}/controller/http)
  endif()
endforeach()
