/*
 * storsvc: the agent's storage worker. One thread owns the host's volume
 * store (volstore.h) and its iSCSI exports (tgt.h): it takes the latest
 * host_storage the bus thread hands it (addressed to this host), converges
 * to it, answers with host_storage_state (in_reply_to its request), and
 * converges again every tick (STORSVC_TICK_MS) and whenever tgtd was
 * (re)started, so the exports come back after a tgtd or agent restart.
 *
 * Level-triggered as agent/net/netsvc.h: the message is the whole desired
 * state; an older one still queued is dropped unanswered. A volume or
 * snapshot is removed only when the message names it with present=false;
 * a volume found here that the message does not name is left alone and
 * reported in `unknown`. A tick whose state differs from the last one
 * sent sends it unsolicited.
 *
 * Order of a converge: snapshots of existing volumes, new volumes (filled
 * from their sources) and extends, snapshots of volumes just made, the
 * exports (targets of volumes to be removed are deleted first), then the
 * removals (snapshots before volumes).
 */
#ifndef TS_STORSVC_H
#define TS_STORSVC_H

#include <stddef.h>

#include "metrics.h"

struct codec_envelope;
struct msg_host_storage;
struct msg_host_storage_state;
struct storsvc;
struct tgt;
struct volstore;

typedef int (*storsvc_send_fn)(const void *buf, size_t len, void *arg);

#define STORSVC_TICK_MS		5000
/* Retry interval while tgtd does not answer yet (just started). */
#define STORSVC_RETRY_MS	250

/*
 * Starts the worker on *vsp and *tgp (both taken, set to NULL; *tgp may
 * be NULL: no exports here, a volume with exports is reported not ok).
 * The tgt's supervisor is started here with the worker as its notify hook.
 * host: ours (messages for another are refused) and the reports' sender.
 * NULL with err set.
 */
struct storsvc	*storsvc_new(struct volstore **vsp, struct tgt **tgp,
		    const char *host, int tick_ms, storsvc_send_fn send,
		    void *arg);
void		 storsvc_free(struct storsvc **);

/*
 * Volume uploads (sto_volume.upload_image_id): the volume is converted
 * into <dir>/upload-<image id> (volstore_export()) and fn PUTs that file
 * as the image's data with the upload capability (the agent's
 * imgcache_http_upload()); 0 or -1 with err set. Each upload is done
 * once, on a thread of its own (at most STORSVC_UPLOADS_RUNNING at a
 * time) while the worker converges on, then answered in the volume's
 * status (upload_image_id, upload_ok, upload_message) as long as the
 * desired state names it. fn is called from those threads. Before the
 * first message; without it uploads fail ("no image API").
 * storsvc_free() waits for running uploads.
 */
#define STORSVC_UPLOADS_RUNNING	2
typedef int (*storsvc_upload_fn)(void *arg, const char *image_id,
		    const char *token, const char *path);
void		 storsvc_set_uploader(struct storsvc *, const char *dir,
		    storsvc_upload_fn fn, void *arg);

/* Bus thread: 1 if env is a host_storage (its body is taken and queued
 * for the worker), 0 if not. */
int		 storsvc_handle(struct storsvc *, struct codec_envelope *env);
/* Queues *mp (taken) as if it came with request id reqid. */
void		 storsvc_submit(struct storsvc *, struct msg_host_storage **mp,
		    const char *reqid);
void		 storsvc_kick(struct storsvc *);

/* Converges run by the worker (applying a message or re-converging),
 * for /metrics; any thread. */
struct storsvc_stats {
	struct metrics_runs_snap converges;
	uint64_t	tgt_starts;	/* tgtd started by this agent */
};
void		 storsvc_stats(struct storsvc *, struct storsvc_stats *);

/*
 * One converge, synchronously, of the volume store and tgt (may be NULL)
 * to m, filling st (cleared with codec_clear by the caller). The worker's
 * step; public for tests. -1 only when nothing could be read (the store
 * does not answer); per-item failures are in st.
 */
int	storsvc_converge(struct volstore *, struct tgt *,
	    const struct msg_host_storage *m, struct msg_host_storage_state *st);

#endif
