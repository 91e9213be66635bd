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
  // Hypervisors: one request for the whole fleet (Nova pages os-hypervisors
  // only from microversion 2.33; the controller serves 2.1-2.11), about
  // 50 us of controller CPU per host, so at most every FLEET_MS; a host's
  // state still turns down within service_down_time + FLEET_MS.
  const FLEET_MS = 2000;
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
      method: o.method || 'GET', cache: 'no-store', credentials: 'omit',
      headers: Object.assign({ 'X-Auth-Token': s.token,
        Accept: 'application/json' }, o.headers || {}) });
    if (r.status === 401) { expire(); throw new Error('session expired'); }
    if (!r.ok) { const e = new Error(type + ' ' + r.status); e.status = r.status; throw e; }
    const d = Date.parse(r.headers.get('Date') || '');
    if (s && !isNaN(d)) s.clock = d;
    return r.status === 204 ? null : r.json();
  }

  // Every page of a marker-paginated list; onPage(soFar) after each page
  // but the last, so a big list paints before it is complete.
  async function all(type, path, key, extra, onPage) {
    let out = [], marker = null;
    for (let n = 0; n < 1000; n++) {
      const q = new URLSearchParams(extra || {});
      q.set('limit', String(PAGE));
      if (marker) q.set('marker', marker);
      const b = await api(type, path + '?' + q.toString());
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

  async function fetchFleet() {
    if (!s.admin) { data.fleet = []; return; }
    const now = Date.now();
    if (now - inc.hvAt < FLEET_MS - 100) return;
    inc.hvAt = now;
    const [hv, sv] = await Promise.all([
      api('compute', '/os-hypervisors/detail'),
      now - inc.svcAt >= SERVICES_MS ? api('compute', '/os-services?binary=nova-compute') : null]);
    if (sv) {
      inc.svcAt = now;
      inc.bySvc = {};
      for (const x of sv.services || []) inc.bySvc[x.host] = x;
    }
    let vms = 0;
    const before = JSON.stringify(data.fleet);
    data.fleet = (hv.hypervisors || []).map((h) => {
      const svc = inc.bySvc[h.service ? h.service.host : h.hypervisor_hostname] || {};
      vms += h.running_vms || 0;
      return Object.assign({}, h, { zone: svc.zone || '',
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
        fetchOptional('fips', async () => (await api('network', '/v2.0/floatingips')).floatingips || [])]);
      if (s !== me) return;
      $('error').textContent = '';
      $('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
      render();
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
        ['Last heartbeat', (h) => h.updated_at, (h) => el('td', ageOf(h.updated_at))],
      ],
      rowClass: (h) => hostState(h),
      text: (h) => [h.hypervisor_hostname, hostState(h), h.zone, h.disabled_reason].join(' '),
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
        ['Image', (i) => i.image && i.image.id, (i) => el('td', i.image && i.image.id ? i.image.id : '')],
        ['Age', (i) => i.created, (i) => el('td', ageOf(i.created))],
      ],
      rowClass: (i) => (i.status === 'ERROR' ? 'error' : ''),
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
    header(view);
    const body = document.createDocumentFragment();
    for (const r of rows) {
      const tr = el('tr', null, V.rowClass(r));
      if (r.id !== undefined) tr.dataset.id = String(r.id);
      for (const c of V.cols) tr.append(c[2](r));
      body.append(tr);
    }
    $(view).tBodies[0].replaceChildren(body);
    $('summary').textContent = V.summary(data[view]);
  }

  function show(name) {
    view = name;
    for (const b of document.querySelectorAll('nav button'))
      b.setAttribute('aria-pressed', String(b.dataset.view === name));
    for (const k in VIEWS) $('view-' + k).hidden = k !== name;
    render();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login').addEventListener('submit', login);
    $('logout').addEventListener('click', logout);
    $('filter').addEventListener('input', () => { page[view] = 0; render(); });
    for (const b of document.querySelectorAll('nav button'))
      b.addEventListener('click', () => show(b.dataset.view));
  });
})();
