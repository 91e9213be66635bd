#!/bin/bash
# A block storage volume hot-plugged into a real TCG guest on the system
# libvirtd (qemu:///system; run_tests.sh starts it with
# packaging/libvirtd.sh) by the agent's driver, through
# tests/integ/volctl: a private tgtd on a free loopback port exports a
# sparse file holding a marker as LUN 1 of the volume's target, with a
# CHAP account and an ACL admitting only this host's initiator name.
# volctl boots tests/e2e/mkguest.sh's guest (which reports virtio disks
# that come and go), attaches the volume with sync_volumes (CHAP secret
# in a private libvirt secret), waits for the guest to print the marker,
# detaches it (no disk in the live or persistent XML, secret undefined),
# attaches it again and deletes the guest (domain and secret gone). Then
# this script checks that nothing is left: no domain, no tinystack
# secret of the test's attachment, tgtd stopped.
. "$(dirname "$0")/lib.sh"

V="virsh -c qemu:///system"
VOLCTL=$TS_BUILD_DIR/tests/unit/volctl
[ -x "$VOLCTL" ] || fail "volctl is not built ($VOLCTL)"
command -v tgtd >/dev/null && command -v tgtadm >/dev/null ||
	fail "tgtd/tgtadm are not installed (package tgt)"
$V version >/dev/null 2>&1 ||
	fail "libvirtd is not answering on qemu:///system (run_tests.sh starts it: packaging/libvirtd.sh start)"

uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }
UUID=$(uuid)
NAME=ts-test-${UUID:0:8}
VOL=$(uuid)
ATT=$(uuid)
IQN=iqn.2010-10.org.openstack:volume-$VOL
INITIATOR=iqn.2010-10.org.openstack.tinystack:ts-integ-${UUID:0:8}
CHAP_USER=ts-${UUID:0:8}
MARKER=TSVOL${UUID:0:8}	# the guest prints 16 bytes
CN=$((1000 + RANDOM % 30000))	# tgtd's control socket number
TGT_PID=""

vol_cleanup() {
	local rc=$?
	if $V dominfo "$NAME" >/dev/null 2>&1; then
		$V destroy "$NAME" >/dev/null 2>&1 || true
		$V undefine "$NAME" --managed-save --nvram >/dev/null 2>&1 || true
	fi
	local s
	s=$($V secret-list 2>/dev/null | awk -v u="tinystack-chap-$ATT" '$0 ~ u {print $1}')
	[ -n "$s" ] && $V secret-undefine "$s" >/dev/null 2>&1
	if [ -n "$TGT_PID" ]; then
		tgtadm -C "$CN" --op delete --mode system >/dev/null 2>&1 || true
		for _ in $(seq 1 50); do kill -0 "$TGT_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$TGT_PID" 2>/dev/null || true
		wait "$TGT_PID" 2>/dev/null || true
	fi
	rm -f "/var/run/tgtd/socket.$CN" "/var/run/tgtd/socket.$CN.lock"
	rm -f "/var/log/libvirt/qemu/$NAME.log"
	if [ $rc -eq 0 ]; then
		cleanup
	else
		(exit $rc) || cleanup
	fi
}
trap vol_cleanup EXIT
# qemu runs as libvirt-qemu: it must reach the kernel and initrd.
chmod 0711 "$T"

GUEST=$T/guest
"$TS_SOURCE_DIR/tests/e2e/mkguest.sh" "$GUEST" >/dev/null || fail "mkguest.sh"
chmod 0755 "$GUEST"
ok "guest kernel + initramfs built"

# --- the iSCSI target: tgtd on loopback, a sparse LUN with a marker,
# CHAP account, initiator ACL
PORT=$(free_port)
truncate -s 32M "$T/vol.img"
printf '%s' "$MARKER" | dd of="$T/vol.img" conv=notrunc status=none
CHAP_SECRET=$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 14)
[ ${#CHAP_SECRET} -ge 12 ] || CHAP_SECRET=Ab3${UUID:24:12}
printf '%s\n' "$CHAP_SECRET" > "$T/chap"
chmod 0600 "$T/chap"
tgtd -f -C "$CN" --iscsi portal="127.0.0.1:$PORT" >"$T/tgtd.log" 2>&1 &
TGT_PID=$!
wait_for 10 "tgtd control socket $CN" tgtadm -C "$CN" --op show --mode sys
TA=(tgtadm -C "$CN" --lld iscsi)
"${TA[@]}" --op new --mode target --tid 1 -T "$IQN"
"${TA[@]}" --op new --mode logicalunit --tid 1 --lun 1 -b "$T/vol.img" --bstype rdwr
"${TA[@]}" --op new --mode account --user "$CHAP_USER" --password "$CHAP_SECRET"
"${TA[@]}" --op bind --mode account --tid 1 --user "$CHAP_USER"
"${TA[@]}" --op bind --mode target --tid 1 --initiator-name "$INITIATOR"
"${TA[@]}" --op show --mode target | grep -q "$INITIATOR" || fail "tgtd ACL not set"
ok "tgtd on 127.0.0.1:$PORT: $IQN LUN 1 (32 MiB, marker), CHAP user, initiator ACL"

# --- the scenario
if ! "$VOLCTL" --dir "$T" --kernel "$GUEST/vmlinux" --initrd "$GUEST/initrd.gz" \
	--uuid "$UUID" --name "$NAME" --portal "127.0.0.1:$PORT" --iqn "$IQN" \
	--initiator "$INITIATOR" --chap-user "$CHAP_USER" \
	--chap-secret-file "$T/chap" --volume-id "$VOL" --attachment-id "$ATT" \
	--marker "$MARKER" --timeout ${VOLCTL_TIMEOUT:-120} 2>"$T/volctl.log" | tee "$T/volctl.out"; then
	fail "volctl scenario failed"
fi
NPASS=$((NPASS + $(grep -c '^ok ' "$T/volctl.out")))
grep -q '^ok .*guest reads the iSCSI volume' "$T/volctl.out" ||
	fail "volctl did not check the guest reading the volume"
grep -q "$CHAP_SECRET" "$T/volctl.out" "$T/volctl.log" &&
	fail "the CHAP secret appears in the output or log"

# --- nothing left behind
$V list --all --name | grep -qx "$NAME" && fail "domain $NAME still defined"
$V secret-list 2>/dev/null | grep -q "tinystack-chap-$ATT" && fail "secret of $ATT left"
[ -e "$T/instances/$UUID" ] && fail "instance directory left"
ok "no domain, secret or instance directory left"

echo "$NPASS passed, 0 failed"
