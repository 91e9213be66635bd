# zmtp_hello_cost: CPU per unauthenticated CurveZMQ HELLO on the bus
# thread (common/zmtp.c). Run: build/bench/zmtp_hello_cost [N]
add_executable(zmtp_hello_cost zmtp_hello_cost.c ${CMAKE_SOURCE_DIR}/common/zmtp.c
  ${CMAKE_SOURCE_DIR}/common/err.c ${CMAKE_SOURCE_DIR}/common/log.c
  ${CMAKE_SOURCE_DIR}/common/hash.c)
add_dependencies(zmtp_hello_cost ts_generated)
target_include_directories(zmtp_hello_cost PRIVATE ${CMAKE_SOURCE_DIR}/common ${TS_GEN_DIR})
target_link_libraries(zmtp_hello_cost PRIVATE PkgConfig::SODIUM Threads::Threads)
