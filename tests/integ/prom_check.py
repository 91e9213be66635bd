#!/usr/bin/python3
"""Strict checker of the Prometheus text exposition format 0.0.4, and a
lookup of sample values, for tests/integ/test_metrics.sh.

  prom_check.py FILE [QUERY...]

Exits 1 with the first problem if FILE is not well formed: a bad metric or
label name, a bad escape in a label value, a sample before its family's
TYPE, a family's samples split by another's, a HELP or TYPE twice, the
same series twice, an unparsable value, a histogram whose buckets are not
cumulative or whose +Inf bucket differs from _count, a missing final
newline. Then prints, one line per QUERY (name{k="v",...}: the sample with
at least those labels; several match: their sum), its value, or "absent".
"""
import math
import re
import sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*\Z')
LABEL = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*\Z')
TYPES = {'counter', 'gauge', 'histogram', 'summary', 'untyped'}


def die(lineno, msg):
    print(f'line {lineno}: {msg}', file=sys.stderr)
    sys.exit(1)


def parse_labels(s, i, lineno):
    """Parses {...} starting at s[i] == '{'; returns (dict, index after)."""
    labels = {}
    i += 1
    while True:
        if s[i] == '}':
            return labels, i + 1
        m = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="').match(s, i)
        if not m:
            die(lineno, f'bad label at {s[i:i+20]!r}')
        key = m.group(1)
        if key.startswith('__'):
            die(lineno, f'reserved label name {key}')
        i = m.end()
        val = []
        while True:
            if i >= len(s):
                die(lineno, 'unterminated label value')
            c = s[i]
            if c == '\\':
                nxt = s[i + 1] if i + 1 < len(s) else ''
                if nxt == 'n':
                    val.append('\n')
                elif nxt in '\\"':
                    val.append(nxt)
                else:
                    die(lineno, f'bad escape \\{nxt}')
                i += 2
                continue
            if c == '"':
                i += 1
                break
            val.append(c)
            i += 1
        if key in labels:
            die(lineno, f'label {key} twice')
        labels[key] = ''.join(val)
        if s[i] == ',':
            i += 1
        elif s[i] != '}':
            die(lineno, f'expected , or }} at {s[i:i+20]!r}')


def parse_value(v, lineno):
    if v in ('+Inf', 'Inf'):
        return math.inf
    if v == '-Inf':
        return -math.inf
    if v == 'NaN':
        return math.nan
    try:
        return float(v)
    except ValueError:
        die(lineno, f'bad value {v!r}')


def family_of(name, types):
    for suffix in ('_bucket', '_sum', '_count'):
        if name.endswith(suffix) and types.get(name[:-len(suffix)]) in (
                'histogram', 'summary'):
            return name[:-len(suffix)]
    return name


def check(text):
    if text and not text.endswith('\n'):
        die(0, 'no final newline')
    types, helps, done, seen = {}, set(), set(), set()
    samples = []
    current = None
    for lineno, line in enumerate(text.split('\n')[:-1], 1):
        if line.startswith('#'):
            parts = line.split(' ', 3)
            if len(parts) >= 3 and parts[1] in ('HELP', 'TYPE'):
                name = parts[2]
                if not NAME.match(name):
                    die(lineno, f'bad metric name {name!r}')
                if parts[1] == 'HELP':
                    if name in helps:
                        die(lineno, f'HELP {name} twice')
                    helps.add(name)
                    h = parts[3] if len(parts) > 3 else ''
                    if re.search(r'\\[^\\n]', h.replace('\\\\', '')):
                        die(lineno, 'bad escape in HELP')
                else:
                    if name in types:
                        die(lineno, f'TYPE {name} twice')
                    if len(parts) != 4 or parts[3] not in TYPES:
                        die(lineno, f'bad TYPE line {line!r}')
                    if name in done or name == current:
                        die(lineno, f'TYPE {name} after its samples')
                    types[name] = parts[3]
            continue
        if line.strip() == '':
            continue
        m = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*').match(line)
        if not m:
            die(lineno, f'bad sample line {line!r}')
        name, i = m.group(0), m.end()
        labels = {}
        if i < len(line) and line[i] == '{':
            labels, i = parse_labels(line, i, lineno)
        rest = line[i:]
        if not rest.startswith(' '):
            die(lineno, f'no space before the value: {line!r}')
        fields = rest.split()
        if len(fields) not in (1, 2):
            die(lineno, f'bad value/timestamp {rest!r}')
        value = parse_value(fields[0], lineno)
        fam = family_of(name, types)
        if fam not in types:
            die(lineno, f'sample {name} without a TYPE')
        if fam != current:
            if fam in done:
                die(lineno, f'samples of {fam} split by another family')
            if current is not None:
                done.add(current)
            current = fam
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            die(lineno, f'series {name}{labels} twice')
        seen.add(key)
        if types[fam] == 'histogram' and name == fam:
            die(lineno, f'histogram {fam} has a plain sample')
        if name.endswith('_bucket') and types[fam] == 'histogram' and \
                'le' not in labels:
            die(lineno, f'{name} without le')
        samples.append((name, labels, value, lineno))
    check_histograms(types, samples)
    return samples


def check_histograms(types, samples):
    groups = {}
    for name, labels, value, lineno in samples:
        fam = family_of(name, types)
        if types.get(fam) != 'histogram':
            continue
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != 'le'))
        g = groups.setdefault((fam, rest), {'buckets': [], 'sum': None,
                                            'count': None, 'line': lineno})
        if name.endswith('_bucket'):
            g['buckets'].append((parse_value(labels['le'], lineno), value))
        elif name.endswith('_sum'):
            g['sum'] = value
        elif name.endswith('_count'):
            g['count'] = value
    for (fam, rest), g in groups.items():
        b = g['buckets']
        if not b or b[-1][0] != math.inf:
            die(g['line'], f'{fam}{dict(rest)}: no +Inf bucket last')
        for (le1, v1), (le2, v2) in zip(b, b[1:]):
            if not le2 > le1:
                die(g['line'], f'{fam}: le not increasing')
            if v2 < v1:
                die(g['line'], f'{fam}{dict(rest)}: buckets not cumulative')
        if g['count'] is None or g['sum'] is None:
            die(g['line'], f'{fam}{dict(rest)}: _sum or _count missing')
        if g['count'] != b[-1][1]:
            die(g['line'], f'{fam}{dict(rest)}: +Inf bucket != _count')


def query(samples, q):
    m = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\Z').match(q)
    if not m:
        sys.exit(f'bad query {q!r}')
    want = parse_labels(m.group(2), 0, 0)[0] if m.group(2) else {}
    vals = [v for n, lab, v, _ in samples if n == m.group(1) and
            all(lab.get(k) == x for k, x in want.items())]
    if not vals:
        return 'absent'
    s = sum(vals)
    return str(int(s)) if math.isfinite(s) and s == int(s) else repr(s)


def main():
    with open(sys.argv[1], encoding='utf-8') as f:
        samples = check(f.read())
    for q in sys.argv[2:]:
        print(query(samples, q))


if __name__ == '__main__':
    main()
