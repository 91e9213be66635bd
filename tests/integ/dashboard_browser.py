#!/usr/bin/python3
"""Drives headless Chromium (Debian's chromium + chromium-driver, through
python3-selenium) against a controller's dashboard; see
test_dashboard_browser.sh, which starts the controller and the agents.

argv: BASE_URL NHOSTS ADMIN_PW MEMBER_PW XSS_NAME STOP_PID DOWN_HOST
      DOWN_BOUND_S PROFILE_DIR
Prints one "ok - ..." line per check; exits non-zero on the first failure.
"""
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import (NoAlertPresentException,
                                        UnexpectedAlertPresentException)
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

(BASE, NHOSTS, ADMIN_PW, MEMBER_PW, XSS, STOP_PID, DOWN_HOST, DOWN_BOUND,
 PROFILE) = sys.argv[1:10]
NHOSTS, STOP_PID, DOWN_BOUND = int(NHOSTS), int(STOP_PID), float(DOWN_BOUND)
ORIGIN = "{0.scheme}://{0.netloc}".format(urllib.parse.urlsplit(BASE))


def fail(msg):
    print("not ok - " + msg, file=sys.stderr)
    try:
        drv.save_screenshot(os.path.join(PROFILE, "failure.png"))
        print(drv.find_element(By.TAG_NAME, "body").text[:2000],
              file=sys.stderr)
    except Exception:  # noqa: BLE001 - best effort on the way out
        pass
    drv.quit()
    sys.exit(1)


def wait(secs, what, cond):
    end = time.monotonic() + secs
    while True:
        try:
            v = cond()
        except UnexpectedAlertPresentException:
            fail("an alert opened while waiting for " + what)
        if v:
            return v
        if time.monotonic() > end:
            fail("timed out after %gs waiting for %s" % (secs, what))
        time.sleep(0.1)


# The page re-renders its tables as data change: read a table in one
# script (no element reference survives a re-render).
ROWS_JS = """
return Array.from(document.querySelectorAll('#' + arguments[0] + ' tbody tr'))
  .map((r) => { const n = r.querySelector('td.name');
    return { cls: r.className, meters: r.querySelectorAll('meter').length,
      name: n && n.firstChild ? n.firstChild.nodeValue : null,
      nameNodes: n ? Array.from(n.childNodes).map((c) => c.nodeType) : [],
      state: (r.querySelector('td.state') || {}).textContent || '' }; });
"""


def rows(table):
    return drv.execute_script(ROWS_JS, table)


def login(user, pw, project):
    for k, v in (("domain", "Default"), ("user", user), ("password", pw),
                 ("project", project)):
        e = drv.find_element(By.ID, k)
        e.clear()
        e.send_keys(v)
    drv.find_element(By.ID, "login-submit").click()
    wait(10, "the app view", lambda: drv.find_element(
        By.ID, "app-view").is_displayed())


def requests_seen():
    """(url, X-Auth-Token) of every request the page sent since the last
    call, from Chromium's performance log."""
    out = []
    for e in drv.get_log("performance"):
        m = json.loads(e["message"])["message"]
        if m.get("method") != "Network.requestWillBeSent":
            continue
        r = m["params"]["request"]
        h = {k.lower(): v for k, v in r.get("headers", {}).items()}
        out.append((r["url"], h.get("x-auth-token")))
    return out


def no_alert():
    try:
        drv.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


def api_status(path, token):
    req = urllib.request.Request(BASE + path, headers={"X-Auth-Token": token})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


opts = Options()
opts.binary_location = "/usr/bin/chromium"
for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
          "--disable-dev-shm-usage", "--no-first-run",
          "--user-data-dir=" + os.path.join(PROFILE, "profile")):
    opts.add_argument(a)
opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
drv.set_page_load_timeout(15)

# ---- admin: the fleet ----------------------------------------------------
drv.get(BASE + "/dashboard/")
login("admin", ADMIN_PW, "admin")
wait(10, "%d hypervisor rows" % NHOSTS, lambda: len(rows("fleet")) == NHOSTS)
states = [r["state"].split()[0] for r in rows("fleet")]
if states != ["up"] * NHOSTS:
    fail("host states %r" % states)
meters = sum(r["meters"] for r in rows("fleet"))
if meters != 3 * NHOSTS:
    fail("%d capacity bars for %d hosts" % (meters, NHOSTS))
print("ok - admin logs in and sees %d hosts up with capacity bars" % NHOSTS)

# ---- the XSS payload as a server name: text, no element, no alert ------
drv.find_element(By.ID, "tab-instances").click()
row = wait(10, "the server row", lambda: [
    r for r in rows("instances") if r["name"] == XSS])[0]
# One text node (a fault message would be a second, element, node).
if row["nameNodes"][0] != 3:
    fail("the server name is not rendered as text: %r" % row)
if drv.find_elements(By.TAG_NAME, "img"):
    fail("an <img> element is in the document")
if not no_alert():
    fail("an alert opened")
print("ok - a server named %s renders as text (no element, no alert)" % XSS)

# ---- a host that stops heartbeating turns down --------------------------
drv.find_element(By.ID, "tab-fleet").click()
os.kill(STOP_PID, signal.SIGKILL)
t0 = time.monotonic()


def host_down():
    for r in rows("fleet"):
        if r["name"] == DOWN_HOST:
            return "down" in r["cls"].split()
    return False


wait(DOWN_BOUND, DOWN_HOST + " down", host_down)
print("ok - %s turned down %.1fs after its agent was killed (bound %gs)" %
      (DOWN_HOST, time.monotonic() - t0, DOWN_BOUND))
drv.save_screenshot(os.path.join(PROFILE, "fleet.png"))

# ---- every request stayed on the page's origin; logout revokes ----------
seen = requests_seen()
# (chrome:// and data: URLs are the browser's own pages, not the page's.)
outside = [u for u, _ in seen if u.split(":")[0] in ("http", "https", "ws",
                                                       "wss")
           and not u.startswith(ORIGIN + "/")]
if outside:
    fail("requests outside the origin: %r" % outside[:5])
tokens = {t for _, t in seen if t}
if len(tokens) != 1:
    fail("%d distinct tokens in the admin's requests" % len(tokens))
tok = tokens.pop()
if api_status("/compute/v2.1/servers", tok) != 200:
    fail("the admin's token does not work before logout")
drv.find_element(By.ID, "logout").click()
wait(10, "the login view", lambda: drv.find_element(
    By.ID, "login-view").is_displayed())
wait(10, "the token revoked", lambda: api_status(
    "/compute/v2.1/servers", tok) == 401)
if rows("fleet") or rows("instances"):
    fail("rows left after logout")
print("ok - %d requests, all to %s; logout revokes the token (401)" %
      (len(seen), ORIGIN))

# ---- a member: no hypervisor, no other project's server ------------------
login("member", MEMBER_PW, "demo")
wait(10, "the member's instance list",
     lambda: drv.find_element(By.ID, "summary").text.endswith("instances"))
time.sleep(1.5)   # a poll or two more: nothing may appear
if drv.find_element(By.ID, "tab-fleet").is_displayed():
    fail("the member sees the fleet tab")
if rows("fleet"):
    fail("the member sees %d hypervisor rows" % len(rows("fleet")))
if rows("instances"):
    fail("the member sees %d servers of another project" %
         len(rows("instances")))
hv = [u for u, _ in requests_seen() if "os-hypervisors" in u]
if hv:
    fail("the member's page asked for hypervisors: %r" % hv)
if drv.find_element(By.ID, "error").text:
    fail("error shown to the member: " + drv.find_element(By.ID, "error").text)
drv.find_element(By.ID, "logout").click()
print("ok - a member sees no hypervisor and no other project's server")
drv.quit()
