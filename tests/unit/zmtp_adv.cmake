# common/zmtp and the bus server on it, against a hand-rolled adversarial
# CurveZMQ client (the security review's tests; zmtp_test.c is zmtp's own).
ts_unit_test(zmtp_adv_test SOURCES ${C}/zmtp.c ${C}/bus.c ${C}/clock.c LIBS PkgConfig::ZMQ PkgConfig::SODIUM)
