/*
 * libFuzzer target for common/metrics_http.c: the request head of a
 * scrape (request line and headers, at most 8 KiB as the server reads it).
 *
 * Properties checked on arbitrary bytes:
 *  - routing never crashes or reads out of bounds (ASan/UBSan);
 *  - the answer is one of 200, 400, 401, 404, 405;
 *  - with a token configured, a 200 needs the exact bearer token in the
 *    head; without one, the same head never gets a 401;
 *  - a 200 is only for GET or HEAD, and HEAD is flagged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char head[8192];
	const char *m;
	int ho, ho2, st, open_st;

	if (size >= sizeof(head))
		size = sizeof(head) - 1;
	memcpy(head, data, size);
	head[size] = '\0';
	st = metrics_http_route(head, "t0ken-x", &ho);
	open_st = metrics_http_route(head, NULL, &ho2);
	if (st != 200 && st != 400 && st != 401 && st != 404 && st != 405)
		abort();
	if (open_st == 401)
		abort();
	if (st == 200 && strstr(head, "t0ken-x") == NULL)
		abort();
	/* a strict request line: the method first, one space after it */
	m = head;
	if (st == 200 && strncmp(m, "GET /", 5) != 0 &&
	    strncmp(m, "HEAD /", 6) != 0)
		abort();
	if (st == 200 && ho != (strncmp(m, "HEAD", 4) == 0))
		abort();
	if (st == 200 && strstr(head, " HTTP/1.") == NULL)
		abort();
	/* the token only adds a 401 in front of the same answer */
	if (st != 401 && st != open_st)
		abort();
	return 0;
}
