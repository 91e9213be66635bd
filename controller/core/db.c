/* db: tables, migrations and typed records of the controller; see db.h. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uuid/uuid.h>

#include "hash.h"
#include "clock.h"
#include "codec.h"
#include "config.h"
#include "db.h"
#include "buf.h"
#include "err.h"
#include "log.h"

const char *const db_tables[] = {
	T_SERVICES, T_SERVICES_BY_HOST,
	T_HYPERVISORS, T_HYPERVISORS_BY_HOST,
	T_AGENT_KEYS, T_AGENT_KEYS_BY_KEY,
	T_PROJECTS, T_PROJECTS_BY_NAME,
	T_USERS, T_USERS_BY_NAME,
	T_ROLES, T_ROLES_BY_NAME,
	T_ASSIGNMENTS, T_ASSIGNMENTS_BY_TARGET, T_ASSIGNMENTS_BY_ROLE,
	T_CATALOG_SERVICES, T_CATALOG_ENDPOINTS, T_REGIONS,
	T_REVOCATIONS, T_GROUPS, T_GROUPS_BY_NAME, T_GROUP_USERS,
	T_USER_GROUPS, T_IMPLIED_ROLES,
	/* compute */
	T_FLAVORS, T_FLAVORS_BY_NAME, T_KEYPAIRS, T_INSTANCES,
	T_INSTANCES_BY_PROJECT, T_INSTANCES_BY_HOST, T_INSTANCES_BY_CREATED,
	T_INSTANCE_TASKS,
	T_INSTANCE_TOMBSTONES, T_INSTANCE_ACTIONS, T_COMPUTE_QUOTAS,
	T_COMPUTE_USAGE, T_HOST_USAGE, T_COMPUTE_NODES,
	/* image */
	T_IMAGES, T_IMAGES_BY_OWNER, T_IMAGE_MEMBERS,
	T_IMAGE_MEMBERS_BY_MEMBER,
	/* network */
	T_NETWORKS, T_NETWORKS_BY_PROJECT, T_SUBNETS, T_SUBNETS_BY_NETWORK,
	T_PORTS, T_PORTS_BY_NETWORK, T_PORTS_BY_DEVICE, T_IP_ALLOCATIONS,
	T_IP_CURSORS, T_MAC_ALLOCATIONS, T_SEGMENT_ALLOCATIONS,
	T_NETWORK_QUOTAS, T_NETWORK_USAGE,
	/* security groups */
	T_SECURITY_GROUPS, T_SECURITY_GROUPS_BY_PROJECT, T_SG_RULES,
	T_SG_RULES_BY_GROUP,
	/* routers */
	T_ROUTERS, T_ROUTERS_BY_PROJECT, T_FLOATINGIPS, T_FLOATINGIPS_BY_PORT,
	T_FLOATINGIPS_BY_PROJECT,
	/* volume */
	T_VOLUME_QUOTAS, T_VOLUMES, T_VOLUMES_BY_PROJECT, T_VOLUMES_BY_HOST,
	T_VOLUME_SNAPSHOTS, T_VOLUME_SNAPSHOTS_BY_PROJECT,
	T_VOLUME_SNAPSHOTS_BY_VOLUME, T_VOLUME_USAGE, T_STORAGE_HOSTS, T_VOLUME_TYPES,
	/* compute, schema 11 */
	T_AGGREGATES,
	/* schema 12 */
	T_HOST_STATUS,
	/* compute, schema 13 */
	T_MIGRATIONS,
	/* compute, schema 14 */
	T_INSTANCES_BY_STATE,
	/* schema 16 */
	T_HYPERVISOR_GUESTS,
	/* volume transfers (created empty, no migration) */
	T_VOLUME_TRANSFERS,
	/* volume backups */
	T_VOLUME_BACKUPS, T_VOLUME_BACKUPS_BY_PROJECT,
	NULL
};

struct store *
db_open(const struct config *cfg, int read_only)
{
	struct store_opts o = { 0 };
	const char *sync = config_get_str(cfg, "database", "sync");

	o.path = config_get_str(cfg, "database", "path");
	o.map_size = (size_t)config_get_int(cfg, "database", "map_size_mb") <<
	    20;
	o.max_readers = (unsigned)config_get_int(cfg, "database",
	    "max_readers");
	o.sync = strcmp(sync, "nometasync") == 0 ? STORE_SYNC_NOMETASYNC :
	    STORE_SYNC_FULL;
	o.tables = db_tables;
	o.read_only = read_only;
	return store_open(&o);
}

/* Version 1 is the first schema: store_open() created the tables; the step
 * only records the version. Later versions add steps that rewrite records
 * (codec_record_decode() reads older record versions into current structs). */
static int
mig_initial(struct store_txn *txn, void *arg)
{
	return 0;
}

/* Version 2 adds the identity tables (store_open() creates them, empty).
 * The default domain, the admin and the catalog are `tinystack-manage
 * bootstrap`'s work, as with keystone-manage, so the step only records the
 * version. */
static int
mig_identity(struct store_txn *txn, void *arg)
{
	return 0;
}

/* Version 3 adds the compute tables (created empty by store_open());
 * flavors are the operator's to create, as in Nova. */
static int
mig_compute(struct store_txn *txn, void *arg)
{
	return 0;
}

/* Version 4 adds the image tables (created empty by store_open()). */
static int
mig_image(struct store_txn *txn, void *arg)
{
	return 0;
}

/* Index entries a step builds (instances_by_created, instances_by_state):
 * collected by the iteration callback, written after it (no write to the
 * table being iterated). The value is the instance's uuid. */
#define IDX_KEY_MAX	(DB_INSTANCE_STATE_KEY_MAX > \
    DB_INSTANCE_CREATED_KEY_MAX ? DB_INSTANCE_STATE_KEY_MAX : \
    DB_INSTANCE_CREATED_KEY_MAX)
struct idx_ent {
	char	k[IDX_KEY_MAX];
	size_t	kl;
	char	u[CODEC_UUID_LEN + 1];
};

struct idx_build {
	struct idx_ent	*v;
	size_t		 n, cap;
};

/* Room in b for more entries. */
static int
idx_room(struct idx_build *b, size_t more)
{
	if (b->n + more > b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 256;
		struct idx_ent *nv;

		while (nc < b->n + more)
			nc *= 2;
		if ((nv = realloc(b->v, nc * sizeof(*nv))) == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		b->v = nv;
		b->cap = nc;
	}
	return 0;
}

static int
idx_cmp(const void *a, const void *b)
{
	const struct idx_ent *x = a, *y = b;
	int c = memcmp(x->k, y->k, x->kl < y->kl ? x->kl : y->kl);

	return c != 0 ? c : x->kl < y->kl ? -1 : x->kl > y->kl;
}

/* Writes b's entries into table (emptied first when clear), in key
 * order. */
static int
idx_write(struct store_txn *txn, const char *table, struct idx_build *b,
    bool clear)
{
	int rc = clear ? store_clear(txn, table) : 0;

	if (rc == 0 && b->n > 1)
		qsort(b->v, b->n, sizeof(*b->v), idx_cmp);
	for (size_t j = 0; rc == 0 && j < b->n; j++)
		rc = store_put(txn, table, b->v[j].k, b->v[j].kl, b->v[j].u,
		    strlen(b->v[j].u), 0);
	return rc;
}

/* Version 5 adds instances_by_created, the list order of the servers API
 * (compute_db.h): store_open() created it empty, this step indexes the
 * instances already stored. The decoded record is needed only for its
 * project, creation time and uuid. */

static int
created_collect(const void *k, size_t kl, const void *v, size_t vl,
    void *arg)
{
	struct idx_build *b = arg;
	struct rec_instance i;
	struct idx_ent *e;

	memset(&i, 0, sizeof(i));
	if (codec_record_decode(&schema_rec_instance, v, vl, &i, NULL) == -1) {
		log_warnx("instance %.*s: not indexed: %s", (int)kl,
		    (const char *)k, err_msg());
		return 0;
	}
	if (idx_room(b, 2) == -1) {
		codec_clear(&schema_rec_instance, &i);
		return -1;
	}
	e = &b->v[b->n];
	/* the keys of schema 5, which the 16 -> 17 step rewrites */
	e[0].kl = db_instance_desc_key(e[0].k, i.project_id, i.created_at,
	    i.uuid);
	e[1].kl = db_instance_desc_key(e[1].k, "", i.created_at, i.uuid);
	snprintf(e[0].u, sizeof(e[0].u), "%s", i.uuid);
	snprintf(e[1].u, sizeof(e[1].u), "%s", i.uuid);
	codec_clear(&schema_rec_instance, &i);
	if (e[0].kl == 0 || e[1].kl == 0) {
		log_warnx("instance %.*s: project id too long: not indexed",
		    (int)kl, (const char *)k);
		return 0;
	}
	b->n += 2;
	return 0;
}

static int
mig_instances_by_created(struct store_txn *txn, void *arg)
{
	struct idx_build b = { 0 };
	int rc;

	rc = store_iter(txn, T_INSTANCES, NULL, 0, created_collect, &b);
	if (rc == 0)
		rc = idx_write(txn, T_INSTANCES_BY_CREATED, &b, false);
	if (rc == 0)
		log_info("db: %zu instance(s) indexed by creation time",
		    b.n / 2);
	free(b.v);
	return rc;
}

/* Version 6 adds the network tables (created empty by store_open()):
 * networks, subnets and ports are the users' to create, as in Neutron, so
 * the step only records the version. */
static int
mig_network(struct store_txn *txn, void *arg)
{
	return 0;
}

/* Version 7 adds the security group, router and floating IP tables
 * (created empty by store_open()): each project's default group is made on
 * first use, as Neutron does, and the usage and quota records read the new
 * counters as zero / absent (since=2), so nothing is rewritten. */
static int
mig_network_l3(struct store_txn *txn, void *arg)
{
	return 0;
}

/* Version 8 adds the block storage quota table (created empty by
 * store_open()): a project without a record has the configured defaults. */
static int
mig_volume(struct store_txn *txn, void *arg)
{
	return 0;
}

/* Version 9 adds the volume, snapshot, usage and storage host tables and
 * their indexes (created empty by store_open()): a project without a usage
 * record uses nothing. Instance records of version 2 read as version 3
 * with no volumes (since=3), so nothing is rewritten either. */
static int
mig_volume_records(struct store_txn *txn, void *arg)
{
	return 0;
}

/* Version 10 adds the volume type table (created empty by store_open()):
 * volumes of version 9 name the built-in type, which has no record. */
static int
mig_volume_types(struct store_txn *txn, void *arg)
{
	return 0;
}

/* Version 11 adds the host aggregate table (created empty by store_open()):
 * without aggregates every host is in the default availability zone, as
 * before. */
static int
mig_aggregates(struct store_txn *txn, void *arg)
{
	return 0;
}

/* Version 12 adds the host status table (created empty by store_open()):
 * each daemon writes its record with its next report. */
static int
mig_host_status(struct store_txn *txn, void *arg)
{
	return 0;
}

/* Version 13 adds the migration table (created empty by store_open()):
 * migrations before it left no record, as in a Nova without them; the
 * instance records of version 6 read as version 7 with no resize
 * (since=7). */
static int
mig_migrations(struct store_txn *txn, void *arg)
{
	return 0;
}

/* Version 14 adds instances_by_state, the index of the servers list's
 * status filter (db_instance_state_key()): store_open() created it empty,
 * this step indexes the instances already stored, as the version-5 step
 * does (collected first, written after the iteration). */
struct state_build {
	char	(*k)[DB_INSTANCE_STATE_KEY_MAX];
	size_t	*kl;
	char	(*u)[CODEC_UUID_LEN + 1];
	size_t	 n, cap;
};

static size_t	state_key(char [DB_INSTANCE_STATE_KEY_MAX], const char *,
		    const char *, const char *, int64_t, const char *, bool);

static int
state_collect(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct state_build *b = arg;
	struct rec_instance i;
	size_t l0, l1;

	memset(&i, 0, sizeof(i));
	if (codec_record_decode(&schema_rec_instance, v, vl, &i, NULL) == -1) {
		log_warnx("instance %.*s: not indexed by state: %s", (int)kl,
		    (const char *)k, err_msg());
		return 0;
	}
	if (b->n + 2 > b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 256;
		void *nk = realloc(b->k, nc * sizeof(*b->k));

		if (nk != NULL)
			b->k = nk;
		nk = nk ? realloc(b->kl, nc * sizeof(*b->kl)) : NULL;
		if (nk != NULL)
			b->kl = nk;
		nk = nk ? realloc(b->u, nc * sizeof(*b->u)) : NULL;
		if (nk == NULL) {
			codec_clear(&schema_rec_instance, &i);
			err_set(TS_ENOMEM, "out of memory");
			return -1;
		}
		b->u = nk;
		b->cap = nc;
	}
	/* the keys of schema 14, which the 17 -> 18 step rewrites */
	l0 = state_key(b->k[b->n], i.project_id, i.vm_state, i.task_state,
	    i.created_at, i.uuid, true);
	l1 = state_key(b->k[b->n + 1], "", i.vm_state, i.task_state,
	    i.created_at, i.uuid, true);
	snprintf(b->u[b->n], sizeof(b->u[0]), "%s", i.uuid);
	snprintf(b->u[b->n + 1], sizeof(b->u[0]), "%s", i.uuid);
	codec_clear(&schema_rec_instance, &i);
	if (l0 == 0 || l1 == 0) {
		log_warnx("instance %.*s: project id or state too long: not "
		    "indexed by state", (int)kl, (const char *)k);
		return 0;
	}
	b->kl[b->n] = l0;
	b->kl[b->n + 1] = l1;
	b->n += 2;
	return 0;
}

static int
mig_instances_by_state(struct store_txn *txn, void *arg)
{
	struct state_build b = { 0 };
	int rc;

	rc = store_iter(txn, T_INSTANCES, NULL, 0, state_collect, &b);
	for (size_t j = 0; rc == 0 && j < b.n; j++)
		rc = store_put(txn, T_INSTANCES_BY_STATE, b.k[j], b.kl[j],
		    b.u[j], strlen(b.u[j]), 0);
	if (rc == 0)
		log_info("db: %zu instance(s) indexed by state", b.n / 2);
	free(b.k);
	free(b.kl);
	free(b.u);
	return rc;
}

/*
 * Version 15 stores records keyed by field number instead of name
 * (common/codec.h, schemas/fields.lock): every table of a record type is
 * rewritten. A value is converted only when re-encoding what it decoded to
 * by name reproduces it byte for byte: then the conversion loses nothing
 * (no unknown key, no older record version, nothing written by another
 * encoder). Anything else is left as it is, still readable (the decoder
 * takes names as well), and counted. Batches of COMPACT_BATCH values are
 * collected, then written, then the iteration resumes after the last key
 * (a table may not be written while it is iterated).
 */
#define COMPACT_BATCH	1024

struct compact_batch {
	const struct schema_type *type;
	struct buf	 kv;		/* keys and new values, back to back */
	size_t		 off[COMPACT_BATCH][2], len[COMPACT_BATCH][2];
	size_t		 n;
	size_t		 converted, left;
	char		 last[STORE_KEY_MAX];	/* resume after this key */
	size_t		 lastlen;
};

static int
compact_collect(const void *k, size_t kl, const void *v, size_t vl,
    void *arg)
{
	struct compact_batch *b = arg;
	const struct schema_type *t = b->type;
	struct buf names = { 0 };
	uint8_t hdr[2];
	uint32_t ver = 0;
	size_t mark = b->kv.len;
	void *obj;
	int same;

	if (kl > sizeof(b->last)) {
		err_set(TS_EINTERNAL, "%s: key of %zu bytes", t->table, kl);
		return -1;
	}
	memcpy(b->last, k, kl);
	b->lastlen = kl;
	if ((obj = codec_new(t)) == NULL)
		return -1;
	if (codec_record_decode(t, v, vl, obj, &ver) == -1) {
		log_warnx("%s %.*s: left as stored: %s", t->table, (int)kl,
		    (const char *)k, err_msg());
		b->left++;
		goto next;
	}
	/* [version, map by name] as the previous release wrote it; versions
	 * are below 128 (one byte), anything else is left. */
	hdr[0] = 0x92;
	hdr[1] = (uint8_t)ver;
	same = ver == t->version && ver < 128 &&
	    buf_append(&names, hdr, 2) == 0 &&
	    codec_encode(t, obj, &names) == 0 && names.len == vl &&
	    memcmp(names.data, v, vl) == 0;
	buf_free(&names);
	if (!same) {
		b->left++;
		goto next;
	}
	if (buf_append(&b->kv, k, kl) == -1 ||
	    codec_record_encode(t, obj, &b->kv) == -1) {
		b->kv.len = mark;
		codec_free(t, &obj);
		return -1;
	}
	b->off[b->n][0] = mark;
	b->len[b->n][0] = kl;
	b->off[b->n][1] = mark + kl;
	b->len[b->n][1] = b->kv.len - mark - kl;
	b->n++;
	b->converted++;
next:
	codec_free(t, &obj);
	return b->n == COMPACT_BATCH ? 1 : 0;
}

static int
compact_table(struct store_txn *txn, struct compact_batch *b)
{
	size_t j, rounds;
	int rc = 0;

	b->lastlen = 0;
	/* Every round but the last converts COMPACT_BATCH values or reaches
	 * the end; the bound is a table of 2^32 entries. */
	for (rounds = 0; rc == 0 && rounds < (SIZE_MAX / COMPACT_BATCH);
	    rounds++) {
		size_t before = b->converted + b->left;

		b->n = 0;
		b->kv.len = 0;
		rc = store_iter_after(txn, b->type->table, NULL, 0,
		    b->lastlen ? b->last : NULL, b->lastlen, compact_collect, b);
		for (j = 0; rc == 0 && j < b->n; j++)
			rc = store_put(txn, b->type->table,
			    b->kv.data + b->off[j][0], b->len[j][0],
			    b->kv.data + b->off[j][1], b->len[j][1], 0);
		if (rc != 0 || b->converted + b->left == before ||
		    b->n < COMPACT_BATCH)
			break;
	}
	return rc;
}

static int
mig_compact_records(struct store_txn *txn, void *arg)
{
	struct compact_batch *b;
	size_t i, j, tables = 0;
	int rc = 0;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		err_set(TS_ENOMEM, "out of memory");
		return -1;
	}
	for (i = 0; rc == 0 && i < schema_nrecords; i++) {
		/* Only the controller's tables (the test schema's are not). */
		for (j = 0; db_tables[j] != NULL; j++)
			if (strcmp(db_tables[j], schema_records[i]->table) == 0)
				break;
		if (db_tables[j] == NULL)
			continue;
		b->type = schema_records[i];
		rc = compact_table(txn, b);
		tables++;
	}
	if (rc == 0)
		log_info("db: %zu record(s) in %zu table(s) now keyed by field "
		    "number, %zu left as stored", b->converted, tables,
		    b->left);
	buf_free(&b->kv);
	free(b);
	return rc;
}

/*
 * Version 16 moves each hypervisor's guest list (record version 3, field
 * 15 "guests", a list of up to 4,096 guests) into hypervisor_guests, keyed
 * by host, and rewrites the hypervisor record at version 4 without it.
 * Collected first, written after the iteration. A record that does not
 * decode is left as stored (logged); a list that does not is dropped
 * (logged): the host's next heartbeat reports it again.
 */
#define HV_GUESTS_FIELD		15	/* schemas/fields.lock */

struct hvg_build {
	struct buf	 kv;	/* per host: hv key, hv value, host, guests */
	size_t		 (*off)[4], (*len)[4];
	size_t		 n, cap, left, guests;
};

static int
hvg_add(struct hvg_build *b, size_t j, const void *p, size_t l)
{
	b->off[b->n][j] = b->kv.len;
	b->len[b->n][j] = l;
	return buf_append(&b->kv, p, l);
}

static int
hvg_collect(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct hvg_build *b = arg;
	struct rec_hypervisor h;
	struct rec_hypervisor_guests g;
	const uint8_t *raw;
	size_t rawlen, mark = b->kv.len;
	uint32_t ver = 0;
	struct buf enc = { 0 };
	int rc = -1;

	memset(&g, 0, sizeof(g));
	if (codec_record_decode(&schema_rec_hypervisor, v, vl, &h, &ver) ==
	    -1) {
		log_warnx("%s %.*s: left as stored: %s", T_HYPERVISORS,
		    (int)kl, (const char *)k, err_msg());
		b->left++;
		return 0;
	}
	if (codec_record_raw_field(v, vl, HV_GUESTS_FIELD, "guests", &raw,
	    &rawlen) == 0 && codec_record_decode_field(
	    &schema_rec_hypervisor_guests, "guests", raw, rawlen, &g) == -1) {
		log_warnx("%s %.*s: guest list dropped: %s", T_HYPERVISORS,
		    (int)kl, (const char *)k, err_msg());
		memset(&g, 0, sizeof(g));
	}
	g.host = h.host;
	g.updated_at = h.updated_at;
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 64;
		void *no = realloc(b->off, nc * sizeof(*b->off)), *nl;

		if (no != NULL)
			b->off = no;
		nl = no ? realloc(b->len, nc * sizeof(*b->len)) : NULL;
		if (nl == NULL) {
			err_set(TS_ENOMEM, "out of memory");
			goto out;
		}
		b->len = nl;
		b->cap = nc;
	}
	if (hvg_add(b, 0, k, kl) == -1 ||
	    codec_record_encode(&schema_rec_hypervisor, &h, &enc) == -1 ||
	    hvg_add(b, 1, enc.data, enc.len) == -1 ||
	    hvg_add(b, 2, h.host, strlen(h.host)) == -1)
		goto out;
	enc.len = 0;
	if (codec_record_encode(&schema_rec_hypervisor_guests, &g, &enc) ==
	    -1 || hvg_add(b, 3, enc.data, enc.len) == -1)
		goto out;
	b->guests += g.guests.n;
	b->n++;
	rc = 0;
out:
	if (rc == -1)
		b->kv.len = mark;
	g.host = NULL;		/* h's */
	codec_clear(&schema_rec_hypervisor_guests, &g);
	codec_clear(&schema_rec_hypervisor, &h);
	buf_free(&enc);
	return rc;
}

static int
mig_hypervisor_guests(struct store_txn *txn, void *arg)
{
	struct hvg_build b;
	const char *kv;
	int rc;

	memset(&b, 0, sizeof(b));
	rc = store_iter(txn, T_HYPERVISORS, NULL, 0, hvg_collect, &b);
	for (size_t j = 0; rc == 0 && j < b.n; j++) {
		kv = (const char *)b.kv.data;
		rc = store_put(txn, T_HYPERVISORS, kv + b.off[j][0],
		    b.len[j][0], kv + b.off[j][1], b.len[j][1], 0);
		if (rc == 0)
			rc = store_put(txn, T_HYPERVISOR_GUESTS,
			    kv + b.off[j][2], b.len[j][2], kv + b.off[j][3],
			    b.len[j][3], 0);
	}
	if (rc == 0)
		log_info("db: %zu hypervisor(s) rewritten without their "
		    "%zu guest(s), now in %s; %zu left as stored", b.n,
		    b.guests, T_HYPERVISOR_GUESTS, b.left);
	buf_free(&b.kv);
	free(b.off);
	free(b.len);
	return rc;
}

/* The creation time in the 16 hex digits at p of a descending order part
 * (db_instance_desc_key()), or of an ascending one: a time part below
 * 2^62 is already ascending (a created_at of Unix milliseconds; INT64_MAX
 * - created_at is above it until the year 146 million), so that the steps
 * rewriting an index can run twice. -1 if not 16 lowercase hex digits of
 * at most INT64_MAX. */
static int
order_time(const char *p, int64_t *created_at)
{
	uint64_t t = 0;

	for (size_t j = 0; j < 16; j++) {
		char c = p[j];

		if (c >= '0' && c <= '9')
			t = t << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			t = t << 4 | (uint64_t)(c - 'a' + 10);
		else
			return -1;
	}
	if (t > INT64_MAX)
		return -1;
	*created_at = t < (UINT64_C(1) << 62) ? (int64_t)t :
	    INT64_MAX - (int64_t)t;
	return 0;
}

/*
 * Version 17 stores instances_by_created ascending (db_instance_created_key()):
 * new keys append on the right of their scope instead of the left, where
 * LMDB's splits left pages half full (docs/PERFORMANCE.md, "instances_by_
 * created ascending"). The old keys say everything the new ones need (scope
 * and time; the uuid is the value), so no record is decoded: they are
 * collected, the table emptied, and the new keys written in key order.
 * An entry that does not parse as a schema-16 key is dropped with a
 * warning: the list could not have ordered it either. The key's uuid part
 * is not read: the value is the uuid.
 */
static int
asc_collect(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct idx_build *b = arg;
	const char *key = k, *nul;
	char uuid[CODEC_UUID_LEN + 1];
	int64_t created_at = 0;
	size_t sl;
	int bad;

	nul = memchr(key, '\0', kl < DB_INSTANCE_CREATED_SCOPE_MAX + 1 ?
	    kl : DB_INSTANCE_CREATED_SCOPE_MAX + 1);
	sl = nul ? (size_t)(nul - key) : 0;
	bad = nul == NULL || kl < sl + 17 || vl == 0 || vl > CODEC_UUID_LEN ||
	    order_time(key + sl + 1, &created_at) == -1;
	if (bad) {
		log_warnx("%s: malformed entry of %zu bytes dropped",
		    T_INSTANCES_BY_CREATED, kl);
		return 0;
	}
	if (idx_room(b, 1) == -1)
		return -1;
	memcpy(uuid, v, vl);
	uuid[vl] = '\0';
	/* the scope is NUL-terminated in the key itself */
	b->v[b->n].kl = db_instance_created_key(b->v[b->n].k, key,
	    created_at, uuid);
	memcpy(b->v[b->n].u, uuid, vl + 1);
	b->n++;
	return 0;
}

static int
mig_created_ascending(struct store_txn *txn, void *arg)
{
	struct idx_build b = { 0 };
	int rc;

	rc = store_iter(txn, T_INSTANCES_BY_CREATED, NULL, 0, asc_collect, &b);
	if (rc == 0)
		rc = idx_write(txn, T_INSTANCES_BY_CREATED, &b, true);
	if (rc == 0)
		log_info("db: %zu %s entries rewritten ascending", b.n,
		    T_INSTANCES_BY_CREATED);
	free(b.v);
	return rc;
}

/*
 * Version 18 does the same for instances_by_state (db_instance_state_key()):
 * each (scope, vm_state, task) stream stored ascending, the status filter
 * walking its streams backwards. The prefix up to the third NUL is kept;
 * the order part is rebuilt from its time and the value (the uuid). An
 * entry that does not parse as a schema-17 key is dropped with a warning.
 */
static int
state_asc_collect(const void *k, size_t kl, const void *v, size_t vl,
    void *arg)
{
	struct idx_build *b = arg;
	const char *key = k;
	const size_t max[3] = { DB_INSTANCE_CREATED_SCOPE_MAX,
	    DB_INSTANCE_STATE_PART_MAX, DB_INSTANCE_STATE_PART_MAX };
	int64_t created_at = 0;
	size_t pl = 0;
	int bad = 0;

	/* the prefix: scope, vm_state and task, each NUL-terminated */
	for (int part = 0; !bad && part < 3; part++) {
		size_t room = kl - pl < max[part] + 1 ? kl - pl : max[part] + 1;
		const char *nul = memchr(key + pl, '\0', room);

		if (nul == NULL)
			bad = 1;
		else
			pl = (size_t)(nul - key) + 1;
	}
	bad = bad || kl < pl + 16 || vl == 0 || vl > CODEC_UUID_LEN ||
	    memchr(v, '\0', vl) != NULL ||
	    order_time(key + pl, &created_at) == -1;
	if (bad) {
		log_warnx("%s: malformed entry of %zu bytes dropped",
		    T_INSTANCES_BY_STATE, kl);
		return 0;
	}
	if (idx_room(b, 1) == -1)
		return -1;
	memcpy(b->v[b->n].u, v, vl);
	b->v[b->n].u[vl] = '\0';
	memcpy(b->v[b->n].k, key, pl);
	/* as state_key(): the prefix's last NUL is scope ""'s */
	b->v[b->n].kl = pl - 1 + db_instance_created_key(b->v[b->n].k + pl - 1,
	    "", created_at, b->v[b->n].u);
	b->n++;
	return 0;
}

static int
mig_state_ascending(struct store_txn *txn, void *arg)
{
	struct idx_build b = { 0 };
	int rc;

	rc = store_iter(txn, T_INSTANCES_BY_STATE, NULL, 0, state_asc_collect,
	    &b);
	if (rc == 0)
		rc = idx_write(txn, T_INSTANCES_BY_STATE, &b, true);
	if (rc == 0)
		log_info("db: %zu %s entries rewritten ascending", b.n,
		    T_INSTANCES_BY_STATE);
	free(b.v);
	return rc;
}

static const struct store_migration migrations[] = {
	{ 0, 1, "initial schema: services, hypervisors, agent keys",
	    mig_initial, NULL },
	{ 1, 2, "identity: projects, users, groups, roles, implied roles, "
	    "assignments, catalog, revocations", mig_identity, NULL },
	{ 2, 3, "compute: flavors, keypairs, instances, actions, quotas, "
	    "usage", mig_compute, NULL },
	{ 3, 4, "image: images, members", mig_image, NULL },
	{ 4, 5, "compute: instances_by_created (server list order)",
	    mig_instances_by_created, NULL },
	{ 5, 6, "network: networks, subnets, ports, ip/mac/segment "
	    "allocations, quotas, usage", mig_network, NULL },
	{ 6, 7, "network: security groups and their rules, routers, floating "
	    "IPs", mig_network_l3, NULL },
	{ 7, 8, "volume: quotas", mig_volume, NULL },
	{ 8, 9, "volume: volumes, snapshots, usage, storage hosts",
	    mig_volume_records, NULL },
	{ 9, 10, "volume: types", mig_volume_types, NULL },
	{ 10, 11, "compute: host aggregates", mig_aggregates, NULL },
	{ 11, 12, "fleet: host status (dependencies, recent errors)",
	    mig_host_status, NULL },
	{ 12, 13, "compute: migrations", mig_migrations, NULL },
	{ 13, 14, "compute: instances_by_state (server list status filter)",
	    mig_instances_by_state, NULL },
	{ 14, 15, "records keyed by field number instead of name",
	    mig_compact_records, NULL },
	{ 15, 16, "fleet: hypervisor guest lists in their own table",
	    mig_hypervisor_guests, NULL },
	{ 16, 17, "compute: instances_by_created stored ascending",
	    mig_created_ascending, NULL },
	{ 17, 18, "compute: instances_by_state stored ascending",
	    mig_state_ascending, NULL },
};

int
db_sync(struct store *st)
{
	return store_migrate(st, migrations,
	    sizeof(migrations) / sizeof(migrations[0]), DB_SCHEMA_VERSION);
}

int
db_check_version(struct store *st)
{
	uint32_t v;

	if (store_schema_version(st, &v) == -1)
		return -1;
	if (v != DB_SCHEMA_VERSION) {
		err_set(TS_ECONFIG, "database schema is version %u, this "
		    "binary needs %u: run 'tinystack-manage db sync'", v,
		    DB_SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

int
db_rec_get(struct store_txn *txn, const char *table, const char *key,
    const struct schema_type *type, void *obj)
{
	const void *v;
	size_t vl;
	uint32_t ver;

	memset(obj, 0, type->size);
	if (store_get(txn, table, key, strlen(key), &v, &vl) == -1)
		return -1;
	if (codec_record_decode(type, v, vl, obj, &ver) == -1) {
		err_prefix("%s/%s: ", table, key);
		return -1;
	}
	return 0;
}

int
db_rec_put(struct store_txn *txn, const char *table, const char *key,
    const struct schema_type *type, const void *obj, int flags)
{
	struct buf b = { 0 };
	int rc;

	if (codec_record_encode(type, obj, &b) == -1) {
		buf_free(&b);	/* may hold memory on failure */
		return -1;
	}
	rc = store_put(txn, table, key, strlen(key), b.data, b.len, flags);
	buf_free(&b);
	return rc;
}

/* Index look-up of a single primary key. */
struct first_pk {
	char	pk[STORE_KEY_MAX + 1];
	int	found;
};

static int
take_first(const void *pk, size_t pklen, void *arg)
{
	struct first_pk *f = arg;

	if (pklen > STORE_KEY_MAX)
		return 0;
	memcpy(f->pk, pk, pklen);
	f->pk[pklen] = '\0';
	f->found = 1;
	return 1;
}

static int
by_index(struct store_txn *txn, const char *index, const char *ival,
    const char *table, const struct schema_type *type, void *obj)
{
	struct first_pk f = { .found = 0 };

	if (store_index_iter(txn, index, ival, strlen(ival), take_first,
	    &f) == -1)
		return -1;
	if (!f.found) {
		err_set(TS_ENOT_FOUND, "%s: no entry for '%s'", index, ival);
		return -1;
	}
	return db_rec_get(txn, table, f.pk, type, obj);
}

/* See db_fleet_changed_txn(): written by write transactions (the
 * committer thread), read by the scheduler's refresh. */
static _Atomic uint64_t fleet_txn[DB_FLEET_STAMPS];
static _Atomic uint64_t fleet_added_txn;

static size_t
fleet_slot(const char *host)
{
	return (size_t)(hash_fnv64(host) % DB_FLEET_STAMPS);
}

static void
stamp_max(_Atomic uint64_t *slot, uint64_t id)
{
	uint64_t cur = atomic_load(slot);

	while (cur < id && !atomic_compare_exchange_weak(slot, &cur, id))
		;
}

/* added: the write may have made a record exist (a registration). */
static void
fleet_stamp(struct store_txn *txn, const char *host, int added)
{
	uint64_t id = store_txn_id(txn);

	if (host != NULL && *host != '\0')
		stamp_max(&fleet_txn[fleet_slot(host)], id);
	if (added)
		stamp_max(&fleet_added_txn, id);
}

uint64_t
db_fleet_changed_txn(const char *host)
{
	return atomic_load(&fleet_txn[fleet_slot(host)]);
}

uint64_t
db_fleet_added_txn(void)
{
	return atomic_load(&fleet_added_txn);
}

int
db_service_by_host(struct store_txn *txn, const char *host,
    struct rec_service *s)
{
	return by_index(txn, T_SERVICES_BY_HOST, host, T_SERVICES,
	    &schema_rec_service, s);
}

int
db_service_put(struct store_txn *txn, const struct rec_service *s)
{
	fleet_stamp(txn, s->host, 1);
	if (db_rec_put(txn, T_SERVICES, s->id, &schema_rec_service, s, 0) ==
	    -1)
		return -1;
	return store_index_put(txn, T_SERVICES_BY_HOST, s->host,
	    strlen(s->host), s->id, strlen(s->id));
}

/* Encodes obj into b and compares it with what table holds at key: 1 the
 * same bytes, 0 different, 2 absent, -1 an error. */
static int
encode_cmp(struct store_txn *txn, const char *table, const char *key,
    const struct schema_type *type, const void *obj, struct buf *b)
{
	const void *old;
	size_t oldlen;

	if (codec_record_encode(type, obj, b) == -1)
		return -1;
	if (store_get(txn, table, key, strlen(key), &old, &oldlen) == 0)
		return oldlen == b->len && memcmp(old, b->data, b->len) == 0;
	return err_code() == TS_ENOT_FOUND ? 2 : -1;
}

/*
 * The record of an id whose index entry exists when the record does: an
 * entity's host never changes, so only a first write (or one after a
 * deletion) adds the entry. Unchanged bytes are not written at all: LMDB
 * copies every page on the path of a put, equal value or not.
 */
static int
rec_update(struct store_txn *txn, const char *table, const char *index,
    const char *host, const char *id, const struct schema_type *type,
    const void *obj)
{
	struct buf b = { 0 };
	int rc = encode_cmp(txn, table, id, type, obj, &b);

	if (rc == 0 || rc == 2) {
		int added = rc == 2;

		fleet_stamp(txn, host, added);
		rc = store_put(txn, table, id, strlen(id), b.data, b.len, 0);
		if (rc == 0 && added)
			rc = store_index_put(txn, index, host, strlen(host),
			    id, strlen(id));
	} else if (rc == 1) {
		rc = 0;
	}
	buf_free(&b);
	return rc;
}

int
db_service_update(struct store_txn *txn, const struct rec_service *s)
{
	return rec_update(txn, T_SERVICES, T_SERVICES_BY_HOST, s->host, s->id,
	    &schema_rec_service, s);
}

int
db_hypervisor_update(struct store_txn *txn, const struct rec_hypervisor *h)
{
	return rec_update(txn, T_HYPERVISORS, T_HYPERVISORS_BY_HOST, h->host,
	    h->id, &schema_rec_hypervisor, h);
}

int
db_hypervisor_guests_get(struct store_txn *txn, const char *host,
    struct rec_hypervisor_guests *g)
{
	return db_rec_get(txn, T_HYPERVISOR_GUESTS, host,
	    &schema_rec_hypervisor_guests, g);
}

int
db_hypervisor_guests_update(struct store_txn *txn,
    const struct rec_hypervisor_guests *g)
{
	struct buf b = { 0 };
	int rc = encode_cmp(txn, T_HYPERVISOR_GUESTS, g->host,
	    &schema_rec_hypervisor_guests, g, &b);

	if (rc == 0 || rc == 2)
		rc = store_put(txn, T_HYPERVISOR_GUESTS, g->host,
		    strlen(g->host), b.data, b.len, 0);
	else if (rc == 1)
		rc = 0;
	buf_free(&b);
	return rc;
}

int
db_rec_same(struct store_txn *txn, const char *table, const char *key,
    const struct schema_type *type, const void *obj)
{
	struct buf b = { 0 };
	int rc = encode_cmp(txn, table, key, type, obj, &b);

	buf_free(&b);
	return rc == 2 ? 0 : rc;
}

int
db_hypervisor_by_host(struct store_txn *txn, const char *host,
    struct rec_hypervisor *h)
{
	return by_index(txn, T_HYPERVISORS_BY_HOST, host, T_HYPERVISORS,
	    &schema_rec_hypervisor, h);
}

int
db_hypervisor_raw_by_host(struct store_txn *txn, const char *host,
    const void **val, size_t *len)
{
	struct first_pk f = { .found = 0 };

	if (store_index_iter(txn, T_HYPERVISORS_BY_HOST, host, strlen(host),
	    take_first, &f) == -1)
		return -1;
	if (!f.found) {
		err_set(TS_ENOT_FOUND, "%s: no entry for '%s'",
		    T_HYPERVISORS_BY_HOST, host);
		return -1;
	}
	return store_get(txn, T_HYPERVISORS, f.pk, strlen(f.pk), val, len);
}

int
db_hypervisor_put(struct store_txn *txn, const struct rec_hypervisor *h)
{
	fleet_stamp(txn, h->host, 1);
	if (db_rec_put(txn, T_HYPERVISORS, h->id, &schema_rec_hypervisor, h,
	    0) == -1)
		return -1;
	return store_index_put(txn, T_HYPERVISORS_BY_HOST, h->host,
	    strlen(h->host), h->id, strlen(h->id));
}

/* Typed iteration: exactly one of the callbacks is set, matching type. */
struct each_ctx {
	const struct schema_type *type;
	int	(*svc)(const struct rec_service *, void *);
	int	(*key)(const struct rec_agent_key *, void *);
	int	(*hv)(const struct rec_hypervisor *, void *);
	void	*arg;
	const struct codec_fieldset *want;	/* NULL: every field */
};

static int
each_rec(const void *k, size_t kl, const void *v, size_t vl, void *arg)
{
	struct each_ctx *e = arg;
	union {
		struct rec_service	s;
		struct rec_agent_key	a;
		struct rec_hypervisor	h;
	} obj;
	uint32_t ver;
	int rc;

	memset(&obj, 0, sizeof(obj));
	if ((e->want != NULL ? codec_record_decode_some(e->type, v, vl,
	    e->want, &obj) : codec_record_decode(e->type, v, vl, &obj,
	    &ver)) == -1) {
		/* One unreadable record must not hide the others. */
		log_warnx("skipping undecodable record: %s", err_msg());
		return 0;
	}
	if (e->svc)
		rc = e->svc(&obj.s, e->arg);
	else if (e->key)
		rc = e->key(&obj.a, e->arg);
	else
		rc = e->hv(&obj.h, e->arg);
	codec_clear(e->type, &obj);
	return rc;
}

int
db_service_each(struct store_txn *txn,
    int (*cb)(const struct rec_service *, void *), void *arg)
{
	struct each_ctx e = { &schema_rec_service, cb, NULL, NULL, arg, NULL };

	return store_iter(txn, T_SERVICES, NULL, 0, each_rec, &e);
}

int
db_hypervisor_each(struct store_txn *txn,
    int (*cb)(const struct rec_hypervisor *, void *), void *arg)
{
	struct each_ctx e = { &schema_rec_hypervisor, NULL, NULL, cb, arg,
	    NULL };

	return store_iter(txn, T_HYPERVISORS, NULL, 0, each_rec, &e);
}

int
db_hypervisor_each_some(struct store_txn *txn,
    const struct codec_fieldset *want,
    int (*cb)(const struct rec_hypervisor *, void *), void *arg)
{
	struct each_ctx e = { &schema_rec_hypervisor, NULL, NULL, cb, arg,
	    want };

	return store_iter(txn, T_HYPERVISORS, NULL, 0, each_rec, &e);
}

int
db_agent_key_host(struct store_txn *txn, const char *pubkey, char *host,
    size_t hostlen)
{
	struct rec_agent_key k;
	struct first_pk f = { .found = 0 };

	if (store_index_iter(txn, T_AGENT_KEYS_BY_KEY, pubkey, strlen(pubkey),
	    take_first, &f) == -1)
		return -1;
	if (!f.found) {
		err_set(TS_ENOT_FOUND, "public key is not enrolled");
		return -1;
	}
	if (db_rec_get(txn, T_AGENT_KEYS, f.pk, &schema_rec_agent_key, &k) ==
	    -1)
		return -1;
	/* The index may lag a re-enrolment only within one transaction; the
	 * record is the authority. */
	if (k.revoked || strcmp(k.public_key, pubkey) != 0) {
		codec_clear(&schema_rec_agent_key, &k);
		err_set(TS_ENOT_FOUND, "key of host %s is revoked", f.pk);
		return -1;
	}
	snprintf(host, hostlen, "%s", k.host);
	codec_clear(&schema_rec_agent_key, &k);
	return 0;
}

int
db_agent_key_get(struct store_txn *txn, const char *host,
    struct rec_agent_key *k)
{
	return db_rec_get(txn, T_AGENT_KEYS, host, &schema_rec_agent_key, k);
}

/* See db_agent_keys_changed_txn(). */
static _Atomic uint64_t agent_keys_txn;

uint64_t
db_agent_keys_changed_txn(void)
{
	return atomic_load(&agent_keys_txn);
}

int
db_agent_key_put(struct store_txn *txn, const struct rec_agent_key *k)
{
	struct rec_agent_key old;
	struct first_pk f = { .found = 0 };

	stamp_max(&agent_keys_txn, store_txn_id(txn));
	/* One key, one host: the bus's look-up maps a key to a single host, so
	 * a second host with the same key (a cloned agent.key) would either
	 * be locked out or speak as the first. */
	if (store_index_iter(txn, T_AGENT_KEYS_BY_KEY, k->public_key,
	    strlen(k->public_key), take_first, &f) == -1)
		return -1;
	if (f.found && strcmp(f.pk, k->host) != 0) {
		err_set(TS_ECONFLICT, "this public key is already enrolled "
		    "for host %s; every agent needs its own key pair", f.pk);
		return -1;
	}

	if (db_agent_key_get(txn, k->host, &old) == 0) {
		if (store_index_del(txn, T_AGENT_KEYS_BY_KEY, old.public_key,
		    strlen(old.public_key), old.host, strlen(old.host)) ==
		    -1 && err_code() != TS_ENOT_FOUND) {
			codec_clear(&schema_rec_agent_key, &old);
			return -1;
		}
		codec_clear(&schema_rec_agent_key, &old);
	} else if (err_code() != TS_ENOT_FOUND) {
		return -1;
	}
	if (db_rec_put(txn, T_AGENT_KEYS, k->host, &schema_rec_agent_key, k,
	    0) == -1)
		return -1;
	return store_index_put(txn, T_AGENT_KEYS_BY_KEY, k->public_key,
	    strlen(k->public_key), k->host, strlen(k->host));
}

int
db_agent_key_each(struct store_txn *txn,
    int (*cb)(const struct rec_agent_key *, void *), void *arg)
{
	struct each_ctx e = { &schema_rec_agent_key, NULL, cb, NULL, arg,
	    NULL };

	return store_iter(txn, T_AGENT_KEYS, NULL, 0, each_rec, &e);
}

int64_t
db_now_ms(void)
{
	return clock_wall_ms();
}

void
db_uuid(char out[37])
{
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

/*
 * Version 7 (RFC 9562): 48 bits of Unix milliseconds, then 74 random bits
 * (libuuid's, as db_uuid()'s). A table keyed by such ids gets its rows in
 * creation order at the right end of its B-tree, on pages LMDB leaves
 * nearly full, where random ids land all over it and leave pages 62% full
 * (docs/PERFORMANCE.md, "Compact stored records, part 2"). The time in it
 * is the row's creation time, which whoever sees the id may see anyway.
 */
void
db_uuid_ordered(char out[37])
{
	uint64_t ms = (uint64_t)db_now_ms();
	uuid_t b;

	uuid_generate_random(b);
	for (int i = 0; i < 6; i++)
		b[i] = (uint8_t)(ms >> (40 - 8 * i));
	b[6] = (uint8_t)(0x70 | (b[6] & 0x0f));
	b[8] = (uint8_t)(0x80 | (b[8] & 0x3f));
	uuid_unparse_lower(b, out);
}

/* scope NUL, 16 hex digits of t, then the uuid, its hex digits
 * complemented when desc; 0 when scope or uuid is too long. */
static size_t
created_key(char out[DB_INSTANCE_CREATED_KEY_MAX], const char *scope,
    uint64_t t, const char *uuid, bool desc)
{
	static const char hex[] = "0123456789abcdef";
	size_t sl = strlen(scope), ul = strlen(uuid);

	if (sl > DB_INSTANCE_CREATED_SCOPE_MAX || ul > CODEC_UUID_LEN)
		return 0;
	memcpy(out, scope, sl);
	out[sl] = '\0';
	for (int k = 0; k < 16; k++)
		out[sl + 1 + k] = hex[(t >> (60 - 4 * k)) & 0xf];
	for (size_t k = 0; k < ul; k++) {
		const char *d = desc ? strchr(hex, uuid[k]) : NULL;

		out[sl + 17 + k] = uuid[k] != '\0' && d != NULL ?
		    hex[15 - (d - hex)] : uuid[k];
	}
	return sl + 17 + ul;
}

/* The list order part of instances_by_state's keys (and of the
 * instances_by_created keys of schemas 5 to 16): INT64_MAX - created_at
 * and the uuid complemented, so that a forward walk is newest first.
 * Times before 1970 sort as 1970: no instance has one. */
size_t
db_instance_desc_key(char out[DB_INSTANCE_CREATED_KEY_MAX],
    const char *scope, int64_t created_at, const char *uuid)
{
	return created_key(out, scope,
	    (uint64_t)(INT64_MAX - (created_at < 0 ? 0 : created_at)), uuid,
	    true);
}

size_t
db_instance_created_key(char out[DB_INSTANCE_CREATED_KEY_MAX],
    const char *scope, int64_t created_at, const char *uuid)
{
	return created_key(out, scope,
	    (uint64_t)(created_at < 0 ? 0 : created_at), uuid, false);
}

/* Nova's _STATE_MAP (nova/api/openstack/common.py): the task states that
 * give a status of their own under some vm_state. */
const char *const db_instance_state_tasks[] = {
	"rebooting", "reboot_pending", "reboot_started",
	"rebooting_hard", "reboot_pending_hard", "reboot_started_hard",
	"updating_password",
	"rebuilding", "rebuild_block_device_mapping", "rebuild_spawning",
	"migrating",
	"resize_prep", "resize_migrating", "resize_migrated", "resize_finish",
	"resize_reverting",
	NULL
};

const char *
db_instance_state_task(const char *task_state)
{
	if (task_state == NULL)
		return "";
	for (size_t k = 0; db_instance_state_tasks[k] != NULL; k++)
		if (strcmp(task_state, db_instance_state_tasks[k]) == 0)
			return db_instance_state_tasks[k];
	return "";
}

size_t
db_instance_state_prefix(char out[DB_INSTANCE_STATE_KEY_MAX],
    const char *scope, const char *vm_state, const char *task)
{
	size_t sl = strlen(scope), vl = strlen(vm_state), tl = strlen(task);

	if (sl > DB_INSTANCE_CREATED_SCOPE_MAX ||
	    vl > DB_INSTANCE_STATE_PART_MAX || tl > DB_INSTANCE_STATE_PART_MAX)
		return 0;
	memcpy(out, scope, sl + 1);
	memcpy(out + sl + 1, vm_state, vl + 1);
	memcpy(out + sl + vl + 2, task, tl + 1);
	return sl + vl + tl + 3;
}

/* db_instance_state_key(), or with desc the key of schemas 14 to 17
 * (db_instance_desc_key()'s order part). */
static size_t
state_key(char out[DB_INSTANCE_STATE_KEY_MAX], const char *scope,
    const char *vm_state, const char *task_state, int64_t created_at,
    const char *uuid, bool desc)
{
	size_t pl, cl;

	if ((pl = db_instance_state_prefix(out, scope, vm_state,
	    db_instance_state_task(task_state))) == 0)
		return 0;
	/* The created key of scope "" is NUL + the order part: the prefix's
	 * last NUL is that NUL. */
	cl = desc ? db_instance_desc_key(out + pl - 1, "", created_at, uuid) :
	    db_instance_created_key(out + pl - 1, "", created_at, uuid);
	return cl == 0 ? 0 : pl - 1 + cl;
}

size_t
db_instance_state_key(char out[DB_INSTANCE_STATE_KEY_MAX], const char *scope,
    const char *vm_state, const char *task_state, int64_t created_at,
    const char *uuid)
{
	return state_key(out, scope, vm_state, task_state, created_at, uuid,
	    false);
}
