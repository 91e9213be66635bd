ts_fuzz_target(fuzz_config SOURCES ${C}/config.c ${C}/opts.c)
