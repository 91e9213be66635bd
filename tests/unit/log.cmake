ts_unit_test(log_test)
