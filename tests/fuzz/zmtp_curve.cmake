# common/zmtp past the CURVE handshake (MESSAGE, boxed commands, nonces).
ts_fuzz_target(fuzz_zmtp_curve SOURCES ${C}/zmtp.c LIBS PkgConfig::SODIUM)
