/*
 * fuzz_qcow2_backing: disk_backing_file() (agent/storage/disk.c), the
 * in-process qcow2 header reader a live migration's source uses, on
 * arbitrary file contents. It must never read outside the file or write
 * outside its buffer; a name it returns fits the buffer, is NUL-ended
 * and has no NUL inside; "no backing file" leaves an empty name.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "storage/disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];
static int fd = -1;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[256];
	int rc;

	if (size > 1 << 20)
		return 0;
	if (fd == -1) {
		snprintf(path, sizeof(path), "/tmp/fuzz_qcow2_backing.XXXXXX");
		if ((fd = mkstemp(path)) == -1)
			abort();
	}
	if (ftruncate(fd, 0) == -1 || pwrite(fd, data, size, 0) !=
	    (ssize_t)size)
		abort();
	memset(out, 'x', sizeof(out));
	rc = disk_backing_file(path, out, sizeof(out));
	if (rc == 1) {
		size_t n = strnlen(out, sizeof(out));

		if (n == 0 || n == sizeof(out))
			abort();
	} else if (rc == 0) {
		if (out[0] != '\0')
			abort();
	} else if (rc != -1) {
		abort();
	}
	err_clear();
	return 0;
}
