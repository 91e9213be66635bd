# common/nametab: objects found by name (netsync's and storesync's hosts).
ts_unit_test(nametab_test SOURCES ${C}/nametab.c)
