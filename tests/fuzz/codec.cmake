ts_fuzz_target(fuzz_codec SOURCES ${C}/codec.c ${TS_GEN_SOURCES}
  LIBS PkgConfig::MSGPACK)
