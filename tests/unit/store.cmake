# common/store: raw LMDB layer (the typed-record layer is tested separately
# in store_rec_test, so this test does not depend on the codec).
ts_unit_test(store_test SOURCES ${C}/store.c LIBS PkgConfig::LMDB)
# Typed records: store.h's inline store_rec_get/put over common/codec.c and
# the production record schemas.
ts_unit_test(store_rec_test SOURCES ${C}/store.c ${C}/codec.c ${TS_GEN_SOURCES}
  ${C}/buf.c ${C}/uuid.c
  LIBS PkgConfig::LMDB PkgConfig::MSGPACK)
