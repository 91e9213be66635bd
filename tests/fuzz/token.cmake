# Identity decoders: token_validate()/token_payload_unpack() and
# capability_check() on arbitrary
# bytes, and the policy loader (JSON, YAML + check-string parser) on arbitrary
# bytes. Seeds: tests/fuzz/seeds/fuzz_token/, tests/fuzz/seeds/fuzz_policy/.
ts_fuzz_target(fuzz_token
  SOURCES ${CMAKE_SOURCE_DIR}/controller/auth/token.c
          ${CMAKE_SOURCE_DIR}/controller/auth/capability.c
          ${CMAKE_SOURCE_DIR}/controller/auth/keyrepo.c
          ${CMAKE_SOURCE_DIR}/common/uuid.c
  LIBS PkgConfig::SODIUM)
target_include_directories(fuzz_token PRIVATE ${CMAKE_SOURCE_DIR}/controller)

ts_fuzz_target(fuzz_policy
  SOURCES ${CMAKE_SOURCE_DIR}/controller/auth/policy.c
  LIBS PkgConfig::JANSSON)
target_include_directories(fuzz_policy PRIVATE ${CMAKE_SOURCE_DIR}/controller)
