/*
 * network_db_test: controller/network/network_db.c over a real LMDB store:
 * the indexes (networks by project, subnets by network, ports by network
 * and by device) follow put/update/delete, usage counts change in the same
 * transaction as the objects (and not at all when it rolls back), and the
 * 5 -> 6 step of db sync creates the network tables.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "core/db.h"
#include "err.h"
#include "log.h"
#include "msg_gen.h"
#include "network/network_db.h"
#include "store.h"

static char		 dir[] = "/tmp/network_db_test.XXXXXX";
static struct store	*st;

#define ID(p, c)	"00000000-0000-4000-8000-" p "000000000" c

static int
net_fn(struct store_txn *txn, void *arg)
{
	struct rec_network n = { .project_id = "p1", .name = "n",
	    .description = "", .network_type = "vxlan", .status = "ACTIVE" };

	snprintf(n.id, sizeof(n.id), "%s", (const char *)arg);
	return network_db_network_put(txn, &n, NULL);
}

static int
sub_fn(struct store_txn *txn, void *arg)
{
	const char **a = arg;
	struct rec_subnet s = { .project_id = (char *)a[2], .name = "s",
	    .description = "", .ip_version = 4, .cidr = "10.0.0.0/24" };

	snprintf(s.id, sizeof(s.id), "%s", a[0]);
	snprintf(s.network_id, sizeof(s.network_id), "%s", a[1]);
	return network_db_subnet_put(txn, &s, NULL);
}

static void
fill_port(struct rec_port *p, const char *id, const char *net,
    const char *dev)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", id);
	snprintf(p->network_id, sizeof(p->network_id), "%s", net);
	p->project_id = "p2";
	p->name = "";
	p->description = "";
	p->mac_address = "fa:16:3e:00:00:01";
	p->status = "DOWN";
	p->device_id = (char *)dev;
	p->device_owner = "";
	p->binding_vnic_type = "normal";
	p->binding_vif_type = "unbound";
}

static int
port_fn(struct store_txn *txn, void *arg)
{
	const char **a = arg;
	struct rec_port p;

	fill_port(&p, a[0], a[1], a[2]);
	return network_db_port_put(txn, &p, NULL);
}

/* Move a port to another device. */
static int
port_move_fn(struct store_txn *txn, void *arg)
{
	const char **a = arg;
	struct rec_port old, p;
	int rc;

	if (network_db_port_get(txn, a[0], &old) == -1)
		return -1;
	fill_port(&p, old.id, old.network_id, a[1]);
	rc = network_db_port_put(txn, &p, &old);
	codec_clear(&schema_rec_port, &old);
	return rc;
}

static int
port_del_fn(struct store_txn *txn, void *arg)
{
	struct rec_port p;
	int rc;

	if (network_db_port_get(txn, arg, &p) == -1)
		return -1;
	rc = network_db_port_del(txn, &p);
	codec_clear(&schema_rec_port, &p);
	return rc;
}

/* Create a port, then fail: nothing of it may remain. */
static int
port_then_fail_fn(struct store_txn *txn, void *arg)
{
	if (port_fn(txn, arg) == -1)
		return -1;
	err_set(TS_ECONFLICT, "changed my mind");
	return -1;
}

static struct rec_network_usage
usage(const char *project)
{
	struct rec_network_usage u;
	struct store_txn *txn = NULL;

	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(network_db_usage_get(txn, project, &u), 0);
	store_txn_end(&txn);
	return u;
}

static int
collect_port(const struct rec_port *p, void *arg)
{
	strcat(arg, p->id + 34);	/* the last 2 hex digits */
	strcat(arg, " ");
	return 0;
}

static const char *
ports_of(const char *net, const char *dev)
{
	static char out[256];
	struct store_txn *txn = NULL;

	out[0] = '\0';
	assert_int_equal(store_read_begin(st, &txn), 0);
	if (net)
		assert_int_equal(network_db_port_each_network(txn, net,
		    collect_port, out), 0);
	else
		assert_int_equal(network_db_port_each_device(txn, dev,
		    collect_port, out), 0);
	store_txn_end(&txn);
	return out;
}

static int
collect_net(const struct rec_network *n, void *arg)
{
	strcat(arg, n->id + 34);
	strcat(arg, " ");
	return 0;
}

static void
test_networks(void **state)
{
	struct store_txn *txn = NULL;
	struct rec_network n;
	char out[64] = "";

	assert_int_equal(store_write(st, net_fn, ID("1", "01")), 0);
	assert_int_equal(store_write(st, net_fn, ID("1", "02")), 0);
	assert_int_equal(store_write(st, net_fn, ID("1", "01")), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	assert_string_equal(err_msg(), "Network " ID("1", "01") " already "
	    "exists.");
	assert_int_equal(usage("p1").networks, 2);

	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(network_db_network_each_project(txn, "p1",
	    collect_net, out), 0);
	assert_string_equal(out, "01 02 ");
	out[0] = '\0';
	assert_int_equal(network_db_network_each_project(txn, "p9",
	    collect_net, out), 0);
	assert_string_equal(out, "");
	assert_int_equal(network_db_network_get(txn, ID("1", "09"), &n), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_string_equal(err_msg(), "Network " ID("1", "09") " could not "
	    "be found.");
	store_txn_end(&txn);
}

static int
collect_sub(const struct rec_subnet *s, void *arg)
{
	strcat(arg, s->id + 34);
	strcat(arg, " ");
	return 0;
}

static int
sub_del_fn(struct store_txn *txn, void *arg)
{
	struct rec_subnet s;
	int rc;

	if (network_db_subnet_get(txn, arg, &s) == -1)
		return -1;
	rc = network_db_subnet_del(txn, &s);
	codec_clear(&schema_rec_subnet, &s);
	return rc;
}

static void
test_subnets(void **state)
{
	const char *a[] = { ID("2", "01"), ID("1", "01"), "p1" };
	const char *b[] = { ID("2", "02"), ID("1", "01"), "p3" };
	struct store_txn *txn = NULL;
	char out[64] = "";

	assert_int_equal(store_write(st, sub_fn, a), 0);
	assert_int_equal(store_write(st, sub_fn, b), 0);
	assert_int_equal(usage("p1").subnets, 1);
	assert_int_equal(usage("p3").subnets, 1);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(network_db_subnet_each_network(txn, ID("1", "01"),
	    collect_sub, out), 0);
	store_txn_end(&txn);
	assert_string_equal(out, "01 02 ");
	assert_int_equal(store_write(st, sub_del_fn, (void *)b[0]), 0);
	assert_int_equal(usage("p3").subnets, 0);
	out[0] = '\0';
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(network_db_subnet_each_network(txn, ID("1", "01"),
	    collect_sub, out), 0);
	store_txn_end(&txn);
	assert_string_equal(out, "01 ");
}

static void
test_ports_indexes_and_usage(void **state)
{
	const char *p1[] = { ID("3", "01"), ID("1", "01"), "vm-a" };
	const char *p2[] = { ID("3", "02"), ID("1", "01"), "" };
	const char *p3[] = { ID("3", "03"), ID("1", "02"), "vm-a" };
	const char *mv[] = { ID("3", "02"), "vm-b" };
	const char *mv2[] = { ID("3", "01"), "" };
	struct store_txn *txn = NULL;
	size_t n;

	assert_int_equal(store_write(st, port_fn, p1), 0);
	assert_int_equal(store_write(st, port_fn, p2), 0);
	assert_int_equal(store_write(st, port_fn, p3), 0);
	assert_int_equal(usage("p2").ports, 3);
	assert_string_equal(ports_of(ID("1", "01"), NULL), "01 02 ");
	assert_string_equal(ports_of(ID("1", "02"), NULL), "03 ");
	assert_string_equal(ports_of(NULL, "vm-a"), "01 03 ");
	assert_string_equal(ports_of(NULL, ""), "");

	/* Device changes move the index entry. */
	assert_int_equal(store_write(st, port_move_fn, mv), 0);
	assert_int_equal(store_write(st, port_move_fn, mv2), 0);
	assert_string_equal(ports_of(NULL, "vm-a"), "03 ");
	assert_string_equal(ports_of(NULL, "vm-b"), "02 ");
	assert_int_equal(usage("p2").ports, 3);	/* updates do not count */

	/* A rolled-back create leaves no record, index entry or count. */
	const char *p4[] = { ID("3", "04"), ID("1", "01"), "vm-c" };

	assert_int_equal(store_write(st, port_then_fail_fn, p4), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	assert_int_equal(usage("p2").ports, 3);
	assert_string_equal(ports_of(NULL, "vm-c"), "");

	assert_int_equal(store_write(st, port_del_fn, (void *)p1[0]), 0);
	assert_int_equal(usage("p2").ports, 2);
	assert_string_equal(ports_of(ID("1", "01"), NULL), "02 ");
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(network_db_port_count_network(txn, ID("1", "01"), &n),
	    0);
	assert_int_equal(n, 1);
	store_txn_end(&txn);
	assert_int_equal(store_write(st, port_del_fn, (void *)p1[0]), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	assert_string_equal(err_msg(), "Port " ID("3", "01") " could not be "
	    "found.");
}

static int
quota_fn(struct store_txn *txn, void *arg)
{
	struct rec_network_quota q = { .has_port = true, .port = -1 };

	if (arg != NULL)
		return network_db_quota_del(txn, "p1");
	return network_db_quota_put(txn, "p1", &q);
}

static void
test_quota(void **state)
{
	struct store_txn *txn = NULL;
	struct rec_network_quota q;

	assert_int_equal(store_write(st, quota_fn, NULL), 0);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(network_db_quota_get(txn, "p1", &q), 0);
	assert_true(q.has_port);
	assert_int_equal(q.port, -1);
	assert_false(q.has_network);
	store_txn_end(&txn);
	assert_int_equal(store_write(st, quota_fn, "del"), 0);
	assert_int_equal(store_write(st, quota_fn, "del"), 0);
	assert_int_equal(store_read_begin(st, &txn), 0);
	assert_int_equal(network_db_quota_get(txn, "p1", &q), 0);
	assert_false(q.has_port);
	store_txn_end(&txn);
}

static int
downgrade_fn(struct store_txn *txn, void *arg)
{
	static const unsigned char v5[4] = { 0, 0, 0, 5 };

	return store_put(txn, STORE_META_TABLE, "schema_version", 14, v5, 4,
	    0);
}

static void
test_migration(void **state)
{
	uint32_t v;

	assert_int_equal(store_schema_version(st, &v), 0);
	assert_int_equal(v, DB_SCHEMA_VERSION);
	assert_int_equal(DB_SCHEMA_VERSION, 18);
	assert_int_equal(store_write(st, downgrade_fn, NULL), 0);
	assert_int_equal(db_check_version(st), -1);
	assert_int_equal(db_sync(st), 0);
	assert_int_equal(db_check_version(st), 0);
	/* The data written before is untouched. */
	assert_string_equal(ports_of(ID("1", "01"), NULL), "02 ");
}

static int
setup(void **state)
{
	struct store_opts so = { 0 };

	assert_non_null(mkdtemp(dir));
	so.path = dir;
	so.tables = db_tables;
	so.map_size = 64 << 20;
	assert_non_null(st = store_open(&so));
	assert_int_equal(db_sync(st), 0);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	store_free(&st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

int
main(void)
{
	/* Each test builds on the store the previous ones left. */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_networks),
		cmocka_unit_test(test_subnets),
		cmocka_unit_test(test_ports_indexes_and_usage),
		cmocka_unit_test(test_quota),
		cmocka_unit_test(test_migration),
	};

	log_init("network_db_test", LOG_LVL_ERROR, LOG_TO_STDERR, NULL);
	return cmocka_run_group_tests(tests, setup, teardown);
}
