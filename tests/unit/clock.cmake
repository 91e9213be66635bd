# common/clock: monotonic and wall-clock milliseconds.
ts_unit_test(clock_test SOURCES ${C}/clock.c)
