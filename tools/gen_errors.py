#!/usr/bin/env python3
"""Generate common/err_gen.h from schemas/errors.def (DO NOT EDIT the output)."""
import re
import sys


def main():
    src, out = sys.argv[1], sys.argv[2]
    rows = []
    for n, line in enumerate(open(src, encoding="utf-8"), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([A-Z][A-Z0-9_]*)\s+(\d{3})\s+"([^"\\]*)"', line)
        if not m:
            sys.exit(f"{src}:{n}: bad line: {line}")
        rows.append(m.groups())
    if rows[0][0] != "OK":
        sys.exit(f"{src}: first code must be OK")
    names = [r[0] for r in rows]
    if len(set(names)) != len(names):
        sys.exit(f"{src}: duplicate code")
    with open(out, "w", encoding="utf-8") as f:
        f.write("/* Generated from schemas/errors.def by tools/gen_errors.py. DO NOT EDIT. */\n")
        f.write("#ifndef TS_ERR_GEN_H\n#define TS_ERR_GEN_H\n\n")
        f.write("enum ts_errcode {\n")
        for i, (name, _, _) in enumerate(rows):
            f.write(f"\tTS_E{name} = {i},\n")
        f.write(f"\tTS_E__COUNT = {len(rows)}\n}};\n\n")
        f.write("#ifdef TS_ERR_GEN_TABLES\n")
        f.write("static const struct {\n\tconst char *name;\n\tint http;\n\tconst char *text;\n} err_gen_table[] = {\n")
        for name, http, text in rows:
            f.write(f'\t{{ "{name}", {http}, "{text}" }},\n')
        f.write("};\n#endif\n\n#endif\n")


if __name__ == "__main__":
    main()
