#!/usr/bin/python3
"""lm_phases.py - where each live migration of one server spent its time,
from the controller's and the agents' logs (debug level, as
tests/integ/test_guest_net.sh runs them) merged by time stamp.

Usage: lm_phases.py LOGDIR SERVER_ID
  LOGDIR holds ctl.log and agent-<host>.log for each host.
Prints one line per migration (in order): the phases in ms, from the
controller's "requested" (the POST's commit) to the controller's end of
the task (the commit of "live-migrated from"):
  ask    requested -> the target's instance_migrate_prepare started
  prep   the target's prepare (images, root overlay, config drive: the
         two side by side, each one's own figure in brackets)
  send   the target's answer -> the source's instance_migrate started
  pre    the source before libvirt (lookup, XML)
  lv     libvirt's virDomainMigrateToURI3, of which
         res  its start -> the guest resumed on the target (the target's
              life-cycle event)
  post   the source after libvirt (secrets, files) -> its answer
  end    the controller's end of the task after the resume (from the
         target's report, or the source's answer, whichever came first)
  total  requested -> end
A phase whose line is missing prints "-".
"""
import datetime
import os
import re
import sys

STAMP = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) ')
REQ = re.compile(r'\[(req-[0-9a-f-]+)\]')


def ms(line):
    m = STAMP.match(line)
    if m is None:
        return None
    t = datetime.datetime.strptime(m.group(1), '%Y-%m-%d %H:%M:%S.%f')
    return t.timestamp() * 1000.0


def lines(path):
    out = []
    try:
        with open(path, errors='replace') as f:
            for ln in f:
                t = ms(ln)
                if t is not None:
                    out.append((t, ln.rstrip('\n')))
    except OSError:
        pass
    return out


def first(log, after, pred):
    for t, ln in log:
        if t >= after and pred(ln):
            return t
    return None


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    d, uuid = sys.argv[1], sys.argv[2]
    ctl = lines(os.path.join(d, 'ctl.log'))
    agents = {}
    for name in os.listdir(d):
        m = re.match(r'^agent-([A-Za-z0-9._-]+)\.log$', name)
        if m:
            agents[m.group(1)] = lines(os.path.join(d, name))
    want = re.compile(r'instance %s: live migration from (\S+) to (\S+) '
                      r'requested' % re.escape(uuid))
    n = 0
    for t0, ln in ctl:
        m = want.search(ln)
        r = REQ.search(ln)
        if m is None or r is None:
            continue
        src, dst, req = m.group(1), m.group(2), r.group(1)
        a_src, a_dst = agents.get(src, []), agents.get(dst, [])

        def tagged(s):
            return lambda x: req in x and s in x
        tp0 = first(a_dst, t0, tagged('instance_migrate_prepare %s: '
                                      'started' % uuid))
        tp1 = first(a_dst, t0, tagged('prepared for an incoming live '
                                      'migration'))
        ts0 = first(a_src, t0, tagged('instance_migrate %s: started' %
                                      uuid))
        tl0 = first(a_src, t0, tagged('%s: live migration to' % uuid))
        tl1 = first(a_src, t0, tagged('%s: live migration done in' % uuid))
        ts1 = first(a_src, t0, tagged('%s live-migrated to' % uuid))
        tres = first(a_dst, tl0 or t0, lambda x: 'libvirt event: guest '
                     '%s resumed' % uuid in x)
        tend = first(ctl, t0, lambda x: 'instance %s live-migrated from '
                     '%s to %s' % (uuid, src, dst) in x)

        def took(log, after, what):
            for t, ln in log:
                if t >= after and uuid in ln and what in ln:
                    m = re.search(r'made in (\d+) ms', ln)
                    return m.group(1) if m else '-'
            return '-'
        root = took(a_dst, tp0 or t0, 'root disk (')
        cfg = took(a_dst, tp0 or t0, 'config drive made in')

        def d_(a, b):
            return '-' if a is None or b is None else '%d' % round(b - a)
        n += 1
        print('migration %d %s -> %s: ask %s, prep %s (root %s, cfg %s), '
              'send %s, pre %s, lv %s (res %s), post %s, end %s; '
              'total %s ms' % (
                  n, src, dst, d_(t0, tp0), d_(tp0, tp1), root, cfg,
                  d_(tp1, ts0),
                  d_(ts0, tl0), d_(tl0, tl1), d_(tl0, tres), d_(tl1, ts1),
                  d_(tres, tend), d_(t0, tend)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
