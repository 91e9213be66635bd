/*
 * codec: the msgpack wire and storage format of every schema type.
 *
 * The .schema files in schemas/ define structs, bus messages and LMDB records;
 * tools/gen_schema.py turns them into plain C structs plus descriptor tables
 * (struct schema_type, in generated msg_gen.h). This module is the one
 * generic encoder/decoder that walks those tables; there is no per-message
 * code anywhere.
 *
 * Wire form of an object: a msgpack map keyed by field name, fields in schema
 * order, absent optional fields omitted. A stored record (codec_record_*)
 * is the same map keyed by field number instead (a positive int, 1 byte for
 * numbers up to 127), in the record and in every struct inside it: the
 * numbers come from schemas/fields.lock (tools/gen_schema.py), fixed per
 * field, so stored records do not repeat the names (issue 18). Bus messages
 * keep names: an agent of the previous release must still read them during
 * a rolling upgrade, and a message lives for one hop. The record decoder
 * accepts either key form, per key (stores written before DB schema 15 hold
 * names until `db sync` rewrites them); a field given both ways is a
 * duplicate key. bool -> bool, u32/u64/i64 -> the
 * smallest msgpack int, str/uuid -> str, bytes -> bin, strmap -> map of str,
 * list -> array, struct -> map.
 *
 * Decoding treats the input as hostile. It never uses msgpack-c's unpacker
 * (which allocates from declared lengths); it reads with a bounded cursor and
 * checks every declared length against the bytes remaining and the schema
 * maximum before allocating, limits nesting to CODEC_MAX_DEPTH, and rejects
 * wrong types, missing required fields, duplicate known keys, NUL bytes in
 * strings, malformed UUIDs and trailing bytes. Unknown map keys are skipped
 * (so a newer peer may add optional fields during a rolling upgrade); their
 * values are bounded by the input size and the depth limit. Every error is
 * TS_EDECODE with the field path ("agent_hello.guests[3].uuid: not a UUID").
 *
 * C mapping of schema types (what generated structs contain):
 *   bool bool · u32 uint32_t · u64 uint64_t · i64 int64_t
 *   str     char *, owned, NUL-terminated; NULL = absent (optional only)
 *   bytes   struct ts_bytes; ptr NULL = absent (optional only)
 *   uuid    char[CODEC_UUID_LEN + 1], canonical lowercase; "" = absent
 *           (optional only)
 *   strmap  struct ts_strmap; items NULL = absent (optional only)
 *   list<T> struct { T *items; size_t n; }; items NULL = absent (optional
 *           only); T is one of the above scalars or a struct
 *   struct  the nested struct inline
 *   optional bool/u32/u64/i64/struct fields also get `bool has_<name>`.
 * A required str must be non-NULL when encoding; a required bytes, list or
 * strmap with a NULL pointer encodes as empty. The encoder enforces the same
 * maxima as the decoder, so anything it produces decodes.
 *
 * Ownership: a decoded object owns every pointer in it; codec_clear() frees
 * them all. Objects a caller fills by hand follow the same rule (strings and
 * arrays from malloc) if they are to be cleared with codec_clear().
 */
#ifndef TS_CODEC_H
#define TS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Version of the bus envelope. A peer speaking another version is refused. */
#define CODEC_PROTO_VERSION	1
/* Deepest container nesting accepted anywhere in an input, counting the
 * envelope or record array as level 1. */
#define CODEC_MAX_DEPTH		16
/* Most fields one schema type may have (the decoder's duplicate-key set). */
#define CODEC_MAX_FIELDS	128
/* Largest field number (schemas/fields.lock; gen_schema.py FIELD_NUM_MAX). */
#define CODEC_FIELD_NUM_MAX	65535
#define CODEC_UUID_LEN		36
#define CODEC_STRMAP_KEY_MAX	255
#define CODEC_STRMAP_VAL_MAX	65535
#define CODEC_REQUEST_ID_MAX	64
#define CODEC_SENDER_MAX	255
#define CODEC_MSG_NAME_MAX	64

struct ts_bytes {
	uint8_t	*ptr;
	size_t	 len;
};

struct ts_strmap {
	struct ts_strmap_ent {
		char	*k;
		char	*v;
	}	*items;
	size_t	 n;
};

/* Layout shared by every generated `struct { T *items; size_t n; }` (the
 * generator asserts the sizes match); the codec reads list headers through
 * memcpy into this. */
struct ts_list {
	void	*items;
	size_t	 n;
};

enum schema_dir {
	SCHEMA_FROM_AGENT = 0,
	SCHEMA_FROM_CONTROLLER,
	SCHEMA_FROM_ANY,	/* a message either side may send */
};

enum schema_kind {
	SCHEMA_KIND_STRUCT = 0,
	SCHEMA_KIND_MESSAGE,
	SCHEMA_KIND_RECORD,
};

enum schema_ftype {
	SCHEMA_T_BOOL = 0,
	SCHEMA_T_U32,
	SCHEMA_T_U64,
	SCHEMA_T_I64,
	SCHEMA_T_STR,
	SCHEMA_T_BYTES,
	SCHEMA_T_UUID,
	SCHEMA_T_STRMAP,
	SCHEMA_T_LIST,
	SCHEMA_T_STRUCT,
};

#define SCHEMA_F_OPTIONAL	0x1u
#define SCHEMA_F_SECRET		0x2u	/* codec_dump() prints "***" */

struct schema_type;

struct schema_field {
	const char		*name;
	uint32_t		 num;		/* key in stored records (fields.lock);
						   0 for a message's fields */
	enum schema_ftype	 type;
	enum schema_ftype	 elem;		/* element type of a list */
	unsigned		 flags;		/* SCHEMA_F_* */
	uint32_t		 max;		/* str/bytes: length; list/strmap: entries */
	uint32_t		 itemmax;	/* list<str>/list<bytes>: item length */
	uint32_t		 since;		/* record version that added the field;
						   older records may lack it (0 = always) */
	size_t			 offset;	/* of the field in the C struct */
	size_t			 has_offset;	/* of `bool has_<name>` (optional
						   bool/int/struct fields) */
	size_t			 elem_size;	/* list element size */
	const struct schema_type *nested;	/* struct or list<struct> */
};

struct schema_type {
	const char		*name;		/* as in the schema: "agent_hello" */
	enum schema_kind	 kind;
	size_t			 size;		/* sizeof the C struct */
	const struct schema_field *fields;
	size_t			 nfields;
	enum schema_dir		 dir;		/* messages: who sends it */
	uint32_t		 id;		/* messages: process-local id (enum
						   in msg_gen.h), never on the wire */
	uint32_t		 version;	/* records: current version */
	const char		*table;		/* records: LMDB table */
};

/* A decoded bus message. type is static; body is owned (free with
 * codec_envelope_clear()). */
struct codec_envelope {
	uint32_t		 version;
	const struct schema_type *type;
	char			 request_id[CODEC_REQUEST_ID_MAX + 1];
	char			 sender[CODEC_SENDER_MAX + 1];
	void			*body;
};

/* A zeroed object of the type, owned by the caller (NULL, TS_ENOMEM). */
void	*codec_new(const struct schema_type *);
/* codec_clear() the object *objp, free it and set *objp to NULL. objp is the
 * address of the caller's pointer, e.g. (void **)&msg; NULL or *objp NULL is
 * accepted. */
void	 codec_free(const struct schema_type *, void **objp);
/* Free every owned member of obj and zero it; the object itself is not
 * freed. Safe on a zeroed object and on a partly decoded one. */
void	 codec_clear(const struct schema_type *, void *obj);
/* Replace an object's owned string member *field with a copy of v (NULL
 * clears it). -1 TS_ENOMEM, *field unchanged. */
int	 codec_str_set(char **field, const char *v);

/*
 * Append the msgpack map of obj to out. Checks what the decoder would check
 * (maxima, required strings present, valid UUIDs); on failure returns -1
 * (TS_EINVALID naming the field, or TS_ENOMEM) with out->len unchanged.
 */
int	codec_encode(const struct schema_type *, const void *obj,
	    struct buf *out);
/*
 * Decode exactly one msgpack map of the type from buf[0..len) into obj. obj's
 * previous contents are overwritten, not freed: pass a zeroed or cleared
 * object. On failure returns -1 (TS_EDECODE, or TS_ENOMEM) and obj is left
 * cleared.
 */
int	codec_decode(const struct schema_type *, const uint8_t *buf, size_t len,
	    void *obj);

/*
 * Bus envelope: msgpack array [CODEC_PROTO_VERSION, type name, request id,
 * sender, body map]. request_id (<= CODEC_REQUEST_ID_MAX) and sender
 * (<= CODEC_SENDER_MAX) may be NULL for "". type must be a message.
 * Appends to out; -1 (TS_EINVALID/TS_ENOMEM) with out->len unchanged.
 */
int	codec_envelope_encode(const struct schema_type *, const void *body,
	    const char *request_id, const char *sender, struct buf *out);
/*
 * Decode an envelope. The message type is looked up by name among the
 * generated messages; an unknown type, another protocol version, or a
 * message that expected_from may not send (a controller-only message read
 * from an agent, say) is rejected. SCHEMA_FROM_ANY as expected_from accepts
 * every message (for tools, not daemons). out is overwritten (pass a zeroed
 * or cleared one); on success out->body is a new owned object. On failure
 * returns -1 (TS_EDECODE/TS_ENOMEM), out->body is NULL, and request_id,
 * sender and type keep whatever was decoded before the error ("" / NULL
 * otherwise) so the caller can address an error reply.
 */
int	codec_envelope_decode(const uint8_t *buf, size_t len,
	    enum schema_dir expected_from, struct codec_envelope *out);
/* Free the body and zero the envelope. NULL is accepted. */
void	codec_envelope_clear(struct codec_envelope *);
/*
 * The message type an envelope names, read from its first bytes and
 * nothing else checked (for counting what went out: the bus's classify
 * hook); NULL when buf does not start like an envelope or names no known
 * message. Records no error, allocates nothing.
 */
const struct schema_type *codec_envelope_peek_type(const uint8_t *buf,
	    size_t len);

/*
 * LMDB value: msgpack array [record version, body map]. Encoding always
 * writes the schema's current version. Decoding rejects a version newer than
 * the schema's ("record version N newer than supported M") or 0; an older
 * one decodes into the current struct, fields added later (since=) being
 * absent/zero, so a migration can rewrite it. version_out (may be NULL)
 * receives the stored version. Errors and obj contract as codec_encode() /
 * codec_decode().
 */
int	codec_record_encode(const struct schema_type *, const void *obj,
	    struct buf *out);
int	codec_record_decode(const struct schema_type *, const uint8_t *buf,
	    size_t len, void *obj, uint32_t *version_out);

/*
 * A projection: some fields of a type, for a reader that needs only those
 * (os-hypervisors reads a host's capacity, not its guest list).
 * codec_fieldset_init() resolves the names (a NULL-terminated array; an
 * unknown name is a TS_EINTERNAL error: a programming error).
 */
struct codec_fieldset {
	uint64_t	bits[CODEC_MAX_FIELDS / 64];
};
int	codec_fieldset_init(const struct schema_type *,
	    const char *const *names, struct codec_fieldset *out);
/*
 * As codec_record_decode(), but only the fields in want are decoded (with
 * every check: types, maxima, UUIDs, wanted required fields present), the
 * others are left absent/zero; and the map is read only until every wanted
 * field was seen, so what follows them is neither decoded nor checked (the
 * encoder writes fields in schema order: fields placed before a long list
 * are read without walking it). For values read back from the store, which
 * only this codec wrote; obj is to be cleared with codec_clear() as usual.
 */
int	codec_record_decode_some(const struct schema_type *,
	    const uint8_t *buf, size_t len, const struct codec_fieldset *want,
	    void *obj);

/*
 * For a migration that moves a field out of a record type (which then no
 * longer knows it): codec_record_raw_field() finds the value stored under
 * key num or name (the two forms the decoder reads) in a stored record's
 * body map and points val/vlen at its bytes, borrowed from buf; -1
 * TS_ENOT_FOUND if no key matches, TS_EDECODE if buf is not [version,
 * map]. Nothing in the value is checked. codec_record_decode_field()
 * decodes such bytes (exactly one value, with every check) as field name
 * of the record type t into obj's member; obj zeroed or cleared, left
 * cleared on failure.
 */
int	codec_record_raw_field(const uint8_t *buf, size_t len, uint32_t num,
	    const char *name, const uint8_t **val, size_t *vlen);
int	codec_record_decode_field(const struct schema_type *t,
	    const char *name, const uint8_t *buf, size_t len, void *obj);

/*
 * Render obj as one line of JSON-like text for debug logs, e.g.
 * {"host":"h1","pw":"***","guests":[{...},...]}. Secret fields print as
 * "***", bytes as "<N bytes>"; long strings and lists are shortened. Always
 * NUL-terminates when len > 0. Returns the length the full rendering needs
 * (as snprintf), so a result >= len means it was truncated.
 */
int	codec_dump(const struct schema_type *, const void *obj, char *buf,
	    size_t len);

#endif
