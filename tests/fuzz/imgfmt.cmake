ts_fuzz_target(fuzz_imgfmt SOURCES ${C}/imgfmt.c)
