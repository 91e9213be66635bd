# common/zmtp: ZMTP 3.x server side (greeting, framing, commands).
ts_fuzz_target(fuzz_zmtp SOURCES ${C}/zmtp.c LIBS PkgConfig::SODIUM)
