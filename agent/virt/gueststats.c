/*
 * gueststats: see gueststats.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "err.h"
#include "log.h"
#include "virt/domxml.h"
#include "virt/gueststats.h"
#include "virt/virt.h"

#define MAX_VCPUS	512
#define MAX_DISKS	64
#define MAX_NICS	64

/* Nova's power_state.STATE_MAP words. */
static const char *
state_word(enum virt_power power)
{
	switch (power) {
	case VIRT_POWER_RUNNING:	return "running";
	case VIRT_POWER_PAUSED:		return "paused";
	case VIRT_POWER_SHUTDOWN:	return "shutdown";
	case VIRT_POWER_CRASHED:	return "crashed";
	case VIRT_POWER_SUSPENDED:	return "suspended";
	default:			return "pending";
	}
}

/* The target dev='...' of each <disk> in libvirt's own XML (single
 * quotes, as libvirt writes it). */
static size_t
disk_targets(const char *xml, char devs[][32], size_t max)
{
	const char *p = xml, *end, *t;
	size_t n = 0;

	while (n < max && (p = strstr(p, "<disk ")) != NULL) {
		if ((end = strstr(p, "</disk>")) == NULL)
			break;
		t = strstr(p, "<target dev='");
		if (t != NULL && t < end) {
			const char *q;

			t += strlen("<target dev='");
			if ((q = strchr(t, '\'')) != NULL && q < end &&
			    (size_t)(q - t) < sizeof(devs[0]) && q > t) {
				memcpy(devs[n], t, (size_t)(q - t));
				devs[n][q - t] = '\0';
				n++;
			}
		}
		p = end + strlen("</disk>");
	}
	return n;
}

static void
vcpus_fill(virDomainPtr dom, unsigned nr, struct msg_guest_stats *out)
{
	virVcpuInfoPtr info;
	int got;

	if (nr == 0 || nr > MAX_VCPUS ||
	    (info = calloc(nr, sizeof(*info))) == NULL)
		return;
	/* Fails for a guest that is not running: no CPU details then. */
	got = virDomainGetVcpus(dom, info, (int)nr, NULL, 0);
	if (got > 0 && (out->cpus.items = calloc((size_t)got,
	    sizeof(*out->cpus.items))) != NULL) {
		for (int k = 0; k < got; k++) {
			out->cpus.items[k].id = info[k].number;
			out->cpus.items[k].time_ns = info[k].cpuTime;
		}
		out->cpus.n = (size_t)got;
	}
	free(info);
}

static void
disks_fill(virDomainPtr dom, const char *xml, struct msg_guest_stats *out)
{
	char devs[MAX_DISKS][32];
	size_t n = disk_targets(xml, devs, MAX_DISKS);

	if (n == 0 || (out->disks.items = calloc(n,
	    sizeof(*out->disks.items))) == NULL)
		return;
	for (size_t k = 0; k < n; k++) {
		virDomainBlockStatsStruct bs;
		struct sch_disk_stat *d = &out->disks.items[out->disks.n];

		if (virDomainBlockStats(dom, devs[k], &bs, sizeof(bs)) < 0 ||
		    (d->dev = strdup(devs[k])) == NULL)
			continue;
		d->read_bytes = bs.rd_bytes > 0 ? (uint64_t)bs.rd_bytes : 0;
		d->read_requests = bs.rd_req > 0 ? (uint64_t)bs.rd_req : 0;
		d->write_bytes = bs.wr_bytes > 0 ? (uint64_t)bs.wr_bytes : 0;
		d->write_requests = bs.wr_req > 0 ? (uint64_t)bs.wr_req : 0;
		d->errors = bs.errs > 0 ? (uint64_t)bs.errs : 0;
		out->disks.n++;
	}
}

static uint64_t
pos(long long v)
{
	return v > 0 ? (uint64_t)v : 0;
}

static void
nics_fill(virDomainPtr dom, const char *xml, struct msg_guest_stats *out)
{
	char macs[MAX_NICS][18];
	size_t n = 0;

	if (domxml_macs(xml, macs, MAX_NICS, &n) == -1 || n == 0 ||
	    (out->nics.items = calloc(n, sizeof(*out->nics.items))) == NULL) {
		err_clear();
		return;
	}
	for (size_t k = 0; k < n; k++) {
		virDomainInterfaceStatsStruct is;
		struct sch_nic_stat *s = &out->nics.items[out->nics.n];

		/* libvirt takes the MAC as the interface's name. */
		if (virDomainInterfaceStats(dom, macs[k], &is, sizeof(is)) < 0)
			continue;
		if ((s->mac = strdup(macs[k])) == NULL)
			break;
		s->rx_octets = pos(is.rx_bytes);
		s->rx_packets = pos(is.rx_packets);
		s->rx_errors = pos(is.rx_errs);
		s->rx_drop = pos(is.rx_drop);
		s->tx_octets = pos(is.tx_bytes);
		s->tx_packets = pos(is.tx_packets);
		s->tx_errors = pos(is.tx_errs);
		s->tx_drop = pos(is.tx_drop);
		out->nics.n++;
	}
}

int
gueststats_fill(virDomainPtr dom, struct msg_guest_stats *out)
{
	virDomainInfo di;
	const char *word;
	char *xml;

	if (virDomainGetInfo(dom, &di) < 0) {
		err_set(TS_EUNAVAILABLE, "libvirt: domain info: %s",
		    virt_last_error());
		return -1;
	}
	if ((out->state = strdup(state_word(virt_domain_power(dom,
	    &word)))) == NULL) {
		err_set(TS_ENOMEM, "gueststats: out of memory");
		return -1;
	}
	out->max_mem_kib = di.maxMem;
	out->mem_kib = di.memory;
	vcpus_fill(dom, di.nrVirtCpu, out);
	if ((xml = virDomainGetXMLDesc(dom, 0)) != NULL) {
		disks_fill(dom, xml, out);
		nics_fill(dom, xml, out);
		free(xml);
	}
	/* Counters libvirt refused are skipped, not errors (see the header):
	 * its error is not this call's. */
	virResetLastError();
	return 0;
}

void
gueststats_clear(struct msg_guest_stats *out)
{
	free(out->state);
	out->state = NULL;
	free(out->cpus.items);
	out->cpus.items = NULL;
	out->cpus.n = 0;
	for (size_t k = 0; k < out->disks.n; k++)
		free(out->disks.items[k].dev);
	free(out->disks.items);
	out->disks.items = NULL;
	out->disks.n = 0;
	for (size_t k = 0; k < out->nics.n; k++)
		free(out->nics.items[k].mac);
	free(out->nics.items);
	out->nics.items = NULL;
	out->nics.n = 0;
}
