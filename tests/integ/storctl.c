/*
 * storctl: drives the agent's storage worker (agent/storage/storsvc.h)
 * with real backends and a real tgtd for tests/integ/test_storage_*.sh,
 * the way the agent does, host_storage messages built from stdin.
 *
 * Usage: storctl --host H [--backend file|lvm] [--dir DIR] [--vg VG]
 *                [--no-activation] [--portal ADDR:PORT --control N]
 *                [--tick-ms N] [--debug]
 * Without --portal there is no tgtd (no exports). stdin, one item a line,
 * a message ended by "apply GEN":
 *   vol ID SIZE_GB PRESENT(0|1) [INITIATOR CHAP_USER CHAP_SECRET]
 *   snap ID VOLUME_ID PRESENT(0|1)
 *   apply GEN
 * Every host_storage_state the worker sends is printed to stdout:
 *   state gen=G reply=R backend=B portal=P total=T free=F
 *   vol|snap ID present=0|1 ok=0|1 size=N iqn=IQN msg=MESSAGE
 *   unknown ID
 *   end
 * At the end of stdin the worker stops (and its tgtd with it); exit 0.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "err.h"
#include "log.h"
#include "msg_gen.h"
#include "storage/storsvc.h"
#include "storage/tgt.h"
#include "storage/volstore.h"

#define ITEMS_MAX	64

static int
print_state(const void *buf, size_t len, void *arg)
{
	struct codec_envelope env;
	const struct msg_host_storage_state *st;

	(void)arg;
	memset(&env, 0, sizeof(env));
	if (codec_envelope_decode(buf, len, SCHEMA_FROM_AGENT, &env) == -1)
		return -1;
	st = env.body;
	printf("state gen=%llu reply=%s backend=%s portal=%s total=%llu "
	    "free=%llu\n", (unsigned long long)st->generation,
	    st->in_reply_to ? st->in_reply_to : "-", st->backend, st->portal,
	    (unsigned long long)st->total_gb, (unsigned long long)st->free_gb);
	for (int k = 0; k < 2; k++) {
		size_t n = k ? st->snapshots.n : st->volumes.n;
		const struct sch_sto_status *v = k ? st->snapshots.items :
		    st->volumes.items;

		for (size_t i = 0; i < n; i++)
			printf("%s %s present=%d ok=%d size=%llu iqn=%s "
			    "msg=%s\n", k ? "snap" : "vol", v[i].id,
			    v[i].present, v[i].ok,
			    (unsigned long long)v[i].size_gb,
			    v[i].iqn ? v[i].iqn : "-",
			    v[i].message ? v[i].message : "-");
	}
	for (size_t i = 0; i < st->unknown.n; i++)
		printf("unknown %s\n", st->unknown.items[i]);
	printf("end\n");
	fflush(stdout);
	codec_envelope_clear(&env);
	return 0;
}

static struct msg_host_storage *
msg_new(const char *host)
{
	struct msg_host_storage *m = codec_new(&schema_msg_host_storage);

	if (m == NULL || (m->host = strdup(host)) == NULL ||
	    (m->volumes.items = calloc(ITEMS_MAX,
	    sizeof(*m->volumes.items))) == NULL ||
	    (m->snapshots.items = calloc(ITEMS_MAX,
	    sizeof(*m->snapshots.items))) == NULL) {
		fprintf(stderr, "storctl: out of memory\n");
		exit(1);
	}
	return m;
}

static void
usage(void)
{
	fprintf(stderr, "usage: storctl --host H [--backend file|lvm] "
	    "[--dir DIR] [--vg VG] [--no-activation] [--portal A:P "
	    "--control N] [--tick-ms N]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "host", required_argument, NULL, 'h' },
		{ "backend", required_argument, NULL, 'b' },
		{ "dir", required_argument, NULL, 'd' },
		{ "vg", required_argument, NULL, 'g' },
		{ "no-activation", no_argument, NULL, 'n' },
		{ "portal", required_argument, NULL, 'p' },
		{ "control", required_argument, NULL, 'c' },
		{ "tick-ms", required_argument, NULL, 't' },
		{ "debug", no_argument, NULL, 'D' },
		{ NULL, 0, NULL, 0 },
	};
	struct volstore_opts vo = { .backend = "file", .lvm_activation = true };
	const char *host = NULL, *portal = NULL;
	int control = 0, tick = 0, debug = 0, c;
	struct volstore *vs;
	struct tgt *tg = NULL;
	struct storsvc *s;
	struct msg_host_storage *m;
	char line[1024];

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'h': host = optarg; break;
		case 'b': vo.backend = optarg; break;
		case 'd': vo.file_dir = optarg; break;
		case 'g': vo.lvm_vg = optarg; break;
		case 'n': vo.lvm_activation = false; break;
		case 'p': portal = optarg; break;
		case 'c': control = atoi(optarg); break;
		case 't': tick = atoi(optarg); break;
		case 'D': debug = 1; break;
		default: usage();
		}
	}
	if (host == NULL || optind != argc)
		usage();
	log_set_level(debug ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	if ((vs = volstore_new(&vo)) == NULL ||
	    (portal != NULL && (tg = tgt_new(portal, control)) == NULL) ||
	    (s = storsvc_new(&vs, &tg, host, tick, print_state, NULL)) ==
	    NULL) {
		fprintf(stderr, "storctl: %s\n", err_msg());
		return 1;
	}
	m = msg_new(host);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		char w[7][300];
		int n = sscanf(line, "%299s %299s %299s %299s %299s %299s "
		    "%299s", w[0], w[1], w[2], w[3], w[4], w[5], w[6]);

		if (n >= 4 && strcmp(w[0], "vol") == 0 &&
		    m->volumes.n < ITEMS_MAX) {
			struct sch_sto_volume *v =
			    &m->volumes.items[m->volumes.n++];

			snprintf(v->id, sizeof(v->id), "%.36s", w[1]);
			v->size_gb = strtoull(w[2], NULL, 10);
			v->present = strcmp(w[3], "1") == 0;
			if (n == 7) {
				v->exports.items = calloc(1,
				    sizeof(*v->exports.items));
				v->exports.n = 1;
				v->exports.items[0].initiator = strdup(w[4]);
				v->exports.items[0].chap_user = strdup(w[5]);
				v->exports.items[0].chap_secret = strdup(w[6]);
			}
		} else if (n == 4 && strcmp(w[0], "snap") == 0 &&
		    m->snapshots.n < ITEMS_MAX) {
			struct sch_sto_snapshot *sn =
			    &m->snapshots.items[m->snapshots.n++];

			snprintf(sn->id, sizeof(sn->id), "%.36s", w[1]);
			snprintf(sn->volume_id, sizeof(sn->volume_id), "%.36s",
			    w[2]);
			sn->present = strcmp(w[3], "1") == 0;
		} else if (n == 2 && strcmp(w[0], "apply") == 0) {
			char req[64];

			m->generation = strtoull(w[1], NULL, 10);
			snprintf(req, sizeof(req), "req-%.40s", w[1]);
			storsvc_submit(s, &m, req);
			m = msg_new(host);
		} else if (n > 0) {
			fprintf(stderr, "storctl: bad line: %s", line);
		}
	}
	codec_free(&schema_msg_host_storage, (void **)&m);
	storsvc_free(&s);
	return 0;
}
