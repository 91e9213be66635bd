#!/usr/bin/env python3
"""Generate msg_gen.{c,h} from schemas/*.schema (DO NOT EDIT the output).

Usage: gen_schema.py --out-dir DIR [--basename msg_gen] [--prefix schema]
                     FILE.schema...

The schema language (one declaration per line, '#' starts a comment):

    struct NAME                         -> struct sch_NAME, schema_sch_NAME
      FIELD TYPE [ATTR...]
    end
    message NAME from=agent|controller|any
                                        -> struct msg_NAME, schema_msg_NAME,
      ...                                  enum constant MSG_NAME
    end
    record NAME version=N table=TABLE   -> struct rec_NAME, schema_rec_NAME
      ...
    end

TYPE is one of
    bool u32 u64 i64        scalars
    str     max=N           UTF-8 text (not checked); NUL bytes rejected
    bytes   max=N           opaque bytes
    uuid                    36-char canonical lowercase UUID
    strmap  max=N           string -> string map, N entries (key <= 255,
                            value <= 65535 bytes)
    list<T> max=N           T: a scalar above or a struct name; list<str> and
                            list<bytes> also need itemmax=N (item length)
    NAME                    a struct, nested inline
ATTR is one of
    optional                may be absent (bool/ints/structs get has_FIELD;
                            str/bytes/list/strmap pointers are NULL; uuid "")
    secret                  shown as "***" by codec_dump()
    since=N                 records only: the record version that added the
                            field; stored records older than N may lack it

Rules enforced here (violations stop generation with FILE:LINE: message):
names are [a-z][a-z0-9_]* and not C keywords; no duplicate fields, types or
tables; every struct used is defined (in any file) and structs do not nest
recursively; nesting fits the codec's depth limit; no empty blocks. Fields
added to a message later must be optional (old peers do not send them);
fields added to a record get since=N and the record's version is bumped.
Message ids (enum) follow declaration order and are never on the wire: the
envelope carries the message name.

Field numbers. A stored record (and every struct, as it may sit inside
one) is keyed by field number, not name (common/codec.h). The numbers live
in a lock file beside the schemas (fields.lock in the first schema's
directory, or --lock FILE), one line per field: `record|struct TYPE FIELD N`.
Generation fails if a record or struct field has no line there, so
reordering or inserting fields in the schema text never renumbers stored
data; `gen_schema.py --update-lock SCHEMAS...` gives each new field the
next free number of its type (1, 2, ...) and keeps the lines of fields
that were removed, so a number is never reused for another field.
Numbers are at most FIELD_NUM_MAX; the lock is committed, and edited only
by --update-lock.
"""
import argparse
import os
import re
import sys

SCALARS = {"bool", "u32", "u64", "i64", "str", "bytes", "uuid"}
BUILTINS = SCALARS | {"strmap"}
LIST_ELEMS = SCALARS
NAME_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
NAME_MAX = 64
# Keep in step with common/codec.h.
CODEC_MAX_DEPTH = 16
CODEC_MAX_FIELDS = 128
MAX_LEN = 1 << 26          # str/bytes/itemmax
MAX_LIST = 1 << 20
MAX_STRMAP = 1 << 16
MAX_VERSION = 1 << 30
FIELD_NUM_MAX = 65535      # keep in step with CODEC_FIELD_NUM_MAX
LOCK_HEADER = """\
# Field numbers of stored records and of the structs inside them: the keys
# of their stored msgpack maps (common/codec.h). Generated and checked by
# tools/gen_schema.py; edit only with
#   tools/gen_schema.py --update-lock SCHEMAS...
# which adds new fields. A line whose field left the schema stays, so its
# number is never given to another field.
"""
C_KEYWORDS = set("""auto break case char const continue default do double else
enum extern float for goto if inline int long register restrict return short
signed sizeof static struct switch typedef union unsigned void volatile while
bool true false alignas alignof noreturn static_assert thread_local""".split())

FTYPE = {
    "bool": "SCHEMA_T_BOOL", "u32": "SCHEMA_T_U32", "u64": "SCHEMA_T_U64",
    "i64": "SCHEMA_T_I64", "str": "SCHEMA_T_STR", "bytes": "SCHEMA_T_BYTES",
    "uuid": "SCHEMA_T_UUID", "strmap": "SCHEMA_T_STRMAP",
    "list": "SCHEMA_T_LIST", "struct": "SCHEMA_T_STRUCT",
}
CTYPE = {
    "bool": "bool", "u32": "uint32_t", "u64": "uint64_t", "i64": "int64_t",
    "str": "char *", "bytes": "struct ts_bytes", "strmap": "struct ts_strmap",
}
KIND_PREFIX = {"struct": "sch", "message": "msg", "record": "rec"}
KIND_ENUM = {"struct": "SCHEMA_KIND_STRUCT", "message": "SCHEMA_KIND_MESSAGE",
             "record": "SCHEMA_KIND_RECORD"}
DIRS = {"agent": "SCHEMA_FROM_AGENT", "controller": "SCHEMA_FROM_CONTROLLER",
        "any": "SCHEMA_FROM_ANY"}


class SchemaError(Exception):
    def __init__(self, where, msg):
        super().__init__(f"{where[0]}:{where[1]}: {msg}")


class Field:
    def __init__(self, where, name, typ, elem, attrs):
        self.where = where
        self.name = name
        self.type = typ        # builtin name, "list" or "struct"
        self.elem = elem       # list element: builtin or struct name
        self.struct = None     # struct name for type == "struct"
        self.max = attrs.get("max", 0)
        self.itemmax = attrs.get("itemmax", 0)
        self.since = attrs.get("since", 0)
        self.optional = "optional" in attrs
        self.secret = "secret" in attrs
        self.num = 0           # from the lock (records and structs)

    def has_flag(self):
        return self.optional and self.type in ("bool", "u32", "u64", "i64",
                                               "struct")


class Block:
    def __init__(self, where, kind, name, attrs):
        self.where = where
        self.kind = kind
        self.name = name
        self.dir = attrs.get("from")
        self.version = attrs.get("version", 0)
        self.table = attrs.get("table")
        self.fields = []

    @property
    def cname(self):
        return f"{KIND_PREFIX[self.kind]}_{self.name}"


def check_name(where, what, name):
    if not NAME_RE.match(name) or len(name) > NAME_MAX:
        raise SchemaError(where, f"bad {what} name '{name}' "
                          f"(want [a-z][a-z0-9_]*, at most {NAME_MAX})")
    if name in C_KEYWORDS:
        raise SchemaError(where, f"{what} name '{name}' is a C keyword")


def parse_int(where, key, val, lo, hi):
    if not re.fullmatch(r"[1-9][0-9]*", val):
        raise SchemaError(where, f"{key}= wants a positive decimal integer, "
                          f"got '{val}'")
    n = int(val)
    if n < lo or n > hi:
        raise SchemaError(where, f"{key}={n} out of range {lo}..{hi}")
    return n


def parse_attrs(where, toks, allowed):
    """allowed: {key: 'flag' | 'int' | 'name' | set-of-words}."""
    attrs = {}
    for t in toks:
        key, eq, val = t.partition("=")
        if key not in allowed:
            raise SchemaError(where, f"unknown attribute '{t}'")
        if key in attrs:
            raise SchemaError(where, f"attribute '{key}' given twice")
        kind = allowed[key]
        if kind == "flag":
            if eq:
                raise SchemaError(where, f"'{key}' takes no value")
            attrs[key] = True
            continue
        if not eq or not val:
            raise SchemaError(where, f"'{key}' needs a value ({key}=...)")
        if kind == "int":
            attrs[key] = parse_int(where, key, val, 1, MAX_VERSION)
        elif kind == "name":
            check_name(where, key, val)
            attrs[key] = val
        else:
            if val not in kind:
                raise SchemaError(where, f"bad {key}='{val}' (want one of "
                                  f"{', '.join(sorted(kind))})")
            attrs[key] = val
    return attrs


def parse_field(where, block, toks):
    if len(toks) < 2:
        raise SchemaError(where, "field needs a name and a type")
    name, typ = toks[0], toks[1]
    check_name(where, "field", name)
    allowed = {"max": "int", "itemmax": "int", "optional": "flag",
               "secret": "flag"}
    if block.kind == "record":
        allowed["since"] = "int"
    attrs = parse_attrs(where, toks[2:], allowed)
    elem = None
    m = re.fullmatch(r"list<(.*)>", typ)
    if m:
        elem = m.group(1)
        if elem == "strmap" or elem.startswith("list"):
            raise SchemaError(where, f"list<{elem}> not supported "
                              "(list of a scalar or a struct only)")
        if elem not in LIST_ELEMS:
            check_name(where, "type", elem)
        typ = "list"
    elif typ not in BUILTINS:
        if "<" in typ or ">" in typ:
            raise SchemaError(where, f"unknown type '{typ}'")
        check_name(where, "type", typ)
    f = Field(where, name, typ if typ in BUILTINS or typ == "list"
              else "struct", elem, attrs)
    if f.type == "struct":
        f.struct = typ

    needs_max = f.type in ("str", "bytes", "strmap", "list")
    if needs_max and "max" not in attrs:
        raise SchemaError(where, f"field '{name}': type {toks[1]} needs max=")
    # A struct name is resolved later (it may be defined further down), so
    # check() reports max= on it, after an unknown name.
    if not needs_max and "max" in attrs and f.type != "struct":
        raise SchemaError(where, f"field '{name}': type {toks[1]} takes no max=")
    if f.type in ("str", "bytes") and f.max > MAX_LEN:
        raise SchemaError(where, f"field '{name}': max={f.max} above {MAX_LEN}")
    if f.type == "list" and f.max > MAX_LIST:
        raise SchemaError(where, f"field '{name}': max={f.max} above {MAX_LIST}")
    if f.type == "strmap" and f.max > MAX_STRMAP:
        raise SchemaError(where, f"field '{name}': max={f.max} above {MAX_STRMAP}")
    needs_item = f.type == "list" and elem in ("str", "bytes")
    if needs_item and "itemmax" not in attrs:
        raise SchemaError(where, f"field '{name}': list<{elem}> needs itemmax=")
    if not needs_item and "itemmax" in attrs:
        raise SchemaError(where, f"field '{name}': itemmax= only applies to "
                          "list<str> and list<bytes>")
    if needs_item and f.itemmax > MAX_LEN:
        raise SchemaError(where, f"field '{name}': itemmax={f.itemmax} above "
                          f"{MAX_LEN}")
    if f.since and f.since > block.version:
        raise SchemaError(where, f"field '{name}': since={f.since} is newer "
                          f"than record version {block.version}")
    return f


def parse_file(path, blocks):
    cur = None
    with open(path, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    for n, raw in enumerate(lines, 1):
        where = (path, n)
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        toks = line.split()
        head = toks[0]
        # Inside a block, "message str max=..." is a field that happens to
        # be named like a keyword; a keyword followed by a name there is a
        # block header with the previous 'end' missing. (So a field named
        # struct/message/record/end must have a built-in type.)
        is_field = (cur is not None and len(toks) > 1 and
                    (toks[1] in BUILTINS or toks[1].startswith("list<")))
        if head in ("struct", "message", "record") and not is_field:
            if cur is not None:
                raise SchemaError(where, f"'{head}' inside {cur.kind} "
                                  f"'{cur.name}' (missing 'end' for the block "
                                  f"at line {cur.where[1]})")
            if len(toks) < 2:
                raise SchemaError(where, f"'{head}' needs a name")
            check_name(where, head, toks[1])
            if head == "struct":
                attrs = parse_attrs(where, toks[2:], {})
            elif head == "message":
                attrs = parse_attrs(where, toks[2:], {"from": set(DIRS)})
                if "from" not in attrs:
                    raise SchemaError(where, "message needs from=agent, "
                                      "from=controller or from=any")
            else:
                attrs = parse_attrs(where, toks[2:],
                                    {"version": "int", "table": "name"})
                for k in ("version", "table"):
                    if k not in attrs:
                        raise SchemaError(where, f"record needs {k}=")
            cur = Block(where, head, toks[1], attrs)
            blocks.append(cur)
        elif head == "end" and not is_field:
            if cur is None:
                raise SchemaError(where, "'end' outside a block")
            if len(toks) != 1:
                raise SchemaError(where, "'end' takes nothing after it")
            if not cur.fields:
                raise SchemaError(where, f"{cur.kind} '{cur.name}' has no "
                                  "fields")
            cur = None
        else:
            if cur is None:
                raise SchemaError(where, f"field '{head}' outside a block")
            f = parse_field(where, cur, toks)
            for g in cur.fields:
                if g.name == f.name:
                    raise SchemaError(where, f"duplicate field '{f.name}' "
                                      f"(first at line {g.where[1]})")
            cur.fields.append(f)
            if len(cur.fields) > CODEC_MAX_FIELDS:
                raise SchemaError(where, f"more than {CODEC_MAX_FIELDS} "
                                  "fields")
    if cur is not None:
        raise SchemaError(cur.where, f"{cur.kind} '{cur.name}' has no 'end'")


def check(blocks):
    seen = {}
    tables = {}
    for b in blocks:
        key = (b.kind, b.name)
        if key in seen:
            raise SchemaError(b.where, f"duplicate {b.kind} '{b.name}' (first "
                              f"at {seen[key][0]}:{seen[key][1]})")
        seen[key] = b.where
        if b.kind == "record":
            if b.table in tables:
                t = tables[b.table]
                raise SchemaError(b.where, f"duplicate table '{b.table}' "
                                  f"(first at {t[0]}:{t[1]})")
            tables[b.table] = b.where
        names = {f.name for f in b.fields}
        for f in b.fields:
            if f.has_flag() and f"has_{f.name}" in names:
                raise SchemaError(f.where, f"field 'has_{f.name}' clashes with "
                                  f"the presence flag of optional '{f.name}'")
    structs = {b.name: b for b in blocks if b.kind == "struct"}
    for b in blocks:
        for f in b.fields:
            ref = f.struct or (f.elem if f.type == "list" and
                               f.elem not in LIST_ELEMS else None)
            if ref is None:
                continue
            if ref not in structs:
                other = [k for (k, n) in seen if n == ref]
                hint = f" (a {other[0]}, not a struct)" if other else ""
                raise SchemaError(f.where, f"unknown type '{ref}'{hint}")
            if f.type == "struct" and f.max:
                raise SchemaError(f.where, f"field '{f.name}': struct type "
                                  f"{ref} takes no max=")

    # Depth: how many nested containers a value of a type opens (its own
    # map included). A reference back into a struct being measured is
    # recursion, reported at the field that closes the cycle.
    depth, busy = {}, set()

    def struct_depth(name, f, path):
        if name in busy:
            cyc = " -> ".join(path + [name])
            raise SchemaError(f.where, f"recursive struct nesting: {cyc}")
        if name not in depth:
            busy.add(name)
            depth[name] = block_depth(structs[name], path + [name])
            busy.discard(name)
        return depth[name]

    def block_depth(b, path):
        d = 1
        for f in b.fields:
            if f.type == "struct":
                fd = struct_depth(f.struct, f, path)
            elif f.type == "list":
                fd = 1 + (struct_depth(f.elem, f, path)
                          if f.elem in structs else 0)
            elif f.type == "strmap":
                fd = 1
            else:
                fd = 0
            d = max(d, 1 + fd)
        return d

    for b in blocks:
        b.depth = (struct_depth(b.name, None, []) if b.kind == "struct"
                   else block_depth(b, []))
        # +1 for the envelope / record array around a body; a struct needs
        # room for at least that and its parent's map.
        limit = CODEC_MAX_DEPTH - (1 if b.kind != "struct" else 2)
        if b.depth > limit:
            raise SchemaError(b.where, f"{b.kind} '{b.name}' nests "
                              f"{b.depth} deep, above the codec limit "
                              f"({limit} for a {b.kind} body)")
    return structs


def toposort(structs, blocks):
    out, done = [], set()

    def visit(b):
        if b.name in done:
            return
        done.add(b.name)
        for f in b.fields:
            ref = f.struct or (f.elem if f.type == "list" else None)
            if ref in structs:
                visit(structs[ref])
        out.append(b)

    for b in blocks:
        if b.kind == "struct":
            visit(b)
    return out


def elem_ctype(elem):
    """(type, declarator-suffix) of a list's items pointer."""
    if elem == "uuid":
        return "char", "(*items)[CODEC_UUID_LEN + 1]"
    if elem == "str":
        return "char", "**items"
    if elem in CTYPE:
        return CTYPE[elem], "*items"
    return f"struct sch_{elem}", "*items"


def field_doc(f):
    parts = [f.type if f.type != "list" else f"list<{f.elem}>"]
    if f.struct:
        parts = [f.struct]
    if f.max:
        parts.append(f"max={f.max}")
    if f.itemmax:
        parts.append(f"itemmax={f.itemmax}")
    if f.since:
        parts.append(f"since={f.since}")
    if f.optional:
        parts.append("optional")
    if f.secret:
        parts.append("secret")
    return " ".join(parts)


def emit_struct(b):
    out = [f"/* {b.where[0].rsplit('/', 1)[-1]}:{b.where[1]} */",
           f"struct {b.cname} {{"]
    for f in b.fields:
        if f.has_flag():
            out.append(f"\tbool has_{f.name};")
        doc = f"\t/* {field_doc(f)} */"
        if f.type == "list":
            t, decl = elem_ctype(f.elem)
            out.append(f"\tstruct {{\n\t\t{t} {decl};\n\t\tsize_t n;\n"
                       f"\t}} {f.name};{doc}")
        elif f.type == "struct":
            out.append(f"\tstruct sch_{f.struct} {f.name};{doc}")
        elif f.type == "uuid":
            out.append(f"\tchar {f.name}[CODEC_UUID_LEN + 1];{doc}")
        elif f.type == "str":
            out.append(f"\tchar *{f.name};{doc}")
        else:
            out.append(f"\t{CTYPE[f.type]} {f.name};{doc}")
    out.append("};")
    return "\n".join(out)


def elem_size(b, f):
    if f.elem in ("str",):
        return "sizeof(char *)"
    if f.elem == "uuid":
        return "(CODEC_UUID_LEN + 1)"
    if f.elem in CTYPE:
        return f"sizeof({CTYPE[f.elem]})"
    return f"sizeof(struct sch_{f.elem})"


def emit_desc(b):
    s = f"struct {b.cname}"
    out = [f"static const struct schema_field fields_{b.cname}[] = {{"]
    for f in b.fields:
        flags = []
        if f.optional:
            flags.append("SCHEMA_F_OPTIONAL")
        if f.secret:
            flags.append("SCHEMA_F_SECRET")
        row = [f'.name = "{f.name}"', f".type = {FTYPE[f.type]}",
               f".offset = offsetof({s}, {f.name})"]
        if flags:
            row.append(".flags = " + " | ".join(flags))
        if f.max:
            row.append(f".max = {f.max}")
        if f.itemmax:
            row.append(f".itemmax = {f.itemmax}")
        if f.since:
            row.append(f".since = {f.since}")
        if f.num:
            row.append(f".num = {f.num}")
        if f.has_flag():
            row.append(f".has_offset = offsetof({s}, has_{f.name})")
        if f.type == "list":
            if f.elem in LIST_ELEMS:
                row.append(f".elem = {FTYPE[f.elem]}")
            else:
                row.append(".elem = SCHEMA_T_STRUCT")
                row.append(f".nested = &schema_sch_{f.elem}")
            row.append(f".elem_size = {elem_size(b, f)}")
        if f.type == "struct":
            row.append(f".nested = &schema_sch_{f.struct}")
        out.append("\t{ " + ",\n\t    ".join(row) + " },")
    out.append("};")
    out.append(f"const struct schema_type schema_{b.cname} = {{")
    out.append(f'\t.name = "{b.name}",')
    out.append(f"\t.kind = {KIND_ENUM[b.kind]},")
    out.append(f"\t.size = sizeof({s}),")
    out.append(f"\t.fields = fields_{b.cname},")
    out.append(f"\t.nfields = {len(b.fields)},")
    if b.kind == "message":
        out.append(f"\t.dir = {DIRS[b.dir]},")
        out.append(f"\t.id = MSG_{b.name.upper()},")
    if b.kind == "record":
        out.append(f"\t.version = {b.version},")
        out.append(f'\t.table = "{b.table}",')
    out.append("};")
    for f in b.fields:
        if f.type == "list":
            out.append(f"_Static_assert(sizeof((({s} *)0)->{f.name}) == "
                       f"sizeof(struct ts_list), \"{b.name}.{f.name}: list "
                       "layout\");")
    out.append(f"_Static_assert(CODEC_MAX_DEPTH >= {b.depth + 1}, "
               f"\"{b.name}: nesting\");")
    return "\n".join(out)


def generate(blocks, structs, basename, prefix, srcs):
    guard = f"TS_{basename.upper()}_H"
    P = prefix
    msgs = [b for b in blocks if b.kind == "message"]
    recs = [b for b in blocks if b.kind == "record"]
    ordered = toposort(structs, blocks) + msgs + recs
    srcnames = " ".join(os.path.basename(s) for s in srcs)
    hdr = [f"/* Generated from {srcnames} by tools/gen_schema.py. "
           "DO NOT EDIT. */",
           f"#ifndef {guard}", f"#define {guard}", "",
           "#include <stdbool.h>", "#include <stddef.h>",
           "#include <stdint.h>", "", '#include "codec.h"', ""]
    hdr.append("/* Message ids: process-local (declaration order), never on "
               "the wire. 0 is no message. */")
    hdr.append(f"enum {P}_msg_type {{")
    hdr.append(f"\t{P.upper()}_MSG_NONE = 0,")
    for i, b in enumerate(msgs, 1):
        hdr.append(f"\tMSG_{b.name.upper()} = {i},")
    hdr.append(f"\t{P.upper()}_MSG__COUNT = {len(msgs) + 1}")
    hdr.append("};\n")
    for b in ordered:
        hdr.append(emit_struct(b))
        hdr.append(f"extern const struct schema_type schema_{b.cname};\n")
    hdr += [
        "/* Lookups; every result is static. NULL if there is no such "
        "message. */",
        f"const struct schema_type *{P}_msg_by_name(const char *name);",
        f"const struct schema_type *{P}_msg_by_id(uint32_t id);",
        "/* Every message (by id, index id - 1), record and struct type, "
        "NULL-terminated. */",
        f"extern const struct schema_type *const {P}_messages[];",
        f"extern const size_t {P}_nmessages;",
        f"extern const struct schema_type *const {P}_records[];",
        f"extern const size_t {P}_nrecords;",
        f"extern const struct schema_type *const {P}_structs[];",
        f"extern const size_t {P}_nstructs;",
        f"/* Record type stored in an LMDB table; NULL if none. */",
        f"const struct schema_type *{P}_record_by_table(const char *table);",
        "", "#endif", ""]

    src = [f"/* Generated from {srcnames} by tools/gen_schema.py. "
           "DO NOT EDIT. */",
           "#include <stddef.h>", "#include <string.h>", "",
           f'#include "{basename}.h"', ""]
    for b in ordered:
        src.append(emit_desc(b))
        src.append("")

    def table(name, items):
        src.append(f"const struct schema_type *const {P}_{name}[] = {{")
        for b in items:
            src.append(f"\t&schema_{b.cname},")
        src.append("\tNULL,")
        src.append("};")
        src.append(f"const size_t {P}_n{name} = {len(items)};\n")

    table("messages", msgs)
    table("records", recs)
    table("structs", [b for b in ordered if b.kind == "struct"])
    byname = sorted(msgs, key=lambda b: b.name.encode())
    src.append("/* Sorted by name (strcmp order) for bsearch. */")
    src.append("static const struct schema_type *const msgs_by_name[] = {")
    for b in byname:
        src.append(f"\t&schema_{b.cname},")
    src.append("\tNULL,")
    src.append("};\n")
    src += [
        "const struct schema_type *",
        f"{P}_msg_by_name(const char *name)",
        "{",
        f"\tsize_t lo = 0, hi = {len(msgs)}, mid;",
        "\tint c;",
        "",
        "\twhile (lo < hi) {",
        "\t\tmid = lo + (hi - lo) / 2;",
        "\t\tc = strcmp(name, msgs_by_name[mid]->name);",
        "\t\tif (c == 0)",
        "\t\t\treturn msgs_by_name[mid];",
        "\t\tif (c < 0)",
        "\t\t\thi = mid;",
        "\t\telse",
        "\t\t\tlo = mid + 1;",
        "\t}",
        "\treturn NULL;",
        "}", "",
        "const struct schema_type *",
        f"{P}_msg_by_id(uint32_t id)",
        "{",
        f"\tif (id == 0 || id > {len(msgs)})",
        "\t\treturn NULL;",
        f"\treturn {P}_messages[id - 1];",
        "}", "",
        "const struct schema_type *",
        f"{P}_record_by_table(const char *table)",
        "{",
        "\tsize_t i;",
        "",
        f"\tfor (i = 0; i < {P}_nrecords; i++)",
        f"\t\tif (strcmp({P}_records[i]->table, table) == 0)",
        f"\t\t\treturn {P}_records[i];",
        "\treturn NULL;",
        "}", ""]
    return "\n".join(hdr), "\n".join(src)


def read_lock(path):
    """{(kind, type, field): number}; a missing file is an empty lock."""
    lock = {}
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
    except FileNotFoundError:
        return lock
    for n, raw in enumerate(lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        toks = line.split()
        where = (path, n)
        if len(toks) != 4 or toks[0] not in ("record", "struct"):
            raise SchemaError(where, "want 'record|struct TYPE FIELD N'")
        num = parse_int(where, "number", toks[3], 1, FIELD_NUM_MAX)
        key = tuple(toks[:3])
        if key in lock:
            raise SchemaError(where, f"{' '.join(key)} listed twice")
        for k, v in lock.items():
            if k[:2] == key[:2] and v == num:
                raise SchemaError(where, f"number {num} of {key[0]} {key[1]}"
                                  f" already taken by field {k[2]}")
        lock[key] = num
    return lock


def numbered(blocks):
    for b in blocks:
        if b.kind in ("record", "struct"):
            for f in b.fields:
                yield (b.kind, b.name, f.name), b, f


def apply_lock(blocks, lock, path):
    missing = []
    for key, b, f in numbered(blocks):
        if key in lock:
            f.num = lock[key]
        else:
            missing.append((f, key))
    if missing:
        f, key = missing[0]
        raise SchemaError(f.where, f"field '{key[2]}' of {key[0]} {key[1]} "
                          f"has no number in {path} ({len(missing)} field(s) "
                          "without one): run tools/gen_schema.py "
                          "--update-lock with the same schemas")


def update_lock(blocks, lock, path):
    added = 0
    for key, b, f in numbered(blocks):
        if key in lock:
            continue
        used = [v for k, v in lock.items() if k[:2] == key[:2]]
        lock[key] = max(used, default=0) + 1
        if lock[key] > FIELD_NUM_MAX:
            raise SchemaError(f.where, f"{key[0]} {key[1]}: field numbers "
                              f"exhausted ({FIELD_NUM_MAX})")
        added += 1
    # Grouped by type, in number order: a type's history reads in order.
    order = {}
    for key in lock:
        order.setdefault(key[:2], []).append(key)
    out = [LOCK_HEADER]
    for t in sorted(order):
        for key in sorted(order[t], key=lambda k: lock[k]):
            out.append(f"{key[0]} {key[1]} {key[2]} {lock[key]}\n")
    write_if_changed(path, "".join(out))
    return added


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as fh:
            if fh.read() == text:
                os.utime(path)   # keep the build's timestamps satisfied
                return
    except OSError:
        pass
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out-dir")
    ap.add_argument("--lock", help="field number lock (default: "
                    "fields.lock beside the first schema)")
    ap.add_argument("--update-lock", action="store_true",
                    help="number new fields in the lock, generate nothing")
    ap.add_argument("--basename", default="msg_gen")
    ap.add_argument("--prefix", default="schema")
    ap.add_argument("schemas", nargs="+")
    a = ap.parse_args()
    if not NAME_RE.match(a.basename) or not NAME_RE.match(a.prefix):
        sys.exit("gen_schema: --basename and --prefix must be C identifiers")
    if not a.update_lock and not a.out_dir:
        sys.exit("gen_schema: --out-dir is required")
    lock_path = a.lock or os.path.join(os.path.dirname(a.schemas[0]),
                                       "fields.lock")
    blocks = []
    try:
        for path in a.schemas:
            parse_file(path, blocks)
        structs = check(blocks)
        lock = read_lock(lock_path)
        if a.update_lock:
            n = update_lock(blocks, lock, lock_path)
            print(f"gen_schema: {lock_path}: {n} field(s) numbered")
            return
        apply_lock(blocks, lock, lock_path)
    except SchemaError as e:
        sys.exit(str(e))
    except OSError as e:
        sys.exit(f"gen_schema: {e}")
    h, c = generate(blocks, structs, a.basename, a.prefix, a.schemas)
    os.makedirs(a.out_dir, exist_ok=True)
    write_if_changed(os.path.join(a.out_dir, f"{a.basename}.h"), h)
    write_if_changed(os.path.join(a.out_dir, f"{a.basename}.c"), c)


if __name__ == "__main__":
    main()
