/*
 * imgcache: the agent's cache of base images, one file per image in the
 * cache directory (<instances_path>/_base/ by convention), named by the
 * image's UUID and nothing else (security §1.6: no path ever comes from a
 * client).
 *
 * Getting an image:
 *   - the bytes come from a source (struct imgcache_source): the HTTP one
 *     here (libcurl, http or https) fetches GET <base>/v2/images/<id>/file
 *     from the controller's image API with X-Auth-Token (the command's
 *     image capability) and X-Tinystack-Host, resuming a broken transfer
 *     with a Range request; tests plug in their own;
 *   - they stream into <dir>/.<id>.part (O_EXCL, 0600) while the SHA-512
 *     (libsodium) and the format inspector (common/imgfmt) see every byte;
 *     memory does not depend on the image size;
 *   - the image is accepted only if its SHA-512 equals the control plane's
 *     (os_hash_value), its size equals the expected one (when given), its
 *     bytes are a safe image of the declared disk_format
 *     (imgfmt_check_declared: no backing or data files, no format
 *     confusion), and its virtual size is within max_virtual_size; then it
 *     is fsync'ed, made read-only (0444) and renamed into place. Anything
 *     else deletes the partial file;
 *   - concurrent gets of one image share one download: the first caller
 *     downloads, the others wait for its result;
 *   - a file found in the cache directory but not yet seen by this process
 *     (the agent restarted) is verified the same way (hash and inspection
 *     of the file) before it is used, as OSSA-2024-002 asks of cached
 *     bases; a file that fails is deleted and downloaded again, unless
 *     instances still reference it (TS_ECONFLICT then).
 *
 * References: each get names the owner (an instance UUID) that will use
 * the base; imgcache_release() drops that reference. After an agent
 * restart the agent re-adds the references of its existing instances with
 * imgcache_ref_add() (their overlays still point at the bases). An image
 * without references becomes idle; imgcache_prune() deletes images idle
 * for at least grace_sec (Nova: remove_unused_original_minimum_age_seconds,
 * a day) and partial downloads left by a crash. Files found at start count
 * as idle from that moment, so a restart never deletes a base before the
 * agent had grace_sec to re-add its references.
 *
 * Threads: every function may be called from any thread; one mutex guards
 * the table and is never held during a download or a hash.
 */
#ifndef TS_AGENT_IMGCACHE_H
#define TS_AGENT_IMGCACHE_H

#include <stddef.h>
#include <stdint.h>

#define IMGCACHE_SHA512_HEX	128
#define IMGCACHE_GRACE_DEFAULT	86400			/* seconds */
#define IMGCACHE_MAX_IMAGE_DEFAULT	(64ull << 30)	/* bytes on the wire */
#define IMGCACHE_MAX_VIRTUAL_DEFAULT	(1ull << 40)	/* 1 TiB */
#define IMGCACHE_PATH_MAX	4096

/*
 * Receives the image's bytes in order. Returns 0 to go on, -1 (error
 * recorded) to abort the download.
 */
typedef int (*imgcache_sink_fn)(const void *buf, size_t len, void *sink_arg);

/*
 * A source of image bytes. fetch() streams the whole image `image_id` to
 * sink and returns 0 at its end, or -1 with the error recorded (a sink
 * failure is returned as is). TS_ENOT_FOUND for an unknown image. token is
 * the credential of the get that caused the download (struct
 * imgcache_image), NULL when it has none; never logged. Called from several
 * threads at once, for different images.
 */
struct imgcache_source {
	int	(*fetch)(void *arg, const char *image_id, const char *token,
		    imgcache_sink_fn sink, void *sink_arg);
	void	*arg;
};

/* -------------------------------------------------------- HTTP source */

struct imgcache_http;

#define IMGCACHE_HTTP_ATTEMPTS	5	/* per fetch, resumed ones included */

/*
 * A source for the controller's image API at base_url ("http://host:port",
 * "https://host:port" or with an IPv6 literal "[::1]", optionally with a
 * path prefix), using libcurl. https verifies the server's certificate
 * chain and its name against ca_file (a PEM bundle; NULL or "": the
 * system's CA store). timeout_ms bounds connecting and any stretch without
 * received data (0: 30 s; rounded up to whole seconds for the latter).
 * A plain http:// URL to a host other than loopback is accepted with a
 * warning (the token crosses the network in the clear). curl_global_init()
 * should have run before any thread started (the agent's main does it);
 * otherwise libcurl runs it at the first download.
 * NULL with err set (TS_EINVALID for a bad URL or an unreadable ca_file).
 */
struct imgcache_http	*imgcache_http_new(const char *base_url,
			    const char *ca_file, unsigned timeout_ms);
void		imgcache_http_free(struct imgcache_http **);
/* The token sent as X-Auth-Token (copied; replaced when it is renewed).
 * TS_EINVALID if it holds anything but visible ASCII. Never logged. */
int		imgcache_http_set_token(struct imgcache_http *, const char *);
/* The agent's host name, sent as X-Tinystack-Host with every fetch (the
 * image API accepts a capability only from the host it names). Before any
 * fetch. TS_EINVALID if empty, longer than 255 or not visible ASCII. */
int		imgcache_http_set_host(struct imgcache_http *, const char *);
/* The source backed by h (borrowed: h must outlive every fetch). */
struct imgcache_source	imgcache_http_source(struct imgcache_http *h);
/*
 * The fetch function: GET <base>/v2/images/<id>/file over HTTP/1.1 with
 * token as X-Auth-Token (NULL or "": the one set with
 * imgcache_http_set_token(), if any; TS_EINVALID for a token that is not
 * visible ASCII). Status 200 with a Content-Length, chunked or
 * connection-close body; 401 TS_EUNAUTHORIZED, 403 TS_EFORBIDDEN, 404
 * (and 204, no data) TS_ENOT_FOUND, 5xx TS_EUNAVAILABLE, anything else
 * (redirects included) TS_EIO; a body cut short TS_EIO; silence beyond
 * the timeout TS_ETIMEOUT; connection refused or name not resolved
 * TS_EUNREACHABLE; a certificate that does not verify TS_EUNAUTHORIZED
 * (nothing is sent to such a server).
 * A transfer that broke (cut or silent) after delivering new bytes is
 * resumed, at most IMGCACHE_HTTP_ATTEMPTS attempts in all, with
 * "Range: bytes=<n>-": a 206 from byte n continues the stream, a 200 is
 * read from its start with the first n bytes skipped, so the sink always
 * sees each byte once and in order.
 */
int		imgcache_http_fetch(void *h, const char *image_id,
		    const char *token, imgcache_sink_fn sink, void *sink_arg);

/* -------------------------------------------------------------- cache */

/*
 * PUT the file at path as the data of image_id (a server snapshot, still
 * queued) to <base>/v2/images/<id>/file with token (the command's upload
 * capability; never logged) and the host. One attempt: a failed upload
 * leaves the image queued and the caller's task fails. TS_ECONFLICT when
 * the image is no longer queued (an upload already went through),
 * TS_EOVER_QUOTA for 413; else as imgcache_http_fetch().
 */
int		imgcache_http_upload(struct imgcache_http *, const char *image_id,
		    const char *token, const char *path);

/* The same two for another route of the same base: GET or PUT
 * <base><urlpath> (urlpath starts with '/'), the error texts naming the
 * path (a volume backup's data, agent/storage/storsvc.c). */
int		imgcache_http_fetch_path(struct imgcache_http *,
		    const char *urlpath, const char *token,
		    imgcache_sink_fn sink, void *sink_arg);
int		imgcache_http_upload_path(struct imgcache_http *,
		    const char *urlpath, const char *token, const char *path);

struct imgcache_opts {
	const char		*dir;	/* absolute; created (0755) if missing */
	struct imgcache_source	 source;
	uint64_t		 max_image_size;	/* 0: default */
	uint64_t		 max_virtual_size;	/* 0: default */
	unsigned		 grace_sec;		/* 0: default */
	/* Clock for idle times, seconds (tests); NULL: CLOCK_MONOTONIC. */
	uint64_t		(*now)(void *arg);
	void			*now_arg;
};

/* What the control plane says about an image; borrowed for the call. */
struct imgcache_image {
	const char	*id;		/* canonical lowercase UUID */
	const char	*disk_format;	/* declared Glance disk_format */
	const char	*sha512;	/* os_hash_value: 128 hex digits */
	uint64_t	 size;		/* bytes; 0: unknown */
	/* Passed to the source's fetch if this get downloads the image (a
	 * get that waits for another's download uses that one's); NULL:
	 * none. Never logged. */
	const char	*token;
};

/* A cached base, as a get returns it. */
struct imgcache_base {
	char		path[IMGCACHE_PATH_MAX];
	char		format[16];	/* qemu driver for -F / <driver type> */
	uint64_t	size;		/* bytes of the file */
	uint64_t	virtual_size;
};

struct imgcache;

/* Opens (creating) the cache directory, removes partial downloads and
 * registers the files already there as unverified and idle. opts->source
 * is copied (its arg is borrowed for the cache's lifetime). */
struct imgcache	*imgcache_new(const struct imgcache_opts *);
/* Waits for nothing: call it when no get is running. Accepts NULL. */
void		 imgcache_free(struct imgcache **);

/*
 * The verified base of image img for owner (an instance UUID), fetching
 * and checking it if needed; adds owner's reference (adding it twice is
 * one reference). -1 with TS_EINVALID (bad arguments; the image is unsafe,
 * its format is not the declared one, or it is too large), TS_ECONFLICT
 * (the checksum differs from the cached image's while instances use it),
 * TS_EIO (checksum or size mismatch, disk errors), or the source's error.
 */
int	imgcache_get(struct imgcache *, const struct imgcache_image *img,
	    const char *owner, struct imgcache_base *out);
/*
 * Adds owner's reference to an image whose file is in the cache, without
 * verifying it (agent restart: the instance's disk already uses it).
 * TS_ENOT_FOUND if there is no such file.
 */
int	imgcache_ref_add(struct imgcache *, const char *image_id,
	    const char *owner);
/* Drops owner's reference; unknown image or owner: 0. */
int	imgcache_release(struct imgcache *, const char *image_id,
	    const char *owner);
/* Every reference owner holds, whatever the image (instance deleted). */
void	imgcache_release_owner(struct imgcache *, const char *owner);

/*
 * Deletes every image without references idle for grace_sec or more and
 * every partial download not being written. Returns how many files were
 * deleted, or -1 (the first error; the others are still tried).
 */
int	imgcache_prune(struct imgcache *);

/* References held on image_id (0 if none or unknown). */
size_t	imgcache_refs(struct imgcache *, const char *image_id);

#endif
