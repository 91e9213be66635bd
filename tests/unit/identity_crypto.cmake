# Identity building blocks: controller/keyrepo + token (sealed tokens, key
# rotation, revocation), password (argon2id), policy (oslo.policy rules).
ts_unit_test(token_test
  SOURCES ${CMAKE_SOURCE_DIR}/controller/auth/token.c
          ${CMAKE_SOURCE_DIR}/controller/auth/keyrepo.c
  LIBS PkgConfig::SODIUM)
target_include_directories(token_test PRIVATE ${CMAKE_SOURCE_DIR}/controller)

ts_unit_test(password_test
  SOURCES ${CMAKE_SOURCE_DIR}/controller/identity/password.c
  LIBS PkgConfig::SODIUM)
target_include_directories(password_test PRIVATE ${CMAKE_SOURCE_DIR}/controller)

# policy_test reads tests/golden/policy/ (TS_SOURCE_DIR under ctest; the
# compiled-in path when run by hand).
ts_unit_test(policy_test
  SOURCES ${CMAKE_SOURCE_DIR}/controller/auth/policy.c
  LIBS PkgConfig::JANSSON)
target_include_directories(policy_test PRIVATE ${CMAKE_SOURCE_DIR}/controller)
target_compile_definitions(policy_test PRIVATE
  TS_TEST_SOURCE_DIR="${CMAKE_SOURCE_DIR}")

# routes_test walks every service's route table (controller/services.c) over
# the controller library: each authenticated route is guarded.
ts_unit_test(routes_test LIBS tinystack-ctl)

# [security_compliance] rules (controller/identity/compliance): lockout,
# expiry, first use, history, minimum age, regex, user options, with the
# time passed in; real argon2id hashes at the minimum costs.
ts_unit_test(compliance_test
  SOURCES ${CMAKE_SOURCE_DIR}/controller/identity/compliance.c
          ${CMAKE_SOURCE_DIR}/controller/identity/password.c
          ${C}/config.c ${C}/opts.c ${C}/codec.c ${TS_GEN_SOURCES}
          ${C}/buf.c ${C}/uuid.c
  LIBS PkgConfig::SODIUM PkgConfig::MSGPACK)
if(TARGET compliance_test)
  target_include_directories(compliance_test PRIVATE
    ${CMAKE_SOURCE_DIR}/controller)
endif()

# The agents' image download capability (controller/auth/capability) over a
# real key repository: round trip, tampering, expiry, other image or host,
# rotation, never a Keystone token.
ts_unit_test(capability_test
  SOURCES ${CMAKE_SOURCE_DIR}/controller/auth/capability.c
          ${CMAKE_SOURCE_DIR}/controller/auth/token.c
          ${CMAKE_SOURCE_DIR}/controller/auth/keyrepo.c
          ${C}/uuid.c
  LIBS PkgConfig::SODIUM)
if(TARGET capability_test)
  target_include_directories(capability_test PRIVATE
    ${CMAKE_SOURCE_DIR}/controller)
endif()
