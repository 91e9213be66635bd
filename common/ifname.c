/* ifname: see ifname.h. */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "ifname.h"
#include "uuid.h"

int
ifname_of(const char *prefix, const char *id, char *out)
{
	char hex[12];
	size_t i, j;

	if (id == NULL || !uuid_valid(id)) {
		err_set(TS_EINVALID, "interface name: id is not a UUID");
		return -1;
	}
	for (i = 0, j = 0; id[i] != '\0' && j < 11; i++)
		if (id[i] != '-')
			hex[j++] = id[i];
	hex[j] = '\0';
	snprintf(out, IFNAME_MAX + 1, "%.3s%s", prefix, hex);
	return 0;
}

int
ifname_owned(const char *prefix, const char *name)
{
	size_t i;

	if (name == NULL || strlen(name) != 14 || strncmp(name, prefix, 3))
		return 0;
	for (i = 3; i < 14; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return 1;
}
