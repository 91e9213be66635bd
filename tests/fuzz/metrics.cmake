ts_fuzz_target(fuzz_metrics_http SOURCES ${C}/metrics_http.c ${C}/metrics.c
  ${C}/config.c ${C}/buf.c ${C}/clock.c LIBS m)
