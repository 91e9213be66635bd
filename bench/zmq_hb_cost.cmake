# zmq_hb_cost: a ROUTER's CPU per agent heartbeat, libzmq alone (CURVE or
# plain, ZMTP pings, acks; see docs/PERFORMANCE.md, cheap heartbeats), or
# with common/zmtp.c in the server's place ("zmtp").
add_executable(zmq_hb_cost zmq_hb_cost.c ${CMAKE_SOURCE_DIR}/common/zmtp.c
  ${CMAKE_SOURCE_DIR}/common/err.c ${CMAKE_SOURCE_DIR}/common/log.c)
add_dependencies(zmq_hb_cost ts_generated)
target_include_directories(zmq_hb_cost PRIVATE ${CMAKE_SOURCE_DIR}/common ${TS_GEN_DIR})
target_link_libraries(zmq_hb_cost PRIVATE PkgConfig::ZMQ PkgConfig::SODIUM Threads::Threads)
