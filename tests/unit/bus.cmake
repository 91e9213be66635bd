ts_unit_test(bus_test SOURCES ${C}/bus.c ${C}/zmtp.c ${C}/clock.c LIBS PkgConfig::ZMQ PkgConfig::SODIUM)
