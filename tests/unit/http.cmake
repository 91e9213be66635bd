# controller/http + controller/apierr: real servers on 127.0.0.1 ephemeral
# ports, driven by a raw-socket HTTP/1.1 client inside the test. GnuTLS (the
# TLS library Debian's libmicrohttpd is built with) makes the test's own
# self-signed certificate and speaks the TLS client side.
pkg_check_modules(GNUTLS REQUIRED IMPORTED_TARGET gnutls)
ts_unit_test(http_test
  SOURCES ${CMAKE_SOURCE_DIR}/controller/http/http.c ${CMAKE_SOURCE_DIR}/controller/http/apierr.c
  ${C}/utf8.c ${C}/metrics.c ${C}/buf.c
  LIBS PkgConfig::MHD PkgConfig::JANSSON PkgConfig::UUID PkgConfig::GNUTLS m)
if(TARGET http_test)
  target_include_directories(http_test PRIVATE ${CMAKE_SOURCE_DIR}/controller)
  set_tests_properties(unit.http_test PROPERTIES TIMEOUT 300)
endif()
