/*
 * fuzz_tgt_show: the reader of `tgtadm --op show --mode target` output
 * (tgt_show_parse) on arbitrary text. tgtadm is our own tgtd's, but its
 * output names initiators that remote hosts chose, and what the agent
 * does with a session (close it) follows from what this reader returns.
 * It must never read outside the input; every target it returns has a
 * positive tid, names and paths NUL-terminated within their buffers, at
 * most TGT_MAX_ACL accounts and ACL entries, at most TGT_MAX_NEXUS
 * sessions each with a non-empty initiator and at most TGT_MAX_CONN
 * connections; and everything is freed (the sanitizers check).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/tgt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tgt_target *t;
	char *text;
	size_t n;

	if (size > 1 << 20 || (text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (tgt_show_parse(text, &t, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			const struct tgt_target *g = &t[i];

			if (g->tid <= 0 ||
			    strnlen(g->name, sizeof(g->name)) ==
			    sizeof(g->name) ||
			    strnlen(g->lun1, sizeof(g->lun1)) ==
			    sizeof(g->lun1) ||
			    g->naccounts > TGT_MAX_ACL ||
			    g->nacl > TGT_MAX_ACL ||
			    g->nnexus > TGT_MAX_NEXUS ||
			    (g->nnexus > 0 && g->nexus == NULL))
				abort();
			for (size_t k = 0; k < g->naccounts; k++)
				if (g->accounts[k] == NULL)
					abort();
			for (size_t k = 0; k < g->nacl; k++)
				if (g->acl[k] == NULL)
					abort();
			for (size_t k = 0; k < g->nnexus; k++) {
				const struct tgt_nexus *x = &g->nexus[k];

				if (x->initiator[0] == '\0' ||
				    strnlen(x->initiator,
				    sizeof(x->initiator)) ==
				    sizeof(x->initiator) ||
				    x->ncid > TGT_MAX_CONN)
					abort();
			}
		}
		tgt_targets_free(&t, n);
	}
	free(text);
	return 0;
}
