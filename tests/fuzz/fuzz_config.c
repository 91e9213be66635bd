/*
 * libFuzzer target for common/config.c with the controller's option table.
 *
 * Properties checked on arbitrary bytes:
 *  - loading never crashes, leaks or reads out of bounds (ASan/UBSan);
 *  - a failed load leaves the previously loaded configuration untouched;
 *  - when it loads, the normalized output loads again without warnings and
 *    prints byte-for-byte the same (print -> parse is a fixed point).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "opts.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A non-default starting point, so "unchanged after a failed load" is not
 * trivially the defaults. */
static const char base[] =
    "[DEFAULT]\ndebug = true\nservice_down_time = 77\n"
    "[api]\npublic_host = base.example\n";

static int nwarn;

static void
count_warnings(enum log_level lvl, const char *line, void *arg)
{
	if (lvl == LOG_LVL_WARN)
		nwarn++;
}

static char *
print_mem(const struct config *cfg, size_t *len)
{
	char *buf = NULL;
	FILE *fp = open_memstream(&buf, len);

	if (fp == NULL)
		abort();
	if (config_print(cfg, fp) != 0)
		abort();
	fclose(fp);
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *base_out;
	static size_t base_len;
	struct config *cfg, *again;
	char *out, *out2;
	size_t len, len2;
	int w;

	log_set_capture(count_warnings, NULL);
	cfg = config_new(opts_controller);
	if (config_load_buf(cfg, base, sizeof(base) - 1, "base") != 0)
		abort();
	if (base_out == NULL)
		base_out = print_mem(cfg, &base_len);

	if (config_load_buf(cfg, (const char *)data, size, "fuzz") != 0) {
		out = print_mem(cfg, &len);
		if (len != base_len || memcmp(out, base_out, len) != 0)
			abort();	/* a failed load changed something */
		free(out);
		config_free(&cfg);
		return 0;
	}

	out = print_mem(cfg, &len);
	again = config_new(opts_controller);
	w = nwarn;
	if (config_load_buf(again, out, len, "printed") != 0)
		abort();	/* our own output does not parse */
	if (nwarn != w || config_unknown_count(again) != 0)
		abort();	/* our own output has unknown/duplicate keys */
	out2 = print_mem(again, &len2);
	if (len != len2 || memcmp(out, out2, len) != 0)
		abort();	/* normalization is not a fixed point */
	free(out);
	free(out2);
	config_free(&again);
	config_free(&cfg);
	return 0;
}
