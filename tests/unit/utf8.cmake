# common/utf8: the strict UTF-8 validator.
ts_unit_test(utf8_test SOURCES ${C}/utf8.c)
