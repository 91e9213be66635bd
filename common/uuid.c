/* uuid: the canonical text form check (see uuid.h). */
#include <stdbool.h>
#include <stddef.h>

#include "uuid.h"

bool
uuid_valid(const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < UUID_TEXT_LEN; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;	/* also stops at a NUL */
	}
	return s[UUID_TEXT_LEN] == '\0';
}
