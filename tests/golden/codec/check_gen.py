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
    total = len(bad) + 2
    print(f"{total - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
