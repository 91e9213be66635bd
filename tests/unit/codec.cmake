# common/codec.c with the production schemas (msg_gen.c from TS_GEN_SOURCES)
# plus a test-only schema that uses every type and attribute of the schema
# language, generated here under its own names (codec_test_*).
set(TS_CODEC_TEST_SCHEMA ${CMAKE_SOURCE_DIR}/tests/golden/codec/all_types.schema)
add_custom_command(
  OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/codec_test_gen.c
         ${CMAKE_CURRENT_BINARY_DIR}/codec_test_gen.h
  COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tools/gen_schema.py
          --out-dir ${CMAKE_CURRENT_BINARY_DIR} --basename codec_test_gen
          --prefix codec_test ${TS_CODEC_TEST_SCHEMA}
  DEPENDS ${TS_CODEC_TEST_SCHEMA} ${CMAKE_SOURCE_DIR}/tests/golden/codec/fields.lock
          ${CMAKE_SOURCE_DIR}/tools/gen_schema.py
  COMMENT "Generating codec_test_gen.{c,h}")
ts_unit_test(codec_test SOURCES ${C}/codec.c ${C}/buf.c ${C}/uuid.c ${C}/health.c
  ${TS_GEN_SOURCES} ${CMAKE_CURRENT_BINARY_DIR}/codec_test_gen.c
  LIBS PkgConfig::MSGPACK)
target_include_directories(codec_test PRIVATE ${CMAKE_CURRENT_BINARY_DIR})

# The generator refuses bad schemas with FILE:LINE (tests/golden/codec/bad_*).
add_test(NAME unit.codec_gen
  COMMAND ${Python3_EXECUTABLE}
          ${CMAKE_SOURCE_DIR}/tests/golden/codec/check_gen.py
          ${CMAKE_SOURCE_DIR}/tools/gen_schema.py)
set_tests_properties(unit.codec_gen PROPERTIES LABELS unit)
