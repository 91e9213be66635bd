/*
 * tinystack fleet dashboard: a client of the APIs like any other.
 * The token lives only in this closure (never in storage or a cookie), so
 * nothing can replay it across pages and no request carries it unasked
 * (no CSRF). Every API is reached through the dashboard's own origin:
 * the controller mounts each API under its service's name next to this
 * page (../compute/v2.1/..., see controller/dashboard/dashboard.h), so
 * URLs are relative and the page works behind a reverse proxy. Data
 * are rendered with textContent only, never as HTML.
 */
(() => {
  'use strict';
  const POLL_MS = 1000;
  // Nova's [api] max_limit: the largest page a list returns.
  const PAGE = 1000;
  // Hypervisors: the whole fleet in pages of PAGE (limit/marker, which Nova
  // serves from microversion 2.33: asked for with HV_MV), about 50 us of
  // controller CPU per host, so at most every FLEET_MS; a host's state
  // still turns down within service_down_time + FLEET_MS.
  const FLEET_MS = 2000;
  const HV_MV = { 'OpenStack-API-Version': 'compute 2.33' };
  // os-services only adds zones and heartbeat ages: seldom.
  const SERVICES_MS = 10000;
  // Instances: changes-since every poll; a full reload (which also drops
  // deleted servers, which this controller does not list as DELETED)
  // every RESYNC_MS, on every poll while the cloud holds at most one
  // page, and as soon as the fleet's instance count falls.
  const RESYNC_MS = 120000;
  // Rows rendered per table page: the DOM stays small at any fleet size.
  const ROWS = 100;
  // Catalog type -> the mount name on the dashboard's port.
  const MOUNT = { identity: 'identity', compute: 'compute', image: 'image',
    network: 'network', volumev3: 'volume', 'block-storage': 'volume',
    volume: 'volume' };

  let s = null;   // session: { token, admin, base, user, project }
  let timer = null, busy = false, view = 'fleet';
  const data = { fleet: [], instances: [], volumes: [], networks: [], fips: [] };
  const sort = {};
  const $ = (id) => document.getElementById(id);

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  // The path of a catalog URL, relative to the mount of its service.
  function baseOf(type, url) {
    let path;
    try { path = new URL(url).pathname; } catch (e) { return null; }
    return '../' + MOUNT[type] + path.replace(/\/+$/, '');
  }

  async function api(type, path, opts) {
    if (!s || !s.base[type]) throw new Error('no ' + type + ' endpoint');
    const o = opts || {};
    const r = await fetch(s.base[type] + path, {
      method: o.method || 'GET', cache: 'no-store', credentials: 'omit', body: o.body,
      headers: Object.assign({ 'X-Auth-Token': s.token,
        Accept: 'application/json' }, o.headers || {}) });
    if (r.status === 401) { expire(); throw new Error('session expired'); }
    if (!r.ok) { const e = new Error(type + ' ' + r.status); e.status = r.status; throw e; }
    const d = Date.parse(r.headers.get('Date') || '');
    if (s && !isNaN(d)) s.clock = d;
    return r.status === 204 ? null : r.json();
  }

  // Every page of a marker-paginated list; onPage(soFar) after each page
  // but the last, so a big list paints before it is complete. headers:
  // extra request headers (a microversion).
  async function all(type, path, key, extra, onPage, headers) {
    let out = [], marker = null;
    for (let n = 0; n < 1000; n++) {
      const q = new URLSearchParams(extra || {});
      q.set('limit', String(PAGE));
      if (marker) q.set('marker', String(marker));
      const b = await api(type, path + '?' + q.toString(), { headers: headers });
      const page = b[key] || [];
      out = out.concat(page);
      if (page.length < PAGE) break;
      marker = page[page.length - 1].id;
      if (onPage) onPage(out);
    }
    return out;
  }

  async function login(ev) {
    ev.preventDefault();
    $('login-error').textContent = '';
    const f = ev.target;
    const dom = f.domain.value.trim();
    const body = { auth: { identity: { methods: ['password'], password: { user: {
      name: f.user.value, domain: { name: dom }, password: f.password.value } } },
      scope: { project: { name: f.project.value, domain: { name: dom } } } } };
    let r;
    try {
      r = await fetch('../identity/v3/auth/tokens', { method: 'POST',
        cache: 'no-store', credentials: 'omit',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify(body) });
    } catch (e) { $('login-error').textContent = 'The controller did not answer.'; return; }
    f.password.value = '';
    if (r.status !== 201) {
      $('login-error').textContent = r.status === 401 ?
        'Wrong domain, user, password or project.' : 'Login failed (' + r.status + ').';
      return;
    }
    const t = (await r.json()).token;
    const base = {};
    for (const svc of t.catalog || []) {
      if (!MOUNT[svc.type]) continue;
      const ep = (svc.endpoints || []).find((e) => e.interface === 'public');
      const b = ep && baseOf(svc.type, ep.url);
      if (b) base[svc.type === 'block-storage' || svc.type === 'volume' ? 'volumev3' : svc.type] = b;
    }
    base.identity = '../identity/v3';
    incReset();
    s = { token: r.headers.get('X-Subject-Token'), base: base, clock: 0,
      admin: (t.roles || []).some((x) => x.name === 'admin'),
      user: t.user.name, project: t.project ? t.project.name : '' };
    $('who').textContent = s.user + ' @ ' + s.project + (s.admin ? ' (admin)' : '');
    $('login-view').hidden = true;
    $('app-view').hidden = false;
    $('logout').hidden = false;
    // Members get no hypervisor view at all (the API refuses it anyway).
    $('tab-fleet').hidden = !s.admin;
    show(s.admin ? 'fleet' : 'instances');
    poll();
  }

  function reset() {
    s = null;
    shown = '';
    if (timer) clearTimeout(timer);
    timer = null;
    for (const k in data) data[k] = [];
    for (const k in data) $(k).tBodies[0].replaceChildren();
    for (const k in page) delete page[k];
    inc = null;
    $('who').textContent = '';
    $('summary').textContent = '';
    $('error').textContent = '';
    detailClose();
    for (const c of document.querySelectorAll('#charts svg')) c.replaceChildren();
    $('app-view').hidden = true;
    $('logout').hidden = true;
    $('login-view').hidden = false;
  }

  function expire() {
    reset();
    $('login-error').textContent = 'The session ended; log in again.';
  }

  async function logout() {
    const tok = s && s.token;
    reset();
    if (!tok) return;
    try {
      await fetch('../identity/v3/auth/tokens', { method: 'DELETE',
        cache: 'no-store', credentials: 'omit',
        headers: { 'X-Auth-Token': tok, 'X-Subject-Token': tok } });
    } catch (e) { /* the token expires on its own */ }
    $('login-error').textContent = 'Logged out.';
  }

  // ---- data ----------------------------------------------------------
  // Bumped whenever a view's rows change, so render() can tell without
  // comparing the rows themselves.
  const version = { fleet: 0, instances: 0, volumes: 0, networks: 0, fips: 0 };
  // Poll bookkeeping of the fleet and instance views (per session).
  let inc = null;

  function incReset() {
    inc = { hvAt: 0, svcAt: 0, bySvc: {}, vms: -1, fullAt: 0, since: null,
      byId: new Map() };
  }

  // The dashboard's own admin route (no OpenStack API carries it): each
  // host's agent version and the services it depends on. Not ours to
  // show (403) or not there: the columns stay empty.
  async function hostStatus() {
    const r = await fetch('api/host-status', { cache: 'no-store', credentials: 'omit',
      headers: { 'X-Auth-Token': s.token, Accept: 'application/json' } });
    if (r.status === 401) { expire(); throw new Error('session expired'); }
    return r.ok ? r.json() : null;
  }

  // Services of a host as one word for the table: "ok", "-" (not
  // reported) or the names of those down.
  function depsState(h) {
    const down = (h.deps || []).filter((d) => d.state !== 'up').map((d) => d.name);
    if (down.length) return down.join(', ') + ' down';
    return (h.deps || []).length ? 'ok' : '-';
  }

  async function fetchFleet() {
    if (!s.admin) { data.fleet = []; return; }
    const now = Date.now();
    if (now - inc.hvAt < FLEET_MS - 100) return;
    inc.hvAt = now;
    const [hv, sv, hs] = await Promise.all([
      all('compute', '/os-hypervisors/detail', 'hypervisors', null, null, HV_MV),
      now - inc.svcAt >= SERVICES_MS ? api('compute', '/os-services?binary=nova-compute') : null,
      hostStatus()]);
    if (hs) {
      inc.byHs = {};
      for (const x of hs.hosts || []) inc.byHs[x.host] = x;
    }
    if (sv) {
      inc.svcAt = now;
      inc.bySvc = {};
      for (const x of sv.services || []) inc.bySvc[x.host] = x;
    }
    let vms = 0;
    const before = JSON.stringify(data.fleet);
    data.fleet = hv.map((h) => {
      const svc = inc.bySvc[h.service ? h.service.host : h.hypervisor_hostname] || {};
      vms += h.running_vms || 0;
      const hst = (inc.byHs || {})[h.service ? h.service.host : h.hypervisor_hostname] || {};
      return Object.assign({}, h, { zone: svc.zone || '',
        agent_version: hst.agent_version || '', deps: hst.services || [],
        updated_at: svc.updated_at || '',
        disabled_reason: (h.service && h.service.disabled_reason) || svc.disabled_reason || '' });
    });
    // Unchanged rows are not re-rendered (focus and selection stay).
    if (JSON.stringify(data.fleet) !== before) version.fleet++;
    // Fewer instances placed than last time: some were deleted, which
    // changes-since does not tell here; reload the instances.
    if (inc.vms >= 0 && vms < inc.vms) inc.fullAt = 0;
    inc.vms = vms;
  }

  // ISO 8601 of the controller's clock minus a margin (changes-since is
  // inclusive; a server seen twice is just replaced).
  function sinceOf(clock) {
    return new Date(clock - 2000).toISOString().replace(/\.\d+Z$/, 'Z');
  }

  async function fetchInstances() {
    const extra = s.admin ? { all_tenants: '1' } : {};
    const now = Date.now(), me = s;
    const full = !inc.since || now - inc.fullAt >= RESYNC_MS ||
      data.instances.length < PAGE;
    const t0 = s.clock || now;
    if (full) {
      // The first load paints each page as it arrives.
      const first = !inc.since;
      const list = await all('compute', '/servers/detail', 'servers', extra,
        first ? (soFar) => { if (s === me) { data.instances = soFar; version.instances++; render(); } } : null);
      inc.byId = new Map(list.map((x, k) => [x.id, k]));
      const same = !first && JSON.stringify(list) === JSON.stringify(data.instances);
      data.instances = list;
      inc.fullAt = now;
      if (!same) version.instances++;
    } else {
      const ch = await all('compute', '/servers/detail', 'servers',
        Object.assign({ 'changes-since': inc.since }, extra));
      if (ch.length) {
        const fresh = [];
        let gone = false, moved = false;
        for (const x of ch) {
          const k = inc.byId.get(x.id);
          if (x.status === 'DELETED') gone = gone || k !== undefined;
          else if (k === undefined) fresh.push(x);
          else if (JSON.stringify(data.instances[k]) !== JSON.stringify(x)) {
            data.instances[k] = x;
            moved = true;
          }
        }
        let list = fresh.length ? fresh.concat(data.instances) : data.instances;
        if (gone) {
          const del = new Set(ch.filter((x) => x.status === 'DELETED').map((x) => x.id));
          list = list.filter((x) => !del.has(x.id));
        }
        if (list !== data.instances || gone) {
          data.instances = list;
          inc.byId = new Map(list.map((x, k) => [x.id, k]));
        }
        if (moved || fresh.length || gone) version.instances++;
      }
    }
    // The next changes-since starts at this poll's start on the
    // controller's clock (not the browser's).
    inc.since = sinceOf(t0);
  }

  async function fetchOptional(key, fn) {
    const before = JSON.stringify(data[key]);
    try { data[key] = await fn(); } catch (e) {
      if (e.status === 403 || e.status === 404 || /no .* endpoint/.test(e.message)) data[key] = [];
      else throw e;
    }
    if (JSON.stringify(data[key]) !== before) version[key]++;
  }

  async function poll() {
    if (!s || busy) return;
    busy = true;
    const me = s;
    try {
      await Promise.all([fetchFleet(), fetchInstances(),
        fetchOptional('volumes', async () => (await api('volumev3', '/volumes/detail' +
          (s.admin ? '?all_tenants=1' : ''))).volumes || []),
        fetchOptional('networks', async () => (await api('network', '/v2.0/networks')).networks || []),
        fetchOptional('fips', async () => (await api('network', '/v2.0/floatingips')).floatingips || []),
        fetchImageNames()]);
      if (s !== me) return;
      $('error').textContent = '';
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
      render();
      renderCharts();
      detailUpdate();
    } catch (e) {
      if (s === me) $('error').textContent = 'Refresh failed: ' + e.message;
    } finally {
      busy = false;
      if (s === me) timer = setTimeout(poll, POLL_MS);
    }
  }

  // ---- rendering -----------------------------------------------------
  function ageOf(iso) {
    if (!iso) return '';
    const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : iso + 'Z');
    if (isNaN(t)) return '';
    const d = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (d < 120) return d + ' s';
    if (d < 7200) return Math.round(d / 60) + ' min';
    if (d < 172800) return Math.round(d / 3600) + ' h';
    return Math.round(d / 86400) + ' d';
  }

  function bar(used, total, unit) {
    const td = el('td');
    const m = el('meter');
    m.min = 0; m.max = Math.max(total || 0, 1); m.value = used || 0;
    m.high = m.max * 0.85;
    m.setAttribute('aria-label', used + ' of ' + total + ' ' + unit);
    td.append(m, el('span', used + '/' + total + ' ' + unit, 'num'));
    return td;
  }

  function addrs(a) {
    const out = [];
    for (const net in a || {}) for (const x of a[net]) out.push(net + ' ' + x.addr);
    return out.join(', ');
  }

  function hostState(h) {
    if (h.state === 'down') return 'down';
    return h.status === 'disabled' ? 'disabled' : 'up';
  }

  // Per view: columns [title, sort key fn, cell fn], row class, filter text.
  const VIEWS = {
    fleet: {
      cols: [
        ['Host', (h) => h.hypervisor_hostname, (h) => el('td', h.hypervisor_hostname, 'name')],
        ['State', hostState, (h) => {
          const st = hostState(h);
          const td = el('td', st, 'state ' + st);
          if (h.disabled_reason) td.append(el('span', ' (' + h.disabled_reason + ')'));
          return td; }],
        ['vCPUs', (h) => h.vcpus_used / (h.vcpus || 1), (h) => bar(h.vcpus_used, h.vcpus, '')],
        ['RAM', (h) => h.memory_mb_used / (h.memory_mb || 1), (h) => bar(h.memory_mb_used, h.memory_mb, 'MiB')],
        ['Disk', (h) => h.local_gb_used / (h.local_gb || 1), (h) => bar(h.local_gb_used, h.local_gb, 'GiB')],
        ['Instances', (h) => h.running_vms, (h) => el('td', h.running_vms)],
        ['Zone', (h) => h.zone, (h) => el('td', h.zone)],
        ['Agent', (h) => h.agent_version, (h) => el('td', h.agent_version || '-', 'agent')],
        ['Services', depsState, (h) => {
          const st = depsState(h);
          const td = el('td', st, 'deps ' + (st.endsWith(' down') ? 'down' : 'up'));
          // Each service with its most recent error, on hover.
          td.title = (h.deps || []).map((d) => d.name + ': ' + d.state +
            (d.detail ? ' (' + d.detail + ')' : '') +
            (d.error ? '; last error ' + new Date(d.error_at).toISOString() + ': ' + d.error : '')).join('\n');
          return td; }],
        ['Last heartbeat', (h) => h.updated_at, (h) => el('td', ageOf(h.updated_at))],
      ],
      rowClass: (h) => hostState(h),
      text: (h) => [h.hypervisor_hostname, hostState(h), h.zone, h.disabled_reason,
        h.agent_version, depsState(h)].join(' '),
      summary: (v) => {
        const n = { up: 0, down: 0, disabled: 0 };
        for (const h of v) n[hostState(h)]++;
        return v.length + ' hosts: ' + n.up + ' up, ' + n.down + ' down, ' + n.disabled + ' disabled';
      },
    },
    instances: {
      cols: [
        ['Name', (i) => i.name, (i) => {
          const td = el('td', i.name, 'name');
          if (i.status === 'ERROR' && i.fault) td.append(el('span', i.fault.message, 'fault'));
          return td; }],
        ['Project', (i) => i.tenant_id, (i) => el('td', i.tenant_id)],
        ['Status', (i) => i.status, (i) => el('td', i.status +
          (i['OS-EXT-STS:task_state'] ? ' / ' + i['OS-EXT-STS:task_state'] : ''), 'status')],
        ['Host', (i) => i['OS-EXT-SRV-ATTR:host'] || '', (i) => el('td', i['OS-EXT-SRV-ATTR:host'] || '')],
        ['Addresses', (i) => addrs(i.addresses), (i) => el('td', addrs(i.addresses))],
        ['Flavor', (i) => i.flavor && (i.flavor.original_name || i.flavor.id), (i) =>
          el('td', i.flavor ? (i.flavor.original_name || i.flavor.id) : '')],
        ['Image', (i) => imageName(i), (i) => el('td', imageName(i))],
        ['Age', (i) => i.created, (i) => el('td', ageOf(i.created))],
      ],
      rowClass: (i) => (i.status === 'ERROR' ? 'error' : ''),
      select: true,
      text: (i) => [i.name, i.status, i.tenant_id, i['OS-EXT-SRV-ATTR:host'], addrs(i.addresses)].join(' '),
      summary: (v) => {
        const n = {};
        for (const i of v) n[i.status] = (n[i.status] || 0) + 1;
        return v.length + ' instances' + Object.keys(n).sort().map((k) => ', ' + n[k] + ' ' + k).join('');
      },
    },
    volumes: {
      cols: [
        ['Name', (v) => v.name || v.id, (v) => el('td', v.name || v.id, 'name')],
        ['Status', (v) => v.status, (v) => el('td', v.status)],
        ['Size', (v) => v.size, (v) => el('td', v.size + ' GiB')],
        ['Project', (v) => v['os-vol-tenant-attr:tenant_id'] || '', (v) => el('td', v['os-vol-tenant-attr:tenant_id'] || '')],
        ['Attached to', (v) => (v.attachments || []).map((a) => a.server_id).join(' '),
          (v) => el('td', (v.attachments || []).map((a) => a.server_id).join(', '))],
      ],
      rowClass: (v) => (v.status === 'error' ? 'error' : ''),
      text: (v) => [v.name, v.id, v.status].join(' '),
      summary: (v) => v.length + ' volumes',
    },
    networks: {
      cols: [
        ['Name', (n) => n.name, (n) => el('td', n.name, 'name')],
        ['Status', (n) => n.status, (n) => el('td', n.status)],
        ['Project', (n) => n.project_id || n.tenant_id, (n) => el('td', n.project_id || n.tenant_id)],
        ['Shared', (n) => String(n.shared), (n) => el('td', n.shared ? 'yes' : 'no')],
        ['External', (n) => String(n['router:external']), (n) => el('td', n['router:external'] ? 'yes' : 'no')],
        ['Subnets', (n) => (n.subnets || []).length, (n) => el('td', (n.subnets || []).length)],
      ],
      rowClass: () => '',
      text: (n) => [n.name, n.id, n.status].join(' '),
      summary: (v) => v.length + ' networks',
    },
    fips: {
      cols: [
        ['Address', (f) => f.floating_ip_address, (f) => el('td', f.floating_ip_address, 'name')],
        ['Status', (f) => f.status, (f) => el('td', f.status)],
        ['Fixed address', (f) => f.fixed_ip_address || '', (f) => el('td', f.fixed_ip_address || '')],
        ['Port', (f) => f.port_id || '', (f) => el('td', f.port_id || '')],
        ['Project', (f) => f.project_id || f.tenant_id, (f) => el('td', f.project_id || f.tenant_id)],
      ],
      rowClass: () => '',
      text: (f) => [f.floating_ip_address, f.fixed_ip_address, f.status].join(' '),
      summary: (v) => v.length + ' floating IPs',
    },
  };

  function header(name) {
    const V = VIEWS[name], tr = el('tr');
    V.cols.forEach((c, i) => {
      const th = el('th', c[0]);
      th.scope = 'col';
      th.tabIndex = 0;
      if (sort[name] && sort[name].col === i)
        th.setAttribute('aria-sort', sort[name].dir > 0 ? 'ascending' : 'descending');
      const go = () => {
        const cur = sort[name];
        sort[name] = { col: i, dir: cur && cur.col === i ? -cur.dir : 1 };
        render();
      };
      th.addEventListener('click', go);
      th.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); go(); } });
      tr.append(th);
    });
    $(name).tHead.replaceChildren(tr);
  }

  // What the table shows now: unchanged data are not re-rendered (the
  // DOM stays put for readers, focus and selection).
  let shown = '';
  // The table page shown per view (ROWS rows each), and the filtered,
  // sorted rows it was cut from with what they were made of.
  const page = {};
  let cut = { key: '', rows: [] };

  // Filter and sort run over every fetched row (the API's filters do not
  // cover a free-text match across columns); at 20,000 rows that is a few
  // ms, and only when the data, the filter or the order changed.
  function rowsOf(V, f) {
    const key = JSON.stringify([view, f, sort[view] || null, version[view]]);
    if (key === cut.key) return cut.rows;
    let rows = f ? data[view].filter((r) => V.text(r).toLowerCase().includes(f)) : data[view].slice();
    const so = sort[view];
    if (so) {
      const kf = V.cols[so.col][1];
      const keyed = rows.map((r) => [kf(r), r]);
      keyed.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0) * so.dir);
      rows = keyed.map((x) => x[1]);
    }
    cut = { key: key, rows: rows };
    return rows;
  }

  // Previous/next buttons under the table, made once per view.
  function pager(name, total) {
    const id = 'pager-' + name;
    let p = $(id);
    if (!p) {
      p = el('p', null, 'pager');
      p.id = id;
      const prev = el('button', 'Previous'), next = el('button', 'Next'), where = el('span');
      prev.type = next.type = 'button';
      where.setAttribute('aria-live', 'polite');
      prev.addEventListener('click', () => { page[name] = (page[name] || 0) - 1; render(); });
      next.addEventListener('click', () => { page[name] = (page[name] || 0) + 1; render(); });
      p.append(prev, where, next);
      $('view-' + name).append(p);
    }
    const last = Math.max(0, Math.ceil(total / ROWS) - 1);
    const n = Math.min(Math.max(page[name] || 0, 0), last);
    page[name] = n;
    const [prev, where, next] = p.children;
    prev.disabled = n === 0;
    next.disabled = n >= last;
    where.textContent = total ? ' rows ' + (n * ROWS + 1) + '-' + Math.min(total, (n + 1) * ROWS) +
      ' of ' + total + ' ' : ' no rows ';
    p.hidden = total <= ROWS;
    return n;
  }

  function render() {
    if (!s) return;
    const V = VIEWS[view], f = $('filter').value.trim().toLowerCase();
    const cutRows = rowsOf(V, f);
    const n = pager(view, cutRows.length);
    const key = JSON.stringify([view, f, sort[view] || null, version[view], n,
      Math.floor(Date.now() / 10000)]);   // ages move on
    if (key === shown) return;
    shown = key;
    const rows = cutRows.slice(n * ROWS, (n + 1) * ROWS);
    const refocus = focusedRow(view);
    header(view);
    const body = document.createDocumentFragment();
    for (const r of rows) {
      const tr = el('tr', null, V.rowClass(r));
      if (r.id !== undefined) tr.dataset.id = String(r.id);
      if (V.select) selectable(tr, r);
      for (const c of V.cols) tr.append(c[2](r));
      body.append(tr);
    }
    $(view).tBodies[0].replaceChildren(body);
    if (refocus !== null) focusRow(view, refocus);
    $('summary').textContent = V.summary(data[view]);
  }

  function show(name) {
    view = name;
    for (const b of document.querySelectorAll('nav button'))
      b.setAttribute('aria-pressed', String(b.dataset.view === name));
    for (const k in VIEWS) $('view-' + k).hidden = k !== name;
    render();
  }

  // ---- image names for the instances table ---------------------------
  // Nova gives only the image id; Glance's list names it. A failure
  // (no image endpoint, a refusal) leaves the ids shown.
  let imageNames = {};

  async function fetchImageNames() {
    try {
      const m = {};
      for (const x of await all('image', '/v2/images', 'images')) m[x.id] = x.name;
      imageNames = m;
    } catch (e) { imageNames = {}; }
  }

  function imageName(i) {
    const id = i.image && i.image.id ? i.image.id : '';
    return id ? (imageNames[id] || id) : '';
  }

  // ---- instance detail: action log and console tail ------------------
  // The panel shows one instance; its log and console are fetched when it
  // is opened, when its status or task state changes, and on Refresh.
  // detailSeq drops answers for an instance no longer shown.
  let detailId = null, detailSeen = '', detailSeq = 0;

  function selectable(tr, r) {
    tr.tabIndex = 0;
    tr.setAttribute('aria-selected', String(r.id === detailId));
    const go = () => detailOpen(r.id);
    tr.addEventListener('click', go);
    tr.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); go(); } });
  }

  // A re-render replaces the rows: the keyboard focus follows its row's id.
  function focusedRow(name) {
    const a = document.activeElement;
    return a && a.tagName === 'TR' && a.dataset.id !== undefined &&
      $(name).tBodies[0].contains(a) ? a.dataset.id : null;
  }

  function focusRow(name, id) {
    for (const tr of $(name).tBodies[0].rows)
      if (tr.dataset.id === id) { tr.focus(); return; }
  }

  function detailInstance() {
    return data.instances.find((i) => i.id === detailId) || null;
  }

  function detailOpen(id) {
    detailId = id;
    detailSeen = '';
    $('detail').hidden = false;
    for (const tr of $('instances').tBodies[0].rows)
      tr.setAttribute('aria-selected', String(tr.dataset.id === id));
    detailUpdate();
    $('detail-title').focus();
  }

  function detailClose() {
    detailId = null;
    detailSeq++;
    $('detail').hidden = true;
    $('detail-title').textContent = '';
    $('detail-status').textContent = '';
    $('detail-fault').textContent = '';
    $('detail-actions').tBodies[0].replaceChildren();
    $('console').textContent = '';
  }

  // Called after every poll: the header from the data in hand, the log
  // and console again only when the instance moved on.
  function detailUpdate(force) {
    if (!s || detailId === null) return;
    const i = detailInstance();
    if (!i) {
      $('detail-status').textContent = 'This instance is gone.';
      return;
    }
    const task = i['OS-EXT-STS:task_state'] || '';
    $('detail-title').textContent = i.name;
    $('detail-status').textContent = i.status + (task ? ' / ' + task : '') +
      (i['OS-EXT-SRV-ATTR:host'] ? ' on ' + i['OS-EXT-SRV-ATTR:host'] : '') + ', id ' + i.id;
    $('detail-fault').textContent = i.status === 'ERROR' && i.fault ?
      'Fault: ' + i.fault.message : '';
    const seen = i.status + '/' + task;
    if (!force && seen === detailSeen) return;
    detailSeen = seen;
    detailActions(i.id);
    detailConsole(i.id);
  }

  async function detailActions(id) {
    const seq = ++detailSeq, me = s;
    const tb = $('detail-actions').tBodies[0];
    let acts;
    try {
      acts = (await api('compute', '/servers/' + encodeURIComponent(id) +
        '/os-instance-actions')).instanceActions || [];
      acts.sort((a, b) => (a.start_time < b.start_time ? 1 : -1));
      acts = acts.slice(0, 20);
      // Events are the admin's (policy os-instance-actions:events).
      if (s.admin) {
        await Promise.all(acts.map(async (a) => {
          try {
            const b = await api('compute', '/servers/' + encodeURIComponent(id) +
              '/os-instance-actions/' + encodeURIComponent(a.request_id));
            a.events = (b.instanceAction && b.instanceAction.events) || [];
          } catch (e) { a.events = null; }
        }));
      }
    } catch (e) {
      if (seq === detailSeq && s === me) tb.replaceChildren(msgRow(5, 'Action log: ' + e.message));
      return;
    }
    if (seq !== detailSeq || s !== me) return;
    const f = document.createDocumentFragment();
    for (const a of acts) {
      const tr = el('tr');
      const ev = el('td');
      if (a.message) ev.append(el('span', a.message, 'fault'));
      if (a.events) {
        const ul = el('ul', null, 'events');
        for (const x of a.events)
          ul.append(el('li', x.event + ': ' + (x.result || 'running') +
            (x.host ? ' on ' + x.host : '') + (x.finish_time ? ', ' + ageOf(x.finish_time) + ' ago' : '')));
        ev.append(ul);
      }
      tr.append(el('td', a.action), el('td', ageOf(a.start_time) + ' ago'),
        el('td', a.user_id || ''), el('td', a.request_id, 'mono'), ev);
      f.append(tr);
    }
    if (!acts.length) f.append(msgRow(5, 'No actions recorded.'));
    tb.replaceChildren(f);
  }

  async function detailConsole(id) {
    const me = s, n = Math.min(Math.max(parseInt($('console-length').value, 10) || 50, 1), 10000);
    let out;
    try {
      const b = await api('compute', '/servers/' + encodeURIComponent(id) + '/action', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ 'os-getConsoleOutput': { length: n } }) });
      out = (b && b.output) || '(the console is empty)';
    } catch (e) {
      out = e.status === 409 ? '(no console: the instance is not running)' :
        'Console log: ' + e.message;
    }
    if (s === me && detailId === id) $('console').textContent = out;
  }

  function msgRow(span, text) {
    const tr = el('tr'), td = el('td', text);
    td.colSpan = span;
    tr.append(td);
    return tr;
  }

  // ---- summary charts (hand-written SVG) -----------------------------
  // Text goes in with textContent only, like the tables; every chart has
  // a <title> and a <desc> that says in words what the bars show.
  const SVGNS = 'http://www.w3.org/2000/svg';
  const CHART_HOSTS = 15, CHART_MINUTES = 30;

  function sv(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs || {}) e.setAttribute(k, String(attrs[k]));
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  function chart(id, title, desc, width, height, draw) {
    const svg = $(id);
    svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
    svg.setAttribute('width', width);
    svg.setAttribute('height', height);
    const kids = [sv('title', { id: id + '-t' }, title), sv('desc', { id: id + '-d' }, desc)];
    draw((e) => kids.push(e));
    svg.replaceChildren(...kids);
  }

  // A horizontal bar: label, bar against 100 %, value text.
  function hbar(add, y, label, frac, text, cls) {
    const w = Math.round(160 * Math.min(Math.max(frac, 0), 1));
    add(sv('text', { x: 0, y: y + 10, class: 'lbl' }, label));
    add(sv('rect', { x: 140, y: y, width: 160, height: 12, class: 'track' }));
    const r = sv('rect', { x: 140, y: y, width: w, height: 12, class: 'bar ' + cls });
    r.append(sv('title', {}, label + ': ' + text));
    add(r);
    add(sv('text', { x: 306, y: y + 10, class: 'val' }, text));
  }

  function short(name, n) {
    name = String(name || '');
    return name.length > n ? name.slice(0, n - 1) + '\u2026' : name;
  }

  function renderCharts() {
    if (!s) return;
    const pct = (u, t) => (t ? u / t : 0);
    // Capacity: the fullest hosts (by their fuller resource) first.
    $('chart-capacity-fig').hidden = !s.admin;
    if (s.admin) {
      const hosts = data.fleet.slice().sort((a, b) =>
        Math.max(pct(b.vcpus_used, b.vcpus), pct(b.memory_mb_used, b.memory_mb)) -
        Math.max(pct(a.vcpus_used, a.vcpus), pct(a.memory_mb_used, a.memory_mb))).slice(0, CHART_HOSTS);
      const words = hosts.map((h) => h.hypervisor_hostname + ' ' + h.vcpus_used + ' of ' + h.vcpus +
        ' vCPUs, ' + h.memory_mb_used + ' of ' + h.memory_mb + ' MiB RAM').join('; ');
      chart('chart-capacity', 'Capacity used per host (the ' + hosts.length + ' fullest of ' +
        data.fleet.length + ')', words || 'No hosts.', 380, Math.max(hosts.length * 30, 20), (add) => {
        hosts.forEach((h, k) => {
          const y = k * 30;
          hbar(add, y, short(h.hypervisor_hostname, 16) + ' vCPU', pct(h.vcpus_used, h.vcpus),
            h.vcpus_used + '/' + h.vcpus, 'cpu');
          hbar(add, y + 13, short(h.hypervisor_hostname, 16) + ' RAM', pct(h.memory_mb_used, h.memory_mb),
            Math.round(100 * pct(h.memory_mb_used, h.memory_mb)) + ' %', 'ram');
        });
      });
    }
    // Instances per state.
    const n = {};
    for (const i of data.instances) n[i.status] = (n[i.status] || 0) + 1;
    const states = Object.keys(n).sort();
    const most = Math.max(1, ...states.map((k) => n[k]));
    chart('chart-states', 'Instances per state', states.length ?
      states.map((k) => n[k] + ' ' + k).join(', ') : 'No instances.', 380,
      Math.max(states.length * 18, 20), (add) => {
        states.forEach((k, j) => hbar(add, j * 18, k, n[k] / most, n[k], 'st-' + k.toLowerCase()));
      });
    // Creates per minute over the last half hour, from the created times.
    const now = Date.now(), bins = new Array(CHART_MINUTES).fill(0);
    for (const i of data.instances) {
      const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(i.created || '') ? i.created : i.created + 'Z');
      const m = Math.floor((now - t) / 60000);
      if (m >= 0 && m < CHART_MINUTES) bins[CHART_MINUTES - 1 - m]++;
    }
    const top = Math.max(1, ...bins), total = bins.reduce((a, b) => a + b, 0);
    chart('chart-creates', 'Instances created per minute, last ' + CHART_MINUTES + ' minutes',
      total + ' created in the last ' + CHART_MINUTES + ' minutes, at most ' +
      Math.max(...bins) + ' in one minute; ' + bins[CHART_MINUTES - 1] + ' in the current minute.',
      380, 110, (add) => {
        const bw = 300 / CHART_MINUTES;
        add(sv('line', { x1: 40, y1: 90, x2: 340, y2: 90, class: 'axis' }));
        add(sv('text', { x: 36, y: 14, class: 'val end' }, top));
        add(sv('text', { x: 36, y: 90, class: 'val end' }, 0));
        add(sv('text', { x: 40, y: 106, class: 'val' }, '-' + CHART_MINUTES + ' min'));
        add(sv('text', { x: 340, y: 106, class: 'val end' }, 'now'));
        bins.forEach((c, k) => {
          if (!c) return;
          const h = Math.max(1, Math.round(80 * c / top));
          const r = sv('rect', { x: 40 + k * bw + 1, y: 90 - h, width: bw - 2, height: h, class: 'bar cpu' });
          r.append(sv('title', {}, c + ' created ' + (CHART_MINUTES - 1 - k) + ' min ago'));
          add(r);
        });
      });
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login').addEventListener('submit', login);
    $('logout').addEventListener('click', logout);
    $('filter').addEventListener('input', () => { page[view] = 0; render(); });
    $('detail-close').addEventListener('click', detailClose);
    $('console-refresh').addEventListener('click', () => detailUpdate(true));
    for (const b of document.querySelectorAll('nav button'))
      b.addEventListener('click', () => show(b.dataset.view));
  });
})();
