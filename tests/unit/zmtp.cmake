# common/zmtp: our server side of ZMTP 3.x + CURVE, against the real libzmq.
ts_unit_test(zmtp_test SOURCES ${C}/zmtp.c LIBS PkgConfig::ZMQ PkgConfig::SODIUM)
