/*
 * Unit tests for agent/imgcache.c (libcurl underneath) against a small
 * HTTP/1.1 server run by the test on 127.0.0.1 (a thread per connection):
 * downloads with Content-Length, chunked and connection-close bodies;
 * exactly the request header fields the agent always sent; the token
 * header; transfers cut short resumed with Range (206, or a 200 whose
 * first bytes are skipped; a 206 from the wrong byte refused; attempts
 * bounded); a silent server hits the timeout;
 * SHA-512, size, declared format, safety and virtual size checks; every
 * HTTP failure mapping; one shared download for concurrent gets (and one
 * shared failure); references, release and pruning on a fake clock;
 * restart (files found on disk are verified, corrupt ones replaced or
 * refused while in use); URL and token validation.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <sodium.h>

#include "err.h"
#include "image/imgcache.h"
#include "proc.h"

#define TOKEN	"gAAAAAB-test-token_0123"
#define HOST	"compute-7"
#define OWNER1	"11111111-1111-4111-8111-111111111111"
#define OWNER2	"22222222-2222-4222-8222-222222222222"

/* ------------------------------------------------------------ images */

enum mode {
	M_LENGTH = 0,	/* Content-Length body */
	M_CHUNKED,	/* chunked, odd chunk sizes, a trailer */
	M_CLOSE,	/* no length: body until the connection closes */
	M_TRUNC,	/* Content-Length larger than what is sent */
	M_STALL,	/* head sent, then silence */
	M_STATUS,	/* just the status in `status` */
	M_BOTH,		/* Content-Length and chunked together */
	M_BADCHUNK,	/* a chunk size that is not hex */
	M_CUT,		/* `cuts` times: half the body, then closed; a
			 * Range request is answered 206 */
	M_CUT200,	/* the same, but Range is ignored (200, whole) */
	M_BADRANGE,	/* cut once, then a 206 from the wrong byte */
};

struct image {
	char		 id[37];
	unsigned char	*data;
	size_t		 len;
	char		 sha[IMGCACHE_SHA512_HEX + 1];
	enum mode	 mode;
	int		 status;
	unsigned	 delay_ms;	/* before the response */
	int		 cuts;		/* M_CUT*: cut responses left */
};

enum { IMG_RAW, IMG_QCOW2, IMG_BACKING, IMG_DISPUTED, IMG_COUNT_ };

static struct image imgs[16];
static int nimgs;

static void
sha_hex(const void *d, size_t n, char out[IMGCACHE_SHA512_HEX + 1])
{
	unsigned char dig[crypto_hash_sha512_BYTES];

	crypto_hash_sha512(dig, d, n);
	sodium_bin2hex(out, IMGCACHE_SHA512_HEX + 1, dig, sizeof(dig));
}

static struct image *
add_image(const char *id, unsigned char *data, size_t len, enum mode m)
{
	struct image *im = &imgs[nimgs++];

	snprintf(im->id, sizeof(im->id), "%s", id);
	im->data = data;
	im->len = len;
	im->mode = m;
	sha_hex(data, len, im->sha);
	return im;
}

static unsigned char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *b;
	long n;

	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)n + 1);
	assert_non_null(b);
	assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return b;
}

static unsigned char *
qemu_img_bytes(const char *dir, const char *name, const char *const *extra,
    size_t *len)
{
	char path[256];
	const char *argv[16];
	int i = 0;
	struct proc_result r = { 0 };
	unsigned char *b;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	argv[i++] = "qemu-img";
	argv[i++] = "create";
	argv[i++] = "-f";
	argv[i++] = "qcow2";
	for (; extra && *extra; extra++)
		argv[i++] = *extra;
	argv[i++] = path;
	argv[i++] = "16M";
	argv[i] = NULL;
	if (proc_run(argv, NULL, &r) != 0)
		fail_msg("qemu-img: %s", err_msg());
	proc_result_clear(&r);
	b = slurp(path, len);
	unlink(path);
	return b;
}

/* ------------------------------------------------------------- server */

static struct {
	int		 lfd;
	int		 port;
	pthread_t	 thr;
	volatile int	 stop;
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	int		 active;	/* connection threads */
	int		 requests[16];	/* per image */
	int		 total;
	char		 last_token[256];
	char		 last_host[256];	/* X-Tinystack-Host, or "" */
	char		 last_path[512];
	char		 last_range[64];	/* "" if none */
	char		 last_names[256];	/* header names, in order */
} S = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void
send_all(int fd, const void *b, size_t n)
{
	const char *p = b;

	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;	/* the client went away: fine */
		p += w;
		n -= (size_t)w;
	}
}

static void
sendf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
sendf(int fd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	send_all(fd, buf, (size_t)n);
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void
respond(int fd, const char *req)
{
	char path[512] = "", token[256] = "", host[256] = "";
	const char *p, *t;
	struct image *im = NULL;
	int idx = -1;

	char range[64] = "", names[256] = "";
	long long from = -1;

	sscanf(req, "GET %511s HTTP/1.1", path);
	if ((t = strcasestr(req, "\r\nX-Auth-Token: ")) != NULL)
		sscanf(t + 16, "%255[^\r]", token);
	if ((t = strcasestr(req, "\r\nRange: ")) != NULL) {
		sscanf(t + 9, "%63[^\r]", range);
		if (sscanf(range, "bytes=%lld-", &from) != 1)
			from = -1;
	}
	/* the names of the header fields, in order */
	for (t = strstr(req, "\r\n"); t && t[2] != '\r'; t = strstr(t + 2,
	    "\r\n")) {
		size_t nl = strcspn(t + 2, ":"), have = strlen(names);

		snprintf(names + have, sizeof(names) - have, "%s%.*s",
		    have ? "," : "", (int)nl, t + 2);
	}
	if ((t = strcasestr(req, "\r\nX-Tinystack-Host: ")) != NULL)
		sscanf(t + 20, "%255[^\r]", host);
	p = strstr(path, "/v2/images/");
	for (int i = 0; p && i < nimgs; i++) {
		char want[sizeof(imgs[i].id) + 32];

		snprintf(want, sizeof(want), "/v2/images/%.36s/file", imgs[i].id);
		if (strcmp(p, want) == 0) {
			im = &imgs[i];
			idx = i;
		}
	}
	pthread_mutex_lock(&S.lock);
	S.total++;
	if (idx >= 0)
		S.requests[idx]++;
	snprintf(S.last_token, sizeof(S.last_token), "%s", token);
	snprintf(S.last_host, sizeof(S.last_host), "%s", host);
	snprintf(S.last_path, sizeof(S.last_path), "%s", path);
	snprintf(S.last_range, sizeof(S.last_range), "%s", range);
	snprintf(S.last_names, sizeof(S.last_names), "%s", names);
	pthread_mutex_unlock(&S.lock);

	if (im && im->delay_ms)
		sleep_ms(im->delay_ms);
	if (strcmp(token, TOKEN) != 0) {
		sendf(fd, "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n");
		return;
	}
	if (im == NULL) {
		sendf(fd, "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\n"
		    "not found");
		return;
	}
	switch (im->mode) {
	case M_LENGTH:
		sendf(fd, "HTTP/1.1 200 OK\r\ncontent-type: application/"
		    "octet-stream\r\nContent-Length: %zu\r\n\r\n", im->len);
		send_all(fd, im->data, im->len);
		break;
	case M_CHUNKED: {
		size_t off = 0, n = 1;

		sendf(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
		while (off < im->len) {
			n = n * 7 % 70001 + 1;	/* 1 .. 70001, irregular */
			if (n > im->len - off)
				n = im->len - off;
			sendf(fd, "%zx;ext=1\r\n", n);
			send_all(fd, im->data + off, n);
			sendf(fd, "\r\n");
			off += n;
		}
		sendf(fd, "0\r\nX-Trailer: yes\r\n\r\n");
		break;
	}
	case M_CLOSE:
		sendf(fd, "HTTP/1.0 200 OK\r\nConnection: close\r\n\r\n");
		send_all(fd, im->data, im->len);
		break;
	case M_TRUNC:
		sendf(fd, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
		    im->len + 100);
		send_all(fd, im->data, im->len);
		break;
	case M_STALL:
		sendf(fd, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n",
		    im->len);
		send_all(fd, im->data, 1000);
		/* well beyond the client's 2 s (its check runs about once
		 * a second) */
		for (int i = 0; i < 60 && !S.stop; i++)
			sleep_ms(100);
		break;
	case M_STATUS:
		sendf(fd, "HTTP/1.1 %d Whatever\r\nLocation: http://evil/\r\n"
		    "Content-Length: 0\r\n\r\n", im->status);
		break;
	case M_BOTH:
		sendf(fd, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n", im->len);
		break;
	case M_BADCHUNK:
		sendf(fd, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "zz\r\nabc\r\n0\r\n\r\n");
		break;
	case M_CUT:
	case M_CUT200:
	case M_BADRANGE: {
		size_t off = 0, end = im->len;
		int cut;

		pthread_mutex_lock(&S.lock);
		if ((cut = im->cuts > 0))
			im->cuts--;
		pthread_mutex_unlock(&S.lock);
		if (from >= 0 && (size_t)from < im->len && im->mode != M_CUT200) {
			off = im->mode == M_BADRANGE ? (size_t)from - 1 :
			    (size_t)from;
			sendf(fd, "HTTP/1.1 206 Partial Content\r\n"
			    "Content-Range: bytes %zu-%zu/%zu\r\n"
			    "Content-Length: %zu\r\n\r\n", off, im->len - 1,
			    im->len, im->len - off);
		} else {
			sendf(fd, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n"
			    "\r\n", im->len);
		}
		/* a cut ends this response a third of the way further */
		if (cut)
			end = off + (im->len - off) / 3;
		send_all(fd, im->data + off, end - off);
		break;
	}
	}
}

static void *
conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char req[8192];
	size_t n = 0;

	while (n < sizeof(req) - 1) {
		ssize_t r = recv(fd, req + n, sizeof(req) - 1 - n, 0);

		if (r <= 0)
			break;
		n += (size_t)r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL) {
			respond(fd, req);
			break;
		}
	}
	close(fd);
	pthread_mutex_lock(&S.lock);
	S.active--;
	pthread_cond_broadcast(&S.cond);
	pthread_mutex_unlock(&S.lock);
	return NULL;
}

static void *
srv_main(void *arg)
{
	while (!S.stop) {
		struct pollfd pfd = { .fd = S.lfd, .events = POLLIN };
		pthread_t t;
		int fd;

		if (poll(&pfd, 1, 50) != 1)
			continue;
		if ((fd = accept(S.lfd, NULL, NULL)) < 0)
			continue;
		pthread_mutex_lock(&S.lock);
		S.active++;
		pthread_mutex_unlock(&S.lock);
		if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd)
		    != 0) {
			close(fd);
			pthread_mutex_lock(&S.lock);
			S.active--;
			pthread_mutex_unlock(&S.lock);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

static int
requests(int idx)
{
	int n;

	pthread_mutex_lock(&S.lock);
	n = S.requests[idx];
	pthread_mutex_unlock(&S.lock);
	return n;
}

/* ------------------------------------------------------------ fixture */

static char tmp[64], cache_dir[128], base_url[64];
static uint64_t fake_now = 1000;
static struct imgcache_http *http;

static uint64_t
clock_fn(void *arg)
{
	return __atomic_load_n(&fake_now, __ATOMIC_SEQ_CST);
}

static struct imgcache *
cache_open(uint64_t max_virtual, uint64_t max_image)
{
	struct imgcache_opts o = {
		.dir = cache_dir,
		.source = imgcache_http_source(http),
		.grace_sec = 600,
		.max_virtual_size = max_virtual,
		.max_image_size = max_image,
		.now = clock_fn,
	};
	struct imgcache *c = imgcache_new(&o);

	if (c == NULL)
		fail_msg("imgcache_new: %s", err_msg());
	return c;
}

static struct imgcache_image
req_for(const struct image *im, const char *fmt)
{
	struct imgcache_image r = { .id = im->id, .disk_format = fmt,
	    .sha512 = im->sha, .size = im->len };

	return r;
}

static int
setup(void **state)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	static const char *const backing[] = { "-b", "/etc/hostname", "-F",
	    "raw", "-u", NULL };
	unsigned char *raw, *img;
	size_t len;
	uint32_t x = 12345;

	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return -1;
	snprintf(tmp, sizeof(tmp), "/tmp/imgcache_test.XXXXXX");
	if (mkdtemp(tmp) == NULL)
		return -1;
	snprintf(cache_dir, sizeof(cache_dir), "%s/_base", tmp);

	/* images: 3 MiB of noise (raw), an empty qcow2, a qcow2 with a
	 * backing file (unsafe), and one whose checksum the control plane
	 * gets wrong */
	raw = malloc(3 * 1024 * 1024);
	for (size_t i = 0; i < 3 * 1024 * 1024; i++) {
		x = x * 1103515245u + 12345u;
		raw[i] = (unsigned char)(x >> 16);
	}
	add_image("a0000000-0000-4000-8000-000000000001", raw,
	    3 * 1024 * 1024, M_LENGTH);
	/* (separate statements: argument evaluation order is unspecified) */
	img = qemu_img_bytes(tmp, "q.qcow2", NULL, &len);
	add_image("a0000000-0000-4000-8000-000000000002", img, len, M_CHUNKED);
	img = qemu_img_bytes(tmp, "b.qcow2", backing, &len);
	add_image("a0000000-0000-4000-8000-000000000003", img, len, M_LENGTH);
	add_image("a0000000-0000-4000-8000-000000000004", raw, 4096, M_CLOSE);

	S.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(S.lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(S.lfd, 64) != 0 ||
	    getsockname(S.lfd, (struct sockaddr *)&a, &al) != 0)
		return -1;
	S.port = ntohs(a.sin_port);
	snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%d", S.port);
	if (pthread_create(&S.thr, NULL, srv_main, NULL) != 0)
		return -1;
	http = imgcache_http_new(base_url, NULL, 2000);
	if (http == NULL || imgcache_http_set_token(http, TOKEN) != 0 ||
	    imgcache_http_set_host(http, HOST) != 0)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	const char *argv[] = { "rm", "-rf", "--", tmp, NULL };
	struct proc_result r = { 0 };

	S.stop = 1;
	pthread_join(S.thr, NULL);
	pthread_mutex_lock(&S.lock);
	while (S.active > 0)
		pthread_cond_wait(&S.cond, &S.lock);
	pthread_mutex_unlock(&S.lock);
	close(S.lfd);
	imgcache_http_free(&http);
	free(imgs[IMG_RAW].data);	/* IMG_DISPUTED shares it */
	free(imgs[IMG_QCOW2].data);
	free(imgs[IMG_BACKING].data);
	proc_run(argv, NULL, &r);
	proc_result_clear(&r);
	curl_global_cleanup();
	return 0;
}

/* Each test starts from an empty cache directory. */
static int
clean_cache(void **state)
{
	const char *argv[] = { "rm", "-rf", "--", cache_dir, NULL };
	struct proc_result r = { 0 };

	proc_run(argv, NULL, &r);
	proc_result_clear(&r);
	for (int i = 0; i < nimgs; i++) {
		imgs[i].delay_ms = 0;
		imgs[i].status = 0;
		imgs[i].cuts = 0;
	}
	imgs[IMG_RAW].mode = M_LENGTH;
	imgs[IMG_QCOW2].mode = M_CHUNKED;
	return 0;
}

static void
file_is(const char *path, const struct image *im)
{
	size_t len;
	unsigned char *b = slurp(path, &len);

	assert_int_equal(len, im->len);
	assert_memory_equal(b, im->data, len);
	free(b);
}

/* Entries of the cache directory, partial downloads included. */
static int
count_files(void)
{
	int n = 0;
	DIR *d;

	if ((d = opendir(cache_dir)) == NULL)
		return -1;
	for (struct dirent *e; (e = readdir(d)) != NULL; )
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* -------------------------------------------------------------- tests */

static void
test_download_and_reuse(void **state)
{
	struct imgcache *c = cache_open(0, 0);
	struct image *raw = &imgs[IMG_RAW], *q = &imgs[IMG_QCOW2];
	struct imgcache_image r = req_for(raw, "raw");
	struct imgcache_base b;
	struct stat st;
	int before = requests(IMG_RAW);

	if (imgcache_get(c, &r, OWNER1, &b) != 0)
		fail_msg("%s", err_msg());
	assert_int_equal(requests(IMG_RAW), before + 1);
	assert_string_equal(S.last_token, TOKEN);
	/* exactly these header fields, nothing of libcurl's own */
	assert_string_equal(S.last_names, "Host,User-Agent,Accept,"
	    "Accept-Encoding,X-Auth-Token,X-Tinystack-Host,Connection");
	assert_string_equal(S.last_range, "");
	assert_string_equal(S.last_host, HOST);
	assert_non_null(strstr(b.path, raw->id));
	assert_string_equal(b.format, "raw");
	assert_true(b.size == raw->len);
	assert_true(b.virtual_size == raw->len);
	file_is(b.path, raw);
	assert_int_equal(stat(b.path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0444);
	assert_int_equal(stat(cache_dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);

	/* cached: no second request, the same owner counts once */
	assert_int_equal(imgcache_get(c, &r, OWNER1, &b), 0);
	assert_int_equal(imgcache_get(c, &r, OWNER2, &b), 0);
	assert_int_equal(requests(IMG_RAW), before + 1);
	assert_int_equal(imgcache_refs(c, raw->id), 2);
	/* an uppercase checksum is the same checksum */
	{
		char up[IMGCACHE_SHA512_HEX + 1];

		for (int i = 0; i <= IMGCACHE_SHA512_HEX; i++)
			up[i] = (raw->sha[i] >= 'a' && raw->sha[i] <= 'f') ?
			    (char)(raw->sha[i] - 32) : raw->sha[i];
		r.sha512 = up;
		assert_int_equal(imgcache_get(c, &r, OWNER1, &b), 0);
		r.sha512 = raw->sha;
	}
	/* declared ami (kernel-style images) matches raw bytes too */
	r.disk_format = "ami";
	assert_int_equal(imgcache_get(c, &r, OWNER1, &b), 0);
	/* but the same file is not a qcow2 */
	r.disk_format = "qcow2";
	assert_int_equal(imgcache_get(c, &r, OWNER1, &b), -1);
	assert_int_equal(err_code(), TS_EINVALID);

	/* chunked qcow2 */
	r = req_for(q, "qcow2");
	if (imgcache_get(c, &r, OWNER1, &b) != 0)
		fail_msg("%s", err_msg());
	assert_string_equal(b.format, "qcow2");
	assert_true(b.virtual_size == 16 * 1024 * 1024);
	file_is(b.path, q);

	/* connection-close body into a second cache directory */
	imgcache_free(&c);
	q->mode = M_CLOSE;
	clean_cache(state);
	c = cache_open(0, 0);
	assert_int_equal(imgcache_get(c, &r, OWNER1, &b), 0);
	file_is(b.path, q);
	/* no partial files anywhere */
	assert_int_equal(count_files(), 1);
	imgcache_free(&c);
}

struct getter {
	struct imgcache		*c;
	struct imgcache_image	 r;
	char			 owner[37];
	int			 rc;
	enum ts_errcode		 code;
	struct imgcache_base	 b;
};

static void *
getter_main(void *arg)
{
	struct getter *g = arg;

	g->rc = imgcache_get(g->c, &g->r, g->owner, &g->b);
	g->code = err_code();
	return NULL;
}

static void
run_getters(struct getter *g, int n)
{
	pthread_t t[16];

	for (int i = 0; i < n; i++)
		assert_int_equal(pthread_create(&t[i], NULL, getter_main, &g[i]),
		    0);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

static void
test_concurrent_gets_share_one_download(void **state)
{
	struct imgcache *c = cache_open(0, 0);
	struct image *raw = &imgs[IMG_RAW];
	struct getter g[8];
	int before = requests(IMG_RAW);

	raw->delay_ms = 400;	/* everyone arrives while it downloads */
	for (int i = 0; i < 8; i++) {
		g[i] = (struct getter){ .c = c, .r = req_for(raw, "raw") };
		snprintf(g[i].owner, sizeof(g[i].owner),
		    "%08d-0000-4000-8000-000000000000", i);
	}
	run_getters(g, 8);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(g[i].rc, 0);
		assert_string_equal(g[i].b.path, g[0].b.path);
		assert_string_equal(g[i].b.format, "raw");
	}
	assert_int_equal(requests(IMG_RAW), before + 1);
	assert_int_equal(imgcache_refs(c, raw->id), 8);
	file_is(g[0].b.path, raw);

	/* a shared failure: one request, every waiter gets the error */
	imgcache_free(&c);
	clean_cache(state);
	c = cache_open(0, 0);
	raw->delay_ms = 400;
	raw->mode = M_STATUS;
	raw->status = 503;
	before = requests(IMG_RAW);
	for (int i = 0; i < 4; i++)
		g[i].c = c;
	run_getters(g, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(g[i].rc, -1);
		assert_int_equal(g[i].code, TS_EUNAVAILABLE);
	}
	assert_int_equal(requests(IMG_RAW), before + 1);
	assert_int_equal(imgcache_refs(c, raw->id), 0);
	assert_int_equal(count_files(), 0);
	/* the next get tries again, and succeeds */
	raw->mode = M_LENGTH;
	raw->delay_ms = 0;
	assert_int_equal(imgcache_get(c, &g[0].r, OWNER1, &g[0].b), 0);
	assert_int_equal(requests(IMG_RAW), before + 2);
	imgcache_free(&c);
}

static void
expect_fail(struct imgcache *c, const struct imgcache_image *r,
    enum ts_errcode code, const char *msg)
{
	struct imgcache_base b;

	err_clear();
	if (imgcache_get(c, r, OWNER1, &b) != -1)
		fail_msg("get of %s succeeded, expected %s", r->id,
		    err_code_name(code));
	if (err_code() != code)
		fail_msg("got %s (%s), expected %s", err_code_name(err_code()),
		    err_msg(), err_code_name(code));
	if (msg && strstr(err_msg(), msg) == NULL)
		fail_msg("'%s' does not mention '%s'", err_msg(), msg);
	/* nothing is left behind: no image file, no partial file */
	assert_int_equal(count_files(), 0);
	assert_int_equal(imgcache_refs(c, r->id), 0);
}

static void
test_verification_failures(void **state)
{
	struct imgcache *c = cache_open(8 * 1024 * 1024, 0);
	struct image *raw = &imgs[IMG_RAW], *q = &imgs[IMG_QCOW2];
	struct image *bk = &imgs[IMG_BACKING], *dis = &imgs[IMG_DISPUTED];
	struct imgcache_image r;
	char badsha[IMGCACHE_SHA512_HEX + 1];

	/* checksum */
	memcpy(badsha, raw->sha, sizeof(badsha));
	badsha[0] = badsha[0] == '0' ? '1' : '0';
	r = req_for(raw, "raw");
	r.sha512 = badsha;
	expect_fail(c, &r, TS_EIO, "SHA-512 mismatch");
	/* size: fewer bytes than announced by the control plane */
	r = req_for(dis, "raw");
	r.size = dis->len + 1;
	expect_fail(c, &r, TS_EIO, "expected");
	/* more bytes than the control plane said: stopped at the limit */
	r.size = dis->len - 1;
	expect_fail(c, &r, TS_ETOO_LARGE, NULL);
	/* the declared format is not what the bytes are */
	r = req_for(q, "raw");
	expect_fail(c, &r, TS_EINVALID, "mismatch");
	r = req_for(raw, "qcow2");
	expect_fail(c, &r, TS_EINVALID, "mismatch");
	r = req_for(raw, "vmdk");
	expect_fail(c, &r, TS_EINVALID, "mismatch");
	/* a qcow2 naming a backing file on the host */
	r = req_for(bk, "qcow2");
	expect_fail(c, &r, TS_EINVALID, "backing");
	/* virtual size above the cache's limit (8 MiB here; the qcow2 says
	 * 16 MiB) */
	r = req_for(q, "qcow2");
	expect_fail(c, &r, TS_EINVALID, "virtual size");
	imgcache_free(&c);

	/* image larger than max_image_size */
	c = cache_open(0, 1024 * 1024);
	r = req_for(raw, "raw");
	r.size = 0;
	expect_fail(c, &r, TS_ETOO_LARGE, "larger than");
	imgcache_free(&c);
}

static void
test_http_failures(void **state)
{
	struct imgcache *c = cache_open(0, 0);
	struct image *raw = &imgs[IMG_RAW];
	struct imgcache_image r = req_for(raw, "raw");
	struct imgcache_image unknown = { .id =
	    "b0000000-0000-4000-8000-00000000000f", .disk_format = "raw",
	    .sha512 = raw->sha };
	struct { enum mode m; int status; enum ts_errcode code; } cases[] = {
		{ M_TRUNC, 0, TS_EIO },
		{ M_STALL, 0, TS_ETIMEOUT },
		{ M_STATUS, 500, TS_EUNAVAILABLE },
		{ M_STATUS, 403, TS_EFORBIDDEN },
		{ M_STATUS, 204, TS_ENOT_FOUND },
		{ M_STATUS, 302, TS_EIO },
		{ M_BOTH, 0, TS_EIO },
		{ M_BADCHUNK, 0, TS_EIO },
	};
	struct imgcache_http *h2;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		raw->mode = cases[i].m;
		raw->status = cases[i].status;
		expect_fail(c, &r, cases[i].code, NULL);
	}
	raw->mode = M_LENGTH;
	expect_fail(c, &unknown, TS_ENOT_FOUND, "no such image");

	/* a wrong token */
	assert_int_equal(imgcache_http_set_token(http, "wrong"), 0);
	expect_fail(c, &r, TS_EUNAUTHORIZED, NULL);
	assert_string_equal(S.last_token, "wrong");
	/* the get's own token is sent instead of the client's */
	unknown.token = TOKEN;
	expect_fail(c, &unknown, TS_ENOT_FOUND, "no such image");
	assert_string_equal(S.last_token, TOKEN);
	unknown.token = NULL;
	r.token = "bad token";
	expect_fail(c, &r, TS_EINVALID, NULL);
	r.token = NULL;
	assert_int_equal(imgcache_http_set_token(http, TOKEN), 0);
	imgcache_free(&c);

	/* nobody listening */
	{
		int s = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET,
		    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t al = sizeof(a);
		char url[64];
		struct imgcache_opts o = { .dir = cache_dir };

		assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
		assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/",
		    ntohs(a.sin_port));
		close(s);	/* the port is now closed */
		h2 = imgcache_http_new(url, NULL, 1000);
		assert_non_null(h2);
		o.source = imgcache_http_source(h2);
		c = imgcache_new(&o);
		assert_non_null(c);
		expect_fail(c, &r, TS_EUNREACHABLE, NULL);
		imgcache_free(&c);
		imgcache_http_free(&h2);
	}

	/* a path prefix in the base URL is kept */
	{
		char url[80];
		struct imgcache_opts o = { .dir = cache_dir };
		struct imgcache_base b;

		snprintf(url, sizeof(url), "http://127.0.0.1:%d/image//", S.port);
		h2 = imgcache_http_new(url, NULL, 1000);
		assert_non_null(h2);
		assert_int_equal(imgcache_http_set_token(h2, TOKEN), 0);
		o.source = imgcache_http_source(h2);
		c = imgcache_new(&o);
		assert_int_equal(imgcache_get(c, &r, OWNER1, &b), 0);
		assert_non_null(strstr(S.last_path, "/image/v2/images/"));
		assert_int_equal(strncmp(S.last_path, "/image/v2/", 10), 0);
		/* no host set: no X-Tinystack-Host header */
		assert_string_equal(S.last_host, "");
		imgcache_free(&c);
		imgcache_http_free(&h2);
	}
}

/* A transfer cut short is resumed with a Range request, a bounded number
 * of times; what the sink sees is the image, once, in order. */
static void
test_resume(void **state)
{
	struct imgcache *c = cache_open(0, 0);
	struct image *raw = &imgs[IMG_RAW];
	struct imgcache_image r = req_for(raw, "raw");
	struct imgcache_base b;
	int before = requests(IMG_RAW);
	unsigned long long from = 0;

	/* cut twice, resumed twice with 206 answers */
	raw->mode = M_CUT;
	raw->cuts = 2;
	if (imgcache_get(c, &r, OWNER1, &b) != 0)
		fail_msg("%s", err_msg());
	assert_int_equal(requests(IMG_RAW), before + 3);
	assert_int_equal(sscanf(S.last_range, "bytes=%llu-", &from), 1);
	assert_true(from > raw->len / 3 && from < raw->len);
	file_is(b.path, raw);
	assert_int_equal(count_files(), 1);
	imgcache_free(&c);

	/* a server that ignores Range: the 200's first bytes are skipped */
	clean_cache(state);
	c = cache_open(0, 0);
	raw->mode = M_CUT200;
	raw->cuts = 1;
	before = requests(IMG_RAW);
	if (imgcache_get(c, &r, OWNER1, &b) != 0)
		fail_msg("%s", err_msg());
	assert_int_equal(requests(IMG_RAW), before + 2);
	assert_string_not_equal(S.last_range, "");
	file_is(b.path, raw);
	imgcache_free(&c);

	/* a 206 that does not start where asked: refused, nothing kept */
	clean_cache(state);
	c = cache_open(0, 0);
	raw->mode = M_BADRANGE;
	raw->cuts = 1;
	expect_fail(c, &r, TS_EIO, "does not continue");

	/* cut at every attempt: the attempts are bounded */
	raw->mode = M_CUT;
	raw->cuts = 100;
	before = requests(IMG_RAW);
	expect_fail(c, &r, TS_EIO, "cut short");
	assert_int_equal(requests(IMG_RAW), before + IMGCACHE_HTTP_ATTEMPTS);
	raw->cuts = 0;
	imgcache_free(&c);
}

static void
test_refs_and_prune(void **state)
{
	struct imgcache *c = cache_open(0, 0);
	struct image *raw = &imgs[IMG_RAW], *q = &imgs[IMG_QCOW2];
	struct imgcache_image r = req_for(raw, "raw"), rq = req_for(q, "qcow2");
	struct imgcache_base b, bq;
	struct stat st;
	int before;

	fake_now = 1000;
	assert_int_equal(imgcache_get(c, &r, OWNER1, &b), 0);
	assert_int_equal(imgcache_get(c, &r, OWNER2, &b), 0);
	assert_int_equal(imgcache_get(c, &rq, OWNER1, &bq), 0);
	assert_int_equal(imgcache_refs(c, raw->id), 2);

	/* in use: never pruned, whatever the time */
	fake_now += 100000;
	assert_int_equal(imgcache_prune(c), 0);
	assert_int_equal(imgcache_release(c, raw->id, OWNER1), 0);
	assert_int_equal(imgcache_release(c, raw->id, OWNER1), 0);	/* again */
	assert_int_equal(imgcache_release(c, "c0000000-0000-4000-8000-"
	    "000000000000", OWNER1), 0);	/* unknown image */
	assert_int_equal(imgcache_refs(c, raw->id), 1);
	assert_int_equal(imgcache_prune(c), 0);

	/* idle, but not for the grace period yet */
	imgcache_release_owner(c, OWNER2);
	assert_int_equal(imgcache_refs(c, raw->id), 0);
	assert_int_equal(imgcache_refs(c, q->id), 1);
	fake_now += 599;
	assert_int_equal(imgcache_prune(c), 0);
	assert_int_equal(stat(b.path, &st), 0);
	/* grace over: the unused base goes, the used one stays */
	fake_now += 1;
	assert_int_equal(imgcache_prune(c), 1);
	assert_int_equal(stat(b.path, &st), -1);
	assert_int_equal(stat(bq.path, &st), 0);
	/* asked for again: downloaded again */
	before = requests(IMG_RAW);
	assert_int_equal(imgcache_get(c, &r, OWNER1, &b), 0);
	assert_int_equal(requests(IMG_RAW), before + 1);
	file_is(b.path, raw);

	/* a stale partial download is pruned */
	{
		char part[256];

		snprintf(part, sizeof(part), "%s/.%s.part", cache_dir,
		    "d0000000-0000-4000-8000-000000000000");
		assert_int_equal(close(open(part, O_WRONLY | O_CREAT, 0600)), 0);
		assert_int_equal(imgcache_prune(c), 1);
		assert_int_equal(stat(part, &st), -1);
	}
	imgcache_free(&c);
}

static void
corrupt(const char *path)
{
	int fd;

	assert_int_equal(chmod(path, 0644), 0);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 4096), 1);
	close(fd);
}

static void
test_restart(void **state)
{
	struct imgcache *c = cache_open(0, 0);
	struct image *raw = &imgs[IMG_RAW];
	struct imgcache_image r = req_for(raw, "raw");
	struct imgcache_base b;
	char part[256], stray[256], path[IMGCACHE_PATH_MAX];
	struct stat st;
	int before;

	fake_now = 5000;
	assert_int_equal(imgcache_get(c, &r, OWNER1, &b), 0);
	imgcache_free(&c);

	/* a partial download of a crashed agent, and a stray file */
	snprintf(part, sizeof(part), "%s/.%s.part", cache_dir, raw->id);
	assert_int_equal(close(open(part, O_WRONLY | O_CREAT, 0600)), 0);
	snprintf(stray, sizeof(stray), "%s/README", cache_dir);
	assert_int_equal(close(open(stray, O_WRONLY | O_CREAT, 0600)), 0);

	/* restart: the file is verified, not downloaded again */
	before = requests(IMG_RAW);
	c = cache_open(0, 0);
	assert_int_equal(stat(part, &st), -1);
	assert_int_equal(stat(stray, &st), 0);	/* not ours: left alone */
	assert_int_equal(imgcache_get(c, &r, OWNER1, &b), 0);
	assert_int_equal(requests(IMG_RAW), before);
	imgcache_free(&c);

	/* restart with a corrupt file: detected and downloaded again */
	corrupt(b.path);
	c = cache_open(0, 0);
	assert_int_equal(imgcache_get(c, &r, OWNER1, &b), 0);
	assert_int_equal(requests(IMG_RAW), before + 1);
	file_is(b.path, raw);
	imgcache_free(&c);

	/* restart, the agent re-adds its instance's reference, then the
	 * file turns out corrupt: refused, never replaced under the
	 * instance */
	snprintf(path, sizeof(path), "%s", b.path);
	corrupt(path);
	c = cache_open(0, 0);
	assert_int_equal(imgcache_ref_add(c, raw->id, OWNER2), 0);
	assert_int_equal(imgcache_refs(c, raw->id), 1);
	err_clear();
	assert_int_equal(imgcache_get(c, &r, OWNER1, &b), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(requests(IMG_RAW), before + 1);
	/* ref_add of something not cached */
	assert_int_equal(imgcache_ref_add(c, imgs[IMG_QCOW2].id, OWNER1), -1);
	assert_int_equal(err_code(), TS_ENOT_FOUND);
	imgcache_free(&c);

	/* files found at start and never referenced are idle from the
	 * start: pruned once the grace period has passed since then */
	fake_now = 9000;
	c = cache_open(0, 0);
	fake_now += 599;
	assert_int_equal(imgcache_prune(c), 0);
	fake_now += 1;
	assert_int_equal(imgcache_prune(c), 1);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(stat(stray, &st), 0);
	imgcache_free(&c);
	unlink(stray);
}

static void
test_checksum_dispute(void **state)
{
	struct imgcache *c = cache_open(0, 0);
	struct image *raw = &imgs[IMG_RAW];
	struct imgcache_image r = req_for(raw, "raw"), other = r;
	struct imgcache_base b;
	char badsha[IMGCACHE_SHA512_HEX + 1];
	int before = requests(IMG_RAW);

	memcpy(badsha, raw->sha, sizeof(badsha));
	badsha[5] = badsha[5] == 'a' ? 'b' : 'a';
	other.sha512 = badsha;
	assert_int_equal(imgcache_get(c, &r, OWNER1, &b), 0);
	/* in use: a request with another checksum is a conflict */
	assert_int_equal(imgcache_get(c, &other, OWNER2, &b), -1);
	assert_int_equal(err_code(), TS_ECONFLICT);
	/* unused: checked again against the request (and downloaded again,
	 * which fails the same way: the bytes are what they are) */
	imgcache_release(c, raw->id, OWNER1);
	assert_int_equal(imgcache_get(c, &other, OWNER2, &b), -1);
	assert_int_equal(err_code(), TS_EIO);
	assert_int_equal(requests(IMG_RAW), before + 2);
	assert_int_equal(count_files(), 0);
	imgcache_free(&c);
}

static void
test_argument_checks(void **state)
{
	struct imgcache *c = cache_open(0, 0);
	struct image *raw = &imgs[IMG_RAW];
	struct imgcache_image r;
	struct imgcache_base b;
	struct imgcache_opts o = { .dir = "relative" };

#define NO(mut, owner) do { r = req_for(raw, "raw"); mut; err_clear(); \
	assert_int_equal(imgcache_get(c, &r, owner, &b), -1); \
	assert_int_equal(err_code(), TS_EINVALID); } while (0)
	NO(r.id = "../../etc/passwd", OWNER1);
	NO(r.id = "A0000000-0000-4000-8000-000000000001", OWNER1);
	NO(r.sha512 = "abc", OWNER1);
	NO(r.sha512 = NULL, OWNER1);
	NO(r.disk_format = "", OWNER1);
	NO(r.disk_format = NULL, OWNER1);
	NO((void)0, "owner");
	NO((void)0, NULL);
#undef NO
	assert_int_equal(imgcache_ref_add(c, "x", OWNER1), -1);
	assert_int_equal(err_code(), TS_EINVALID);
	imgcache_free(&c);
	imgcache_free(&c);	/* NULL is fine */

	assert_null(imgcache_new(&o));
	assert_null(imgcache_new(NULL));
	o.dir = "/tmp";		/* no source */
	assert_null(imgcache_new(&o));

	/* URLs and tokens */
	{
		const char *bad[] = { "ftp://x/", "http://", "https://",
		    "http://:80/", "http://h:0/", "http://h:65536/",
		    "http://h:8x/", "http://h o/", "http://[::1/",
		    "http://h/pa th", "http://h/p?q=1", NULL };
		const char *good[] = { "http://127.0.0.1", "http://[::1]:9292",
		    "http://controller.example:9292/image/",
		    "https://127.0.0.1/", "https://[::1]:9292/x", NULL };
		struct imgcache_http *h;

		for (int i = 0; bad[i]; i++) {
			err_clear();
			if ((h = imgcache_http_new(bad[i], NULL, 0)) != NULL)
				fail_msg("accepted %s", bad[i]);
			assert_int_equal(err_code(), TS_EINVALID);
		}
		for (int i = 0; good[i]; i++) {
			h = imgcache_http_new(good[i], NULL, 0);
			if (h == NULL)
				fail_msg("refused %s: %s", good[i], err_msg());
			assert_int_equal(imgcache_http_set_token(h, "a b"), -1);
			assert_int_equal(imgcache_http_set_token(h,
			    "a\r\nX-Evil: 1"), -1);
			assert_int_equal(imgcache_http_set_token(h, ""), -1);
			assert_int_equal(imgcache_http_set_token(h, "ok"), 0);
			assert_int_equal(imgcache_http_set_token(h, "renewed"), 0);
			assert_int_equal(imgcache_http_set_host(h, "a b"), -1);
			assert_int_equal(imgcache_http_set_host(h,
			    "h\r\nX-Evil: 1"), -1);
			assert_int_equal(imgcache_http_set_host(h, ""), -1);
			assert_int_equal(imgcache_http_set_host(h, "compute-1"),
			    0);
			imgcache_http_free(&h);
			assert_null(h);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_download_and_reuse, clean_cache),
		cmocka_unit_test_setup(test_concurrent_gets_share_one_download,
		    clean_cache),
		cmocka_unit_test_setup(test_verification_failures, clean_cache),
		cmocka_unit_test_setup(test_http_failures, clean_cache),
		cmocka_unit_test_setup(test_resume, clean_cache),
		cmocka_unit_test_setup(test_refs_and_prune, clean_cache),
		cmocka_unit_test_setup(test_restart, clean_cache),
		cmocka_unit_test_setup(test_checksum_dispute, clean_cache),
		cmocka_unit_test_setup(test_argument_checks, clean_cache),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
