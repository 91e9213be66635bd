/* Unit tests for common/metrics.c and common/metrics_http.c: the exact
 * exposition text, escaping parsed back, cumulative histogram buckets,
 * concurrent updates from threads, name checks and the series bound, the
 * collectors, and the /metrics server's answers (token, paths, methods). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "metrics.h"
#include "metrics_http.h"

static char *
render(struct metrics *m)
{
	struct buf b = { 0 };

	assert_int_equal(metrics_render(m, &b), 0);
	return (char *)b.data;	/* taken */
}

static void
test_exposition_text(void **state)
{
	static const char *const lab[] = { "service", "code", NULL };
	static const double bk[] = { 0.1, 1 };
	static const char *const hl[] = { "service", NULL };
	struct metrics *m = metrics_new();
	struct metrics_family *c, *g, *h;
	char *t;

	(void)state;
	c = metrics_family(m, METRICS_COUNTER, "x_requests_total",
	    "Requests\\served\nper service.", lab, NULL, 0);
	g = metrics_family(m, METRICS_GAUGE, "x_up", "Up.", NULL, NULL, 0);
	h = metrics_family(m, METRICS_HISTOGRAM, "x_seconds", "Latency.", hl,
	    bk, 2);
	assert_non_null(c);
	assert_non_null(g);
	assert_non_null(h);
	metrics_inc(metrics_series(c, (const char *[]){ "compute", "2xx" }),
	    3);
	metrics_inc(metrics_series(c, (const char *[]){ "a\"b\\c\nd", "5xx" }),
	    1);
	metrics_set(metrics_series(g, NULL), 1.5);
	metrics_observe(metrics_series(h, (const char *[]){ "image" }), 0.05);
	metrics_observe(metrics_series(h, (const char *[]){ "image" }), 0.5);
	metrics_observe(metrics_series(h, (const char *[]){ "image" }), 7);
	t = render(m);
	assert_string_equal(t,
	    "# HELP x_requests_total Requests\\\\served\\nper service.\n"
	    "# TYPE x_requests_total counter\n"
	    "x_requests_total{service=\"compute\",code=\"2xx\"} 3\n"
	    "x_requests_total{service=\"a\\\"b\\\\c\\nd\",code=\"5xx\"} 1\n"
	    "# HELP x_up Up.\n"
	    "# TYPE x_up gauge\n"
	    "x_up 1.5\n"
	    "# HELP x_seconds Latency.\n"
	    "# TYPE x_seconds histogram\n"
	    "x_seconds_bucket{service=\"image\",le=\"0.1\"} 1\n"
	    "x_seconds_bucket{service=\"image\",le=\"1\"} 2\n"
	    "x_seconds_bucket{service=\"image\",le=\"+Inf\"} 3\n"
	    "x_seconds_sum{service=\"image\"} 7.55\n"
	    "x_seconds_count{service=\"image\"} 3\n");
	free(t);
	metrics_free(&m);
	assert_null(m);
	metrics_free(&m);
}

/* ---- a strict parser of the exposition, to read values back ----------- */

struct sample {
	char	name[128];
	char	k[6][64], v[6][256];
	int	n;
	double	value;
};

/* Parses one sample line; 0, or -1 when it is not well formed. */
static int
parse_sample(const char *l, struct sample *s)
{
	const char *p = l;
	size_t n = strcspn(p, "{ ");
	char *end;

	memset(s, 0, sizeof(*s));
	if (n == 0 || n >= sizeof(s->name))
		return -1;
	memcpy(s->name, p, n);
	p += n;
	if (*p == '{') {
		p++;
		while (*p != '}') {
			size_t kl = strcspn(p, "=");
			size_t vl = 0;

			if (s->n == 6 || kl == 0 || kl >= 64 || p[kl] != '=' ||
			    p[kl + 1] != '"')
				return -1;
			memcpy(s->k[s->n], p, kl);
			p += kl + 2;
			while (*p != '"') {
				char ch = *p;

				if (ch == '\0' || ch == '\n' || vl == 255)
					return -1;
				if (ch == '\\') {
					p++;
					if (*p == 'n')
						ch = '\n';
					else if (*p == '\\' || *p == '"')
						ch = *p;
					else
						return -1;
				}
				s->v[s->n][vl++] = ch;
				p++;
			}
			p++;
			s->n++;
			if (*p == ',')
				p++;
			else if (*p != '}')
				return -1;
		}
		p++;
	}
	if (*p++ != ' ')
		return -1;
	if (strcmp(p, "+Inf") == 0 || strcmp(p, "-Inf") == 0 ||
	    strcmp(p, "NaN") == 0) {
		s->value = strtod(p[0] == '+' ? p + 1 : p, NULL);
		return 0;
	}
	s->value = strtod(p, &end);
	return end != p && *end == '\0' ? 0 : -1;
}

/* The value of name{k=v} in text (one label or none), or -1 if absent;
 * every line must parse. */
static double
find(const char *text, const char *name, const char *k, const char *v)
{
	char *copy = strdup(text), *save = NULL, *l;
	double r = -1;

	assert_non_null(copy);
	for (l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n",
	    &save)) {
		struct sample s;

		if (l[0] == '#')
			continue;
		assert_int_equal(parse_sample(l, &s), 0);
		if (strcmp(s.name, name) != 0)
			continue;
		if (k == NULL && s.n == 0)
			r = s.value;
		for (int i = 0; k && i < s.n; i++)
			if (strcmp(s.k[i], k) == 0 && strcmp(s.v[i], v) == 0)
				r = s.value;
	}
	free(copy);
	return r;
}

static void
test_escaping_parses_back(void **state)
{
	static const char *const lab[] = { "v", NULL };
	const char *nasty[] = { "plain", "q\"uote", "back\\slash", "new\nline",
	    "\\n", "\"\\\"", "ütf-8 ✓", "" };
	struct metrics *m = metrics_new();
	struct metrics_family *f = metrics_family(m, METRICS_GAUGE, "esc",
	    "h", lab, NULL, 0);
	char *t;

	(void)state;
	for (size_t i = 0; i < sizeof(nasty) / sizeof(nasty[0]); i++)
		metrics_set(metrics_series(f, (const char *[]){ nasty[i] }),
		    (double)i + 0.25);
	t = render(m);
	for (size_t i = 0; i < sizeof(nasty) / sizeof(nasty[0]); i++)
		assert_true(find(t, "esc", "v", nasty[i]) == (double)i + 0.25);
	free(t);
	metrics_free(&m);
}

static void
test_histogram_cumulative(void **state)
{
	static const double bk[] = { 1, 2, 4, 8 };
	struct metrics *m = metrics_new();
	struct metrics_family *f = metrics_family(m, METRICS_HISTOGRAM, "lat",
	    "h", NULL, bk, 4);
	struct metrics_series *s = metrics_series(f, NULL);
	double prev = -1, v;
	char *t;

	(void)state;
	/* 1..10: le=1 has 1, le=2 has 2, le=4 has 4, le=8 has 8, +Inf 10;
	 * exactly on a bound counts in that bucket. */
	for (int i = 1; i <= 10; i++)
		metrics_observe(s, i);
	t = render(m);
	assert_true(find(t, "lat_bucket", "le", "1") == 1);
	assert_true(find(t, "lat_bucket", "le", "2") == 2);
	assert_true(find(t, "lat_bucket", "le", "4") == 4);
	assert_true(find(t, "lat_bucket", "le", "8") == 8);
	assert_true(find(t, "lat_bucket", "le", "+Inf") == 10);
	assert_true(find(t, "lat_count", NULL, NULL) == 10);
	assert_true(find(t, "lat_sum", NULL, NULL) == 55);
	const char *les[] = { "1", "2", "4", "8", "+Inf" };
	for (size_t i = 0; i < 5; i++) {
		v = find(t, "lat_bucket", "le", les[i]);
		assert_true(v >= prev);
		prev = v;
	}
	assert_true(metrics_value(s) == 10);
	free(t);
	metrics_free(&m);
}

#define THREADS	8
#define ROUNDS	100000

struct worker {
	struct metrics_family	*c, *g, *h;
};

static void *
hammer(void *arg)
{
	struct worker *w = arg;
	/* Each thread looks its series up: made once, shared by all. */
	struct metrics_series *c = metrics_series(w->c,
	    (const char *[]){ "shared" });
	struct metrics_series *g = metrics_series(w->g, NULL);
	struct metrics_series *h = metrics_series(w->h, NULL);

	for (int i = 0; i < ROUNDS; i++) {
		metrics_inc(c, 1);
		metrics_add(g, 1);
		metrics_observe(h, (i & 1) ? 0.5 : 2);
	}
	return NULL;
}

static void *
scraper(void *arg)
{
	struct metrics *m = arg;

	for (int i = 0; i < 50; i++)
		free(render(m));
	return NULL;
}

static void
test_concurrent_updates(void **state)
{
	static const char *const lab[] = { "k", NULL };
	static const double bk[] = { 1 };
	struct metrics *m = metrics_new();
	struct worker w = {
		metrics_family(m, METRICS_COUNTER, "c_total", "h", lab, NULL, 0),
		metrics_family(m, METRICS_GAUGE, "g", "h", NULL, NULL, 0),
		metrics_family(m, METRICS_HISTOGRAM, "hh", "h", NULL, bk, 1),
	};
	pthread_t t[THREADS + 1];
	char *text;

	(void)state;
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &w), 0);
	assert_int_equal(pthread_create(&t[THREADS], NULL, scraper, m), 0);
	for (int i = 0; i <= THREADS; i++)
		pthread_join(t[i], NULL);
	text = render(m);
	assert_true(find(text, "c_total", "k", "shared") ==
	    (double)THREADS * ROUNDS);
	assert_true(find(text, "g", NULL, NULL) == (double)THREADS * ROUNDS);
	assert_true(find(text, "hh_count", NULL, NULL) ==
	    (double)THREADS * ROUNDS);
	assert_true(find(text, "hh_bucket", "le", "1") ==
	    (double)THREADS * ROUNDS / 2);
	assert_true(find(text, "hh_sum", NULL, NULL) ==
	    (double)THREADS * ROUNDS / 2 * 2.5);
	/* one series, not one per thread */
	assert_non_null(strstr(text, "c_total{k=\"shared\"}"));
	assert_null(strstr(strstr(text, "c_total{k=\"shared\"}") + 1,
	    "c_total{k="));
	free(text);
	metrics_free(&m);
}

static void
test_names_and_bounds(void **state)
{
	static const char *const bad1[] = { "__x", NULL };
	static const char *const bad2[] = { "a-b", NULL };
	static const char *const le[] = { "le", NULL };
	static const char *const dup[] = { "a", "a", NULL };
	static const char *const five[] = { "a", "b", "c", "d", "e", NULL };
	static const char *const one[] = { "a", NULL };
	static const double down[] = { 2, 1 };
	struct metrics *m = metrics_new();
	struct metrics_family *f;
	char v[16];
	char *t;

	(void)state;
	assert_null(metrics_family(m, METRICS_GAUGE, "1x", "", NULL, NULL, 0));
	assert_int_equal(err_code(), TS_EINVALID);
	assert_null(metrics_family(m, METRICS_GAUGE, "a-b", "", NULL, NULL,
	    0));
	assert_null(metrics_family(m, METRICS_GAUGE, "x", "", bad1, NULL, 0));
	assert_null(metrics_family(m, METRICS_GAUGE, "x", "", bad2, NULL, 0));
	assert_null(metrics_family(m, METRICS_GAUGE, "x", "", dup, NULL, 0));
	assert_null(metrics_family(m, METRICS_GAUGE, "x", "", five, NULL, 0));
	assert_null(metrics_family(m, METRICS_HISTOGRAM, "x", "", le, down,
	    1));
	assert_null(metrics_family(m, METRICS_HISTOGRAM, "x", "", NULL, down,
	    2));
	assert_null(metrics_family(m, METRICS_HISTOGRAM, "x", "", NULL, NULL,
	    0));
	assert_null(metrics_family(m, METRICS_GAUGE, "x", "", NULL, down, 1));
	f = metrics_family(m, METRICS_GAUGE, "ns:x_1", "", NULL, NULL, 0);
	assert_non_null(f);
	assert_ptr_equal(metrics_family(m, METRICS_GAUGE, "ns:x_1", "", NULL,
	    NULL, 0), f);
	assert_null(metrics_family(m, METRICS_GAUGE, "ns:x_1", "", one, NULL,
	    0));
	assert_int_equal(err_code(), TS_ECONFLICT);
	assert_null(metrics_family(m, METRICS_COUNTER, "ns:x_1", "", NULL,
	    NULL, 0));
	assert_int_equal(err_code(), TS_ECONFLICT);
	f = metrics_family(m, METRICS_COUNTER, "many", "", one, NULL, 0);
	for (int i = 0; i < METRICS_MAX_SERIES; i++) {
		snprintf(v, sizeof(v), "%d", i);
		assert_non_null(metrics_series(f, (const char *[]){ v }));
	}
	assert_null(metrics_series(f, (const char *[]){ "one more" }));
	assert_int_equal(err_code(), TS_EINVALID);
	/* an existing one is still found */
	assert_non_null(metrics_series(f, (const char *[]){ "7" }));
	/* wrong-type updates are no-ops */
	metrics_set(metrics_series(f, (const char *[]){ "7" }), 99);
	assert_true(metrics_value(metrics_series(f,
	    (const char *[]){ "7" })) == 0);
	t = render(m);
	assert_true(find(t, "many", "a", "4095") == 0);
	free(t);
	metrics_free(&m);
}

static void
collect(struct buf *out, void *arg)
{
	static const char *const kv[] = { "hostname", "h\"1", NULL };

	metrics_write_family(out, "col_vcpus", METRICS_GAUGE, (char *)arg);
	metrics_write_sample(out, "col_vcpus", kv, 8);
	metrics_write_sample(out, "col_vcpus", NULL, 1.0 / 0.0);
}

static void
test_collector(void **state)
{
	struct metrics *m = metrics_new();
	char *t;

	(void)state;
	assert_int_equal(metrics_add_collector(m, collect, "V\ncpus."), 0);
	t = render(m);
	assert_string_equal(t, "# HELP col_vcpus V\\ncpus.\n"
	    "# TYPE col_vcpus gauge\n"
	    "col_vcpus{hostname=\"h\\\"1\"} 8\n"
	    "col_vcpus +Inf\n");
	free(t);
	metrics_free(&m);
}

/* ---- the server --------------------------------------------------------- */

static char *
http(uint16_t port, const char *req)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
	    .sin_port = htons(port) };
	static char resp[65536];
	size_t len = 0;
	ssize_t r;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	while ((r = read(fd, resp + len, sizeof(resp) - 1 - len)) > 0)
		len += (size_t)r;
	resp[len] = '\0';
	close(fd);
	return resp;
}

static void
test_server(void **state)
{
	struct metrics *m = metrics_new();
	struct metrics_family *f = metrics_family(m, METRICS_COUNTER,
	    "hits_total", "Hits.", NULL, NULL, 0);
	struct metrics_http *h;
	char *r;

	(void)state;
	metrics_inc(metrics_series(f, NULL), 5);
	assert_null(metrics_http_start(m, "localhost", 0, NULL));
	assert_int_equal(err_code(), TS_EIO);
	h = metrics_http_start(m, "127.0.0.1", 0, NULL);
	assert_non_null(h);
	assert_true(metrics_http_port(h) > 0);
	r = http(metrics_http_port(h), "GET /metrics HTTP/1.1\r\n"
	    "Host: x\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(r, "Content-Type: text/plain; version=0.0.4; "
	    "charset=utf-8\r\n"));
	assert_non_null(strstr(r, "\r\n\r\n# HELP hits_total Hits.\n"));
	assert_non_null(strstr(r, "\nhits_total 5\n"));
	r = http(metrics_http_port(h), "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
	r = http(metrics_http_port(h), "GET /other HTTP/1.1\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 404 "));
	r = http(metrics_http_port(h), "POST /metrics HTTP/1.1\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 405 "));
	r = http(metrics_http_port(h), "HEAD /metrics HTTP/1.1\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
	assert_null(strstr(r, "hits_total"));
	r = http(metrics_http_port(h), "garbage\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 400 "));
	metrics_http_free(&h);
	assert_null(h);

	h = metrics_http_start(m, "::1", 0, "s3cret");
	if (h == NULL)	/* no IPv6 loopback in this namespace */
		h = metrics_http_start(m, "127.0.0.1", 0, "s3cret");
	assert_non_null(h);
	metrics_http_free(&h);
	h = metrics_http_start(m, "127.0.0.1", 0, "s3cret");
	assert_non_null(h);
	r = http(metrics_http_port(h), "GET /metrics HTTP/1.1\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 401 "));
	assert_null(strstr(r, "hits_total"));
	r = http(metrics_http_port(h), "GET /metrics HTTP/1.1\r\n"
	    "Authorization: Bearer s3cre\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 401 "));
	r = http(metrics_http_port(h), "GET /metrics HTTP/1.1\r\n"
	    "Authorization: Bearer s3cretx\r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 401 "));
	r = http(metrics_http_port(h), "GET /metrics HTTP/1.1\r\n"
	    "Host: a\r\nauthorization:  bearer s3cret \r\n\r\n");
	assert_non_null(strstr(r, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(r, "\nhits_total 5\n"));
	metrics_http_free(&h);
	metrics_http_free(&h);

	{
		int ho;

		assert_int_equal(metrics_http_route("GET /metrics HTTP/1.1\r\n"
		    "\r\n", NULL, &ho), 200);
		assert_false(ho);
		assert_int_equal(metrics_http_route("HEAD /metrics HTTP/1.1\r\n"
		    "\r\n", "", &ho), 200);
		assert_true(ho);
		assert_int_equal(metrics_http_route("GET /metrics HTTP/1.1\r\n"
		    "\r\n", "tok", &ho), 401);
		assert_int_equal(metrics_http_route("GET /metrics HTTP/1.1\r\n"
		    "X-Authorization: Bearer tok\r\n\r\n", "tok", &ho), 401);
		assert_int_equal(metrics_http_route("GET /metrics HTTP/1.1\r\n"
		    "Authorization: Bearer tok\r\n\r\n", "tok", &ho), 200);
		assert_int_equal(metrics_http_route("GET /metricsx HTTP/1.1"
		    "\r\n\r\n", NULL, &ho), 404);
		assert_int_equal(metrics_http_route("GET /metrics\r\n\r\n",
		    NULL, &ho), 400);
		assert_int_equal(metrics_http_route("", NULL, &ho), 400);
	}
	assert_true(metrics_http_is_loopback("127.0.0.1"));
	assert_true(metrics_http_is_loopback("127.1.2.3"));
	assert_true(metrics_http_is_loopback("::1"));
	assert_false(metrics_http_is_loopback("0.0.0.0"));
	assert_false(metrics_http_is_loopback("::"));
	assert_false(metrics_http_is_loopback("10.0.0.1"));
	assert_false(metrics_http_is_loopback("localhost"));
	metrics_free(&m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exposition_text),
		cmocka_unit_test(test_escaping_parses_back),
		cmocka_unit_test(test_histogram_cumulative),
		cmocka_unit_test(test_concurrent_updates),
		cmocka_unit_test(test_names_and_bounds),
		cmocka_unit_test(test_collector),
		cmocka_unit_test(test_server),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
