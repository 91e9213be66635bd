/*
 * telemetry: the controller's own figures on its /metrics registry (the
 * [metrics] listener, common/metrics_http): the store (writes, commits,
 * group-commit batch sizes, LMDB map size and use), the bus (messages and
 * bytes each way, send failures and dropped frames by reason) and the
 * object counts operators graph (openstack_nova_total_vms,
 * openstack_cinder_volumes, openstack_neutron_ports..., named as
 * openstack-exporter names them), and the process's memory
 * (common/procmem: malloc's in-use and free bytes and arenas, resident
 * anonymous and file-backed bytes).
 *
 * The bus's sends and receipts are also counted by message type
 * (tinystack_bus_sent_total{type}, tinystack_bus_received_total{type}):
 * the bus thread names each frame it sent or received with
 * telemetry_bus_class(), the bus's classify hook, into fixed tables of
 * atomics in the bus indexed by the generated message id, so a frame
 * costs a look at the envelope's first bytes and a lookup among the
 * message names, no allocation (a received frame is the agent's,
 * untrusted: codec_envelope_peek_type() is fuzzed, tests/fuzz/
 * fuzz_codec.c).
 *
 * Nothing is copied: collectors read the store's and the bus's counters
 * and LMDB's entry counts (one read transaction, O(1) per table) when
 * scraped, on the scraping thread. The per-host fleet figures come from
 * compute (compute_metrics_collect()), which owns the usage records.
 */
#ifndef TS_CONTROLLER_TELEMETRY_H
#define TS_CONTROLLER_TELEMETRY_H

#include <stddef.h>

struct bus;
struct metrics;
struct store;

/* Adds the collectors; store and bus are borrowed and must outlive every
 * scrape (stop the metrics server first). 0, or -1 with err set. */
int	telemetry_register(struct metrics *, struct store *, struct bus *);

/* bus_opts.classify of the controller's bus: the generated id of the
 * message type an envelope names (msg_gen.h), 0 for any other frame. */
unsigned telemetry_bus_class(const void *frame, size_t len);

#endif
