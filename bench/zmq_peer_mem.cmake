# zmq_peer_mem: resident memory of one connected peer on a ZeroMQ ROUTER,
# libzmq alone (see docs/PERFORMANCE.md, controller RSS).
add_executable(zmq_peer_mem zmq_peer_mem.c)
target_link_libraries(zmq_peer_mem PRIVATE PkgConfig::ZMQ)
