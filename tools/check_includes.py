#!/usr/bin/env python3
"""Checks the include rules of docs/ARCHITECTURE.md ("Layers and include
rules") over every .c/.h file of the tree, from its #include lines.

  check_includes.py [ROOT]      check the tree at ROOT (default: this repo)
  check_includes.py --self-test build small trees that break each rule and
                                check that each one is reported

A header named in quotes is resolved as the compiler does: next to the
including file first, then under controller/ or agent/ (the daemons' include
roots), then common/. A resolved header that is part of the tree belongs to
the folder it lives in; generated and system headers belong to nobody
(except <libvirt/...>, which has a rule of its own).

Exits 0 when the tree keeps every rule, 1 with one line per violation.
"""
import os
import re
import sys
import tempfile

# Controller folders that are services: each has one public header,
# <svc>/<svc>.h; every other header of theirs is private to the folder.
SERVICES = ("identity", "image", "compute", "network", "volume", "dashboard")
# Controller layers under the services: they never include a service.
LAYERS = ("http", "auth", "core")
# Agent folders that may include libvirt.
LIBVIRT_OWNERS = ("agent/virt",)

INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def sources(root):
    skip = {".git", "build", "build-asan", "build-fuzz", "build-tsan"}
    for top in ("common", "controller", "agent", "tools", "tests", "bench"):
        base = os.path.join(root, top)
        for d, dirs, files in os.walk(base):
            dirs[:] = sorted(x for x in dirs if x not in skip)
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(d, f), root)


def resolve(root, src, name):
    """The tree path of quoted include `name` in `src`, or None."""
    here = os.path.dirname(src)
    cands = [os.path.join(here, name)]
    top = src.split(os.sep)[0]
    # A daemon's own root first; then every root, so that a forbidden
    # include (common/ naming a controller header) is still found.
    if top in ("controller", "agent"):
        cands.append(os.path.join(top, name))
    cands.append(os.path.join("common", name))
    cands += [os.path.join("controller", name), os.path.join("agent", name)]
    for c in cands:
        c = os.path.normpath(c)
        if os.path.isfile(os.path.join(root, c)):
            return c
    return None


def folder(path):
    """The owning area: 'common', 'agent/virt', 'controller/compute', ..."""
    parts = path.split(os.sep)
    if parts[0] in ("controller", "agent") and len(parts) > 2:
        return parts[0] + "/" + parts[1]
    return parts[0]


def service_of(path):
    parts = path.split(os.sep)
    if parts[0] == "controller" and len(parts) > 2 and parts[1] in SERVICES:
        return parts[1]
    return None


def check(root):
    errors = []
    edges = {}  # service -> services it includes
    for src in sources(root):
        src_svc = service_of(src)
        with open(os.path.join(root, src), errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                m = INCLUDE_RE.match(line)
                if not m:
                    continue
                kind, name = m.groups()
                where = "%s:%d: " % (src, lineno)
                if kind == "<" and name.startswith("libvirt/"):
                    if not src.startswith(LIBVIRT_OWNERS) and \
                            not src.startswith("tests/"):
                        errors.append(where + "<%s> outside %s" % (
                            name, ", ".join(LIBVIRT_OWNERS)))
                    continue
                if kind == "<":
                    continue
                tgt = resolve(root, src, name)
                if tgt is None:
                    continue  # generated (msg_gen.h ...) or missing
                tgt_svc = service_of(tgt)
                if src.startswith("common/") and \
                        tgt.startswith(("controller/", "agent/")):
                    errors.append(where + "common/ includes %s" % tgt)
                if src.startswith("agent/") and tgt.startswith("controller/"):
                    errors.append(where + "agent/ includes %s" % tgt)
                if src.startswith("controller/") and tgt.startswith("agent/"):
                    errors.append(where + "controller/ includes %s" % tgt)
                parts = src.split(os.sep)
                if parts[0] == "controller" and len(parts) > 2 and \
                        parts[1] in LAYERS and tgt_svc is not None:
                    errors.append(where + "layer %s/ includes service "
                                  "header %s" % (parts[1], tgt))
                if parts[0] == "controller" and len(parts) > 2 and \
                        parts[1] in LAYERS and \
                        os.path.dirname(tgt) == "controller":
                    errors.append(where + "layer %s/ includes %s, which "
                                  "is above it" % (parts[1], tgt))
                if src_svc is not None and os.path.dirname(tgt) == \
                        "controller":
                    errors.append(where + "service %s includes %s, which "
                                  "is above it" % (src_svc, tgt))
                if tgt_svc is not None and tgt_svc != src_svc:
                    public = "controller/%s/%s.h" % (tgt_svc, tgt_svc)
                    if tgt != public and src.startswith("controller/"):
                        errors.append(where + "%s is private to "
                                      "controller/%s/ (use %s)" % (
                                          tgt, tgt_svc, public))
                    if src_svc is not None:
                        edges.setdefault(src_svc, set()).add(tgt_svc)
    # No loops between services (a service uses another one way only).
    def loop_from(start):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in sorted(edges.get(node, ())):
                if nxt == start:
                    return path + [nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
        return None
    reported = set()
    for svc in sorted(edges):
        cyc = loop_from(svc)
        if cyc and frozenset(cyc) not in reported:
            reported.add(frozenset(cyc))
            errors.append("include loop between services: " +
                          " -> ".join(cyc))
    return errors


def self_test():
    cases = {
        "common includes controller": {
            "common/a.c": '#include "core/db.h"\n',
            "controller/core/db.h": "",
        },
        "agent includes controller": {
            "agent/main.c": '#include "../controller/core/db.h"\n',
            "controller/core/db.h": "",
        },
        "libvirt outside agent/virt": {
            "agent/compute/compute.c": "#include <libvirt/libvirt.h>\n",
        },
        "layer includes service": {
            "controller/http/request.c": '#include "identity/identity.h"\n',
            "controller/identity/identity.h": "",
        },
        "private header of another service": {
            "controller/compute/compute.c":
                '#include "identity/identity_int.h"\n',
            "controller/identity/identity_int.h": "",
        },
        "service includes assembly": {
            "controller/image/image.c": '#include "services.h"\n',
            "controller/services.h": "",
        },
        "loop between services": {
            "controller/compute/compute.c": '#include "image/image.h"\n',
            "controller/image/image.c": '#include "compute/compute.h"\n',
            "controller/compute/compute.h": "",
            "controller/image/image.h": "",
        },
    }
    clean = {
        "controller/compute/compute.c":
            '#include "identity/identity.h"\n#include "compute_int.h"\n'
            '#include "http/request.h"\n#include "err.h"\n',
        "controller/compute/compute_int.h": "",
        "controller/identity/identity.h": "",
        "controller/http/request.h": '#include "auth/policy.h"\n',
        "controller/auth/policy.h": "",
        "common/err.h": "",
        "agent/virt/virt.c": "#include <libvirt/libvirt.h>\n",
        "controller/services.c": '#include "compute/compute.h"\n',
    }
    failed = 0

    def build(files):
        d = tempfile.mkdtemp(prefix="check_includes.")
        for p, text in files.items():
            full = os.path.join(d, p)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as fh:
                fh.write(text)
        return d
    for name, files in cases.items():
        errs = check(build(files))
        ok = len(errs) > 0
        print("%s: %s" % ("ok  " if ok else "FAIL", name))
        failed += not ok
    errs = check(build(clean))
    print("%s: a tree that keeps the rules%s" % (
        "ok  " if not errs else "FAIL", "" if not errs else ": " + str(errs)))
    failed += bool(errs)
    print("%d passed, %d failed" % (len(cases) + 1 - failed, failed))
    return 1 if failed else 0


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--self-test":
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    errors = check(root)
    for e in errors:
        print(e)
    n = sum(1 for _ in sources(root))
    print("check_includes: %d files, %d violations" % (n, len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
