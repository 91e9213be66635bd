# common/uuid: the canonical UUID text check.
ts_unit_test(uuid_test SOURCES ${C}/uuid.c)
