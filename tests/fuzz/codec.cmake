ts_fuzz_target(fuzz_codec SOURCES ${C}/codec.c ${TS_GEN_SOURCES}
  ${C}/buf.c ${C}/uuid.c
  LIBS PkgConfig::MSGPACK)
