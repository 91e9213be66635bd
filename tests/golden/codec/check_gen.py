#!/usr/bin/env python3
"""Checks tools/gen_schema.py (run by ctest as unit.codec_gen).

Every bad_*.schema here starts with `# expect: LINE: MESSAGE`; the generator
must refuse it, print exactly `FILE:LINE: MESSAGE...` and write nothing. The
production schemas and all_types.schema must generate, identically on a
second run.

Usage: check_gen.py path/to/gen_schema.py
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))


def run(gen, out, files, extra=()):
    return subprocess.run([sys.executable, gen, "--out-dir", out, *extra,
                           *files], capture_output=True, text=True)


def check_lock(gen):
    """Field numbers come from the lock: a field missing there stops
    generation; reordering fields keeps their numbers; --update-lock
    numbers a new field after the others and keeps a removed one's line.
    Three checks; returns the failures."""
    failures = 0
    a = "record r version=1 table=t\n  a u32\n  b u32\nend\n"
    swapped = "record r version=1 table=t\n  b u32\n  a u32\nend\n"
    grown = "record r version=1 table=t\n  b u32\n  c u32\nend\n"
    with tempfile.TemporaryDirectory() as d:
        sch = os.path.join(d, "x.schema")
        lock = os.path.join(d, "fields.lock")
        out = os.path.join(d, "out")
        with open(sch, "w") as fh:
            fh.write(a)
        r = run(gen, out, [sch])
        if r.returncode == 0 or "has no number in" not in r.stderr:
            print(f"FAIL lock: a field without a number generated: "
                  f"{r.stderr.strip()}")
            failures += 1
        else:
            print("ok   lock: a field without a number stops generation")
        subprocess.run([sys.executable, gen, "--update-lock", sch],
                       capture_output=True, check=True)
        with open(sch, "w") as fh:
            fh.write(swapped)
        r = run(gen, out, [sch])
        text = open(os.path.join(out, "msg_gen.c")).read() \
            if r.returncode == 0 else ""
        if not re.search(r'"b".*?\.num = 2', text, re.S) or \
                not re.search(r'"a".*?\.num = 1', text, re.S):
            print(f"FAIL lock: reordering renumbered: {r.stderr.strip()}")
            failures += 1
        else:
            print("ok   lock: reordering fields keeps their numbers")
        with open(sch, "w") as fh:
            fh.write(grown)
        subprocess.run([sys.executable, gen, "--update-lock", sch],
                       capture_output=True, check=True)
        got = [ln for ln in open(lock).read().split("\n")
               if ln and not ln.startswith("#")]
        want = ["record r a 1", "record r b 2", "record r c 3"]
        if got != want:
            print(f"FAIL lock: --update-lock wrote {got}, want {want}")
            failures += 1
        else:
            print("ok   lock: a new field takes the next number, a removed "
                  "one keeps its own")
    return failures


def main():
    gen = sys.argv[1]
    failures = 0
    bad = sorted(glob.glob(os.path.join(HERE, "bad_*.schema")))
    if not bad:
        sys.exit("no bad_*.schema files found")
    for path in bad:
        with open(path, encoding="utf-8") as fh:
            m = re.match(r"# expect: (\d+): (.*)", fh.readline())
        if not m:
            print(f"FAIL {path}: no '# expect: LINE: MESSAGE' header")
            failures += 1
            continue
        want = f"{path}:{m.group(1)}: {m.group(2)}"
        with tempfile.TemporaryDirectory() as out:
            r = run(gen, out, [path])
            wrote = os.listdir(out)
        got = r.stderr.strip()
        if r.returncode == 0 or not got.startswith(want) or wrote:
            print(f"FAIL {os.path.basename(path)}: rc={r.returncode} "
                  f"wrote={wrote}\n  want: {want}\n  got:  {got}")
            failures += 1
        else:
            print(f"ok   {os.path.basename(path)}: {got[len(path) + 1:]}")

    good = sorted(glob.glob(os.path.join(ROOT, "schemas", "*.schema")))
    for files, extra in ((good, ()),
                         ([os.path.join(HERE, "all_types.schema")],
                          ("--basename", "t_gen", "--prefix", "t"))):
        outs = []
        for _ in range(2):
            with tempfile.TemporaryDirectory() as out:
                r = run(gen, out, files, extra)
                if r.returncode != 0:
                    print(f"FAIL generating {files}: {r.stderr.strip()}")
                    failures += 1
                    break
                outs.append({f: open(os.path.join(out, f)).read()
                             for f in sorted(os.listdir(out))})
        if len(outs) == 2:
            if outs[0] != outs[1] or len(outs[0]) != 2:
                print(f"FAIL {files}: output not deterministic or not 2 "
                      f"files: {sorted(outs[0])}")
                failures += 1
            elif not all("DO NOT EDIT" in t for t in outs[0].values()):
                print(f"FAIL {files}: output lacks the DO NOT EDIT mark")
                failures += 1
            else:
                print(f"ok   generates {', '.join(sorted(outs[0]))}")
    failures += check_lock(gen)
    total = len(bad) + 2 + 3
    print(f"{total - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
