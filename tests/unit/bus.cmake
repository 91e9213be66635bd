ts_unit_test(bus_test SOURCES ${C}/bus.c LIBS PkgConfig::ZMQ)
