# zmq_hb_cost: a ROUTER's CPU per agent heartbeat, libzmq alone (CURVE or
# plain, ZMTP pings, acks; see docs/PERFORMANCE.md, cheap heartbeats).
add_executable(zmq_hb_cost zmq_hb_cost.c)
target_link_libraries(zmq_hb_cost PRIVATE PkgConfig::ZMQ)
