ts_unit_test(proc_test SOURCES ${C}/proc.c ${C}/buf.c ${C}/clock.c)
