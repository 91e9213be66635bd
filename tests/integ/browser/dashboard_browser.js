#!/usr/bin/env node
// Drives Debian's headless Chromium (/usr/bin/chromium, through
// playwright-core: no browser download) against a controller's dashboard;
// see tests/integ/test_dashboard_browser.sh, which starts the controller
// and the agents and passes what it made as one JSON argument:
//   base, nhosts, adminPw, memberPw, readerPw, xssName, xssImage, xssFault,
//   stopPid, downHost, downBound (s), artifacts (dir), token (admin),
//   flavor, image, errorName.
// Prints one "ok - ..." line per check; exits non-zero on the first failure
// (with failure.png and the page's text in the artifacts directory).
'use strict';
const path = require('path');
const fs = require('fs');
const { chromium } = require('playwright-core');

const C = JSON.parse(process.argv[2]);
const ORIGIN = new URL(C.base).origin;
let browser = null, page = null;
const seen = [];       // { url, method, token } of every request the page sent
const dialogs = [];    // every alert/confirm/prompt that opened
let listsDone = 0;     // servers/detail answers the page has read

class Fail extends Error {}
function fail(msg) { throw new Fail(msg); }
const T0 = Date.now();
const ok = (msg) => console.log('ok - ' + msg + ' [' + ((Date.now() - T0) / 1000).toFixed(1) + ' s]');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const shot = (name) => page.screenshot({ path: path.join(C.artifacts, name), fullPage: true });

async function wait(secs, what, cond) {
  const end = Date.now() + secs * 1000;
  for (;;) {
    if (dialogs.length) fail('a dialog opened while waiting for ' + what + ': ' + dialogs[0]);
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) fail('timed out after ' + secs + 's waiting for ' + what);
    await sleep(100);
  }
}

// The page re-renders its tables as data change: read a table in one
// evaluation (no element handle survives a re-render).
const rows = (table) => page.evaluate((t) =>
  Array.from(document.querySelectorAll('#' + t + ' tbody tr')).map((r) => {
    const n = r.querySelector('td.name');
    const f = n && n.querySelector('.fault');
    return { cls: r.className, meters: r.querySelectorAll('meter').length,
      name: n && n.firstChild ? n.firstChild.nodeValue : null,
      nameNodes: n ? Array.from(n.childNodes).map((c) => c.nodeType) : [],
      fault: f ? { text: f.textContent, kids: f.children.length } : null,
      state: (r.querySelector('td.state') || {}).textContent || '',
      status: (r.querySelector('td.status') || {}).textContent || '',
      cells: Array.from(r.cells).map((c) => c.textContent) };
  }), table);

const visible = (id) => page.isVisible('#' + id);
const text = (id) => page.textContent('#' + id);
const noImg = async (where) => {
  const n = await page.locator('img').count();
  if (n) fail(n + ' <img> element(s) in the document ' + where);
};

// Before a negative check: n more complete polls, so anything that would
// wrongly appear has had its chance.
async function polls(n, what) {
  const want = listsDone + n;
  await wait(15, n + ' more polls ' + what, () => listsDone >= want);
  await sleep(100);   // the render after the last answer
}

async function login(user, pw, project) {
  await page.fill('#domain', 'Default');
  await page.fill('#user', user);
  await page.fill('#password', pw);
  await page.fill('#project', project);
  await page.click('#login-submit');
  await wait(10, 'the app view', () => visible('app-view'));
}

async function logout() {
  await page.click('#logout');
  await wait(10, 'the login view', () => visible('login-view'));
}

// Requests since the last call.
let mark = 0;
function since() { const r = seen.slice(mark); mark = seen.length; return r; }

async function apiStatus(p, token, opts) {
  const o = opts || {};
  const r = await fetch(C.base + p, { method: o.method || 'GET', body: o.body,
    headers: Object.assign({ 'X-Auth-Token': token }, o.body ? { 'Content-Type': 'application/json' } : {}) });
  return { status: r.status, body: await r.text() };
}

async function main() {
  fs.mkdirSync(C.artifacts, { recursive: true });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  page = await ctx.newPage();
  page.on('request', (r) => seen.push({ url: r.url(), method: r.method(),
    token: r.headers()['x-auth-token'] || null,
    mv: r.headers()['openstack-api-version'] || null }));
  page.on('requestfinished', (r) => { if (new URL(r.url()).pathname.endsWith('/servers/detail')) listsDone++; });
  page.on('dialog', (d) => { dialogs.push(d.type() + ' ' + d.message()); d.dismiss().catch(() => {}); });
  page.setDefaultTimeout(15000);

  // ---- admin: the fleet --------------------------------------------------
  await page.goto(C.base + '/dashboard/');
  await login('admin', C.adminPw, 'admin');
  await wait(10, C.nhosts + ' hypervisor rows', async () => (await rows('fleet')).length === C.nhosts);
  // The fleet in pages (limit/marker, microversion 2.33), never at once.
  const hvq = seen.filter((r) => /os-hypervisors\/detail/.test(r.url));
  if (!hvq.length || hvq.some((r) => !/[?&]limit=1000(&|$)/.test(r.url) ||
      r.mv !== 'compute 2.33'))
    fail('hypervisors not paged at 2.33: ' + JSON.stringify(hvq.slice(0, 2)));
  const fl = await rows('fleet');
  const states = fl.map((r) => r.state.split(' ')[0]);
  if (states.some((x) => x !== 'up')) fail('host states ' + JSON.stringify(states));
  const meters = fl.reduce((a, r) => a + r.meters, 0);
  if (meters !== 3 * C.nhosts) fail(meters + ' capacity bars for ' + C.nhosts + ' hosts');
  ok('admin logs in and sees ' + C.nhosts + ' hosts up with capacity bars');
  // The agent version and service-state columns (the dashboard's own
  // /dashboard/api/host-status): every host runs tinystack-agent 0.1.0
  // with libvirtd reported up.
  const heads = await page.evaluate(() => Array.from(document.querySelectorAll('#fleet thead th')).map((t) => t.textContent));
  const ai = heads.findIndex((h) => h.startsWith('Agent')), si = heads.findIndex((h) => h.startsWith('Services'));
  if (ai < 0 || si < 0) fail('no Agent/Services column: ' + JSON.stringify(heads));
  await wait(10, 'agent versions and service states', async () =>
    (await rows('fleet')).every((r) => r.cells[ai] === '0.1.0' && r.cells[si] === 'ok'));
  ok('the fleet table shows each host\'s agent version (0.1.0) and its services ok');

  // ---- charts: one capacity bar pair per host, states, creates ------------
  const ch = await page.evaluate(() => ['chart-capacity', 'chart-states', 'chart-creates'].map((id) => {
    const s = document.getElementById(id);
    return { id, title: (s.querySelector('title') || {}).textContent || '',
      desc: (s.querySelector('desc') || {}).textContent || '', bars: s.querySelectorAll('rect.bar').length,
      label: s.getAttribute('aria-labelledby'), tab: s.tabIndex };
  }));
  if (ch[0].bars !== 2 * C.nhosts) fail('capacity chart: ' + ch[0].bars + ' bars for ' + C.nhosts + ' hosts');
  for (const c of ch) {
    if (!c.title || !c.desc || c.label !== c.id + '-t' || c.tab !== 0)
      fail('chart ' + c.id + ' lacks a title, description or keyboard focus: ' + JSON.stringify(c));
  }
  if (!/\d+ ACTIVE|\d+ BUILD|\d+ ERROR/.test(ch[1].desc)) fail('states chart says ' + ch[1].desc);
  if (!/^\d+ created in the last 30 minutes/.test(ch[2].desc)) fail('creates chart says ' + ch[2].desc);
  ok('charts: capacity (' + ch[0].bars + ' bars), states ("' + ch[1].desc + '"), creates ("' +
     ch[2].desc.split(',')[0] + '"), each titled, described and focusable');
  await shot('fleet.png');

  // ---- XSS payloads as server name and image name: text, no element -------
  await page.click('#tab-instances');
  const row = (await wait(10, 'the server row', async () =>
    (await rows('instances')).filter((r) => r.name === C.xssName)))[0];
  if (row.nameNodes[0] !== 3) fail('the server name is not rendered as text: ' + JSON.stringify(row));
  if (!row.cells.includes(C.xssImage))
    fail('the image name is not shown as text: ' + JSON.stringify(row.cells));
  await noImg('with the payloads on screen');
  if (dialogs.length) fail('a dialog opened: ' + dialogs[0]);
  ok('a server named ' + C.xssName + ' and an image named ' + C.xssImage + ' render as text');

  // ---- a server created through the API appears and turns ACTIVE ----------
  await page.evaluate(() => { window.tsNoReload = 1; });
  const t0 = Date.now();
  const cr = await apiStatus('/compute/v2.1/servers', C.token, { method: 'POST',
    body: JSON.stringify({ server: { name: 'live-1', flavorRef: C.flavor, imageRef: C.image } }) });
  if (cr.status !== 202) fail('server create: ' + cr.status + ' ' + cr.body);
  await wait(10, 'live-1 in the table', async () => (await rows('instances')).some((r) => r.name === 'live-1'));
  const tAppear = (Date.now() - t0) / 1000;
  await wait(60, 'live-1 ACTIVE', async () => (await rows('instances')).some((r) =>
    r.name === 'live-1' && r.status === 'ACTIVE'));
  if (!(await page.evaluate(() => window.tsNoReload === 1))) fail('the page reloaded');
  ok('a server created through the API appears after ' + tAppear.toFixed(1) + ' s and turns ACTIVE after ' +
     ((Date.now() - t0) / 1000).toFixed(1) + ' s, without a reload');

  // ---- detail panel: action log with events, console tail -------------
  // (A poll may re-render the row between the focus and the key: again.)
  await wait(10, 'the detail panel opened with Enter', async () => {
    if (await visible('detail')) return true;
    await page.locator('#instances tbody tr', { hasText: 'live-1' }).first().focus().catch(() => {});
    await page.keyboard.press('Enter');
    return false;
  });
  await wait(10, 'the create action with its events', async () => {
    const t = await text('detail-actions');
    return /create/.test(t) && /compute__do_build_and_run_instance|: Success|: success/i.test(t) ? t : null;
  });
  await wait(10, 'the console tail', async () => (await text('console')).length > 0);
  const cons = await text('console');
  if (/^Console log:|^\(no console/.test(cons)) fail('no console tail: ' + cons);
  ok('Enter on a row opens its detail: the action log with events, console: "' +
     cons.slice(0, 40).replace(/\n/g, ' ') + '"');

  // ---- an ERROR server: its fault shows, as text -----------------------
  await wait(15, 'the ERROR server with its fault', async () => (await rows('instances')).some((r) =>
    r.name === C.errorName && r.status.startsWith('ERROR') && r.fault && r.fault.text));
  await page.locator('#instances tbody tr', { hasText: C.errorName }).first().click();
  await wait(10, 'the fault in the detail', async () => /^Fault: ./.test(await text('detail-fault')));
  ok('an ERROR server shows its fault: "' + (await text('detail-fault')).slice(0, 60) + '"');
  // No API path lets a user choose a fault's text (they come from the
  // scheduler and the agents): the answer is rewritten in the browser to
  // see that a hostile one renders as text.
  const rewrite = async (route) => {
    const res = await route.fetch();
    const b = await res.json();
    for (const sv of b.servers || []) if (sv.fault) sv.fault.message = C.xssFault;
    await route.fulfill({ response: res, json: b });
  };
  const isList = (u) => u.pathname.endsWith('/servers/detail');
  await page.route(isList, rewrite);
  await wait(10, 'the hostile fault', async () => (await rows('instances')).some((r) =>
    r.name === C.errorName && r.fault && r.fault.text === C.xssFault && r.fault.kids === 0) &&
    (await text('detail-fault')) === 'Fault: ' + C.xssFault);
  await noImg('with a hostile fault message');
  if (dialogs.length) fail('a dialog opened: ' + dialogs[0]);
  await shot('instances.png');
  await page.unroute(isList, rewrite);
  ok('a fault message ' + C.xssFault + ' renders as text (row and detail)');

  // ---- a host that stops heartbeating turns down -------------------------
  await page.click('#tab-fleet');
  process.kill(C.stopPid, 'SIGKILL');
  const k0 = Date.now();
  await wait(C.downBound, C.downHost + ' down', async () => (await rows('fleet')).some((r) =>
    r.name === C.downHost && r.cls.split(' ').includes('down')));
  ok(C.downHost + ' turned down ' + ((Date.now() - k0) / 1000).toFixed(1) +
     's after its agent was killed (bound ' + C.downBound + 's)');
  await shot('fleet-down.png');

  // ---- every request stayed on the page's origin; logout revokes ---------
  const adm = since();
  const outside = adm.filter((r) => /^(https?|wss?):/.test(r.url) && !r.url.startsWith(ORIGIN + '/'));
  if (outside.length) fail('requests outside the origin: ' + JSON.stringify(outside.slice(0, 5)));
  const tokens = new Set(adm.filter((r) => r.token).map((r) => r.token));
  if (tokens.size !== 1) fail(tokens.size + ' distinct tokens in the admin\'s requests');
  const tok = [...tokens][0];
  if ((await apiStatus('/compute/v2.1/servers', tok)).status !== 200)
    fail('the admin\'s token does not work before logout');
  await logout();
  await wait(10, 'the token revoked', async () => (await apiStatus('/compute/v2.1/servers', tok)).status === 401);
  if ((await rows('fleet')).length || (await rows('instances')).length) fail('rows left after logout');
  if (await visible('detail')) fail('the detail panel is left after logout');
  ok(adm.length + ' requests, all to ' + ORIGIN + '; logout revokes the token (401)');

  // ---- a member: no hypervisor, no other project's server -----------------
  since();
  await login('member', C.memberPw, 'demo');
  await wait(10, 'the member\'s instance list', async () => (await text('summary')).endsWith('instances'));
  await polls(2, 'as the member');
  if (await visible('tab-fleet')) fail('the member sees the fleet tab');
  if ((await rows('fleet')).length) fail('the member sees hypervisor rows');
  if ((await rows('instances')).length) fail('the member sees servers of another project');
  if (await visible('chart-capacity-fig')) fail('the member sees the capacity chart');
  const mreq0 = since();
  const mreq = mreq0.filter((r) => /os-hypervisors|os-services|host-status/.test(r.url));
  if (mreq.length) fail('the member\'s page asked for hypervisors: ' + JSON.stringify(mreq));
  // The route itself refuses the member's token (the one its page sent).
  const mtok = (mreq0.find((r) => r.token) || {}).token;
  if (!mtok) fail('no member token seen');
  const mhs = await apiStatus('/dashboard/api/host-status', mtok);
  if (mhs.status !== 403) fail('the member got ' + mhs.status + ' from /dashboard/api/host-status');
  if (await text('error')) fail('error shown to the member: ' + await text('error'));
  await shot('member.png');
  await logout();
  ok('a member sees no hypervisor and no other project\'s server, and gets 403 from the host status route');

  // ---- a reader: the project's instances, read-only, nothing admin --------
  since();
  await login('reader', C.readerPw, 'admin');
  await wait(10, 'the reader\'s instances', async () =>
    (await rows('instances')).some((r) => r.name === 'live-1'));
  await polls(2, 'as the reader');
  const who = await text('who');
  if (/admin\)/.test(who)) fail('the reader is shown as an admin: ' + who);
  if (await visible('tab-fleet')) fail('the reader sees the fleet tab');
  if (await visible('chart-capacity-fig')) fail('the reader sees the capacity chart');
  await page.locator('#instances tbody tr', { hasText: 'live-1' }).first().click();
  await wait(10, 'the reader\'s action log', async () => /create/.test(await text('detail-actions')));
  const rreq = since();
  const adminAsk = rreq.filter((r) => /os-hypervisors|os-services|all_tenants|os-instance-actions\/./.test(r.url));
  if (adminAsk.length) fail('the reader\'s page asked for admin data: ' + JSON.stringify(adminAsk.slice(0, 3)));
  // Read-only: besides logging in, the only POST is the console read.
  const writes = rreq.filter((r) => r.method !== 'GET' &&
    !(r.method === 'POST' && (/\/auth\/tokens$/.test(r.url) || /\/action$/.test(r.url))));
  if (writes.length) fail('the reader\'s page changed something: ' + JSON.stringify(writes.slice(0, 3)));
  if (await text('error')) fail('error shown to the reader: ' + await text('error'));
  const nr = (await rows('instances')).length;
  await shot('reader.png');
  await logout();
  ok('a reader sees the project\'s ' + nr + ' instances and their action log, no admin data, sends no write');
}

main().then(() => browser.close(), async (e) => {
  console.error('not ok - ' + (e instanceof Fail ? e.message : e.stack));
  try {
    if (page) {
      await shot('failure.png');
      console.error((await page.textContent('body')).slice(0, 2000));
    }
  } catch (x) { /* best effort on the way out */ }
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
});
