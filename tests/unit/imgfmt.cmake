ts_unit_test(imgfmt_test SOURCES ${C}/imgfmt.c)
