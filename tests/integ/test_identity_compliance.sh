#!/bin/bash
# Keystone's [security_compliance] on a controller configured for it,
# through curl and Debian's openstack CLI: change upon first use (a new or
# reset password is expired: 401 until its user changes it, without a
# token), the password regex (400 with the description, on create, reset
# and change), the password history (400, an administrator's reset is not
# checked), the lockout after N failed logins or original-password checks
# (401 "locked" even with the right password, lifted after
# lockout_duration, kept across a controller restart, ended by enabling
# the user), the user options ignore_lockout_failure_attempts and
# lock_password (403), and the minimum password age (400). Every refusal
# is checked to have changed nothing: the password in force still works.
. "$(dirname "$0")/lib.sh"
osc_start
command -v openstack >/dev/null || fail "python3-openstackclient is not installed"

BUS=$(free_port)
IDP=$(free_port)
URL=http://127.0.0.1:$IDP
PW='admin pass'
DESC='8 or more letters, digits or dashes'
J=(-H "Content-Type: application/json")
api_lines "$IDP"
# conf LOCKOUT_DURATION MIN_AGE: the config of one phase.
conf() {
	controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}" \
		"[security_compliance]" "lockout_failure_attempts = 3" \
		"lockout_duration = $1" "unique_last_password_count = 3" \
		"minimum_password_age = $2" \
		'password_regex = [[:alnum:]-]{8,}$' \
		"password_regex_description = $DESC" \
		"change_password_upon_first_use = true"
}
conf 3 0
identity_bootstrap "$PW"
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "$URL/v3"
# shellcheck disable=SC1091
. "$T/openrc"

# auth USER_ID PASSWORD: the status of a password login; body in $T/auth.json.
auth() {
	curl -s -o "$T/auth.json" -w '%{http_code}' "${J[@]}" -X POST \
		"$URL/v3/auth/tokens" -d "$(jq -n --arg u "$1" --arg p "$2" \
		'{auth: {identity: {methods: ["password"], password: {user: {id: $u, password: $p}}}}}')"
}
# chpw USER_ID ORIGINAL NEW: the status of the user's own change, without
# a token; body in $T/chpw.json.
chpw() {
	curl -s -o "$T/chpw.json" -w '%{http_code}' "${J[@]}" -X POST \
		"$URL/v3/users/$1/password" -d "$(jq -n --arg o "$2" --arg p "$3" \
		'{user: {original_password: $o, password: $p}}')"
}
# expect WHAT GOT WANT FILE MESSAGE: status and the error body's message.
expect() {
	[ "$2" = "$3" ] || fail "$1: $2, not $3 ($(cat "$4"))"
	[ -z "${5:-}" ] || [ "$(jq -r .error.message "$4")" = "$5" ] ||
		fail "$1: message '$(jq -r .error.message "$4")', not '$5'"
}
auth_ok() { [ "$(auth "$1" "$2")" = 201 ]; }
works() { auth_ok "$1" "$2" || fail "$3: $(cat "$T/auth.json")"; }

# ---- first use and regex --------------------------------------------------
openstack user create --password dave-pw-0001 -f json dave > "$T/dave.json"
D=$(jq -r .id "$T/dave.json")
[ "$(jq -r .password_expires_at "$T/dave.json")" != null ] ||
	fail "a password set by an administrator is not expired at once"
expect "first login" "$(auth "$D" dave-pw-0001)" 401 "$T/auth.json" \
	"The password is expired and needs to be changed for user: $D."
expect "change to a password refusing the regex" \
	"$(chpw "$D" dave-pw-0001 'bad pw!')" 400 "$T/chpw.json" \
	"The password does not match the requirements: $DESC."
expect "first login after a refused change" "$(auth "$D" dave-pw-0001)" \
	401 "$T/auth.json"
expect "change with a wrong original password" \
	"$(chpw "$D" wrong-pw-0 dave-pw-0002)" 401 "$T/chpw.json"
WRONG=$(jq -r .error.message "$T/chpw.json")
# Without a token anyone may call it: an unknown user looks the same.
expect "change of an unknown user" \
	"$(chpw 0123456789abcdef0123456789abcdef dave-pw-0001 dave-pw-0002)" \
	401 "$T/chpw.json" "$WRONG"
expect "first change, no token" "$(chpw "$D" dave-pw-0001 dave-pw-0002)" \
	204 "$T/chpw.json"
works "$D" dave-pw-0002 "login after the first change"
[ "$(openstack user show -f value -c password_expires_at dave)" = None ] ||
	fail "the user's own password expires"
n=$(openstack user list -f value -c Name | wc -l)
rc=0; openstack user create --password short eve > "$T/eve.txt" 2>&1 || rc=$?
[ $rc != 0 ] && grep -q "HTTP 400" "$T/eve.txt" &&
	grep -qF "does not match the requirements: $DESC." "$T/eve.txt" ||
	fail "user create with a password refusing the regex: $(cat "$T/eve.txt")"
[ "$(openstack user list -f value -c Name | wc -l)" = "$n" ] ||
	fail "a refused user create created a user"
ok "change upon first use (401 expired until the user changes it without a token), password regex (400 on create and change, nothing changed)"

# ---- history --------------------------------------------------------------
H="The new password cannot be identical to a previous password. The total number which includes the new password must be unique is 3."
expect "change 2 -> 3" "$(chpw "$D" dave-pw-0002 dave-pw-0003)" 204 "$T/chpw.json"
for old in dave-pw-0003 dave-pw-0002 dave-pw-0001; do
	expect "reuse of $old" "$(chpw "$D" dave-pw-0003 "$old")" 400 \
		"$T/chpw.json" "$H"
done
works "$D" dave-pw-0003 "login after refused reuses"
expect "change 3 -> 4" "$(chpw "$D" dave-pw-0003 dave-pw-0004)" 204 "$T/chpw.json"
expect "change 4 -> 1 (out of the last 3)" \
	"$(chpw "$D" dave-pw-0004 dave-pw-0001)" 204 "$T/chpw.json"
works "$D" dave-pw-0001 "login with a password out of the history"
ok "password history: the last 3 refused (400, nothing changed), older ones accepted"

# ---- administrator's reset ------------------------------------------------
# Not checked against the history, but expired at once again (first use).
openstack user set --password dave-pw-0001 dave
expect "login after a reset" "$(auth "$D" dave-pw-0001)" 401 "$T/auth.json" \
	"The password is expired and needs to be changed for user: $D."
rc=0; openstack user set --password 'no good' dave > "$T/reset.txt" 2>&1 || rc=$?
[ $rc != 0 ] && grep -q "HTTP 400" "$T/reset.txt" ||
	fail "reset to a password refusing the regex: $(cat "$T/reset.txt")"
expect "change after the reset" "$(chpw "$D" dave-pw-0001 dave-pw-0005)" 204 "$T/chpw.json"
works "$D" dave-pw-0005 "login after the change that followed a reset"
ok "an administrator's reset skips the history, keeps the regex and expires the password"

# ---- lockout --------------------------------------------------------------
L="The account is locked for user: $D."
for i in 1 2 3; do
	expect "wrong password $i" "$(auth "$D" "wrong-$i")" 401 "$T/auth.json"
done
expect "right password while locked" "$(auth "$D" dave-pw-0005)" 401 \
	"$T/auth.json" "$L"
expect "change while locked" "$(chpw "$D" dave-pw-0005 dave-pw-0006)" 401 \
	"$T/chpw.json" "$L"
wait_for 15 "the lockout to end" auth_ok "$D" dave-pw-0005
works "$D" dave-pw-0005 "login after the lockout"
expect "the refused change did not happen" "$(auth "$D" dave-pw-0006)" 401 "$T/auth.json"
# Wrong original passwords count as failed logins.
for i in 1 2 3; do
	expect "wrong original password $i" \
		"$(chpw "$D" "wrong-$i" dave-pw-0006)" 401 "$T/chpw.json"
done
expect "login after 3 wrong original passwords" "$(auth "$D" dave-pw-0005)" \
	401 "$T/auth.json" "$L"
wait_for 15 "the lockout to end" auth_ok "$D" dave-pw-0005
# A success clears the count: two failures do not lock.
for i in 1 2; do auth "$D" "wrong-$i" >/dev/null; done
works "$D" dave-pw-0005 "login after 2 failures"
for i in 1 2; do auth "$D" "wrong-$i" >/dev/null; done
works "$D" dave-pw-0005 "login after 2 more failures (count cleared)"
ok "lockout after 3 failed logins or original-password checks (401 locked, nothing changed), lifted after lockout_duration"

openstack user set --ignore-lockout-failure-attempts dave
openstack user show -f json dave | jq -e '.options.ignore_lockout_failure_attempts == true' >/dev/null ||
	fail "user option ignore_lockout_failure_attempts not shown"
for i in 1 2 3 4; do auth "$D" "wrong-$i" >/dev/null; done
works "$D" dave-pw-0005 "login of a user ignoring lockouts"
openstack user set --no-ignore-lockout-failure-attempts dave
ok "user option ignore_lockout_failure_attempts"

# ---- restart: a lockout is kept; enabling the user ends it ---------------
conf 600 1
kill "$(pid_of ctl)"
wait_for 15 "the controller to stop" dead "$(pid_of ctl)"
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "$URL/v3"
for i in 1 2 3; do
	expect "wrong password $i" "$(auth "$D" "wrong-$i")" 401 "$T/auth.json"
done
kill "$(pid_of ctl)"
wait_for 15 "the controller to stop" dead "$(pid_of ctl)"
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "$URL/v3"
expect "login after a restart while locked" "$(auth "$D" dave-pw-0005)" 401 \
	"$T/auth.json" "$L"
openstack user set --enable dave
works "$D" dave-pw-0005 "login after the administrator enabled the user"
ok "a lockout survives a controller restart; enabling the user ends it"

# ---- minimum age and lock_password ----------------------------------------
# dave's password was set by dave: a day must pass before the next change.
expect "change before the minimum age" "$(chpw "$D" dave-pw-0005 dave-pw-0007)" \
	400 "$T/chpw.json" "You cannot change your password at this time due to the minimum password age. Once you change your password, it must be used for 1 day(s) before it can be changed. Please try again in 0 day(s) or contact your administrator to reset your password."
works "$D" dave-pw-0005 "login after a change refused for its age"
# An administrator's reset is not limited, nor is the change after it.
openstack user set --password dave-pw-0008 dave
expect "change after a reset" "$(chpw "$D" dave-pw-0008 dave-pw-0009)" 204 "$T/chpw.json"
openstack user set --password dave-pw-0010 --ignore-change-password-upon-first-use --enable-lock-password dave
works "$D" dave-pw-0010 "login of a user exempt from the first-use change"
expect "change with lock_password" "$(chpw "$D" dave-pw-0010 dave-pw-0011)" 403 \
	"$T/chpw.json" "You cannot change your password at this time due to password policy disallowing password changes. Please contact your administrator to reset your password."
works "$D" dave-pw-0010 "login after a change refused by lock_password"
ok "minimum password age (400, an administrator's reset not limited), lock_password (403), ignore_change_password_upon_first_use"
