# common/buf: the growable byte buffer.
ts_unit_test(buf_test SOURCES ${C}/buf.c)
