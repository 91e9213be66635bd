/*
 * imgfetch: one imgcache_get() through the agent's HTTP(S) source, for
 * tests/integ/test_image_tls.sh (the agent's image download against the
 * real controller, without libvirt).
 *
 * Usage: imgfetch --url URL [--ca-file PEM] --dir CACHE_DIR --token TOKEN
 *          --id UUID --sha512 HEX --format FMT [--size N]
 *
 * Prints "ok PATH SIZE" and exits 0, or "error CODE: MESSAGE" on stderr
 * and exits 1.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "err.h"
#include "image/imgcache.h"

#define OWNER	"00000000-0000-4000-8000-00000000f00d"

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "ca-file", required_argument, NULL, 'c' },
		{ "dir", required_argument, NULL, 'd' },
		{ "token", required_argument, NULL, 't' },
		{ "id", required_argument, NULL, 'i' },
		{ "sha512", required_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 'z' },
		{ NULL, 0, NULL, 0 }
	};
	const char *url = NULL, *ca = NULL, *dir = NULL;
	struct imgcache_image img = { 0 };
	struct imgcache_opts co = { 0 };
	struct imgcache_http *http = NULL;
	struct imgcache *c = NULL;
	struct imgcache_base b;
	int ch, rc = 1;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'u': url = optarg; break;
		case 'c': ca = optarg; break;
		case 'd': dir = optarg; break;
		case 't': img.token = optarg; break;
		case 'i': img.id = optarg; break;
		case 's': img.sha512 = optarg; break;
		case 'f': img.disk_format = optarg; break;
		case 'z': img.size = strtoull(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "imgfetch: bad arguments\n");
			return 2;
		}
	}
	if (url == NULL || dir == NULL || img.id == NULL) {
		fprintf(stderr, "imgfetch: --url, --dir and --id are needed\n");
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "imgfetch: libcurl failed to start\n");
		return 1;
	}
	if ((http = imgcache_http_new(url, ca, 10000)) == NULL)
		goto out;
	co.dir = dir;
	co.source = imgcache_http_source(http);
	if ((c = imgcache_new(&co)) == NULL ||
	    imgcache_get(c, &img, OWNER, &b) == -1)
		goto out;
	printf("ok %s %" PRIu64 "\n", b.path, b.size);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "error %s: %s\n", err_code_name(err_code()),
		    err_msg());
	imgcache_free(&c);
	imgcache_http_free(&http);
	curl_global_cleanup();
	return rc;
}
