#!/bin/bash
# The dashboard in a real browser (headless Chromium driven through
# Selenium, tests/integ/dashboard_browser.py): a controller with its
# dashboard and three agents on libvirt's test driver; the admin logs in
# and sees the three hosts up, a server named with an XSS payload renders
# as text, a killed agent's host turns down within service_down_time + 2 s,
# every request stays on the dashboard's origin, logout revokes the token,
# a member sees no hypervisor and no other project's server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/compute_lib.sh"

for b in /usr/bin/chromium /usr/bin/chromedriver; do
	[ -x "$b" ] || fail "$b is missing (packaging/install-deps.sh installs chromium, chromium-driver)"
done
/usr/bin/python3 -c 'import selenium' 2>/dev/null ||
	fail "python3-selenium is missing (packaging/install-deps.sh)"

DP=$(free_port)
compute_setup 3 "[dashboard]" "enabled = true" "port = $DP"
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
IMG=$(curl -sf "${H[@]}" "${J[@]}" -d '{"name": "img", "disk_format": "raw",
    "container_format": "bare", "visibility": "public"}' \
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

# A member of another project.
PID_DEMO=$(curl -sf "${H[@]}" "${J[@]}" -d '{"project": {"name": "demo",
    "domain_id": "default"}}' "$IDP/projects" | jq -r .project.id)
UID_M=$(curl -sf "${H[@]}" "${J[@]}" -d '{"user": {"name": "member",
    "domain_id": "default", "password": "member-pw"}}' "$IDP/users" |
    jq -r .user.id)
RID=$(curl -sf "${H[@]}" "$IDP/roles?name=member" | jq -r '.roles[0].id')
curl -sf "${H[@]}" -X PUT "$IDP/projects/$PID_DEMO/users/$UID_M/roles/$RID" ||
    fail "role assignment"
ok "controller with its dashboard on $D, 3 hosts, a server, a member"

t0=$(date +%s.%N)
/usr/bin/python3 "$TS_SOURCE_DIR/tests/integ/dashboard_browser.py" "$D" 3 \
    admin-pw member-pw "$XSS" "$(pid_of agent-h3)" h3 5 "$T" \
    >"$T/browser.out" 2>"$T/browser.log" ||
	{ cat "$T/browser.out"; fail "browser: $(tail -5 "$T/browser.log")"; }
while read -r l; do ok "${l#ok - }"; done < "$T/browser.out"
echo "# browser part: $(echo "$(date +%s.%N) - $t0" | bc) s"
