#!/bin/bash
# Neutron security groups driven by Debian's real python3-openstackclient
# against a controller on 127.0.0.1: the project's default group (made on
# first use, four rules), security group create/list/show/set/delete, rule
# create with --proto icmp|tcp|udp, --dst-port N[:M], --icmp-type/code,
# --remote-ip, --remote-group, --ingress/--egress, --ethertype; bad input
# each refused with its status and NeutronError type and nothing created
# (port range 0:65536, min > max, ICMP code 256, protocol xyz, a duplicate
# rule, the name "default", another project's group); ports: the default
# group on create, --security-group, --no-security-group,
# --disable-port-security (refused while groups remain, as Neutron); a
# group in use is not deleted; quotas (openstack quota set --secgroups
# --secgroup-rules, then a refused create).
. "$(dirname "$0")/lib.sh"
osc_start
for c in openstack curl jq; do
	command -v "$c" >/dev/null || fail "$c is not installed"
done

BUS=$(free_port)
IDP=$(free_port)
NP=$(free_port)
NURL=http://127.0.0.1:$NP
api_lines "$IDP"
API_LINES=("${API_LINES[@]/network_port = */network_port = $NP}")
controller_conf "$T/controller.conf" "$BUS" "${API_LINES[@]}"
identity_bootstrap admin-pw
start ctl "$CTL" "$T/controller.conf"
wait_http 15 "$NURL/"
# shellcheck disable=SC1091
. "$T/openrc"
TOK=$(os_token)

# refused STATUS TYPE METHOD PATH BODY [TOKEN]: the status and Neutron's
# error type of one call.
refused() {
	local st=$1 type=$2 m=$3 p=$4 b=$5 tok=${6:-$TOK} code
	code=$(curl -s -o "$T/err.json" -w '%{http_code}' -X "$m" \
		-H "X-Auth-Token: $tok" -H "Content-Type: application/json" \
		-d "$b" "$NURL/v2.0/$p")
	[ "$code" = "$st" ] || fail "$m $p $b: $code, want $st: $(cat "$T/err.json")"
	jq -e --arg t "$type" '.NeutronError.type == $t and (.NeutronError.message | length > 0)' \
		"$T/err.json" >/dev/null || fail "$m $p: not a NeutronError $type: $(cat "$T/err.json")"
}
# nrules GROUP: the rules of a group as the API lists them.
nrules() {
	curl -s -H "X-Auth-Token: $TOK" "$NURL/v2.0/security-group-rules?security_group_id=$1&fields=id" |
		jq '.security_group_rules | length'
}

# ---- discovery and the default group ------------------------------------------
curl -s -H "X-Auth-Token: $TOK" "$NURL/v2.0/extensions" | jq -r '.extensions[].alias' > "$T/ext.txt"
grep -qx security-group "$T/ext.txt" || fail "extension security-group not listed"
openstack security group list -f json > "$T/sgl.json" || fail "security group list"
[ "$(jq '[.[] | select(.Name == "default")] | length' "$T/sgl.json")" = 1 ] ||
	fail "no default group: $(cat "$T/sgl.json")"
DEF=$(jq -r '.[] | select(.Name == "default") | .ID' "$T/sgl.json")
openstack security group rule list "$DEF" -f json > "$T/defr.json" || fail "rule list"
[ "$(jq length "$T/defr.json")" = 4 ] || fail "default rules: $(cat "$T/defr.json")"
[ "$(jq '[.[] | select(.Direction == "ingress" and ."Remote Security Group" != null)] | length' "$T/defr.json")" = 2 ] ||
	fail "default ingress rules: $(cat "$T/defr.json")"
[ "$(openstack security group list -f value -c Name | grep -cx default)" = 1 ] ||
	fail "a second list made a second default group"
ok "extension listed; the default group made on first list with its four rules, once"

# ---- groups and rules -----------------------------------------------------------
openstack security group create --description "web servers" web -f json > "$T/web.json" ||
	fail "security group create"
WEB=$(jq -r .id "$T/web.json")
[ "$(nrules "$WEB")" = 2 ] || fail "a new group has not the two egress rules"
openstack security group create peers >/dev/null || fail "security group create peers"
openstack security group show web -f json | jq -e '.description == "web servers"' >/dev/null ||
	fail "security group show"
openstack security group set --name web2 --description d2 web || fail "security group set"
openstack security group show web2 -f value -c description | grep -qx d2 || fail "set --description"
openstack security group rule create --proto tcp --dst-port 22:23 --remote-ip 10.1.2.3/8 \
	--ingress web2 -f json > "$T/r1.json" || fail "rule create tcp 22:23"
jq -e '.port_range_min == 22 and .port_range_max == 23 and .remote_ip_prefix == "10.0.0.0/8" and .protocol == "tcp"' \
	"$T/r1.json" >/dev/null || fail "rule tcp: $(cat "$T/r1.json")"
openstack security group rule create --proto udp --dst-port 53 --egress --ethertype IPv6 \
	--remote-ip 2001:db8::/64 web2 -f json > "$T/r2.json" || fail "rule create udp IPv6"
jq -e '.ether_type == "IPv6" and .direction == "egress" and .port_range_min == 53 and .port_range_max == 53' \
	"$T/r2.json" >/dev/null || fail "rule udp: $(cat "$T/r2.json")"
openstack security group rule create --proto icmp --icmp-type 8 --icmp-code 0 \
	--remote-group peers web2 -f json > "$T/r3.json" || fail "rule create icmp --remote-group"
PEERS=$(openstack security group show peers -f value -c id)
jq -e --arg p "$PEERS" '.remote_group_id == $p and .port_range_min == 8 and .port_range_max == 0' \
	"$T/r3.json" >/dev/null || fail "rule icmp: $(cat "$T/r3.json")"
openstack security group rule show "$(jq -r .id "$T/r1.json")" -f value -c remote_ip_prefix |
	grep -qx 10.0.0.0/8 || fail "rule show"
[ "$(nrules "$WEB")" = 5 ] || fail "rules of web2: $(nrules "$WEB")"
ok "security group create/show/set; rule create tcp --dst-port 22:23 --remote-ip, udp IPv6 --egress, icmp type/code --remote-group; rule show"

# ---- bad input: status, type, nothing created ------------------------------------
R0=$(nrules "$WEB")
rule() { echo "{\"security_group_rule\": {\"security_group_id\": \"$WEB\", \"direction\": \"ingress\", $1}}"; }
refused 400 SecurityGroupInvalidPortValue POST security-group-rules "$(rule '"protocol": "tcp", "port_range_min": 0, "port_range_max": 65536')"
openstack security group rule create --proto tcp --dst-port 0:65536 web2 >/dev/null 2>&1 &&
	fail "openstack: port range 0:65536 accepted"
refused 400 SecurityGroupInvalidPortRange POST security-group-rules "$(rule '"protocol": "tcp", "port_range_min": 80, "port_range_max": 79')"
refused 400 SecurityGroupInvalidIcmpValue POST security-group-rules "$(rule '"protocol": "icmp", "port_range_min": 1, "port_range_max": 256')"
openstack security group rule create --proto icmp --icmp-type 1 --icmp-code 256 web2 >/dev/null 2>&1 &&
	fail "openstack: ICMP code 256 accepted"
refused 400 SecurityGroupRuleInvalidProtocol POST security-group-rules "$(rule '"protocol": "xyz"')"
openstack security group rule create --proto xyz web2 >/dev/null 2>&1 && fail "openstack: protocol xyz accepted"
refused 400 SecurityGroupRemoteGroupAndRemoteIpPrefix POST security-group-rules \
	"$(rule "\"remote_ip_prefix\": \"10.0.0.0/8\", \"remote_group_id\": \"$PEERS\"")"
refused 400 SecurityGroupRuleParameterConflict POST security-group-rules \
	"$(rule '"ethertype": "IPv6", "remote_ip_prefix": "10.0.0.0/8"')"
refused 404 SecurityGroupNotFound POST security-group-rules \
	"$(rule '"remote_group_id": "9a9b9c9d-0000-4000-8000-000000000000"')"
refused 409 SecurityGroupRuleExists POST security-group-rules \
	"$(rule '"protocol": "tcp", "port_range_min": 22, "port_range_max": 23, "remote_ip_prefix": "10.0.0.0/8"')"
openstack security group rule create --proto tcp --dst-port 22:23 --remote-ip 10.0.0.0/8 web2 >/dev/null 2>&1 &&
	fail "openstack: a duplicate rule accepted"
[ "$(nrules "$WEB")" = "$R0" ] || fail "a refused rule was created: $(nrules "$WEB") rules"
refused 409 SecurityGroupDefaultAlreadyExists POST security-groups '{"security_group": {"name": "default"}}'
openstack security group create default >/dev/null 2>&1 && fail "openstack: a second default accepted"
[ "$(openstack security group list -f value -c Name | grep -cx default)" = 1 ] ||
	fail "a second default group exists"
ok "refused with nothing created: ports 0:65536, 80:79, ICMP code 256, protocol xyz, prefix and group, prefix of the other family, unknown remote group, duplicate rule (409), name default (409)"

# ---- another project ----------------------------------------------------------------
openstack project create demo >/dev/null
openstack user create --password alice-pw --project demo alice >/dev/null
openstack role add --user alice --project demo member
alice() { OS_USERNAME=alice OS_PASSWORD=alice-pw OS_PROJECT_NAME=demo openstack "$@"; }
ATOK=$(alice token issue -f value -c id)
alice security group show "$WEB" >/dev/null 2>&1 && fail "alice sees admin's group"
alice security group list -f value -c ID | grep -q "$WEB" && fail "alice lists admin's group"
alice security group delete "$WEB" >/dev/null 2>&1 && fail "alice deleted admin's group"
refused 404 SecurityGroupNotFound POST security-group-rules "$(rule '"protocol": "tcp"')" "$ATOK"
[ "$(nrules "$WEB")" = "$R0" ] || fail "alice added a rule to admin's group"
ADEF=$(alice security group list -f value -c ID -c Name | awk '$2 == "default" {print $1}')
[ -n "$ADEF" ] && [ "$ADEF" != "$DEF" ] || fail "alice has no default group of her own"
alice security group delete "$ADEF" >/dev/null 2>&1 && fail "a member deleted her default group"
alice security group show "$ADEF" >/dev/null || fail "alice's default group gone"
ok "another project: neither sees nor changes the group (404); its own default group, not deletable by a member"

# ---- ports ------------------------------------------------------------------------
openstack network create sgnet >/dev/null || fail "network create"
openstack subnet create --network sgnet --subnet-range 10.70.0.0/24 sgsub >/dev/null || fail "subnet create"
openstack port create --network sgnet pd -f json > "$T/pd.json" || fail "port create"
jq -e --arg d "$DEF" '.security_group_ids == [$d] and .port_security_enabled == true' "$T/pd.json" >/dev/null ||
	fail "a new port is not in the default group: $(cat "$T/pd.json")"
openstack port create --network sgnet --security-group web2 --security-group peers pw -f json > "$T/pw.json" ||
	fail "port create --security-group"
[ "$(jq '.security_group_ids | length' "$T/pw.json")" = 2 ] || fail "port groups: $(cat "$T/pw.json")"
openstack port set --disable-port-security pw 2>/dev/null && fail "port security off while groups remain"
openstack port show pw -f json | jq -e '.port_security_enabled == true and (.security_group_ids | length) == 2' >/dev/null ||
	fail "a refused port set changed the port"
openstack security group delete peers 2>/dev/null && fail "a group in use was deleted"
openstack security group show peers >/dev/null || fail "the group in use is gone"
openstack port set --no-security-group --disable-port-security pw || fail "port set --no-security-group --disable-port-security"
openstack port show pw -f json | jq -e '.port_security_enabled == false and .security_group_ids == []' >/dev/null ||
	fail "port set: $(openstack port show pw -f json)"
openstack port set --security-group web2 pw 2>/dev/null && fail "a group on a port without port security"
openstack port set --enable-port-security --security-group web2 pw || fail "port set --enable-port-security --security-group"
openstack port show pw -f json | jq -e --arg w "$WEB" '.security_group_ids == [$w]' >/dev/null ||
	fail "port set --security-group"
openstack port create --network sgnet --disable-port-security --security-group web2 pbad >/dev/null 2>&1 &&
	fail "a port without port security created with a group"
openstack port create --network sgnet --disable-port-security pn -f json > "$T/pn.json" ||
	fail "port create --disable-port-security"
jq -e '.security_group_ids == []' "$T/pn.json" >/dev/null || fail "port without port security has groups"
openstack security group delete peers || fail "security group delete (no longer used)"
openstack security group show peers >/dev/null 2>&1 && fail "the deleted group is still shown"
[ "$(curl -s -H "X-Auth-Token: $TOK" "$NURL/v2.0/security-group-rules?remote_group_id=$PEERS" | jq '.security_group_rules | length')" = 0 ] ||
	fail "rules naming the deleted group remain"
ok "ports: default group on create, --security-group, --no-security-group, --disable-port-security (409 while groups remain), group in use kept, delete takes the rules naming it"

# ---- quotas -------------------------------------------------------------------------
ADMIN_P=$(openstack project show admin -f value -c id)
N=$(openstack security group list --project "$ADMIN_P" -f value -c ID | wc -l)
# `quota show` also asks the volume API, which this controller does not
# serve; `quota list --detail --network` reads only details.json.
openstack quota list --detail --network --project admin -f json > "$T/q.json" ||
	fail "quota list --detail --network"
jq -e '[.[] | select(.Resource == "security_groups" or .Resource == "secgroups") | .Limit == 10] == [true]' \
	"$T/q.json" >/dev/null || fail "security_groups quota: $(cat "$T/q.json")"
jq -e '[.[] | select(.Resource == "security_group_rules" or .Resource == "secgroup-rules") | .Limit == 100] == [true]' \
	"$T/q.json" >/dev/null || fail "security_group_rules quota: $(cat "$T/q.json")"
openstack quota set --secgroups "$N" "$ADMIN_P" || fail "quota set --secgroups"
openstack security group create over >/dev/null 2>&1 && fail "a group over quota created"
refused 409 OverQuota POST security-groups '{"security_group": {"name": "over"}}'
[ -z "$(openstack security group list -f value -c Name | grep -x over)" ] || fail "over-quota group exists"
NR=$(curl -s -H "X-Auth-Token: $TOK" "$NURL/v2.0/quotas/$ADMIN_P/details" | jq .quota.security_group_rule.used)
R1=$(nrules "$WEB")
openstack quota set --secgroups 10 --secgroup-rules "$NR" "$ADMIN_P" || fail "quota set --secgroup-rules"
openstack security group rule create --proto tcp --dst-port 8080 web2 >/dev/null 2>&1 && fail "a rule over quota created"
[ "$(nrules "$WEB")" = "$R1" ] || fail "an over-quota rule was created"
openstack quota set --secgroup-rules 100 "$ADMIN_P" || fail "quota reset"
openstack security group rule create --proto tcp --dst-port 8080 web2 >/dev/null || fail "rule create after quota reset"
ok "quotas: defaults 10/100, --secgroups and --secgroup-rules limits refuse creates (409 OverQuota)"

openstack port delete pw pd pn || fail "port delete"
openstack security group delete web2 || fail "security group delete"
openstack security group show web2 >/dev/null 2>&1 && fail "deleted group shown"
[ "$(nrules "$WEB")" = 0 ] || fail "rules of the deleted group remain"
ok "security group delete takes its rules"
