ts_unit_test(config_test SOURCES ${C}/config.c ${C}/opts.c)
