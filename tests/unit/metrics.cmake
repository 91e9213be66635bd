# common/metrics (registry, exposition) and common/metrics_http (/metrics).
ts_unit_test(metrics_test SOURCES ${C}/metrics.c ${C}/metrics_http.c
  ${C}/config.c
  ${C}/buf.c ${C}/clock.c LIBS m)
