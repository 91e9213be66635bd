#!/bin/bash
# The dashboard in a real browser (Debian's headless Chromium driven by
# playwright-core, tests/integ/browser/dashboard_browser.js): a controller
# with its dashboard and three agents on libvirt's test driver; the admin
# logs in and sees the three hosts up and the charts, XSS payloads as a
# server name, an image name and a fault message render as text, a server
# created through the API appears and turns ACTIVE without a reload, its
# detail shows the action log and the console tail, an ERROR server its
# fault, a killed agent's host turns down within service_down_time + 2 s,
# every request stays on the dashboard's origin, logout revokes the token,
# a member sees no hypervisor and no other project's server, a reader sees
# the project's servers and nothing admin, and sends no write.
# Screenshots: build/tests/integ/artifacts/dashboard_browser/*.png.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/compute_lib.sh"

BR=$TS_SOURCE_DIR/tests/integ/browser
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium is missing (packaging/install-deps.sh)"
[ -d "$BR/node_modules/playwright-core" ] ||
	fail "playwright-core is missing (packaging/install-deps.sh runs npm ci in $BR)"
ART=${TS_BUILD_DIR:-$PWD}/tests/integ/artifacts/dashboard_browser
rm -rf "$ART" && mkdir -p "$ART"

DP=$(free_port)
KEEP_NETWORK=1 compute_setup 3 "[dashboard]" "enabled = true" "port = $DP"
D=http://127.0.0.1:$DP
wait_http 10 "$D/dashboard/"
admin_token
IDP=$(sed -n 's|^export OS_AUTH_URL=||p' "$T/openrc")
IP=$(sed -n 's/^image_port = //p' "$T/controller.conf")
J=(-H "Content-Type: application/json")

# A flavor, an image and a server named with a script payload.
curl -sf "${H[@]}" "${J[@]}" -d '{"flavor": {"name": "f16", "id": "16",
    "ram": 16, "disk": 0, "vcpus": 1}}' "http://127.0.0.1:$CP/v2.1/flavors" \
    >/dev/null || fail "flavor create"
XSS_IMG='<img src=y onerror=alert(2)>'
IMG=$(curl -sf "${H[@]}" "${J[@]}" -d "$(jq -n --arg n "$XSS_IMG" '{name: $n,
    disk_format: "raw", container_format: "bare", visibility: "public"}')" \
    "http://127.0.0.1:$IP/v2/images" | jq -r .id)
head -c 65536 /dev/zero > "$T/disk.raw"
curl -sf "${H[@]}" -X PUT -H "Content-Type: application/octet-stream" \
    --data-binary @"$T/disk.raw" "http://127.0.0.1:$IP/v2/images/$IMG/file" ||
    fail "image upload"
XSS='<img src=x onerror=alert(1)>'
code=$(curl -s -o "$T/srv.json" -w '%{http_code}' "${H[@]}" "${J[@]}" \
    -d "$(jq -n --arg n "$XSS" --arg i "$IMG" \
    '{server: {name: $n, flavorRef: "16", imageRef: $i}}')" \
    "http://127.0.0.1:$CP/v2.1/servers")
[ "$code" = 202 ] || fail "server create: $code $(cat "$T/srv.json")"
# A server no host can hold: ERROR, with the scheduler's fault.
curl -sf "${H[@]}" "${J[@]}" -d '{"flavor": {"name": "huge", "id": "17",
    "ram": 8192, "disk": 0, "vcpus": 1}}' "http://127.0.0.1:$CP/v2.1/flavors" \
    >/dev/null || fail "flavor create"
code=$(curl -s -o "$T/srv.json" -w '%{http_code}' "${H[@]}" "${J[@]}" \
    -d "$(jq -n --arg i "$IMG" '{server: {name: "nohost", flavorRef: "17",
    imageRef: $i}}')" "http://127.0.0.1:$CP/v2.1/servers")
[ "$code" = 202 ] || fail "server create (ERROR): $code $(cat "$T/srv.json")"

# A member of another project.
PID_DEMO=$(curl -sf "${H[@]}" "${J[@]}" -d '{"project": {"name": "demo",
    "domain_id": "default"}}' "$IDP/projects" | jq -r .project.id)
UID_M=$(curl -sf "${H[@]}" "${J[@]}" -d '{"user": {"name": "member",
    "domain_id": "default", "password": "member-pw"}}' "$IDP/users" |
    jq -r .user.id)
RID=$(curl -sf "${H[@]}" "$IDP/roles?name=member" | jq -r '.roles[0].id')
curl -sf "${H[@]}" -X PUT "$IDP/projects/$PID_DEMO/users/$UID_M/roles/$RID" ||
    fail "role assignment"
# A user with only the reader role, on the admin's project.
PID_ADM=$(curl -sf "${H[@]}" "$IDP/projects?name=admin" | jq -r '.projects[0].id')
UID_R=$(curl -sf "${H[@]}" "${J[@]}" -d '{"user": {"name": "reader",
    "domain_id": "default", "password": "reader-pw"}}' "$IDP/users" |
    jq -r .user.id)
RRID=$(curl -sf "${H[@]}" "$IDP/roles?name=reader" | jq -r '.roles[0].id')
curl -sf "${H[@]}" -X PUT "$IDP/projects/$PID_ADM/users/$UID_R/roles/$RRID" ||
    fail "reader role assignment"
ok "controller with its dashboard on $D, 3 hosts, 2 servers, a member, a reader"

t0=$(date +%s.%N)
node "$BR/dashboard_browser.js" "$(jq -n --arg base "$D" --arg xss "$XSS" \
    --arg xi "$XSS_IMG" --arg tok "$TOK" --arg img "$IMG" --arg art "$ART" \
    --argjson pid "$(pid_of agent-h3)" '{base: $base, nhosts: 3,
    adminPw: "admin-pw", memberPw: "member-pw", readerPw: "reader-pw",
    xssName: $xss, xssImage: $xi, xssFault: "<img src=z onerror=alert(3)>",
    stopPid: $pid, downHost: "h3", downBound: 5, artifacts: $art,
    token: $tok, flavor: "16", image: $img, errorName: "nohost"}')" \
    >"$T/browser.out" 2>"$T/browser.log" ||
	{ cat "$T/browser.out"; fail "browser: $(tail -5 "$T/browser.log")"; }
while read -r l; do ok "${l#ok - }"; done < "$T/browser.out"
echo "# browser part: $(echo "$(date +%s.%N) - $t0" | bc) s"
