# fleetsim: scheduler placements/s in-process, and N simulated agents (own
# ZeroMQ socket, identity and CURVE key each, one context per process) for bench/fleetsim.sh.
add_executable(fleetsim fleetsim.c
  ${CMAKE_SOURCE_DIR}/controller/compute/scheduler.c
  ${CMAKE_SOURCE_DIR}/controller/compute/aggregates.c
  ${CMAKE_SOURCE_DIR}/controller/compute/compute_db.c
  ${CMAKE_SOURCE_DIR}/controller/core/db.c)
add_dependencies(fleetsim ts_generated)
target_include_directories(fleetsim PRIVATE ${CMAKE_SOURCE_DIR}/controller)
target_link_libraries(fleetsim PRIVATE tinystack-common PkgConfig::ZMQ)
