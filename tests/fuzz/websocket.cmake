# The websocket frame decoder (controller/http/websocket.c) on arbitrary
# bytes, and the bridge fed them as a client's stream.
# Seeds: tests/fuzz/seeds/fuzz_websocket/.
ts_fuzz_target(fuzz_websocket
  SOURCES ${CMAKE_SOURCE_DIR}/controller/http/websocket.c
  LIBS PkgConfig::SODIUM)
target_include_directories(fuzz_websocket PRIVATE ${CMAKE_SOURCE_DIR}/controller)
