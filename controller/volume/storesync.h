/*
 * storesync: the controller half of the storage protocol
 * (schemas/storage.schema), modelled on network/netsync.h. For every
 * storage host it derives, from the volume and snapshot records, the
 * host_storage message that host must have, and sends it until the host's
 * agent reports that generation applied; it applies the agents'
 * host_storage_state reports to the records.
 *
 * Derivation (storesync_sync()), for every host holding a volume or
 * snapshot, every host with a storage report and every host that said
 * hello:
 * - each volume placed there, present unless deleting or error_deleting,
 *   with its size, its source (volume, snapshot or image: the image's
 *   format, sha512 and size; while the volume is creating, a download
 *   capability minted at send time, never part of the comparison below),
 *   and one export per attachment that names an initiator (its CHAP
 *   credentials);
 * - each snapshot there, present unless deleting or error_deleting;
 * - each backup being made of, or restored into, a volume there
 *   (volume_backups.c), with a capability for its data route minted at
 *   send time.
 * A host's generation grows whenever the encoded message (without
 * capabilities) changes; generations live in memory only, and a report of
 * a higher one (a previous controller's) moves the host past it.
 *
 * Reports (storesync_report()), in one store_write(): the storage_host
 * record (backend, portal, sizes); creating -> available (present, ok,
 * size >= the volume's; bootable when filled from an image) or error (not
 * ok: the message becomes the fault); extending -> available, or
 * error_extending; deleting -> the record and its index entries removed
 * and the usage released (not ok: error_deleting); a snapshot's creating
 * -> available / error, deleting -> gone / error_deleting. A report speaks
 * only for the volumes placed on its host. The exports a report shows in
 * place (the volume ok with its target, at the generation that had the
 * attachment), each with the initiator it admits, are what
 * storesync_ready() answers.
 *
 * Volume uploads (os-volume_upload_image): a volume `uploading` names its
 * upload (image id, disk format; an upload capability minted at send time)
 * until the host's report answers that image (upload_ok or not): the volume
 * goes back to upload_prev_status, and a failed upload's image is
 * discarded (image_volume_upload_discard(), after the commit). A
 * derivation that finds an upload past its upload_deadline no longer
 * names it and ends it the same way, failed, in a write of its own: a
 * volume is never left uploading.
 *
 * Sending is level-triggered: back-off 1 s * 2^n up to 60 s until the
 * agent reports the desired generation; a hello resets the host (its
 * exports are not known to be in place any more) and sends at once.
 *
 * Threads: everything runs on the controller's bus thread (the tick, the
 * wake-ups and the fleet's hooks), except storesync_changed() (an atomic
 * flag and an eventfd write), storesync_pending() and storesync_ready()
 * (a mutex), which any thread may call.
 */
#ifndef TS_CONTROLLER_STORESYNC_H
#define TS_CONTROLLER_STORESYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg_gen.h"

struct bus;
struct codec_envelope;
struct config;
struct fleet_hooks;
struct identity;
struct store;
struct storesync;

#define STORESYNC_RESCAN_MS	2000
#define STORESYNC_BACKOFF_MIN_MS 1000
#define STORESYNC_BACKOFF_MAX_MS 60000

/* A syncer on the store and bus (borrowed: both outlive it; bus may be
 * NULL: nothing is sent, for tests that drive it); controller_host is the
 * sender of the messages. NULL with err set. */
struct storesync *storesync_new(const struct config *, struct store *,
		    struct bus *, const char *controller_host);
void		 storesync_free(struct storesync **);
/* Who mints the image download capabilities of volumes filled from an
 * image (borrowed; NULL: none are sent and such fills fail on the agent). */
void		 storesync_set_identity(struct storesync *, struct identity *);
/* Who discards the images of failed or expired volume uploads (borrowed;
 * NULL: such images stay queued). */
struct image_service;
void		 storesync_set_image(struct storesync *, struct image_service *);
/* Called on the bus thread for each export a report newly shows in place
 * (an attachment's volume now reachable from its host), after the
 * report's records are written; arg borrowed. Before the first report. */
typedef void (*storesync_ready_fn)(void *arg, const char *volume_id,
		    const char *attachment_id);
void		 storesync_set_ready_fn(struct storesync *, storesync_ready_fn,
		    void *arg);
/* The hooks to add to the fleet: hellos and host_storage_state. */
void		 storesync_fleet_hooks(struct storesync *,
		    struct fleet_hooks *);

/* Records changed: derive again at once (the bus thread is woken through
 * storesync_wake_fd()), the tick catching what a wake-up leaves over.
 * Any thread. */
void		 storesync_changed(struct storesync *);
/* Whether a change waits for the next derivation (1) or not (0). Any
 * thread. */
int		 storesync_pending(struct storesync *);
/* An eventfd storesync_changed() writes, for the bus thread's poll set:
 * readable means call storesync_woken(). Valid until storesync_free(). */
int		 storesync_wake_fd(const struct storesync *);
/* Bus thread: derive and send now if something changed, at most once per
 * STORESYNC_WAKE_GAP_MS since the last derivation (the tick takes what a
 * burst leaves over). 1 if it derived, 0 if not (nothing changed, or
 * inside the gap), -1 (logged) if the store could not be read. */
int		 storesync_woken(struct storesync *, int64_t now_ms);
#define STORESYNC_WAKE_GAP_MS	100
/* Derive every host's message now; -1 with err set if the store could
 * not be read (the previous messages stay). */
int		 storesync_sync(struct storesync *, int64_t now_ms);
/* Send what is due. */
void		 storesync_send_due(struct storesync *, int64_t now_ms);
/* Once a second: storesync_sync() when something changed or the rescan
 * interval passed, then storesync_send_due(). */
void		 storesync_tick(struct storesync *, int64_t now_ms);
/* An agent said hello. */
void		 storesync_hello(struct storesync *, const char *host,
		    int64_t now_ms);
/* Apply host's report (the fleet authenticated host). 0, or -1 with err
 * set when the store write failed (the next report retries). */
int		 storesync_report(struct storesync *, const char *host,
		    const struct msg_host_storage_state *);
/* The fleet's message hook: 1 if env was a host_storage_state (handled),
 * 0 if not ours. */
int		 storesync_agent_msg(struct storesync *, const char *host,
		    struct codec_envelope *env);

/* The desired message of a host as of the last storesync_sync()
 * (borrowed: valid until the next one; image capabilities are not in
 * it), NULL if the host is unknown. */
const struct msg_host_storage *storesync_desired(struct storesync *,
		    const char *host);
/* The generation host's agent last reported applied (0: none). */
uint64_t	 storesync_applied(struct storesync *, const char *host);
/* The request id of the last host_storage sent to host ("" if none):
 * an agent's refusal answers it. */
const char	*storesync_last_request(struct storesync *, const char *host);
/* Whether host's last report shows the volume exported for the
 * attachment to initiator (see above): an export reported for another
 * initiator of the same attachment (renamed by an evacuation) is not.
 * Any thread. */
bool		 storesync_ready(struct storesync *, const char *host,
		    const char *volume_id, const char *attachment_id,
		    const char *initiator);

#endif
