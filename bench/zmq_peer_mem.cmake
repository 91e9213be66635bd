# zmq_peer_mem: resident memory of one connected peer on a ZeroMQ ROUTER,
# libzmq alone (see docs/PERFORMANCE.md, controller RSS). Linked with the
# controller's malloc (jemalloc unless TS_JEMALLOC is off), whose figures
# fleetsim.sh subtracts it from.
add_executable(zmq_peer_mem zmq_peer_mem.c)
target_link_libraries(zmq_peer_mem PRIVATE tinystack-common PkgConfig::ZMQ Threads::Threads)
if(TS_JEMALLOC)
  target_link_libraries(zmq_peer_mem PRIVATE PkgConfig::JEMALLOC)
endif()
