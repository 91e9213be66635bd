# Handler tests without daemons: the controller's services built in-process
# by tests/unit/ctltest.c (temporary LMDB store, inproc bus without agents,
# ephemeral 127.0.0.1 ports, bootstrapped identity with personas) and driven
# over HTTP. One binary per service; each links the controller's library.
foreach(svc identity image compute compute_volume network volume dashboard
    volume_attachments volume_backups)
  ts_unit_test(handlers_${svc}_test
    SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/ctltest.c
    LIBS tinystack-ctl)
  if(TARGET handlers_${svc}_test)
    target_include_directories(handlers_${svc}_test PRIVATE
      ${CMAKE_SOURCE_DIR}/controller ${CMAKE_CURRENT_SOURCE_DIR})
    set_tests_properties(unit.handlers_${svc}_test PROPERTIES TIMEOUT 60)
  endif()
endforeach()
