/*
 * Unit tests for agent/virt/virt.c: the one map of libvirt domain states
 * to Nova power states (every virDomainState with every reason libvirt
 * defines for it, with and without a managed-save image, and states past
 * libvirt's list), and the same answer from the heartbeat's guest list and
 * from virt_domain_power() for real domains of libvirt's in-process test
 * driver (running, paused, suspended to a managed-save image, that image
 * discarded, shut off); life-cycle events reach the notify callback from
 * the event thread.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#define VIR_ENUM_SENTINELS	/* VIR_DOMAIN_*_LAST: every reason */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "err.h"
#include "virt/virt.h"

#define URI	"test:///default"
#define UUID	"6f0f9e7a-3c1e-4b7e-9a55-0d6a1c1e0b01"

/* What the agent reports for a state: with a managed-save image (saved)
 * and without. */
static const struct {
	int		 state;
	int		 nreasons;	/* VIR_DOMAIN_<state>_LAST */
	enum virt_power	 power, power_saved;
	const char	*word, *word_saved;
} map[] = {
	{ VIR_DOMAIN_NOSTATE, VIR_DOMAIN_NOSTATE_LAST,
	    VIRT_POWER_NOSTATE, VIRT_POWER_NOSTATE, "unknown", "unknown" },
	{ VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_LAST,
	    VIRT_POWER_RUNNING, VIRT_POWER_RUNNING, "running", "running" },
	{ VIR_DOMAIN_BLOCKED, VIR_DOMAIN_BLOCKED_LAST,
	    VIRT_POWER_RUNNING, VIRT_POWER_RUNNING, "blocked", "blocked" },
	{ VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_LAST,
	    VIRT_POWER_PAUSED, VIRT_POWER_PAUSED, "paused", "paused" },
	/* on its way to shut off: with a saved state it is suspended */
	{ VIR_DOMAIN_SHUTDOWN, VIR_DOMAIN_SHUTDOWN_LAST,
	    VIRT_POWER_SHUTDOWN, VIRT_POWER_SUSPENDED, "shutoff", "suspended" },
	/* the agent's suspend: virDomainManagedSave leaves it shut off with
	 * an image that the next start restores */
	{ VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_LAST,
	    VIRT_POWER_SHUTDOWN, VIRT_POWER_SUSPENDED, "shutoff", "suspended" },
	{ VIR_DOMAIN_CRASHED, VIR_DOMAIN_CRASHED_LAST,
	    VIRT_POWER_CRASHED, VIRT_POWER_CRASHED, "crashed", "crashed" },
	{ VIR_DOMAIN_PMSUSPENDED, VIR_DOMAIN_PMSUSPENDED_LAST,
	    VIRT_POWER_SUSPENDED, VIRT_POWER_SUSPENDED, "suspended",
	    "suspended" },
};

static void
test_map_every_state_and_reason(void **state)
{
	size_t n = sizeof(map) / sizeof(map[0]);

	/* the table covers every state this libvirt knows */
	assert_int_equal(n, VIR_DOMAIN_LAST);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(map[i].state, (int)i);
		/* reasons 0..LAST-1, and one past them (a newer libvirt) */
		for (int r = 0; r <= map[i].nreasons; r++) {
			const char *w = NULL;

			assert_int_equal(virt_power_map(map[i].state, r, 0, &w),
			    map[i].power);
			assert_string_equal(w, map[i].word);
			assert_int_equal(virt_power_map(map[i].state, r, 1, &w),
			    map[i].power_saved);
			assert_string_equal(w, map[i].word_saved);
			/* word is optional */
			assert_int_equal(virt_power_map(map[i].state, r, 0,
			    NULL), map[i].power);
		}
	}
	/* the reason the agent's own suspend leaves, explicitly */
	assert_int_equal(virt_power_map(VIR_DOMAIN_SHUTOFF,
	    VIR_DOMAIN_SHUTOFF_SAVED, 1, NULL), VIRT_POWER_SUSPENDED);
	assert_int_equal(virt_power_map(VIR_DOMAIN_SHUTOFF,
	    VIR_DOMAIN_SHUTOFF_SAVED, 0, NULL), VIRT_POWER_SHUTDOWN);
}

static void
test_map_unknown_states(void **state)
{
	const int odd[] = { -1, VIR_DOMAIN_LAST, VIR_DOMAIN_LAST + 1, 1000 };

	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		for (int saved = 0; saved <= 1; saved++) {
			const char *w = NULL;

			assert_int_equal(virt_power_map(odd[i], 0, saved, &w),
			    VIRT_POWER_NOSTATE);
			assert_string_equal(w, "unknown");
		}
	}
}

/* The heartbeat's list and virt_domain_power() (the guest life cycle's)
 * agree with the expectation for the domain's current state. */
static void
expect(struct virt *v, virDomainPtr dom, enum virt_power want,
    const char *word)
{
	struct virt_guest *gs = NULL;
	const char *w = NULL;
	size_t n = 0, i;

	assert_int_equal(virt_domain_power(dom, &w), want);
	assert_string_equal(w, word);
	assert_int_equal(virt_guests_list(v, &gs, &n), 0);
	for (i = 0; i < n && strcmp(gs[i].uuid, UUID) != 0; i++)
		;
	assert_true(i < n);
	assert_int_equal(gs[i].power_state, want);
	assert_string_equal(gs[i].state, word);
	free(gs);
}

static void
test_domains_of_the_test_driver(void **state)
{
	struct virt *v;
	virConnectPtr c;
	virDomainPtr dom;
	struct virt_host h;
	const char *xml = "<domain type='test'><name>instance-" UUID
	    "</name><uuid>" UUID "</uuid><memory unit='MiB'>64</memory>"
	    "<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>";

	v = virt_open(&(struct virt_opts){ .uri = URI,
	    .instances_path = "/tmp" });
	if (v == NULL)
		fail_msg("virt_open: %s", err_msg());
	assert_string_equal(virt_uri(v), URI);
	assert_int_equal(virt_ensure(v), 0);
	assert_int_equal(virt_host_info(v, &h), 0);
	assert_true(h.vcpus > 0);
	assert_non_null(c = virt_conn(v));
	assert_non_null(dom = virDomainDefineXML(c, xml));
	expect(v, dom, VIRT_POWER_SHUTDOWN, "shutoff");
	assert_int_equal(virDomainCreate(dom), 0);
	expect(v, dom, VIRT_POWER_RUNNING, "running");
	assert_int_equal(virDomainSuspend(dom), 0);
	expect(v, dom, VIRT_POWER_PAUSED, "paused");
	assert_int_equal(virDomainResume(dom), 0);
	assert_int_equal(virDomainManagedSave(dom, 0), 0);
	expect(v, dom, VIRT_POWER_SUSPENDED, "suspended");
	assert_int_equal(virDomainManagedSaveRemove(dom, 0), 0);
	expect(v, dom, VIRT_POWER_SHUTDOWN, "shutoff");
	assert_int_equal(virDomainCreate(dom), 0);
	assert_int_equal(virDomainDestroy(dom), 0);
	expect(v, dom, VIRT_POWER_SHUTDOWN, "shutoff");
	assert_int_equal(virDomainUndefine(dom), 0);
	virDomainFree(dom);
	virConnectClose(c);
	virt_free(&v);
	assert_null(v);
	virt_free(&v);		/* NULL is accepted */
}

static int	notified;	/* atomic */

static void
on_notify(void *arg)
{
	__atomic_add_fetch(&notified, 1, __ATOMIC_RELEASE);
}

/* Defining and starting a domain are life-cycle events: the callback runs
 * (from virt's event thread) without anyone polling. */
static void
test_events_notify(void **state)
{
	struct virt *v;
	virConnectPtr c;
	virDomainPtr dom;
	const char *xml = "<domain type='test'><name>instance-" UUID
	    "</name><uuid>" UUID "</uuid><memory unit='MiB'>64</memory>"
	    "<vcpu>1</vcpu><os><type arch='x86_64'>hvm</type></os></domain>";

	v = virt_open(&(struct virt_opts){ .uri = URI,
	    .instances_path = "/tmp", .notify = on_notify });
	if (v == NULL)
		fail_msg("virt_open: %s", err_msg());
	assert_non_null(c = virt_conn(v));
	assert_non_null(dom = virDomainDefineXML(c, xml));
	assert_int_equal(virDomainCreate(dom), 0);
	for (int i = 0; i < 500 &&
	    __atomic_load_n(&notified, __ATOMIC_ACQUIRE) < 2; i++)
		usleep(10 * 1000);
	assert_true(__atomic_load_n(&notified, __ATOMIC_ACQUIRE) >= 2);
	assert_int_equal(virDomainDestroy(dom), 0);
	assert_int_equal(virDomainUndefine(dom), 0);
	virDomainFree(dom);
	virConnectClose(c);
	virt_free(&v);		/* stops the event thread */
	assert_null(v);
}

/* The agent picks the test backend for the test driver however it is
 * reached: in-process, or through a libvirtd (integ.faults restarts one). */
static void
test_uri_is_test(void **state)
{
	(void)state;
	assert_true(virt_uri_is_test("test:///default"));
	assert_true(virt_uri_is_test("test+unix:///tmp/n.xml?socket=/tmp/s"));
	assert_true(virt_uri_is_test("test+tcp://h/default"));
	assert_false(virt_uri_is_test("qemu:///system"));
	assert_false(virt_uri_is_test("qemu+unix:///system?socket=/t/s"));
	assert_false(virt_uri_is_test("testing:///x"));
	assert_false(virt_uri_is_test("tes"));
	assert_false(virt_uri_is_test(""));
	assert_false(virt_uri_is_test(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		/* first: the test driver is made with the event loop there */
		cmocka_unit_test(test_events_notify),
		cmocka_unit_test(test_map_every_state_and_reason),
		cmocka_unit_test(test_uri_is_test),
		cmocka_unit_test(test_map_unknown_states),
		cmocka_unit_test(test_domains_of_the_test_driver),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
