ts_unit_test(bus_test SOURCES ${C}/bus.c ${C}/clock.c LIBS PkgConfig::ZMQ)
