/*
 * zmtp: see zmtp.h for the contract.
 *
 * Wire formats (RFC 23 ZMTP 3.0, RFC 37 ZMTP 3.1, RFC 26 CurveZMQ as
 * libzmq 4.3 implements it):
 *   greeting  0xff, 8 padding bytes, 0x7f, major 3, minor, mechanism
 *             (20 bytes, NUL-padded), as-server, 31 filler bytes: 64 bytes.
 *   frame     flags (0x01 MORE, 0x02 LONG, 0x04 COMMAND, others reserved),
 *             size (1 byte, or 8 bytes big-endian with LONG), body.
 *   command   name length (1 byte), name, data.
 *   metadata  name length (1 byte), name, value length (4 bytes
 *             big-endian), value; repeated to the end of the command.
 *   CURVE     HELLO (200 bytes) -> WELCOME (168) -> INITIATE (>= 257) ->
 *             READY; then every frame is a MESSAGE command sent as a
 *             plain frame: "\7MESSAGE", 8-byte nonce, box of a flags byte
 *             (0x01 MORE, 0x02 COMMAND) and the payload.
 *
 * Invariants:
 *  - Input lives in c->in[c->ioff, c->ilen). A frame is parsed only once
 *    its header is complete, and its size is checked against the state's
 *    maximum before the buffer grows for its body. c->need is how many
 *    bytes from c->ioff the parser needs next; rspace() makes room for
 *    that many and no more (growing by doubling as the frame's bytes
 *    arrive), so a large frame grows the buffer only while it is read. The buffer is freed whenever next() returns ZMTP_NONE
 *    with nothing left in it, so an idle connection holds no input buffer.
 *  - Output lives in c->out[c->ooff, c->olen); c->ends[c->eoff, c->nends)
 *    are the end offsets of the messages queued by zmtp_conn_send(), for
 *    zmtp_conn_queued(). Both are freed once everything is written.
 *  - c->hs exists only during the CURVE handshake: short-term secret,
 *    cookie key. It is wiped and freed when the handshake ends (either
 *    way). c->precom (the session key) and the keys are wiped in free().
 *  - Once c->state is ST_DEAD every call fails; only pending output (an
 *    ERROR command) may still be written.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "err.h"
#include "zmtp.h"

#define GREETING_LEN	64
#define SIG_LEN		10
#define MECH_LEN	20

#define F_MORE		0x01
#define F_LONG		0x02
#define F_COMMAND	0x04
#define F_RESERVED	0xf8

/* Flags inside a CURVE MESSAGE box. */
#define MF_MORE		0x01
#define MF_COMMAND	0x02

/* Largest metadata block accepted in READY / INITIATE: Socket-Type and
 * Identity take at most 290 bytes; the rest is room for a libzmq client's
 * ZMQ_METADATA properties, which we ignore. */
#define META_MAX	4096
/* Largest command frame after the handshake (PING, and commands that
 * are ignored). */
#define CMD_MAX		512
#define PING_CTX_MAX	16

#define HELLO_LEN	200
#define WELCOME_LEN	168
#define INITIATE_MIN	257
#define COOKIE_LEN	96	/* 16-byte nonce + box of C' and s' */
/* A CURVE MESSAGE's bytes around its payload: name, nonce, MAC, flags. */
#define MSG_OVERHEAD	(8 + 8 + crypto_box_MACBYTES + 1)

/* Input buffer while frames are small. */
#define IN_SMALL	2048

enum state {
	ST_GREETING,
	ST_HELLO,	/* CURVE: waiting for HELLO */
	ST_INITIATE,	/* CURVE: waiting for INITIATE */
	ST_NREADY,	/* NULL: waiting for the client's READY */
	ST_READY,	/* handshake done, ZMTP_READY not yet returned */
	ST_OPEN,
	ST_DEAD,
};

struct handshake {
	uint8_t	 cn_client[crypto_box_PUBLICKEYBYTES];	/* C' */
	uint8_t	 cn_public[crypto_box_PUBLICKEYBYTES];	/* S' */
	uint8_t	 cn_secret[crypto_box_SECRETKEYBYTES];	/* s' */
	uint8_t	 cookie_key[crypto_secretbox_KEYBYTES];
};

struct zmtp_conn {
	const struct zmtp_cfg	*cfg;
	enum state		 state;
	int			 dead_code;	/* enum ts_errcode */

	uint8_t			*in;
	size_t			 icap, ioff, ilen, need;

	uint8_t			*out;
	size_t			 ocap, ooff, olen;
	size_t			*ends;
	size_t			 ecap, eoff, nends;

	struct handshake	*hs;
	uint8_t			 precom[crypto_box_BEFORENMBYTES];
	uint64_t		 nonce;		/* our last short nonce */
	uint64_t		 peer_nonce;	/* the peer's last one */

	uint8_t			 key[ZMTP_KEY_LEN];	/* C */
	char			*names;		/* "host\0rid\0", after READY */
	size_t			 host_len;
	uint64_t		 pongs;
	/* End offset in c->out of the last PONG queued: while it is not
	 * written (c->ooff < pong_end), PINGs are not answered again. */
	size_t			 pong_end;
	int			 opened;	/* ZMTP_READY was returned */
};

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Record a protocol failure once; the connection stays dead. */
static int
fail(struct zmtp_conn *c, enum ts_errcode code, const char *why)
{
	err_set(code, "zmtp: %s", why);
	c->state = ST_DEAD;
	c->dead_code = code;
	if (c->hs != NULL) {
		sodium_memzero(c->hs, sizeof(*c->hs));
		free(c->hs);
		c->hs = NULL;
	}
	return -1;
}

static int
dead(const struct zmtp_conn *c)
{
	err_set((enum ts_errcode)c->dead_code, "zmtp: the connection failed");
	return -1;
}

/* Room for n more output bytes at c->out + c->olen. */
static int
out_reserve(struct zmtp_conn *c, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (c->ooff > 0 && c->ooff >= c->olen / 2) {
		/* Move what is unwritten to the front, so a steady backlog
		 * does not grow the buffer forever. */
		memmove(c->out, c->out + c->ooff, c->olen - c->ooff);
		for (size_t i = c->eoff; i < c->nends; i++)
			c->ends[i - c->eoff] = c->ends[i] - c->ooff;
		c->nends -= c->eoff;
		c->eoff = 0;
		c->pong_end = c->pong_end > c->ooff ? c->pong_end - c->ooff : 0;
		c->olen -= c->ooff;
		c->ooff = 0;
	}
	if (n <= c->ocap - c->olen)
		return 0;
	if (n > SIZE_MAX / 2 - c->olen) {
		err_set(TS_ENOMEM, "zmtp: output too large");
		return -1;
	}
	cap = c->ocap ? c->ocap : 256;
	while (cap < c->olen + n)
		cap *= 2;
	if ((p = realloc(c->out, cap)) == NULL) {
		err_set(TS_ENOMEM, "zmtp: output buffer of %zu bytes", cap);
		return -1;
	}
	c->out = p;
	c->ocap = cap;
	return 0;
}

/* Write a frame header for a body of n bytes; returns its length. */
static size_t
frame_header(uint8_t *p, uint8_t flags, size_t n)
{
	if (n > 255) {
		p[0] = flags | F_LONG;
		put64(p + 1, n);
		return 9;
	}
	p[0] = flags;
	p[1] = (uint8_t)n;
	return 2;
}

/* Queue one plain (unencrypted) frame. */
static int
out_frame(struct zmtp_conn *c, uint8_t flags, const void *a, size_t alen,
    const void *b, size_t blen)
{
	uint8_t *p;

	if (out_reserve(c, 9 + alen + blen) == -1)
		return -1;
	p = c->out + c->olen;
	p += frame_header(p, flags, alen + blen);
	if (alen > 0)
		memcpy(p, a, alen);
	if (blen > 0)
		memcpy(p + alen, b, blen);
	c->olen = (size_t)(p + alen + blen - c->out);
	return 0;
}

/* Queue a CURVE MESSAGE: plaintext = flags byte, a, b. */
static int
out_message(struct zmtp_conn *c, uint8_t mflags, const void *a, size_t alen,
    const void *b, size_t blen)
{
	uint8_t nonce[crypto_box_NONCEBYTES], *p, *box;
	size_t body = MSG_OVERHEAD + alen + blen;

	if (out_reserve(c, 9 + body) == -1)
		return -1;
	p = c->out + c->olen;
	p += frame_header(p, 0, body);
	memcpy(p, "\7MESSAGE", 8);
	c->nonce++;
	put64(p + 8, c->nonce);
	memcpy(nonce, "CurveZMQMESSAGES", 16);
	put64(nonce + 16, c->nonce);
	box = p + 16;
	/* The plaintext is laid out after the MAC's room and sealed in
	 * place (libsodium allows overlapping buffers). */
	box[crypto_box_MACBYTES] = mflags;
	if (alen > 0)
		memcpy(box + crypto_box_MACBYTES + 1, a, alen);
	if (blen > 0)
		memcpy(box + crypto_box_MACBYTES + 1 + alen, b, blen);
	if (crypto_box_easy_afternm(box, box + crypto_box_MACBYTES,
	    1 + alen + blen, nonce, c->precom) != 0) {
		err_set(TS_EINTERNAL, "zmtp: crypto_box_easy_afternm failed");
		return -1;
	}
	c->olen = (size_t)(p + body - c->out);
	return 0;
}

static int
out_command(struct zmtp_conn *c, const void *cmd, size_t len)
{
	return out_frame(c, F_COMMAND, cmd, len, NULL, 0);
}

static const uint8_t server_meta[] =
    "\013Socket-Type\0\0\0\6ROUTER"
    "\010Identity\0\0\0\0";
#define SERVER_META_LEN	(sizeof(server_meta) - 1)

struct zmtp_conn *
zmtp_conn_new(const struct zmtp_cfg *cfg)
{
	struct zmtp_conn *c;
	uint8_t g[GREETING_LEN];

	if (cfg->max_msg_size < 1 || (cfg->curve && cfg->allow == NULL)) {
		err_set(TS_EINVALID, "zmtp: max_msg_size below 1 or no allow()");
		return NULL;
	}
	if (sodium_init() < 0) {
		err_set(TS_EINTERNAL, "zmtp: sodium_init failed");
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		err_set(TS_ENOMEM, "zmtp: connection");
		return NULL;
	}
	c->cfg = cfg;
	c->state = ST_GREETING;
	c->need = 1;

	memset(g, 0, sizeof(g));
	g[0] = 0xff;
	g[8] = 1;	/* padding: a ZMTP 1.0 peer reads an empty identity */
	g[9] = 0x7f;
	g[10] = 3;
	g[11] = 1;
	memcpy(g + 12, cfg->curve ? "CURVE" : "NULL", cfg->curve ? 5 : 4);
	g[32] = cfg->curve ? 1 : 0;	/* as-server: only CURVE has roles */
	if (out_reserve(c, sizeof(g)) == -1) {
		free(c);
		return NULL;
	}
	memcpy(c->out, g, sizeof(g));
	c->olen = sizeof(g);
	return c;
}

/* Drops the input buffer, wiped: messages are decrypted in place, and
 * what agents send may carry secrets (a volume's CHAP credentials). */
static void
in_release(struct zmtp_conn *c)
{
	if (c->in != NULL) {
		sodium_memzero(c->in, c->icap);
		free(c->in);
	}
	c->in = NULL;
	c->icap = c->ioff = c->ilen = 0;
}

void
zmtp_conn_free(struct zmtp_conn **cp)
{
	struct zmtp_conn *c;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	if (c->hs != NULL) {
		sodium_memzero(c->hs, sizeof(*c->hs));
		free(c->hs);
	}
	in_release(c);
	free(c->out);
	free(c->ends);
	free(c->names);
	sodium_memzero(c, sizeof(*c));
	free(c);
	*cp = NULL;
}

int
zmtp_conn_rspace(struct zmtp_conn *c, uint8_t **p, size_t *room)
{
	size_t held, want;
	uint8_t *n;

	if (c->state == ST_DEAD)
		return dead(c);
	held = c->ilen - c->ioff;
	if (held == 0)
		c->ioff = c->ilen = 0;
	/* Room for the bytes the parser needs, and a small buffer at least
	 * (reads of small frames come in batches). A large frame's room
	 * doubles with the bytes that actually arrived: a header alone
	 * does not make us allocate what it declares. */
	want = IN_SMALL;
	if (c->need > IN_SMALL) {
		want = held > IN_SMALL / 2 ? 2 * held : IN_SMALL;
		if (want > c->need)
			want = c->need;
	}
	if (held >= c->need)	/* the caller read without next(): keep going */
		want = held + IN_SMALL;
	if (c->ioff > 0 && c->ioff + want > c->icap) {
		memmove(c->in, c->in + c->ioff, held);
		c->ioff = 0;
		c->ilen = held;
	}
	if (c->icap > IN_SMALL && want <= IN_SMALL && held <= IN_SMALL) {
		/* A large frame was read: shrink back. */
		if ((n = malloc(IN_SMALL)) == NULL) {
			err_set(TS_ENOMEM, "zmtp: input buffer");
			return -1;
		}
		memcpy(n, c->in + c->ioff, held);
		sodium_memzero(c->in, c->icap);
		free(c->in);
		c->in = n;
		c->icap = IN_SMALL;
		c->ioff = 0;
		c->ilen = held;
	} else if (c->ioff + want > c->icap) {
		/* Not realloc(): the old block, which may hold decrypted
		 * messages, is wiped before it goes back. */
		if ((n = malloc(c->ioff + want)) == NULL) {
			err_set(TS_ENOMEM, "zmtp: input buffer of %zu bytes",
			    c->ioff + want);
			return -1;
		}
		if (c->in != NULL) {
			memcpy(n, c->in, c->ilen);
			sodium_memzero(c->in, c->icap);
			free(c->in);
		}
		c->in = n;
		c->icap = c->ioff + want;
	}
	*p = c->in + c->ilen;
	*room = c->icap - c->ilen;
	return 0;
}

void
zmtp_conn_rdone(struct zmtp_conn *c, size_t n)
{
	if (n > c->icap - c->ilen)	/* caller bug: never past the room */
		n = c->icap - c->ilen;
	c->ilen += n;
	/* The read found nothing (EAGAIN): an idle connection holds no
	 * input buffer. */
	if (n == 0 && c->ilen == c->ioff)
		in_release(c);
}

/* The greeting's checks, as bytes arrive: a ZMTP 1.0/2.0 peer sends only
 * a short greeting and waits, so it is refused from its first bytes. */
static int
greeting(struct zmtp_conn *c)
{
	const uint8_t *g = c->in + c->ioff;
	size_t have = c->ilen - c->ioff;
	const char *mech = c->cfg->curve ? "CURVE" : "NULL";
	uint8_t want[MECH_LEN], cmd[6 + SERVER_META_LEN];

	if (have >= 1 && g[0] != 0xff)
		return fail(c, TS_EDECODE, "not a ZMTP 3 greeting");
	if (have >= SIG_LEN && (g[9] & 1) == 0)
		return fail(c, TS_EDECODE, "ZMTP 1.0 peer refused");
	if (have >= SIG_LEN + 1 && g[10] != 3)
		return fail(c, TS_EDECODE, "peer's ZMTP major version is not 3");
	if (have < GREETING_LEN) {
		c->need = GREETING_LEN;
		return 0;
	}
	memset(want, 0, sizeof(want));
	memcpy(want, mech, strlen(mech));
	if (memcmp(g + 12, want, MECH_LEN) != 0)
		return fail(c, TS_EDECODE, "security mechanism mismatch");
	if (c->cfg->curve && g[32] != 0)
		return fail(c, TS_EDECODE, "CURVE peer claims the server role");
	c->ioff += GREETING_LEN;
	c->need = 2;
	if (c->cfg->curve) {
		c->state = ST_HELLO;
		return 0;
	}
	c->state = ST_NREADY;
	memcpy(cmd, "\5READY", 6);
	memcpy(cmd + 6, server_meta, SERVER_META_LEN);
	return out_command(c, cmd, sizeof(cmd));
}

static int
name_char(uint8_t ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' ||
	    ch == '+';
}

/*
 * The client's metadata: Socket-Type must be DEALER, Identity (optional,
 * at most ZMTP_RID_MAX bytes, no NUL: it becomes a C string) is the
 * routing id (*rid, *ridlen; NULL, 0 without one). Each at most once;
 * other well-formed properties are ignored.
 */
static int
metadata(struct zmtp_conn *c, const uint8_t *p, size_t len,
    const uint8_t **rid, size_t *ridlen)
{
	int type = 0, ident = 0;

	*rid = NULL;
	*ridlen = 0;

	while (len > 0) {
		size_t nlen = p[0];
		const uint8_t *name = p + 1;
		uint32_t vlen;

		if (nlen == 0 || len < 1 + nlen + 4)
			return fail(c, TS_EDECODE, "truncated metadata");
		for (size_t i = 0; i < nlen; i++)
			if (!name_char(name[i]))
				return fail(c, TS_EDECODE,
				    "bad metadata property name");
		vlen = get32(name + nlen);
		p += 1 + nlen + 4;
		len -= 1 + nlen + 4;
		if (vlen > len)
			return fail(c, TS_EDECODE, "truncated metadata");
		if (nlen == 11 && strncasecmp((const char *)name,
		    "Socket-Type", 11) == 0) {
			if (type++)
				return fail(c, TS_EDECODE,
				    "Socket-Type given twice");
			if (vlen != 6 || memcmp(p, "DEALER", 6) != 0)
				return fail(c, TS_EDECODE,
				    "peer is not a DEALER");
		} else if (nlen == 8 && strncasecmp((const char *)name,
		    "Identity", 8) == 0) {
			if (ident++)
				return fail(c, TS_EDECODE,
				    "Identity given twice");
			if (vlen > ZMTP_RID_MAX || memchr(p, 0, vlen) != NULL)
				return fail(c, TS_EDECODE, "bad Identity");
			*rid = p;
			*ridlen = vlen;
		}
		p += vlen;
		len -= vlen;
	}
	if (!type)
		return fail(c, TS_EDECODE, "no Socket-Type");
	return 0;
}

/* c->names = "host\0rid\0". */
static int
names_set(struct zmtp_conn *c, const char *host, const uint8_t *rid,
    size_t ridlen)
{
	size_t hlen = strlen(host);

	if ((c->names = malloc(hlen + 1 + ridlen + 1)) == NULL) {
		err_set(TS_ENOMEM, "zmtp: names");
		return -1;
	}
	memcpy(c->names, host, hlen + 1);
	if (ridlen > 0)
		memcpy(c->names + hlen + 1, rid, ridlen);
	c->names[hlen + 1 + ridlen] = '\0';
	c->host_len = hlen;
	return 0;
}

/* Command name check: body starts with the length-prefixed name. */
static int
is_cmd(const uint8_t *b, size_t len, const char *name)
{
	size_t n = strlen(name);

	return len >= 1 + n && b[0] == n && memcmp(b + 1, name, n) == 0;
}

static int
null_ready(struct zmtp_conn *c, const uint8_t *b, size_t len)
{
	const uint8_t *rid;
	size_t ridlen;

	if (!is_cmd(b, len, "READY"))
		return fail(c, TS_EDECODE, "expected READY");
	if (metadata(c, b + 6, len - 6, &rid, &ridlen) == -1 ||
	    names_set(c, "", rid, ridlen) == -1)
		return -1;
	c->state = ST_READY;
	return 0;
}

static int
hello(struct zmtp_conn *c, const uint8_t *b, size_t len)
{
	uint8_t nonce[crypto_box_NONCEBYTES], plain[64];
	uint8_t cookie[COOKIE_LEN], cnonce[crypto_secretbox_NONCEBYTES];
	uint8_t wplain[128], welcome[WELCOME_LEN];
	uint8_t longkey[crypto_box_BEFORENMBYTES];	/* C' and s */
	struct handshake *hs;
	int rc;

	if (!is_cmd(b, len, "HELLO"))
		return fail(c, TS_EDECODE, "expected HELLO");
	if (len != HELLO_LEN)
		return fail(c, TS_EDECODE, "HELLO of the wrong size");
	if (b[6] != 1 || b[7] != 0)
		return fail(c, TS_EDECODE, "CurveZMQ version is not 1.0");
	if (!sodium_is_zero(b + 8, 72))
		return fail(c, TS_EDECODE, "HELLO padding is not zero");
	if ((hs = calloc(1, sizeof(*hs))) == NULL) {
		err_set(TS_ENOMEM, "zmtp: handshake");
		return -1;
	}
	c->hs = hs;
	memcpy(hs->cn_client, b + 80, 32);
	memcpy(nonce, "CurveZMQHELLO---", 16);
	memcpy(nonce + 16, b + 112, 8);
	c->peer_nonce = get64(b + 112);
	/* The signature box proves the client knows our public key. C'
	 * and s box WELCOME too: one key exchange for both (a stranger can
	 * replay one HELLO at no cost; each costs us these X25519s). */
	if (crypto_box_beforenm(longkey, hs->cn_client,
	    c->cfg->secret_key) != 0)
		return fail(c, TS_EDECODE, "bad client short-term key");
	rc = crypto_box_open_easy_afternm(plain, b + 120, 80, nonce, longkey);
	if (rc != 0) {
		sodium_memzero(longkey, sizeof(longkey));
		return fail(c, TS_EDECODE, "HELLO box does not open "
		    "(client has the wrong server key?)");
	}
	if (!sodium_is_zero(plain, sizeof(plain))) {
		sodium_memzero(longkey, sizeof(longkey));
		return fail(c, TS_EDECODE, "HELLO signature is not zero");
	}

	crypto_box_keypair(hs->cn_public, hs->cn_secret);
	crypto_secretbox_keygen(hs->cookie_key);
	/* cookie = nonce + Box[C' + s'](cookie key): proves in INITIATE
	 * that the client answers this WELCOME. */
	memcpy(cnonce, "COOKIE--", 8);
	randombytes_buf(cnonce + 8, 16);
	memcpy(wplain, hs->cn_client, 32);
	memcpy(wplain + 32, hs->cn_secret, 32);
	memcpy(cookie, cnonce + 8, 16);
	crypto_secretbox_easy(cookie + 16, wplain, 64, cnonce, hs->cookie_key);
	memcpy(wplain, hs->cn_public, 32);
	memcpy(wplain + 32, cookie, COOKIE_LEN);
	memcpy(welcome, "\7WELCOME", 8);
	memcpy(nonce, "WELCOME-", 8);
	randombytes_buf(nonce + 8, 16);
	memcpy(welcome + 8, nonce + 8, 16);
	rc = crypto_box_easy_afternm(welcome + 24, wplain, 128, nonce,
	    longkey);
	sodium_memzero(wplain, sizeof(wplain));
	sodium_memzero(longkey, sizeof(longkey));
	if (rc != 0)
		return fail(c, TS_EINTERNAL, "WELCOME box failed");
	if (crypto_box_beforenm(c->precom, hs->cn_client, hs->cn_secret) != 0)
		return fail(c, TS_EDECODE, "bad client short-term key");
	c->state = ST_INITIATE;
	return out_command(c, welcome, sizeof(welcome));
}

static int
initiate(struct zmtp_conn *c, uint8_t *b, size_t len)
{
	struct handshake *hs = c->hs;
	uint8_t nonce[crypto_box_NONCEBYTES], plain[64];
	uint8_t *box, *ip;
	const uint8_t *rid;
	size_t blen, ridlen;
	uint64_t n;
	char host[ZMTP_HOST_MAX + 1];
	static const uint8_t err400[] = "\5ERROR" "\3" "400";

	if (!is_cmd(b, len, "INITIATE"))
		return fail(c, TS_EDECODE, "expected INITIATE");
	if (len < INITIATE_MIN)
		return fail(c, TS_EDECODE, "INITIATE too short");
	/* The cookie must be the one this connection's WELCOME sent. */
	memcpy(nonce, "COOKIE--", 8);
	memcpy(nonce + 8, b + 9, 16);
	if (crypto_secretbox_open_easy(plain, b + 25, 80, nonce,
	    hs->cookie_key) != 0)
		return fail(c, TS_EDECODE, "INITIATE cookie does not open");
	if (sodium_memcmp(plain, hs->cn_client, 32) != 0 ||
	    sodium_memcmp(plain + 32, hs->cn_secret, 32) != 0) {
		sodium_memzero(plain, sizeof(plain));
		return fail(c, TS_EDECODE, "INITIATE cookie is not ours");
	}
	sodium_memzero(plain, sizeof(plain));
	n = get64(b + 105);
	if (n <= c->peer_nonce)
		return fail(c, TS_EDECODE, "INITIATE nonce not above HELLO's");
	c->peer_nonce = n;
	memcpy(nonce, "CurveZMQINITIATE", 16);
	memcpy(nonce + 16, b + 105, 8);
	/* Opened in place in the input buffer: the plaintext starts at box. */
	box = b + 113;
	blen = len - 113;
	if (crypto_box_open_easy_afternm(box, box, blen, nonce,
	    c->precom) != 0)
		return fail(c, TS_EDECODE, "INITIATE box does not open");
	ip = box;	/* C, vouch nonce, vouch box, metadata */
	blen -= crypto_box_MACBYTES;
	memcpy(nonce, "VOUCH---", 8);
	memcpy(nonce + 8, ip + 32, 16);
	if (crypto_box_open_easy(plain, ip + 48, 80, nonce, ip,
	    hs->cn_secret) != 0)
		return fail(c, TS_EDECODE, "vouch does not open");
	/* The vouch binds the long-term key C to this C' and to us (S). */
	if (sodium_memcmp(plain, hs->cn_client, 32) != 0)
		return fail(c, TS_EDECODE, "vouch names another C'");
	if (sodium_memcmp(plain + 32, c->cfg->public_key, 32) != 0)
		return fail(c, TS_EDECODE, "vouch names another server");
	memcpy(c->key, ip, ZMTP_KEY_LEN);
	/* A peer we would refuse anyway is not looked up. */
	if (metadata(c, ip + 128, blen - 128, &rid, &ridlen) == -1)
		return -1;

	memset(host, 0, sizeof(host));
	if (c->cfg->allow(c->key, host, sizeof(host), c->cfg->allow_arg) != 0) {
		/* "400": libzmq's client reports HANDSHAKE_FAILED_AUTH. */
		(void)out_command(c, err400, sizeof(err400) - 1);
		return fail(c, TS_EUNAUTHORIZED, "client key not allowed");
	}
	host[sizeof(host) - 1] = '\0';
	if (names_set(c, host, rid, ridlen) == -1)
		return -1;

	/* The handshake secrets are no longer needed: wipe them now. */
	sodium_memzero(hs, sizeof(*hs));
	free(hs);
	c->hs = NULL;
	{
		uint8_t ready[6 + 8 + crypto_box_MACBYTES + SERVER_META_LEN];

		memcpy(ready, "\5READY", 6);
		c->nonce++;
		put64(ready + 6, c->nonce);
		memcpy(nonce, "CurveZMQREADY---", 16);
		put64(nonce + 16, c->nonce);
		if (crypto_box_easy_afternm(ready + 14, server_meta,
		    SERVER_META_LEN, nonce, c->precom) != 0)
			return fail(c, TS_EINTERNAL, "READY box failed");
		if (out_command(c, ready, sizeof(ready)) == -1)
			return -1;
	}
	c->state = ST_READY;
	return 0;
}

/* A command after the handshake (already decrypted): PING is answered,
 * anything else ignored. */
static int
command(struct zmtp_conn *c, const uint8_t *b, size_t len)
{
	int rc;

	if (len < 1 || (size_t)b[0] + 1 > len)
		return fail(c, TS_EDECODE, "malformed command");
	if (!is_cmd(b, len, "PING"))
		return 0;
	if (len < 7 || len - 7 > PING_CTX_MAX)
		return fail(c, TS_EDECODE, "malformed PING");
	/* A peer that PINGs and does not read would grow the output
	 * without bound: one unwritten PONG at a time, as libzmq (one
	 * pong message per engine) answers. */
	if (c->ooff < c->pong_end)
		return 0;
	if (c->cfg->curve)
		rc = out_message(c, MF_COMMAND, "\4PONG", 5, b + 7, len - 7);
	else
		rc = out_frame(c, F_COMMAND, "\4PONG", 5, b + 7, len - 7);
	if (rc == -1)
		return -1;
	c->pong_end = c->olen;
	c->pongs++;
	return 0;
}

/* A CURVE MESSAGE, opened in place; *plain, *plen: the payload. */
static int
message(struct zmtp_conn *c, uint8_t *b, size_t len, uint8_t *mflags,
    uint8_t **plain, size_t *plen)
{
	uint8_t nonce[crypto_box_NONCEBYTES];
	uint64_t n;

	if (len < MSG_OVERHEAD || memcmp(b, "\7MESSAGE", 8) != 0)
		return fail(c, TS_EDECODE, "expected MESSAGE");
	n = get64(b + 8);
	if (n <= c->peer_nonce)
		return fail(c, TS_EDECODE, "MESSAGE nonce replayed or reordered");
	memcpy(nonce, "CurveZMQMESSAGEC", 16);
	memcpy(nonce + 16, b + 8, 8);
	if (crypto_box_open_easy_afternm(b + 16, b + 16, len - 16, nonce,
	    c->precom) != 0)
		return fail(c, TS_EDECODE, "MESSAGE box does not open");
	/* Only a message that opened moves the window: a forged one must
	 * not burn nonces. */
	c->peer_nonce = n;
	*mflags = b[16];
	if (*mflags & ~(MF_MORE | MF_COMMAND))
		return fail(c, TS_EDECODE, "reserved MESSAGE flags set");
	if ((*mflags & MF_COMMAND) && (*mflags & MF_MORE))
		return fail(c, TS_EDECODE, "command with MORE");
	*plain = b + 17;
	*plen = len - MSG_OVERHEAD;
	return 0;
}

/* Largest frame body the current state accepts, with these flags. */
static int
frame_max(const struct zmtp_conn *c, uint8_t flags, uint64_t *max)
{
	uint64_t m = (uint64_t)c->cfg->max_msg_size;

	switch (c->state) {
	case ST_HELLO:
		*max = HELLO_LEN;
		return flags & F_COMMAND ? 0 : -1;
	case ST_INITIATE:
		*max = INITIATE_MIN + META_MAX;
		return flags & F_COMMAND ? 0 : -1;
	case ST_NREADY:
		*max = 6 + META_MAX;
		return flags & F_COMMAND ? 0 : -1;
	default:
		break;
	}
	if (c->cfg->curve) {
		/* Every frame is a MESSAGE in a plain frame; MORE travels
		 * inside the box. */
		*max = m + MSG_OVERHEAD;
		return flags & (F_COMMAND | F_MORE) ? -1 : 0;
	}
	*max = flags & F_COMMAND ? CMD_MAX : m;
	return 0;
}

static int
next(struct zmtp_conn *c, struct zmtp_frame *out)
{
	uint8_t *h, *b, flags, mflags;
	size_t have, hlen, size;
	uint64_t size64, max;

	memset(out, 0, sizeof(*out));
	for (;;) {
		if (c->state == ST_DEAD)
			return dead(c);
		if (c->state == ST_READY) {
			c->state = ST_OPEN;
			c->opened = 1;
			return ZMTP_READY;
		}
		have = c->ilen - c->ioff;
		if (c->state == ST_GREETING) {
			if (greeting(c) == -1)
				return -1;
			if (c->state == ST_GREETING)
				goto more;
			continue;
		}
		h = c->in + c->ioff;
		c->need = 2;
		if (have < 1)
			goto more;
		flags = h[0];
		if (flags & F_RESERVED)
			return fail(c, TS_EDECODE, "reserved frame flags set");
		if ((flags & F_COMMAND) && (flags & F_MORE))
			return fail(c, TS_EDECODE, "command frame with MORE");
		if (frame_max(c, flags, &max) == -1)
			return fail(c, TS_EDECODE, "unexpected frame");
		hlen = flags & F_LONG ? 9 : 2;
		c->need = hlen;
		if (have < hlen)
			goto more;
		size64 = hlen == 9 ? get64(h + 1) : h[1];
		if (size64 > max)
			return fail(c, (flags & F_COMMAND) ||
			    c->state != ST_OPEN ? TS_EDECODE : TS_ETOO_LARGE,
			    "frame above its maximum size");
		if (size64 > SIZE_MAX - 9)
			return fail(c, TS_ETOO_LARGE, "frame too large here");
		size = (size_t)size64;
		c->need = hlen + size;
		if (have < c->need)
			goto more;
		b = h + hlen;
		c->ioff += c->need;
		c->need = 2;
		switch (c->state) {
		case ST_HELLO:
			if (hello(c, b, size) == -1)
				return -1;
			continue;
		case ST_INITIATE:
			if (initiate(c, b, size) == -1)
				return -1;
			continue;
		case ST_NREADY:
			if (null_ready(c, b, size) == -1)
				return -1;
			continue;
		default:
			break;
		}
		if (c->cfg->curve) {
			if (message(c, b, size, &mflags, &b, &size) == -1)
				return -1;
			if (mflags & MF_COMMAND) {
				if (command(c, b, size) == -1)
					return -1;
				continue;
			}
			out->more = (mflags & MF_MORE) != 0;
		} else {
			if (flags & F_COMMAND) {
				if (command(c, b, size) == -1)
					return -1;
				continue;
			}
			out->more = (flags & F_MORE) != 0;
		}
		out->data = b;
		out->len = size;
		return ZMTP_MSG;
	}
more:
	/* Idle: hold no input buffer. */
	if (c->ioff == c->ilen)
		in_release(c);
	return ZMTP_NONE;
}

int
zmtp_conn_next(struct zmtp_conn *c, struct zmtp_frame *out)
{
	int rc;

	if ((rc = next(c, out)) == -1 && c->state != ST_DEAD) {
		/* A failure outside the parser's own checks (memory): the
		 * frame is consumed, so the connection cannot go on. */
		c->state = ST_DEAD;
		c->dead_code = err_code();
		if (c->hs != NULL) {
			sodium_memzero(c->hs, sizeof(*c->hs));
			free(c->hs);
			c->hs = NULL;
		}
	}
	/* Nothing more will be parsed. */
	if (rc == -1)
		in_release(c);
	return rc;
}

int
zmtp_conn_send(struct zmtp_conn *c, const void *p, size_t n)
{
	size_t *e;
	int rc;

	if (c->state == ST_DEAD)
		return dead(c);
	if (c->state != ST_OPEN) {
		err_set(TS_EINVALID, "zmtp: send before the handshake");
		return -1;
	}
	if (c->nends == c->ecap) {
		size_t cap = c->ecap ? 2 * c->ecap : 4;

		if (c->eoff > 0) {
			memmove(c->ends, c->ends + c->eoff,
			    (c->nends - c->eoff) * sizeof(*c->ends));
			c->nends -= c->eoff;
			c->eoff = 0;
		} else {
			if ((e = realloc(c->ends, cap * sizeof(*e))) == NULL) {
				err_set(TS_ENOMEM, "zmtp: send queue");
				return -1;
			}
			c->ends = e;
			c->ecap = cap;
		}
	}
	if (c->cfg->curve)
		rc = out_message(c, 0, p, n, NULL, 0);
	else
		rc = out_frame(c, 0, p, n, NULL, 0);
	if (rc == -1)
		return -1;
	c->ends[c->nends++] = c->olen;
	return 0;
}

size_t
zmtp_conn_pending(struct zmtp_conn *c, const uint8_t **p)
{
	*p = c->out == NULL ? NULL : c->out + c->ooff;
	return c->olen - c->ooff;
}

void
zmtp_conn_sent(struct zmtp_conn *c, size_t n)
{
	if (n > c->olen - c->ooff)	/* caller bug: never past the end */
		n = c->olen - c->ooff;
	c->ooff += n;
	while (c->eoff < c->nends && c->ends[c->eoff] <= c->ooff)
		c->eoff++;
	if (c->ooff == c->olen) {
		free(c->out);
		free(c->ends);
		c->out = NULL;
		c->ends = NULL;
		c->ocap = c->ooff = c->olen = 0;
		c->ecap = c->eoff = c->nends = 0;
		c->pong_end = 0;
	}
}

size_t
zmtp_conn_queued(const struct zmtp_conn *c)
{
	return c->nends - c->eoff;
}

const char *
zmtp_conn_host(const struct zmtp_conn *c)
{
	return c->opened ? c->names : NULL;
}

const char *
zmtp_conn_rid(const struct zmtp_conn *c)
{
	return c->opened ? c->names + c->host_len + 1 : NULL;
}

const uint8_t *
zmtp_conn_key(const struct zmtp_conn *c)
{
	return c->opened && c->cfg->curve ? c->key : NULL;
}

uint64_t
zmtp_conn_pongs(const struct zmtp_conn *c)
{
	return c->pongs;
}

size_t
zmtp_conn_footprint(const struct zmtp_conn *c)
{
	size_t n;

	if (c == NULL)
		return 0;
	n = sizeof(*c) + c->icap + c->ocap + c->ecap * sizeof(*c->ends);
	if (c->hs != NULL)
		n += sizeof(*c->hs);
	if (c->names != NULL)
		n += c->host_len + 1 + strlen(c->names + c->host_len + 1) + 1;
	return n;
}
