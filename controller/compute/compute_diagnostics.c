/*
 * compute_diagnostics: GET /servers/{id}/diagnostics (os-server-diagnostics),
 * read from the hypervisor: the controller asks the instance's agent
 * (recon_guest_stats(), the os-getConsoleOutput pattern) for libvirt's
 * figures of the guest and shapes them as Nova's libvirt driver does:
 * the 2.48 standard object, or below 2.48 the driver's flat dictionary.
 * Only uptime comes from the record (Nova's: since launched_at).
 */
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "compute_int.h"
#include "core/db.h"
#include "err.h"

static json_t *
std_view(const struct msg_guest_stats *st, const struct rec_instance *i,
    json_int_t uptime)
{
	json_t *cpus = json_array(), *disks = json_array(), *nics =
	    json_array(), *o;

	for (size_t k = 0; k < st->cpus.n; k++)
		json_array_append_new(cpus, json_pack("{s:I, s:I, s:n}", "id",
		    (json_int_t)st->cpus.items[k].id, "time",
		    (json_int_t)st->cpus.items[k].time_ns, "utilisation"));
	for (size_t k = 0; k < st->disks.n; k++) {
		const struct sch_disk_stat *d = &st->disks.items[k];

		json_array_append_new(disks, json_pack("{s:I, s:I, s:I, s:I, "
		    "s:I}", "read_bytes", (json_int_t)d->read_bytes,
		    "read_requests", (json_int_t)d->read_requests,
		    "write_bytes", (json_int_t)d->write_bytes,
		    "write_requests", (json_int_t)d->write_requests,
		    "errors_count", (json_int_t)d->errors));
	}
	for (size_t k = 0; k < st->nics.n; k++) {
		const struct sch_nic_stat *n = &st->nics.items[k];

		json_array_append_new(nics, json_pack("{s:s, s:I, s:I, s:I, "
		    "s:I, s:n, s:I, s:I, s:I, s:I, s:n}", "mac_address", n->mac,
		    "rx_octets", (json_int_t)n->rx_octets,
		    "rx_errors", (json_int_t)n->rx_errors,
		    "rx_drop", (json_int_t)n->rx_drop,
		    "rx_packets", (json_int_t)n->rx_packets, "rx_rate",
		    "tx_octets", (json_int_t)n->tx_octets,
		    "tx_errors", (json_int_t)n->tx_errors,
		    "tx_drop", (json_int_t)n->tx_drop,
		    "tx_packets", (json_int_t)n->tx_packets, "tx_rate"));
	}
	/* num_cpus: the guest's vCPUs even when libvirt gives no per-vCPU
	 * times (a guest that is not running). Memory in MiB. */
	o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:b, s:I, s:I, s:I, "
	    "s:{s:I, s:I}, s:o, s:o, s:o}",
	    "state", st->state, "driver", "libvirt",
	    "hypervisor", st->hypervisor, "hypervisor_os", "linux",
	    "uptime", uptime, "config_drive", st->config_drive,
	    "num_cpus", (json_int_t)(st->cpus.n ? st->cpus.n :
	    i->flavor.vcpus),
	    "num_nics", (json_int_t)st->nics.n,
	    "num_disks", (json_int_t)st->disks.n,
	    "memory_details", "maximum", (json_int_t)(st->max_mem_kib / 1024),
	    "used", (json_int_t)(st->mem_kib / 1024),
	    "cpu_details", cpus, "disk_details", disks, "nic_details", nics);
	return o;
}

/* Nova's libvirt get_diagnostics() keys (memory in KiB). */
static json_t *
legacy_view(const struct msg_guest_stats *st)
{
	json_t *o = json_object();
	char k[96];

	for (size_t j = 0; j < st->cpus.n; j++) {
		snprintf(k, sizeof(k), "cpu%u_time",
		    (unsigned)st->cpus.items[j].id);
		json_object_set_new(o, k, json_integer(
		    (json_int_t)st->cpus.items[j].time_ns));
	}
	for (size_t j = 0; j < st->disks.n; j++) {
		const struct sch_disk_stat *d = &st->disks.items[j];
		static const char *sfx[] = { "_read_req", "_read",
		    "_write_req", "_write", "_errors" };
		uint64_t v[] = { d->read_requests, d->read_bytes,
		    d->write_requests, d->write_bytes, d->errors };

		for (size_t m = 0; m < 5; m++) {
			snprintf(k, sizeof(k), "%s%s", d->dev ? d->dev : "disk",
			    sfx[m]);
			json_object_set_new(o, k, json_integer((json_int_t)v[m]));
		}
	}
	for (size_t j = 0; j < st->nics.n; j++) {
		const struct sch_nic_stat *n = &st->nics.items[j];
		static const char *sfx[] = { "_rx", "_rx_packets",
		    "_rx_errors", "_rx_drop", "_tx", "_tx_packets",
		    "_tx_errors", "_tx_drop" };
		uint64_t v[] = { n->rx_octets, n->rx_packets, n->rx_errors,
		    n->rx_drop, n->tx_octets, n->tx_packets, n->tx_errors,
		    n->tx_drop };

		for (size_t m = 0; m < 8; m++) {
			snprintf(k, sizeof(k), "%s%s", n->mac, sfx[m]);
			json_object_set_new(o, k, json_integer((json_int_t)v[m]));
		}
	}
	json_object_set_new(o, "memory", json_integer(
	    (json_int_t)st->max_mem_kib));
	json_object_set_new(o, "memory-actual", json_integer(
	    (json_int_t)st->mem_kib));
	return o;
}

int
compute_servers_diagnostics(struct http_req *req, struct http_resp *resp)
{
	struct rec_instance cur;
	struct store_txn *txn = NULL;
	struct msg_guest_stats *st = NULL;
	json_int_t uptime;
	json_t *o;
	int mv, rc;

	if (compute_version(req, resp, &mv) == -1 ||
	    compute_enforce(req, "os_compute_api:os-server-diagnostics") == -1)
		return -1;
	memset(&cur, 0, sizeof(cur));
	if (compute_read(req, &txn) == -1)
		return -1;
	rc = compute_server_load_txn(req, txn, "os_compute_api:servers:show",
	    &cur);
	store_txn_end(&txn);
	if (rc == -1)
		return -1;
	if (cur.host == NULL || *cur.host == '\0' ||
	    strcmp(cur.vm_state, VM_BUILDING) == 0) {
		err_set(TS_ECONFLICT, "Cannot 'get_diagnostics' instance %s "
		    "while it is in vm_state %s", cur.uuid, cur.vm_state);
		codec_clear(&schema_rec_instance, &cur);
		return -1;
	}
	if (recon_guest_stats(compute_of(req)->recon, cur.uuid, cur.host,
	    &st) == -1) {
		/* Nova's InstanceNotReady for a guest its host cannot show. */
		if (err_code() == TS_ENOT_FOUND || err_code() ==
		    TS_EUNAVAILABLE)
			err_set(TS_ECONFLICT, "Instance %s is not ready",
			    cur.uuid);
		codec_clear(&schema_rec_instance, &cur);
		return -1;
	}
	uptime = cur.launched_at ? (json_int_t)((db_now_ms() -
	    cur.launched_at) / 1000) : 0;
	o = request_mv_has(mv, MV_DIAGNOSTICS_STD) ? std_view(st, &cur, uptime) : legacy_view(st);
	codec_free(&schema_msg_guest_stats, (void **)&st);
	codec_clear(&schema_rec_instance, &cur);
	if (o == NULL) {
		err_set(TS_ENOMEM, "diagnostics: out of memory");
		return -1;
	}
	return http_resp_json(resp, 200, o);
}
