# common/hash: FNV-1a against the published test vectors (hash.c itself is
# linked into every unit test, as err.c and log.c are).
ts_unit_test(hash_test)
