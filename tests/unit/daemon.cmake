# daemon: the open-files limit a controller raises at start-up.
ts_unit_test(daemon_test SOURCES ${C}/daemon.c)
